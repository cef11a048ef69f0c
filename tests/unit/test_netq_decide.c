/*
 * test_netq_decide: table-driven tests of netq_decide_snapshot() and
 * netq_decide_many() over the thresholds (pure functions: no BPF needed).
 * No RFCs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>
#include <dataline/netq.h>

/* a healthy idle-ish link with a fresh probe: the base every row edits */
static struct netq_snapshot base(void)
{
	struct netq_snapshot s;

	memset(&s, 0, sizeof(s));
	strcpy(s.ifname, "wlan0");
	s.ifindex = 3;
	s.up = 1;
	s.default_route = 1;
	s.kind = NETQ_KIND_WIFI;
	s.rx_bps = 8000;          /* 8 kbit/s of background traffic */
	s.tx_bps = 4000;
	s.have_probe = 1;
	s.probe_kbps = 5000;
	s.probe_rtt_us = 40000;
	s.probe_sent = 32;
	s.probe_recv = 32;
	s.probe_age_ms = 60000;
	return s;
}

enum edit {
	E_NONE, E_DOWN, E_NOROUTE, E_NOPROBE, E_OLDPROBE, E_SLOWPROBE,
	E_PROBE_EDGE, E_PROBE_BELOW, E_BUSY_NOPROBE, E_SLOW_TRAFFIC,
	E_TCP_RTT_HIGH, E_TCP_RTT_EDGE, E_PROBE_RTT_HIGH, E_TCP_LOSS_HIGH,
	E_TCP_LOSS_EDGE, E_PROBE_LOSS, E_TRAFFIC_BEATS_PROBE, E_STALE_TCP,
	E_ZERO_RECV,
};

static void apply(struct netq_snapshot *s, enum edit e)
{
	switch (e) {
	case E_NONE: break;
	case E_DOWN: s->up = 0; s->default_route = 0; break;
	case E_NOROUTE: s->default_route = 0; break;
	case E_NOPROBE: s->have_probe = 0; s->probe_kbps = 0; break;
	case E_OLDPROBE: s->probe_age_ms = 3600 * 1000; break;
	case E_SLOWPROBE: s->probe_kbps = 40; break;
	case E_PROBE_EDGE: s->probe_kbps = 100; break;
	case E_PROBE_BELOW: s->probe_kbps = 99; break;
	case E_BUSY_NOPROBE:
		s->have_probe = 0; s->rx_bps = 2000000; break;
	case E_SLOW_TRAFFIC:
		s->have_probe = 0; s->rx_bps = 50000; s->tx_bps = 20000; break;
	case E_TCP_RTT_HIGH:
		s->have_tcp = 1; s->srtt_us = 450000; break;
	case E_TCP_RTT_EDGE:
		s->have_tcp = 1; s->srtt_us = 300000; s->probe_rtt_us = 900000;
		break;
	case E_PROBE_RTT_HIGH: s->probe_rtt_us = 301000; break;
	case E_TCP_LOSS_HIGH:
		s->have_loss = 1; s->loss_pct = 7.5; break;
	case E_TCP_LOSS_EDGE:
		s->have_loss = 1; s->loss_pct = 5.0; s->probe_recv = 10; break;
	case E_PROBE_LOSS: s->probe_recv = 28; break; /* 12.5 % */
	case E_TRAFFIC_BEATS_PROBE:
		s->probe_kbps = 50; s->tx_bps = 3000000; break;
	case E_STALE_TCP:
		s->have_tcp = 0; s->srtt_us = 900000; break;
	case E_ZERO_RECV:
		s->probe_recv = 0; break;
	}
}

struct row {
	const char *name;
	enum netq_service svc;
	enum edit edit;
	uint32_t min_kbps;      /* 0: defaults for svc */
	uint32_t max_rtt_ms;
	double max_loss;
	enum netq_verdict want;
	enum netq_reason why;
};

#define DEF 0, 0, 0
static const struct row rows[] = {
	{ "text ok",            NETQ_TEXT,  E_NONE,        DEF, NETQ_DATA, NETQ_R_OK },
	{ "text ok no probe",   NETQ_TEXT,  E_NOPROBE,     DEF, NETQ_DATA, NETQ_R_OK },
	{ "text ok slow",       NETQ_TEXT,  E_SLOWPROBE,   DEF, NETQ_DATA, NETQ_R_OK },
	{ "text link down",     NETQ_TEXT,  E_DOWN,        DEF, NETQ_FALLBACK, NETQ_R_LINK_DOWN },
	{ "text no route",      NETQ_TEXT,  E_NOROUTE,     DEF, NETQ_FALLBACK, NETQ_R_NO_ROUTE },
	{ "voice ok",           NETQ_VOICE, E_NONE,        DEF, NETQ_DATA, NETQ_R_OK },
	{ "voice down",         NETQ_VOICE, E_DOWN,        DEF, NETQ_FALLBACK, NETQ_R_LINK_DOWN },
	{ "voice no route",     NETQ_VOICE, E_NOROUTE,     DEF, NETQ_FALLBACK, NETQ_R_NO_ROUTE },
	{ "voice idle no probe", NETQ_VOICE, E_NOPROBE,    DEF, NETQ_FALLBACK, NETQ_R_NO_RATE },
	{ "voice old probe",    NETQ_VOICE, E_OLDPROBE,    DEF, NETQ_FALLBACK, NETQ_R_NO_RATE },
	{ "voice probe 0 recv", NETQ_VOICE, E_ZERO_RECV,   DEF, NETQ_FALLBACK, NETQ_R_NO_RATE },
	{ "voice slow probe",   NETQ_VOICE, E_SLOWPROBE,   DEF, NETQ_FALLBACK, NETQ_R_RATE_LOW },
	{ "voice probe == min", NETQ_VOICE, E_PROBE_EDGE,  DEF, NETQ_DATA, NETQ_R_OK },
	{ "voice probe < min",  NETQ_VOICE, E_PROBE_BELOW, DEF, NETQ_FALLBACK, NETQ_R_RATE_LOW },
	{ "voice busy no probe", NETQ_VOICE, E_BUSY_NOPROBE, DEF, NETQ_DATA, NETQ_R_OK },
	{ "voice slow traffic", NETQ_VOICE, E_SLOW_TRAFFIC, DEF, NETQ_FALLBACK, NETQ_R_NO_RATE },
	{ "voice traffic>probe", NETQ_VOICE, E_TRAFFIC_BEATS_PROBE, DEF, NETQ_DATA, NETQ_R_OK },
	{ "voice tcp rtt high", NETQ_VOICE, E_TCP_RTT_HIGH, DEF, NETQ_FALLBACK, NETQ_R_RTT_HIGH },
	{ "voice tcp rtt == max", NETQ_VOICE, E_TCP_RTT_EDGE, DEF, NETQ_DATA, NETQ_R_OK },
	{ "voice probe rtt high", NETQ_VOICE, E_PROBE_RTT_HIGH, DEF, NETQ_FALLBACK, NETQ_R_RTT_HIGH },
	{ "voice stale tcp ignored", NETQ_VOICE, E_STALE_TCP, DEF, NETQ_DATA, NETQ_R_OK },
	{ "voice tcp loss high", NETQ_VOICE, E_TCP_LOSS_HIGH, DEF, NETQ_FALLBACK, NETQ_R_LOSS_HIGH },
	{ "voice tcp loss == max", NETQ_VOICE, E_TCP_LOSS_EDGE, DEF, NETQ_DATA, NETQ_R_OK },
	{ "voice probe loss", NETQ_VOICE, E_PROBE_LOSS,    DEF, NETQ_FALLBACK, NETQ_R_LOSS_HIGH },
	/* custom thresholds */
	{ "voice min 6000",     NETQ_VOICE, E_NONE, 6000, 300, 5, NETQ_FALLBACK, NETQ_R_RATE_LOW },
	{ "voice min 4000",     NETQ_VOICE, E_NONE, 4000, 300, 5, NETQ_DATA, NETQ_R_OK },
	{ "voice rtt 30 ms",    NETQ_VOICE, E_NONE, 100, 30, 5, NETQ_FALLBACK, NETQ_R_RTT_HIGH },
	{ "voice loss 10 ok",   NETQ_VOICE, E_PROBE_LOSS, 100, 300, 13, NETQ_DATA, NETQ_R_OK },
	{ "voice rtt unchecked", NETQ_VOICE, E_TCP_RTT_HIGH, 100, 0, 5, NETQ_DATA, NETQ_R_OK },
	{ "voice loss unchecked", NETQ_VOICE, E_TCP_LOSS_HIGH, 100, 300, -1, NETQ_DATA, NETQ_R_OK },
};

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct netq_snapshot s = base();
		struct netq_thresholds t;
		struct netq_decision d;

		netq_thresholds_default(r->svc, &t);
		if (r->min_kbps) {
			t.min_kbps = r->min_kbps;
			t.max_rtt_ms = r->max_rtt_ms;
			t.max_loss_pct = r->max_loss;
		}
		apply(&s, r->edit);
		assert_int_equal(netq_decide_snapshot(&s, r->svc, &t, &d), 0);
		if (d.verdict != r->want || d.reason != r->why)
			fail_msg("row '%s': got %s/%s, want %s/%s", r->name,
				 netq_verdict_str(d.verdict),
				 netq_reason_str(d.reason),
				 netq_verdict_str(r->want),
				 netq_reason_str(r->why));
		assert_string_equal(d.ifname, "wlan0");
		assert_int_equal(d.ifindex, 3);
	}
}

static void test_figures(void **state)
{
	struct netq_snapshot s = base();
	struct netq_thresholds t;
	struct netq_decision d;

	netq_thresholds_default(NETQ_VOICE, &t);
	assert_int_equal(t.min_kbps, NETQ_VOICE_MIN_KBPS);
	assert_int_equal(t.max_rtt_ms, NETQ_VOICE_MAX_RTT_MS);
	assert_int_equal(netq_decide_snapshot(&s, NETQ_VOICE, &t, &d), 0);
	assert_int_equal(d.rate_kbps, 5000);
	assert_int_equal(d.rate_from_probe, 1);
	assert_int_equal(d.rtt_us, 40000);
	assert_true(d.loss_pct == 0.0);
	/* TCP figures win over the probe's when present */
	s.have_tcp = 1;
	s.srtt_us = 12345;
	s.have_loss = 1;
	s.loss_pct = 1.5;
	netq_decide_snapshot(&s, NETQ_VOICE, &t, &d);
	assert_int_equal(d.rtt_us, 12345);
	assert_true(d.loss_pct == 1.5);
	/* no loss evidence at all -> -1, not held against the link */
	s = base();
	s.have_probe = 0;
	s.rx_bps = 1000000;
	netq_decide_snapshot(&s, NETQ_VOICE, &t, &d);
	assert_true(d.loss_pct < 0);
	assert_int_equal(d.rate_from_probe, 0);
	assert_int_equal(d.rate_kbps, 1000);
	assert_int_equal(d.verdict, NETQ_DATA);
}

static void test_bad_args(void **state)
{
	struct netq_snapshot s = base();
	struct netq_thresholds t;
	struct netq_decision d;

	d.verdict = NETQ_DATA;
	netq_thresholds_default(NETQ_TEXT, &t);
	assert_int_equal(netq_decide_snapshot(NULL, NETQ_TEXT, &t, &d), -EINVAL);
	assert_int_equal(netq_decide_snapshot(&s, NETQ_TEXT, NULL, &d), -EINVAL);
	assert_int_equal(netq_decide_snapshot(&s, NETQ_TEXT, &t, NULL), -EINVAL);
	assert_int_equal(netq_decide_many(NULL, 1, NETQ_TEXT, &t, &d), -EINVAL);
	/* output untouched on error */
	assert_int_equal(d.verdict, NETQ_DATA);
}

static void test_many(void **state)
{
	struct netq_snapshot s[3] = { base(), base(), base() };
	struct netq_thresholds t;
	struct netq_decision d;

	netq_thresholds_default(NETQ_VOICE, &t);
	/* none -> no interface */
	assert_int_equal(netq_decide_many(s, 0, NETQ_VOICE, &t, &d), 0);
	assert_int_equal(d.verdict, NETQ_FALLBACK);
	assert_int_equal(d.reason, NETQ_R_NO_INTERFACE);
	/* first down, second slow, third fine: third wins */
	apply(&s[0], E_DOWN);
	apply(&s[1], E_SLOWPROBE);
	strcpy(s[2].ifname, "wwan0");
	s[2].ifindex = 9;
	assert_int_equal(netq_decide_many(s, 3, NETQ_VOICE, &t, &d), 0);
	assert_int_equal(d.verdict, NETQ_DATA);
	assert_int_equal(d.ifindex, 9);
	/* all bad: the reason of the one that got furthest (rate low) */
	apply(&s[2], E_NOROUTE);
	assert_int_equal(netq_decide_many(s, 3, NETQ_VOICE, &t, &d), 0);
	assert_int_equal(d.verdict, NETQ_FALLBACK);
	assert_int_equal(d.reason, NETQ_R_RATE_LOW);
	assert_int_equal(d.ifindex, 3);
	/* text only needs one connected interface */
	assert_int_equal(netq_decide_many(s, 3, NETQ_TEXT, &t, &d), 0);
	assert_int_equal(d.verdict, NETQ_DATA);
}

static void test_strings(void **state)
{
	int r;

	for (r = NETQ_R_OK; r <= NETQ_R_LOSS_HIGH; r++)
		assert_string_not_equal(netq_reason_str(r), "unknown");
	assert_string_equal(netq_reason_str((enum netq_reason)99), "unknown");
	assert_string_equal(netq_verdict_str(NETQ_DATA), "data");
	assert_string_equal(netq_verdict_str(NETQ_FALLBACK), "fallback");
	assert_string_equal(netq_kind_str(NETQ_KIND_WWAN), "wwan");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_figures),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
