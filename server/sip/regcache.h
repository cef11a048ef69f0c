/*
 * regcache: the registrar's in-memory mirror of the bindings table
 * (RFC 3261 s.10.3), shared by all workers. Private to server/sip/.
 *
 * Why: every REGISTER reads the bindings of its number (the existing one
 * for the CSeq check, the device's count, the Contact list of the 200);
 * reading them from SQLite on every request cost more than the digest.
 * The store stays the durable copy; this is the copy the registrar reads.
 *
 * Consistency with the store (the rules registrar.c and regflush.c keep):
 *   - Every write of the bindings table runs on the registrar's writer
 *     thread (server/core/writer.h, opened by regflush.c), one job at a
 *     time, so writes never race each other and need no lock of their own.
 *   - A binding that is new, or removed, or whose routing data changes is
 *     written by a registrar job (run on the writer thread, inside the
 *     batch's transaction) and put in the cache by the same job at the
 *     same time, tagged with the job's id (regcache_txn_begin): until the
 *     job's outcome is known (regcache_txn_end, after the batch's COMMIT)
 *     the entry is uncommitted, and nothing treats it as durable (it is
 *     never a refresh). regcache_txn_end(ok=0) after a failed commit
 *     reloads the cache from the store (keeping pending refreshes), which
 *     undoes every job of the failed batch at once.
 *   - A refresh (same device, same routing data, only expiry, Call-ID and
 *     CSeq change) updates the cache only and marks the entry dirty; a
 *     write-behind job writes dirty entries every REGCACHE_FLUSH_MS. See
 *     docs/protocol.md for what a crash can lose.
 *   - The cache is (re)loaded only on the writer thread (or before it
 *     starts), so no job is half-way through when it is.
 */
#ifndef DATALINE_SERVER_REGCACHE_H
#define DATALINE_SERVER_REGCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/hmap.h"
#include "../store/store.h"

/* How long a refresh may wait in memory before it is written. */
#define REGCACHE_FLUSH_MS 1000
/* A refresh is written behind only while the binding's written expiry is
 * at least this far away, so that after a crash every binding a 200 told
 * of is still there for this long (the client refreshes meanwhile). */
#define REGCACHE_SAFE_S 30

struct regcache;

enum rc_field {
	RC_NUMBER, RC_USERNAME, RC_CONTACT, RC_CALL_ID, RC_TRANSPORT,
	RC_RECEIVED, RC_PATH, RC_INSTANCE, RC__N
};

/* One binding: a single allocation, strings at offsets in buf (so a copy
 * is one memcpy). */
struct rc_ent {
	struct hmap_node node;   /* in the cache, by hash of the number */
	struct rc_ent *next;     /* snapshot list (regcache_take_dirty) */
	uint64_t seq;            /* newer puts list first */
	uint64_t root;           /* seq of the version a job put or the
				    load read; refreshes keep it, so a
				    flush's written expiry also holds for
				    the refreshes after its snapshot */
	uint64_t txn;            /* writer job that put it, 0: loaded or a
				    refresh (regcache_uncommitted) */
	int dirty;               /* refreshed in memory, not yet written */
	uint32_t cseq;
	int64_t expires_at;
	int64_t durable_expires;  /* expiry of the last row written */
	int q;
	uint32_t reg_id;
	uint64_t conn_id;         /* the flow: in memory only */
	int worker;
	size_t size;             /* of the whole allocation */
	uint32_t off[RC__N];
	char buf[];
};

static inline const char *rc_str(const struct rc_ent *e, enum rc_field f)
{
	return e->buf + e->off[f];
}

int regcache_new(struct regcache **out);
void regcache_free(struct regcache *rc);
void regcache_lock(struct regcache *rc);
void regcache_unlock(struct regcache *rc);

/* All below: cache lock held. */

/* 1 if loaded (usable), 0 if it must be (re)loaded first. */
int regcache_loaded(const struct regcache *rc);
/* Loads every unexpired binding from ST (the writer's); keeps the
 * dirty entries it had (refreshes not yet written) over the loaded rows. */
int regcache_load(struct regcache *rc, struct store *st, int64_t now);
const struct rc_ent *regcache_find(const struct regcache *rc,
				   const char *number, const char *contact);
/* 1 if E was put by a job whose commit is still to come. */
int regcache_uncommitted(const struct regcache *rc, const struct rc_ent *e);
/* Unexpired bindings of NUMBER made by USERNAME (NULL: by any device). */
uint64_t regcache_count_device(const struct regcache *rc, const char *number,
			       const char *username, int64_t now);
/* Inserts or replaces (number, contact). DIRTY: a refresh to write
 * behind; otherwise it is tagged with the job of the last
 * regcache_txn_begin (writer thread only). */
int regcache_put(struct regcache *rc, const struct store_binding *b,
		 int dirty);
int regcache_del(struct regcache *rc, const char *number,
		 const char *contact);
/* Removes the bindings of NUMBER made by USERNAME (NULL: by any device). */
void regcache_del_all(struct regcache *rc, const char *number,
		      const char *username);
/* Unexpired bindings of NUMBER, newest first; cb as in store.h. */
int regcache_list(const struct regcache *rc, const char *number, int64_t now,
		  store_binding_cb cb, void *arg);
/* Drops expired entries; returns how many unexpired remain. */
uint64_t regcache_expire(struct regcache *rc, int64_t now);
/* The same, calling GONE(ARG, number) for each entry dropped (cache lock
 * held: it may only copy). */
typedef void (*regcache_gone_fn)(void *arg, const char *number);
uint64_t regcache_expire_each(struct regcache *rc, int64_t now,
			      regcache_gone_fn gone, void *arg);
void regcache_to_binding(const struct rc_ent *e, struct store_binding *b);

/* Jobs of the registrar's writer (writer thread only). BEGIN (cache lock
 * held): a new job id; the puts that follow are its. END (takes the lock
 * itself), in job order once the job's batch committed (OK=1) or failed
 * (OK=0: the cache is reloaded from ST, the writer's connection, unless a
 * reload since the job's start did it already). */
uint64_t regcache_txn_begin(struct regcache *rc);
void regcache_txn_end(struct regcache *rc, uint64_t id, int ok,
		      struct store *st);

/* Write-behind (takes the cache lock itself). */
size_t regcache_dirty_count(struct regcache *rc);
/* Copies of the dirty entries (list through ->next); they stay dirty
 * until regcache_flushed() says their rows are committed. */
struct rc_ent *regcache_take_dirty(struct regcache *rc);
/* After a flush committed: the entries still as in SNAP are clean; they
 * and the refreshes of them since have the written expiry. After a failed
 * flush, nothing: they stay dirty. */
void regcache_flushed(struct regcache *rc, const struct rc_ent *snap);
void regcache_snap_free(struct rc_ent *snap);

#endif
