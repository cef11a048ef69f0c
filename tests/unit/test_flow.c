/*
 * test_flow: the flow table (server/sip/flow.c, RFC 5626 s.4.4 / s.5.2):
 * track says "fresh" for a new or dead flow; flow_state is FLOW_UNKNOWN for
 * an untracked UDP flow and FLOW_DEAD for an untracked stream; a UDP flow
 * the server pings is pinged once per interval and is dead after
 * FLOW_PINGS_LOST intervals plus half of one without a sign of life, an
 * outbound one (the device keeps it up) after one interval and a half and
 * is never pinged; seen and an answered ping keep it alive, seen revives
 * a dead one; expiry removes it; closing a stream removes it; a "now"
 * older than the last seen (another worker's clock read) is not silence;
 * the numbers registered over a flow are reported when it dies or comes
 * back (presence); a binding's flow is rebuilt from its fields.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/sip/sipd.h"
#include "../../server/store/store.h"
#include "dataline/log.h"

static struct sipd_flow pinged[64];
static int npinged;

static void ping_cb(void *arg, const struct sipd_flow *f)
{
	(void)arg;
	if (npinged < 64)
		pinged[npinged] = *f;
	npinged++;
}

static struct sipd_flow mkflow(enum sipd_tp tp, const char *ip, int port,
			       uint64_t conn_id, int worker)
{
	struct sipd_flow f;

	memset(&f, 0, sizeof(f));
	f.tp = tp;
	f.worker = worker;
	f.conn_id = conn_id;
	f.addr.sin.sin_family = AF_INET;
	f.addr.sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &f.addr.sin.sin_addr);
	return f;
}

static size_t sweep(struct flowtab *t, uint64_t now_ms, int64_t now_s)
{
	return flow_sweep(t, 0, 1, now_ms, now_s, ping_cb, NULL);
}

static void test_untracked(void **state)
{
	struct flowtab *t;
	struct sipd_flow u = mkflow(SIPD_UDP, "10.0.0.1", 5060, 0, 0);
	struct sipd_flow c = mkflow(SIPD_TCP, "10.0.0.1", 40000, 7, 0);
	struct sipd_flow s = mkflow(SIPD_TLS, "10.0.0.1", 40001, 8, 0);

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_UNKNOWN);
	assert_int_equal(flow_state(t, &c, NULL), FLOW_DEAD);
	assert_int_equal(flow_state(t, &s, NULL), FLOW_DEAD);
	/* seen/closed/ping results on untracked flows make nothing up */
	flow_seen(t, &u, 1000);
	flow_closed(t, &c);
	flow_ping_result(t, &u, 1, 1000);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_UNKNOWN);
	assert_int_equal(flow_state(t, &c, NULL), FLOW_DEAD);
	npinged = 0;
	assert_int_equal(sweep(t, 1000000, 1000), 0);
	assert_int_equal(npinged, 0);
	flowtab_free(t);
}

static void test_track_owner(void **state)
{
	struct flowtab *t;
	struct sipd_flow u = mkflow(SIPD_UDP, "10.0.0.1", 5060, 0, 2);
	struct sipd_flow other = mkflow(SIPD_UDP, "10.0.0.1", 5061, 0, 0);
	struct sipd_flow u6, owner;

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	assert_int_equal(flow_track(t, &u, 2000, 30, 0, 1000), 1);
	assert_int_equal(flow_track(t, &u, 2000, 30, 0, 1100), 0);
	assert_int_equal(flow_state(t, &u, &owner), FLOW_ALIVE);
	assert_int_equal(owner.worker, 2);
	/* another port is another flow */
	assert_int_equal(flow_state(t, &other, NULL), FLOW_UNKNOWN);
	/* a message on the same address through another worker moves it */
	u.worker = 1;
	flow_seen(t, &u, 1200);
	assert_int_equal(flow_state(t, &u, &owner), FLOW_ALIVE);
	assert_int_equal(owner.worker, 1);
	/* IPv6: keyed by its own address */
	memset(&u6, 0, sizeof(u6));
	u6.tp = SIPD_UDP;
	u6.addr.sin6.sin6_family = AF_INET6;
	u6.addr.sin6.sin6_port = htons(5060);
	inet_pton(AF_INET6, "2001:db8::1", &u6.addr.sin6.sin6_addr);
	assert_int_equal(flow_state(t, &u6, NULL), FLOW_UNKNOWN);
	assert_int_equal(flow_track(t, &u6, 2000, 30, 0, 1000), 1);
	assert_int_equal(flow_state(t, &u6, NULL), FLOW_ALIVE);
	flowtab_free(t);
}

/* Server pings (no outbound): interval 3 s, dead after 2 x 3 s + 1.5 s. */
static void test_udp_pinged(void **state)
{
	struct flowtab *t;
	struct sipd_flow u = mkflow(SIPD_UDP, "192.0.2.7", 5060, 0, 0);
	uint64_t t0 = 100000;

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	assert_int_equal(flow_track(t, &u, 10000, 3, 0, t0), 1);
	npinged = 0;
	assert_int_equal(sweep(t, t0 + 2999, 100), 0);
	assert_int_equal(npinged, 0); /* not silent for an interval yet */
	assert_int_equal(sweep(t, t0 + 3000, 100), 0);
	assert_int_equal(npinged, 1);
	assert_memory_equal(&pinged[0].addr, &u.addr, sizeof(u.addr.sin));
	/* one ping in flight at a time */
	assert_int_equal(sweep(t, t0 + 4000, 100), 0);
	assert_int_equal(npinged, 1);
	/* the ping is answered: alive, counted from the answer */
	flow_ping_result(t, &u, 1, t0 + 4100);
	assert_int_equal(sweep(t, t0 + 4100 + 2999, 100), 0);
	assert_int_equal(npinged, 1);
	assert_int_equal(sweep(t, t0 + 4100 + 3000, 100), 0);
	assert_int_equal(npinged, 2);
	/* that one is lost (timeout): pinged again after another interval */
	flow_ping_result(t, &u, 0, t0 + 7100 + 500);
	assert_int_equal(sweep(t, t0 + 7100 + 2000, 100), 0);
	assert_int_equal(npinged, 2);
	assert_int_equal(sweep(t, t0 + 7100 + 3000, 100), 0);
	assert_int_equal(npinged, 3);
	flow_ping_result(t, &u, 0, t0 + 10100 + 500);
	/* silent since t0 + 4100: alive up to 7.5 s, dead after */
	assert_int_equal(sweep(t, t0 + 4100 + 7500, 100), 0);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	assert_int_equal(sweep(t, t0 + 4100 + 7501, 100), 1);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_DEAD);
	/* dead: counted once, not pinged */
	npinged = 0;
	assert_int_equal(sweep(t, t0 + 60000, 100), 0);
	assert_int_equal(npinged, 0);
	/* the device sends again: alive */
	flow_seen(t, &u, t0 + 61000);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	/* a REGISTER over a dead flow is "fresh" (texts may wait) */
	assert_int_equal(sweep(t, t0 + 61000 + 7501, 100), 1);
	assert_int_equal(flow_track(t, &u, 10000, 3, 0, t0 + 70000), 1);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	flowtab_free(t);
}

/* Outbound (RFC 5626): the device keeps the flow up; dead after 1.5 x. */
static void test_udp_outbound(void **state)
{
	struct flowtab *t;
	struct sipd_flow u = mkflow(SIPD_UDP, "192.0.2.8", 5060, 0, 0);
	uint64_t t0 = 100000;

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	assert_int_equal(flow_track(t, &u, 10000, 4, 1, t0), 1);
	npinged = 0;
	flow_seen(t, &u, t0 + 3500); /* its keep-alive */
	assert_int_equal(sweep(t, t0 + 3500 + 6000, 100), 0);
	assert_int_equal(npinged, 0); /* never pinged by the server */
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	assert_int_equal(sweep(t, t0 + 3500 + 6001, 100), 1);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_DEAD);
	assert_int_equal(npinged, 0);
	flowtab_free(t);
}

/* Streams: not swept for silence (the kernel's keep-alive closes them);
 * closed -> gone -> FLOW_DEAD. No interval: UDP not swept either. */
static void test_streams_and_no_interval(void **state)
{
	struct flowtab *t;
	struct sipd_flow c = mkflow(SIPD_TCP, "192.0.2.9", 40000, 11, 1);
	struct sipd_flow u = mkflow(SIPD_UDP, "192.0.2.9", 5060, 0, 1);

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	assert_int_equal(flow_track(t, &c, 10000, 3, 0, 1000), 1);
	assert_int_equal(flow_track(t, &u, 10000, 0, 0, 1000), 1);
	npinged = 0;
	assert_int_equal(sweep(t, 1000000, 100), 0);
	assert_int_equal(npinged, 0);
	assert_int_equal(flow_state(t, &c, NULL), FLOW_ALIVE);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	flow_closed(t, &c);
	assert_int_equal(flow_state(t, &c, NULL), FLOW_DEAD);
	/* the same address with another connection id is another flow */
	c.conn_id = 12;
	assert_int_equal(flow_track(t, &c, 10000, 3, 0, 2000), 1);
	c.conn_id = 11;
	assert_int_equal(flow_state(t, &c, NULL), FLOW_DEAD);
	flowtab_free(t);
}

/* Past the latest expiry registered over it, a flow is removed. */
static void test_expiry(void **state)
{
	struct flowtab *t;
	struct sipd_flow u = mkflow(SIPD_UDP, "198.51.100.1", 5060, 0, 0);
	struct sipd_flow c = mkflow(SIPD_TCP, "198.51.100.1", 40000, 5, 0);

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	assert_int_equal(flow_track(t, &u, 2000, 30, 0, 1000), 1);
	/* a shorter refresh does not cut the longer binding's life short */
	assert_int_equal(flow_track(t, &u, 1500, 30, 0, 1000), 0);
	assert_int_equal(flow_track(t, &c, 1500, 30, 0, 1000), 1);
	sweep(t, 1000, 1999);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	assert_int_equal(flow_state(t, &c, NULL), FLOW_DEAD);
	sweep(t, 1000, 2000);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	sweep(t, 1000, 2001);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_UNKNOWN);
	flowtab_free(t);
}

/* Many flows, and sweeping in shares: each worker's share together covers
 * every flow once. */
static void test_many_shares(void **state)
{
	struct flowtab *t;
	struct sipd_flow f;
	size_t dead = 0;
	int i, w;

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	for (i = 0; i < 1000; i++) {
		f = mkflow(SIPD_UDP, "203.0.113.1", 10000 + i, 0, i % 4);
		assert_int_equal(flow_track(t, &f, 10000, 1, 1, 1000), 1);
	}
	for (w = 0; w < 4; w++)
		dead += flow_sweep(t, w, 4, 1000 + 1501, 100, ping_cb, NULL);
	assert_int_equal(dead, 1000);
	for (w = 0; w < 4; w++)
		dead += flow_sweep(t, w, 4, 1000 + 9999, 100, ping_cb, NULL);
	assert_int_equal(dead, 1000);
	/* all removed at expiry */
	for (w = 0; w < 4; w++)
		flow_sweep(t, w, 4, 1000, 10001, ping_cb, NULL);
	for (i = 0; i < 1000; i++) {
		f = mkflow(SIPD_UDP, "203.0.113.1", 10000 + i, 0, 0);
		assert_int_equal(flow_state(t, &f, NULL), FLOW_UNKNOWN);
	}
	flowtab_free(t);
}

/* A sweep reads the clock before taking a shard's lock; a message handled
 * meanwhile by another worker marks the flow seen at a later "now". That
 * is no silence: the flow stays alive and is not pinged. */
static void test_seen_after_sweep_clock(void **state)
{
	struct flowtab *t;
	struct sipd_flow u = mkflow(SIPD_UDP, "192.0.2.10", 5060, 0, 0);
	struct sipd_flow o = mkflow(SIPD_UDP, "192.0.2.10", 5062, 0, 0);

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	assert_int_equal(flow_track(t, &u, 10000, 3, 0, 1000), 1);
	assert_int_equal(flow_track(t, &o, 10000, 3, 1, 1000), 1);
	flow_seen(t, &u, 50001);
	flow_seen(t, &o, 50001);
	npinged = 0;
	assert_int_equal(sweep(t, 50000, 100), 0);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	assert_int_equal(flow_state(t, &o, NULL), FLOW_ALIVE);
	assert_int_equal(npinged, 0);
	flowtab_free(t);
}

/* What flowtab_watch reported. */
static char heard[16][24];
static int nheard;

static void reach_cb(void *arg, const char *number)
{
	(void)arg;
	if (nheard < 16)
		snprintf(heard[nheard], sizeof(heard[0]), "%s", number);
	nheard++;
}

/* Presence hears of the numbers registered over a flow when it dies or
 * comes back, never for untracked flows, once per number, the newest
 * FLOW_NUMBERS kept. */
static void test_watch_numbers(void **state)
{
	struct flowtab *t;
	struct sipd_flow u = mkflow(SIPD_UDP, "10.0.0.1", 5060, 0, 0);
	struct sipd_flow c = mkflow(SIPD_TCP, "10.0.0.2", 40000, 7, 1);
	struct sipd_flow x = mkflow(SIPD_TCP, "10.0.0.3", 40000, 9, 1);
	uint64_t t0 = 1000000;
	int i;

	(void)state;
	assert_int_equal(flowtab_new(&t), 0);
	flowtab_watch(t, reach_cb, NULL);
	nheard = 0;
	assert_int_equal(flow_note_number(t, &x, "+861"), -ENOENT);
	flow_closed(t, &x);                  /* untracked: nothing */
	assert_int_equal(nheard, 0);

	/* a stream: closed -> each number once, newest first */
	assert_int_equal(flow_track(t, &c, 10000, 3, 0, t0), 1);
	assert_int_equal(flow_note_number(t, &c, "+8611"), 0);
	assert_int_equal(flow_note_number(t, &c, "+8622"), 0);
	assert_int_equal(flow_note_number(t, &c, "+8611"), 0); /* again */
	assert_int_equal(nheard, 0);         /* alive: nothing to tell */
	flow_closed(t, &c);
	assert_int_equal(nheard, 2);
	assert_string_equal(heard[0], "+8611");
	assert_string_equal(heard[1], "+8622");
	assert_int_equal(flow_state(t, &c, NULL), FLOW_DEAD);

	/* more numbers than FLOW_NUMBERS: the newest are kept */
	assert_int_equal(flow_track(t, &c, 10000, 3, 0, t0), 1);
	for (i = 0; i < FLOW_NUMBERS + 2; i++) {
		char n[24];
		snprintf(n, sizeof(n), "+86%d", i);
		assert_int_equal(flow_note_number(t, &c, n), 0);
	}
	nheard = 0;
	flow_closed(t, &c);
	assert_int_equal(nheard, FLOW_NUMBERS);
	assert_string_equal(heard[0], "+865");
	assert_string_equal(heard[FLOW_NUMBERS - 1], "+862");

	/* UDP: found dead by the sweep, then back when it speaks */
	assert_int_equal(flow_track(t, &u, 10000, 3, 0, t0), 1);
	assert_int_equal(flow_note_number(t, &u, "+8633"), 0);
	nheard = 0;
	npinged = 0;
	sweep(t, t0 + 3000, 1000);           /* a ping, still alive */
	flow_seen(t, &u, t0 + 3100);         /* alive and seen: nothing */
	assert_int_equal(nheard, 0);
	assert_int_equal(sweep(t, t0 + 3100 + 7501, 1000), 1);
	assert_int_equal(nheard, 1);
	assert_string_equal(heard[0], "+8633");
	sweep(t, t0 + 20000, 1000);          /* dead already: once */
	assert_int_equal(nheard, 1);
	flow_seen(t, &u, t0 + 20001);        /* back */
	assert_int_equal(nheard, 2);
	assert_int_equal(flow_state(t, &u, NULL), FLOW_ALIVE);
	/* dead again, and back through an answered ping, then a REGISTER */
	assert_int_equal(sweep(t, t0 + 40000, 1000), 1);
	flow_ping_result(t, &u, 1, t0 + 40001);
	assert_int_equal(nheard, 4);
	assert_int_equal(sweep(t, t0 + 60000, 1000), 1);
	assert_int_equal(flow_track(t, &u, 10000, 3, 0, t0 + 60001), 1);
	assert_int_equal(nheard, 6);
	assert_string_equal(heard[5], "+8633");
	flowtab_free(t);
}

/* The flow of a binding: its transport, "received" address, connection. */
static void test_flow_of_binding(void **state)
{
	struct store_binding b;
	struct sipd_flow f, want = mkflow(SIPD_TCP, "10.0.0.2", 40000, 7, 1);
	static const struct {
		const char *tp, *received;
		int err;
		enum sipd_tp want;
	} cases[] = {
		{ "tcp", "tcp:10.0.0.2:40000", 0, SIPD_TCP },
		{ "tls", "tls:10.0.0.2:40000", 0, SIPD_TLS },
		{ "udp", "udp:10.0.0.2:40000", 0, SIPD_UDP },
		{ "udp", "", -EINVAL, SIPD_UDP },
		{ "udp", "udp:nonsense", -EINVAL, SIPD_UDP },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&b, 0, sizeof(b));
		b.transport = cases[i].tp;
		b.received = cases[i].received;
		b.conn_id = 7;
		b.worker = 1;
		assert_int_equal(sipd_flow_of_binding(&b, &f), cases[i].err);
		if (cases[i].err)
			continue;
		assert_int_equal(f.tp, cases[i].want);
		assert_int_equal(f.conn_id, 7);
		assert_int_equal(f.worker, 1);
		assert_memory_equal(&f.addr.sin, &want.addr.sin,
				    sizeof(want.addr.sin));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untracked),
		cmocka_unit_test(test_track_owner),
		cmocka_unit_test(test_udp_pinged),
		cmocka_unit_test(test_udp_outbound),
		cmocka_unit_test(test_streams_and_no_interval),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_many_shares),
		cmocka_unit_test(test_seen_after_sweep_clock),
		cmocka_unit_test(test_watch_numbers),
		cmocka_unit_test(test_flow_of_binding),
	};

	log_set_level(LOG_LVL_WARN); /* no line per dead flow */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
