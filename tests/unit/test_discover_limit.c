/*
 * test_discover_limit: contact discovery's per-account limits
 * (server/http/discover_limit.c): SipHash-2-4 against the paper's
 * vectors, the request bucket and its Retry-After, the daily distinct
 * count (duplicates and re-lookups free, all or nothing over the cap,
 * the window ending), the global bound failing closed, and gc.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/http/discover_limit.h"

#define HOUR_MS (3600 * 1000LL)

static void test_siphash_vectors(void **state)
{
	uint8_t key[16], msg[64];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	/* Aumasson & Bernstein, "SipHash", appendix A and vectors.h */
	assert_true(dlimit_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(dlimit_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(dlimit_siphash(key, msg, 8) == 0x93f5f5799a932462ULL);
}

static struct dlimit *mk(int burst, int per_hour, int cap, size_t track)
{
	struct dlimit_config c = { burst, per_hour, cap, track };
	struct dlimit *d = NULL;

	assert_int_equal(dlimit_new(&c, &d), 0);
	return d;
}

static void test_config(void **state)
{
	struct dlimit_config bad[] = {
		{ 0, 1, 1, 1 }, { 1, 0, 1, 1 }, { 1, 1, 0, 1 }, { 1, 1, 10, 9 },
	};
	struct dlimit *d = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dlimit_new(&bad[i], &d), -EINVAL);
	assert_int_equal(dlimit_new(NULL, &d), -EINVAL);
	assert_null(d);
}

static void test_bucket(void **state)
{
	struct dlimit *d = mk(3, 60, 100, 1000); /* one token a minute */
	int64_t t = 1000000;
	int ra = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(dlimit_take_request(d, "+4930111", t, &ra), 0);
	assert_int_equal(dlimit_take_request(d, "+4930111", t, &ra), -EAGAIN);
	assert_int_equal(ra, 60);
	/* other accounts have their own */
	assert_int_equal(dlimit_take_request(d, "+4930222", t, &ra), 0);
	/* 30 s later half a token: 30 s to wait */
	assert_int_equal(dlimit_take_request(d, "+4930111", t + 30000, &ra),
			 -EAGAIN);
	assert_int_equal(ra, 30);
	assert_int_equal(dlimit_take_request(d, "+4930111", t + 60000, &ra), 0);
	/* refill never exceeds the burst */
	for (int i = 0; i < 3; i++)
		assert_int_equal(dlimit_take_request(d, "+4930111",
						     t + 100 * HOUR_MS, &ra), 0);
	assert_int_equal(dlimit_take_request(d, "+4930111", t + 100 * HOUR_MS,
					     &ra), -EAGAIN);
	/* the clock going back takes nothing away and gives nothing */
	assert_int_equal(dlimit_take_request(d, "+4930111", t, &ra), -EAGAIN);
	dlimit_free(d);
}

static void hashes(struct dlimit *d, uint64_t *h, int from, int n)
{
	char num[24];

	for (int i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "+4940%07d", from + i);
		h[i] = dlimit_hash(d, num);
	}
}

static void test_distinct_cap(void **state)
{
	struct dlimit *d = mk(10, 60, 100, 1000);
	uint64_t h[200];
	int64_t t = 5 * HOUR_MS;
	size_t fresh = 0;
	int ra = 0;

	(void)state;
	assert_true(dlimit_hash(d, "+4930123") != dlimit_hash(d, "+4930124"));
	assert_true(dlimit_hash(d, "+4930123") == dlimit_hash(d, "+4930123"));
	/* 60 numbers with 20 repeated in the same request: 60 counted */
	hashes(d, h, 0, 60);
	hashes(d, h + 60, 0, 20);
	assert_int_equal(dlimit_count(d, "A", h, 80, t, &fresh, &ra), 0);
	assert_int_equal(fresh, 60);
	assert_int_equal(dlimit_remaining(d, "A", t), 40);
	/* looking them up again is free */
	hashes(d, h, 0, 60);
	assert_int_equal(dlimit_count(d, "A", h, 60, t + 1000, &fresh, &ra), 0);
	assert_int_equal(fresh, 0);
	assert_int_equal(dlimit_entries(d), 60);
	/* 41 new ones (with 10 old): over 100, nothing recorded */
	hashes(d, h, 50, 51);
	assert_int_equal(dlimit_count(d, "A", h, 51, t + HOUR_MS, &fresh, &ra),
			 -EDQUOT);
	assert_int_equal(fresh, 41);
	assert_int_equal(ra, 23 * 3600 + 1);
	assert_int_equal(dlimit_remaining(d, "A", t + HOUR_MS), 40);
	/* 40 new ones fit exactly */
	hashes(d, h, 50, 50);
	assert_int_equal(dlimit_count(d, "A", h, 50, t + HOUR_MS, &fresh, &ra),
			 0);
	assert_int_equal(dlimit_remaining(d, "A", t + HOUR_MS), 0);
	/* at the cap: counted numbers still pass, a new one does not */
	hashes(d, h, 0, 100);
	assert_int_equal(dlimit_count(d, "A", h, 100, t + 2 * HOUR_MS, &fresh,
				      &ra), 0);
	hashes(d, h, 100, 1);
	assert_int_equal(dlimit_count(d, "A", h, 1, t + 2 * HOUR_MS, &fresh,
				      &ra), -EDQUOT);
	/* another account: its own count */
	hashes(d, h, 100, 1);
	assert_int_equal(dlimit_count(d, "B", h, 1, t, &fresh, &ra), 0);
	/* the window ends 24 h after its first count */
	hashes(d, h, 100, 100);
	assert_int_equal(dlimit_count(d, "A", h, 100, t + DLIMIT_WINDOW_MS,
				      &fresh, &ra), 0);
	assert_int_equal(fresh, 100);
	assert_int_equal(dlimit_entries(d), 101);
	assert_int_equal(dlimit_count(d, "A", h, 0, t, &fresh, &ra), 0);
	dlimit_free(d);
}

static void test_track_max_and_gc(void **state)
{
	struct dlimit *d = mk(2, 60, 100, 150);
	uint64_t h[100];
	int64_t t = 10 * HOUR_MS;
	size_t fresh;
	int ra = 0;

	(void)state;
	hashes(d, h, 0, 100);
	assert_int_equal(dlimit_count(d, "A", h, 100, t, &fresh, &ra), 0);
	hashes(d, h, 0, 60);
	/* B's 60 would make 160 > 150 hashes: refused, fail closed, with
	 * the time until A's window ends */
	assert_int_equal(dlimit_count(d, "B", h, 60, t + HOUR_MS, &fresh, &ra),
			 -ENOSPC);
	assert_int_equal(ra, 23 * 3600 + 1);
	assert_int_equal(dlimit_count(d, "B", h, 50, t + HOUR_MS, &fresh, &ra),
			 0);
	assert_int_equal(dlimit_accounts(d), 2);
	/* gc: nothing goes while windows run */
	dlimit_gc(d, t + 2 * HOUR_MS);
	assert_int_equal(dlimit_accounts(d), 2);
	assert_int_equal(dlimit_entries(d), 150);
	/* A's window ended: its hashes go, so B's 60 fit now (count runs gc
	 * itself when full) */
	hashes(d, h, 0, 60);
	assert_int_equal(dlimit_count(d, "B", h, 60, t + DLIMIT_WINDOW_MS,
				      &fresh, &ra), 0);
	assert_int_equal(dlimit_entries(d), 60);
	assert_int_equal(dlimit_accounts(d), 1);
	/* an account with a spent bucket stays until it is full again */
	assert_int_equal(dlimit_take_request(d, "C", t, &ra), 0);
	dlimit_gc(d, t);
	assert_int_equal(dlimit_accounts(d), 2);
	dlimit_gc(d, t + HOUR_MS);
	assert_int_equal(dlimit_accounts(d), 1);
	dlimit_free(d);
}

static void test_many_accounts(void **state)
{
	struct dlimit *d = mk(1, 1, 10, 100000);
	char acct[24];
	uint64_t h;
	size_t fresh;
	int ra;

	(void)state;
	/* the account table grows; every account is found again */
	for (int i = 0; i < 5000; i++) {
		snprintf(acct, sizeof(acct), "+49151%08d", i);
		h = dlimit_hash(d, acct);
		assert_int_equal(dlimit_count(d, acct, &h, 1, 0, &fresh, &ra), 0);
		assert_int_equal(fresh, 1);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(acct, sizeof(acct), "+49151%08d", i);
		h = dlimit_hash(d, acct);
		assert_int_equal(dlimit_count(d, acct, &h, 1, 0, &fresh, &ra), 0);
		assert_int_equal(fresh, 0);
	}
	assert_int_equal(dlimit_accounts(d), 5000);
	/* an account name too long for the table is refused, not cut */
	assert_int_equal(dlimit_take_request(d, "+123456789012345678901234", 0,
					     &ra), -ENOMEM);
	dlimit_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_distinct_cap),
		cmocka_unit_test(test_track_max_and_gc),
		cmocka_unit_test(test_many_accounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
