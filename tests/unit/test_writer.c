/*
 * test_writer: the group-commit writer thread (server/core/writer.h).
 * Many submitting threads share commits; a failing job rolls back only
 * itself; done() comes after the COMMIT, in submission order, and another
 * connection sees the job's rows by then; a full queue says -EAGAIN;
 * close runs every accepted job. Also built with -fsanitize=thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/core/writer.h"

/* ---------------------------------------------------------- helpers */

struct counter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n, errors;
};

static void counter_init(struct counter *c)
{
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->n = c->errors = 0;
}

static void counter_wait(struct counter *c, int n)
{
	pthread_mutex_lock(&c->lock);
	while (c->n < n)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static void counter_fini(struct counter *c)
{
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static const char SQL_SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER)";
static const char SQL_INSERT[] = "INSERT INTO t(id, v) VALUES (?1, ?2)";

static int init_schema(sqlite3 *db, void *arg)
{
	return sqlite3_exec(db, SQL_SCHEMA, NULL, NULL, NULL) == SQLITE_OK ? 0
									    : -EIO;
}

/* One job: inserts row id (twice if fail is set: the second violates the
 * primary key, so the job fails after writing). */
struct job {
	int id, fail;
	int err;              /* done's err */
	int seq;              /* order done was called in */
	struct counter *c;
	int *next_seq;        /* under c->lock */
};

static int job_run(void *arg, sqlite3 *db)
{
	struct job *j = arg;
	sqlite3_stmt *st;
	int rc;

	for (int k = 0; k < 1 + j->fail; k++) {
		st = writer_stmt(db, SQL_INSERT);
		if (!st)
			return -EIO;
		sqlite3_bind_int(st, 1, j->id);
		sqlite3_bind_int(st, 2, j->id * 10);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			return writer_errno(rc);
	}
	return 0;
}

static void job_done(void *arg, int err)
{
	struct job *j = arg;

	pthread_mutex_lock(&j->c->lock);
	j->err = err;
	j->seq = j->next_seq ? (*j->next_seq)++ : 0;
	if (err)
		j->c->errors++;
	j->c->n++;
	pthread_cond_broadcast(&j->c->cond);
	pthread_mutex_unlock(&j->c->lock);
}

static void tmp_db(char *path, size_t cap)
{
	char dir[] = "/tmp/test_writer.XXXXXX";

	assert_non_null(mkdtemp(dir));
	snprintf(path, cap, "%s/w.db", dir);
}

static void rm_db(const char *path)
{
	char p[256];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s", path);
	*strrchr(p, '/') = '\0';
	rmdir(p);
}

/* Counts rows (id = -1: all) through a second, independent connection. */
static int count_rows(const char *path, int id)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, id < 0 ? "SELECT count(*) FROM t"
						: "SELECT count(*) FROM t WHERE id = ?1",
					    -1, &st, NULL), SQLITE_OK);
	if (id >= 0)
		sqlite3_bind_int(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static struct writer *open_writer(const char *path, unsigned qmax)
{
	struct writer_config cfg = {
		.name = "test", .path = path, .sync_full = 1,
		.init = init_schema, .queue_max = qmax,
	};
	struct writer *w = NULL;

	assert_int_equal(writer_open(&cfg, &w), 0);
	return w;
}

/* A job that holds the writer thread until released: what queues behind
 * it becomes one batch. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int entered, open;
};

static int gate_run(void *arg, sqlite3 *db)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->lock);
	g->entered = 1;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

static void gate_wait_entered(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->entered)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_release(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void gate_fini(struct gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

/* ---------------------------------------------------------- tests */

#define THREADS 8
#define PER_THREAD 400

struct submitter {
	struct writer *w;
	struct job *jobs;
	int base;
	struct counter *c;
};

static void *submit_main(void *arg)
{
	struct submitter *s = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		struct job *j = &s->jobs[i];

		*j = (struct job){ .id = s->base + i, .c = s->c };
		while (writer_submit(s->w, job_run, job_done, j) == -EAGAIN)
			usleep(100);
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	char path[128];
	struct writer *w;
	struct writer_stats ws;
	struct counter c;
	pthread_t th[THREADS];
	struct submitter sub[THREADS];
	struct job *jobs = calloc(THREADS * PER_THREAD, sizeof(*jobs));

	(void)state;
	tmp_db(path, sizeof(path));
	counter_init(&c);
	w = open_writer(path, 0);
	for (int t = 0; t < THREADS; t++) {
		sub[t] = (struct submitter){ w, jobs + t * PER_THREAD,
					     t * PER_THREAD, &c };
		assert_int_equal(pthread_create(&th[t], NULL, submit_main, &sub[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	counter_wait(&c, THREADS * PER_THREAD);
	writer_get_stats(w, &ws);
	assert_int_equal(c.errors, 0);
	assert_int_equal(ws.jobs, THREADS * PER_THREAD);
	/* the point of it all: jobs share commits */
	assert_true(ws.batches < ws.jobs);
	assert_true(ws.max_batch > 1);
	assert_int_equal(count_rows(path, -1), THREADS * PER_THREAD);
	writer_close(w);
	counter_fini(&c);
	free(jobs);
	rm_db(path);
}

static void test_failing_job_isolated_and_order(void **state)
{
	char path[128];
	struct writer *w;
	struct writer_stats ws;
	struct counter c;
	struct gate g;
	struct job j[5];
	int seq = 0;

	(void)state;
	tmp_db(path, sizeof(path));
	counter_init(&c);
	gate_init(&g);
	w = open_writer(path, 0);
	assert_int_equal(writer_submit(w, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	/* these five queue up behind the gate: one batch */
	for (int i = 0; i < 5; i++) {
		j[i] = (struct job){ .id = 100 + i, .fail = i == 2, .c = &c,
				     .next_seq = &seq };
		assert_int_equal(writer_submit(w, job_run, job_done, &j[i]), 0);
	}
	gate_release(&g);
	counter_wait(&c, 5);
	writer_get_stats(w, &ws);
	assert_int_equal(ws.max_batch, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(j[i].seq, i);           /* done in order */
		assert_int_equal(j[i].err, i == 2 ? -EEXIST : 0);
		/* the failing job's first insert is rolled back with it */
		assert_int_equal(count_rows(path, 100 + i), i == 2 ? 0 : 1);
	}
	writer_close(w);
	gate_fini(&g);
	counter_fini(&c);
	rm_db(path);
}

/* done() of a job: by then another connection sees its row. */
struct visible {
	const char *path;
	int id, seen;
	struct counter *c;
};

static int visible_run(void *arg, sqlite3 *db)
{
	struct visible *v = arg;
	sqlite3_stmt *st = writer_stmt(db, SQL_INSERT);

	sqlite3_bind_int(st, 1, v->id);
	sqlite3_bind_int(st, 2, 1);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
}

static void visible_done(void *arg, int err)
{
	struct visible *v = arg;

	v->seen = err ? -1 : count_rows(v->path, v->id);
	pthread_mutex_lock(&v->c->lock);
	v->c->n++;
	pthread_cond_broadcast(&v->c->cond);
	pthread_mutex_unlock(&v->c->lock);
}

static void test_effects_visible_after_done(void **state)
{
	char path[128];
	struct writer *w;
	struct counter c;
	struct visible v[3];

	(void)state;
	tmp_db(path, sizeof(path));
	counter_init(&c);
	w = open_writer(path, 0);
	for (int i = 0; i < 3; i++) {
		v[i] = (struct visible){ path, 7 + i, 0, &c };
		assert_int_equal(writer_submit(w, visible_run, visible_done, &v[i]), 0);
	}
	counter_wait(&c, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(v[i].seen, 1);
	writer_close(w);
	counter_fini(&c);
	rm_db(path);
}

static void test_queue_full(void **state)
{
	char path[128];
	struct writer *w;
	struct writer_stats ws;
	struct counter c;
	struct gate g;
	struct job j[8];
	int accepted = 0;

	(void)state;
	tmp_db(path, sizeof(path));
	counter_init(&c);
	gate_init(&g);
	w = open_writer(path, 4);
	assert_int_equal(writer_submit(w, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	for (int i = 0; i < 8; i++) {
		j[i] = (struct job){ .id = i, .c = &c };
		if (writer_submit(w, job_run, job_done, &j[i]) == 0)
			accepted++;
	}
	assert_int_equal(accepted, 4);
	writer_get_stats(w, &ws);
	assert_int_equal(ws.rejected, 4);
	assert_int_equal(ws.queued, 4);
	assert_int_equal(writer_submit(NULL, job_run, job_done, &j[0]), -EINVAL);
	gate_release(&g);
	counter_wait(&c, 4);
	assert_int_equal(count_rows(path, -1), 4);
	writer_close(w);
	gate_fini(&g);
	counter_fini(&c);
	rm_db(path);
}

/* close runs what was accepted; a done() submitting during close gets
 * -ESHUTDOWN. */
struct resubmit {
	struct writer *w;
	int err;
};

static void resubmit_done(void *arg, int err)
{
	struct resubmit *r = arg;

	r->err = writer_submit(r->w, NULL, NULL, NULL);
}

static void *close_main(void *arg)
{
	writer_close(arg);
	return NULL;
}

static void test_shutdown_drains(void **state)
{
	pthread_t closer;
	char path[128];
	struct writer *w;
	struct counter c;
	struct gate g;
	struct resubmit r;
	struct job *j = calloc(1000, sizeof(*j));

	(void)state;
	tmp_db(path, sizeof(path));
	counter_init(&c);
	gate_init(&g);
	w = open_writer(path, 0);
	assert_int_equal(writer_submit(w, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	for (int i = 0; i < 1000; i++) {
		j[i] = (struct job){ .id = i, .c = &c };
		assert_int_equal(writer_submit(w, job_run, job_done, &j[i]), 0);
	}
	r = (struct resubmit){ w, 1 };
	assert_int_equal(writer_submit(w, NULL, resubmit_done, &r), 0);
	/* close while the gate holds the thread: once submissions say
	 * -ESHUTDOWN, the queued jobs must still all run */
	assert_int_equal(pthread_create(&closer, NULL, close_main, w), 0);
	while (writer_submit(w, NULL, NULL, NULL) != -ESHUTDOWN)
		usleep(1000);
	gate_release(&g);
	pthread_join(closer, NULL); /* returns after every done */
	assert_int_equal(c.n, 1000);
	assert_int_equal(c.errors, 0);
	assert_int_equal(r.err, -ESHUTDOWN);
	assert_int_equal(count_rows(path, -1), 1000);
	gate_fini(&g);
	counter_fini(&c);
	free(j);
	rm_db(path);
}

/* Checkpoints run off the commit path (writer.c, writer_ckpt_main): a few
 * pages written, far below SQLite's own 1000-page automatic checkpoint,
 * reach the database file (its mtime moves: commits only append to the
 * WAL) within about a second while the writer is open. */
static void test_checkpoint_in_background(void **state)
{
	char path[128];
	struct writer *w;
	struct counter c;
	struct job jobs[50];
	struct stat sb;
	struct timespec m0;
	int i, moved = 0;

	(void)state;
	tmp_db(path, sizeof(path));
	counter_init(&c);
	w = open_writer(path, 0);
	/* the first checkpoint (the schema) may still be under way */
	usleep(1500 * 1000);
	assert_int_equal(stat(path, &sb), 0);
	m0 = sb.st_mtim;
	for (i = 0; i < 50; i++) {
		jobs[i] = (struct job){ .id = 1000 + i, .c = &c };
		assert_int_equal(writer_submit(w, job_run, job_done, &jobs[i]),
				 0);
	}
	counter_wait(&c, 50);
	for (i = 0; i < 40; i++) {
		assert_int_equal(stat(path, &sb), 0);
		moved = sb.st_mtim.tv_sec != m0.tv_sec ||
			sb.st_mtim.tv_nsec != m0.tv_nsec;
		if (moved)
			break;
		usleep(100 * 1000);
	}
	assert_true(moved);
	assert_int_equal(count_rows(path, -1), 50);
	writer_close(w);
	counter_fini(&c);
	rm_db(path);
}

/* on_dones: once per batch, after that batch's last done(). */
struct dones_seen {
	struct counter *c;
	int calls, at_last;   /* writer thread only until close */
};

static void on_dones(void *arg)
{
	struct dones_seen *d = arg;

	pthread_mutex_lock(&d->c->lock);
	d->calls++;
	d->at_last = d->c->n;
	pthread_mutex_unlock(&d->c->lock);
}

static void test_on_dones_after_batch(void **state)
{
	char path[128];
	struct counter c;
	struct dones_seen d = { &c, 0, 0 };
	struct writer_config cfg = { .name = "test", .init = init_schema,
				     .on_dones = on_dones, .on_dones_arg = &d };
	struct writer *w = NULL;
	struct gate g;
	struct job j[50];

	(void)state;
	tmp_db(path, sizeof(path));
	cfg.path = path;
	counter_init(&c);
	gate_init(&g);
	assert_int_equal(writer_open(&cfg, &w), 0);
	assert_int_equal(writer_submit(w, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	for (int i = 0; i < 50; i++) {
		j[i] = (struct job){ .id = i, .c = &c };
		assert_int_equal(writer_submit(w, job_run, job_done, &j[i]), 0);
	}
	gate_release(&g); /* the 50 queued meanwhile: one batch */
	writer_close(w);
	assert_int_equal(c.n, 50);
	assert_int_equal(d.calls, 2); /* the gate's batch, then the 50's */
	assert_int_equal(d.at_last, 50);
	gate_fini(&g);
	counter_fini(&c);
	rm_db(path);
}

static void test_open_errors(void **state)
{
	struct writer_config cfg = { .path = "/nonexistent/dir/x.db" };
	struct writer *w = NULL;

	(void)state;
	assert_int_equal(writer_open(NULL, &w), -EINVAL);
	assert_int_not_equal(writer_open(&cfg, &w), 0);
	assert_null(w);
	assert_int_equal(writer_errno(SQLITE_CONSTRAINT_UNIQUE), -EEXIST);
	assert_int_equal(writer_errno(SQLITE_FULL), -ENOSPC);
	assert_null(writer_stmt(NULL, SQL_INSERT)); /* not a writer thread */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_failing_job_isolated_and_order),
		cmocka_unit_test(test_effects_visible_after_done),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_shutdown_drains),
		cmocka_unit_test(test_on_dones_after_batch),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_checkpoint_in_background),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
