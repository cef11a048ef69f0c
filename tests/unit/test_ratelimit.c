/*
 * test_ratelimit: server/core/ratelimit.h with a fake clock: a fresh key
 * gets BURST tokens, then waits the time one token takes; the wait given
 * is enough (taking again then succeeds) and never much more; an idle key
 * refills to BURST, not beyond; keys are independent; at the cap (MAX
 * keys) new keys keep getting through and an evicted key comes back with
 * a full bucket (early, never locked out); threads hammering one key get
 * exactly BURST tokens at a frozen clock.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../server/core/ratelimit.h"
#include "dataline/hmap.h"

static void test_burst_refill(void **state)
{
	struct ratelimit *rl;
	uint64_t now = 1000000, w;
	int i;

	(void)state;
	assert_int_equal(ratelimit_new(0, 5, 100, &rl), -EINVAL);
	assert_int_equal(ratelimit_new(10, 0.5, 100, &rl), -EINVAL);
	assert_int_equal(ratelimit_new(10, 5, 100, &rl), 0); /* 10/s, burst 5 */
	for (i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take(rl, "+8613800138001", now), 0);
	w = ratelimit_take(rl, "+8613800138001", now);
	/* one token takes 100 ms */
	assert_true(w >= 100 && w <= 102);
	/* a refused take costs nothing: the same wait again */
	assert_int_equal(ratelimit_take(rl, "+8613800138001", now), w);
	/* just before: still refused; at the wait given: through */
	assert_true(ratelimit_take(rl, "+8613800138001", now + w - 5) > 0);
	assert_int_equal(ratelimit_take(rl, "+8613800138001", now + w), 0);
	assert_true(ratelimit_take(rl, "+8613800138001", now + w) > 0);
	/* another key is not affected */
	assert_int_equal(ratelimit_take(rl, "+8613800138002", now), 0);
	/* sustained: one every 100 ms goes through, indefinitely */
	now += w;
	for (i = 1; i <= 50; i++)
		assert_int_equal(ratelimit_take(rl, "+8613800138001",
						now + (uint64_t)i * 101), 0);
	/* an hour idle: BURST again, not 36,000 */
	now += 3600 * 1000;
	for (i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take(rl, "+8613800138001", now), 0);
	assert_true(ratelimit_take(rl, "+8613800138001", now) > 0);
	/* a clock that went back a little (another thread's older "now")
	 * neither adds tokens nor breaks the bucket */
	assert_true(ratelimit_take(rl, "+8613800138001", now - 50) > 0);
	assert_int_equal(ratelimit_take(rl, "+8613800138001", now + 101), 0);
	/* long keys are cut, not overflowed */
	{
		char big[200];
		for (i = 0; i < 199; i++)
			big[i] = 'k';
		big[199] = '\0';
		assert_int_equal(ratelimit_take(rl, big, now), 0);
	}
	ratelimit_free(rl);
}

static void test_cap_eviction(void **state)
{
	struct ratelimit *rl;
	uint64_t now = 5000;
	char key[32];
	int i, j, refused = 0;

	(void)state;
	/* at most ~32 keys (2 a shard), burst 3, 1/s */
	assert_int_equal(ratelimit_new(1, 3, 16, &rl), 0);
	/* victim: its bucket empty */
	for (i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take(rl, "victim", now), 0);
	assert_true(ratelimit_take(rl, "victim", now) > 0);
	/* 10,000 other keys at the cap: every first take goes through */
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "+86138%08d", i);
		if (ratelimit_take(rl, key, now + 1 + (uint64_t)i / 100))
			refused++;
	}
	assert_int_equal(refused, 0);
	/* the victim was evicted: it may come back early, never locked out */
	assert_int_equal(ratelimit_take(rl, "victim", now + 200), 0);
	/* keys draining their burst at the cap are still limited while held:
	 * taking BURST+1 at once is refused once */
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "burst%d", i);
		for (j = 0; j < 3; j++)
			assert_int_equal(ratelimit_take(rl, key, now + 300), 0);
		assert_true(ratelimit_take(rl, key, now + 300) > 0);
	}
	ratelimit_free(rl);
}

/* ratelimit.c's shard of a key (the top 4 bits of its hash). */
static int shard_of(const char *key)
{
	return (int)(hmap_hash_str(key) >> 60) % 16;
}

/* A shard at its cap makes room for a new key whose "now" is a little
 * older than another key's last take (threads read the clock before the
 * lock): that other key is not idle, let alone full again, and must keep
 * its empty bucket; the idlest key goes instead. */
static void test_trim_clock_behind(void **state)
{
	char keys[3][16];
	struct ratelimit *rl;
	int n = 0, i, s = -1;

	(void)state;
	for (i = 0; n < 3 && i < 100000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		if (s < 0)
			s = shard_of(k);
		if (shard_of(k) == s)
			snprintf(keys[n++], sizeof(keys[0]), "%s", k);
	}
	assert_int_equal(n, 3);
	/* max 16 -> 2 keys a shard; 1 token an hour, burst 2 */
	assert_int_equal(ratelimit_new(1.0 / 3600, 2, 16, &rl), 0);
	assert_int_equal(ratelimit_take(rl, keys[1], 500), 0);   /* idlest */
	assert_int_equal(ratelimit_take(rl, keys[0], 1000), 0);
	assert_int_equal(ratelimit_take(rl, keys[0], 1000), 0);
	assert_true(ratelimit_take(rl, keys[0], 1000) > 0);     /* empty */
	/* a third key, its clock read 1 ms before keys[0]'s last take */
	assert_int_equal(ratelimit_take(rl, keys[2], 999), 0);
	/* keys[0] is still held, still empty */
	assert_true(ratelimit_take(rl, keys[0], 1000) > 0);
	ratelimit_free(rl);
}

struct hammer {
	struct ratelimit *rl;
	int got;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	int i;

	for (i = 0; i < 10000; i++)
		if (!ratelimit_take(h->rl, "+8613800138009", 777))
			h->got++;
	return NULL;
}

static void test_threads(void **state)
{
	struct hammer h[4];
	pthread_t th[4];
	struct ratelimit *rl;
	int i, total = 0;

	(void)state;
	assert_int_equal(ratelimit_new(1, 200, 1000, &rl), 0);
	for (i = 0; i < 4; i++) {
		h[i].rl = rl;
		h[i].got = 0;
		assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += h[i].got;
	}
	assert_int_equal(total, 200);
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_refill),
		cmocka_unit_test(test_cap_eviction),
		cmocka_unit_test(test_trim_clock_behind),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
