/*
 * test_queue: the durable queue (server/queue/queue.h): put with dedup
 * (the existing id comes back, also after delivery), caps, per-target
 * delivery (one text, two devices, a device seen for the first time),
 * id order, defer backoff and due, expiry with the owner, persistence
 * across reopen, and a crash test: a forked child puts items and reports
 * each id once its callback ran; the parent SIGKILLs it at a random
 * moment and every reported id must be in the file. Also built with
 * -fsanitize=thread.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../../server/core/metrics.h"
#include "../../server/queue/queue.h"

#define MAXR 64

/* A call's result, copied out of the writer thread's callback. */
struct sync {
	pthread_mutex_t m;
	pthread_cond_t c;
	int done;
	struct queue_result r;
	int64_t ids[MAXR], next[MAXR];
	int attempts[MAXR];
	char target[MAXR][16], body[MAXR][64], owner[MAXR][32];
};

static void sync_cb(void *arg, const struct queue_result *res)
{
	struct sync *s = arg;

	pthread_mutex_lock(&s->m);
	s->r = *res;
	s->r.items = NULL;
	for (size_t i = 0; i < res->n && i < MAXR; i++) {
		const struct queue_item *it = &res->items[i];

		s->ids[i] = it->id;
		s->next[i] = it->next_at;
		s->attempts[i] = it->attempts;
		snprintf(s->target[i], sizeof(s->target[i]), "%s", it->target);
		snprintf(s->body[i], sizeof(s->body[i]), "%s", (const char *)it->body);
		snprintf(s->owner[i], sizeof(s->owner[i]), "%s", it->owner);
	}
	s->done = 1;
	pthread_cond_signal(&s->c);
	pthread_mutex_unlock(&s->m);
}

static void sync_wait(struct sync *s)
{
	pthread_mutex_lock(&s->m);
	while (!s->done)
		pthread_cond_wait(&s->c, &s->m);
	s->done = 0;
	pthread_mutex_unlock(&s->m);
}

/* Runs one call and waits for its callback; returns res.err. */
#define CALL(s, expr) ({ assert_int_equal((expr), 0); sync_wait(s); (s)->r.err; })

struct fx {
	char dir[64], path[96];
	struct queue *q;
	struct sync s;
};

static struct queue *fx_open(struct fx *f, int max_per_rcpt)
{
	struct queue_config cfg;

	queue_config_defaults(&cfg);
	cfg.path = f->path;
	cfg.max_per_recipient = max_per_rcpt;
	cfg.max_body = 100;
	assert_int_equal(queue_open(&cfg, &f->q), 0);
	return f->q;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_queue.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/queue.db", f->dir);
	pthread_mutex_init(&f->s.m, NULL);
	pthread_cond_init(&f->s.c, NULL);
	metrics_reset();
	fx_open(f, 3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	queue_close(f->q);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	pthread_cond_destroy(&f->s.c);
	pthread_mutex_destroy(&f->s.m);
	free(f);
	return 0;
}

static int put(struct fx *f, int ch, const char *rcpt, const char *dedup,
	       const char *body, int64_t now, int64_t *id)
{
	struct queue_put p = {
		.channel = ch, .recipient = rcpt, .dedup = dedup,
		.owner = "+4915100000001", .body = body,
		.body_len = strlen(body), .now = now,
	};
	int err = CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s));

	if (id)
		*id = f->s.r.id;
	return err;
}

/* ---------------------------------------------------------- tests */

/* on_stored runs once per stored row, before the put's callback, with
 * the id and seq the callback then reports; a duplicate or a refused put
 * does not call it; seq orders every call as the writer ran it, and a
 * read numbered after a put sees that put's row. The cap counts what is
 * pending: an acked item frees one place. */
struct stored_log {
	int calls;
	int64_t id;
	uint64_t seq;
	char recipient[32];
};

static void stored_cb(void *arg, const struct queue_put *p, int64_t id,
		      uint64_t seq)
{
	struct stored_log *l = arg;

	l->calls++;
	l->id = id;
	l->seq = seq;
	snprintf(l->recipient, sizeof(l->recipient), "%s", p->recipient);
}

static void test_stored_hook_and_seq(void **state)
{
	struct fx *f = *state;
	struct stored_log l = { 0 };
	struct queue_put p = {
		.channel = QUEUE_TEXT, .recipient = "+4915100000009",
		.dedup = "k1", .owner = "+4915100000001", .body = "hi",
		.body_len = 2, .on_stored = stored_cb, .stored_arg = &l,
	};
	uint64_t put_seq;

	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)), 0);
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.id, f->s.r.id);
	assert_true(l.seq == f->s.r.seq && l.seq > 0);
	assert_string_equal(l.recipient, "+4915100000009");
	put_seq = f->s.r.seq;
	/* a duplicate: no new row, no hook */
	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)),
			 -EEXIST);
	assert_int_equal(l.calls, 1);
	assert_true(f->s.r.seq > put_seq);
	/* a read after the put is numbered after it and sees the row */
	assert_int_equal(CALL(&f->s, queue_pending(f->q, QUEUE_TEXT,
						   "+4915100000009", "dev1",
						   time(NULL), 8, sync_cb,
						   &f->s)), 0);
	assert_true(f->s.r.seq > put_seq + 1);
	assert_int_equal(f->s.r.n, 1);
	assert_int_equal(f->s.ids[0], l.id);
	/* refused over the cap (3 per recipient): no hook */
	p.dedup = NULL;
	assert_int_equal(put(f, QUEUE_TEXT, "+4915100000009", NULL, "a", 0,
			     NULL), 0);
	assert_int_equal(put(f, QUEUE_TEXT, "+4915100000009", NULL, "b", 0,
			     NULL), 0);
	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)),
			 -ENOSPC);
	assert_int_equal(l.calls, 1);
	/* an item that leaves frees its place (the per-recipient count
	 * follows acks, queue_count.c), and only one */
	assert_int_equal(CALL(&f->s, queue_ack(f->q, l.id, NULL, NULL, sync_cb,
					       &f->s)), 0);
	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)), 0);
	assert_int_equal(l.calls, 2);
	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)),
			 -ENOSPC);
}

static void test_put_dedup_caps(void **state)
{
	struct fx *f = *state;
	struct queue_put big = { .channel = QUEUE_TEXT, .recipient = "+1",
				 .body = "x", .body_len = 101 };
	int64_t id1, id2, id3;

	assert_int_equal(put(f, QUEUE_TEXT, "+86138", "alice/m1", "hello", 100, &id1), 0);
	assert_true(id1 > 0);
	/* the same (sender, Message-ID) again: the existing id, nothing new */
	assert_int_equal(put(f, QUEUE_TEXT, "+86138", "alice/m1", "hello", 101, &id2), -EEXIST);
	assert_int_equal(id2, id1);
	/* the same key on another channel is another item */
	assert_int_equal(put(f, QUEUE_REPORT, "+86138", "alice/m1", "r", 100, &id3), 0);
	assert_int_not_equal(id3, id1);
	assert_int_equal(queue_depth(f->q, QUEUE_TEXT), 1);
	assert_int_equal(metrics_gauge_get(METRICS_QUEUE_TEXT), 1);
	assert_int_equal(metrics_gauge_get(METRICS_QUEUE_REPORT), 1);
	assert_int_equal(metrics_counter_get(METRICS_QUEUE_PUTS), 2);
	/* per-recipient cap (3 in this fixture); no dedup key: never -EEXIST */
	assert_int_equal(put(f, QUEUE_TEXT, "+86138", NULL, "2", 100, NULL), 0);
	assert_int_equal(put(f, QUEUE_TEXT, "+86138", NULL, "3", 100, NULL), 0);
	assert_int_equal(put(f, QUEUE_TEXT, "+86138", NULL, "4", 100, NULL), -ENOSPC);
	assert_int_equal(put(f, QUEUE_TEXT, "+86139", NULL, "other", 100, NULL), 0);
	/* refused before any disk work */
	assert_int_equal(queue_put(f->q, &big, sync_cb, &f->s), -EMSGSIZE);
	big.body_len = 1;
	big.channel = 9;
	assert_int_equal(queue_put(f->q, &big, sync_cb, &f->s), -EINVAL);
	big.channel = QUEUE_TEXT;
	big.recipient = "";
	assert_int_equal(queue_put(f->q, &big, sync_cb, &f->s), -EINVAL);
	assert_int_equal(queue_pending(f->q, QUEUE_TEXT, "+1", NULL, 0, 0, sync_cb, &f->s), -EINVAL);
}

static void test_per_target_delivery(void **state)
{
	struct fx *f = *state;
	const char *const devices[] = { "phone", "tablet", NULL };
	int64_t a, b, c, dup;

	assert_int_equal(put(f, QUEUE_TEXT, "+86138", "bob/1", "one", 100, &a), 0);
	assert_int_equal(put(f, QUEUE_TEXT, "+86138", "bob/2", "two", 100, &b), 0);
	assert_int_equal(put(f, QUEUE_TEXT, "+86138", "bob/3", "three", 100, &c), 0);

	/* the phone takes the first two */
	assert_int_equal(CALL(&f->s, queue_ack(f->q, a, "phone", devices, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.finished, 0);
	assert_int_equal(CALL(&f->s, queue_ack(f->q, b, "phone", devices, sync_cb, &f->s)), 0);
	/* what each device still has, in id order */
	assert_int_equal(CALL(&f->s, queue_pending(f->q, QUEUE_TEXT, "+86138", "phone", 200, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 1);
	assert_int_equal(f->s.ids[0], c);
	assert_int_equal(CALL(&f->s, queue_pending(f->q, QUEUE_TEXT, "+86138", "tablet", 200, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 3);
	assert_int_equal(f->s.ids[0], a);
	assert_int_equal(f->s.ids[1], b);
	assert_int_equal(f->s.ids[2], c);
	assert_string_equal(f->s.body[0], "one");
	assert_string_equal(f->s.owner[0], "+4915100000001");
	/* a device registering for the first time gets every pending one */
	assert_int_equal(CALL(&f->s, queue_pending(f->q, QUEUE_TEXT, "+86138", "laptop", 200, 2, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 2); /* limit */
	assert_int_equal(f->s.ids[0], a);

	/* the tablet takes the first: done for every device, it leaves */
	assert_int_equal(CALL(&f->s, queue_ack(f->q, a, "tablet", devices, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.finished, 1);
	assert_int_equal(queue_depth(f->q, QUEUE_TEXT), 2);
	assert_int_equal(CALL(&f->s, queue_ack(f->q, a, "tablet", devices, sync_cb, &f->s)), -ENOENT);
	/* a late duplicate of a delivered text is still recognised */
	assert_int_equal(put(f, QUEUE_TEXT, "+86138", "bob/1", "one", 150, &dup), -EEXIST);
	assert_int_equal(dup, a);
	assert_int_equal(CALL(&f->s, queue_pending(f->q, QUEUE_TEXT, "+86138", NULL, 200, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 2);
	/* single-target ack (targets NULL): leaves at once */
	assert_int_equal(CALL(&f->s, queue_ack(f->q, c, "phone", NULL, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.finished, 1);
	assert_int_equal(metrics_counter_get(METRICS_QUEUE_ACKS), 4);
}

static void test_defer_and_due(void **state)
{
	struct fx *f = *state;
	int64_t a, b;

	assert_int_equal(queue_backoff(0, 2, 60), 2);
	assert_int_equal(queue_backoff(3, 2, 60), 16);
	assert_int_equal(queue_backoff(10, 2, 60), 60);

	assert_int_equal(put(f, QUEUE_SMS, "+1", NULL, "code 1", 1000, &a), 0);
	assert_int_equal(put(f, QUEUE_SMS, "+2", NULL, "code 2", 1000, &b), 0);
	assert_int_equal(CALL(&f->s, queue_due(f->q, QUEUE_SMS, 1000, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 2);
	assert_int_equal(f->s.ids[0], a);
	assert_string_equal(f->s.target[0], "");
	/* a fails twice: 2 s, then 4 s */
	assert_int_equal(CALL(&f->s, queue_defer(f->q, a, NULL, 1000, 2, 60, "HTTP 503", sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.attempts, 1);
	assert_int_equal(f->s.r.next_at, 1002);
	assert_int_equal(CALL(&f->s, queue_defer(f->q, a, NULL, 1002, 2, 60, "HTTP 503", sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.attempts, 2);
	assert_int_equal(f->s.r.next_at, 1006);
	assert_int_equal(CALL(&f->s, queue_ack(f->q, b, NULL, NULL, sync_cb, &f->s)), 0);
	/* nothing due before 1006; the answer says when to ask again */
	assert_int_equal(CALL(&f->s, queue_due(f->q, QUEUE_SMS, 1003, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 0);
	assert_int_equal(f->s.r.next_at, 1006);
	assert_int_equal(CALL(&f->s, queue_due(f->q, QUEUE_SMS, 1006, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 1);
	assert_int_equal(f->s.attempts[0], 2);
	/* limit reached: ask again at once */
	assert_int_equal(CALL(&f->s, queue_due(f->q, QUEUE_SMS, 1006, 1, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.next_at, 1006);

	/* per-target retry on a text: only that device's row comes due */
	assert_int_equal(put(f, QUEUE_TEXT, "+3", "x/1", "hi", 1000, &b), 0);
	assert_int_equal(CALL(&f->s, queue_defer(f->q, b, "tablet", 1000, 5, 60, "408", sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.next_at, 1005);
	assert_int_equal(CALL(&f->s, queue_due(f->q, QUEUE_TEXT, 1005, 10, sync_cb, &f->s)), 0);
	/* the item itself (next_at = put time) and the tablet's retry */
	assert_int_equal(f->s.r.n, 2);
	assert_string_equal(f->s.target[1], "tablet");
	assert_int_equal(f->s.attempts[1], 1);
	assert_int_equal(CALL(&f->s, queue_defer(f->q, 999999, NULL, 1000, 1, 1, "x", sync_cb, &f->s)), -ENOENT);
	/* nothing left at all: next_at 0 */
	assert_int_equal(CALL(&f->s, queue_ack(f->q, a, NULL, NULL, sync_cb, &f->s)), 0);
	assert_int_equal(CALL(&f->s, queue_due(f->q, QUEUE_SMS, 1006, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.next_at, 0);
}

static void test_expire(void **state)
{
	struct fx *f = *state;
	struct queue_put p = { .channel = QUEUE_TEXT, .recipient = "+5",
			       .dedup = "d/1", .owner = "+4930", .body = "late",
			       .body_len = 4, .now = 100, .expires_at = 200 };
	int64_t a, b;

	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)), 0);
	a = f->s.r.id;
	p.dedup = "d/2";
	p.expires_at = 300;
	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)), 0);
	b = f->s.r.id;
	/* expired items are no longer pending or due */
	assert_int_equal(CALL(&f->s, queue_pending(f->q, QUEUE_TEXT, "+5", NULL, 250, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 1);
	assert_int_equal(CALL(&f->s, queue_expire(f->q, QUEUE_TEXT, 250, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 1);
	assert_int_equal(f->s.ids[0], a);
	assert_string_equal(f->s.owner[0], "+4930"); /* who gets "failed" */
	assert_int_equal(queue_depth(f->q, QUEUE_TEXT), 1);
	assert_int_equal(metrics_counter_get(METRICS_QUEUE_EXPIRED), 1);
	/* a delivered item's tombstone goes at its expiry too; then the key
	 * is free again */
	assert_int_equal(CALL(&f->s, queue_ack(f->q, b, NULL, NULL, sync_cb, &f->s)), 0);
	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)), -EEXIST);
	assert_int_equal(CALL(&f->s, queue_expire(f->q, 0, 400, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 0);
	assert_int_equal(CALL(&f->s, queue_put(f->q, &p, sync_cb, &f->s)), 0);
}

static void test_reopen(void **state)
{
	struct fx *f = *state;
	int64_t a;

	assert_int_equal(put(f, QUEUE_SMS, "+7", NULL, "keep me", 100, &a), 0);
	queue_close(f->q);
	metrics_reset();
	fx_open(f, 3);
	assert_int_equal(queue_depth(f->q, QUEUE_SMS), 1);
	assert_int_equal(metrics_gauge_get(METRICS_QUEUE_SMS), 1);
	assert_int_equal(CALL(&f->s, queue_due(f->q, QUEUE_SMS, 100, 10, sync_cb, &f->s)), 0);
	assert_int_equal(f->s.r.n, 1);
	assert_int_equal(f->s.ids[0], a);
	assert_string_equal(f->s.body[0], "keep me");
}

/* ---------------------------------------------------------- crash */

static int report_fd = -1;

static void crash_cb(void *arg, const struct queue_result *res)
{
	if (res->err == 0) {
		/* written only after the commit returned (and fsynced) */
		int64_t id = res->id;

		if (write(report_fd, &id, sizeof(id)) != sizeof(id))
			_exit(3);
	}
}

static void crash_child(const char *path, int wfd)
{
	struct queue_config cfg;
	struct queue *q;
	char body[32];

	report_fd = wfd;
	queue_config_defaults(&cfg);
	cfg.path = path;
	cfg.max_per_recipient = 1000000;
	if (queue_open(&cfg, &q))
		_exit(2);
	for (int i = 0;; i++) {
		struct queue_put p = { .channel = QUEUE_TEXT, .body = body };
		char rcpt[16];

		snprintf(rcpt, sizeof(rcpt), "+%d", i % 7);
		snprintf(body, sizeof(body), "text %d", i);
		p.recipient = rcpt;
		p.body_len = strlen(body);
		while (queue_put(q, &p, crash_cb, NULL) == -EAGAIN)
			usleep(200);
	}
}

static void test_crash_keeps_every_done(void **state)
{
	struct fx *f = *state;

	queue_close(f->q);
	f->q = NULL;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int round = 0; round < 4; round++) {
		int fds[2], status, missing = 0;
		int64_t id, first;
		size_t nreported = 0;
		sqlite3 *db;
		sqlite3_stmt *st;
		pid_t pid;

		char side[128];

		unlink(f->path);
		snprintf(side, sizeof(side), "%s-wal", f->path);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", f->path);
		unlink(side);
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(f->path, fds[1]);
			_exit(0);
		}
		close(fds[1]);
		/* the first id: the child is up; then a random moment */
		assert_int_equal(read(fds[0], &first, sizeof(first)), sizeof(first));
		usleep((unsigned)(rand() % 300000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));

		/* what the child said was done must all be there */
		assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM items WHERE id = ?1",
						    -1, &st, NULL), SQLITE_OK);
		for (id = first;; ) {
			nreported++;
			sqlite3_bind_int64(st, 1, id);
			if (sqlite3_step(st) != SQLITE_ROW)
				missing++;
			sqlite3_reset(st);
			if (read(fds[0], &id, sizeof(id)) != sizeof(id))
				break;
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
		close(fds[0]);
		print_message("crash round %d: %zu ids reported done, %d missing\n",
			      round, nreported, missing);
		assert_true(nreported > 0);
		assert_int_equal(missing, 0);
	}
	/* teardown closes f->q */
	fx_open(f, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_dedup_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stored_hook_and_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_target_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_and_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_keeps_every_done, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
