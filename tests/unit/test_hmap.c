/*
 * test_hmap: the intrusive hash table (lib/util/hmap.c): insert, find,
 * remove, growth and shrink, iteration that removes as it goes, colliding
 * hashes, and SipHash-1-3 against reference values (CPython's bytes hash
 * with PYTHONHASHSEED=0, i.e. a zero key, which is plain SipHash-1-3).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/hmap.h"

struct item {
	int key;
	int seen;
	struct hmap_node node;
};

static uint64_t key_hash(int k)
{
	return hmap_hash(&k, sizeof(k));
}

static int item_eq(const struct hmap_node *n, const void *key)
{
	return HMAP_ENTRY(n, const struct item, node)->key == *(const int *)key;
}

static struct item *find(struct hmap *m, int k)
{
	return HMAP_ENTRY(hmap_find(m, key_hash(k), item_eq, &k), struct item,
			  node);
}

static void test_siphash13_vectors(void **state)
{
	static const uint8_t zero[16];
	static const struct {
		const char *in;
		uint64_t want;
	} v[] = {
		{ "a", 0x407448d2b89b1813ULL },
		{ "abc", 0xc03bc3a0042630f2ULL },
		{ "abcdefgh", 0x3f7b849c0b8e35eaULL },          /* one block */
		{ "abcdefghijklmnopq", 0x61c47e6da27eacccULL }, /* 2 + tail */
		{ "z9hG4bK776asdhds", 0x539004977bff3040ULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_true(hmap_hash_seeded(zero, v[i].in, strlen(v[i].in)) ==
			    v[i].want);
}

static void test_process_key(void **state)
{
	static const uint8_t zero[16];

	(void)state;
	/* keyed: not the zero-key value, stable within the process */
	assert_true(hmap_hash("abc", 3) != 0xc03bc3a0042630f2ULL);
	assert_true(hmap_hash("abc", 3) == hmap_hash("abc", 3));
	assert_true(hmap_hash_str("abc") == hmap_hash("abc", 3));
	assert_true(hmap_hash_seeded(zero, "abc", 3) !=
		    hmap_hash_seeded(zero, "abd", 3));
}

static void test_insert_find_remove(void **state)
{
	enum { N = 5000 };
	struct hmap m;
	struct item *it = calloc(N, sizeof(*it));
	int k;

	(void)state;
	assert_non_null(it);
	assert_int_equal(hmap_init(&m, 5), 0);
	assert_int_equal(hmap_buckets(&m), 8);
	for (k = 0; k < N; k++) {
		it[k].key = k;
		hmap_insert(&m, &it[k].node, key_hash(k));
	}
	assert_int_equal(hmap_count(&m), N);
	assert_true(hmap_buckets(&m) >= N / 2); /* it grew */
	for (k = 0; k < N; k++)
		assert_ptr_equal(find(&m, k), &it[k]);
	assert_null(find(&m, N));
	assert_null(find(&m, -1));
	for (k = 0; k < N; k += 2)
		assert_int_equal(hmap_remove(&m, &it[k].node), 0);
	assert_int_equal(hmap_remove(&m, &it[0].node), -ENOENT);
	assert_int_equal(hmap_count(&m), N / 2);
	for (k = 0; k < N; k++)
		if (k % 2)
			assert_ptr_equal(find(&m, k), &it[k]);
		else
			assert_null(find(&m, k));
	for (k = 1; k < N; k += 2)
		assert_int_equal(hmap_remove(&m, &it[k].node), 0);
	assert_int_equal(hmap_count(&m), 0);
	hmap_shrink(&m);
	assert_int_equal(hmap_buckets(&m), 8); /* back to hmap_init's size */
	hmap_destroy(&m);
	free(it);
}

/* Every node in one chain with the same hash: found by key, removed from
 * the middle, listed by hmap_for_each_hash. */
static void test_collisions(void **state)
{
	struct item it[6];
	struct hmap_node *pos, *tmp;
	struct hmap m;
	int k, n = 0;

	(void)state;
	assert_int_equal(hmap_init(&m, 4), 0);
	for (k = 0; k < 6; k++) {
		it[k].key = k;
		hmap_insert(&m, &it[k].node, k < 5 ? 42 : 42 + 8);
	}
	for (k = 0; k < 5; k++)
		assert_ptr_equal(HMAP_ENTRY(hmap_find(&m, 42, item_eq, &k),
					    struct item, node), &it[k]);
	/* same bucket, other hash: not listed under 42 */
	hmap_for_each_hash(&m, pos, 42)
		n++;
	assert_int_equal(n, 5);
	assert_int_equal(hmap_remove(&m, &it[2].node), 0);
	k = 2;
	assert_null(hmap_find(&m, 42, item_eq, &k));
	/* remove all with hash 42 while walking them */
	hmap_for_each_hash_safe(&m, pos, tmp, 42)
		assert_int_equal(hmap_remove(&m, pos), 0);
	assert_int_equal(hmap_count(&m), 1);
	k = 5;
	assert_ptr_equal(HMAP_ENTRY(hmap_find(&m, 50, item_eq, &k),
				    struct item, node), &it[5]);
	hmap_destroy(&m);
}

static void test_iterate_and_remove(void **state)
{
	enum { N = 1000 };
	struct item *it = calloc(N, sizeof(*it));
	struct hmap_iter iter;
	struct hmap_node *pos;
	struct hmap m;
	int k, n = 0;

	(void)state;
	assert_non_null(it);
	assert_int_equal(hmap_init(&m, 16), 0);
	for (k = 0; k < N; k++) {
		it[k].key = k;
		hmap_insert(&m, &it[k].node, key_hash(k));
	}
	/* each node once; every third removed as it is visited */
	hmap_for_each(&m, iter, pos) {
		struct item *e = HMAP_ENTRY(pos, struct item, node);

		e->seen++;
		n++;
		if (e->key % 3 == 0)
			assert_int_equal(hmap_remove(&m, pos), 0);
	}
	assert_int_equal(n, N);
	for (k = 0; k < N; k++)
		assert_int_equal(it[k].seen, 1);
	assert_int_equal(hmap_count(&m), N - (N + 2) / 3);
	n = 0;
	hmap_for_each(&m, iter, pos)
		n++;
	assert_int_equal(n, N - (N + 2) / 3);
	hmap_destroy(&m);
	free(it);
}

static void test_empty(void **state)
{
	struct hmap_iter iter;
	struct hmap_node *pos;
	struct hmap m;
	int k = 1;

	(void)state;
	assert_int_equal(hmap_init(&m, 0), 0);
	assert_int_equal(hmap_buckets(&m), 1);
	assert_null(hmap_find(&m, 7, item_eq, &k));
	hmap_for_each(&m, iter, pos)
		fail();
	hmap_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash13_vectors),
		cmocka_unit_test(test_process_key),
		cmocka_unit_test(test_insert_find_remove),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_iterate_and_remove),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
