/*
 * test_sms: the SMS gateways' pure helpers (Kannel URL expansion with
 * RFC 3986 percent-encoding, the spool line format) and the durable queue
 * in front of the spool gateway: a failing spool keeps the SMS queued and
 * retries it with backoff until it is written; the http gateway against an
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

#include "../../server/core/metrics.h"
#include "../../server/sms/sms.h"
#include "../../server/store/store.h"

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
	struct store *st;
	struct sms_gateway *gw = NULL;

	(void)state;
	assert_int_equal(store_open(":memory:", &st), 0);
	assert_int_equal(sms_gateway_new(base, st, "bogus", "/tmp", &gw), -EINVAL);
	assert_int_equal(sms_gateway_new(base, st, "spool:", "/tmp", &gw), -EINVAL);
	assert_int_equal(sms_gateway_new(base, st, "http:https://gw/send?to=%to", "/tmp", &gw), -ENOTSUP);
	assert_int_equal(sms_gateway_new(base, st, "http:ftp://gw/x", "/tmp", &gw), -EINVAL);
	assert_int_equal(sms_gateway_new(base, st, "http:not a url", "/tmp", &gw), -EINVAL);
	assert_null(gw);
	store_close(st);
	event_base_free(base);
}

struct wait_ctx {
	struct store *st;
	struct event_base *base;
	int ticks;
};

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wait_ctx *w = arg;
	uint64_t n = 1;

	store_sms_count(w->st, &n);
	if (n == 0 || ++w->ticks > 200) /* 20 s at most */
		event_base_loopbreak(w->base);
}

static int first_attempts(const struct store_sms *m, void *arg)
{
	*(int *)arg = m->attempts;
	return 0;
}

static void test_queue_retries_until_written(void **state)
{
	char dir[] = "/tmp/test_sms.XXXXXX", spool[96], sub[64], line[256];
	struct event_base *base = event_base_new();
	struct timeval tick = { 0, 100000 };
	struct store *st;
	struct sms_gateway *gw;
	struct event *poll;
	struct wait_ctx w;
	uint64_t n = 0;
	int attempts = -1;
	FILE *f;

	(void)state;
	metrics_reset();
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/later", dir);
	snprintf(spool, sizeof(spool), "spool:%s/sms.spool", sub);
	assert_int_equal(store_open(":memory:", &st), 0);
	assert_int_equal(sms_gateway_new(base, st, spool, dir, &gw), 0);
	sms_gateway_set_retry(gw, 1, 2, 5);

	/* the spool's directory does not exist yet: queued, failed, kept */
	assert_int_equal(sms_send(gw, "+8613800138000", "Your dataline code is 424242"), 0);
	assert_int_equal(store_sms_count(st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(metrics_counter_get(METRICS_SMS_FAILURES), 1);
	assert_int_equal(metrics_gauge_get(METRICS_QUEUE_SMS), 1);
	assert_int_equal(store_sms_due(st, INT64_MAX, 1, first_attempts, &attempts), 0);
	assert_int_equal(attempts, 1);

	/* the operator fixes it; the retry timer delivers it */
	assert_int_equal(mkdir(sub, 0700), 0);
	w = (struct wait_ctx){ .st = st, .base = base };
	poll = event_new(base, -1, EV_PERSIST, poll_cb, &w);
	event_add(poll, &tick);
	event_base_dispatch(base);
	event_free(poll);

	assert_int_equal(store_sms_count(st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(metrics_counter_get(METRICS_SMS_SENT), 1);
	assert_int_equal(metrics_gauge_get(METRICS_QUEUE_SMS), 0);
	f = fopen(spool + 6, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "\t+8613800138000\tYour dataline code is 424242\n"));
	assert_null(fgets(line, sizeof(line), f)); /* exactly once */
	fclose(f);

	sms_gateway_free(gw);
	store_close(st);
	event_base_free(base);
	unlink(spool + 6);
	rmdir(sub);
	rmdir(dir);
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
	struct timeval tick = { 0, 100000 };
	struct fake_gw g = { 0 };
	struct evhttp *srv = evhttp_new(base);
	struct store *st;
	struct sms_gateway *gw;
	struct event *poll;
	struct wait_ctx w;
	uint64_t n = 1;

	(void)state;
	metrics_reset();
	evhttp_set_gencb(srv, fake_gw_cb, &g);
	assert_int_equal(evhttp_bind_socket(srv, "127.0.0.1", 23160), 0);
	assert_int_equal(store_open(":memory:", &st), 0);
	assert_int_equal(sms_gateway_new(base, st,
		"http:http://127.0.0.1:23160/cgi-bin/sendsms?user=u&to=%to&text=%text",
		"/tmp", &gw), 0);
	sms_gateway_set_retry(gw, 1, 1, 1);
	assert_int_equal(sms_send(gw, "+8613800138000", "Your dataline code is 777777"), 0);

	w = (struct wait_ctx){ .st = st, .base = base };
	poll = event_new(base, -1, EV_PERSIST, poll_cb, &w);
	event_add(poll, &tick);
	event_base_dispatch(base);
	event_free(poll);

	assert_int_equal(store_sms_count(st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(g.requests, 3);
	assert_int_equal(metrics_counter_get(METRICS_SMS_FAILURES), 2);
	assert_int_equal(metrics_counter_get(METRICS_SMS_SENT), 1);
	assert_string_equal(g.last_uri, "/cgi-bin/sendsms?user=u&to=%2B8613800138000"
					"&text=Your%20dataline%20code%20is%20777777");
	sms_gateway_free(gw);
	store_close(st);
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
		cmocka_unit_test(test_http_gateway_timeout_and_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
