/*
 * writer: the group-commit writer thread (see writer.h for the contract).
 *
 * Why a thread and group commit: with synchronous=FULL every COMMIT ends
 * in an fsync of the WAL (milliseconds on real disks). Done on an event
 * loop, that fsync stalls every connection of the loop; done once per job,
 * it caps the rate at 1/fsync. Here the loops only copy a job into a ring
 * (a mutex held for a few instructions) and the one writer thread pays
 * one fsync for everything that queued up during the previous one.
 *
 * Order: jobs run in submission order and their done() calls follow the
 * same order, after the COMMIT returned, so a done() may safely announce
 * "it is on disk" (a 202) and a later job can rely on earlier ones.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dataline/log.h"
#include "dataline/sqlerr.h"
#include "metrics.h"
#include "writer.h"

#define WRITER_QUEUE_DEFAULT 4096
#define WRITER_BATCH_DEFAULT 512

struct writer_job {
	writer_run_fn run;
	writer_done_fn done;
	void *arg;
};

struct writer_stmt_slot {
	const char *sql;       /* borrowed: the caller's string constant */
	sqlite3_stmt *stmt;    /* owned */
};

struct writer {
	char name[32];
	sqlite3 *db;                    /* owned; the writer thread's after open */
	pthread_t thread;
	int started;

	pthread_mutex_t lock;           /* guards the ring, stopping, stats */
	pthread_cond_t wake;
	struct writer_job *ring;        /* owned, queue_max slots */
	unsigned cap, head, count;
	unsigned batch_max;
	int stopping;
	void (*on_batch)(void *arg, unsigned jobs, uint64_t commit_us);
	void *on_batch_arg;
	void (*on_dones)(void *arg);
	void *on_dones_arg;
	struct writer_stats stats;

	/* writer thread only: */
	struct writer_job *batch;       /* owned, batch_max: the jobs running */
	int *errs;                      /* owned, batch_max: their outcomes */
	struct writer_stmt_slot *stmts; /* owned, n_stmts used of stmt_cap */
	unsigned n_stmts, stmt_cap;

	/* the checkpointer (see writer_ckpt_main) */
	sqlite3 *ckpt_db;               /* owned; its thread's */
	pthread_t ckpt_thread;
	int ckpt_started;
	pthread_mutex_t ckpt_lock;      /* guards ckpt_want, ckpt_stop */
	pthread_cond_t ckpt_wake;
	int ckpt_want, ckpt_stop;
	unsigned ckpt_runs;             /* checkpoints run (tests) */
};

/*
 * Checkpoints off the commit path. SQLite's automatic checkpoint runs
 * inside the COMMIT that crosses 1000 WAL pages: it copies the pages into
 * the database file and fsyncs it there, and every job waiting for that
 * batch (a text's 202) waits for it too. The writer turns it off and a
 * thread of its own, on its own connection, runs PASSIVE checkpoints
 * (which never block the writer) when the WAL passes WRITER_CKPT_PAGES
 * and once a second. A PASSIVE checkpoint racing with new commits cannot
 * let the WAL start over; past WRITER_CKPT_HARD pages (a writer busy
 * without a pause) the writer checkpoints itself, as SQLite would.
 */
#define WRITER_CKPT_PAGES 1000
#define WRITER_CKPT_HARD 20000
#define WRITER_CKPT_EVERY_S 1

/* The writer whose thread this is (writer_stmt() finds its cache here). */
static __thread struct writer *writer_self;

int writer_errno(int rc)
{
	return sqlerr_errno(rc);
}

static uint64_t writer_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

sqlite3_stmt *writer_stmt(sqlite3 *db, const char *sql)
{
	struct writer *w = writer_self;
	struct writer_stmt_slot *slot;
	sqlite3_stmt *stmt = NULL;

	if (!w || w->db != db) {
		log_err("writer: writer_stmt() outside a writer thread");
		return NULL;
	}
	for (unsigned i = 0; i < w->n_stmts; i++) {
		if (w->stmts[i].sql == sql) {
			stmt = w->stmts[i].stmt;
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return stmt;
		}
	}
	if (w->n_stmts == w->stmt_cap) {
		unsigned cap = w->stmt_cap ? w->stmt_cap * 2 : 32;

		slot = realloc(w->stmts, cap * sizeof(*slot));
		if (!slot)
			return NULL;
		w->stmts = slot;
		w->stmt_cap = cap;
	}
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
			       NULL) != SQLITE_OK) {
		log_err("writer %s: prepare \"%s\": %s", w->name, sql,
			sqlite3_errmsg(db));
		sqlite3_finalize(stmt);
		return NULL;
	}
	w->stmts[w->n_stmts++] = (struct writer_stmt_slot){ sql, stmt };
	return stmt;
}

/* Runs one statement without rows from the cache; 0 or -errno. */
static int writer_exec(struct writer *w, const char *sql)
{
	sqlite3_stmt *stmt = writer_stmt(w->db, sql);
	int rc;

	if (!stmt)
		return -EIO;
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	log_err("writer %s: %s: %s", w->name, sql, sqlite3_errmsg(w->db));
	return writer_errno(rc);
}

/* Statements a run() left half-stepped would keep the COMMIT waiting or
 * failing: reset them all (cheap, a few dozen per writer). */
static void writer_reset_all(struct writer *w)
{
	for (unsigned i = 0; i < w->n_stmts; i++)
		if (sqlite3_stmt_busy(w->stmts[i].stmt))
			sqlite3_reset(w->stmts[i].stmt);
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT job";
static const char SQL_RELEASE[] = "RELEASE job";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO job";

/*
 * One transaction: BEGIN IMMEDIATE, each job under SAVEPOINT, COMMIT.
 * errs[i] gets job i's outcome. If SQLite rolled the whole transaction
 * back by itself (disk full, I/O error: autocommit is on again), the jobs
 * already run are lost too and all get an error.
 */
static int writer_run_batch(struct writer *w, struct writer_job *jobs,
			    unsigned n, int *errs)
{
	int err, broken = 0;

	err = writer_exec(w, SQL_BEGIN);
	if (err) {
		for (unsigned i = 0; i < n; i++)
			errs[i] = err;
		return err;
	}
	for (unsigned i = 0; i < n; i++) {
		errs[i] = 0;
		if (broken) {
			errs[i] = broken;
			continue;
		}
		if (!jobs[i].run)
			continue;
		err = writer_exec(w, SQL_SAVEPOINT);
		if (!err)
			err = jobs[i].run(jobs[i].arg, w->db);
		errs[i] = err;
		if (sqlite3_get_autocommit(w->db)) {
			/* SQLite ended the transaction: everything is gone */
			broken = err ? err : -EIO;
			for (unsigned k = 0; k <= i; k++)
				errs[k] = broken;
			continue;
		}
		if (err) {
			writer_reset_all(w);
			if (writer_exec(w, SQL_ROLLBACK_TO) ||
			    writer_exec(w, SQL_RELEASE)) {
				broken = -EIO;
				for (unsigned k = 0; k < i; k++)
					errs[k] = broken;
			}
		} else if (writer_exec(w, SQL_RELEASE)) {
			broken = -EIO;
			for (unsigned k = 0; k <= i; k++)
				errs[k] = broken;
		}
	}
	writer_reset_all(w);
	if (broken) {
		if (!sqlite3_get_autocommit(w->db))
			writer_exec(w, SQL_ROLLBACK);
		return broken;
	}
	err = writer_exec(w, SQL_COMMIT);
	if (err) {
		if (!sqlite3_get_autocommit(w->db))
			writer_exec(w, SQL_ROLLBACK);
		for (unsigned i = 0; i < n; i++)
			if (!errs[i])
				errs[i] = err;
	}
	return err;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct writer_job *batch = w->batch;
	int *errs = w->errs;

	writer_self = w;
	for (;;) {
		unsigned n;
		uint64_t t0, us;
		int err;

		pthread_mutex_lock(&w->lock);
		while (w->count == 0 && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->count == 0) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		n = w->count < w->batch_max ? w->count : w->batch_max;
		for (unsigned i = 0; i < n; i++)
			batch[i] = w->ring[(w->head + i) % w->cap];
		w->head = (w->head + n) % w->cap;
		w->count -= n;
		pthread_mutex_unlock(&w->lock);

		t0 = writer_now_us();
		err = writer_run_batch(w, batch, n, errs);
		us = writer_now_us() - t0;
		metrics_writer_batch(n, us);
		if (w->on_batch)
			w->on_batch(w->on_batch_arg, n, us);

		pthread_mutex_lock(&w->lock);
		w->stats.batches++;
		w->stats.jobs += n;
		if (err)
			w->stats.commit_errors++;
		if (n > w->stats.max_batch)
			w->stats.max_batch = n;
		pthread_mutex_unlock(&w->lock);

		for (unsigned i = 0; i < n; i++)
			if (batch[i].done)
				batch[i].done(batch[i].arg, errs[i]);
		if (w->on_dones)
			w->on_dones(w->on_dones_arg);
	}
	writer_self = NULL;
	return NULL;
}

int writer_submit(struct writer *w, writer_run_fn run, writer_done_fn done,
		  void *arg)
{
	int err = 0;

	if (!w)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		err = -ESHUTDOWN;
	} else if (w->count == w->cap) {
		w->stats.rejected++;
		err = -EAGAIN;
	} else {
		w->ring[(w->head + w->count) % w->cap] =
			(struct writer_job){ run, done, arg };
		if (w->count++ == 0)
			pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	if (err == -EAGAIN)
		metrics_inc(METRICS_WRITER_REJECTED);
	return err;
}

void writer_get_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	out->queued = w->count;
	pthread_mutex_unlock(&w->lock);
}

static int writer_wal_hook(void *arg, sqlite3 *db, const char *name,
			   int pages)
{
	struct writer *w = arg;

	if (pages >= WRITER_CKPT_HARD) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
	} else if (pages >= WRITER_CKPT_PAGES) {
		pthread_mutex_lock(&w->ckpt_lock);
		if (!w->ckpt_want) {
			w->ckpt_want = 1;
			pthread_cond_signal(&w->ckpt_wake);
		}
		pthread_mutex_unlock(&w->ckpt_lock);
	}
	return SQLITE_OK;
}

static void *writer_ckpt_main(void *arg)
{
	struct writer *w = arg;
	struct timespec ts;
	int rc;

	pthread_mutex_lock(&w->ckpt_lock);
	while (!w->ckpt_stop) {
		if (!w->ckpt_want) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += WRITER_CKPT_EVERY_S;
			pthread_cond_timedwait(&w->ckpt_wake, &w->ckpt_lock, &ts);
			if (w->ckpt_stop)
				break;
		}
		w->ckpt_want = 0;
		pthread_mutex_unlock(&w->ckpt_lock);
		rc = sqlite3_wal_checkpoint_v2(w->ckpt_db, NULL,
					       SQLITE_CHECKPOINT_PASSIVE, NULL,
					       NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_warn("writer %s: checkpoint: %s", w->name,
				 sqlite3_errstr(rc));
		pthread_mutex_lock(&w->ckpt_lock);
		w->ckpt_runs++;
	}
	pthread_mutex_unlock(&w->ckpt_lock);
	return NULL;
}

static void writer_ckpt_stop(struct writer *w)
{
	if (w->ckpt_started) {
		pthread_mutex_lock(&w->ckpt_lock);
		w->ckpt_stop = 1;
		pthread_cond_signal(&w->ckpt_wake);
		pthread_mutex_unlock(&w->ckpt_lock);
		pthread_join(w->ckpt_thread, NULL);
		w->ckpt_started = 0;
	}
	if (w->ckpt_db)
		sqlite3_close_v2(w->ckpt_db);
	w->ckpt_db = NULL;
}

/* Opens the checkpointer's connection and starts its thread. */
static int writer_ckpt_start(struct writer *w, const char *path)
{
	int rc = sqlite3_open_v2(path, &w->ckpt_db, SQLITE_OPEN_READWRITE |
				 SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK)
		return writer_errno(rc) ?: -EIO;
	sqlite3_busy_timeout(w->ckpt_db, 1000);
	/* a connection learns the file is in WAL mode on its first read */
	rc = sqlite3_exec(w->ckpt_db, "SELECT count(*) FROM sqlite_master",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return writer_errno(rc) ?: -EIO;
	sqlite3_wal_hook(w->db, writer_wal_hook, w);
	rc = pthread_create(&w->ckpt_thread, NULL, writer_ckpt_main, w);
	if (rc) {
		sqlite3_wal_autocheckpoint(w->db, WRITER_CKPT_PAGES);
		return -rc;
	}
	w->ckpt_started = 1;
	return 0;
}

static void writer_free(struct writer *w)
{
	writer_ckpt_stop(w);
	for (unsigned i = 0; i < w->n_stmts; i++)
		sqlite3_finalize(w->stmts[i].stmt);
	free(w->stmts);
	if (w->db)
		sqlite3_close_v2(w->db);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->ckpt_wake);
	pthread_mutex_destroy(&w->ckpt_lock);
	free(w->ring);
	free(w->batch);
	free(w->errs);
	free(w);
}

void writer_close(struct writer *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stopping = 1;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	writer_ckpt_stop(w); /* before the last connection closes */
	writer_free(w);
}

static int writer_pragma(struct writer *w, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(w->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_err("writer %s: %s: %s", w->name, sql,
			msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return writer_errno(rc);
	}
	return 0;
}

int writer_open(const struct writer_config *cfg, struct writer **out)
{
	struct writer *w;
	struct stat sb;
	int created, rc, err;

	if (!cfg || !cfg->path || !*cfg->path || !out)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->name, sizeof(w->name), "%s", cfg->name ? cfg->name : "db");
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_mutex_init(&w->ckpt_lock, NULL);
	pthread_cond_init(&w->ckpt_wake, NULL);
	w->cap = cfg->queue_max ? cfg->queue_max : WRITER_QUEUE_DEFAULT;
	w->batch_max = cfg->batch_max ? cfg->batch_max : WRITER_BATCH_DEFAULT;
	w->on_batch = cfg->on_batch;
	w->on_batch_arg = cfg->on_batch_arg;
	w->on_dones = cfg->on_dones;
	w->on_dones_arg = cfg->on_dones_arg;
	w->ring = calloc(w->cap, sizeof(*w->ring));
	w->batch = calloc(w->batch_max, sizeof(*w->batch));
	w->errs = calloc(w->batch_max, sizeof(*w->errs));
	if (!w->ring || !w->batch || !w->errs) {
		err = -ENOMEM;
		goto fail;
	}
	created = stat(cfg->path, &sb) != 0 && errno == ENOENT;
	rc = sqlite3_open_v2(cfg->path, &w->db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int oserr = w->db ? sqlite3_system_errno(w->db) : 0;

		log_err("writer %s: open %s: %s", w->name, cfg->path,
			oserr ? strerror(oserr) : sqlite3_errstr(rc));
		err = oserr ? -oserr : -EIO;
		goto fail;
	}
	/* private: it holds messages (chmod, never open+close: see
	 * store_sqlite.c on POSIX locks) */
	if (created && chmod(cfg->path, 0600) != 0)
		log_warn("writer %s: chmod %s: %s", w->name, cfg->path,
			 strerror(errno));
	sqlite3_busy_timeout(w->db, 5000);
	err = writer_pragma(w, "PRAGMA journal_mode = WAL");
	if (!err)
		err = writer_pragma(w, "PRAGMA foreign_keys = ON");
	if (!err)
		err = writer_pragma(w, cfg->sync_full ? "PRAGMA synchronous = FULL"
						      : "PRAGMA synchronous = NORMAL");
	if (!err && cfg->init) {
		writer_self = w;
		err = cfg->init(w->db, cfg->init_arg);
		writer_self = NULL;
		writer_reset_all(w);
	}
	if (!err)
		err = writer_pragma(w, "PRAGMA journal_size_limit = 67108864");
	if (!err)
		err = writer_ckpt_start(w, cfg->path);
	if (err)
		goto fail;
	rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc) {
		err = -rc;
		goto fail;
	}
	w->started = 1;
	*out = w;
	return 0;
fail:
	writer_free(w);
	return err;
}
