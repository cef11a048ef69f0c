/*
 * test_agent_pub: the agent's RFC 3903 publication (user/agent/agent_pub.c)
 * against a presence server scripted here on loopback UDP, in one libevent
 * loop: the initial PUBLISH (Event, Expires, PIDF body, no SIP-If-Match),
 * the entity tag kept and used by the refresh (no body) before the granted
 * expiry, a changed document sent as a modifying PUBLISH, an unchanged one
 * not sent, 412 -> a fresh initial PUBLISH, 423 -> Min-Expires, failures
 * backed off (Retry-After honoured, no retry before it), the removal
 * (Expires: 0), the document sent again after the agent re-formed its
 * flow (TCP closed by the server), and one publication per agent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <event2/event.h>

#include "dataline/agent.h"
#include "dataline/log.h"
#include "dataline/sip.h"

#define DOMAIN "pub.test"
#define NUMBER "+8613800138001"

/* One PUBLISH the server got, and what the script answers it with. */
struct pub_seen {
	char raw[8192];
	size_t len;
	struct sip_msg m;
};

static struct {
	struct event_base *base;
	int fd;
	struct event *ev;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct pub_seen pubs[16];
	int npubs;
	/* answers for the next PUBLISHes, in order; 0 = 200 */
	int script[16];
	const char *script_hdr[16];
	int nscript;
	int etags;          /* entity tags handed out */
	/* TCP mode: a listener, one connection at a time */
	int lfd, cfd;
	struct event *lev, *cev;
	char in[16384];
	size_t inlen;
	int accepted;       /* connections accepted */
	struct event *wake; /* wakes the loop so LOOP_UNTIL's deadline holds */
	int outcomes, last_status, last_published;
} P;

static struct agent *A;
static struct agent_pub *PB;

static void pub_reply(const struct sip_msg *req, int status, const char *hdrs)
{
	char buf[2048];
	struct sip_buf b;
	size_t len;

	sip_buf_init(&b, buf, sizeof(buf));
	sip_resp_begin(&b, req, status, NULL, "t0", NULL);
	if (hdrs)
		sip_buf_adds(&b, hdrs);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &len), 0);
	if (P.cfd > 0)
		assert_true(write(P.cfd, buf, len) == (ssize_t)len);
	else
		assert_true(sendto(P.fd, buf, len, 0, (struct sockaddr *)&P.peer,
				   P.peer_len) == (ssize_t)len);
}

/* One message from the agent: REGISTER answered 200, PUBLISH by script. */
static void pub_srv_msg(const char *raw, size_t len, int stream)
{
	struct pub_seen *g = &P.pubs[P.npubs < 16 ? P.npubs : 15];
	char hdr[128];
	int i, status;

	memcpy(g->raw, raw, len);
	g->len = len;
	assert_int_equal(sip_msg_parse(g->raw, g->len, stream ? SIP_PARSE_STREAM
					: SIP_PARSE_DGRAM, &g->m, NULL), 0);
	if (!g->m.is_request)
		return;
	if (g->m.method_id == SIP_METHOD_REGISTER) {
		pub_reply(&g->m, 200, "Expires: 3600\r\n");
		return;
	}
	assert_true(sip_str_eq(g->m.method, "PUBLISH"));
	i = P.npubs++;
	assert_true(P.npubs <= 16);
	status = i < P.nscript && P.script[i] ? P.script[i] : 200;
	if (status == 200) {
		snprintf(hdr, sizeof(hdr), "SIP-ETag: e%d\r\nExpires: %s\r\n", ++P.etags,
			 i < P.nscript && P.script_hdr[i] ? P.script_hdr[i] : "3600");
		pub_reply(&g->m, 200, hdr);
	} else {
		pub_reply(&g->m, status, i < P.nscript ? P.script_hdr[i] : NULL);
	}
}

static void pub_srv_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[8192];
	ssize_t n;

	P.peer_len = sizeof(P.peer);
	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&P.peer, &P.peer_len);
	if (n > 0)
		pub_srv_msg(buf, (size_t)n, 0);
}

static void pub_conn_drop(void)
{
	event_free(P.cev);
	P.cev = NULL;
	close(P.cfd);
	P.cfd = 0;
	P.inlen = 0;
}

static void pub_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_frame f;
	ssize_t n = read(fd, P.in + P.inlen, sizeof(P.in) - P.inlen);

	if (n <= 0) {
		pub_conn_drop();
		return;
	}
	P.inlen += (size_t)n;
	while (sip_frame(P.in, P.inlen, sizeof(P.in), &f) == 0) {
		if (f.kind == SIP_FRAME_MSG)
			pub_srv_msg(P.in, f.len, 1);
		memmove(P.in, P.in + f.len, P.inlen - f.len);
		P.inlen -= f.len;
	}
}

static void pub_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	int c = accept(fd, NULL, NULL);

	assert_true(c > 0);
	if (P.cev)
		pub_conn_drop();
	P.cfd = c;
	P.accepted++;
	P.cev = event_new(P.base, c, EV_READ | EV_PERSIST, pub_conn_cb, NULL);
	event_add(P.cev, NULL);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
}

static void on_pub(void *arg, int status, int published)
{
	P.outcomes++;
	P.last_status = status;
	P.last_published = published;
}

#define LOOP_UNTIL(cond) do {						\
	time_t t0_ = time(NULL);					\
	while (!(cond)) {						\
		assert_true(time(NULL) - t0_ < 20);			\
		event_base_loop(P.base, EVLOOP_ONCE);			\
	}								\
} while (0)

/* Runs the loop for MS milliseconds. */
static void loop_for(unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	event_base_loopexit(P.base, &tv);
	event_base_dispatch(P.base);
}

static int pub_setup(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct agent_config cfg = {
		.transport = AGENT_TP_UDP, .host = "127.0.0.1", .domain = DOMAIN,
		.user = NUMBER, .username = "u1", .password = "p1", .retry_base = 60,
	};
	struct agent_pub_config pc = { .expires = 3600, .retry_base = 1, .retry_max = 2 };

	memset(&P, 0, sizeof(P));
	log_set_level(LOG_LVL_ERROR);
	P.base = event_base_new();
	P.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(P.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(P.fd, (struct sockaddr *)&sa, &len), 0);
	P.ev = event_new(P.base, P.fd, EV_READ | EV_PERSIST, pub_srv_cb, NULL);
	event_add(P.ev, NULL);
	P.wake = event_new(P.base, -1, EV_PERSIST, wake_cb, NULL);
	event_add(P.wake, &(struct timeval){ .tv_usec = 100000 });
	cfg.port = ntohs(sa.sin_port);
	assert_int_equal(agent_new(P.base, &cfg, NULL, NULL, &A), 0);
	assert_int_equal(agent_pub_new(A, &pc, on_pub, NULL, &PB), 0);
	return 0;
}

static int pub_teardown(void **state)
{
	agent_pub_free(PB);
	agent_free(A);
	if (P.cev)
		pub_conn_drop();
	if (P.lev) {
		event_free(P.lev);
		close(P.lfd);
	}
	event_free(P.wake);
	event_free(P.ev);
	close(P.fd);
	event_base_free(P.base);
	return 0;
}

static const char *hdr(int i, const char *name)
{
	static char v[256];
	const struct sip_hdr *h = sip_msg_hdr_byname(&P.pubs[i].m, name);

	if (!h)
		return NULL;
	assert_int_equal(sip_str_copy(h->value, v, sizeof(v)), 0);
	return v;
}

static void start_registered(void)
{
	assert_int_equal(agent_start(A), 0);
	LOOP_UNTIL(agent_state(A) == AGENT_REGISTERED);
}

/* Initial, refresh with the tag and no body, modify, unchanged not sent. */
static void test_publish_refresh_modify(void **state)
{
	static const char doc1[] = "<presence>1</presence>", doc2[] = "<presence>2</presence>";

	/* before registering nothing goes out; the document waits */
	assert_int_equal(agent_pub_set(PB, doc1, strlen(doc1)), 0);
	P.script_hdr[0] = "2";      /* granted 2 s: refreshed after 1 s */
	P.nscript = 1;
	start_registered();
	LOOP_UNTIL(P.npubs == 1 && P.outcomes == 1);
	assert_string_equal(hdr(0, "Event"), "presence");
	assert_string_equal(hdr(0, "Expires"), "3600");
	assert_string_equal(hdr(0, "Content-Type"), "application/pidf+xml");
	assert_null(hdr(0, "SIP-If-Match"));
	assert_true(sip_str_eq(P.pubs[0].m.body, doc1));
	assert_true(sip_str_eq(P.pubs[0].m.ruri_str, "sip:" NUMBER "@" DOMAIN));
	assert_string_equal(agent_pub_etag(PB), "e1");
	assert_int_equal(agent_pub_granted(PB), 2);
	assert_true(P.last_published);

	LOOP_UNTIL(P.npubs == 2 && P.outcomes == 2);      /* the refresh */
	assert_string_equal(hdr(1, "SIP-If-Match"), "e1");
	assert_int_equal(P.pubs[1].m.body.len, 0);
	assert_null(hdr(1, "Content-Type"));
	assert_string_equal(agent_pub_etag(PB), "e2");
	assert_int_equal(agent_pub_granted(PB), 3600);
	/* one Call-ID, CSeq growing */
	assert_true(P.pubs[1].m.cseq.num > P.pubs[0].m.cseq.num);

	assert_int_equal(agent_pub_set(PB, doc1, strlen(doc1)), 0);  /* same */
	loop_for(100);
	assert_int_equal(P.npubs, 2);
	assert_int_equal(agent_pub_set(PB, doc2, strlen(doc2)), 0);
	LOOP_UNTIL(P.npubs == 3 && P.outcomes == 3);
	assert_string_equal(hdr(2, "SIP-If-Match"), "e2");
	assert_true(sip_str_eq(P.pubs[2].m.body, doc2));
	assert_string_equal(agent_pub_etag(PB), "e3");
}

/* 412 to a modify: the tag is dropped and a fresh initial PUBLISH goes. */
static void test_412_publishes_anew(void **state)
{
	static const char doc1[] = "<a/>", doc2[] = "<b/>";

	start_registered();
	assert_int_equal(agent_pub_set(PB, doc1, strlen(doc1)), 0);
	LOOP_UNTIL(P.outcomes == 1);
	P.script[1] = 412;
	P.nscript = 2;
	assert_int_equal(agent_pub_set(PB, doc2, strlen(doc2)), 0);
	LOOP_UNTIL(P.npubs == 3 && P.outcomes == 3);
	assert_string_equal(hdr(1, "SIP-If-Match"), "e1");
	assert_null(hdr(2, "SIP-If-Match"));           /* initial */
	assert_true(sip_str_eq(P.pubs[2].m.body, doc2));
	assert_string_equal(agent_pub_etag(PB), "e2");
	assert_int_equal(P.last_status, 200);
}

/* 423: sent again at once with Expires = Min-Expires. */
static void test_423_min_expires(void **state)
{
	static const char doc[] = "<a/>";

	P.script[0] = 423;
	P.script_hdr[0] = "Min-Expires: 7200\r\n";
	P.nscript = 1;
	start_registered();
	assert_int_equal(agent_pub_set(PB, doc, strlen(doc)), 0);
	LOOP_UNTIL(P.npubs == 2 && P.outcomes == 2);
	assert_string_equal(hdr(0, "Expires"), "3600");
	assert_string_equal(hdr(1, "Expires"), "7200");
	assert_null(hdr(1, "SIP-If-Match"));
	assert_string_equal(agent_pub_etag(PB), "e1");
}

/* A failure backs off: nothing is resent before Retry-After. */
static void test_failure_backoff(void **state)
{
	static const char doc[] = "<a/>";
	time_t t0;

	P.script[0] = 503;
	P.script_hdr[0] = "Retry-After: 2\r\n";
	P.script[1] = 500;
	P.nscript = 2;
	start_registered();
	assert_int_equal(agent_pub_set(PB, doc, strlen(doc)), 0);
	LOOP_UNTIL(P.outcomes == 1);
	t0 = time(NULL);
	assert_int_equal(P.last_status, 503);
	assert_false(P.last_published);
	loop_for(1000);
	assert_int_equal(P.npubs, 1);                  /* still waiting */
	LOOP_UNTIL(P.npubs == 2 && P.outcomes == 2);
	assert_true(time(NULL) - t0 >= 1);
	assert_int_equal(P.last_status, 500);
	/* back-off base 1 s, cap 2 s: the third try succeeds */
	LOOP_UNTIL(P.outcomes == 3);
	assert_int_equal(P.last_status, 200);
	assert_string_equal(agent_pub_etag(PB), "e1");
	assert_null(hdr(2, "SIP-If-Match"));
}

/* Removal: Expires: 0 with the tag; nothing is sent afterwards. */
static void test_remove(void **state)
{
	static const char doc[] = "<a/>";

	start_registered();
	assert_int_equal(agent_pub_remove(PB), 0);     /* nothing in place */
	assert_int_equal(agent_pub_remove(PB), -EALREADY);
	assert_int_equal(agent_pub_set(PB, doc, strlen(doc)), -ESHUTDOWN);
	loop_for(100);
	assert_int_equal(P.npubs, 0);

	agent_pub_free(PB);
	assert_int_equal(agent_pub_new(A, NULL, on_pub, NULL, &PB), 0);
	assert_int_equal(agent_pub_set(PB, doc, strlen(doc)), 0);
	assert_int_equal(agent_pub_remove(PB), 0);     /* waits for the initial */
	LOOP_UNTIL(P.npubs == 2 && P.outcomes == 2);
	assert_null(hdr(0, "SIP-If-Match"));
	assert_string_equal(hdr(1, "Expires"), "0");
	assert_string_equal(hdr(1, "SIP-If-Match"), "e1");
	assert_int_equal(P.pubs[1].m.body.len, 0);
	assert_string_equal(agent_pub_etag(PB), "");
	assert_false(P.last_published);
}

/* Over TCP: the server closes the flow; the agent re-forms it and
 * re-registers, and the publication goes again (modifying, with the tag
 * it held), since the server drops a device's publication with its flow. */
static void test_resent_on_new_flow(void **state)
{
	static const char doc[] = "<a/>";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct agent_config cfg = {
		.transport = AGENT_TP_TCP, .host = "127.0.0.1", .domain = DOMAIN,
		.user = NUMBER, .username = "u1", .password = "p1", .retry_base = 60,
	};
	int one = 1;

	agent_pub_free(PB);
	agent_free(A);
	P.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(P.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(P.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(P.lfd, 4), 0);
	assert_int_equal(getsockname(P.lfd, (struct sockaddr *)&sa, &len), 0);
	P.lev = event_new(P.base, P.lfd, EV_READ | EV_PERSIST, pub_accept_cb, NULL);
	event_add(P.lev, NULL);
	cfg.port = ntohs(sa.sin_port);
	assert_int_equal(agent_new(P.base, &cfg, NULL, NULL, &A), 0);
	assert_int_equal(agent_pub_new(A, NULL, on_pub, NULL, &PB), 0);
	start_registered();
	assert_int_equal(agent_pub_set(PB, doc, strlen(doc)), 0);
	LOOP_UNTIL(P.outcomes == 1);
	assert_null(hdr(0, "SIP-If-Match"));

	pub_conn_drop();                               /* the flow dies */
	LOOP_UNTIL(P.accepted == 2 && P.outcomes == 2);
	assert_int_equal(agent_state(A), AGENT_REGISTERED);
	assert_string_equal(hdr(1, "SIP-If-Match"), "e1");
	assert_true(sip_str_eq(P.pubs[1].m.body, doc));
	assert_string_equal(agent_pub_etag(PB), "e2");
	/* a refreshing REGISTER on the same flow sends nothing more */
	loop_for(200);
	assert_int_equal(P.npubs, 2);
}

/* One publication per agent; bad arguments. */
static void test_one_per_agent(void **state)
{
	struct agent_pub *p2 = NULL;
	static char big[AGENT_BODY_MAX + 1];

	assert_int_equal(agent_pub_new(A, NULL, NULL, NULL, &p2), -EBUSY);
	assert_int_equal(agent_pub_set(PB, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(agent_pub_set(PB, NULL, 1), -EINVAL);
	agent_pub_free(PB);
	assert_int_equal(agent_pub_new(A, NULL, NULL, NULL, &PB), 0);
}

static void test_refresh_delay(void **state)
{
	assert_int_equal(agent_pub_refresh_delay(3600), 2880);
	assert_int_equal(agent_pub_refresh_delay(20), 15);   /* 5 s before */
	assert_int_equal(agent_pub_refresh_delay(60), 48);
	assert_int_equal(agent_pub_refresh_delay(2), 1);
	assert_int_equal(agent_pub_refresh_delay(0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_refresh_modify, pub_setup, pub_teardown),
		cmocka_unit_test_setup_teardown(test_412_publishes_anew, pub_setup, pub_teardown),
		cmocka_unit_test_setup_teardown(test_423_min_expires, pub_setup, pub_teardown),
		cmocka_unit_test_setup_teardown(test_failure_backoff, pub_setup, pub_teardown),
		cmocka_unit_test_setup_teardown(test_remove, pub_setup, pub_teardown),
		cmocka_unit_test_setup_teardown(test_resent_on_new_flow, pub_setup, pub_teardown),
		cmocka_unit_test_setup_teardown(test_one_per_agent, pub_setup, pub_teardown),
		cmocka_unit_test(test_refresh_delay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
