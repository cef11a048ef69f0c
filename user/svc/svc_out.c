/*
 * svc_out: the outbox pump. Texts leave in outbox order, one MESSAGE at a
 * time (RFC 3428; the server spreads one source's requests over its
 * workers by Call-ID, so two texts in flight could be stored out of
 * order). Each carries message/cpim (RFC 3862) with the imdn.Message-ID
 * the outbox gave it at insert and asks for delivery notifications
 * (RFC 5438), so a resend after a lost answer, a dropped flow or a crash
 * is recognised by the server's dedup and stored once.
 *
 * Answers: 2xx -> accepted; a final error (404, 403, 413, ...) -> failed;
 * a transient one (408, 480, 5xx, a lost flow) -> queued again with a
 * back-off, and the texts behind it wait for it (head of line, so the
 * order holds). The pump runs only while registered; a new registration
 * sends what is pending, including texts left "sending" by a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "dataline/cpim.h"
#include "dataline/imdn.h"
#include "dataline/log.h"
#include "svc_priv.h"

#define SVC_DISPOSITION "positive-delivery, negative-delivery"

static void out_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	svc_out_kick(arg);
}

static void out_arm(struct svc *s, uint32_t delay_s)
{
	struct timeval tv = { .tv_sec = delay_s };

	if (!s->retry_ev)
		s->retry_ev = evtimer_new(s->base, out_timer_cb, s);
	if (s->retry_ev)
		evtimer_add(s->retry_ev, &tv);
}

void svc_out_stop(struct svc *s)
{
	if (s->inflight) {
		/* The text stays "sending" in the store: pending, resent on the
		 * next registration with the same Message-ID. */
		agent_req_cancel(s->inflight);
		s->inflight = NULL;
	}
	if (s->retry_ev)
		evtimer_del(s->retry_ev);
}

static void out_status(char *buf, size_t len, const struct agent_result *res)
{
	const struct sip_msg *m = res->resp;

	if (m && sip_str_present(m->reason))
		snprintf(buf, len, "%d %.*s", res->status, (int)m->reason.len,
			 m->reason.p);
	else
		snprintf(buf, len, "%d%s", res->status,
			 res->local ? (res->status == 408 ? " no answer" :
				       " flow lost") : "");
}

static void out_done(void *arg, const struct agent_result *res)
{
	struct svc *s = arg;
	struct hstore_out *m = &s->pend[s->ipend];
	char status[HSTORE_STATUS_MAX];
	int64_t now = time(NULL);
	enum hstore_out_state to;
	uint32_t delay = 0;
	int r;

	s->inflight = NULL;
	out_status(status, sizeof(status), res);
	if (res->status >= 200 && res->status < 300) {
		to = HSTORE_OUT_ACCEPTED;
	} else if (svc_status_retryable(res->status)) {
		to = HSTORE_OUT_QUEUED;
		delay = svc_retry_delay((unsigned)m->attempts, res->retry_after);
	} else {
		to = HSTORE_OUT_FAILED;
	}
	r = hstore_outbox_set(s->hs, s->inflight_id, to, status,
			      now + delay, now);
	log_info("svc: text %lld to %s: %s -> %s%s", (long long)s->inflight_id,
		 m->msg.peer, status, hstore_out_state_name(to),
		 r == -EALREADY ? " (already further)" : "");
	if (r < 0 && r != -EALREADY) {
		/* The store could not record it: try again later, the text
		 * is still pending there. */
		log_warn("svc: outbox %lld: %s", (long long)s->inflight_id,
			 strerror(-r));
		out_arm(s, 2);
		return;
	}
	if (to == HSTORE_OUT_QUEUED && r == 0) {
		m->next_at = now + delay;
		out_arm(s, delay);
		return;
	}
	if (r == 0)
		svc_bus_report(s, s->inflight_id, s->inflight_mid, to, status);
	s->ipend++;
	svc_out_kick(s);
}

/* The CPIM body of M into BUF. */
static int out_cpim(struct svc *s, const struct hstore_out *m, char *buf,
		    size_t cap, size_t *len)
{
	char from[300], to[300], now[32];
	time_t t = time(NULL);
	struct cpim_params p = { 0 };
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(from, sizeof(from), "<sip:%s@%s>", s->number, s->domain);
	snprintf(to, sizeof(to), "<sip:%s@%s>", m->msg.peer, s->domain);
	p.from = from;
	p.to = to;
	p.datetime = now;
	p.message_id = m->msg.message_id;
	p.disposition = SVC_DISPOSITION;
	p.content_type = m->msg.content_type;
	p.body = m->msg.body;
	p.body_len = m->msg.body_len;
	return cpim_build(&p, buf, cap, len);
}

/* Sends M; 0, or -errno when it cannot go (then it failed for good). */
static int out_send(struct svc *s, struct hstore_out *m)
{
	static char body[AGENT_BODY_MAX];
	struct agent_text t = { 0 };
	size_t len;
	int r;

	r = out_cpim(s, m, body, sizeof(body), &len);
	if (r < 0)
		return r;
	r = hstore_outbox_set(s->hs, m->msg.id, HSTORE_OUT_SENDING, NULL,
			      m->next_at, time(NULL));
	if (r < 0)
		return r;
	m->attempts++;
	snprintf(s->call_id, sizeof(s->call_id), "%s@%s", m->msg.message_id,
		 s->number);
	t.to = m->msg.peer;
	t.ctype = "message/cpim";
	t.body = body;
	t.body_len = len;
	t.call_id = s->call_id;
	t.cseq = (uint32_t)m->attempts;
	s->inflight_id = m->msg.id;
	snprintf(s->inflight_mid, sizeof(s->inflight_mid), "%s", m->msg.message_id);
	r = agent_text_send(s->agent, &t, out_done, s, &s->inflight);
	if (r < 0) {
		s->inflight = NULL;
		/* back to queued, tried again later */
		hstore_outbox_set(s->hs, m->msg.id, HSTORE_OUT_QUEUED, "not sent",
				  time(NULL) + 2, time(NULL));
		m->next_at = time(NULL) + 2;
		out_arm(s, 2);
		return 0;
	}
	return 0;
}

void svc_out_kick(struct svc *s)
{
	while (!s->inflight && s->online) {
		struct hstore_out *m;
		int64_t now = time(NULL);
		int r;

		if (s->retry_ev && evtimer_pending(s->retry_ev, NULL))
			return;
		if (s->ipend >= s->npend) {
			if (!s->dirty)
				return;
			hstore_outbox_free(s->pend, s->npend);
			s->pend = NULL;
			s->npend = s->ipend = 0;
			r = hstore_outbox_pending(s->hs, INT64_MAX, &s->pend, &s->npend);
			if (r < 0) {
				log_warn("svc: cannot read the outbox: %s", strerror(-r));
				out_arm(s, 5);
				return;
			}
			s->dirty = 0;
			continue;
		}
		m = &s->pend[s->ipend];
		if (m->next_at > now) {
			out_arm(s, (uint32_t)(m->next_at - now));
			return;
		}
		r = out_send(s, m);
		if (r == -EALREADY) {   /* no longer pending: a report came */
			s->ipend++;
			continue;
		}
		if (r < 0) {
			char st[64];

			snprintf(st, sizeof(st), "not sendable: %s", strerror(-r));
			log_warn("svc: text %lld: %s", (long long)m->msg.id, st);
			if (hstore_outbox_set(s->hs, m->msg.id, HSTORE_OUT_FAILED, st,
					      now, now) == 0)
				svc_bus_report(s, m->msg.id, m->msg.message_id,
					       HSTORE_OUT_FAILED, st);
			s->ipend++;
		}
	}
}

int svc_out_add(struct svc *s, const char *number, const char *text,
		size_t len, int64_t *id, char mid[HSTORE_ID_MAX])
{
	struct hstore_text t = { .peer = number,
				 .content_type = HSTORE_DEFAULT_TYPE,
				 .body = text, .body_len = len };
	int r = hstore_outbox_add(s->hs, &t, time(NULL), id, mid);

	if (r == 0)
		s->dirty = 1;
	return r;
}
