/*
 * sms: the SMS pump in front of the gateways (see sms.h), on the durable
 * queue's "sms" channel (server/queue/queue.h).
 *
 * The spool gateway is tried at once in sms_send() (its line must be in
 * the file when the API answers, as before the queue); only what it fails
 * to write is queued. The http gateway's SMS are all queued first.
 *
 * The pump is a small state machine on the gateway's event loop
 * (enum sms_state in sms_impl.h): a scan asks the queue for what has
 * expired (dropped, loudly) and what is due (oldest first); the batch is
 * handed to the gateway -- the spool gateway finishes each SMS on the
 * spot, the http gateway keeps one request in flight on its keep-alive
 * connection -- and each outcome goes through sms_delivered(), which acks
 * the SMS (it leaves the queue) or defers it (exponential backoff in the
 * queue row). Then the pump scans again; when nothing is due, the queue's
 * answer says when the next SMS will be, and a timer waits for it.
 *
 * Every queue call completes on the queue's writer thread and comes back
 * through the mailbox (sms_mailbox.c): this loop never runs SQL.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/metrics.h"
#include "../queue/queue.h"
#include "dataline/log.h"
#include "sms_impl.h"

#define SMS_BATCH 8
#define SMS_EXPIRE_BATCH 64
#define SMS_GIVE_UP_AFTER (24 * 3600)

static int64_t sms_now(void)
{
	return (int64_t)time(NULL);
}

static void sms_schedule(struct sms_gateway *gw, int64_t delay_s)
{
	struct timeval tv = { (time_t)delay_s, 0 };

	evtimer_add(gw->timer, &tv);
}

void sms_kick(struct sms_gateway *gw)
{
	struct timeval zero = { 0, 0 };

	evtimer_add(gw->kick_ev, &zero);
}

/* IDLE -> SCANNING: expire, then due (the writer runs them in order). */
static void sms_scan(struct sms_gateway *gw)
{
	int64_t now = sms_now();
	struct sms_msg *ex = sms_msg_new(gw, SMS_MSG_EXPIRED), *due;
	int err;

	if (ex && queue_expire(gw->q, QUEUE_SMS, now, SMS_EXPIRE_BATCH,
			       sms_msg_post_cb, ex) != 0)
		sms_msg_cancel(ex); /* the next scan expires them */
	due = sms_msg_new(gw, SMS_MSG_DUE);
	err = due ? queue_due(gw->q, QUEUE_SMS, now, SMS_BATCH, sms_msg_post_cb,
			      due)
		  : -ENOMEM;
	if (err) {
		if (due)
			sms_msg_cancel(due);
		log_warn("sms: cannot read the queue (%s); retrying in 1 s",
			 strerror(-err));
		sms_schedule(gw, 1);
		return;
	}
	gw->state = SMS_SCANNING;
}

static void sms_pump(struct sms_gateway *gw)
{
	if (gw->state != SMS_IDLE) {
		gw->again = 1;
		return;
	}
	gw->again = 0;
	sms_scan(gw);
}

void sms_delivered(struct sms_gateway *gw, int64_t id, int attempts,
		   const char *error)
{
	struct sms_msg *m;
	int err;

	if (!error) {
		metrics_inc(METRICS_SMS_SENT);
		m = sms_msg_new(gw, SMS_MSG_ACKED);
		err = m ? queue_ack(gw->q, id, NULL, NULL, sms_msg_post_cb, m)
			: -ENOMEM;
		if (err) {
			if (m)
				sms_msg_cancel(m);
			log_err("sms: %lld sent but not dequeued: %s (it will be resent)",
				(long long)id, strerror(-err));
		}
		return;
	}
	metrics_inc(METRICS_SMS_FAILURES);
	log_warn("sms: message %lld attempt %d failed: %s; retry in %lld s",
		 (long long)id, attempts + 1, error,
		 (long long)queue_backoff(attempts, gw->backoff_base,
					  gw->backoff_max));
	m = sms_msg_new(gw, SMS_MSG_DEFERRED);
	err = m ? queue_defer(gw->q, id, NULL, sms_now(), gw->backoff_base,
			      gw->backoff_max, error, sms_msg_post_cb, m)
		: -ENOMEM;
	if (err) {
		if (m)
			sms_msg_cancel(m);
		log_err("sms: cannot reschedule %lld: %s (the next scan retries it)",
			(long long)id, strerror(-err));
	}
}

static void sms_batch_clear(struct sms_gateway *gw)
{
	for (int i = 0; i < gw->nbatch; i++) {
		free(gw->batch[i].to);
		free(gw->batch[i].text);
	}
	memset(gw->batch, 0, sizeof(gw->batch));
	gw->nbatch = gw->next = 0;
}

/* SENDING: hands the batch over; when it is all out, scans again. */
static void sms_send_batch(struct sms_gateway *gw)
{
	char errbuf[160];
	int err;

	while (gw->next < gw->nbatch) {
		struct sms_item *it;

		if (gw->kind == SMS_HTTP && gw->inflight_id >= 0)
			return; /* its completion kicks us */
		it = &gw->batch[gw->next++];
		if (gw->kind == SMS_SPOOL) {
			err = sms_spool_write(gw->spool_path, it->to, it->text,
					      errbuf, sizeof(errbuf));
			sms_delivered(gw, it->id, it->attempts, err ? errbuf : NULL);
			continue;
		}
		err = sms_http_start(gw, it->id, it->attempts, it->to, it->text);
		if (err) {
			snprintf(errbuf, sizeof(errbuf), "cannot start request: %s",
				 strerror(-err));
			sms_delivered(gw, it->id, it->attempts, errbuf);
		}
	}
	if (gw->kind == SMS_HTTP && gw->inflight_id >= 0)
		return;
	sms_batch_clear(gw);
	gw->state = SMS_IDLE;
	sms_pump(gw); /* the writer runs our acks/defers before this scan */
}

static void sms_on_due(struct sms_gateway *gw, struct sms_msg *m)
{
	int64_t delay;

	gw->state = SMS_IDLE;
	if (m->err) {
		log_err("sms: reading the queue: %s; retrying in 1 s",
			strerror(-m->err));
		sms_schedule(gw, 1);
		return;
	}
	if (m->n == 0) {
		if (m->next_at) {
			delay = m->next_at - sms_now();
			sms_schedule(gw, delay < 1 ? 1 : delay);
		}
		if (gw->again)
			sms_pump(gw);
		return;
	}
	/* take the rows over */
	for (size_t i = 0; i < m->n && i < SMS_BATCH; i++)
		gw->batch[i] = m->items[i];
	gw->nbatch = m->n < SMS_BATCH ? (int)m->n : SMS_BATCH;
	for (size_t i = (size_t)gw->nbatch; i < m->n; i++) {
		free(m->items[i].to);
		free(m->items[i].text);
	}
	free(m->items);
	m->items = NULL;
	m->n = 0;
	gw->next = 0;
	gw->state = SMS_SENDING;
	sms_send_batch(gw);
}

/* Drops an SMS that has failed for a whole day: loudly, not silently. */
static void sms_on_expired(struct sms_gateway *gw, struct sms_msg *m)
{
	int64_t now = sms_now();

	for (size_t i = 0; i < m->n; i++) {
		const struct sms_item *it = &m->items[i];

		log_err("sms: giving up on message %lld to %s after %d attempts over %lld s",
			(long long)it->id, it->to, it->attempts,
			(long long)(now - it->created));
		metrics_inc(METRICS_SMS_DROPPED);
	}
}

void sms_msg_handle(struct sms_gateway *gw, struct sms_msg *m)
{
	switch (m->kind) {
	case SMS_MSG_STORED:
		if (m->err)
			log_err("sms: cannot queue SMS to %s: %s", m->note,
				strerror(-m->err));
		if (m->cb)
			m->cb(m->arg, m->err);
		if (!m->err && !m->inline_sent)
			sms_pump(gw);
		break;
	case SMS_MSG_EXPIRED:
		sms_on_expired(gw, m);
		break;
	case SMS_MSG_DUE:
		sms_on_due(gw, m);
		break;
	case SMS_MSG_ACKED:
		if (m->err && m->err != -ENOENT)
			log_err("sms: sent but not dequeued: %s (it will be resent)",
				strerror(-m->err));
		break;
	case SMS_MSG_DEFERRED:
		if (m->err && m->err != -ENOENT)
			log_err("sms: cannot reschedule: %s (the next scan retries it)",
				strerror(-m->err));
		break;
	}
}

static void sms_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sms_gateway *gw = arg;

	if (gw->state == SMS_SENDING)
		sms_send_batch(gw);
	else
		sms_pump(gw);
}

/*
 * The spool gateway is tried at once, as before the queue: its line is in
 * the file (fsynced) when this returns, which operators and tests rely on
 * (sms.h). Written, the SMS is delivered and needs no queue item; failed,
 * it is queued as attempt 1 and the pump retries it with backoff. The
 * http gateway always goes through the queue first.
 */
static int sms_spool_now(struct sms_gateway *gw, const char *to,
			 const char *text, struct queue_put *p, int64_t now)
{
	char errbuf[160];
	int delay;

	if (sms_spool_write(gw->spool_path, to, text, errbuf, sizeof(errbuf)) == 0) {
		metrics_inc(METRICS_SMS_SENT);
		return 0;
	}
	metrics_inc(METRICS_SMS_FAILURES);
	delay = (int)queue_backoff(0, gw->backoff_base, gw->backoff_max);
	log_warn("sms: message to %s attempt 1 failed: %s; queued, retry in %d s",
		 to, errbuf, delay);
	p->attempts = 1;
	p->next_at = now + delay;
	return -EIO;
}

int sms_send_cb(struct sms_gateway *gw, const char *to, const char *text,
		sms_stored_cb cb, void *arg)
{
	int64_t now = sms_now();
	struct queue_put p = {
		.channel = QUEUE_SMS, .recipient = to, .body = text,
		.now = now, .expires_at = now + SMS_GIVE_UP_AFTER,
	};
	struct queue_result sent = { 0 };
	struct sms_msg *m;
	int err;

	if (!gw || !to || !*to || !text)
		return -EINVAL;
	p.body_len = strlen(text);
	m = sms_msg_new(gw, SMS_MSG_STORED);
	if (!m)
		return -ENOMEM;
	m->cb = cb;
	m->arg = arg;
	snprintf(m->note, sizeof(m->note), "%s", to);
	if (gw->kind == SMS_SPOOL && sms_spool_now(gw, to, text, &p, now) == 0) {
		/* delivered: cb runs from the loop like every other outcome */
		m->inline_sent = 1;
		sms_msg_post_cb(m, &sent);
		return 0;
	}
	err = queue_put(gw->q, &p, sms_msg_post_cb, m);
	if (err) {
		sms_msg_cancel(m);
		log_err("sms: cannot queue SMS to %s: %s", to, strerror(-err));
	}
	return err;
}

int sms_send(struct sms_gateway *gw, const char *to, const char *text)
{
	return sms_send_cb(gw, to, text, NULL, NULL);
}

void sms_gateway_set_retry(struct sms_gateway *gw, int base_s, int max_s,
			   int timeout_s)
{
	if (base_s > 0)
		gw->backoff_base = base_s;
	if (max_s >= gw->backoff_base)
		gw->backoff_max = max_s;
	if (timeout_s > 0)
		gw->timeout = timeout_s;
}

int sms_gateway_new(struct event_base *base, struct queue *q,
		    const char *spec, const char *var_dir,
		    struct sms_gateway **out)
{
	struct sms_gateway *gw;
	int err = 0;

	if (!base || !q || !out)
		return -EINVAL;
	gw = calloc(1, sizeof(*gw));
	if (!gw)
		return -ENOMEM;
	gw->base = base;
	gw->q = q;
	gw->efd = -1;
	gw->inflight_id = -1;
	gw->backoff_base = 1;
	gw->backoff_max = 300;
	gw->timeout = 10;
	err = sms_mailbox_init(gw);
	if (err)
		goto fail;
	gw->timer = evtimer_new(base, sms_timer_cb, gw);
	gw->kick_ev = evtimer_new(base, sms_timer_cb, gw);
	if (!gw->timer || !gw->kick_ev) {
		err = -ENOMEM;
		goto fail;
	}
	if (!spec || !*spec) {
		gw->kind = SMS_SPOOL;
		if (asprintf(&gw->spool_path, "%s/sms.spool",
			     var_dir && *var_dir ? var_dir : ".") < 0) {
			gw->spool_path = NULL;
			err = -ENOMEM;
		}
	} else if (strncmp(spec, "spool:", 6) == 0 && spec[6]) {
		gw->kind = SMS_SPOOL;
		gw->spool_path = strdup(spec + 6);
		if (!gw->spool_path)
			err = -ENOMEM;
	} else if (strncmp(spec, "http:", 5) == 0 && spec[5]) {
		gw->kind = SMS_HTTP;
		err = sms_http_init(gw, spec + 5);
	} else {
		log_err("sms: unknown gateway '%s' (spool:PATH or http:URL)", spec);
		err = -EINVAL;
	}
	if (err)
		goto fail;
	/* the template may hold the gateway's password: host and port only */
	if (gw->kind == SMS_SPOOL)
		log_info("sms: gateway spool %s", gw->spool_path);
	else
		log_info("sms: gateway http %s:%d", gw->host, gw->port);
	/* resend what an earlier run left queued */
	sms_kick(gw);
	*out = gw;
	return 0;
fail:
	sms_gateway_free(gw);
	return err;
}

void sms_gateway_free(struct sms_gateway *gw)
{
	if (!gw)
		return;
	if (gw->kind == SMS_HTTP)
		sms_http_fini(gw);
	if (gw->timer)
		event_free(gw->timer);
	if (gw->kick_ev)
		event_free(gw->kick_ev);
	sms_mailbox_fini(gw);
	sms_batch_clear(gw);
	free(gw->spool_path);
	free(gw);
}
