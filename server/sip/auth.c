/*
 * auth: the digest nonce-count tracker (RFC 7616 s.3.4.6 / RFC 8760 with
 * qop=auth). Nonces themselves are stateless (lib/sip/nonce.c: HMAC'd
 * issue time and source address), so the only state is, per nonce in use,
 * the highest nonce-count accepted: a request whose nc is not above it is
 * a replay. 64 shards, one mutex each, so workers rarely wait for each
 * other.
 *
 * Key: the nonce's time + random part decoded to its 16 bytes, so one
 * nonce has one entry whatever the spelling (the nonce check already
 * refuses anything but the lowercase hex we issue; this keeps the table
 * right even if that changed).
 *
 * Bound: each shard holds at most max/64 entries in a FIFO by first use
 * (which also makes the sweep of entries older than 2 x TTL a pop from its
 * head). When a shard is full its oldest entry is evicted and the shard's
 * floor rises to that nonce's issue stamp (its first 8 bytes: the issue
 * second and a counter, lib/sip/nonce.c): a nonce that is not in the shard
 * and was issued at or before the floor may have been evicted, so it is
 * answered as stale (-ESTALE; the client takes a fresh nonce without
 * asking its user) and an evicted nonce can never be replayed from nc=1.
 * A flood of fresh nonces thus costs legitimate clients at most one extra
 * round trip, never memory.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"

#define NC_SHARDS 64
#define NC_KEY 16 /* the nonce's time (8) + random (8) bytes identify it */

struct nc_entry {
	struct nc_entry *next;  /* hash chain */
	struct nc_entry *older; /* FIFO towards the newest (head is oldest) */
	uint64_t hash;          /* of key, kept so growing needs no key reads */
	uint8_t key[NC_KEY];
	uint32_t nc;
	uint64_t born;          /* seconds, when first seen */
	uint64_t issued;        /* the nonce's issue stamp (time | counter) */
};

/* Every challenge adds an entry, so a busy registrar holds many: start each
 * shard big enough (64 x 1024 buckets, 512 KiB) that it seldom grows. */
#define NC_BUCKETS0 1024

struct nc_shard {
	pthread_mutex_t lock;
	struct nc_entry **buckets;     /* owned */
	size_t nbuckets, count, max;
	struct nc_entry *head, *tail;  /* borrowed: FIFO by first use */
	uint64_t floor;                /* largest issue time evicted */
	int evicted;                   /* floor is set */
};

struct auth_nc {
	struct nc_shard shard[NC_SHARDS];
};

static uint64_t nc_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	/* FNV's high bits mix the last bytes poorly; they pick the shard */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

int auth_nc_new(size_t max, struct auth_nc **out)
{
	struct auth_nc *t = calloc(1, sizeof(*t));
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < NC_SHARDS; i++) {
		pthread_mutex_init(&t->shard[i].lock, NULL);
		t->shard[i].max = max / NC_SHARDS ? max / NC_SHARDS : 1;
		t->shard[i].nbuckets = NC_BUCKETS0;
		t->shard[i].buckets = calloc(NC_BUCKETS0,
					     sizeof(struct nc_entry *));
		if (!t->shard[i].buckets) {
			auth_nc_free(t);
			return -ENOMEM;
		}
	}
	*out = t;
	return 0;
}

void auth_nc_free(struct auth_nc *t)
{
	int i;

	if (!t)
		return;
	for (i = 0; i < NC_SHARDS; i++) {
		struct nc_shard *s = &t->shard[i];
		struct nc_entry *e, *n;

		for (e = s->head; e; e = n) {
			n = e->older;
			free(e);
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(t);
}

/* Unlinks and frees the shard's oldest entry. */
static void nc_pop(struct nc_shard *s)
{
	struct nc_entry *e = s->head, **pp;

	pp = &s->buckets[e->hash & (s->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	s->head = e->older;
	if (!s->head)
		s->tail = NULL;
	s->count--;
	free(e);
}

static void nc_grow(struct nc_shard *s)
{
	size_t n = s->nbuckets * 2, b;
	struct nc_entry **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (b = 0; b < s->nbuckets; b++) {
		struct nc_entry *e = s->buckets[b], *next;
		for (; e; e = next) {
			next = e->next;
			size_t i = e->hash & (n - 1);
			e->next = nb[i];
			nb[i] = e;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
}

static int nc_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The nonce's first 32 hex digits as bytes; -EINVAL if not hex. */
static int nc_key(struct sip_str nonce, uint8_t key[NC_KEY])
{
	size_t i;

	if (!nonce.p || nonce.len < 2 * NC_KEY)
		return -EINVAL;
	for (i = 0; i < NC_KEY; i++) {
		int h = nc_hexval((unsigned char)nonce.p[2 * i]);
		int l = nc_hexval((unsigned char)nonce.p[2 * i + 1]);
		if (h < 0 || l < 0)
			return -EINVAL;
		key[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

int auth_nc_check(struct auth_nc *t, struct sip_str nonce, uint32_t nc,
		  uint64_t now, uint64_t ttl)
{
	uint8_t key[NC_KEY];
	uint64_t h, issued = 0;
	struct nc_shard *s;
	struct nc_entry *e;
	int err = 0, i;

	if (nc == 0 || nc > AUTH_NC_LIMIT)
		return -ERANGE;
	if (nc_key(nonce, key))
		return -EINVAL;
	for (i = 0; i < 8; i++)
		issued = issued << 8 | key[i];
	h = nc_hash(key, NC_KEY);
	s = &t->shard[(h >> 32) % NC_SHARDS];
	pthread_mutex_lock(&s->lock);
	while (s->head && s->head->born + 2 * ttl < now)
		nc_pop(s);
	for (e = s->buckets[h & (s->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && memcmp(e->key, key, NC_KEY) == 0)
			break;
	if (e) {
		if (nc <= e->nc)
			err = -EALREADY;
		else
			e->nc = nc;
		goto out;
	}
	if (s->evicted && issued <= s->floor) {
		err = -ESTALE; /* maybe evicted: its counts are unknown */
		goto out;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(e->key, key, NC_KEY);
	e->hash = h;
	e->nc = nc;
	e->born = now;
	e->issued = issued;
	while (s->count >= s->max) {
		if (!s->evicted || s->head->issued > s->floor)
			s->floor = s->head->issued;
		s->evicted = 1;
		nc_pop(s);
	}
	if (s->count >= s->nbuckets * 2)
		nc_grow(s);
	e->next = s->buckets[h & (s->nbuckets - 1)];
	s->buckets[h & (s->nbuckets - 1)] = e;
	*(s->tail ? &s->tail->older : &s->head) = e;
	s->tail = e;
	s->count++;
out:
	pthread_mutex_unlock(&s->lock);
	return err;
}

size_t auth_nc_count(struct auth_nc *t)
{
	size_t n = 0;
	int i;

	for (i = 0; i < NC_SHARDS; i++) {
		pthread_mutex_lock(&t->shard[i].lock);
		n += t->shard[i].count;
		pthread_mutex_unlock(&t->shard[i].lock);
	}
	return n;
}
