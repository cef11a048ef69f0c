/*
 * regflush: the registrar's background writes -- the write-behind of
 * refreshed bindings (RFC 3261 s.10.3 refreshes; the durability rules are
 * in docs/protocol.md and regcache.h) and the expiry of old bindings.
 * Both run on the registrar's housekeeping thread (below), never on an
 * event loop, and at shutdown.
 *
 * Housekeeping: a thread with its own store connection writes the
 * refreshes every REGCACHE_FLUSH_MS, expires bindings every
 * REG_GC_INTERVAL_S, and checkpoints SQLite's write-ahead log once a
 * second (the workers' connections never checkpoint: a checkpoint copies
 * pages into the database file and may fsync, which would stall a loop
 * for milliseconds under load). Its writes queue on the same write lock
 * as the workers' commits, so they cost a worker at most one waiting
 * turn, never the disk time of a flush.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sipd.h"
#include "regcache.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../store/store.h"
#include "dataline/log.h"

/*
 * Write-behind of refreshes: the entries marked dirty since the last flush
 * go to the store in one transaction. The snapshot is taken with the write
 * lock held, so no registrar transaction can remove a binding between the
 * snapshot and its write (which would bring it back).
 */
int reg_flush(struct sipd *w)
{
	struct regcache *rc = w->sh->rc;
	struct rc_ent *snap, *e;
	int err, begun = 0;

	if (w->txn_open || !regcache_dirty_count(rc))
		return 0;
	pthread_mutex_lock(&w->sh->write_lock);
	snap = regcache_take_dirty(rc);
	err = store_begin(w->store);
	begun = err == 0;
	for (e = snap; !err && e; e = e->next) {
		struct store_binding b;
		regcache_to_binding(e, &b);
		err = store_binding_upsert(w->store, &b);
	}
	if (!err)
		err = store_commit(w->store);
	if (err && begun)
		store_rollback(w->store);
	if (!err) /* before another writer can change the rows again */
		regcache_flushed(rc, snap);
	pthread_mutex_unlock(&w->sh->write_lock);
	if (err) {
		log_err("sip: writing refreshed bindings failed (%d); retrying",
			err);
		regcache_restore_dirty(rc, snap);
	}
	regcache_snap_free(snap);
	return err;
}

void reg_gc(struct sipd *w)
{
	struct regcache *rc = w->sh->rc;
	int64_t now = (int64_t)time(NULL);
	uint64_t removed = 0, count = 0;
	struct pres_lost lost = { NULL, 0, 0 };
	int err = 0;

	if (w->txn_open)
		return;
	/* refreshed rows first, so the store does not drop a binding whose
	 * written expiry passed but whose refresh is still in memory */
	reg_flush(w);
	if (sipd_write_begin(w))
		return;
	regcache_lock(rc);
	if (!regcache_loaded(rc))
		err = regcache_load(rc, w->store, now);
	if (!err)
		count = regcache_expire_each(rc, now, pres_lost_add, &lost);
	regcache_unlock(rc);
	if (!err && store_binding_expire(w->store, now, &removed) == 0)
		metrics_gauge_set(METRICS_REGISTRATIONS, (int64_t)count);
	sipd_write_end(w);
	pres_lost_flush(w->sh, &lost); /* presence: devices gone offline */
	if (removed)
		log_debug("sip: %llu bindings expired",
			  (unsigned long long)removed);
}

#define REG_GC_INTERVAL_S 10

struct reg_housekeep {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	struct sipd hk;          /* a worker-shaped context for reg_flush/gc:
				    its own store connection, no loop */
};

static void *housekeep_main(void *arg)
{
	struct reg_housekeep *h = arg;
	struct timespec ts;
	unsigned ticks = 0;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)REGCACHE_FLUSH_MS % 1000 * 1000000L;
		ts.tv_sec += REGCACHE_FLUSH_MS / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&h->cond, &h->lock, &ts);
		if (h->stop)
			break;
		pthread_mutex_unlock(&h->lock);
		if (++ticks % (REG_GC_INTERVAL_S * 1000 / REGCACHE_FLUSH_MS) == 0)
			reg_gc(&h->hk); /* flushes first */
		else
			reg_flush(&h->hk);
		store_checkpoint(h->hk.store);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int reg_housekeep_start(struct sipd_shared *sh)
{
	struct reg_housekeep *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->hk.sh = sh;
	h->hk.id = -1;
	h->hk.pend_tail = &h->hk.pend;
	err = store_open(sh->cfg->db, &h->hk.store);
	if (!err)
		err = -pthread_create(&h->thread, NULL, housekeep_main, h);
	if (err) {
		if (h->hk.store)
			store_close(h->hk.store);
		free(h);
		return err;
	}
	sh->housekeep = h;
	return 0;
}

void reg_housekeep_stop(struct sipd_shared *sh)
{
	struct reg_housekeep *h = sh->housekeep;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = 1;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	reg_flush(&h->hk); /* what is still in memory */
	store_close(h->hk.store);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
	sh->housekeep = NULL;
}
