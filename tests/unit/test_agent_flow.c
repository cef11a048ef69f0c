/*
 * test_agent_flow: the registration agent (user/agent) end to end against
 * a small registrar written here with lib/sip (RFC 3261 s.10, s.22;
 * RFC 8760) on loopback UDP and TCP, inside one libevent loop. Checks the
 * digest answer (SHA-256 preferred, verified with sip_digest_verify), the
 * nonce-count growing on refreshes that reuse the challenge, 423 handling,
 * a stale nonce, a wrong password (no endless retry), UDP retransmission
 * (timer E), RFC 5626 keep-alive and flow recovery over TCP, removal of a
 * stale Contact, and the Expires: 0 unregistration on stop. No test
 * depends on how long anything takes: the loop runs until a condition
 * holds, with a generous safety cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "dataline/agent.h"
#include "dataline/log.h"
#include "dataline/sip.h"

#define REALM "dataline.test"
#define USER "+8613800138000"
#define DIGEST_USER "8613800138000-0badcafe"
#define PASSWORD "correct horse battery staple"

struct seen {
	uint32_t expires;
	int auth;             /* had Authorization */
	int auth_ok;
	enum sip_digest_alg alg;
	uint32_t nc;
	uint32_t cseq;
	int instance;         /* Contact carried +sip.instance */
	int removed;          /* Contact values with expires=0 */
	char branch[64];
	char removed_uri[128];
};

static struct {
	struct event_base *base;
	int fd;
	struct event *ev;
	uint16_t port;
	/* behaviour */
	uint32_t max_expires, min_expires;
	int stale_once;       /* answer the next good credentials with stale */
	int drop;             /* ignore this many requests (lost datagrams) */
	int pong;             /* TCP: answer keep-alive pings */
	int pings;
	struct evconnlistener *lis;
	uint16_t tcp_port;
	struct bufferevent *conns[8], *cur_bev;
	int nconns;
	char nonce[32];
	int nonce_gen;
	/* record */
	struct seen req[32];
	int nreq;
	enum agent_state states[64];
	int nstates;
	int registered, stopped;
} R;

static void reply(const struct sip_msg *m, const struct sockaddr *to, socklen_t tolen,
		  int status, int challenge, int stale, uint32_t granted)
{
	char buf[4096];
	struct sip_buf b;
	const struct sip_hdr *h;
	size_t len;

	sip_buf_init(&b, buf, sizeof(buf));
	sip_resp_begin(&b, m, status, NULL, "regtag", NULL);
	if (challenge) {
		sip_digest_challenge_add(&b, "WWW-Authenticate", SIP_DIGEST_SHA256, REALM,
					 R.nonce, stale, NULL);
		sip_digest_challenge_add(&b, "WWW-Authenticate", SIP_DIGEST_MD5, REALM,
					 R.nonce, stale, NULL);
	}
	if (status == 423)
		sip_buf_hdr(&b, "Min-Expires", "%u", R.min_expires);
	if (status == 200 && granted && (h = sip_msg_hdr(m, SIP_HDR_CONTACT))) {
		struct sip_contact c;
		assert_int_equal(sip_contact_decode(h->value, &c), 0);
		sip_buf_hdr(&b, "Contact", "<%.*s>;expires=%u", (int)c.addr.uri_str.len,
			    c.addr.uri_str.p, granted);
	}
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &len), 0);
	if (R.cur_bev)
		assert_int_equal(bufferevent_write(R.cur_bev, buf, len), 0);
	else
		assert_true(sendto(R.fd, buf, len, 0, to, tolen) == (ssize_t)len);
}

static void new_nonce(void)
{
	snprintf(R.nonce, sizeof(R.nonce), "nonce%d", ++R.nonce_gen);
}

/* One REGISTER from the agent; answers through reply(). */
static void registrar_handle(const char *buf, size_t n, int stream,
			     struct sockaddr_storage from, socklen_t flen)
{
	static struct sip_msg m;
	struct sip_digest_credentials cr;
	const struct sip_hdr *h;
	struct seen *s;

	assert_int_equal(sip_msg_parse(buf, n, stream ? SIP_PARSE_STREAM : SIP_PARSE_DGRAM,
				       &m, NULL), 0);
	assert_true(m.is_request);
	assert_int_equal(m.method_id, SIP_METHOD_REGISTER);
	assert_true(R.nreq < 32);
	s = &R.req[R.nreq++];
	memset(s, 0, sizeof(*s));
	s->expires = m.expires < 0 ? 3600 : (uint32_t)m.expires;
	sip_str_copy(m.via.branch, s->branch, sizeof(s->branch));
	s->cseq = m.cseq.num;
	h = sip_msg_hdr(m.is_request ? &m : NULL, SIP_HDR_CONTACT);
	assert_non_null(h);
	s->instance = memmem(h->value.p, h->value.len, "+sip.instance=\"<urn:uuid:", 24) != NULL;
	{
		struct sip_list_iter it;
		struct sip_contact c;
		struct sip_str v;

		sip_list_init(&it, &m, SIP_HDR_CONTACT);
		while (sip_list_next(&it, &v) == 0) {
			assert_int_equal(sip_contact_decode(v, &c), 0);
			if (c.expires == 0) {
				s->removed++;
				sip_str_copy(c.addr.uri_str, s->removed_uri,
					     sizeof(s->removed_uri));
			}
		}
	}
	/* the AOR is the number at the domain, in To and From */
	assert_true(sip_str_eq(m.to.uri.user, USER));
	assert_true(sip_str_eq(m.to.uri.host, REALM));

	if (R.drop > 0) {
		R.drop--;
		return;
	}
	h = sip_msg_hdr(&m, SIP_HDR_AUTHORIZATION);
	if (!h) {
		reply(&m, (struct sockaddr *)&from, flen, 401, 1, 0, 0);
		return;
	}
	s->auth = 1;
	assert_int_equal(sip_digest_credentials_decode(h->value, &cr), 0);
	assert_true(sip_str_eq(cr.username, DIGEST_USER));
	s->alg = cr.alg;
	s->nc = cr.nc_value;
	char ha1[SIP_DIGEST_HEX_MAX];
	assert_int_equal(sip_digest_ha1(cr.alg, DIGEST_USER, REALM, PASSWORD, ha1), 0);
	s->auth_ok = sip_digest_verify(&cr, m.method, ha1) == 0 &&
		     sip_str_eq(cr.nonce, R.nonce);
	if (!s->auth_ok) {
		reply(&m, (struct sockaddr *)&from, flen, 401, 1, 0, 0);
		return;
	}
	if (R.stale_once) {
		R.stale_once = 0;
		new_nonce();
		reply(&m, (struct sockaddr *)&from, flen, 401, 1, 1, 0);
		return;
	}
	if (s->expires && s->expires < R.min_expires) {
		reply(&m, (struct sockaddr *)&from, flen, 423, 0, 0, 0);
		return;
	}
	uint32_t g = s->expires < R.max_expires ? s->expires : R.max_expires;
	reply(&m, (struct sockaddr *)&from, flen, 200, 0, 0, g);
}

static void registrar_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[8192];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	if (n > 0)
		registrar_handle(buf, (size_t)n, 0, from, flen);
}

/* TCP: frames with sip_frame; pings answered while R.pong is set. */
static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct sockaddr_storage none = { 0 };
	struct sip_frame fr;
	size_t len;

	while ((len = evbuffer_get_length(in)) > 0) {
		const char *p = (const char *)evbuffer_pullup(in, -1);

		if (sip_frame(p, len, 65536, &fr) != 0)
			return;
		if (fr.kind == SIP_FRAME_MSG) {
			R.cur_bev = bev;
			registrar_handle(p, fr.len, 1, none, 0);
			R.cur_bev = NULL;
		} else if (fr.kind == SIP_FRAME_PING) {
			R.pings++;
			if (R.pong)
				bufferevent_write(bev, "\r\n", 2);
		}
		evbuffer_drain(in, fr.len);
	}
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		for (int i = 0; i < R.nconns; i++)
			if (R.conns[i] == bev)
				R.conns[i] = NULL;
		bufferevent_free(bev);
	}
}

static void tcp_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
			  struct sockaddr *sa, int salen, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(R.base, fd, BEV_OPT_CLOSE_ON_FREE);

	assert_non_null(bev);
	assert_true(R.nconns < 8);
	R.conns[R.nconns++] = bev;
	bufferevent_setcb(bev, tcp_read_cb, NULL, tcp_event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_state(void *arg, enum agent_state st, int status)
{
	if (R.nstates < 64)
		R.states[R.nstates++] = st;
	if (st == AGENT_REGISTERED)
		R.registered++;
	if (st == AGENT_STOPPED)
		R.stopped = 1;
	event_base_loopbreak(R.base);
}

static int setup(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	memset(&R, 0, sizeof(R));
	log_set_level(LOG_LVL_ERROR);
	R.max_expires = 3600;
	new_nonce();
	R.base = event_base_new();
	assert_non_null(R.base);
	R.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(R.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(R.fd, (struct sockaddr *)&sa, &len), 0);
	R.port = ntohs(sa.sin_port);
	R.ev = event_new(R.base, R.fd, EV_READ | EV_PERSIST, registrar_cb, NULL);
	event_add(R.ev, NULL);
	sa.sin_port = 0;
	R.lis = evconnlistener_new_bind(R.base, tcp_accept_cb, NULL,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
					(struct sockaddr *)&sa, sizeof(sa));
	assert_non_null(R.lis);
	len = sizeof(sa);
	assert_int_equal(getsockname(evconnlistener_get_fd(R.lis), (struct sockaddr *)&sa, &len), 0);
	R.tcp_port = ntohs(sa.sin_port);
	return 0;
}

static int teardown(void **state)
{
	for (int i = 0; i < R.nconns; i++)
		if (R.conns[i])
			bufferevent_free(R.conns[i]);
	evconnlistener_free(R.lis);
	event_free(R.ev);
	close(R.fd);
	event_base_free(R.base);
	return 0;
}

static const char *stale_contact;

static struct agent *make_agent(const char *password, uint32_t expires)
{
	static const struct agent_events ev = { .state = on_state };
	struct agent_config cfg = {
		.transport = AGENT_TP_UDP, .host = "127.0.0.1", .port = R.port,
		.domain = REALM, .user = USER, .username = DIGEST_USER,
		.password = password, .expires = expires,
		.instance = "urn:uuid:00000000-0000-4000-8000-000000000001",
		.retry_base = 60, .stale_contact = stale_contact,
	};
	struct agent *a = NULL;

	assert_int_equal(agent_new(R.base, &cfg, &ev, NULL, &a), 0);
	return a;
}

/* Runs the loop until COND holds; fails after 40 s (a hang, not a timing:
 * the slowest test waits for the 10 s pong deadline). */
#define RUN_UNTIL(cond) do {						\
	time_t t0 = time(NULL);						\
	while (!(cond)) {						\
		assert_true(time(NULL) - t0 < 40);			\
		event_base_loop(R.base, EVLOOP_ONCE);			\
	}								\
} while (0)

static void test_register_and_unregister(void **state)
{
	struct agent *a = make_agent(PASSWORD, 3600);

	R.max_expires = 600;
	assert_int_equal(agent_start(a), 0);
	RUN_UNTIL(R.registered == 1);
	assert_int_equal(agent_state(a), AGENT_REGISTERED);
	assert_int_equal(agent_granted(a), 600);       /* what the registrar granted */
	assert_int_equal(R.nreq, 2);
	assert_false(R.req[0].auth);                   /* challenged first */
	assert_true(R.req[1].auth_ok);
	assert_int_equal(R.req[1].alg, SIP_DIGEST_SHA256); /* RFC 8760 preferred */
	assert_int_equal(R.req[1].nc, 1);
	assert_int_equal(R.req[1].cseq, R.req[0].cseq + 1);
	assert_true(R.req[1].instance);
	assert_int_equal(R.req[1].removed, 0);
	assert_non_null(strstr(agent_contact(a), ";transport=udp"));

	assert_int_equal(agent_stop(a, 5000), 0);
	RUN_UNTIL(R.stopped);
	assert_int_equal(R.nreq, 3);
	assert_int_equal(R.req[2].expires, 0);
	assert_true(R.req[2].auth_ok);
	assert_int_equal(R.req[2].nc, 2);              /* reused challenge, nc grows */
	assert_int_equal(agent_state(a), AGENT_STOPPED);
	assert_int_equal(agent_stop(a, 1000), -EALREADY);
	agent_free(a);
}

static void test_refresh_reuses_nonce(void **state)
{
	struct agent *a = make_agent(PASSWORD, 3600);

	R.max_expires = 2;                             /* refresh after 1 s */
	agent_start(a);
	RUN_UNTIL(R.registered == 3);
	assert_int_equal(R.nreq, 4);
	assert_true(R.req[2].auth_ok && R.req[3].auth_ok);
	assert_int_equal(R.req[2].nc, 2);
	assert_int_equal(R.req[3].nc, 3);
	assert_int_equal(R.req[3].cseq, R.req[0].cseq + 3);
	agent_free(a);
}

static void test_interval_too_brief(void **state)
{
	struct agent *a = make_agent(PASSWORD, 60);

	R.min_expires = 900;
	agent_start(a);
	RUN_UNTIL(R.registered == 1);
	assert_int_equal(R.nreq, 3);
	assert_int_equal(R.req[1].expires, 60);
	assert_int_equal(R.req[2].expires, 900);       /* raised to Min-Expires */
	assert_int_equal(agent_granted(a), 900);
	agent_free(a);
}

static void test_stale_nonce(void **state)
{
	struct agent *a = make_agent(PASSWORD, 3600);

	R.stale_once = 1;
	agent_start(a);
	RUN_UNTIL(R.registered == 1);
	assert_int_equal(R.nreq, 3);
	assert_true(R.req[1].auth_ok);                 /* answered with stale=true */
	assert_true(R.req[2].auth_ok);
	assert_int_equal(R.req[2].nc, 1);              /* new nonce, count restarts */
	agent_free(a);
}

static void test_wrong_password_backs_off(void **state)
{
	struct agent *a = make_agent("wrong password", 3600);

	agent_start(a);
	RUN_UNTIL(agent_state(a) == AGENT_BACKOFF);
	assert_int_equal(R.nreq, 2);                   /* no third attempt now */
	assert_true(R.req[1].auth);
	assert_false(R.req[1].auth_ok);
	assert_int_equal(R.registered, 0);
	/* stopping while backing off still tries to unregister, then stops */
	assert_int_equal(agent_stop(a, 3000), 0);
	RUN_UNTIL(R.stopped);
	agent_free(a);
}

/* A lost datagram is retransmitted (timer E, RFC 3261 s.17.1.2). */
static void test_udp_retransmission(void **state)
{
	struct agent *a = make_agent(PASSWORD, 3600);

	R.drop = 2;
	agent_start(a);
	RUN_UNTIL(R.registered == 1);
	assert_int_equal(R.nreq, 4);
	/* the same request three times: same branch, same CSeq */
	assert_string_equal(R.req[0].branch, R.req[1].branch);
	assert_string_equal(R.req[1].branch, R.req[2].branch);
	assert_int_equal(R.req[0].cseq, R.req[2].cseq);
	assert_false(R.req[2].auth);
	assert_true(R.req[3].auth_ok);
	assert_string_not_equal(R.req[3].branch, R.req[2].branch);
	agent_free(a);
}

/*
 * TCP: RFC 5626 keep-alive. Pings are answered, so the registrar is known
 * to pong; when it stops answering, the flow is declared dead after 10 s,
 * a new connection is made at once and the REGISTER on it removes the
 * Contact of the dead one.
 */
static void test_tcp_keepalive_flow_failure(void **state)
{
	static const struct agent_events ev = { .state = on_state };
	struct agent_config cfg = {
		.transport = AGENT_TP_TCP, .host = "127.0.0.1", .port = R.tcp_port,
		.domain = REALM, .user = USER, .username = DIGEST_USER,
		.password = PASSWORD, .keepalive = 1, .retry_base = 60,
	};
	char first[256];
	struct agent *a = NULL;

	assert_int_equal(agent_new(R.base, &cfg, &ev, NULL, &a), 0);
	R.pong = 1;
	agent_start(a);
	RUN_UNTIL(R.registered == 1 && R.pings >= 2);
	assert_int_equal(R.nconns, 1);
	assert_non_null(strstr(agent_contact(a), ";transport=tcp"));
	snprintf(first, sizeof(first), "%s", agent_contact(a));
	R.pong = 0;                                    /* the flow goes silent */
	RUN_UNTIL(R.registered == 2);
	assert_int_equal(R.nconns, 2);                 /* a new connection */
	assert_string_not_equal(agent_contact(a), first);
	assert_int_equal(R.req[R.nreq - 1].removed, 1);
	assert_string_equal(R.req[R.nreq - 1].removed_uri, first);
	agent_free(a);
}

/* A Contact left by an earlier run is removed along with registering. */
static void test_stale_contact_removed(void **state)
{
	struct agent *a;

	stale_contact = "sip:" USER "@127.0.0.1:9;transport=udp";
	a = make_agent(PASSWORD, 3600);
	stale_contact = NULL;
	agent_start(a);
	RUN_UNTIL(R.registered == 1);
	assert_int_equal(R.req[1].removed, 1);
	assert_string_equal(R.req[1].removed_uri, "sip:" USER "@127.0.0.1:9;transport=udp");
	assert_int_equal(agent_stop(a, 5000), 0);
	RUN_UNTIL(R.stopped);
	/* the unregistration removes only our own Contact now */
	assert_int_equal(R.req[2].removed, 1);
	assert_string_equal(R.req[2].removed_uri, agent_contact(a));
	assert_int_equal(R.req[0].removed, 1);
	agent_free(a);
}

static void test_new_rejects_bad_config(void **state)
{
	struct agent_config cfg = { .transport = AGENT_TP_TLS, .host = "h", .port = 1,
				    .domain = "d", .user = "u", .username = "n",
				    .password = "p" };
	struct agent *a = (struct agent *)0x1;

	cfg.trust.pin_sha256 = "not-a-pin";
	assert_int_equal(agent_new(R.base, &cfg, NULL, NULL, &a), -EINVAL);
	cfg.trust.pin_sha256 = NULL;
	cfg.port = 0;
	assert_int_equal(agent_new(R.base, &cfg, NULL, NULL, &a), -EINVAL);
	assert_ptr_equal(a, (struct agent *)0x1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_and_unregister, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_reuses_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interval_too_brief, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password_backs_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_contact_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_retransmission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_keepalive_flow_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_rejects_bad_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
