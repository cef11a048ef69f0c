/*
 * message: texts into the server (RFC 3428 MESSAGE, RFC 3862 CPIM, RFC
 * 5438 IMDN), stored durably before they are acknowledged.
 *
 * The order, each step answering at most once:
 *   no/failed Proxy-Authorization            -> 407 (authn.c)
 *   From is not the sender's own number      -> 403
 *   Request-URI not a phone number           -> 404 "Not A Phone Number"
 *     (sip:+NUMBER@..., sip:NUMBER@...;user=phone, tel:+NUMBER)
 *   a number without an account              -> 404
 *   body over --queue-max-body               -> 413
 *   Content-Type not text/plain, message/cpim -> 415 + Accept
 *   CPIM (or the IMDN inside) malformed      -> 400
 *   over the sender's rate (--text-rate/-burst) -> 503 + Retry-After
 *   then the text is stored (the durable queue, fsynced) and, after its
 *   commit, 202 Accepted; the recipient's queue full -> 480 + Retry-After.
 * A text the queue already holds (same sender and imdn.Message-ID, or for
 * plain text the same Call-ID and CSeq: a retransmission) gets 202 again
 * and is not stored twice.
 *
 * A CPIM body carrying message/imdn+xml is a delivery report from a
 * recipient's handset to the sender: it goes to the report channel and is
 * delivered the same way (docs/messaging.md). Delivery is deliver.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sipd.h"
#include "../core/config.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "../core/ratelimit.h"
#include "../queue/queue.h"
#include "../store/store.h"
#include "dataline/cpim.h"
#include "dataline/e164.h"
#include "dataline/imdn.h"
#include "dataline/log.h"

#define MSG_ACCEPT "text/plain, message/cpim"

/* sipd.h */
int msg_recipient(const struct sipd_shared *sh, const struct sip_msg *m,
			 char out[E164_MAX])
{
	char user[64];
	const char *p;
	size_t n;

	if (m->ruri.is_sip) {
		if (!sip_str_present(m->ruri.user) ||
		    sip_str_unescape(m->ruri.user, user + 1, sizeof(user) - 1,
				     &n))
			return -EINVAL;
		p = user + 1;
		if (p[0] != '+' && numbers_of_device(sh->numbers, p, out) == 0)
			return 0;
		if (p[0] != '+') {
			/* sip:8613...@dom;user=phone: a global number
			 * without its "+" (RFC 3261 s.19.1.6) */
			user[0] = '+';
			p = user;
			n++;
		}
		return e164_normalize(p, n, out);
	}
	if (!sip_str_caseeq(m->ruri.scheme, "tel"))
		return -EINVAL;
	/* tel:+8613...;params (RFC 3966): the global number only */
	p = m->ruri.opaque.p;
	for (n = 0; n < m->ruri.opaque.len && p[n] != ';'; n++)
		;
	return e164_normalize(p, n, out);
}

/* The media type of a Content-Type value, lowercase-compared. */
static int ctype_is(struct sip_str v, const char *type)
{
	size_t n = 0, tl = strlen(type);

	while (n < v.len && v.p[n] != ';' && v.p[n] != ' ' && v.p[n] != '\t')
		n++;
	return n == tl && !strncasecmp(v.p, type, tl);
}

struct msg_put {
	struct sipd_deferred *d;
	struct sipd *w;
	char recipient[E164_MAX];
	int err;
	int64_t id;
};

/* On the worker, after the commit: the answer. */
static void msg_put_reply(void *arg)
{
	struct msg_put *mp = arg;
	struct sipd_reply r;
	struct sip_msg m;

	if (sipd_closing(mp->w)) {
		sipd_deferred_free(mp->d);
		free(mp);
		return;
	}
	log_debug("text %lld from worker %d for %s: %d", (long long)mp->id,
		  mp->w->id, mp->recipient, mp->err);
	if (sipd_deferred_open(mp->d, &m, &r) == 0) {
		switch (mp->err) {
		case 0:
		case -EEXIST:
			metrics_inc(mp->err ? METRICS_TEXTS_DUPLICATE
					    : METRICS_TEXTS_ACCEPTED);
			sipd_reply_simple(&r, 202, NULL);
			break;
		case -ENOSPC:
			metrics_inc(METRICS_TEXTS_QUEUE_FULL);
			sipd_reply_begin(&r, 480, "Recipient Queue Full");
			sip_buf_hdr(&r.b, "Retry-After", "3600");
			sipd_reply_send(&r);
			break;
		case -EMSGSIZE:
			metrics_inc(METRICS_TEXTS_TOO_LARGE);
			sipd_reply_simple(&r, 413, NULL);
			break;
		default:
			log_warn("sip: storing a text failed (%d)", mp->err);
			sipd_reply_begin(&r, 503, "Store Unavailable");
			sip_buf_hdr(&r.b, "Retry-After", "5");
			sipd_reply_send(&r);
			break;
		}
	}
	sipd_deferred_free(mp->d);
	free(mp);
}

/* On the writer thread: hand the outcome to the worker. */
static void msg_put_done(void *arg, const struct queue_result *res)
{
	struct msg_put *mp = arg;

	mp->err = res->err;
	mp->id = res->id;
	while (mailbox_post(mp->w->mb, msg_put_reply, mp) == -EAGAIN &&
	       !atomic_load(&mp->w->sh->stopping)) {
		/* the worker is swamped; the writer waits for it rather than
		 * lose an answer whose text is already on disk */
		struct timespec ts = { 0, 1000000 };
		metrics_inc(METRICS_MAILBOX_FULL);
		nanosleep(&ts, NULL);
	}
}

/* Checks the body; sets *channel and the CPIM fields. 0 or -1 after
 * answering. */
static int msg_body(struct sipd_reply *r, struct sip_str ctype, int *channel,
		    struct cpim_msg *cp)
{
	const struct sip_msg *m = r->req;

	*channel = QUEUE_TEXT;
	if (ctype_is(ctype, "text/plain"))
		return 0;
	if (!ctype_is(ctype, "message/cpim")) {
		sipd_reply_begin(r, 415, NULL);
		sip_buf_hdr(&r->b, "Accept", MSG_ACCEPT);
		sipd_reply_send(r);
		return -1;
	}
	if (cpim_parse(m->body.p, m->body.len, cp)) {
		sipd_reply_simple(r, 400, "Bad CPIM Body");
		return -1;
	}
	if (ctype_is(cp->content_type, IMDN_CONTENT_TYPE)) {
		char scratch[4096];
		struct imdn n;

		if (cp->body.len > sizeof(scratch) ||
		    imdn_parse(cp->body.p, cp->body.len, scratch,
			       sizeof(scratch), &n)) {
			sipd_reply_simple(r, 400, "Bad IMDN Body");
			return -1;
		}
		*channel = QUEUE_REPORT;
	}
	return 0;
}

static char *msg_meta(const char *sender, struct sip_str ctype,
		      const struct cpim_msg *cp, int cpim)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "from", json_string(sender));
	json_object_set_new(o, "ct", json_stringn(ctype.p, ctype.len));
	if (cpim && sip_str_present(cp->imdn_message_id))
		json_object_set_new(o, "mid",
				    json_stringn(cp->imdn_message_id.p,
						 cp->imdn_message_id.len));
	if (cpim && sip_str_present(cp->imdn_disposition))
		json_object_set_new(o, "disp",
				    json_stringn(cp->imdn_disposition.p,
						 cp->imdn_disposition.len));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

void msg_handle(struct sipd_reply *r)
{
	struct sipd *w = r->w;
	const struct config *cfg = w->sh->cfg;
	const struct sip_msg *m = r->req;
	const struct sip_hdr *cth;
	struct store_device dev;
	struct cpim_msg cp;
	struct queue_put put;
	struct msg_put *mp;
	char to[E164_MAX];
	struct sip_str ctype = SIP_STR_NULL;
	char *meta, *dedup;
	uint64_t wait;
	int channel, cpim, err;

	if (sipd_authenticate(r, 1, &dev))
		return;
	if (!sipd_user_is_device(m->from.uri.user, &dev)) {
		sipd_reply_simple(r, 403, "From Is Not Your Number");
		return;
	}
	if (msg_recipient(w->sh, m, to)) {
		sipd_reply_simple(r, 404, "Not A Phone Number");
		return;
	}
	if (!numbers_has(w->sh->numbers, to)) {
		sipd_reply_simple(r, 404, NULL);
		return;
	}
	if (m->body.len > (size_t)cfg->queue_max_body) {
		metrics_inc(METRICS_TEXTS_TOO_LARGE);
		sipd_reply_simple(r, 413, NULL);
		return;
	}
	cth = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
	if (cth)
		ctype = cth->value;
	if (!m->body.len || !cth) {
		sipd_reply_simple(r, 400, "Empty Message");
		return;
	}
	if (msg_body(r, ctype, &channel, &cp))
		return;
	cpim = ctype_is(ctype, "message/cpim");
	wait = ratelimit_take(w->sh->text_rl, dev.number, sipd_now_ms());
	if (wait) {
		metrics_inc(METRICS_TEXTS_RATE_LIMITED);
		sipd_reply_begin(r, 503, "Too Many Texts");
		sip_buf_hdr(&r->b, "Retry-After", "%llu",
			    (unsigned long long)(wait + 999) / 1000);
		sipd_reply_send(r);
		return;
	}
	/* the same text twice is stored once (a client retrying after a
	 * lost 202, or a UDP retransmission); the whole key, never cut
	 * short: two texts whose long ids share a prefix are two texts */
	if (cpim && sip_str_present(cp.imdn_message_id))
		err = asprintf(&dedup, "%s|%.*s", dev.number,
			       (int)cp.imdn_message_id.len,
			       cp.imdn_message_id.p);
	else
		err = asprintf(&dedup, "%s|%.*s|%u", dev.number,
			       (int)m->call_id.len, m->call_id.p, m->cseq.num);
	if (err < 0)
		dedup = NULL;
	meta = msg_meta(dev.number, ctype, &cp, cpim);
	mp = calloc(1, sizeof(*mp));
	if (!meta || !mp || !dedup)
		goto oom;
	mp->w = w;
	strcpy(mp->recipient, to);
	mp->d = sipd_defer(r);
	if (!mp->d)
		goto oom;
	memset(&put, 0, sizeof(put));
	put.channel = channel;
	put.recipient = to;
	put.dedup = dedup;
	put.owner = dev.number;
	put.meta = meta;
	put.body = m->body.p;
	put.body_len = m->body.len;
	put.expires_at = (int64_t)time(NULL) +
			 (int64_t)cfg->text_expiry_days * 86400;
	err = deliver_put(w->sh, &put, msg_put_done, mp);
	free(meta);
	free(dedup);
	if (err) {
		sipd_deferred_free(mp->d);
		free(mp);
		log_warn("sip: text not queued (%d)", err);
		sipd_reply_begin(r, 503, "Store Busy");
		sip_buf_hdr(&r->b, "Retry-After", "1");
		sipd_reply_send(r);
	}
	return;
oom:
	free(meta);
	free(dedup);
	if (mp)
		sipd_deferred_free(mp->d);
	free(mp);
	sipd_reply_simple(r, 500, "Out Of Memory");
}
