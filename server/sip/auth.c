/*
 * auth: the digest nonce-count tracker (RFC 7616 s.3.4.6 / RFC 8760 with
 * qop=auth). Nonces themselves are stateless (lib/sip: HMAC'd issue time),
 * so the only state is, per nonce in use, the highest nonce-count accepted:
 * a request whose nc is not above it is a replay. Entries die with their
 * nonce (issue time + TTL, swept lazily). 64 shards, one mutex each, so
 * workers rarely wait for each other.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"

#define NC_SHARDS 64
#define NC_KEY 32 /* the nonce's time + random part (hex) identifies it */

struct nc_entry {
	struct nc_entry *next;
	uint64_t hash;   /* of key, kept so growing needs no key reads */
	char key[NC_KEY];
	uint32_t nc;
	uint64_t born;   /* seconds, when first seen */
};

/* Every challenge adds an entry, so a busy registrar holds many: start each
 * shard big enough (64 x 1024 buckets, 512 KiB) that it seldom grows. */
#define NC_BUCKETS0 1024

struct nc_shard {
	pthread_mutex_t lock;
	struct nc_entry **buckets; /* owned */
	size_t nbuckets, count;
	uint64_t next_sweep;
};

struct auth_nc {
	struct nc_shard shard[NC_SHARDS];
};

static uint64_t nc_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ULL;
	}
	return h;
}

int auth_nc_new(struct auth_nc **out)
{
	struct auth_nc *t = calloc(1, sizeof(*t));
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < NC_SHARDS; i++) {
		pthread_mutex_init(&t->shard[i].lock, NULL);
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
	size_t b;

	if (!t)
		return;
	for (i = 0; i < NC_SHARDS; i++) {
		struct nc_shard *s = &t->shard[i];
		for (b = 0; s->buckets && b < s->nbuckets; b++) {
			struct nc_entry *e = s->buckets[b], *n;
			for (; e; e = n) {
				n = e->next;
				free(e);
			}
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(t);
}

static void nc_sweep(struct nc_shard *s, uint64_t now, uint64_t ttl)
{
	size_t b;

	for (b = 0; b < s->nbuckets; b++) {
		struct nc_entry **pp = &s->buckets[b];
		while (*pp) {
			struct nc_entry *e = *pp;
			if (e->born + ttl < now) {
				*pp = e->next;
				free(e);
				s->count--;
			} else {
				pp = &e->next;
			}
		}
	}
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

int auth_nc_check(struct auth_nc *t, struct sip_str nonce, uint32_t nc,
		  uint64_t now, uint64_t ttl)
{
	char key[NC_KEY];
	uint64_t h;
	struct nc_shard *s;
	struct nc_entry *e;
	int err = 0;

	memset(key, 0, sizeof(key));
	memcpy(key, nonce.p, nonce.len < NC_KEY ? nonce.len : NC_KEY);
	h = nc_hash(key, NC_KEY);
	s = &t->shard[(h >> 32) % NC_SHARDS];
	pthread_mutex_lock(&s->lock);
	if (now >= s->next_sweep) {
		nc_sweep(s, now, ttl * 2);
		s->next_sweep = now + (ttl > 60 ? 60 : ttl);
	}
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
	e = calloc(1, sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(e->key, key, NC_KEY);
	e->hash = h;
	e->nc = nc;
	e->born = now;
	if (s->count >= s->nbuckets * 2)
		nc_grow(s);
	e->next = s->buckets[h & (s->nbuckets - 1)];
	s->buckets[h & (s->nbuckets - 1)] = e;
	s->count++;
out:
	pthread_mutex_unlock(&s->lock);
	return err;
}
