/*
 * test_agent_call: the handset agent's INVITE dialogs (user/agent/
 * agent_call.c, agent_call_in.c) against a scripted proxy written here
 * with lib/sip on loopback UDP, in one libevent loop (RFC 3261 s.12-15).
 * Out: the 407 answered with credentials (the 407 ACKed on its own
 * branch), 180 reported, the 2xx ACKed end to end along the reversed
 * Record-Route to the Contact and ACKed again when retransmitted, BYE
 * both ways, 486 and 488 + Warning 370 reported with the hop-by-hop ACK,
 * CANCEL after a 180, the ring timeout's CANCEL. In: 100/180, the 2xx
 * resent until the ACK, Record-Route copied and the route set used in
 * order, CANCEL -> 200 + 487, a reject, a re-INVITE answered with the
 * same SDP, an in-dialog request for no dialog -> 481, OPTIONS with
 * X-Dataline-Net. And the pure pieces (route set, warn-code).
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
#define PEER "+8613900000009"
#define OFFER "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\n"
#define ANSWER "v=0\r\no=- 2 2 IN IP4 10.0.0.2\r\ns=-\r\n"

struct got {
	char raw[8192];
	size_t len;
	struct sip_msg m;
};

static struct {
	struct event_base *base;
	int fd;
	struct event *ev;
	struct sockaddr_storage agent;
	socklen_t agent_len;
	struct got got[64];
	int ngot;
	/* callbacks */
	int progress, answered, ended, failed, incoming;
	int status, why;
	char warning[256], net[128], sdp[256];
	struct agent_call *in_call;
	int in_action;          /* 0 ring, 1 reject 486, 2 nothing */
	uint32_t last_id;
	const char *from_tag;   /* of the requests we send; "callertag" */
} S;

static struct agent *A;

static void srv_send(const char *buf, size_t len)
{
	assert_true(sendto(S.fd, buf, len, 0, (struct sockaddr *)&S.agent,
			   S.agent_len) == (ssize_t)len);
}

/* Answers request G with STATUS, extra lines and an SDP body. */
static void srv_reply(const struct got *g, int status, const char *extra, const char *body)
{
	char buf[4096];
	struct sip_buf b;
	size_t len;

	sip_buf_init(&b, buf, sizeof(buf));
	sip_resp_begin(&b, &g->m, status, NULL, "calleetag", NULL);
	if (status == 407)
		sip_digest_challenge_add(&b, "Proxy-Authenticate", SIP_DIGEST_SHA256,
					 REALM, "n0nce", 0, NULL);
	if (extra)
		sip_buf_adds(&b, extra);
	assert_int_equal(sip_msg_end(&b, body ? "application/sdp" : NULL, body,
				     body ? strlen(body) : 0, &len), 0);
	srv_send(buf, len);
}

/* Sends a request to the agent; TO_TAG may be NULL. */
static void srv_request(const char *method, const char *branch, const char *call_id,
			uint32_t cseq, const char *to_tag, const char *extra,
			const char *body)
{
	char buf[4096];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "%s sip:%s@127.0.0.1 SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=%s\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:" PEER "@" REALM ">;tag=%s\r\n"
		     "To: <sip:" USER "@" REALM ">%s%s\r\n"
		     "Call-ID: %s\r\nCSeq: %u %s\r\n%s"
		     "%sContent-Length: %zu\r\n\r\n%s",
		     method, USER, branch, S.from_tag ? S.from_tag : "callertag",
		     to_tag ? ";tag=" : "", to_tag ? to_tag : "",
		     call_id, cseq, method, extra ? extra : "",
		     body ? "Content-Type: application/sdp\r\n" : "",
		     body ? strlen(body) : 0, body ? body : "");
	assert_true(n > 0 && n < (int)sizeof(buf));
	srv_send(buf, (size_t)n);
}

static int creds_ok(const struct sip_msg *m)
{
	return agent_srv_creds_ok(m, DIGEST_USER, REALM, PASSWORD, NULL);
}

static void srv_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct got *g;
	ssize_t n;

	assert_true(S.ngot < 64);
	g = &S.got[S.ngot];
	S.agent_len = sizeof(S.agent);
	n = recvfrom(fd, g->raw, sizeof(g->raw), 0, (struct sockaddr *)&S.agent, &S.agent_len);
	if (n <= 0)
		return;
	g->len = (size_t)n;
	assert_int_equal(sip_msg_parse(g->raw, g->len, SIP_PARSE_DGRAM, &g->m, NULL), 0);
	S.ngot++;
	if (g->m.is_request && g->m.method_id == SIP_METHOD_REGISTER)
		srv_reply(g, 200, "Expires: 3600\r\n", NULL);
}

#define RUN_UNTIL(cond) AGENT_SRV_RUN_UNTIL(S.base, cond)

static void run_for(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(S.base, &tv);
	event_base_dispatch(S.base);
}

/* The NTH message (0-based) that is METHOD (a request) or answers
 * METHOD with STATUS (a response; STATUS 0 = any request). */
static struct got *find_msg(const char *method, int status, int nth)
{
	for (int i = 0; i < S.ngot; i++) {
		const struct sip_msg *m = &S.got[i].m;

		if (status == 0 && m->is_request && sip_str_eq(m->method, method) && nth-- == 0)
			return &S.got[i];
		if (status && !m->is_request && m->status == status &&
		    sip_str_eq(m->cseq.method, method) && nth-- == 0)
			return &S.got[i];
	}
	return NULL;
}

static int count_msg(const char *method, int status)
{
	int n = 0;

	while (find_msg(method, status, n))
		n++;
	return n;
}

static int has_line(const struct got *g, const char *line)
{
	return memmem(g->raw, g->len, line, strlen(line)) != NULL;
}

/* ------------------------------------------------------------ callbacks */

static void on_progress(void *arg, struct agent_call *c, int status)
{
	S.progress = status;
}

static void on_answered(void *arg, struct agent_call *c, const char *sdp, size_t len)
{
	S.answered++;
	snprintf(S.sdp, sizeof(S.sdp), "%.*s", (int)len, sdp);
}

static void on_ended(void *arg, struct agent_call *c, enum agent_call_end why, int status)
{
	S.ended++;
	S.why = why;
	S.status = status;
	if (c == S.in_call)
		S.in_call = NULL;
}

static void on_failed(void *arg, struct agent_call *c, int status, const char *warning)
{
	S.failed++;
	S.status = status;
	snprintf(S.warning, sizeof(S.warning), "%s", warning);
	snprintf(S.net, sizeof(S.net), "%s", agent_call_net(c));
}

static void on_incoming(void *arg, struct agent_call *c, const struct agent_call_in *in)
{
	S.incoming++;
	S.in_call = c;
	snprintf(S.sdp, sizeof(S.sdp), "%.*s", (int)in->sdp_len, in->sdp);
	assert_string_equal(in->from_user, PEER);
	if (S.in_action == 0)
		assert_int_equal(agent_call_ring(c), 0);
	else if (S.in_action == 1)
		assert_int_equal(agent_call_reject(c, 486), 0);
}

static int net_figures(void *arg, struct agent_net *n)
{
	n->rate_kbps = 812;
	n->rtt_ms = 43;
	n->loss_ppm = 7000;
	return 0;
}

static int setup(void **state)
{
	struct agent_config cfg = {
		.transport = AGENT_TP_UDP, .host = "127.0.0.1",
		.domain = REALM, .user = USER, .username = DIGEST_USER,
		.password = PASSWORD, .retry_base = 60,
	};
	struct agent_call_events ev = {
		.incoming = on_incoming, .progress = on_progress, .answered = on_answered,
		.ended = on_ended, .failed = on_failed,
	};
	struct agent_call_config ccfg = { .ring_timeout = 1 };

	memset(&S, 0, sizeof(S));
	log_set_level(LOG_LVL_ERROR);
	S.base = event_base_new();
	cfg.port = agent_srv_open(S.base, srv_read_cb, &S.fd, &S.ev);
	assert_int_equal(agent_new(S.base, &cfg, NULL, NULL, &A), 0);
	assert_int_equal(agent_call_invite(A, PEER, OFFER, strlen(OFFER), NULL, NULL), -EINVAL);
	assert_int_equal(agent_call_setup(A, &ccfg, &ev, NULL), 0);
	assert_int_equal(agent_call_invite(A, PEER, OFFER, strlen(OFFER), NULL, NULL), -ENOTCONN);
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

static struct agent_call *call_out(void)
{
	struct agent_call *c = NULL;

	assert_int_equal(agent_call_invite(A, PEER, OFFER, strlen(OFFER), NULL, &c), 0);
	assert_non_null(c);
	assert_int_equal(agent_call_state(c), AGENT_CALL_CALLING);
	S.last_id = agent_call_id(c);
	RUN_UNTIL(find_msg("INVITE", 0, 0));
	return c;
}

#define RR "Record-Route: <sip:edge.test;lr>, <sip:core.test;lr>\r\n"
#define CONTACT "Contact: <sip:" PEER "@10.0.0.9:5070;transport=udp>\r\n"

/* 407, 180, 2xx: ACK along the route set, again for a resent 2xx; BYE. */
static void test_out_answered(void **state)
{
	struct agent_call *c = call_out();
	struct got *inv, *ack, *bye;

	inv = find_msg("INVITE", 0, 0);
	assert_true(sip_str_eq(inv->m.ruri_str, "sip:" PEER "@" REALM));
	assert_true(sip_str_eq(inv->m.body, OFFER));
	assert_non_null(sip_msg_hdr(&inv->m, SIP_HDR_CONTACT));
	srv_reply(inv, 407, NULL, NULL);
	RUN_UNTIL(find_msg("INVITE", 0, 1));
	/* the 407 was ACKed hop by hop on the first INVITE's branch */
	ack = find_msg("ACK", 0, 0);
	assert_non_null(ack);
	assert_int_equal(ack->m.via.branch.len, inv->m.via.branch.len);
	assert_int_equal(memcmp(ack->m.via.branch.p, inv->m.via.branch.p, inv->m.via.branch.len), 0);
	inv = find_msg("INVITE", 0, 1);
	assert_true(creds_ok(&inv->m));
	assert_int_equal(inv->m.cseq.num, 2);

	srv_reply(inv, 180, RR CONTACT, NULL);
	RUN_UNTIL(S.progress == 180);
	assert_int_equal(agent_call_state(c), AGENT_CALL_EARLY);
	srv_reply(inv, 200, RR CONTACT, ANSWER);
	RUN_UNTIL(S.answered == 1);
	assert_string_equal(S.sdp, ANSWER);
	assert_int_equal(agent_call_state(c), AGENT_CALL_CONFIRMED);
	RUN_UNTIL(find_msg("ACK", 0, 1));
	ack = find_msg("ACK", 0, 1);
	assert_true(sip_str_eq(ack->m.ruri_str, "sip:" PEER "@10.0.0.9:5070;transport=udp"));
	assert_true(sip_str_eq(ack->m.to.tag, "calleetag"));
	assert_int_equal(ack->m.cseq.num, 2);
	assert_true(has_line(ack, "Route: <sip:core.test;lr>\r\nRoute: <sip:edge.test;lr>\r\n"));
	assert_non_null(sip_msg_hdr(&ack->m, SIP_HDR_PROXY_AUTHORIZATION));
	/* end to end: a branch of its own */
	assert_int_not_equal(memcmp(ack->m.via.branch.p, inv->m.via.branch.p,
				    inv->m.via.branch.len), 0);
	/* a retransmitted 2xx is ACKed again */
	srv_reply(inv, 200, RR CONTACT, ANSWER);
	RUN_UNTIL(count_msg("ACK", 0) == 3);
	assert_int_equal(S.answered, 1);

	assert_int_equal(agent_call_hangup(c), 0);
	RUN_UNTIL((bye = find_msg("BYE", 0, 0)));
	assert_true(sip_str_eq(bye->m.ruri_str, "sip:" PEER "@10.0.0.9:5070;transport=udp"));
	assert_true(has_line(bye, "Route: <sip:core.test;lr>\r\nRoute: <sip:edge.test;lr>\r\n"));
	assert_int_equal(bye->m.cseq.num, 3);
	assert_true(sip_str_eq(bye->m.to.tag, "calleetag"));
	srv_reply(bye, 200, NULL, NULL);
	RUN_UNTIL(S.ended == 1);
	assert_int_equal(S.why, AGENT_CALL_END_LOCAL);
	assert_int_equal(S.status, 200);
	assert_null(agent_call_find(A, S.last_id));
	assert_int_equal(agent_call_count(A), 0);
}

/* The server's C3 gate: 488 + Warning 370, ACKed on the INVITE's branch. */
static void test_out_488_warning(void **state)
{
	struct got *inv, *ack;

	call_out();
	inv = find_msg("INVITE", 0, 0);
	srv_reply(inv, 488, "Warning: 370 dataline.test \"Insufficient bandwidth\"\r\n"
		  "X-Dataline-Net: rate=40;rtt=300;loss=90\r\n", NULL);
	RUN_UNTIL(S.failed == 1);
	assert_int_equal(S.status, 488);
	assert_string_equal(S.warning, "370 dataline.test \"Insufficient bandwidth\"");
	assert_int_equal(agent_call_warn_code(S.warning), 370);
	/* the figures that refused it reach the daemon, for its user */
	assert_string_equal(S.net, "rate=40;rtt=300;loss=90");
	RUN_UNTIL((ack = find_msg("ACK", 0, 0)));
	assert_int_equal(ack->m.via.branch.len, inv->m.via.branch.len);
	assert_int_equal(memcmp(ack->m.via.branch.p, inv->m.via.branch.p, inv->m.via.branch.len), 0);
	assert_true(sip_str_eq(ack->m.ruri_str, "sip:" PEER "@" REALM));
	assert_int_equal(ack->m.cseq.num, inv->m.cseq.num);
	/* a retransmitted 488 gets the ACK again, no second report */
	srv_reply(inv, 488, "Warning: 370 dataline.test \"Insufficient bandwidth\"\r\n", NULL);
	RUN_UNTIL(count_msg("ACK", 0) == 2);
	assert_int_equal(S.failed, 1);
	assert_int_equal(agent_call_count(A), 0);
}

static void test_out_busy(void **state)
{
	call_out();
	srv_reply(find_msg("INVITE", 0, 0), 100, NULL, NULL);
	srv_reply(find_msg("INVITE", 0, 0), 486, NULL, NULL);
	RUN_UNTIL(S.failed == 1);
	assert_int_equal(S.status, 486);
	assert_string_equal(S.warning, "");
	assert_string_equal(S.net, "");
	assert_int_equal(S.progress, 0); /* 100 is not progress */
}

/* Hang up while ringing: CANCEL on the INVITE's branch, then 487. */
static void test_out_cancel(void **state)
{
	struct agent_call *c = call_out();
	struct got *inv = find_msg("INVITE", 0, 0), *can;

	assert_int_equal(agent_call_hangup(c), 0);  /* before any 1xx: waits */
	run_for(100);
	assert_null(find_msg("CANCEL", 0, 0));
	srv_reply(inv, 180, NULL, NULL);
	RUN_UNTIL((can = find_msg("CANCEL", 0, 0)));
	assert_int_equal(memcmp(can->m.via.branch.p, inv->m.via.branch.p, inv->m.via.branch.len), 0);
	assert_int_equal(can->m.cseq.num, inv->m.cseq.num);
	assert_true(sip_str_eq(can->m.ruri_str, "sip:" PEER "@" REALM));
	assert_false(sip_str_present(can->m.to.tag));
	srv_reply(can, 200, NULL, NULL);
	srv_reply(inv, 487, NULL, NULL);
	RUN_UNTIL(S.ended == 1);
	assert_int_equal(S.why, AGENT_CALL_END_CANCELLED);
	assert_int_equal(S.status, 487);
	assert_int_equal(S.failed, 0);
	RUN_UNTIL(find_msg("ACK", 0, 0));
}

/* A callee that never answers: the ring timeout (1 s here) cancels. */
static void test_out_no_answer(void **state)
{
	struct got *inv, *can;

	call_out();
	inv = find_msg("INVITE", 0, 0);
	srv_reply(inv, 180, NULL, NULL);
	RUN_UNTIL((can = find_msg("CANCEL", 0, 0)));
	srv_reply(can, 200, NULL, NULL);
	srv_reply(inv, 487, NULL, NULL);
	RUN_UNTIL(S.ended == 1);
	assert_int_equal(S.why, AGENT_CALL_END_NOANSWER);
	assert_int_equal(S.status, 487);
}

/* The callee hangs up: its BYE gets 200 (481 with a wrong tag). */
static void test_out_remote_bye(void **state)
{
	struct agent_call *c = call_out();
	struct got *inv = find_msg("INVITE", 0, 0);
	char cid[128], ltag[32];

	srv_reply(inv, 200, RR CONTACT, ANSWER);
	RUN_UNTIL(S.answered == 1);
	sip_str_copy(inv->m.call_id, cid, sizeof(cid));
	sip_str_copy(inv->m.from.tag, ltag, sizeof(ltag));
	S.from_tag = "calleetag";
	srv_request("BYE", "z9hG4bKbye1", cid, 5, "nosuchtag", NULL, NULL);
	RUN_UNTIL(find_msg("BYE", 481, 0));
	assert_int_equal(agent_call_state(c), AGENT_CALL_CONFIRMED);
	srv_request("BYE", "z9hG4bKbye2", cid, 6, ltag, NULL, NULL);
	RUN_UNTIL(find_msg("BYE", 200, 0));
	RUN_UNTIL(S.ended == 1);
	assert_int_equal(S.why, AGENT_CALL_END_REMOTE);
	assert_int_equal(S.status, 200);
	assert_int_equal(agent_call_count(A), 0);
}

/* ------------------------------------------------------------ in */

#define IN_RR "Record-Route: <sip:core.test;lr>\r\nRecord-Route: <sip:edge.test;lr>\r\n"
#define IN_CONTACT "Contact: <sip:" PEER "@10.0.0.7:5062>\r\n"

static void invite_in(const char *call_id)
{
	srv_request("INVITE", "z9hG4bKinv1", call_id, 10, NULL, IN_RR IN_CONTACT, OFFER);
	RUN_UNTIL(S.incoming == 1);
	assert_string_equal(S.sdp, OFFER);
	RUN_UNTIL(find_msg("INVITE", 100, 0));
}

/* Ring, answer, the 2xx resent until the ACK, re-INVITE, their BYE. */
static void test_in_answer(void **state)
{
	struct got *r180, *r200, *rr;
	char tag[32];

	invite_in("in1@test");
	RUN_UNTIL((r180 = find_msg("INVITE", 180, 0)));
	assert_true(sip_str_present(r180->m.to.tag));
	sip_str_copy(r180->m.to.tag, tag, sizeof(tag));
	assert_int_equal(agent_call_state(S.in_call), AGENT_CALL_RINGING);
	assert_int_equal(agent_call_answer(S.in_call, ANSWER, strlen(ANSWER)), 0);
	RUN_UNTIL((r200 = find_msg("INVITE", 200, 0)));
	assert_true(sip_str_eq(r200->m.body, ANSWER));
	assert_true(sip_str_eq(r200->m.to.tag, tag));
	assert_true(has_line(r200, IN_RR));
	assert_non_null(sip_msg_hdr(&r200->m, SIP_HDR_CONTACT));
	/* no ACK: the 2xx comes again (T1 = 500 ms) */
	RUN_UNTIL(find_msg("INVITE", 200, 1));
	assert_int_equal(S.answered, 0);
	/* the INVITE retransmitted after the 2xx gets the 2xx */
	srv_request("INVITE", "z9hG4bKinv1", "in1@test", 10, NULL, IN_RR IN_CONTACT, OFFER);
	RUN_UNTIL(find_msg("INVITE", 200, 2));
	assert_int_equal(S.incoming, 1);
	srv_request("ACK", "z9hG4bKack1", "in1@test", 10, tag, NULL, NULL);
	RUN_UNTIL(S.answered == 1);
	assert_string_equal(S.sdp, OFFER);
	assert_int_equal(agent_call_state(S.in_call), AGENT_CALL_CONFIRMED);
	run_for(1200);
	assert_null(find_msg("INVITE", 200, 3)); /* resending stopped */

	/* a re-INVITE keeps our SDP */
	srv_request("INVITE", "z9hG4bKre1", "in1@test", 11, tag, NULL, OFFER);
	RUN_UNTIL((rr = find_msg("INVITE", 200, 3)));
	assert_true(sip_str_eq(rr->m.body, ANSWER));
	assert_int_equal(rr->m.cseq.num, 11);
	srv_request("ACK", "z9hG4bKack2", "in1@test", 11, tag, NULL, NULL);

	srv_request("BYE", "z9hG4bKbye1", "in1@test", 12, tag, NULL, NULL);
	RUN_UNTIL(S.ended == 1);
	assert_int_equal(S.why, AGENT_CALL_END_REMOTE);
	RUN_UNTIL(find_msg("BYE", 200, 0));
	/* the BYE again: absorbed by its transaction (200 again) */
	srv_request("BYE", "z9hG4bKbye1", "in1@test", 12, tag, NULL, NULL);
	RUN_UNTIL(find_msg("BYE", 200, 1));
	/* a new BYE for the gone dialog: 481 */
	srv_request("BYE", "z9hG4bKbye2", "in1@test", 13, tag, NULL, NULL);
	RUN_UNTIL(find_msg("BYE", 481, 0));
	assert_int_equal(S.ended, 1);
}

/* We hang up an answered incoming call: BYE along the route set in
 * order, to the caller's Contact, From our tag. */
static void test_in_local_bye(void **state)
{
	struct got *r200, *bye;
	char tag[32];

	S.in_action = 2;
	invite_in("in2@test");
	assert_int_equal(agent_call_state(S.in_call), AGENT_CALL_INCOMING);
	assert_int_equal(agent_call_answer(S.in_call, ANSWER, strlen(ANSWER)), 0);
	assert_int_equal(agent_call_answer(S.in_call, ANSWER, strlen(ANSWER)), -EALREADY);
	RUN_UNTIL((r200 = find_msg("INVITE", 200, 0)));
	sip_str_copy(r200->m.to.tag, tag, sizeof(tag));
	srv_request("ACK", "z9hG4bKack1", "in2@test", 10, tag, NULL, NULL);
	RUN_UNTIL(S.answered == 1);
	assert_int_equal(agent_call_hangup(S.in_call), 0);
	RUN_UNTIL((bye = find_msg("BYE", 0, 0)));
	assert_true(sip_str_eq(bye->m.ruri_str, "sip:" PEER "@10.0.0.7:5062"));
	assert_true(has_line(bye, "Route: <sip:core.test;lr>\r\nRoute: <sip:edge.test;lr>\r\n"));
	assert_true(sip_str_eq(bye->m.from.tag, tag));
	assert_true(sip_str_eq(bye->m.to.tag, "callertag"));
	assert_true(sip_str_eq(bye->m.to.uri_str, "sip:" PEER "@" REALM));
	srv_reply(bye, 200, NULL, NULL);
	RUN_UNTIL(S.ended == 1);
	assert_int_equal(S.why, AGENT_CALL_END_LOCAL);
}

/* The caller cancels while we ring: 200 to CANCEL, 487 to the INVITE. */
static void test_in_cancel(void **state)
{
	invite_in("in3@test");
	RUN_UNTIL(find_msg("INVITE", 180, 0));
	srv_request("CANCEL", "z9hG4bKinv1", "in3@test", 10, NULL, NULL, NULL);
	RUN_UNTIL(find_msg("CANCEL", 200, 0) && find_msg("INVITE", 487, 0));
	RUN_UNTIL(S.ended == 1);
	assert_int_equal(S.why, AGENT_CALL_END_CANCELLED);
	assert_int_equal(S.status, 487);
	/* the 487 is resent until the ACK (timer G), then absorbed */
	RUN_UNTIL(find_msg("INVITE", 487, 1));
	srv_request("ACK", "z9hG4bKinv1", "in3@test", 10, "x", NULL, NULL);
	/* a CANCEL for nothing: 481 */
	srv_request("CANCEL", "z9hG4bKzzz", "nope@test", 10, NULL, NULL, NULL);
	RUN_UNTIL(find_msg("CANCEL", 481, 0));
}

static void test_in_reject(void **state)
{
	S.in_action = 1;
	srv_request("INVITE", "z9hG4bKinv1", "in4@test", 10, NULL, IN_CONTACT, OFFER);
	RUN_UNTIL(find_msg("INVITE", 486, 0));
	RUN_UNTIL(S.ended == 1);
	assert_int_equal(S.why, AGENT_CALL_END_REJECTED);
	assert_int_equal(agent_call_count(A), 0);
	/* a re-INVITE for no dialog: 481 */
	srv_request("INVITE", "z9hG4bKinv9", "in5@test", 10, "nosuch", NULL, OFFER);
	RUN_UNTIL(find_msg("INVITE", 481, 0));
}

/* The server's C3 gate asks for figures: OPTIONS -> X-Dataline-Net. */
static void test_options_net(void **state)
{
	struct got *ok;

	srv_request("OPTIONS", "z9hG4bKopt1", "opt1@test", 1, NULL, NULL, NULL);
	RUN_UNTIL((ok = find_msg("OPTIONS", 200, 0)));
	assert_null(sip_msg_hdr_byname(&ok->m, "X-Dataline-Net"));
	assert_true(has_line(ok, "INVITE, ACK, CANCEL, BYE"));
	agent_call_on_net(A, net_figures, NULL);
	srv_request("OPTIONS", "z9hG4bKopt2", "opt2@test", 1, NULL, NULL, NULL);
	RUN_UNTIL((ok = find_msg("OPTIONS", 200, 1)));
	assert_true(has_line(ok, "X-Dataline-Net: rate=812;rtt=43;loss=7000\r\n"));
}

/* ------------------------------------------------------------ pure */

static void test_route_set(void **state)
{
	static const char msg[] =
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		"Record-Route: <sip:a;lr>, <sip:b;lr;x=\"q,r\">\r\n"
		"Record-Route: <sip:c;lr>\r\n"
		"From: <sip:x@y>;tag=1\r\nTo: <sip:z@y>;tag=2\r\nCall-ID: c\r\n"
		"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	static struct sip_msg m;
	char out[256], small[20];

	assert_int_equal(sip_msg_parse(msg, sizeof(msg) - 1, SIP_PARSE_DGRAM, &m, NULL), 0);
	assert_int_equal(agent_call_route_set(&m, 1, out, sizeof(out)), 0);
	assert_string_equal(out, "Route: <sip:c;lr>\r\nRoute: <sip:b;lr;x=\"q,r\">\r\n"
			    "Route: <sip:a;lr>\r\n");
	assert_int_equal(agent_call_route_set(&m, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "Route: <sip:a;lr>\r\nRoute: <sip:b;lr;x=\"q,r\">\r\n"
			    "Route: <sip:c;lr>\r\n");
	assert_int_equal(agent_call_route_set(&m, 0, small, sizeof(small)), -ENOSPC);
}

static void test_route_set_bad(void **state)
{
	static const char msg[] =
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		"Record-Route: <sip:a;lr>,,<sip:b>\r\n"
		"From: <sip:x@y>;tag=1\r\nTo: <sip:z@y>;tag=2\r\nCall-ID: c\r\n"
		"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	static struct sip_msg m;
	char out[256];

	assert_int_equal(sip_msg_parse(msg, sizeof(msg) - 1, SIP_PARSE_DGRAM, &m, NULL), 0);
	assert_int_equal(agent_call_route_set(&m, 1, out, sizeof(out)), -EBADMSG);
}

static void test_warn_code(void **state)
{
	static const struct { const char *in; int code; } t[] = {
		{ "370 dataline.test \"Insufficient bandwidth\"", 370 },
		{ "399 h \"x\"", 399 },
		{ "370", -EINVAL },
		{ "37 h \"x\"", -EINVAL },
		{ "abc h", -EINVAL },
		{ "", -EINVAL },
		{ "099 h \"x\"", -EINVAL },
	};
	struct agent_net n = { 1, 2, 3 };
	char out[64], tiny[8];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(agent_call_warn_code(t[i].in), t[i].code);
	assert_int_equal(agent_call_warn_code(NULL), -EINVAL);
	assert_int_equal(agent_net_format(&n, out, sizeof(out)), 0);
	assert_string_equal(out, "rate=1;rtt=2;loss=3");
	assert_int_equal(agent_net_format(&n, tiny, sizeof(tiny)), -ENOSPC);
	assert_string_equal(agent_call_state_name(AGENT_CALL_CONFIRMED), "confirmed");
	assert_string_equal(agent_call_end_name(AGENT_CALL_END_NOANSWER), "no-answer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_out_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_488_warning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_no_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_remote_bye, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_local_bye, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_net, setup, teardown),
		cmocka_unit_test(test_route_set),
		cmocka_unit_test(test_route_set_bad),
		cmocka_unit_test(test_warn_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
