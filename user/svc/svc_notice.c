/*
 * svc_notice: sends the delivery notifications (RFC 5438 IMDN
 * "delivered", message/cpim around message/imdn+xml, RFC 3862) the store
 * holds for texts we received (hstore_notice.c says why they are rows).
 *
 * Up to SVC_NOTICE_WINDOW are in flight at once: their order does not
 * matter (each names its text), and a burst of texts delivered from the
 * server's queue should not wait for one round trip per notification.
 * They share the client's request slots with the outbox, PUBLISH and the
 * rest, so the window is kept well below AGENT_REQ_MAX.
 *
 * Answers: 2xx -> the row is deleted; a transient one (408, 480, 5xx, a
 * lost flow, no free request slot) -> tried again with the outbox's
 * back-off; any other final answer (404: the sender's number is gone) ->
 * deleted, logged. Each notification keeps its Message-ID and Call-ID for
 * every attempt, so the server's dedup stores a resend once. The pump
 * runs while registered; a new registration sends what a crash left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "dataline/cpim.h"
#include "dataline/imdn.h"
#include "dataline/log.h"
#include "svc_priv.h"

#define SVC_NOTICE_BATCH 64

static void nt_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	svc_notice_kick(arg);
}

static void nt_arm(struct svc *s, int64_t delay_s)
{
	struct timeval tv = { .tv_sec = delay_s > 0 ? delay_s : 0 };

	if (!s->nt_ev)
		s->nt_ev = evtimer_new(s->base, nt_timer_cb, s);
	if (s->nt_ev)
		evtimer_add(s->nt_ev, &tv);
}

static unsigned nt_inflight(const struct svc *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < SVC_NOTICE_WINDOW; i++)
		n += s->nt_slot[i].req != NULL;
	return n;
}

void svc_notice_stop(struct svc *s)
{
	for (unsigned i = 0; i < SVC_NOTICE_WINDOW; i++) {
		/* the row stays: sent again on the next registration */
		agent_req_cancel(s->nt_slot[i].req);
		s->nt_slot[i].req = NULL;
	}
	free(s->nt_batch);
	s->nt_batch = NULL;
	s->nt_n = s->nt_i = 0;
	if (s->nt_ev)
		evtimer_del(s->nt_ev);
}

/* The CPIM body of notification N into BODY. */
static int nt_body(struct svc *s, const struct hstore_notice *n, char *body,
		   size_t cap, size_t *len)
{
	char xml[1024], from[304], to[300], now[32], me[300];
	struct cpim_params p = { 0 };
	struct imdn m = { 0 };
	time_t tt = time(NULL);
	size_t xlen;
	struct tm tm;
	int r;

	gmtime_r(&tt, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(me, sizeof(me), "sip:%s@%s", s->number, s->domain);
	snprintf(from, sizeof(from), "<%s>", me);
	snprintf(to, sizeof(to), "<sip:%s@%s>", n->peer, s->domain);
	m.message_id = (struct sip_str){ n->text_id, strlen(n->text_id) };
	m.datetime = (struct sip_str){ n->datetime, strlen(n->datetime) };
	m.recipient_uri = (struct sip_str){ me, strlen(me) };
	m.kind = IMDN_DELIVERY;
	m.status = IMDN_DELIVERED;
	if ((r = imdn_build(&m, xml, sizeof(xml), &xlen)) < 0)
		return r;
	p.from = from;
	p.to = to;
	p.datetime = now;
	p.message_id = n->notice_id;
	p.content_type = IMDN_CONTENT_TYPE;
	p.body = xml;
	p.body_len = xlen;
	return cpim_build(&p, body, cap, len);
}

/* Notification ID tried again in a while (attempts so far: ATTEMPTS). */
static void nt_later(struct svc *s, int64_t id, int64_t attempts,
		     uint32_t retry_after)
{
	int64_t next = time(NULL) + svc_retry_delay((unsigned)attempts, retry_after);
	int r = hstore_notice_retry(s->hs, id, next);

	if (r < 0 && r != -ENOENT)
		log_warn("svc: notification %lld: %s", (long long)id, strerror(-r));
}

static void nt_done(void *arg, const struct agent_result *res)
{
	struct svc_nslot *sl = arg;
	struct svc *s = sl->s;
	int r;

	sl->req = NULL;
	if (res->status >= 200 && res->status < 300) {
		r = hstore_notice_delete(s->hs, sl->id);
		if (r < 0 && r != -ENOENT)
			log_warn("svc: notification %lld: %s", (long long)sl->id,
				 strerror(-r));
	} else if (svc_status_retryable(res->status)) {
		log_info("svc: delivery notification to %s answered %d: sent again later",
			 sl->peer, res->status);
		nt_later(s, sl->id, sl->attempts, res->retry_after);
	} else {
		log_warn("svc: delivery notification to %s answered %d: dropped",
			 sl->peer, res->status);
		hstore_notice_delete(s->hs, sl->id);
	}
	svc_notice_kick(s);
}

/* Sends N in slot SL. */
static void nt_send(struct svc *s, struct svc_nslot *sl,
		    const struct hstore_notice *n)
{
	static char body[AGENT_BODY_MAX];
	struct agent_text t = { 0 };
	size_t len;
	int r;

	if ((r = nt_body(s, n, body, sizeof(body), &len)) < 0) {
		log_warn("svc: delivery notification to %s cannot be built (%s): dropped",
			 n->peer, strerror(-r));
		hstore_notice_delete(s->hs, n->id);
		return;
	}
	sl->s = s;
	sl->id = n->id;
	sl->attempts = n->attempts + 1;
	snprintf(sl->peer, sizeof(sl->peer), "%s", n->peer);
	snprintf(sl->call_id, sizeof(sl->call_id), "%s@%s", n->notice_id, s->number);
	t.to = n->peer;
	t.ctype = "message/cpim";
	t.body = body;
	t.body_len = len;
	t.call_id = sl->call_id;
	t.cseq = (uint32_t)sl->attempts;
	r = agent_text_send(s->agent, &t, nt_done, sl, &sl->req);
	if (r < 0) {
		/* no free request slot, or the flow just went: later */
		sl->req = NULL;
		log_info("svc: delivery notification to %s not sent now (%s)",
			 n->peer, strerror(-r));
		nt_later(s, n->id, 0, 2);
	}
}

void svc_notice_kick(struct svc *s)
{
	int64_t now = time(NULL), next;
	int r, read = 0;

	if (!s->online)
		return;
	for (;;) {
		struct svc_nslot *sl = NULL;

		if (s->nt_i >= s->nt_n) {
			/* a batch is read only when none is in flight, so it
			 * never holds one that is */
			if (nt_inflight(s))
				return;
			if (read++) {
				/* a whole batch went by without a request in
				 * flight (the store or the client refusing):
				 * look again in a while, not in a loop */
				nt_arm(s, 2);
				return;
			}
			free(s->nt_batch);
			s->nt_batch = NULL;
			s->nt_n = s->nt_i = 0;
			r = hstore_notice_due(s->hs, now, SVC_NOTICE_BATCH,
					      &s->nt_batch, &s->nt_n);
			if (r < 0) {
				log_warn("svc: cannot read the notifications: %s",
					 strerror(-r));
				nt_arm(s, 5);
				return;
			}
			if (s->nt_n == 0) {
				if (hstore_notice_next(s->hs, &next) == 0)
					nt_arm(s, next - now);
				return;
			}
		}
		for (unsigned i = 0; i < SVC_NOTICE_WINDOW && !sl; i++)
			if (!s->nt_slot[i].req)
				sl = &s->nt_slot[i];
		if (!sl)
			return;
		nt_send(s, sl, &s->nt_batch[s->nt_i++]);
		if (!s->online)
			return;
	}
}
