/*
 * test_hpres: the pure parts of the handset's presence
 * (user/hpres/hpres_rules.c): the probe budget over a rolling hour (never
 * over the limit, waits computed from the entries that age out, a full
 * ring counted high, never low), the interval check against the budget
 * (netq's default 300 s fits 1 MB/hour, 60 s does not), the material-change
 * rules (link, 25 % rate, 50 % RTT with a 10 ms floor, 1 % loss, figures
 * coming and going; age and probed alone are not changes), and the figures
 * from netq snapshots and from a probe result alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "dataline/hpres.h"

static void test_budget_window(void **state)
{
	struct hpres_budget b;
	uint64_t w = 1;

	hpres_budget_init(&b, 1000);
	assert_int_equal(hpres_budget_wait(&b, 0, 1001, &w), -E2BIG);
	assert_int_equal(hpres_budget_wait(&b, 0, 400, &w), 0);
	assert_int_equal(w, 0);
	hpres_budget_charge(&b, 1000, 400);
	hpres_budget_charge(&b, 2000, 400);
	assert_int_equal(hpres_budget_spent(&b, 2000), 800);
	/* 800 + 400 > 1000: wait until the first 400 ages out (t=1000+1h) */
	assert_int_equal(hpres_budget_wait(&b, 3000, 400, &w), 0);
	assert_int_equal(w, HPRES_HOUR_MS + 1000 - 3000);
	/* 200 fits at once */
	assert_int_equal(hpres_budget_wait(&b, 3000, 200, &w), 0);
	assert_int_equal(w, 0);
	/* the first entry leaves exactly one hour after it was spent */
	assert_int_equal(hpres_budget_spent(&b, HPRES_HOUR_MS + 999), 800);
	assert_int_equal(hpres_budget_spent(&b, HPRES_HOUR_MS + 1000), 400);
	assert_int_equal(hpres_budget_wait(&b, HPRES_HOUR_MS + 1000, 600, &w), 0);
	assert_int_equal(w, 0);
	/* 700 needs the second one gone too */
	assert_int_equal(hpres_budget_wait(&b, HPRES_HOUR_MS + 1000, 700, &w), 0);
	assert_int_equal(w, 1000);
	assert_int_equal(hpres_budget_spent(&b, 10 * HPRES_HOUR_MS), 0);
}

/* Spending as fast as the gate allows never puts more than the limit in
 * any hour, whatever the probe sizes. */
static void test_budget_never_over(void **state)
{
	struct hpres_budget b;
	uint64_t t = 0, w, costs[] = { 67324, 1000, 90000, 5, 250000 };
	uint64_t log_t[4096], log_b[4096];
	unsigned n = 0, i, j;

	hpres_budget_init(&b, 1000000);
	while (t < 5 * HPRES_HOUR_MS && n < 4096) {
		uint64_t c = costs[n % 5];

		assert_int_equal(hpres_budget_wait(&b, t, c, &w), 0);
		t += w;
		/* a failed probe may spend less than its cost: charge it */
		log_t[n] = t;
		log_b[n] = n % 7 ? c : c / 2;
		hpres_budget_charge(&b, t, log_b[n]);
		n++;
		t += 1000;
	}
	for (i = 0; i < n; i++) {
		uint64_t sum = 0;

		for (j = i; j < n && log_t[j] < log_t[i] + HPRES_HOUR_MS; j++)
			sum += log_b[j];
		assert_true(sum <= 1000000);
	}
}

static void test_budget_full_ring(void **state)
{
	struct hpres_budget b;
	uint64_t w;

	hpres_budget_init(&b, 1000000);
	for (unsigned i = 0; i < HPRES_BUDGET_SLOTS + 10; i++)
		hpres_budget_charge(&b, i, 100);
	/* nothing lost: a full ring adds to its newest entry */
	assert_int_equal(hpres_budget_spent(&b, 100), (HPRES_BUDGET_SLOTS + 10) * 100);
	assert_int_equal(hpres_budget_wait(&b, 100, 1000000 - 7400, &w), 0);
	assert_int_equal(w, 0);
	assert_int_equal(hpres_budget_wait(&b, 100, 1000000 - 7399, &w), 0);
	assert_true(w > 0);
}

static void test_interval_check(void **state)
{
	struct netq_probe_opts o = { 0 };
	uint64_t cost = netq_probe_cost(&o);

	assert_int_equal(hpres_interval_check(cost, NETQ_PROBE_INTERVAL_S,
					      NETQ_PROBE_BUDGET), 0);
	assert_int_equal(hpres_interval_check(cost, 60, NETQ_PROBE_BUDGET), -E2BIG);
	assert_int_equal(hpres_interval_check(cost, 0, NETQ_PROBE_BUDGET), -EINVAL);
	/* 14 probes an hour fit (942 kB), 15 do not (1,010 kB) */
	assert_int_equal(hpres_interval_check(cost, 258, NETQ_PROBE_BUDGET), 0);
	assert_int_equal(hpres_interval_check(cost, 240, NETQ_PROBE_BUDGET), -E2BIG);
	/* a partial hour counts as a probe: 3600/7 -> 515 */
	assert_int_equal(hpres_interval_check(10, 7, 5150), 0);
	assert_int_equal(hpres_interval_check(10, 7, 5149), -E2BIG);
}

static struct pidf_netq nq(unsigned have, enum pidf_link l, uint32_t rate,
			   uint32_t rtt, uint32_t loss)
{
	struct pidf_netq n = { .present = 1, .have = have, .link = l,
			       .rate_kbps = rate, .rtt_ms = rtt, .loss_ppm = loss };
	return n;
}

#define ALL (PIDF_NETQ_LINK | PIDF_NETQ_RATE | PIDF_NETQ_RTT | PIDF_NETQ_LOSS)

static void test_material_change(void **state)
{
	struct pidf_netq o = nq(ALL, PIDF_LINK_UP, 2000, 80, 1000), n;
	static const struct {
		struct pidf_netq n;
		unsigned want;
	} t[] = {
		{ { 1, ALL, PIDF_LINK_UP, 2000, 0, 80, 1000, 0 }, 0 },
		{ { 1, ALL, PIDF_LINK_DOWN, 2000, 0, 80, 1000, 0 }, HPRES_CHG_LINK },
		{ { 1, ALL, PIDF_LINK_UP, 2499, 0, 80, 1000, 0 }, 0 },      /* +24.95 % */
		{ { 1, ALL, PIDF_LINK_UP, 2500, 0, 80, 1000, 0 }, HPRES_CHG_RATE },
		{ { 1, ALL, PIDF_LINK_UP, 1501, 0, 80, 1000, 0 }, 0 },
		{ { 1, ALL, PIDF_LINK_UP, 1500, 0, 80, 1000, 0 }, HPRES_CHG_RATE },
		{ { 1, ALL, PIDF_LINK_UP, 2000, 0, 119, 1000, 0 }, 0 },
		{ { 1, ALL, PIDF_LINK_UP, 2000, 0, 120, 1000, 0 }, HPRES_CHG_RTT },
		{ { 1, ALL, PIDF_LINK_UP, 2000, 0, 40, 1000, 0 }, HPRES_CHG_RTT },
		{ { 1, ALL, PIDF_LINK_UP, 2000, 0, 80, 10999, 0 }, 0 },
		{ { 1, ALL, PIDF_LINK_UP, 2000, 0, 80, 11000, 0 }, HPRES_CHG_LOSS },
		{ { 1, ALL & ~PIDF_NETQ_RATE, PIDF_LINK_UP, 0, 0, 80, 1000, 0 }, HPRES_CHG_RATE },
		{ { 1, ALL | PIDF_NETQ_PROBED | PIDF_NETQ_AGE, PIDF_LINK_UP, 2000, 1, 80, 1000, 900 }, 0 },
		{ { 0, 0, PIDF_LINK_NONE, 0, 0, 0, 0, 0 }, HPRES_CHG_NETQ },
		{ { 1, ALL, PIDF_LINK_DOWN, 100, 0, 80, 1000, 0 }, HPRES_CHG_LINK | HPRES_CHG_RATE },
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = t[i].n;
		assert_int_equal(hpres_material_change(&o, &n), t[i].want);
	}
	/* RTT floor: 2 -> 5 ms is +150 % but only 3 ms */
	o = nq(PIDF_NETQ_RTT, PIDF_LINK_NONE, 0, 2, 0);
	n = nq(PIDF_NETQ_RTT, PIDF_LINK_NONE, 0, 5, 0);
	assert_int_equal(hpres_material_change(&o, &n), 0);
	n.rtt_ms = 12;
	assert_int_equal(hpres_material_change(&o, &n), HPRES_CHG_RTT);
	/* a rate appearing from nothing */
	o = nq(0, PIDF_LINK_NONE, 0, 0, 0);
	n = nq(PIDF_NETQ_RATE, PIDF_LINK_NONE, 1, 0, 0);
	assert_int_equal(hpres_material_change(&o, &n), HPRES_CHG_RATE);
}

static void test_figures_from_probe_alone(void **state)
{
	struct netq_probe_result r = { .rtt_us = 85400, .kbps = 2400, .sent = 35,
				       .recv = 28, .bytes = 60000 };
	struct pidf_netq f;

	hpres_figures(NULL, 0, NULL, 0, &f);
	assert_true(f.present);
	assert_int_equal(f.have, 0);
	hpres_figures(NULL, 0, &r, 4500, &f);
	assert_int_equal(f.have, PIDF_NETQ_RATE | PIDF_NETQ_PROBED | PIDF_NETQ_RTT |
			 PIDF_NETQ_LOSS | PIDF_NETQ_AGE);
	assert_int_equal(f.rate_kbps, 2400);
	assert_true(f.probed);
	assert_int_equal(f.rtt_ms, 85);
	assert_int_equal(f.loss_ppm, 200000);     /* 7 of 35 */
	assert_int_equal(f.age_s, 4);
	/* too old: nothing */
	hpres_figures(NULL, 0, &r, (NETQ_PROBE_MAX_AGE_S + 1) * 1000ull, &f);
	assert_int_equal(f.have, 0);
	r.recv = 0;
	hpres_figures(NULL, 0, &r, 0, &f);
	assert_int_equal(f.have, 0);
}

static void test_figures_from_netq(void **state)
{
	struct netq_snapshot s[2];
	struct netq_probe_result own = { .rtt_us = 5000, .kbps = 777, .sent = 35, .recv = 35 };
	struct pidf_netq f;

	memset(s, 0, sizeof(s));
	s[0].ifindex = 7;
	s[0].up = 1;
	s[0].default_route = 1;
	s[0].have_probe = 1;
	s[0].probe_kbps = 50000;
	s[0].probe_rtt_us = 1200;
	s[0].probe_sent = 35;
	s[0].probe_recv = 35;
	s[0].probe_age_ms = 12000;
	s[1].ifindex = 9;             /* down, no route */
	hpres_figures(s, 2, NULL, 0, &f);
	assert_int_equal(f.link, PIDF_LINK_UP);
	assert_true(f.have & PIDF_NETQ_RATE);
	assert_int_equal(f.rate_kbps, 50000);
	assert_true(f.probed);
	assert_int_equal(f.rtt_ms, 1);
	assert_int_equal(f.loss_ppm, 0);
	assert_int_equal(f.age_s, 12);

	/* traffic above the probe: the rate is the traffic's; the RTT is
	 * still the probe's, and so is the age */
	s[0].rx_bps = 80000000;
	hpres_figures(s, 2, NULL, 0, &f);
	assert_int_equal(f.rate_kbps, 80000);
	assert_false(f.probed);
	assert_int_equal(f.age_s, 12);
	/* with a TCP RTT too, every figure is current: age 0 */
	s[0].have_tcp = 1;
	s[0].srtt_us = 30000;
	hpres_figures(s, 2, NULL, 0, &f);
	assert_int_equal(f.rtt_ms, 30);
	assert_int_equal(f.age_s, 0);
	s[0].have_tcp = 0;

	/* link down: said so, figures still given */
	s[0].rx_bps = 0;
	s[0].up = 0;
	hpres_figures(s, 1, NULL, 0, &f);
	assert_int_equal(f.link, PIDF_LINK_DOWN);

	/* no probe in the maps and idle: no rate from netq; our own probe
	 * fills rate and RTT */
	s[0].up = 1;
	s[0].have_probe = 0;
	hpres_figures(s, 1, NULL, 0, &f);
	assert_false(f.have & PIDF_NETQ_RATE);
	assert_false(f.have & PIDF_NETQ_RTT);
	hpres_figures(s, 1, &own, 3000, &f);
	assert_int_equal(f.rate_kbps, 777);
	assert_int_equal(f.rtt_ms, 5);
	assert_int_equal(f.age_s, 3);
	assert_int_equal(f.link, PIDF_LINK_UP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_window),
		cmocka_unit_test(test_budget_never_over),
		cmocka_unit_test(test_budget_full_ring),
		cmocka_unit_test(test_interval_check),
		cmocka_unit_test(test_material_change),
		cmocka_unit_test(test_figures_from_probe_alone),
		cmocka_unit_test(test_figures_from_netq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
