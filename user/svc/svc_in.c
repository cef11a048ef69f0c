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
 * A CPIM text asking for positive-delivery gets an IMDN "delivered"
 * (message/cpim around message/imdn+xml) sent to its sender through the
 * server, also for a duplicate: if the daemon died between storing a text
 * and sending its notification, the server's redelivery makes up for it.
 * The notification is sent before the 200 is written, on the same flow.
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

static void in_imdn_done(void *arg, const struct agent_result *res)
{
	(void)arg;
	if (res->status < 200 || res->status >= 300)
		log_warn("svc: delivery notification answered %d", res->status);
}

/* Sends an IMDN "delivered" for the text MID (sent at DATETIME) to PEER. */
static void in_send_imdn(struct svc *s, const char *peer, struct sip_str mid,
			 struct sip_str datetime)
{
	static char xml[1024], body[AGENT_BODY_MAX];
	char from[304], to[300], now[32], me[300], nmid[33];
	struct cpim_params p = { 0 };
	struct agent_text t = { 0 };
	struct imdn n = { 0 };
	time_t tt = time(NULL);
	size_t xlen, blen;
	struct tm tm;
	int r;

	gmtime_r(&tt, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(me, sizeof(me), "sip:%s@%s", s->number, s->domain);
	snprintf(from, sizeof(from), "<%s>", me);
	snprintf(to, sizeof(to), "<sip:%s@%s>", peer, s->domain);
	n.message_id = mid;
	n.datetime = sip_str_present(datetime) ? datetime :
		     (struct sip_str){ now, strlen(now) };
	n.recipient_uri = (struct sip_str){ me, strlen(me) };
	n.kind = IMDN_DELIVERY;
	n.status = IMDN_DELIVERED;
	if (sip_rand_hex(nmid, sizeof(nmid), 16) < 0 ||
	    imdn_build(&n, xml, sizeof(xml), &xlen) < 0)
		return;
	p.from = from;
	p.to = to;
	p.datetime = now;
	p.message_id = nmid;
	p.content_type = IMDN_CONTENT_TYPE;
	p.body = xml;
	p.body_len = xlen;
	if (cpim_build(&p, body, sizeof(body), &blen) < 0)
		return;
	t.to = peer;
	t.ctype = "message/cpim";
	t.body = body;
	t.body_len = blen;
	r = agent_text_send(s->agent, &t, in_imdn_done, s, NULL);
	if (r < 0)
		log_warn("svc: delivery notification to %s not sent: %s", peer,
			 strerror(-r));
}

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

static int in_store(struct svc *s, const char *peer, const char *mid,
		    const char *ctype, const void *body, size_t len)
{
	struct hstore_text t = { .peer = peer, .message_id = mid,
				 .content_type = ctype, .body = body,
				 .body_len = len };
	int64_t id;
	int r = hstore_inbox_add(s->hs, &t, time(NULL), &id);

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
		r = in_store(s, peer, mid, ctype, t->body, t->body_len);
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
	r = in_store(s, peer, mid, ctype, c.body.p, c.body.len);
	if (r != 0 && r != -EEXIST) {
		log_warn("svc: text from %s not stored (%s): answered 480", peer,
			 strerror(-r));
		return 480;
	}
	if ((want & IMDN_WANT_POSITIVE_DELIVERY) && sip_str_present(c.imdn_message_id))
		in_send_imdn(s, peer, c.imdn_message_id, c.datetime);
	return 200;
}

int svc_in_attach(struct svc *s)
{
	return agent_on_text(s->agent, in_text, s);
}
