/*
 * test_agent_core: the handset agent's UA core (user/agent/agent_core.c,
 * agent_serve.c, agent_text.c) against a scripted server written here with
 * lib/sip on loopback UDP, in one libevent loop. The server registers the
 * agent without a challenge, then each test plays one part of RFC 3261:
 * responses routed to their request by Via branch (answered out of order,
 * a stray one, a retransmitted final), the digest 407 answered once by the
 * core for MESSAGE and reused with a growing nonce-count, wrong
 * credentials ending in the 407, a retransmitted incoming MESSAGE absorbed
 * (handler run once, the same answer twice), handler dispatch with 405/501
 * and Allow built from the handler table, requests ended 503 when the flow
 * closes, and the bounds (slots, body size, no flow).
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
#include "agent_srv.h"

#define REALM "dataline.test"
#define USER "+8613800138000"
#define DIGEST_USER "8613800138000-0badcafe"
#define PASSWORD "correct horse battery staple"

/* What the server got from the agent: requests and responses. */
struct got {
	char raw[8192];
	size_t len;
	struct sip_msg m;     /* parsed from raw */
};

static struct {
	struct event_base *base;
	int fd;
	struct event *ev;
	struct sockaddr_storage agent;
	socklen_t agent_len;
	int challenge;        /* 407 every MESSAGE without good credentials */
	int hold;             /* keep MESSAGEs unanswered (the test answers) */
	struct got got[32];
	int ngot;
	int registered, stopped;
	/* results seen by callbacks */
	struct agent_result res[8];
	int nres;
	int texts;            /* incoming MESSAGE hook runs */
	char text_from[64], text_ctype[64], text_body[64];
	int notifies;
	int notify_answer;
} S;

static void srv_send(const char *buf, size_t len)
{
	assert_true(sendto(S.fd, buf, len, 0, (struct sockaddr *)&S.agent,
			   S.agent_len) == (ssize_t)len);
}

/* Answers request G with STATUS (+ optional extra header line). */
static void srv_reply(struct got *g, int status, const char *extra)
{
	char buf[4096];
	struct sip_buf b;
	size_t len;

	sip_buf_init(&b, buf, sizeof(buf));
	sip_resp_begin(&b, &g->m, status, NULL, "srvtag", NULL);
	if (status == 407)
		sip_digest_challenge_add(&b, "Proxy-Authenticate", SIP_DIGEST_SHA256,
					 REALM, "n0nce", 0, NULL);
	if (extra)
		sip_buf_adds(&b, extra);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &len), 0);
	srv_send(buf, len);
}

static int creds_ok(const struct sip_msg *m, uint32_t *nc)
{
	return agent_srv_creds_ok(m, DIGEST_USER, REALM, PASSWORD, nc);
}

static void srv_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct got *g;
	uint32_t nc;
	ssize_t n;

	assert_true(S.ngot < 32);
	g = &S.got[S.ngot];
	S.agent_len = sizeof(S.agent);
	n = recvfrom(fd, g->raw, sizeof(g->raw), 0, (struct sockaddr *)&S.agent,
		     &S.agent_len);
	if (n <= 0)
		return;
	g->len = (size_t)n;
	assert_int_equal(sip_msg_parse(g->raw, g->len, SIP_PARSE_DGRAM, &g->m, NULL), 0);
	S.ngot++;
	if (!g->m.is_request)
		return;
	if (g->m.method_id == SIP_METHOD_REGISTER) {
		srv_reply(g, 200, "Expires: 3600\r\n");
		if (g->m.expires == 0)
			S.stopped = 1;
		else
			S.registered = 1;
	} else if (g->m.method_id == SIP_METHOD_MESSAGE && !S.hold) {
		if (S.challenge && !creds_ok(&g->m, &nc))
			srv_reply(g, 407, NULL);
		else
			srv_reply(g, 202, NULL);
	}
}

static void on_done(void *arg, const struct agent_result *res)
{
	int i = (int)(intptr_t)arg;

	assert_true(i >= 0 && i < 8);
	S.res[i] = *res;
	S.res[i].resp = NULL;
	S.nres++;
}

static int on_text(void *arg, const struct agent_text_in *t)
{
	S.texts++;
	snprintf(S.text_from, sizeof(S.text_from), "%s", t->from_user);
	snprintf(S.text_ctype, sizeof(S.text_ctype), "%s", t->ctype);
	snprintf(S.text_body, sizeof(S.text_body), "%.*s", (int)t->body_len,
		 (const char *)t->body);
	return 200;
}

static int on_notify(void *arg, const struct sip_msg *m)
{
	S.notifies++;
	return S.notify_answer;
}

#define RUN_UNTIL(cond) AGENT_SRV_RUN_UNTIL(S.base, cond)

/* Runs the loop until nothing is pending (the agent had time to answer). */
static void run_idle(void)
{
	for (int i = 0; i < 50; i++)
		event_base_loop(S.base, EVLOOP_NONBLOCK);
	usleep(20000);
	for (int i = 0; i < 50; i++)
		event_base_loop(S.base, EVLOOP_NONBLOCK);
}

static struct agent *A;

static int setup(void **state)
{
	struct agent_config cfg = {
		.transport = AGENT_TP_UDP, .host = "127.0.0.1",
		.domain = REALM, .user = USER, .username = DIGEST_USER,
		.password = PASSWORD, .retry_base = 60,
	};

	memset(&S, 0, sizeof(S));
	log_set_level(LOG_LVL_ERROR);
	S.notify_answer = 200;
	S.base = event_base_new();
	cfg.port = agent_srv_open(S.base, srv_read_cb, &S.fd, &S.ev);
	assert_int_equal(agent_new(S.base, &cfg, NULL, NULL, &A), 0);
	/* not connected yet: nothing can be sent */
	struct agent_text t = { .to = "+1", .ctype = "text/plain", .body = "x", .body_len = 1 };
	assert_int_equal(agent_text_send(A, &t, on_done, NULL, NULL), -ENOTCONN);
	assert_int_equal(agent_start(A), 0);
	RUN_UNTIL(agent_state(A) == AGENT_REGISTERED);
	return 0;
}

static int teardown(void **state)
{
	agent_free(A);
	A = NULL;
	event_free(S.ev);
	close(S.fd);
	event_base_free(S.base);
	return 0;
}

static struct got *find_got(const char *method, int nth)
{
	for (int i = 0; i < S.ngot; i++)
		if (S.got[i].m.is_request && sip_str_eq(S.got[i].m.method, method) && nth-- == 0)
			return &S.got[i];
	return NULL;
}

static void send_text(const char *to, const char *body, const char *call_id, int idx)
{
	struct agent_text t = { .to = to, .ctype = "text/plain; charset=utf-8",
				.body = body, .body_len = strlen(body), .call_id = call_id };

	assert_int_equal(agent_text_send(A, &t, on_done, (void *)(intptr_t)idx, NULL), 0);
}

/* Two MESSAGEs answered in reverse order, a stray and a retransmitted
 * final: each request gets exactly its own answer, once. */
static void test_response_routing(void **state)
{
	struct got *m1, *m2;
	char *br;

	S.hold = 1;
	send_text("+8613900000001", "first", "c1@test", 0);
	send_text("sip:+8613900000002@" REALM, "second", "c2@test", 1);
	RUN_UNTIL((m2 = find_got("MESSAGE", 1)) != NULL);
	m1 = find_got("MESSAGE", 0);
	assert_true(sip_str_eq(m1->m.call_id, "c1@test"));
	assert_true(sip_str_eq(m1->m.ruri_str, "sip:+8613900000001@" REALM));
	assert_true(sip_str_eq(m1->m.body, "first"));
	assert_int_equal(agent_req_count(A), 2);

	/* a response with a branch nobody sent is dropped */
	{
		struct got g = { .len = m1->len };
		memcpy(g.raw, m1->raw, m1->len);
		br = memmem(g.raw, g.len, "z9hG4bK", 7);
		assert_non_null(br);
		br[8] = br[8] == 'x' ? 'y' : 'x';
		assert_int_equal(sip_msg_parse(g.raw, g.len, SIP_PARSE_DGRAM, &g.m, NULL), 0);
		srv_reply(&g, 500, NULL);
	}
	run_idle();
	assert_int_equal(S.nres, 0);

	srv_reply(m2, 480, "Retry-After: 30\r\n");
	RUN_UNTIL(S.nres == 1);
	assert_int_equal(S.res[1].status, 480);
	assert_int_equal(S.res[1].retry_after, 30);
	assert_false(S.res[1].local);
	srv_reply(m1, 202, NULL);
	srv_reply(m1, 202, NULL);   /* retransmitted final: absorbed */
	RUN_UNTIL(S.nres == 2);
	run_idle();
	assert_int_equal(S.nres, 2);
	assert_int_equal(S.res[0].status, 202);
	assert_int_equal(S.res[0].cseq, 1);
	assert_int_equal(agent_req_count(A), 0);
}

/* The core answers the server's 407 for MESSAGE, then reuses it. */
static void test_proxy_challenge(void **state)
{
	struct got *g;
	uint32_t nc = 0;

	S.challenge = 1;
	send_text("+8613900000001", "hello", "c3@test", 0);
	RUN_UNTIL(S.nres == 1);
	assert_int_equal(S.res[0].status, 202);
	assert_int_equal(S.res[0].cseq, 2);            /* CSeq + 1 on the retry */
	g = find_got("MESSAGE", 1);
	assert_true(creds_ok(&g->m, &nc));
	assert_int_equal(nc, 1);
	assert_true(sip_str_eq(g->m.call_id, "c3@test")); /* same Call-ID */
	/* the next one goes with credentials at once (nonce-count 2) */
	send_text("+8613900000001", "again", NULL, 1);
	RUN_UNTIL(S.nres == 2);
	assert_int_equal(S.res[1].status, 202);
	assert_int_equal(S.res[1].cseq, 1);
	g = find_got("MESSAGE", 2);
	assert_true(creds_ok(&g->m, &nc));
	assert_int_equal(nc, 2);
	assert_null(find_got("MESSAGE", 3));
}

/* Wrong credentials: one answered challenge, then the 407 is the result. */
static void test_wrong_credentials(void **state)
{
	struct agent_config cfg = {
		.transport = AGENT_TP_UDP, .host = "127.0.0.1",
		.domain = REALM, .user = USER, .username = DIGEST_USER,
		.password = "wrong", .retry_base = 60,
	};
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	/* a second agent with a bad password, on the same server */
	agent_free(A);
	assert_int_equal(getsockname(S.fd, (struct sockaddr *)&sa, &len), 0);
	cfg.port = ntohs(sa.sin_port);
	assert_int_equal(agent_new(S.base, &cfg, NULL, NULL, &A), 0);
	assert_int_equal(agent_start(A), 0);
	RUN_UNTIL(agent_state(A) == AGENT_REGISTERED);
	S.challenge = 1;
	S.ngot = 0;
	send_text("+8613900000001", "hello", NULL, 0);
	RUN_UNTIL(S.nres == 1);
	assert_int_equal(S.res[0].status, 407);
	assert_false(S.res[0].local);
	assert_non_null(find_got("MESSAGE", 1));
	assert_null(find_got("MESSAGE", 2));           /* no endless retry */
}

/* An incoming request FROM the server. */
static void srv_request(const char *method, const char *branch, const char *ctype,
			const char *body)
{
	char buf[4096];
	struct sip_buf b;
	struct sip_req_params p = {
		.method = method, .ruri = "sip:" USER "@127.0.0.1", .transport = "UDP",
		.via_host = "127.0.0.1", .via_port = 5060, .branch = branch,
		.from = "sip:+8613900000009@" REALM, .from_tag = "ft",
		.to = "sip:" USER "@" REALM, .call_id = branch, .cseq = 7,
	};
	size_t len;

	sip_buf_init(&b, buf, sizeof(buf));
	sip_req_begin(&b, &p);
	assert_int_equal(sip_msg_end(&b, ctype, body, body ? strlen(body) : 0, &len), 0);
	srv_send(buf, len);
}

/* Waits for the agent's response to BRANCH; returns the Nth one. */
static struct got *wait_resp(const char *branch, int nth)
{
	struct got *r = NULL;

	RUN_UNTIL(({
		int k = nth;
		r = NULL;
		for (int i = 0; i < S.ngot && !r; i++)
			if (!S.got[i].m.is_request && sip_str_eq(S.got[i].m.via.branch, branch) &&
			    k-- == 0)
				r = &S.got[i];
		r != NULL;
	}));
	return r;
}

static int has_allow(struct got *g, const char *want)
{
	const struct sip_hdr *h = sip_msg_hdr(&g->m, SIP_HDR_ALLOW);

	return h && sip_str_eq(h->value, want);
}

/* A retransmitted MESSAGE reaches the hook once and gets the same answer. */
static void test_incoming_text_absorbed(void **state)
{
	struct got *r1, *r2;

	assert_int_equal(agent_on_text(A, on_text, NULL), 0);
	srv_request("MESSAGE", "z9hG4bKin1", "text/plain", "hi there");
	r1 = wait_resp("z9hG4bKin1", 0);
	srv_request("MESSAGE", "z9hG4bKin1", "text/plain", "hi there");
	r2 = wait_resp("z9hG4bKin1", 1);
	assert_int_equal(r1->m.status, 200);
	assert_int_equal(S.texts, 1);
	assert_int_equal(r1->len, r2->len);
	assert_memory_equal(r1->raw, r2->raw, r1->len);
	assert_string_equal(S.text_from, "+8613900000009");
	assert_string_equal(S.text_ctype, "text/plain");
	assert_string_equal(S.text_body, "hi there");
	assert_true(sip_str_present(r1->m.to.tag));
	/* a new transaction is a new text */
	srv_request("MESSAGE", "z9hG4bKin2", "text/plain", "second");
	assert_int_equal(wait_resp("z9hG4bKin2", 0)->m.status, 200);
	assert_int_equal(S.texts, 2);
}

/* Handlers per method; 405 / 501 / OPTIONS with Allow from the table. */
static void test_dispatch(void **state)
{
	assert_int_equal(agent_handle(A, "ACK", on_notify, NULL), -EINVAL);
	assert_int_equal(agent_handle(A, "BAD NAME", on_notify, NULL), -EINVAL);
	srv_request("MESSAGE", "z9hG4bKd0", "text/plain", "x");
	assert_int_equal(wait_resp("z9hG4bKd0", 0)->m.status, 405); /* no hook yet */
	assert_int_equal(agent_on_text(A, on_text, NULL), 0);
	assert_int_equal(agent_handle(A, "NOTIFY", on_notify, NULL), 0);
	S.notify_answer = 202;
	srv_request("NOTIFY", "z9hG4bKd1", NULL, NULL);
	assert_int_equal(wait_resp("z9hG4bKd1", 0)->m.status, 202);
	assert_int_equal(S.notifies, 1);
	srv_request("SUBSCRIBE", "z9hG4bKd2", NULL, NULL);
	struct got *g = wait_resp("z9hG4bKd2", 0);
	assert_int_equal(g->m.status, 405);
	assert_true(has_allow(g, "OPTIONS, MESSAGE, NOTIFY"));
	srv_request("FROBNICATE", "z9hG4bKd3", NULL, NULL);
	g = wait_resp("z9hG4bKd3", 0);
	assert_int_equal(g->m.status, 501);
	assert_true(has_allow(g, "OPTIONS, MESSAGE, NOTIFY"));
	srv_request("OPTIONS", "z9hG4bKd4", NULL, NULL);
	g = wait_resp("z9hG4bKd4", 0);
	assert_int_equal(g->m.status, 200);
	assert_true(has_allow(g, "OPTIONS, MESSAGE, NOTIFY"));
	S.notify_answer = 99;                          /* not a final status */
	srv_request("NOTIFY", "z9hG4bKd5", NULL, NULL);
	assert_int_equal(wait_resp("z9hG4bKd5", 0)->m.status, 500);
	/* removed: NOTIFY is 405 again and leaves Allow */
	assert_int_equal(agent_handle(A, "NOTIFY", NULL, NULL), 0);
	srv_request("NOTIFY", "z9hG4bKd6", NULL, NULL);
	g = wait_resp("z9hG4bKd6", 0);
	assert_int_equal(g->m.status, 405);
	assert_true(has_allow(g, "OPTIONS, MESSAGE"));
	srv_request("ACK", "z9hG4bKd7", NULL, NULL);   /* never answered */
	run_idle();
	for (int i = 0; i < S.ngot; i++)
		assert_false(!S.got[i].m.is_request &&
			     sip_str_eq(S.got[i].m.via.branch, "z9hG4bKd7"));
}

/* Closing the flow ends what is in flight with a local 503. */
static void test_flow_closed(void **state)
{
	S.hold = 1;
	send_text("+8613900000001", "lost", NULL, 0);
	RUN_UNTIL(find_got("MESSAGE", 0) != NULL);
	assert_int_equal(agent_stop(A, 5000), 0);
	RUN_UNTIL(S.nres == 1);
	assert_int_equal(agent_state(A), AGENT_STOPPED);
	assert_int_equal(S.res[0].status, 503);
	assert_true(S.res[0].local);
	assert_int_equal(agent_req_count(A), 0);
}

/* Fixed slots and sizes: nothing grows with what the caller sends. */
static void test_bounds(void **state)
{
	static char big[AGENT_BODY_MAX + 1];
	struct agent_text t = { .to = "+1", .ctype = "text/plain", .body = big,
				.body_len = sizeof(big) };
	struct agent_req_params p = { .method = "INVITE", .ruri = "sip:x@y" };
	struct agent_req *r = NULL;

	S.hold = 1;
	assert_int_equal(agent_text_send(A, &t, on_done, NULL, NULL), -EMSGSIZE);
	t.to = "bad@number";
	t.body_len = 1;
	assert_int_equal(agent_text_send(A, &t, on_done, NULL, NULL), -EINVAL);
	assert_int_equal(agent_request(A, &p, on_done, NULL, NULL), -EINVAL);
	t.to = "+1";
	for (int i = 0; i < AGENT_REQ_MAX; i++)
		assert_int_equal(agent_text_send(A, &t, on_done, NULL, &r), 0);
	assert_int_equal(agent_text_send(A, &t, on_done, NULL, NULL), -ENOBUFS);
	agent_req_cancel(r);                           /* frees one slot */
	assert_int_equal(agent_req_count(A), AGENT_REQ_MAX - 1);
	assert_int_equal(agent_text_send(A, &t, on_done, NULL, NULL), 0);
	run_idle();
	assert_int_equal(S.nres, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_response_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_challenge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incoming_text_absorbed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
