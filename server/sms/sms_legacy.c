/*
 * sms_legacy: moves the SMS an older dataline left in the store's SMS
 * queue (store schema <= 2; migration 2 -> 3 renamed it sms_legacy) into
 * the durable queue's "sms" channel, once, at start-up (issue 7).
 *
 * Each row becomes a queue item with the dedup key "legacy:ID:CREATED:TO",
 * so a
 * crash between the puts and the DROP repeats the move without
 * duplicates. The table is dropped only after every put is on disk. Runs
 * before any event loop: waiting for the writer here stalls nobody.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../queue/queue.h"
#include "../store/store.h"
#include "dataline/log.h"
#include "sms_impl.h"

#define SMS_LEGACY_GIVE_UP (24 * 3600)

struct sms_legacy {
	struct queue *q;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int submitted, done, err;
	int64_t moved, already;
};

static void sms_legacy_put_cb(void *arg, const struct queue_result *res)
{
	struct sms_legacy *l = arg;

	pthread_mutex_lock(&l->lock);
	if (res->err == 0)
		l->moved++;
	else if (res->err == -EEXIST)
		l->already++;
	else if (res->err != -EEXIST && !l->err)
		l->err = res->err; /* -EEXIST: moved by an earlier start */
	l->done++;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

static int sms_legacy_row_cb(const struct store_sms *m, void *arg)
{
	struct sms_legacy *l = arg;
	char dedup[96];
	struct queue_put p = {
		.channel = QUEUE_SMS, .recipient = m->to, .dedup = dedup,
		.body = m->text, .body_len = strlen(m->text),
		.now = m->created ? m->created : 1,
		.expires_at = (m->created ? m->created : 1) + SMS_LEGACY_GIVE_UP,
		.next_at = m->next_try ? m->next_try : 1,
		.attempts = m->attempts,
	};
	int err;

	/* the old row's id, time and number: unique across tables too */
	snprintf(dedup, sizeof(dedup), "legacy:%lld:%lld:%.32s", (long long)m->id,
		 (long long)m->created, m->to);
	while ((err = queue_put(l->q, &p, sms_legacy_put_cb, l)) == -EAGAIN) {
		/* the writer's queue is full: let it catch up */
		pthread_mutex_lock(&l->lock);
		while (l->done < l->submitted)
			pthread_cond_wait(&l->cond, &l->lock);
		pthread_mutex_unlock(&l->lock);
	}
	if (err)
		return err;
	pthread_mutex_lock(&l->lock);
	l->submitted++;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int sms_migrate_legacy(struct store *st, struct queue *q)
{
	struct sms_legacy l = { .q = q };
	int err;

	if (!st || !q)
		return -EINVAL;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.cond, NULL);
	err = store_sms_legacy_walk(st, sms_legacy_row_cb, &l);
	pthread_mutex_lock(&l.lock);
	while (l.done < l.submitted)
		pthread_cond_wait(&l.cond, &l.lock);
	if (!err)
		err = l.err;
	pthread_mutex_unlock(&l.lock);
	if (!err)
		err = store_sms_legacy_drop(st);
	if (err)
		log_err("sms: moving the old SMS queue into the queue: %s (kept "
			"for the next start)", strerror(-err));
	else if (l.submitted)
		log_info("sms: moved %lld queued SMS from the store into the queue"
			 " (%lld were already there)", (long long)l.moved,
			 (long long)l.already);
	pthread_cond_destroy(&l.cond);
	pthread_mutex_destroy(&l.lock);
	return err;
}
