/*
 * regflush: the registrar's background writes -- the write-behind of
 * refreshed bindings (RFC 3261 s.10.3 refreshes; the durability rules are
 * in docs/protocol.md and regcache.h) and the expiry of old bindings.
 * Run from worker 0's timers and at shutdown, never inside a read batch.
 */
#include <pthread.h>
#include <time.h>

#include "sipd.h"
#include "regcache.h"
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
		count = regcache_expire(rc, now);
	regcache_unlock(rc);
	if (!err && store_binding_expire(w->store, now, &removed) == 0)
		metrics_gauge_set(METRICS_REGISTRATIONS, (int64_t)count);
	sipd_write_end(w);
	if (removed)
		log_debug("sip: %llu bindings expired",
			  (unsigned long long)removed);
}
