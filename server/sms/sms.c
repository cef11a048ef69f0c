/*
 * sms: the durable SMS queue in front of the gateways (see sms.h).
 *
 * sms_pump() takes the due messages from the store (oldest first) and
 * hands them to the gateway: the spool gateway finishes each one on the
 * spot, the http gateway keeps one request in flight on its keep-alive
 * connection. Each outcome goes through sms_delivered(), which removes the
 * message or reschedules it (exponential backoff). One timer drives both
 * the retries and the pumps deferred out of libevent callbacks.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/metrics.h"
#include "../store/store.h"
#include "dataline/log.h"
#include "sms_impl.h"

#define SMS_BATCH 8
#define SMS_GIVE_UP_AFTER (24 * 3600)

struct sms_item {
	int64_t id, created;
	int attempts;
	char *to, *text; /* owned */
};

struct sms_batch {
	int n;
	struct sms_item item[SMS_BATCH];
};

static int64_t sms_now(void)
{
	return (int64_t)time(NULL);
}

static void sms_update_gauge(struct sms_gateway *gw)
{
	uint64_t n;

	if (store_sms_count(gw->st, &n) == 0)
		metrics_gauge_set(METRICS_QUEUE_SMS, (int64_t)n);
}

static int sms_collect_cb(const struct store_sms *m, void *arg)
{
	struct sms_batch *b = arg;
	struct sms_item *it = &b->item[b->n];

	it->to = strdup(m->to);
	it->text = strdup(m->text);
	if (!it->to || !it->text) {
		free(it->to);
		free(it->text);
		return -ENOMEM;
	}
	it->id = m->id;
	it->created = m->created;
	it->attempts = m->attempts;
	b->n++;
	return 0;
}

static void sms_batch_free(struct sms_batch *b)
{
	for (int i = 0; i < b->n; i++) {
		free(b->item[i].to);
		free(b->item[i].text);
	}
	b->n = 0;
}

static int sms_backoff(const struct sms_gateway *gw, int attempts)
{
	int64_t d = gw->backoff_base;

	for (int i = 1; i < attempts && d < gw->backoff_max; i++)
		d *= 2;
	return d > gw->backoff_max ? gw->backoff_max : (int)d;
}

/* Re-arms the timer for the earliest queued message (at least 1 s away:
 * a due message whose attempt is in flight must not spin the loop). */
static void sms_schedule(struct sms_gateway *gw)
{
	int64_t due, now = sms_now();
	struct timeval tv = { 1, 0 };

	if (store_sms_next_due(gw->st, &due) != 0)
		return;
	if (due - now > 1)
		tv.tv_sec = due - now;
	evtimer_add(gw->timer, &tv);
}

void sms_delivered(struct sms_gateway *gw, int64_t id, int attempts,
		   const char *error)
{
	int64_t now = sms_now();
	int err, delay;

	if (!error) {
		metrics_inc(METRICS_SMS_SENT);
		err = store_sms_done(gw->st, id);
		if (err && err != -ENOENT)
			log_err("sms: %lld sent but not dequeued: %s (it will be resent)",
				(long long)id, strerror(-err));
	} else {
		metrics_inc(METRICS_SMS_FAILURES);
		delay = sms_backoff(gw, attempts + 1);
		log_warn("sms: message %lld attempt %d failed: %s; retry in %d s",
			 (long long)id, attempts + 1, error, delay);
		err = store_sms_retry(gw->st, id, now + delay, error);
		if (err)
			log_err("sms: cannot reschedule %lld: %s", (long long)id,
				strerror(-err));
	}
	sms_update_gauge(gw);
}

/* Drops a message that has failed for a whole day: loudly, not silently. */
static int sms_give_up(struct sms_gateway *gw, const struct sms_item *it,
		       int64_t now)
{
	if (now - it->created < SMS_GIVE_UP_AFTER)
		return 0;
	log_err("sms: giving up on message %lld to %s after %d attempts over %lld s",
		(long long)it->id, it->to, it->attempts,
		(long long)(now - it->created));
	metrics_inc(METRICS_SMS_DROPPED);
	store_sms_done(gw->st, it->id);
	return 1;
}

static void sms_pump(struct sms_gateway *gw)
{
	struct sms_batch b = { 0 };
	char errbuf[160];
	int64_t now;
	int rounds = 0, err;

	if (gw->pumping)
		return;
	gw->pumping = 1;
	while (rounds++ < 16 && gw->inflight_id < 0) {
		now = sms_now();
		err = store_sms_due(gw->st, now,
				    gw->kind == SMS_HTTP ? 1 : SMS_BATCH,
				    sms_collect_cb, &b);
		if (err) {
			log_err("sms: reading the queue: %s", strerror(-err));
			break;
		}
		if (b.n == 0)
			break;
		for (int i = 0; i < b.n; i++) {
			struct sms_item *it = &b.item[i];

			if (sms_give_up(gw, it, now))
				continue;
			if (gw->kind == SMS_SPOOL) {
				err = sms_spool_write(gw->spool_path, it->to, it->text,
						      errbuf, sizeof(errbuf));
				sms_delivered(gw, it->id, it->attempts,
					      err ? errbuf : NULL);
				continue;
			}
			err = sms_http_start(gw, it->id, it->attempts, it->to,
					     it->text);
			if (err) {
				snprintf(errbuf, sizeof(errbuf),
					 "cannot start request: %s", strerror(-err));
				sms_delivered(gw, it->id, it->attempts, errbuf);
			}
		}
		sms_batch_free(&b);
	}
	sms_batch_free(&b);
	sms_update_gauge(gw);
	gw->pumping = 0;
	sms_schedule(gw);
}

static void sms_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	sms_pump(arg);
}

void sms_kick(struct sms_gateway *gw)
{
	struct timeval zero = { 0, 0 };

	evtimer_add(gw->timer, &zero);
}

int sms_send(struct sms_gateway *gw, const char *to, const char *text)
{
	int err;

	if (!gw || !to || !text)
		return -EINVAL;
	err = store_sms_add(gw->st, to, text, sms_now(), NULL);
	if (err) {
		log_err("sms: cannot queue SMS to %s: %s", to, strerror(-err));
		return err;
	}
	sms_pump(gw);
	return 0;
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

int sms_gateway_new(struct event_base *base, struct store *st,
		    const char *spec, const char *var_dir,
		    struct sms_gateway **out)
{
	struct sms_gateway *gw;
	int err = 0;

	if (!base || !st || !out)
		return -EINVAL;
	gw = calloc(1, sizeof(*gw));
	if (!gw)
		return -ENOMEM;
	gw->base = base;
	gw->st = st;
	gw->inflight_id = -1;
	gw->backoff_base = 1;
	gw->backoff_max = 300;
	gw->timeout = 10;
	gw->timer = evtimer_new(base, sms_timer_cb, gw);
	if (!gw->timer) {
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
	if (gw->timer)
		event_free(gw->timer);
	if (gw->kind == SMS_HTTP)
		sms_http_fini(gw);
	free(gw->spool_path);
	free(gw);
}
