/*
 * hmap: per-operation cost of lib/util/hmap.c with its keyed SipHash-1-3
 * beside the hand-written FNV-1a chains it replaced (a faithful copy of
 * the old lib/sip/tx.c table: FNV-1a, power-of-two chains doubling at two
 * entries per bucket, unlink by walking the chain).
 *
 * Keys are transaction keys as lib/sip/tx.c builds them (~50 bytes:
 * "S\nREGISTER\nz9hG4bK<16 hex>\n<ip>:5060\n"). Scenarios:
 *   random  N distinct keys: insert all, find all, find N absent keys,
 *           remove all;
 *   flood   N keys chosen offline so that their FNV-1a hashes share the
 *           low 12 bits (what a peer can do against an unkeyed hash: a
 *           few million trial hashes), same operations.
 * Prints, per table and scenario, the best of 7 runs (the two tables'
 * runs alternated):
 *   TABLE SCENARIO N insert_ns find_ns miss_ns remove_ns
 * and the cost of hashing one key: HASH NAME ns.
 * Usage: hmap [N]   (default 100000; the flood uses min(N, 4096))
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataline/hmap.h"

#define KEY_MAX 64

struct key {
	char s[KEY_MAX];
	size_t len;
};

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ULL;
	}
	return h;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ------------------------------------------------------------ the old table */

struct old_ent {
	struct old_ent *next;
	uint64_t hash;
	const struct key *k;
};

struct old_tbl {
	struct old_ent **b;
	size_t n, count;
};

static void old_init(struct old_tbl *t)
{
	t->n = 256;
	t->count = 0;
	t->b = calloc(t->n, sizeof(*t->b));
}

static void old_grow(struct old_tbl *t)
{
	size_t n = t->n * 2, i;
	struct old_ent **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (i = 0; i < t->n; i++) {
		struct old_ent *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(t->b);
	t->b = nb;
	t->n = n;
}

static struct old_ent *old_find(struct old_tbl *t, const struct key *k)
{
	uint64_t h = fnv1a(k->s, k->len);
	struct old_ent *e;

	for (e = t->b[h & (t->n - 1)]; e; e = e->next)
		if (e->hash == h && e->k->len == k->len &&
		    memcmp(e->k->s, k->s, k->len) == 0)
			return e;
	return NULL;
}

static void old_insert(struct old_tbl *t, struct old_ent *e,
		       const struct key *k)
{
	/* as tx_insert: look first, then link */
	uint64_t h = fnv1a(k->s, k->len);

	if (old_find(t, k))
		return;
	e->k = k;
	e->hash = h;
	if (t->count >= t->n * 2)
		old_grow(t);
	e->next = t->b[h & (t->n - 1)];
	t->b[h & (t->n - 1)] = e;
	t->count++;
}

static void old_remove(struct old_tbl *t, struct old_ent *e)
{
	struct old_ent **pp = &t->b[e->hash & (t->n - 1)];

	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = e->next;
		t->count--;
	}
}

/* ------------------------------------------------------------ hmap */

struct new_ent {
	struct hmap_node node;
	const struct key *k;
};

static struct new_ent *new_find(struct hmap *m, const struct key *k)
{
	uint64_t h = hmap_hash(k->s, k->len);
	struct hmap_node *n;

	hmap_for_each_hash(m, n, h) {
		struct new_ent *e = HMAP_ENTRY(n, struct new_ent, node);

		if (e->k->len == k->len && memcmp(e->k->s, k->s, k->len) == 0)
			return e;
	}
	return NULL;
}

static void new_insert(struct hmap *m, struct new_ent *e, const struct key *k)
{
	uint64_t h = hmap_hash(k->s, k->len);

	if (new_find(m, k))
		return;
	e->k = k;
	hmap_insert(m, &e->node, h);
}

/* ------------------------------------------------------------ runs */

struct result {
	double ins, find, miss, rem; /* ns per operation */
};

static volatile uintptr_t sink;

static void run_old(const struct key *keys, const struct key *absent,
		    size_t n, struct result *r)
{
	struct old_ent *e = calloc(n, sizeof(*e));
	struct old_tbl t;
	double t0;
	size_t i;

	old_init(&t);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		old_insert(&t, &e[i], &keys[i]);
	r->ins = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += (uintptr_t)old_find(&t, &keys[i]);
	r->find = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += (uintptr_t)old_find(&t, &absent[i]);
	r->miss = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		old_remove(&t, &e[i]);
	r->rem = (now_ns() - t0) / n;
	if (t.count)
		abort();
	free(t.b);
	free(e);
}

static void run_new(const struct key *keys, const struct key *absent,
		    size_t n, struct result *r)
{
	struct new_ent *e = calloc(n, sizeof(*e));
	struct hmap m;
	double t0;
	size_t i;

	if (hmap_init(&m, 256))
		abort();
	t0 = now_ns();
	for (i = 0; i < n; i++)
		new_insert(&m, &e[i], &keys[i]);
	r->ins = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += (uintptr_t)new_find(&m, &keys[i]);
	r->find = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		sink += (uintptr_t)new_find(&m, &absent[i]);
	r->miss = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		hmap_remove(&m, &e[i].node);
	r->rem = (now_ns() - t0) / n;
	if (hmap_count(&m))
		abort();
	hmap_destroy(&m);
	free(e);
}

static void keep_min(struct result *b, const struct result *r)
{
	b->ins = r->ins < b->ins ? r->ins : b->ins;
	b->find = r->find < b->find ? r->find : b->find;
	b->miss = r->miss < b->miss ? r->miss : b->miss;
	b->rem = r->rem < b->rem ? r->rem : b->rem;
}

/* Both tables, runs alternated (so a neighbour's load on a shared machine
 * hits both alike), the best of ROUNDS each. */
#define ROUNDS 7

static void best(const char *scen, const struct key *keys,
		 const struct key *absent, size_t n)
{
	struct result o = { 1e18, 1e18, 1e18, 1e18 }, w = o, r;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		run_old(keys, absent, n, &r);
		keep_min(&o, &r);
		run_new(keys, absent, n, &r);
		keep_min(&w, &r);
	}
	printf("fnv-chains %s %zu %.1f %.1f %.1f %.1f\n", scen, n, o.ins,
	       o.find, o.miss, o.rem);
	printf("hmap-siphash13 %s %zu %.1f %.1f %.1f %.1f\n", scen, n, w.ins,
	       w.find, w.miss, w.rem);
}

static void mk(struct key *k, uint64_t id, unsigned ip)
{
	k->len = (size_t)snprintf(k->s, sizeof(k->s),
				  "S\nREGISTER\nz9hG4bK%016llx\n10.%u.%u.%u:5060\n",
				  (unsigned long long)id, ip >> 16 & 255,
				  ip >> 8 & 255, ip & 255);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000, nf, i;
	struct key *keys, *absent;
	uint64_t id, x = 0x9e3779b97f4a7c15ULL;
	double t0;
	int r;

	if (n < 16)
		n = 16;
	nf = n < 4096 ? n : 4096;
	keys = calloc(n, sizeof(*keys));
	absent = calloc(n, sizeof(*absent));
	if (!keys || !absent)
		return 1;
	for (i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		mk(&keys[i], x, (unsigned)i);
		mk(&absent[i], x ^ 0x5555, (unsigned)i);
	}
	best("random", keys, absent, n);

	/* flood: keys whose FNV-1a hashes share the low 12 bits */
	for (i = 0, id = 0; i < nf; id++) {
		struct key k;

		mk(&k, id, 0x71c709);
		if ((fnv1a(k.s, k.len) & 4095) == 0)
			keys[i++] = k;
	}
	for (i = 0; i < nf; i++)
		mk(&absent[i], ~(uint64_t)i, 0x71c709);
	best("flood", keys, absent, nf);

	/* one key's hash, best of ROUNDS alternated */
	{
		double f = 1e18, sh = 1e18, d;

		for (r = 0; r < ROUNDS; r++) {
			t0 = now_ns();
			for (i = 0; i < n; i++)
				sink += fnv1a(keys[i % nf].s, keys[i % nf].len);
			d = (now_ns() - t0) / n;
			f = d < f ? d : f;
			t0 = now_ns();
			for (i = 0; i < n; i++)
				sink += hmap_hash(keys[i % nf].s,
						  keys[i % nf].len);
			d = (now_ns() - t0) / n;
			sh = d < sh ? d : sh;
		}
		printf("HASH fnv1a %.1f\nHASH siphash13 %.1f\n", f, sh);
	}
	free(keys);
	free(absent);
	return 0;
}
