/*
 * svc_in: what comes in as MESSAGE (RFC 3428): texts, stored in the inbox
 * before they are answered, and delivery notifications (RFC 5438) for the
 * texts we sent.
 *
 * A text is answered 200 only after the inbox committed it (fsync'd), so a
 * text the server sees acknowledged is on this handset's disk; when the
 * store cannot take it the answer is 480, which the server reads as "try
 * again later" (docs/messaging.md). The inbox deduplicates by sender and
 * imdn.Message-ID: a text delivered again because our 200 was lost is
 * stored once and answered 200 again.
 *
 * A CPIM text asking for positive-delivery is stored together with the
 * IMDN "delivered" it is owed (one transaction, hstore_notice.c), which
 * svc_notice.c sends and retries until the server took it; a duplicate
 * records one again if none is pending, since its sender is still asking.
 *
 * A text/plain text (baresip and other clients without CPIM) has no
 * Message-ID; it is stored under one made from the delivery's Call-ID, so
 * such a text redelivered after a lost 200 may show twice.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dataline/cpim.h"
#include "dataline/e164.h"
#include "dataline/imdn.h"
#include "dataline/log.h"
#include "dataline/sip.h"
#include "svc_priv.h"

/* A delivery notification about one of our texts. */
static int in_report(struct svc *s, const struct cpim_msg *c)
{
	char scratch[2048], mid[HSTORE_ID_MAX], status[64];
	enum hstore_out_state to;
	struct imdn n;
	int64_t id;
	int r;

	if (imdn_parse(c->body.p, c->body.len, scratch, sizeof(scratch), &n) < 0)
		return 400;
	if (n.kind != IMDN_DELIVERY)
		return 200;     /* display/processing: nothing to record */
	to = n.status == IMDN_DELIVERED ? HSTORE_OUT_DELIVERED : HSTORE_OUT_FAILED;
	if (sip_str_copy(n.message_id, mid, sizeof(mid)) < 0)
		return 400;
	snprintf(status, sizeof(status), "imdn %s", imdn_status_name(n.status));
	r = hstore_outbox_report(s->hs, mid, to, status, time(NULL), &id);
	if (r == 0)
		svc_bus_report(s, id, mid, to, status);
	else if (r != -ENOENT && r != -EALREADY)
		return 480;     /* the store failed: the server sends it again */
	return 200;
}

/* Stores a text; NOTIFY (not NULL: its DateTime, maybe "") records the
 * delivery notification owed for it in the same commit. */
static int in_store(struct svc *s, const char *peer, const char *mid,
		    const char *ctype, const void *body, size_t len,
		    const char *notify)
{
	struct hstore_text t = { .peer = peer, .message_id = mid,
				 .content_type = ctype, .body = body,
				 .body_len = len };
	int64_t id;
	int r = notify ? hstore_inbox_add_notify(s->hs, &t, notify, time(NULL), &id)
		       : hstore_inbox_add(s->hs, &t, time(NULL), &id);

	if (r == 0) {
		log_info("svc: text %lld from %s stored (%zu bytes)", (long long)id,
			 peer, len);
		svc_bus_text_received(s, id, peer, mid, ctype, body, len);
	} else if (r == -EEXIST) {
		log_info("svc: text from %s (%s) delivered again: kept once", peer, mid);
	}
	return r;
}

static int in_ctype_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	return strncasecmp(ctype, want, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static int in_text(void *arg, const struct agent_text_in *t)
{
	struct svc *s = arg;
	char peer[E164_MAX], mid[HSTORE_ID_MAX], ctype[HSTORE_TYPE_MAX];
	char dt[HSTORE_DATETIME_MAX];
	const char *notify = NULL;  /* a notification owed: its DateTime */
	struct cpim_msg c;
	unsigned want = 0;
	int r;

	if (e164_normalize(t->from_user, strlen(t->from_user), peer) < 0) {
		log_warn("svc: text from %s refused: the sender is not a number",
			 t->from);
		return 400;
	}
	if (in_ctype_is(t->ctype, "text/plain")) {
		snprintf(mid, sizeof(mid), "call-id:%s", t->call_id);
		snprintf(ctype, sizeof(ctype), "%s", t->ctype);
		r = in_store(s, peer, mid, ctype, t->body, t->body_len, NULL);
		return r == 0 || r == -EEXIST ? 200 : 480;
	}
	if (!in_ctype_is(t->ctype, "message/cpim"))
		return 415;
	if (cpim_parse(t->body, t->body_len, &c) < 0)
		return 400;
	if (sip_str_copy(c.content_type, ctype, sizeof(ctype)) < 0)
		return 400;
	if (in_ctype_is(ctype, IMDN_CONTENT_TYPE))
		return in_report(s, &c);
	if (sip_str_present(c.imdn_message_id)) {
		if (sip_str_copy(c.imdn_message_id, mid, sizeof(mid)) < 0)
			return 400;
	} else {
		snprintf(mid, sizeof(mid), "call-id:%s", t->call_id);
	}
	if (sip_str_present(c.imdn_disposition) &&
	    imdn_disposition_decode(c.imdn_disposition, &want) < 0)
		want = 0;
	if ((want & IMDN_WANT_POSITIVE_DELIVERY) &&
	    sip_str_present(c.imdn_message_id)) {
		if (sip_str_copy(c.datetime, dt, sizeof(dt)) < 0)
			dt[0] = '\0';
		notify = dt;
	}
	r = in_store(s, peer, mid, ctype, c.body.p, c.body.len, notify);
	if (r != 0 && r != -EEXIST) {
		log_warn("svc: text from %s not stored (%s): answered 480", peer,
			 strerror(-r));
		return 480;
	}
	if (notify)
		svc_notice_kick(s);
	return 200;
}

int svc_in_attach(struct svc *s)
{
	return agent_on_text(s->agent, in_text, s);
}
