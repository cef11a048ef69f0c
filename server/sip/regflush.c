/*
 * regflush: the registrar's writer thread and its background work -- the
 * write-behind of refreshed bindings (RFC 3261 s.10.3 refreshes; the
 * durability rules are in docs/protocol.md and regcache.h), the expiry of
 * old bindings and SQLite's WAL checkpoints. None of it runs on an event
 * loop (issue 7: no event loop waits on the disk).
 *
 * The registrar's writer (server/core/writer.h) is one thread with its own
 * connection to the store's file that runs every write of the bindings
 * table, many jobs per transaction (group commit): the REGISTERs that
 * change bindings (registrar.c) and the jobs below. One thread writing
 * means the writes never race each other: the cache (regcache.c) follows
 * them job by job without a lock of its own around the transaction, and a
 * flush can never bring back a binding a REGISTER removed.
 *
 * Housekeeping: a thread that, every REGCACHE_FLUSH_MS, submits a flush
 * job when refreshes wait in memory (and every REG_GC_INTERVAL_S an expiry
 * job, which flushes first). The WAL is checkpointed by the writer's own
 * checkpointer thread (writer.c), never on a worker: a checkpoint copies
 * pages into the database file and may fsync.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sipd.h"
#include "regcache.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../core/writer.h"
#include "../store/store.h"
#include "dataline/log.h"

#define REG_GC_INTERVAL_S 10

struct reg_housekeep {
	struct sipd_shared *sh;   /* borrowed */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	atomic_int busy;          /* a flush job is queued or running */
};

/* A write-behind job, with expiry when GC. */
struct reg_flush_job {
	struct sipd_shared *sh;   /* borrowed */
	struct reg_housekeep *h;  /* borrowed, NULL at shutdown */
	struct rc_ent *snap;      /* owned: the dirty entries written */
	int gc;
	uint64_t live, removed;
	struct pres_lost lost;    /* devices whose last binding expired */
};

/*
 * On the writer thread: the refreshed rows first, so that the expiry does
 * not drop a binding whose written expiry passed but whose refresh is
 * still in memory.
 */
static int reg_flush_run(void *arg, sqlite3 *db)
{
	struct reg_flush_job *j = arg;
	struct regcache *rc = j->sh->rc;
	struct store *st = j->sh->regst;
	int64_t now = (int64_t)time(NULL);
	struct rc_ent *e;
	int err = 0;

	(void)db; /* reached through j->sh->regst, the same connection */
	j->snap = regcache_take_dirty(rc);
	for (e = j->snap; !err && e; e = e->next) {
		struct store_binding b;

		regcache_to_binding(e, &b);
		err = store_binding_upsert(st, &b);
	}
	if (err || !j->gc)
		return err;
	regcache_lock(rc);
	j->live = regcache_expire_each(rc, now, pres_lost_add, &j->lost);
	regcache_unlock(rc);
	return store_binding_expire(st, now, &j->removed);
}

/* On the writer thread, after the COMMIT. */
static void reg_flush_done(void *arg, int err)
{
	struct reg_flush_job *j = arg;

	if (err) {
		/* the entries stay dirty: the next flush writes them */
		log_err("sip: writing refreshed bindings failed (%d); retrying",
			err);
	} else {
		regcache_flushed(j->sh->rc, j->snap);
		if (j->gc)
			metrics_gauge_set(METRICS_REGISTRATIONS,
					  (int64_t)j->live);
		if (j->removed)
			log_debug("sip: %llu bindings expired",
				  (unsigned long long)j->removed);
	}
	/* presence: devices gone offline (the cache dropped them either way) */
	pres_lost_flush(j->sh, &j->lost);
	if (j->h)
		atomic_store(&j->h->busy, 0);
	regcache_snap_free(j->snap);
	free(j);
}

static int reg_flush_submit(struct sipd_shared *sh, struct reg_housekeep *h,
			    int gc)
{
	struct reg_flush_job *j = calloc(1, sizeof(*j));
	int err;

	if (!j)
		return -ENOMEM;
	j->sh = sh;
	j->h = h;
	j->gc = gc;
	err = writer_submit(sh->regw, reg_flush_run, reg_flush_done, j);
	if (err)
		free(j);
	return err;
}

static void *housekeep_main(void *arg)
{
	struct reg_housekeep *h = arg;
	struct timespec ts;
	unsigned ticks = 0;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		int gc;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)REGCACHE_FLUSH_MS % 1000 * 1000000L;
		ts.tv_sec += REGCACHE_FLUSH_MS / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&h->cond, &h->lock, &ts);
		if (h->stop)
			break;
		pthread_mutex_unlock(&h->lock);
		gc = ++ticks % (REG_GC_INTERVAL_S * 1000 / REGCACHE_FLUSH_MS) == 0;
		/* one at a time: a slow disk must not fill the writer's queue
		 * with flushes (the next tick takes what is dirty then) */
		if ((gc || regcache_dirty_count(h->sh->rc)) &&
		    !atomic_exchange(&h->busy, 1) &&
		    reg_flush_submit(h->sh, h, gc))
			atomic_store(&h->busy, 0);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* The writer's connection, before its thread starts: the store over it,
 * and the bindings loaded into memory (expired ones left out). */
static int reg_writer_init(sqlite3 *db, void *arg)
{
	struct sipd_shared *sh = arg;
	int64_t now = (int64_t)time(NULL);
	uint64_t live = 0;
	int err;

	err = store_attach_sqlite(db, &sh->regst);
	if (err)
		return err;
	regcache_lock(sh->rc);
	err = regcache_load(sh->rc, sh->regst, now);
	if (!err)
		live = regcache_expire(sh->rc, now);
	regcache_unlock(sh->rc);
	if (!err)
		metrics_gauge_set(METRICS_REGISTRATIONS, (int64_t)live);
	return err;
}

/* The SQLite file of a store URI ("sqlite:PATH" or PATH). */
static int reg_db_path(const char *uri, const char **path)
{
	if (!strncmp(uri, "sqlite:", 7))
		uri += 7;
	if (!*uri || strstr(uri, "://") || !strcmp(uri, ":memory:"))
		return -ENOTSUP;
	*path = uri;
	return 0;
}

/* Closes the writer (running every job it accepted), then the rest. */
static void reg_housekeep_free(struct sipd_shared *sh, struct reg_housekeep *h)
{
	writer_close(sh->regw); /* every batch's jobs handed back */
	sh->regw = NULL;
	free(sh->regout);
	sh->regout = NULL;
	store_close(sh->regst);
	sh->regst = NULL;
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int reg_housekeep_start(struct sipd_shared *sh)
{
	struct writer_config wc = { .name = "registrar" };
	struct reg_housekeep *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->sh = sh;
	err = reg_db_path(sh->cfg->db, &wc.path);
	if (err) {
		log_err("sip: the registrar needs an SQLite file, not %s",
			sh->cfg->db);
		goto fail;
	}
	/* as the store's other connections: a commit survives kill -9 */
	wc.sync_full = 0;
	wc.init = reg_writer_init;
	wc.init_arg = sh;
	wc.on_dones = reg_jobs_hand_back;
	wc.on_dones_arg = sh;
	sh->regout = calloc((size_t)(sh->nworkers > 0 ? sh->nworkers : 1),
			    sizeof(*sh->regout));
	if (!sh->regout) {
		err = -ENOMEM;
		goto fail;
	}
	err = writer_open(&wc, &sh->regw);
	if (err)
		goto fail;
	err = -pthread_create(&h->thread, NULL, housekeep_main, h);
	if (err)
		goto fail;
	sh->housekeep = h;
	return 0;
fail:
	reg_housekeep_free(sh, h);
	return err;
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
	/* what is still in memory, behind every REGISTER accepted so far;
	 * writer_close() runs them all (their answers wait in the workers'
	 * mailboxes) */
	if (regcache_dirty_count(sh->rc) &&
	    reg_flush_submit(sh, NULL, 0))
		log_err("sip: refreshed bindings not written at shutdown");
	reg_housekeep_free(sh, h);
	sh->housekeep = NULL;
}
