/*
 * test_sip_tx: the SIP transaction layer (RFC 3261 s.17) against a fake
 * clock: every timer (A, B, D, E, F, G, H, I, J, K) is checked by the exact
 * times it fires, never by real time. Matching per 17.2.3 (magic cookie and
 * the RFC 2543 fallback) and 17.1.3.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "dataline/sip_tx.h"

#define S(x) { x, sizeof(x) - 1 }

struct sent {
	uint64_t at;
	char what[32];
};

static struct {
	uint64_t now;
	struct sent log[64];
	int n;
	int timeouts;
} F;

static int fake_send(void *arg, const void *peer, size_t peer_len,
		     const char *buf, size_t len)
{
	(void)arg;
	assert_int_equal(peer_len, 4);
	assert_memory_equal(peer, "peer", 4);
	if (F.n < 64) {
		F.log[F.n].at = F.now;
		snprintf(F.log[F.n].what, sizeof(F.log[F.n].what), "%.*s",
			 (int)len, buf);
		F.n++;
	}
	return 0;
}

static void fake_timeout(void *arg, struct sip_tx *tx)
{
	(void)arg;
	(void)tx;
	F.timeouts++;
}

static const struct sip_tx_ops ops = { fake_send, fake_timeout };

/* Advances the fake clock to T, firing every deadline on the way in order. */
static void run_until(struct sip_tx_table *tbl, uint64_t t)
{
	for (;;) {
		uint64_t d = sip_tx_next_deadline(tbl);
		if (d > t)
			break;
		F.now = d;
		sip_tx_process(tbl, d);
	}
	F.now = t;
}

static int setup(void **state)
{
	struct sip_tx_table *tbl;

	memset(&F, 0, sizeof(F));
	F.now = 1000;
	assert_int_equal(sip_tx_table_new(&ops, NULL, NULL, &tbl), 0);
	*state = tbl;
	return 0;
}

static int teardown(void **state)
{
	sip_tx_table_free(*state);
	return 0;
}

static struct sip_tx_key key3261(const char *method, const char *branch,
				 const char *sent_by)
{
	struct sip_tx_key k;

	memset(&k, 0, sizeof(k));
	k.method.p = method;
	k.method.len = strlen(method);
	k.branch.p = branch;
	k.branch.len = strlen(branch);
	k.sent_by.p = sent_by;
	k.sent_by.len = strlen(sent_by);
	return k;
}

static void expect_sends(const uint64_t *times, int n, const char *what)
{
	int i;

	assert_int_equal(F.n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(F.log[i].at, times[i]);
		if (what)
			assert_string_equal(F.log[i].what, what);
	}
}

/* Non-INVITE server tx over UDP: retransmissions get the stored response,
 * timer J (64*T1) ends absorption. */
static void test_server_non_invite_udp(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("REGISTER", "z9hG4bK-abc", "10.0.0.1:5060");
	enum sip_tx_verdict v;
	struct sip_tx *tx;

	assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_NEW);
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx), 0);
	assert_int_equal(sip_tx_state(tx), SIP_TX_TRYING);
	/* retransmission before any response: absorbed silently */
	assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(F.n, 0);
	assert_int_equal(sip_tx_server_respond(tx, 200, "200", 3, F.now), 0);
	assert_int_equal(F.n, 1);
	run_until(tbl, 5000);
	assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(F.n, 2);
	assert_string_equal(F.log[1].what, "200");
	/* sent-by compares case-insensitively */
	k.sent_by.p = "10.0.0.1:5060";
	assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(sip_tx_count(tbl), 1);
	assert_int_equal(sip_tx_next_deadline(tbl), 1000 + 32000);
	run_until(tbl, 1000 + 31999);
	assert_int_equal(sip_tx_count(tbl), 1);
	run_until(tbl, 1000 + 32000);
	assert_int_equal(sip_tx_count(tbl), 0);
	assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_NEW);
	assert_int_equal(F.timeouts, 0);
}

/* Over TCP/TLS a final non-INVITE response ends the tx at once (J = 0). */
static void test_server_non_invite_reliable(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("OPTIONS", "z9hG4bK1", "h.example.com");
	struct sip_tx *tx;
	enum sip_tx_verdict v;

	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 1, F.now, &tx), 0);
	assert_int_equal(sip_tx_server_respond(tx, 100, "100", 3, F.now), 0);
	assert_int_equal(sip_tx_state(tx), SIP_TX_PROCEEDING);
	assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(F.n, 2); /* 100 resent */
	assert_int_equal(sip_tx_server_respond(tx, 200, "200", 3, F.now), 0);
	assert_int_equal(sip_tx_count(tbl), 0);
	assert_int_equal(sip_tx_next_deadline(tbl), UINT64_MAX);
}

/* Same branch, other method (CANCEL) or other sent-by: a different tx. */
static void test_server_match_rules(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("INVITE", "z9hG4bKx", "a.example:5060");
	struct sip_tx_key c = key3261("CANCEL", "z9hG4bKx", "a.example:5060");
	struct sip_tx_key o = key3261("INVITE", "z9hG4bKx", "b.example:5060");
	struct sip_tx_key b = key3261("INVITE", "z9hG4bKX", "a.example:5060");
	struct sip_tx *tx;
	enum sip_tx_verdict v;

	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx), 0);
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx),
			 -EEXIST);
	assert_int_equal(sip_tx_server_receive(tbl, &c, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_NEW);
	assert_int_equal(sip_tx_server_receive(tbl, &o, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_NEW);
	assert_int_equal(sip_tx_server_receive(tbl, &b, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_NEW); /* branch is case-sensitive */
	assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	/* ACK never creates a server tx; missing method is rejected */
	c.method.p = "ACK";
	c.method.len = 3;
	assert_int_equal(sip_tx_server_new(tbl, &c, "peer", 4, 0, F.now, &tx),
			 -EINVAL);
	c.method.len = 0;
	assert_int_equal(sip_tx_server_receive(tbl, &c, F.now, &v), -EINVAL);
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", SIP_TX_PEER_MAX + 1,
					   0, F.now, &tx), -EINVAL);
}

/* INVITE server tx, 486 over UDP, no ACK: timer G doubles to T2, H ends. */
static void test_server_invite_timer_g_h(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("INVITE", "z9hG4bKinv", "a:5060");
	static const uint64_t t[] = {
		1000, 1500, 2500, 4500, 8500, 12500, 16500, 20500,
		24500, 28500, 32500,
	};
	struct sip_tx *tx;

	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx), 0);
	assert_int_equal(sip_tx_state(tx), SIP_TX_PROCEEDING);
	assert_int_equal(sip_tx_server_respond(tx, 486, "486", 3, F.now), 0);
	run_until(tbl, 1000 + 40000);
	expect_sends(t, 11, "486");
	assert_int_equal(sip_tx_count(tbl), 0);
	assert_int_equal(F.timeouts, 0);
}

/* ACK (same branch) confirms: G stops; timer I (T4) absorbs more ACKs. */
static void test_server_invite_ack(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("INVITE", "z9hG4bKinv", "a:5060");
	struct sip_tx_key a = key3261("ACK", "z9hG4bKinv", "a:5060");
	struct sip_tx *tx;
	enum sip_tx_verdict v;

	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx), 0);
	assert_int_equal(sip_tx_server_respond(tx, 100, "100", 3, F.now), 0);
	assert_int_equal(sip_tx_server_respond(tx, 603, "603", 3, F.now), 0);
	run_until(tbl, 1600); /* one G retransmission at 1500 */
	assert_int_equal(F.n, 3);
	assert_int_equal(sip_tx_server_receive(tbl, &a, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(sip_tx_state(tx), SIP_TX_CONFIRMED);
	assert_int_equal(sip_tx_next_deadline(tbl), 1600 + 5000);
	assert_int_equal(sip_tx_server_receive(tbl, &a, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	run_until(tbl, 1600 + 4999);
	assert_int_equal(F.n, 3); /* nothing more sent after the ACK */
	assert_int_equal(sip_tx_count(tbl), 1);
	run_until(tbl, 1600 + 5000);
	assert_int_equal(sip_tx_count(tbl), 0);
	/* a 2xx ends an INVITE server tx at once (the TU resends 2xx) */
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx), 0);
	assert_int_equal(sip_tx_server_respond(tx, 200, "200", 3, F.now), 0);
	assert_int_equal(sip_tx_count(tbl), 0);
}

/* RFC 2543 peers (no magic cookie): match on R-URI, tags, Call-ID, CSeq,
 * top Via; the ACK's To tag (ours) does not take part. */
static void test_server_rfc2543_fallback(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = {
		.branch = S("old-branch"), .sent_by = S("a:5060"),
		.method = S("INVITE"), .ruri = S("sip:bob@b.example"),
		.call_id = S("call-1@a"), .from_tag = S("ft1"),
		.to_tag = S(""), .cseq_num = S("7"),
		.via = S("SIP/2.0/UDP a:5060"),
	};
	struct sip_tx_key r = k, a = k, x = k, o = k;
	struct sip_tx *tx;
	enum sip_tx_verdict v;

	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx), 0);
	assert_int_equal(sip_tx_server_respond(tx, 404, "404", 3, F.now), 0);
	r.branch = (struct sip_tx_str)S(""); /* no branch at all is fine */
	assert_int_equal(sip_tx_server_receive(tbl, &r, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(F.n, 2);
	x.to_tag = (struct sip_tx_str)S("other");
	assert_int_equal(sip_tx_server_receive(tbl, &x, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_NEW);
	o.cseq_num = (struct sip_tx_str)S("8");
	assert_int_equal(sip_tx_server_receive(tbl, &o, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_NEW);
	a.method = (struct sip_tx_str)S("ACK");
	a.to_tag = (struct sip_tx_str)S("our-tag");
	assert_int_equal(sip_tx_server_receive(tbl, &a, F.now, &v), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(sip_tx_state(tx), SIP_TX_CONFIRMED);
}

/* Non-INVITE client over UDP with no answer: E at 500, 1000, 2000, 4000,
 * 4000... ms; F at 64*T1 reports a timeout once. */
static void test_client_non_invite_timeout(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("REGISTER", "z9hG4bKc1", "");
	static const uint64_t t[] = {
		1000, 1500, 2500, 4500, 8500, 12500, 16500, 20500,
		24500, 28500, 32500,
	};
	struct sip_tx *tx;

	assert_int_equal(sip_tx_client_new(tbl, &k, "peer", 4, 0, "REG", 3,
					   F.now, &tx), 0);
	assert_int_equal(sip_tx_state(tx), SIP_TX_TRYING);
	run_until(tbl, 1000 + 31999);
	assert_int_equal(F.timeouts, 0);
	run_until(tbl, 1000 + 32000);
	assert_int_equal(F.timeouts, 1);
	expect_sends(t, 11, "REG");
	assert_int_equal(sip_tx_count(tbl), 0);
}

/* 1xx moves E to T2; the final goes to the TU once; K (T4) cleans up. */
static void test_client_non_invite_responses(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("REGISTER", "z9hG4bKc2", "");
	struct sip_tx_key other = key3261("REGISTER", "z9hG4bKzz", "");
	struct sip_tx_key wrongm = key3261("OPTIONS", "z9hG4bKc2", "");
	struct sip_tx *tx, *m = NULL;
	enum sip_tx_verdict v;

	assert_int_equal(sip_tx_client_new(tbl, &k, "peer", 4, 0, "REG", 3,
					   F.now, &tx), 0);
	run_until(tbl, 1600); /* E at 1500 */
	assert_int_equal(sip_tx_client_receive(tbl, &k, 100, NULL, 0, F.now,
					       &v, &m), 0);
	assert_int_equal(v, SIP_TX_PASS);
	assert_ptr_equal(m, tx);
	assert_int_equal(sip_tx_state(tx), SIP_TX_PROCEEDING);
	run_until(tbl, 2500); /* the E already due at 2500 still fires */
	run_until(tbl, 6499);
	assert_int_equal(F.n, 3);
	run_until(tbl, 6500); /* then every T2 */
	assert_int_equal(F.n, 4);
	assert_int_equal(sip_tx_client_receive(tbl, &other, 200, NULL, 0, F.now,
					       &v, NULL), -ENOENT);
	assert_int_equal(sip_tx_client_receive(tbl, &wrongm, 200, NULL, 0,
					       F.now, &v, NULL), -ENOENT);
	assert_int_equal(sip_tx_client_receive(tbl, &k, 200, NULL, 0, F.now,
					       &v, NULL), 0);
	assert_int_equal(v, SIP_TX_PASS);
	assert_int_equal(sip_tx_client_receive(tbl, &k, 200, NULL, 0, F.now,
					       &v, NULL), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(sip_tx_next_deadline(tbl), 6500 + 5000);
	run_until(tbl, 20000);
	assert_int_equal(F.n, 4);
	assert_int_equal(F.timeouts, 0);
	assert_int_equal(sip_tx_count(tbl), 0);
	assert_int_equal(sip_tx_client_receive(tbl, &k, 200, NULL, 0, F.now,
					       &v, NULL), -ENOENT);
}

/* INVITE client over UDP: A doubles without cap; B at 64*T1. */
static void test_client_invite_timer_a_b(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("INVITE", "z9hG4bKi1", "");
	static const uint64_t t[] = {
		1000, 1500, 2500, 4500, 8500, 16500, 32500,
	};
	struct sip_tx *tx;

	assert_int_equal(sip_tx_client_new(tbl, &k, "peer", 4, 0, "INV", 3,
					   F.now, &tx), 0);
	assert_int_equal(sip_tx_state(tx), SIP_TX_CALLING);
	run_until(tbl, 1000 + 32000);
	expect_sends(t, 7, "INV"); /* 7 sends, RFC 3261 17.1.1.2 */
	assert_int_equal(F.timeouts, 1);
	assert_int_equal(sip_tx_count(tbl), 0);
}

/* INVITE client: 1xx stops A; 486 sends the ACK, a retransmitted 486 gets
 * the ACK again, D ends the tx. */
static void test_client_invite_failure_ack(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("INVITE", "z9hG4bKi2", "");
	struct sip_tx *tx;
	enum sip_tx_verdict v;

	assert_int_equal(sip_tx_client_new(tbl, &k, "peer", 4, 0, "INV", 3,
					   F.now, &tx), 0);
	assert_int_equal(sip_tx_client_receive(tbl, &k, 180, NULL, 0, F.now,
					       &v, NULL), 0);
	assert_int_equal(v, SIP_TX_PASS);
	assert_int_equal(sip_tx_client_receive(tbl, &k, 180, NULL, 0, F.now,
					       &v, NULL), 0);
	assert_int_equal(v, SIP_TX_PASS); /* every 1xx goes up (17.1.1.2) */
	run_until(tbl, 10000);
	assert_int_equal(F.n, 1); /* no retransmission in Proceeding */
	assert_int_equal(sip_tx_client_receive(tbl, &k, 486, "ACK", 3, F.now,
					       &v, NULL), 0);
	assert_int_equal(v, SIP_TX_PASS);
	assert_int_equal(F.n, 2);
	assert_string_equal(F.log[1].what, "ACK");
	assert_int_equal(sip_tx_client_receive(tbl, &k, 486, "ACK", 3, F.now,
					       &v, NULL), 0);
	assert_int_equal(v, SIP_TX_ABSORBED);
	assert_int_equal(F.n, 3);
	run_until(tbl, 10000 + 32000);
	assert_int_equal(sip_tx_count(tbl), 0);
	assert_int_equal(F.timeouts, 0);
}

/* Over TCP: no A/E retransmissions, B/F still apply, K/D are zero; an
 * INVITE 2xx ends the client tx (the TU ACKs it). */
static void test_client_reliable(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_key k = key3261("OPTIONS", "z9hG4bKr1", "");
	struct sip_tx_key i = key3261("INVITE", "z9hG4bKr2", "");
	struct sip_tx *tx;
	enum sip_tx_verdict v;

	assert_int_equal(sip_tx_client_new(tbl, &k, "peer", 4, 1, "OPT", 3,
					   F.now, &tx), 0);
	assert_int_equal(sip_tx_client_new(tbl, &i, "peer", 4, 1, "INV", 3,
					   F.now, &tx), 0);
	run_until(tbl, 20000);
	assert_int_equal(F.n, 2);
	assert_int_equal(sip_tx_client_receive(tbl, &i, 200, NULL, 0, F.now,
					       &v, NULL), 0);
	assert_int_equal(v, SIP_TX_PASS);
	assert_int_equal(sip_tx_state(tx), SIP_TX_TERMINATED);
	run_until(tbl, 20001);
	assert_int_equal(sip_tx_count(tbl), 1);
	run_until(tbl, 1000 + 32000);
	assert_int_equal(F.timeouts, 1);
	assert_int_equal(sip_tx_count(tbl), 0);
	assert_int_equal(F.n, 2);
}

/* Thousands of transactions: chains grow, every one still matches, the
 * heap releases them in deadline order, nothing leaks (ASan). */
static void test_many(void **state)
{
	struct sip_tx_table *tbl = *state;
	char br[64];
	struct sip_tx *tx;
	enum sip_tx_verdict v;
	int i;

	for (i = 0; i < 5000; i++) {
		struct sip_tx_key k;
		snprintf(br, sizeof(br), "z9hG4bK%d", i);
		k = key3261("REGISTER", br, "10.1.1.1:5060");
		F.now = 1000 + (uint64_t)i;
		assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0,
						   F.now, &tx), 0);
		assert_int_equal(sip_tx_server_respond(tx, 200, "200", 3,
						       F.now), 0);
	}
	assert_int_equal(sip_tx_count(tbl), 5000);
	for (i = 0; i < 5000; i += 7) {
		struct sip_tx_key k;
		snprintf(br, sizeof(br), "z9hG4bK%d", i);
		k = key3261("REGISTER", br, "10.1.1.1:5060");
		assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
		assert_int_equal(v, SIP_TX_ABSORBED);
	}
	run_until(tbl, 1000 + 32000 + 2499);
	assert_int_equal(sip_tx_count(tbl), 2500);
	run_until(tbl, 1000 + 32000 + 4999);
	assert_int_equal(sip_tx_count(tbl), 0);
	/* the table frees what is left on teardown as well */
	for (i = 0; i < 100; i++) {
		struct sip_tx_key k;
		snprintf(br, sizeof(br), "z9hG4bKleft%d", i);
		k = key3261("INVITE", br, "x");
		assert_int_equal(sip_tx_client_new(tbl, &k, "peer", 4, 0, "I",
						   1, F.now, &tx), 0);
	}
}

static void test_bad_args(void **state)
{
	struct sip_tx_table *tbl = *state, *t2;
	struct sip_tx_key k = key3261("OPTIONS", "", "");
	struct sip_tx_timers zero = { 0, 4000, 5000 };
	struct sip_tx *tx;
	enum sip_tx_verdict v;

	assert_int_equal(sip_tx_client_new(tbl, &k, "peer", 4, 0, "O", 1,
					   F.now, &tx), -EINVAL);
	k = key3261("ACK", "z9hG4bK1", "");
	assert_int_equal(sip_tx_client_new(tbl, &k, "peer", 4, 0, "A", 1,
					   F.now, &tx), -EINVAL);
	k = key3261("OPTIONS", "z9hG4bK1", "");
	assert_int_equal(sip_tx_client_receive(tbl, &k, 99, NULL, 0, F.now,
					       &v, NULL), -EINVAL);
	assert_int_equal(sip_tx_table_new(&ops, NULL, &zero, &t2), -EINVAL);
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx), 0);
	assert_int_equal(sip_tx_server_respond(tx, 700, "x", 1, F.now), -EINVAL);
	assert_string_equal(sip_tx_state_name(SIP_TX_CONFIRMED), "confirmed");
	sip_tx_set_user(tx, &zero);
	assert_ptr_equal(sip_tx_user(tx), &zero);
	assert_false(sip_tx_is_invite(tx));
}

/* ------------------------------------------------------------ budget */

/* One completed non-INVITE server tx from source SRC, branch number I,
 * answered with LEN bytes at the current fake time. */
static int budget_add(struct sip_tx_table *tbl, const char *src, int i,
		      size_t len)
{
	static char resp[4096];
	char br[32];
	struct sip_tx_key k;
	struct sip_tx *tx;
	int err;

	snprintf(br, sizeof(br), "z9hG4bK%s-%d", src, i);
	k = key3261("REGISTER", br, src);
	k.source.p = src;
	k.source.len = strlen(src);
	err = sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &tx);
	if (err)
		return err;
	memset(resp, 'x', sizeof(resp));
	memcpy(resp, "200", 3);
	return sip_tx_server_respond(tx, 200, resp, len, F.now);
}

/* Is the tx of SRC/I still there (a retransmission is absorbed)? */
static int budget_has(struct sip_tx_table *tbl, const char *src, int i)
{
	char br[32];
	struct sip_tx_key k;
	enum sip_tx_verdict v;

	snprintf(br, sizeof(br), "z9hG4bK%s-%d", src, i);
	k = key3261("REGISTER", br, src);
	assert_int_equal(sip_tx_server_receive(tbl, &k, F.now, &v), 0);
	return v == SIP_TX_ABSORBED;
}

/* The entry bound holds; a lone source may use the whole table, recycling
 * its own oldest entries. */
static void test_budget_entries(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_limits lim = { .max_entries = 100 };
	struct sip_tx_stats st;
	int i;

	assert_int_equal(sip_tx_table_set_limits(tbl, &lim), 0);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(budget_add(tbl, "A", i, 100), 0);
		assert_true(sip_tx_count(tbl) <= 100);
	}
	assert_int_equal(sip_tx_count(tbl), 100);
	assert_false(budget_has(tbl, "A", 899));
	assert_true(budget_has(tbl, "A", 900));
	assert_true(budget_has(tbl, "A", 999));
	sip_tx_stats(tbl, &st);
	assert_int_equal(st.evicted, 900);
	assert_int_equal(st.sources, 1);
}

/* The byte bound covers key + stored answer; a flood from one source
 * recycles only its own entries while a quiet source keeps its share. */
static void test_budget_fair(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_limits lim = { .max_bytes = 64 * 1024 };
	struct sip_tx_stats st;
	int i;

	assert_int_equal(sip_tx_table_set_limits(tbl, &lim), 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(budget_add(tbl, "quiet", i, 500), 0);
	for (i = 0; i < 5000; i++) {
		assert_int_equal(budget_add(tbl, "flood", i, 2000), 0);
		sip_tx_stats(tbl, &st);
		assert_true(st.bytes <= 64 * 1024);
	}
	for (i = 0; i < 20; i++)
		assert_true(budget_has(tbl, "quiet", i));
	assert_true(budget_has(tbl, "flood", 4999));
	assert_false(budget_has(tbl, "flood", 0));
	/* a newcomer under its share pushes the flood out, not the quiet */
	for (i = 0; i < 10; i++)
		assert_int_equal(budget_add(tbl, "new", i, 500), 0);
	for (i = 0; i < 20; i++)
		assert_true(budget_has(tbl, "quiet", i));
	for (i = 0; i < 10; i++)
		assert_true(budget_has(tbl, "new", i));
	sip_tx_stats(tbl, &st);
	assert_int_equal(st.sources, 3);
	assert_true(st.bytes <= 64 * 1024);
}

/* Too long a key (RFC 2543 fallback with a big Via) or too big an answer
 * is not kept; a tx still waiting for its answer is never evicted. */
static void test_budget_refuse(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_limits lim = { .max_entries = 2, .max_key = 256,
				     .max_msg = 1000 };
	static char via[2000];
	struct sip_tx_key k = key3261("REGISTER", "old-style", "h");
	struct sip_tx *t1, *t2, *t3;
	struct sip_tx_stats st;

	assert_int_equal(sip_tx_table_set_limits(tbl, &lim), 0);
	memset(via, 'v', sizeof(via));
	k.via.p = via;
	k.via.len = sizeof(via);
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &t1),
			 -E2BIG);
	assert_int_equal(sip_tx_count(tbl), 0);
	/* a big answer is sent, not kept */
	assert_int_equal(budget_add(tbl, "A", 1, 1001), 0);
	assert_int_equal(F.n, 1);
	assert_int_equal(sip_tx_count(tbl), 0);
	assert_false(budget_has(tbl, "A", 1));
	/* two pending: the third cannot make room */
	k = key3261("REGISTER", "z9hG4bK1", "h");
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &t1), 0);
	k = key3261("REGISTER", "z9hG4bK2", "h");
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &t2), 0);
	k = key3261("REGISTER", "z9hG4bK3", "h");
	assert_int_equal(sip_tx_server_new(tbl, &k, "peer", 4, 0, F.now, &t3),
			 -ENOBUFS);
	assert_int_equal(sip_tx_server_respond(t1, 200, "200", 3, F.now), 0);
	assert_int_equal(sip_tx_server_respond(t2, 200, "200", 3, F.now), 0);
	sip_tx_stats(tbl, &st);
	assert_int_equal(st.refused, 3);
}

/* Evictions keep the timer heap right: the next deadline is always the
 * earliest live one, and every survivor ends exactly at its timer J. */
static void test_budget_timers(void **state)
{
	struct sip_tx_table *tbl = *state;
	struct sip_tx_limits lim = { .max_entries = 50 };
	int i, j, n, alive[200];

	assert_int_equal(sip_tx_table_set_limits(tbl, &lim), 0);
	for (i = 0; i < 200; i++) {
		F.now = 1000 + (uint64_t)i * 10;
		assert_int_equal(budget_add(tbl, i % 3 ? "B" : "A", i, 50), 0);
	}
	/* 50 left (A kept its fair half); each survivor ends exactly at its
	 * own timer J, in order, and nothing else fires */
	assert_int_equal(sip_tx_count(tbl), 50);
	for (i = 0, n = 0; i < 200; i++)
		if (budget_has(tbl, i % 3 ? "B" : "A", i))
			alive[n++] = i;
	assert_int_equal(n, 50);
	for (j = 0; j < n; j++) {
		uint64_t end = 1000 + (uint64_t)alive[j] * 10 + 32000;
		assert_int_equal(sip_tx_next_deadline(tbl), end);
		run_until(tbl, end - 1);
		assert_int_equal(sip_tx_count(tbl), (size_t)(n - j));
		run_until(tbl, end);
		assert_int_equal(sip_tx_count(tbl), (size_t)(n - j - 1));
	}
	assert_int_equal(sip_tx_next_deadline(tbl), UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_server_non_invite_udp),
		T(test_server_non_invite_reliable),
		T(test_server_match_rules),
		T(test_server_invite_timer_g_h),
		T(test_server_invite_ack),
		T(test_server_rfc2543_fallback),
		T(test_client_non_invite_timeout),
		T(test_client_non_invite_responses),
		T(test_client_invite_timer_a_b),
		T(test_client_invite_failure_ack),
		T(test_client_reliable),
		T(test_many),
		T(test_bad_args),
		T(test_budget_entries),
		T(test_budget_fair),
		T(test_budget_refuse),
		T(test_budget_timers),
	};
	return cmocka_run_group_tests_name("sip_tx", tests, NULL, NULL);
}
