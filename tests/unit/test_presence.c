/*
 * test_presence: the presence store (server/presence/): RFC 3903
 * publish / refresh / modify / remove with entity tags, the bound on
 * entries, expiry with its report per number, and the aggregate the call
 * gate reads (best device of a number, age), dropping the publication of
 * a device gone offline. Table-driven where it fits;
 * malformed arguments included.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/presence/presence.h"
#include "../../server/presence/reflector.h"

#define NUM "+8613800138000"

static struct pidf_netq nq(int link, uint32_t rate, uint32_t rtt)
{
	struct pidf_netq q;

	memset(&q, 0, sizeof(q));
	q.present = 1;
	if (link) {
		q.have |= PIDF_NETQ_LINK;
		q.link = link;
	}
	if (rate) {
		q.have |= PIDF_NETQ_RATE;
		q.rate_kbps = rate;
	}
	if (rtt) {
		q.have |= PIDF_NETQ_RTT;
		q.rtt_ms = rtt;
	}
	return q;
}

static void test_publish_cycle(void **state)
{
	struct presence *p;
	struct presence_view v;
	struct pidf_netq q = nq(PIDF_LINK_UP, 2400, 85);
	char e1[PRESENCE_ETAG_LEN], e2[PRESENCE_ETAG_LEN], e3[PRESENCE_ETAG_LEN];
	int ch = -1;

	(void)state;
	assert_int_equal(presence_new(100, &p), 0);
	assert_int_equal(presence_figures(p, NUM, 1000, &v), -ENOENT);
	assert_int_equal(presence_publish(p, NUM, "dev-a", NULL, &q,
					  PIDF_BASIC_OPEN, 60, 1000, e1, &ch), 0);
	assert_int_equal(ch, 1);
	assert_int_equal(strlen(e1), 16);
	assert_int_equal(presence_count(p), 1);
	assert_int_equal(presence_figures(p, NUM, 3000, &v), 0);
	assert_string_equal(v.device, "dev-a");
	assert_int_equal(v.ndevices, 1);
	assert_int_equal(v.netq.rate_kbps, 2400);
	assert_int_equal(v.age_s, 2);
	/* refresh: new etag, same figures, no change reported */
	assert_int_equal(presence_publish(p, NUM, "dev-a", e1, NULL, 0, 60,
					  50000, e2, &ch), 0);
	assert_int_equal(ch, 0);
	assert_string_not_equal(e1, e2);
	/* the old etag is dead (412) */
	assert_int_equal(presence_publish(p, NUM, "dev-a", e1, NULL, 0, 60,
					  50000, e3, NULL), -ENOENT);
	/* another device cannot use dev-a's etag */
	assert_int_equal(presence_publish(p, NUM, "dev-b", e2, NULL, 0, 60,
					  50000, e3, NULL), -ENOENT);
	/* still alive at 1000 + 60 s thanks to the refresh */
	assert_int_equal(presence_figures(p, NUM, 61000, &v), 0);
	/* modify */
	q.rate_kbps = 100;
	assert_int_equal(presence_publish(p, NUM, "dev-a", e2, &q,
					  PIDF_BASIC_OPEN, 60, 60000, e3, &ch),
			 0);
	assert_int_equal(ch, 1);
	assert_int_equal(presence_figures(p, NUM, 60000, &v), 0);
	assert_int_equal(v.netq.rate_kbps, 100);
	/* remove */
	assert_int_equal(presence_publish(p, NUM, "dev-a", e3, NULL, 0, 0,
					  60000, e1, &ch), 0);
	assert_int_equal(ch, 1);
	assert_string_equal(e1, "");
	assert_int_equal(presence_count(p), 0);
	assert_int_equal(presence_figures(p, NUM, 60000, &v), -ENOENT);
	presence_free(p);
}

static void test_bad_args(void **state)
{
	static const struct {
		const char *number, *device, *if_match;
		int with_nq;
		uint32_t expires;
	} cases[] = {
		{ NULL, "d", NULL, 1, 60 },
		{ NUM, NULL, NULL, 1, 60 },
		{ "", "d", NULL, 1, 60 },
		{ NUM, "", NULL, 1, 60 },
		{ NUM, "d", NULL, 0, 60 },  /* initial without figures */
		{ NUM, "d", NULL, 1, 0 },   /* remove without etag */
		{ "+123456789012345678901234567890", "d", NULL, 1, 60 },
	};
	struct pidf_netq q = nq(0, 0, 0);
	struct presence *p;
	char e[PRESENCE_ETAG_LEN];
	size_t i;

	(void)state;
	assert_int_equal(presence_new(10, &p), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(presence_publish(p, cases[i].number,
						  cases[i].device,
						  cases[i].if_match,
						  cases[i].with_nq ? &q : NULL,
						  PIDF_BASIC_OPEN,
						  cases[i].expires, 1, e, NULL),
				 -EINVAL);
	/* unknown etag for a device with nothing published */
	assert_int_equal(presence_publish(p, NUM, "d", "0123456789abcdef", &q,
					  PIDF_BASIC_OPEN, 60, 1, e, NULL),
			 -ENOENT);
	assert_int_equal(presence_count(p), 0);
	presence_free(p);
}

static void test_bound_and_one_per_device(void **state)
{
	struct pidf_netq q = nq(PIDF_LINK_UP, 1, 1);
	struct presence *p;
	char e[PRESENCE_ETAG_LEN], dev[16];
	int i;

	(void)state;
	assert_int_equal(presence_new(3, &p), 0);
	for (i = 0; i < 3; i++) {
		snprintf(dev, sizeof(dev), "d%d", i);
		assert_int_equal(presence_publish(p, NUM, dev, NULL, &q,
						  PIDF_BASIC_OPEN, 60, 1, e,
						  NULL), 0);
	}
	assert_int_equal(presence_publish(p, NUM, "d3", NULL, &q,
					  PIDF_BASIC_OPEN, 60, 1, e, NULL),
			 -ENOSPC);
	/* a device publishing again replaces its own entry */
	assert_int_equal(presence_publish(p, NUM, "d0", NULL, &q,
					  PIDF_BASIC_OPEN, 60, 1, e, NULL), 0);
	assert_int_equal(presence_count(p), 3);
	presence_free(p);
}

static int expired_calls;
static void on_expired(void *arg, const char *number)
{
	(void)arg;
	assert_string_equal(number, NUM);
	expired_calls++;
}

static void test_expiry(void **state)
{
	struct pidf_netq q = nq(PIDF_LINK_UP, 1, 1);
	struct presence_view v;
	struct presence_dev d[4];
	struct presence *p;
	char e[PRESENCE_ETAG_LEN];
	size_t n;

	(void)state;
	assert_int_equal(presence_new(10, &p), 0);
	assert_int_equal(presence_publish(p, NUM, "a", NULL, &q,
					  PIDF_BASIC_OPEN, 10, 0, e, NULL), 0);
	assert_int_equal(presence_publish(p, NUM, "b", NULL, &q,
					  PIDF_BASIC_OPEN, 20, 0, e, NULL), 0);
	assert_int_equal(presence_list(p, NUM, 5000, d, 4, &n), 0);
	assert_int_equal(n, 2);
	/* at 10 s "a" is gone for readers even before the sweep */
	assert_int_equal(presence_list(p, NUM, 10000, d, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].device, "b");
	expired_calls = 0;
	assert_int_equal(presence_expire(p, 10000, on_expired, NULL), 1);
	assert_int_equal(expired_calls, 1);
	assert_int_equal(presence_count(p), 1);
	assert_int_equal(presence_expire(p, 19999, on_expired, NULL), 0);
	assert_int_equal(presence_expire(p, 20000, on_expired, NULL), 1);
	assert_int_equal(presence_figures(p, NUM, 20000, &v), -ENOENT);
	assert_int_equal(presence_count(p), 0);
	presence_free(p);
}

static void test_aggregate(void **state)
{
	static const struct {
		int link;
		uint32_t rate, rtt;
		const char *dev;
	} devs[] = {
		{ PIDF_LINK_DOWN, 50000, 5, "down-fast" },
		{ PIDF_LINK_UP, 2000, 90, "up-2000-90" },
		{ PIDF_LINK_UP, 2000, 40, "up-2000-40" },
		{ 0, 1000, 10, "unknown-1000" },
	};
	struct presence_view v;
	struct presence *p;
	char e[PRESENCE_ETAG_LEN];
	size_t i;

	(void)state;
	assert_int_equal(presence_new(10, &p), 0);
	for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		struct pidf_netq q = nq(devs[i].link, devs[i].rate,
					devs[i].rtt);
		assert_int_equal(presence_publish(p, NUM, devs[i].dev, NULL,
						  &q, PIDF_BASIC_OPEN, 60,
						  1000, e, NULL), 0);
	}
	/* another number does not mix in */
	{
		struct pidf_netq q = nq(PIDF_LINK_UP, 90000, 1);
		assert_int_equal(presence_publish(p, "+8613800138001", "x",
						  NULL, &q, PIDF_BASIC_OPEN,
						  60, 1000, e, NULL), 0);
	}
	assert_int_equal(presence_figures(p, NUM, 1000, &v), 0);
	assert_int_equal(v.ndevices, 4);
	assert_string_equal(v.device, "up-2000-40");
	assert_int_equal(v.netq.rtt_ms, 40);
	presence_free(p);
}

/* The reflector: only authenticated addresses, a burst then the rate,
 * forgotten after ALLOW_S, bounded. */
static void test_reflector(void **state)
{
	static const uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct reflector *r;
	int i, n = 0;

	(void)state;
	assert_int_equal(reflector_new(1000, 60, &r), 0);
	assert_int_equal(reflector_admit(r, a, 4, 1000), 0);
	assert_int_equal(reflector_admit(r, NULL, 0, 1000), 0);
	assert_int_equal(reflector_admit(r, a, 17, 1000), 0);
	reflector_allow(r, a, 4, 1000);
	reflector_allow(r, v6, 16, 1000);
	assert_int_equal(reflector_admit(r, b, 4, 1000), 0);
	assert_int_equal(reflector_admit(r, v6, 16, 1000), 1);
	for (i = 0; i < 1000; i++)
		n += reflector_admit(r, a, 4, 1000);
	assert_int_equal(n, REFLECTOR_BURST);
	/* one second later: REFLECTOR_RATE more */
	n = 0;
	for (i = 0; i < 100; i++)
		n += reflector_admit(r, a, 4, 2000);
	assert_int_equal(n, REFLECTOR_RATE);
	/* past ALLOW_S without a new authentication: gone */
	assert_int_equal(reflector_admit(r, a, 4, 1000 + 61000), 0);
	assert_int_equal(reflector_count(r), 1);
	reflector_free(r);

	/* bounded: a full shard evicts its oldest */
	assert_int_equal(reflector_new(16, 60, &r), 0);
	for (i = 0; i < 1000; i++) {
		uint8_t ip[4] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };
		reflector_allow(r, ip, 4, (uint64_t)i);
	}
	assert_true(reflector_count(r) <= 2 * 16);
	reflector_free(r);
}

/* presence_drop: a device gone offline loses its publication (only the one
 * the caller looked at, when an etag is given); the aggregate follows. */
static void test_drop(void **state)
{
	struct presence *p;
	struct presence_view v;
	struct pidf_netq q1 = nq(PIDF_LINK_UP, 1000, 50);
	struct pidf_netq q2 = nq(PIDF_LINK_UP, 5000, 20);
	char e1[PRESENCE_ETAG_LEN], e2[PRESENCE_ETAG_LEN], e3[PRESENCE_ETAG_LEN];
	static const struct {
		const char *number, *device, *etag;
		int err;
	} bad[] = {
		{ NULL, "a", NULL, -EINVAL },
		{ NUM, NULL, NULL, -EINVAL },
		{ NUM, "nobody", NULL, -ENOENT },
		{ "+8613800138999", "a", NULL, -ENOENT }, /* another number */
		{ NUM, "a", "0000000000000000", -ENOENT }, /* stale etag */
		{ NUM, "a", "", -ENOENT },
	};
	size_t i;

	(void)state;
	assert_int_equal(presence_drop(NULL, NUM, "a", NULL), -EINVAL);
	assert_int_equal(presence_new(10, &p), 0);
	assert_int_equal(presence_publish(p, NUM, "a", NULL, &q1,
					  PIDF_BASIC_OPEN, 60, 1000, e1, NULL), 0);
	assert_int_equal(presence_publish(p, NUM, "b", NULL, &q2,
					  PIDF_BASIC_OPEN, 60, 1000, e2, NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(presence_drop(p,
					       bad[i].number, bad[i].device,
					       bad[i].etag), bad[i].err);
	assert_int_equal(presence_count(p), 2);
	/* the best device goes offline: the aggregate is the other's */
	assert_int_equal(presence_figures(p, NUM, 2000, &v), 0);
	assert_string_equal(v.device, "b");
	assert_int_equal(presence_drop(p, NUM, "b", e2), 0);
	assert_int_equal(presence_drop(p, NUM, "b", e2), -ENOENT);
	assert_int_equal(presence_count(p), 1);
	assert_int_equal(presence_figures(p, NUM, 2000, &v), 0);
	assert_string_equal(v.device, "a");
	assert_int_equal(v.ndevices, 1);
	/* a publication modified since (new etag) is kept ... */
	assert_int_equal(presence_publish(p, NUM, "a", e1, &q2,
					  PIDF_BASIC_OPEN, 60, 1500, e3, NULL), 0);
	assert_int_equal(presence_drop(p, NUM, "a", e1), -ENOENT);
	assert_int_equal(presence_count(p), 1);
	assert_int_equal(presence_figures(p, NUM, 2000, &v), 0);
	/* ... and without an etag any goes; the old tag no longer refreshes */
	assert_int_equal(presence_drop(p, NUM, "a", NULL), 0);
	assert_int_equal(presence_count(p), 0);
	assert_int_equal(presence_figures(p, NUM, 2000, &v), -ENOENT);
	assert_int_equal(presence_publish(p, NUM, "a", e3, NULL,
					  PIDF_BASIC_OPEN, 60, 2000, e1, NULL),
			 -ENOENT);
	/* nothing left for the sweep to report */
	assert_int_equal(presence_expire(p, 1000000, NULL, NULL), 0);
	presence_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_cycle),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_bound_and_one_per_device),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_aggregate),
		cmocka_unit_test(test_reflector),
		cmocka_unit_test(test_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
