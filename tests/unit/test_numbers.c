/*
 * test_numbers: the in-memory table of numbers and their devices
 * (server/sip/numbers.c): add a number with and without devices, has,
 * devices (up to MAX, -ENOENT for an unknown number), of_device (the
 * number of a username, -ENOENT otherwise), a device added twice counted
 * once, too long names refused, many numbers, and adds from threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/sip/sipd.h"

static void test_basic(void **state)
{
	struct numbers *t;
	char devs[8][64], num[17];

	(void)state;
	assert_int_equal(numbers_new(&t), 0);
	assert_false(numbers_has(t, "+8613800138000"));
	assert_int_equal(numbers_devices(t, "+8613800138000", devs, 8), -ENOENT);
	assert_int_equal(numbers_of_device(t, "d1", num), -ENOENT);

	/* a number alone (an account without devices yet) */
	assert_int_equal(numbers_add(t, "+8613800138000", NULL), 0);
	assert_true(numbers_has(t, "+8613800138000"));
	assert_int_equal(numbers_devices(t, "+8613800138000", devs, 8), 0);

	/* devices */
	assert_int_equal(numbers_add(t, "+8613800138000", "d1"), 0);
	assert_int_equal(numbers_add(t, "+8613800138000", "d2"), 0);
	assert_int_equal(numbers_add(t, "+8613800138000", "d3"), 0);
	assert_int_equal(numbers_add(t, "+8613800138000", "d2"), 0); /* again */
	assert_int_equal(numbers_devices(t, "+8613800138000", devs, 8), 3);
	assert_string_equal(devs[0], "d1");
	assert_string_equal(devs[1], "d2");
	assert_string_equal(devs[2], "d3");
	/* MAX cuts the list */
	memset(devs, 0, sizeof(devs));
	assert_int_equal(numbers_devices(t, "+8613800138000", devs, 2), 2);
	assert_string_equal(devs[1], "d2");
	assert_string_equal(devs[2], "");
	assert_int_equal(numbers_of_device(t, "d3", num), 0);
	assert_string_equal(num, "+8613800138000");

	/* another number; the device names are per table */
	assert_int_equal(numbers_add(t, "+4915200000001", "e1"), 0);
	assert_int_equal(numbers_devices(t, "+4915200000001", devs, 8), 1);
	assert_string_equal(devs[0], "e1");
	assert_int_equal(numbers_of_device(t, "e1", num), 0);
	assert_string_equal(num, "+4915200000001");
	assert_false(numbers_has(t, "+491520000000"));
	assert_false(numbers_has(t, "+49152000000012"));
	assert_int_equal(numbers_of_device(t, "e", num), -ENOENT);
	assert_int_equal(numbers_of_device(t, "+4915200000001", num), -ENOENT);

	/* too long: refused, nothing added */
	{
		char longnum[40], longdev[100];
		memset(longnum, '1', sizeof(longnum) - 1);
		longnum[0] = '+';
		longnum[sizeof(longnum) - 1] = '\0';
		memset(longdev, 'x', sizeof(longdev) - 1);
		longdev[sizeof(longdev) - 1] = '\0';
		assert_int_equal(numbers_add(t, longnum, NULL), -EINVAL);
		assert_false(numbers_has(t, longnum));
		assert_int_equal(numbers_add(t, "+4915200000002", longdev), -EINVAL);
		assert_false(numbers_has(t, "+4915200000002"));
		assert_int_equal(numbers_of_device(t, longdev, num), -ENOENT);
	}
	numbers_free(t);
	numbers_free(NULL);
}

static void test_many(void **state)
{
	struct numbers *t;
	char n[32], d[64], devs[4][64], num[17];
	int i;

	(void)state;
	assert_int_equal(numbers_new(&t), 0);
	for (i = 0; i < 20000; i++) {
		snprintf(n, sizeof(n), "+86138%08d", i);
		snprintf(d, sizeof(d), "dev-%d-a", i);
		assert_int_equal(numbers_add(t, n, d), 0);
		if (i % 2 == 0) {
			snprintf(d, sizeof(d), "dev-%d-b", i);
			assert_int_equal(numbers_add(t, n, d), 0);
		}
	}
	for (i = 0; i < 20000; i++) {
		snprintf(n, sizeof(n), "+86138%08d", i);
		assert_true(numbers_has(t, n));
		assert_int_equal(numbers_devices(t, n, devs, 4), i % 2 ? 1 : 2);
		snprintf(d, sizeof(d), "dev-%d-a", i);
		assert_string_equal(devs[0], d);
		assert_int_equal(numbers_of_device(t, d, num), 0);
		assert_string_equal(num, n);
	}
	assert_false(numbers_has(t, "+8613900000000"));
	numbers_free(t);
}

struct adder {
	struct numbers *t;
	int id;
};

static void *adder_main(void *arg)
{
	struct adder *a = arg;
	char d[64];
	int i;

	/* every thread adds its own devices to the same 100 numbers */
	for (i = 0; i < 1000; i++) {
		char n[32];
		snprintf(n, sizeof(n), "+86139%08d", i % 100);
		snprintf(d, sizeof(d), "t%d-%d", a->id, i);
		if (numbers_add(a->t, n, d))
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct adder a[4];
	pthread_t th[4];
	struct numbers *t;
	char devs[64][64], n[32], num[17];
	int i;

	(void)state;
	assert_int_equal(numbers_new(&t), 0);
	for (i = 0; i < 4; i++) {
		a[i].t = t;
		a[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, adder_main, &a[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	for (i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "+86139%08d", i);
		assert_int_equal(numbers_devices(t, n, devs, 64), 40);
	}
	assert_int_equal(numbers_of_device(t, "t3-999", num), 0);
	assert_string_equal(num, "+8613900000099");
	numbers_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
