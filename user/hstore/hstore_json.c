/*
 * hstore_json: `dataline inbox|outbox --json`, one JSON array of the
 * texts with the field names documented in include/dataline/hstore.h and
 * docs/handset.md (stable: scripts read them). Times are Unix seconds.
 * JSON strings must be UTF-8, a text's body need not be: such a body is
 * written as null with body_base64 beside it, never altered.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "hstore_priv.h"

/* Sets "body" (and "body_base64" if it is not UTF-8). 0 or -ENOMEM. */
static int json_body(json_t *o, const char *body, size_t len)
{
	json_t *s = json_stringn(body, len);
	unsigned char *b64;
	int err = 0;

	if (s)
		return json_object_set_new(o, "body", s) ? -ENOMEM : 0;
	b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (!b64)
		return -ENOMEM;
	EVP_EncodeBlock(b64, (const unsigned char *)body, (int)len);
	if (json_object_set_new(o, "body", json_null()) ||
	    json_object_set_new(o, "body_base64", json_string((char *)b64)))
		err = -ENOMEM;
	free(b64);
	return err;
}

/* The fields both lists share, in their documented order. */
static json_t *json_text(const struct hstore_msg *m)
{
	json_t *o = json_object();

	if (!o || json_object_set_new(o, "id", json_integer(m->id)) ||
	    json_object_set_new(o, "peer", json_string(m->peer)) ||
	    json_object_set_new(o, "message_id",
				json_string(m->message_id)) ||
	    json_object_set_new(o, "content_type",
				json_string(m->content_type)) ||
	    json_body(o, m->body, m->body_len)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Appends O to A unless setting its fields FAILED; O is consumed. */
static int json_append(json_t *a, json_t *o, int failed)
{
	if (!o)
		return -ENOMEM;
	if (failed) {
		json_decref(o);
		return -ENOMEM;
	}
	return json_array_append_new(a, o) ? -ENOMEM : 0;
}

static int json_write(json_t *a, FILE *f)
{
	if (json_dumpf(a, f, JSON_INDENT(2)) || fputc('\n', f) == EOF ||
	    fflush(f))
		return -EIO;
	return 0;
}

int hstore_outbox_json(const struct hstore_out *v, size_t n, FILE *f)
{
	json_t *a = json_array();
	int err = a ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++) {
		const struct hstore_out *m = &v[i];
		json_t *o = json_text(&m->msg);

		err = json_append(a, o, !o ||
			json_object_set_new(o, "created",
					    json_integer(m->created)) ||
			json_object_set_new(o, "updated",
					    json_integer(m->updated)) ||
			json_object_set_new(o, "state", json_string(
				hstore_out_state_name(m->state))) ||
			json_object_set_new(o, "attempts",
					    json_integer(m->attempts)) ||
			json_object_set_new(o, "last_status",
					    json_string(m->last_status)) ||
			json_object_set_new(o, "next_at",
					    json_integer(m->next_at)));
	}
	if (!err)
		err = json_write(a, f);
	json_decref(a);
	return err;
}

int hstore_inbox_json(const struct hstore_in *v, size_t n, FILE *f)
{
	json_t *a = json_array();
	int err = a ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++) {
		const struct hstore_in *m = &v[i];
		json_t *o = json_text(&m->msg);

		err = json_append(a, o, !o ||
			json_object_set_new(o, "received",
					    json_integer(m->received)) ||
			json_object_set_new(o, "read", json_boolean(m->read)));
	}
	if (!err)
		err = json_write(a, f);
	json_decref(a);
	return err;
}
