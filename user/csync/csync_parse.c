/*
 * csync_parse: the JSON of POST /v1/contacts/discover (docs/protocol.md
 * "Contact discovery"): the request body, the 200 answer (results[i]
 * answers numbers[i], each registered true/false or a per-entry error)
 * and the "error" member of the other answers. An answer is trusted only
 * as far as it matches what was asked: the count and every input must
 * be the numbers sent, in order, or the whole answer is refused.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csync_priv.h"

int csync_request_body(const char *const *numbers, size_t n, char **out)
{
	json_t *arr, *obj;
	char *s;

	if (!numbers || !out || n > CSYNC_BATCH)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!numbers[i] || !e164_is_valid(numbers[i]))
			return -EINVAL;
	arr = json_array();
	obj = json_object();
	if (!arr || !obj || json_object_set(obj, "numbers", arr) < 0) {
		json_decref(arr);
		json_decref(obj);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, json_string(numbers[i])) < 0) {
			json_decref(arr);
			json_decref(obj);
			return -ENOMEM;
		}
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(arr);
	json_decref(obj);
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

/* One result against the number sent: 1 mark (*MARK set), 0 a per-entry
 * error, -EBADMSG a result that does not answer SENT. */
static int parse_one(json_t *res, const char *sent, enum hstore_mark *mark)
{
	json_t *in = json_object_get(res, "input");
	json_t *reg = json_object_get(res, "registered");
	json_t *num = json_object_get(res, "number");

	if (!json_is_object(res) || !json_is_string(in) ||
	    strcmp(json_string_value(in), sent) != 0)
		return -EBADMSG;
	if (json_is_string(json_object_get(res, "error")) && !reg)
		return 0;
	if (!json_is_boolean(reg) || !json_is_string(num) ||
	    strcmp(json_string_value(num), sent) != 0)
		return -EBADMSG;
	*mark = json_is_true(reg) ? HSTORE_MARK_YES : HSTORE_MARK_NO;
	return 1;
}

int csync_parse_answer(const char *body, size_t len, const char *const *sent,
		       size_t n, struct hstore_mark_set *marks, size_t *nmarks,
		       struct csync_counts *c)
{
	struct csync_counts add = { 0 };
	enum hstore_mark *m = NULL;
	json_t *root, *results, *rem;
	size_t k = 0;
	int r = -EBADMSG;

	if (!body || !sent || !marks || !nmarks || !c)
		return -EINVAL;
	if (len > CSYNC_RESP_MAX)
		return -E2BIG;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	results = json_object_get(root, "results");
	if (!json_is_array(results) || json_array_size(results) != n)
		goto out;
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int one = parse_one(json_array_get(results, i), sent[i], &m[i]);

		if (one < 0)
			goto out;
		if (one == 0) {
			add.entry_errors++;
			m[i] = HSTORE_MARK_UNKNOWN;
		} else if (m[i] == HSTORE_MARK_YES) {
			add.registered++;
		} else {
			add.not_registered++;
		}
	}
	/* all checked: only now write the caller's things */
	for (size_t i = 0; i < n; i++)
		if (m[i] != HSTORE_MARK_UNKNOWN)
			marks[k++] = (struct hstore_mark_set){ sent[i], m[i] };
	*nmarks = k;
	rem = json_object_get(root, "remaining_today");
	c->remaining_today = json_is_integer(rem) ?
			     (long)json_integer_value(rem) : -1;
	c->registered += add.registered;
	c->not_registered += add.not_registered;
	c->entry_errors += add.entry_errors;
	r = 0;
out:
	free(m);
	json_decref(root);
	return r;
}

void csync_parse_error(const char *body, size_t len, char *out, size_t cap)
{
	json_t *root = len <= CSYNC_RESP_MAX ?
		       json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = json_object_get(root, "error");
	const char *s = json_is_string(e) ? json_string_value(e) : "";

	snprintf(out, cap, "%s", s);
	json_decref(root);
}
