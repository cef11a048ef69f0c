/*
 * test_sms: the SMS gateways' pure helpers (Kannel URL expansion with
 * RFC 3986 percent-encoding, the spool line format) and the durable queue
 * (server/queue/, "sms" channel) in front of the spool gateway: a failing
 * spool keeps the SMS queued and retries it with backoff until it is
 * written; rows an older version left in the store's SMS table are moved
 * into the queue and sent; the http gateway against an
 * in-process gateway on loopback (port 23160) that first never answers
 * (a timeout), then answers 503, then accepts. The same gateway against a
 * fake Kannel process is in tests/integration/server_http_api.sh.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>

#include "../../server/core/metrics.h"
#include "../../server/queue/queue.h"
#include "../../server/sms/sms.h"
#include "../../server/store/store.h"

/* A queue in a fresh directory (removed by tmp_queue_close). */
struct tmpq {
	char dir[64], path[96];
	struct queue *q;
};

static struct queue *tmp_queue(struct tmpq *t)
{
	struct queue_config cfg;

	snprintf(t->dir, sizeof(t->dir), "/tmp/test_sms_q.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/queue.db", t->dir);
	queue_config_defaults(&cfg);
	cfg.path = t->path;
	assert_int_equal(queue_open(&cfg, &t->q), 0);
	return t->q;
}

static void tmp_queue_close(struct tmpq *t)
{
	char cmd[128];

	queue_close(t->q);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
}

/* Reads the attempts of the first pending SMS to `to`, waiting for the
 * writer (whatever was submitted before is committed by then). */
struct first {
	pthread_mutex_t m;
	pthread_cond_t c;
	int done, attempts, n;
};

static void first_cb(void *arg, const struct queue_result *res)
{
	struct first *f = arg;

	pthread_mutex_lock(&f->m);
	f->n = (int)res->n;
	f->attempts = res->n ? res->items[0].attempts : -1;
	f->done = 1;
	pthread_cond_signal(&f->c);
	pthread_mutex_unlock(&f->m);
}

static int first_attempts(struct queue *q, const char *to)
{
	struct first f = { .done = 0 };

	pthread_mutex_init(&f.m, NULL);
	pthread_cond_init(&f.c, NULL);
	assert_int_equal(queue_pending(q, QUEUE_SMS, to, NULL, 0, 1, first_cb, &f), 0);
	pthread_mutex_lock(&f.m);
	while (!f.done)
		pthread_cond_wait(&f.c, &f.m);
	pthread_mutex_unlock(&f.m);
	pthread_cond_destroy(&f.c);
	pthread_mutex_destroy(&f.m);
	return f.attempts;
}

static void test_expand(void **state)
{
	char *u = NULL;

	(void)state;
	assert_int_equal(sms_http_expand(
		"http://gw:13013/cgi-bin/sendsms?username=u&password=p&to=%to&text=%text",
		"+8613800138000", "Your dataline code is 012345", &u), 0);
	assert_string_equal(u, "http://gw:13013/cgi-bin/sendsms?username=u&password=p"
			       "&to=%2B8613800138000&text=Your%20dataline%20code%20is%20012345");
	free(u);
	/* reserved characters in the text cannot break out of the parameter */
	assert_int_equal(sms_http_expand("x?t=%text&to=%to", "+1", "a&b=c+d%e/ä", &u), 0);
	assert_string_equal(u, "x?t=a%26b%3Dc%2Bd%25e%2F%C3%A4&to=%2B1");
	free(u);
	/* other % sequences and repeated placeholders */
	assert_int_equal(sms_http_expand("%tox%to%%text%t", "1", "2", &u), 0);
	assert_string_equal(u, "1x1%2%t");
	free(u);
	assert_int_equal(sms_http_expand(NULL, "1", "2", &u), -EINVAL);
}

static void test_spool_format(void **state)
{
	char buf[128], small[40];
	size_t len = 0;

	(void)state;
	assert_int_equal(sms_spool_format(buf, sizeof(buf), 1700000000LL,
					  "+8613800138000",
					  "Your dataline code is 123456", &len), 0);
	assert_string_equal(buf, "2023-11-14T22:13:20Z\t+8613800138000\tYour dataline code is 123456\n");
	assert_int_equal(len, strlen(buf));
	/* one SMS, one line */
	assert_int_equal(sms_spool_format(buf, sizeof(buf), 0, "+1", "a\tb\nc\r", &len), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z\t+1\ta b c \n");
	assert_int_equal(sms_spool_format(small, sizeof(small), 0, "+8613800138000",
					  "Your dataline code is 123456", &len), -ENOSPC);
}

static void test_bad_specs(void **state)
{
	struct event_base *base = event_base_new();
	struct tmpq t;
	struct queue *q = tmp_queue(&t);
	struct sms_gateway *gw = NULL;

	(void)state;
	assert_int_equal(sms_gateway_new(base, q, "bogus", "/tmp", &gw), -EINVAL);
	assert_int_equal(sms_gateway_new(base, q, "spool:", "/tmp", &gw), -EINVAL);
	assert_int_equal(sms_gateway_new(base, q, "http:https://gw/send?to=%to", "/tmp", &gw), -ENOTSUP);
	assert_int_equal(sms_gateway_new(base, q, "http:ftp://gw/x", "/tmp", &gw), -EINVAL);
	assert_int_equal(sms_gateway_new(base, q, "http:not a url", "/tmp", &gw), -EINVAL);
	assert_int_equal(sms_gateway_new(base, NULL, "spool:/tmp/x", "/tmp", &gw), -EINVAL);
	assert_null(gw);
	tmp_queue_close(&t);
	event_base_free(base);
}

/* Runs the loop until cond() holds (checked every 100 ms, 20 s at most). */
struct wait_ctx {
	struct event_base *base;
	struct queue *q;
	int (*cond)(struct wait_ctx *w);
	int ticks;
};

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wait_ctx *w = arg;

	if (w->cond(w) || ++w->ticks > 200)
		event_base_loopbreak(w->base);
}

static void run_until(struct event_base *base, struct queue *q,
		      int (*cond)(struct wait_ctx *w))
{
	struct timeval tick = { 0, 100000 };
	struct wait_ctx w = { .base = base, .q = q, .cond = cond };
	struct event *poll = event_new(base, -1, EV_PERSIST, poll_cb, &w);

	event_add(poll, &tick);
	event_base_dispatch(base);
	event_free(poll);
	assert_true(cond(&w));
}

static int queue_empty(struct wait_ctx *w)
{
	return queue_depth(w->q, QUEUE_SMS) == 0;
}

static int one_failure(struct wait_ctx *w)
{
	return metrics_counter_get(METRICS_SMS_FAILURES) >= 1;
}

static void stored_cb(void *arg, int err)
{
	*(int *)arg = err;
}

static void test_queue_retries_until_written(void **state)
{
	char dir[] = "/tmp/test_sms.XXXXXX", spool[96], sub[64], line[256];
	struct event_base *base = event_base_new();
	struct tmpq t;
	struct queue *q;
	struct sms_gateway *gw;
	int stored = 1;
	FILE *f;

	(void)state;
	metrics_reset();
	q = tmp_queue(&t);
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/later", dir);
	snprintf(spool, sizeof(spool), "spool:%s/sms.spool", sub);
	assert_int_equal(sms_gateway_new(base, q, spool, dir, &gw), 0);
	sms_gateway_set_retry(gw, 1, 2, 5);

	/* the spool's directory does not exist yet: queued, failed, kept */
	assert_int_equal(sms_send_cb(gw, "+8613800138000", "Your dataline code is 424242",
				     stored_cb, &stored), 0);
	run_until(base, q, one_failure);
	assert_int_equal(stored, 0); /* told on the loop: it is on disk */
	assert_int_equal(first_attempts(q, "+8613800138000"), 1);
	assert_int_equal(queue_depth(q, QUEUE_SMS), 1);
	assert_int_equal(metrics_gauge_get(METRICS_QUEUE_SMS), 1);

	/* the operator fixes it; the retry timer delivers it */
	assert_int_equal(mkdir(sub, 0700), 0);
	run_until(base, q, queue_empty);

	assert_int_equal(metrics_counter_get(METRICS_SMS_SENT), 1);
	assert_int_equal(metrics_counter_get(METRICS_SMS_FAILURES), 1);
	assert_int_equal(metrics_gauge_get(METRICS_QUEUE_SMS), 0);
	f = fopen(spool + 6, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "\t+8613800138000\tYour dataline code is 424242\n"));
	assert_null(fgets(line, sizeof(line), f)); /* exactly once */
	fclose(f);

	sms_gateway_free(gw);
	tmp_queue_close(&t);
	event_base_free(base);
	unlink(spool + 6);
	rmdir(sub);
	rmdir(dir);
}

/* The spool is written before sms_send returns (operators and tests read
 * it right after the API answered); nothing needs the queue then. */
static void test_spool_written_before_return(void **state)
{
	char dir[] = "/tmp/test_sms_s.XXXXXX", spool[96], line[256];
	struct event_base *base = event_base_new();
	struct tmpq t;
	struct queue *q;
	struct sms_gateway *gw;
	int stored = 1;
	FILE *f;

	(void)state;
	metrics_reset();
	q = tmp_queue(&t);
	assert_non_null(mkdtemp(dir));
	snprintf(spool, sizeof(spool), "%s/sms.spool", dir);
	assert_int_equal(sms_gateway_new(base, q, NULL, dir, &gw), 0);
	assert_int_equal(sms_send_cb(gw, "+4915112345678", "Your dataline code is 161803",
				     stored_cb, &stored), 0);
	f = fopen(spool, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "\t+4915112345678\tYour dataline code is 161803\n"));
	fclose(f);
	assert_int_equal(metrics_counter_get(METRICS_SMS_SENT), 1);
	assert_int_equal(stored, 1); /* the callback comes from the loop */
	run_until(base, q, queue_empty);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(stored, 0);
	assert_int_equal(metrics_counter_get(METRICS_QUEUE_PUTS), 0);
	sms_gateway_free(gw);
	tmp_queue_close(&t);
	event_base_free(base);
	unlink(spool);
	rmdir(dir);
}

/* Rows an older version left in the store's SMS queue reach the spool. */
static void test_legacy_rows_moved(void **state)
{
	char dir[] = "/tmp/test_sms_l.XXXXXX", db[96], spool[96], line[256];
	struct event_base *base = event_base_new();
	struct tmpq t;
	struct queue *q;
	struct store *st;
	struct sms_gateway *gw;
	sqlite3 *raw;
	int lines = 0;
	FILE *f;

	(void)state;
	metrics_reset();
	q = tmp_queue(&t);
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/dataline.db", dir);
	snprintf(spool, sizeof(spool), "%s/sms.spool", dir);
	assert_int_equal(store_open(db, &st), 0);
	/* what migration 2 -> 3 leaves of a queue with two SMS in it */
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw,
		"INSERT INTO sms_legacy(to_number, text, created, next_try, attempts)"
		" VALUES ('+8613800138000', 'Your dataline code is 111111', strftime('%s','now'), 0, 2),"
		"        ('+4915112345678', 'Your dataline code is 222222', strftime('%s','now'), 0, 0)",
		NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(sms_migrate_legacy(st, q), 0);
	assert_int_equal(queue_depth(q, QUEUE_SMS), 2);
	assert_int_equal(first_attempts(q, "+8613800138000"), 2);
	assert_int_equal(sms_migrate_legacy(st, q), 0); /* gone: nothing to do */
	assert_int_equal(queue_depth(q, QUEUE_SMS), 2);

	assert_int_equal(sms_gateway_new(base, q, NULL, dir, &gw), 0);
	run_until(base, q, queue_empty);
	f = fopen(spool, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	assert_int_equal(lines, 2);
	sms_gateway_free(gw);
	store_close(st);
	tmp_queue_close(&t);
	event_base_free(base);
	unlink(spool);
	unlink(db);
	snprintf(line, sizeof(line), "rm -rf %s", dir);
	assert_int_equal(system(line), 0);
}

struct fake_gw {
	int requests;
	char last_uri[512];
};

/* 1st request: no answer (the client must time out); 2nd: 503; then 202 */
static void fake_gw_cb(struct evhttp_request *req, void *arg)
{
	struct fake_gw *g = arg;
	struct evbuffer *b;

	g->requests++;
	snprintf(g->last_uri, sizeof(g->last_uri), "%s", evhttp_request_get_uri(req));
	if (g->requests == 1)
		return; /* libevent frees it when the client gives up */
	b = evbuffer_new();
	evbuffer_add_printf(b, g->requests == 2 ? "busy" : "0: Accepted for delivery");
	evhttp_send_reply(req, g->requests == 2 ? 503 : 202, "x", b);
	evbuffer_free(b);
}

static void test_http_gateway_timeout_and_error(void **state)
{
	struct event_base *base = event_base_new();
	struct fake_gw g = { 0 };
	struct evhttp *srv = evhttp_new(base);
	struct tmpq t;
	struct queue *q;
	struct sms_gateway *gw;

	(void)state;
	metrics_reset();
	evhttp_set_gencb(srv, fake_gw_cb, &g);
	assert_int_equal(evhttp_bind_socket(srv, "127.0.0.1", 23160), 0);
	q = tmp_queue(&t);
	assert_int_equal(sms_gateway_new(base, q,
		"http:http://127.0.0.1:23160/cgi-bin/sendsms?user=u&to=%to&text=%text",
		"/tmp", &gw), 0);
	sms_gateway_set_retry(gw, 1, 1, 1);
	assert_int_equal(sms_send(gw, "+8613800138000", "Your dataline code is 777777"), 0);

	run_until(base, q, queue_empty);
	assert_int_equal(g.requests, 3);
	assert_int_equal(metrics_counter_get(METRICS_SMS_FAILURES), 2);
	assert_int_equal(metrics_counter_get(METRICS_SMS_SENT), 1);
	assert_string_equal(g.last_uri, "/cgi-bin/sendsms?user=u&to=%2B8613800138000"
					"&text=Your%20dataline%20code%20is%20777777");
	sms_gateway_free(gw);
	tmp_queue_close(&t);
	evhttp_free(srv);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_spool_format),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_queue_retries_until_written),
		cmocka_unit_test(test_spool_written_before_return),
		cmocka_unit_test(test_legacy_rows_moved),
		cmocka_unit_test(test_http_gateway_timeout_and_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
