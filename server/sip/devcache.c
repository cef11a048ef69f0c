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
#include "dataline/hmap.h"
#include "../store/store.h"

#define DEVCACHE_TTL_S 60
#define DC_SHARDS 16

struct dc_ent {
	struct hmap_node node;      /* in its shard's map, by username */
	uint64_t until_ms;          /* trusted until (monotonic) */
	struct store_device dev;
};

struct dc_shard {
	pthread_mutex_t lock;
	struct hmap map;            /* owns its entries */
};

struct devcache {
	struct dc_shard shard[DC_SHARDS];
};

int devcache_new(struct devcache **out)
{
	struct devcache *dc = calloc(1, sizeof(*dc));
	int i;

	if (!dc)
		return -ENOMEM;
	for (i = 0; i < DC_SHARDS; i++) {
		pthread_mutex_init(&dc->shard[i].lock, NULL);
		if (hmap_init(&dc->shard[i].map, 256)) {
			devcache_free(dc);
			return -ENOMEM;
		}
	}
	*out = dc;
	return 0;
}

void devcache_free(struct devcache *dc)
{
	struct hmap_iter it;
	struct hmap_node *n;
	int i;

	if (!dc)
		return;
	for (i = 0; i < DC_SHARDS; i++) {
		struct dc_shard *s = &dc->shard[i];

		if (s->map.buckets)
			hmap_for_each(&s->map, it, n)
				free(HMAP_ENTRY(n, struct dc_ent, node));
		hmap_destroy(&s->map);
		pthread_mutex_destroy(&s->lock);
	}
	free(dc);
}

/* The entry of USERNAME (hash H) in shard S, or NULL. */
static struct dc_ent *dc_find(struct dc_shard *s, uint64_t h,
			      const char *username)
{
	struct hmap_node *n;

	hmap_for_each_hash(&s->map, n, h) {
		struct dc_ent *e = HMAP_ENTRY(n, struct dc_ent, node);

		if (!strcmp(e->dev.username, username))
			return e;
	}
	return NULL;
}

int devcache_get(struct devcache *dc, struct store *st, const char *username,
		 struct store_device *out)
{
	/* the high bits pick the shard, the low ones the bucket */
	uint64_t h = hmap_hash_str(username), now = sipd_now_ms();
	struct dc_shard *s = &dc->shard[(h >> 32) % DC_SHARDS];
	struct store_device dev;
	struct dc_ent *e;
	int err;

	pthread_mutex_lock(&s->lock);
	e = dc_find(s, h, username);
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
	e = dc_find(s, h, username);
	if (!e) {
		e = malloc(sizeof(*e));
		if (e)
			hmap_insert(&s->map, &e->node, h);
	}
	if (e) {
		e->dev = dev;
		e->until_ms = now + DEVCACHE_TTL_S * 1000;
	}
	pthread_mutex_unlock(&s->lock);
	*out = dev;
	return 0;
}
