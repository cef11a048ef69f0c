/*
 * writer: one thread that owns one SQLite connection and runs the jobs
 * other threads submit, many jobs per transaction ("group commit"), so
 * that no event loop ever waits on the disk (issue 7).
 *
 * A job is { run, done, arg }:
 *   run(arg, db)   runs on the writer thread inside the batch's
 *                  transaction, under its own SAVEPOINT: a run that
 *                  returns -errno rolls back its own changes only; the
 *                  other jobs of the batch commit.
 *   done(arg, err) runs on the writer thread AFTER the batch's COMMIT has
 *                  returned, in submission order; err is run's error, or
 *                  the COMMIT's error if run succeeded but the commit did
 *                  not. With synchronous=FULL, done(arg, 0) means the job's
 *                  changes are on disk (fsynced): a power cut after it
 *                  loses nothing. done must not block on the disk or wait
 *                  for another job: it hands the result back to its owner
 *                  (a worker's mailbox, a pipe, a condvar) and returns.
 *
 * The writer thread loops: wait for jobs; take every queued job at once
 * (at most batch_max); BEGIN IMMEDIATE; run each under SAVEPOINT; COMMIT;
 * call every done. While it commits, new jobs pile up and become the next
 * batch: the more threads submit, the more jobs share one fsync.
 *
 * Submission never blocks on the disk: the queue is a bounded ring
 * (queue_max jobs) under a mutex held only to copy a job in; when it is
 * full writer_submit() returns -EAGAIN (counted in writer_stats and in
 * dataline_writer_rejected_total) and the caller answers "try again".
 *
 * Shutdown: writer_close() lets the thread finish what was submitted
 * before the call (every accepted job runs and gets its done), then joins
 * it and closes the connection. Submissions racing with or after close
 * get -ESHUTDOWN and never run. So every accepted job gets exactly one
 * done() call.
 *
 * Thread rules: writer_submit() and writer_stats() from any thread;
 * writer_open()/writer_close() from the owner. run() and done() may call
 * writer_submit() on the same writer (the job runs in a later batch) but
 * must not call writer_close().
 */
#ifndef DATALINE_SERVER_WRITER_H
#define DATALINE_SERVER_WRITER_H

#include <sqlite3.h>
#include <stdint.h>

struct writer;

typedef int (*writer_run_fn)(void *arg, sqlite3 *db);
typedef void (*writer_done_fn)(void *arg, int err);

struct writer_config {
	const char *name;       /* for logs, e.g. "queue" */
	const char *path;       /* SQLite file (created if missing) */
	int sync_full;          /* 1: synchronous=FULL (done = fsynced);
				 * 0: synchronous=NORMAL (done = survives a
				 * crash of the process, not a power cut) */
	/* Called once on the writer's connection from writer_open() (in the
	 * caller's thread, before the writer thread starts): schema and
	 * migrations. 0 or -errno; NULL for none. */
	int (*init)(sqlite3 *db, void *arg);
	void *init_arg;
	unsigned queue_max;     /* jobs waiting at most; 0: 4096 */
	unsigned batch_max;     /* jobs per transaction at most; 0: 512 */
	/* Optional, for benches and diagnostics: called on the writer thread
	 * after each batch's COMMIT (before its done calls) with the batch's
	 * size and BEGIN..COMMIT time in microseconds. */
	void (*on_batch)(void *arg, unsigned jobs, uint64_t commit_us);
	void *on_batch_arg;
	/* Optional: called on the writer thread after the last done() of
	 * each batch, so that done() may gather results and this hand them
	 * over at once (one message per batch instead of one per job). */
	void (*on_dones)(void *arg);
	void *on_dones_arg;
};

/*
 * Opens the file (WAL, busy_timeout 5 s, foreign_keys on, the chosen
 * synchronous), calls cfg->init, starts the thread. 0 or -errno.
 */
int writer_open(const struct writer_config *cfg, struct writer **out);

/*
 * Queues one job. 0: run and done will be called exactly once each (run
 * may be NULL: a "barrier" job whose done says everything submitted before
 * it is committed). -EAGAIN: the queue is full; -ESHUTDOWN: closing;
 * -EINVAL. On error neither callback is ever called.
 */
int writer_submit(struct writer *w, writer_run_fn run, writer_done_fn done,
		  void *arg);

/* Runs every job accepted so far, stops the thread, closes the file. */
void writer_close(struct writer *w);

/*
 * For run(): the connection's cached prepared statement for SQL (keyed by
 * the pointer, so pass a string constant), reset and with its bindings
 * cleared. NULL if it does not prepare (logged). Only on the writer thread.
 */
sqlite3_stmt *writer_stmt(sqlite3 *db, const char *sql);

struct writer_stats {
	uint64_t batches;       /* committed transactions */
	uint64_t jobs;          /* jobs run (done called) */
	uint64_t rejected;      /* submissions refused with -EAGAIN */
	uint64_t commit_errors; /* batches whose COMMIT failed */
	uint64_t max_batch;     /* largest batch seen */
	unsigned queued;        /* waiting now */
};
void writer_get_stats(struct writer *w, struct writer_stats *out);

/* Maps an SQLite result code to -errno (for run functions): CONSTRAINT ->
 * -EEXIST, BUSY/LOCKED -> -EBUSY, FULL -> -ENOSPC, NOMEM, else -EIO. */
int writer_errno(int rc);

#endif
