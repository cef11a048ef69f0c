/*
 * hmap: the intrusive chained hash table and its keyed hash (hmap.h).
 *
 * The hash is SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast
 * short-input PRF", 2012; one compression and three finalisation rounds,
 * the variant Python and Rust hash their tables with): a PRF under a
 * 128-bit key, so without the key the chains a set of keys falls into
 * cannot be predicted. The process key comes from getrandom() once; if
 * that fails (no syscall, a seccomp filter) /dev/urandom, and as a last
 * resort the clock, the pid and the stack address, which still differ per
 * process and per start.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "dataline/hmap.h"

/* ------------------------------------------------------------ table */

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;

	while (p < n && p < ((size_t)1 << (sizeof(size_t) * 8 - 2)))
		p <<= 1;
	return p;
}

int hmap_init(struct hmap *m, size_t buckets)
{
	size_t n = pow2_at_least(buckets ? buckets : 1);

	m->buckets = calloc(n, sizeof(*m->buckets));
	if (!m->buckets)
		return -ENOMEM;
	m->mask = n - 1;
	m->count = 0;
	m->min_buckets = n;
	return 0;
}

void hmap_destroy(struct hmap *m)
{
	free(m->buckets);
	m->buckets = NULL;
	m->mask = 0;
	m->count = 0;
}

/* Moves every node into N fresh buckets; keeps the old ones on -ENOMEM. */
static int hmap_rehash(struct hmap *m, size_t n)
{
	struct hmap_node **nb = calloc(n, sizeof(*nb));
	size_t b;

	if (!nb)
		return -ENOMEM;
	for (b = 0; b <= m->mask; b++) {
		struct hmap_node *e = m->buckets[b], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = nb;
	m->mask = n - 1;
	return 0;
}

void hmap_insert(struct hmap *m, struct hmap_node *n, uint64_t hash)
{
	struct hmap_node **b;

	if (m->count >= m->mask + 1 &&
	    m->mask < ((size_t)1 << (sizeof(size_t) * 8 - 2)))
		hmap_rehash(m, (m->mask + 1) * 2); /* on failure: longer chains */
	n->hash = hash;
	b = &m->buckets[hash & m->mask];
	n->next = *b;
	*b = n;
	m->count++;
}

int hmap_remove(struct hmap *m, struct hmap_node *n)
{
	struct hmap_node **pp = &m->buckets[n->hash & m->mask];

	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (!*pp)
		return -ENOENT;
	*pp = n->next;
	n->next = NULL;
	m->count--;
	return 0;
}

void hmap_shrink(struct hmap *m)
{
	size_t n = m->mask + 1;

	while (n / 2 >= m->min_buckets && m->count < n / 8)
		n /= 2;
	if (n != m->mask + 1)
		hmap_rehash(m, n);
}

struct hmap_node *hmap_find(const struct hmap *m, uint64_t hash,
			    int (*eq)(const struct hmap_node *n,
				      const void *key),
			    const void *key)
{
	struct hmap_node *n;

	hmap_for_each_hash(m, n, hash)
		if (eq(n, key))
			return n;
	return NULL;
}

void hmap_iter_init(struct hmap_iter *it, const struct hmap *m)
{
	it->m = m;
	it->bucket = 0;
	it->next = m->buckets ? m->buckets[0] : NULL;
}

struct hmap_node *hmap_iter_next(struct hmap_iter *it)
{
	struct hmap_node *n;

	if (!it->m->buckets)
		return NULL;
	while (!it->next) {
		if (it->bucket >= it->m->mask)
			return NULL;
		it->next = it->m->buckets[++it->bucket];
	}
	n = it->next;
	it->next = n->next; /* read now: the caller may unlink and free n */
	return n;
}

/* ------------------------------------------------------------ SipHash */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

uint64_t hmap_hash_seeded(const uint8_t key[16], const void *data, size_t n)
{
	const uint8_t *p = data, *end = p + (n & ~(size_t)7);
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)n << 56, m;

	for (; p != end; p += 8) {
		m = le64(p);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	switch (n & 7) {
	case 7: b |= (uint64_t)p[6] << 48; /* fall through */
	case 6: b |= (uint64_t)p[5] << 40; /* fall through */
	case 5: b |= (uint64_t)p[4] << 32; /* fall through */
	case 4: b |= (uint64_t)p[3] << 24; /* fall through */
	case 3: b |= (uint64_t)p[2] << 16; /* fall through */
	case 2: b |= (uint64_t)p[1] << 8;  /* fall through */
	case 1: b |= (uint64_t)p[0];       /* fall through */
	case 0: break;
	}
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint8_t hmap_key[16];
static pthread_once_t hmap_key_once = PTHREAD_ONCE_INIT;

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void hmap_key_init(void)
{
	size_t got = 0;
	int fd;

	while (got < sizeof(hmap_key)) {
		ssize_t r = getrandom(hmap_key + got, sizeof(hmap_key) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got == sizeof(hmap_key))
		return;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		int bad = read_full(fd, hmap_key, sizeof(hmap_key));

		close(fd);
		if (!bad)
			return;
	}
	{
		/* last resort: not secret, but not the same twice */
		struct timespec ts;
		uint64_t mix[4];
		static const uint8_t zero[16];

		clock_gettime(CLOCK_MONOTONIC, &ts);
		mix[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
		clock_gettime(CLOCK_REALTIME, &ts);
		mix[1] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
		mix[2] = (uint64_t)getpid();
		mix[3] = (uint64_t)(uintptr_t)&ts;
		uint64_t a = hmap_hash_seeded(zero, mix, sizeof(mix));
		mix[0] ^= a;
		uint64_t b = hmap_hash_seeded(zero, mix, sizeof(mix));
		memcpy(hmap_key, &a, 8);
		memcpy(hmap_key + 8, &b, 8);
	}
}

uint64_t hmap_hash(const void *p, size_t n)
{
	pthread_once(&hmap_key_once, hmap_key_init);
	return hmap_hash_seeded(hmap_key, p, n);
}
