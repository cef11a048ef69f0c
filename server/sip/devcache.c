/*
 * devcache: the devices (username -> number and HA1 values) the registrar's
 * digest check (RFC 3261 s.22.4, RFC 8760) needs, kept in memory so an
 * authenticated REGISTER does not read SQLite. Shared by all workers,
 * 16 shards with a mutex each.
 *
 * Only devices found in the store are cached (an unknown username always
 * asks the store, so a device created a moment ago by the provisioning API
 * works at once, and guessed usernames cannot fill memory). An entry is
 * trusted for DEVCACHE_TTL_S seconds: HA1 values never change, and the
 * server has no way to remove a device while it runs; should one be added,
 * a removed device keeps authenticating for at most that long.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"
#include "../store/store.h"

#define DEVCACHE_TTL_S 60
#define DC_SHARDS 16

struct dc_ent {
	struct dc_ent *next;
	uint64_t hash;
	uint64_t until_ms;          /* trusted until (monotonic) */
	struct store_device dev;
};

struct dc_shard {
	pthread_mutex_t lock;
	struct dc_ent **buckets;    /* owned, power of two */
	size_t nbuckets, count;
};

struct devcache {
	struct dc_shard shard[DC_SHARDS];
};

static uint64_t dc_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int devcache_new(struct devcache **out)
{
	struct devcache *dc = calloc(1, sizeof(*dc));
	int i;

	if (!dc)
		return -ENOMEM;
	for (i = 0; i < DC_SHARDS; i++) {
		pthread_mutex_init(&dc->shard[i].lock, NULL);
		dc->shard[i].nbuckets = 256;
		dc->shard[i].buckets = calloc(256, sizeof(struct dc_ent *));
		if (!dc->shard[i].buckets) {
			devcache_free(dc);
			return -ENOMEM;
		}
	}
	*out = dc;
	return 0;
}

void devcache_free(struct devcache *dc)
{
	size_t b;
	int i;

	if (!dc)
		return;
	for (i = 0; i < DC_SHARDS; i++) {
		struct dc_shard *s = &dc->shard[i];
		for (b = 0; s->buckets && b < s->nbuckets; b++) {
			struct dc_ent *e = s->buckets[b], *n;
			for (; e; e = n) {
				n = e->next;
				free(e);
			}
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(dc);
}

static void dc_grow(struct dc_shard *s)
{
	size_t n = s->nbuckets * 2, b;
	struct dc_ent **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (b = 0; b < s->nbuckets; b++) {
		struct dc_ent *e = s->buckets[b], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = nb[(e->hash >> 4) & (n - 1)];
			nb[(e->hash >> 4) & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
}

/* The shard is picked by the low 4 bits, the bucket by the ones above. */
static struct dc_ent **dc_slot(struct dc_shard *s, uint64_t h,
			       const char *username)
{
	struct dc_ent **pp = &s->buckets[(h >> 4) & (s->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && !strcmp((*pp)->dev.username, username))
			break;
	return pp;
}

int devcache_get(struct devcache *dc, struct store *st, const char *username,
		 struct store_device *out)
{
	uint64_t h = dc_hash(username), now = sipd_now_ms();
	struct dc_shard *s = &dc->shard[h % DC_SHARDS];
	struct store_device dev;
	struct dc_ent **pp, *e;
	int err;

	pthread_mutex_lock(&s->lock);
	e = *dc_slot(s, h, username);
	if (e && e->until_ms > now) {
		*out = e->dev;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);

	err = store_device_get(st, username, &dev);
	if (err)
		return err;
	pthread_mutex_lock(&s->lock);
	pp = dc_slot(s, h, username);
	if (!*pp) {
		e = malloc(sizeof(*e));
		if (e) {
			e->next = NULL;
			e->hash = h;
			*pp = e;
			if (++s->count > s->nbuckets * 2)
				dc_grow(s);
		}
	} else {
		e = *pp;
	}
	if (e) {
		e->dev = dev;
		e->until_ms = now + DEVCACHE_TTL_S * 1000;
	}
	pthread_mutex_unlock(&s->lock);
	*out = dev;
	return 0;
}
