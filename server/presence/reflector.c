/*
 * reflector: the allow-list and per-address rate of the probe reflector
 * (see reflector.h). 16 shards of a hash map keyed by the address.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "reflector.h"
#include "dataline/hmap.h"

#define REFL_SHARDS 16

struct refl_ent {
	struct hmap_node node;
	uint8_t ip[16];
	uint8_t iplen;
	uint64_t auth_ms;         /* last authentication */
	uint64_t fill_ms;         /* tokens counted up to here */
	uint32_t tokens;
};

struct refl_shard {
	pthread_mutex_t lock;
	struct hmap map;          /* owned entries */
};

struct reflector {
	struct refl_shard sh[REFL_SHARDS];
	size_t max_per_shard;
	uint64_t allow_ms;
};

int reflector_new(size_t max, uint32_t allow_s, struct reflector **out)
{
	struct reflector *r = calloc(1, sizeof(*r));
	int i;

	if (!r)
		return -ENOMEM;
	r->max_per_shard = max / REFL_SHARDS + 1;
	r->allow_ms = (uint64_t)allow_s * 1000;
	for (i = 0; i < REFL_SHARDS; i++) {
		pthread_mutex_init(&r->sh[i].lock, NULL);
		if (hmap_init(&r->sh[i].map, 16)) {
			while (--i >= 0)
				hmap_destroy(&r->sh[i].map);
			free(r);
			return -ENOMEM;
		}
	}
	*out = r;
	return 0;
}

void reflector_free(struct reflector *r)
{
	struct hmap_iter it;
	struct hmap_node *n;
	int i;

	if (!r)
		return;
	for (i = 0; i < REFL_SHARDS; i++) {
		hmap_for_each(&r->sh[i].map, it, n) {
			hmap_remove(&r->sh[i].map, n);
			free(HMAP_ENTRY(n, struct refl_ent, node));
		}
		hmap_destroy(&r->sh[i].map);
		pthread_mutex_destroy(&r->sh[i].lock);
	}
	free(r);
}

static struct refl_ent *find(struct refl_shard *s, uint64_t h,
			     const uint8_t *ip, size_t iplen)
{
	struct hmap_node *n;

	hmap_for_each_hash(&s->map, n, h) {
		struct refl_ent *e = HMAP_ENTRY(n, struct refl_ent, node);
		if (e->iplen == iplen && !memcmp(e->ip, ip, iplen))
			return e;
	}
	return NULL;
}

/* Drops the entry authenticated longest ago (shard lock held). */
static void evict_oldest(struct refl_shard *s)
{
	struct refl_ent *old = NULL;
	struct hmap_iter it;
	struct hmap_node *n;

	hmap_for_each(&s->map, it, n) {
		struct refl_ent *e = HMAP_ENTRY(n, struct refl_ent, node);
		if (!old || e->auth_ms < old->auth_ms)
			old = e;
	}
	if (old) {
		hmap_remove(&s->map, &old->node);
		free(old);
	}
}

void reflector_allow(struct reflector *r, const uint8_t *ip, size_t iplen,
		     uint64_t now_ms)
{
	uint64_t h;
	struct refl_shard *s;
	struct refl_ent *e;

	if (!r || !ip || !iplen || iplen > 16)
		return;
	h = hmap_hash(ip, iplen);
	s = &r->sh[h % REFL_SHARDS];
	pthread_mutex_lock(&s->lock);
	e = find(s, h, ip, iplen);
	if (!e) {
		if (hmap_count(&s->map) >= r->max_per_shard)
			evict_oldest(s);
		e = calloc(1, sizeof(*e));
		if (e) {
			memcpy(e->ip, ip, iplen);
			e->iplen = (uint8_t)iplen;
			e->tokens = REFLECTOR_BURST;
			e->fill_ms = now_ms;
			hmap_insert(&s->map, &e->node, h);
		}
	}
	if (e)
		e->auth_ms = now_ms;
	pthread_mutex_unlock(&s->lock);
}

int reflector_admit(struct reflector *r, const uint8_t *ip, size_t iplen,
		    uint64_t now_ms)
{
	uint64_t h, add;
	struct refl_shard *s;
	struct refl_ent *e;
	int ok = 0;

	if (!r || !ip || !iplen || iplen > 16)
		return 0;
	h = hmap_hash(ip, iplen);
	s = &r->sh[h % REFL_SHARDS];
	pthread_mutex_lock(&s->lock);
	e = find(s, h, ip, iplen);
	if (!e)
		goto out;
	if (now_ms - e->auth_ms > r->allow_ms) {
		hmap_remove(&s->map, &e->node);
		free(e);
		goto out;
	}
	add = (now_ms - e->fill_ms) * REFLECTOR_RATE / 1000;
	if (add) {
		e->tokens = e->tokens + add > REFLECTOR_BURST
				    ? REFLECTOR_BURST
				    : (uint32_t)(e->tokens + add);
		e->fill_ms += add * 1000 / REFLECTOR_RATE;
	}
	if (e->tokens) {
		e->tokens--;
		ok = 1;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return ok;
}

size_t reflector_count(struct reflector *r)
{
	size_t n = 0;
	int i;

	for (i = 0; i < REFL_SHARDS; i++) {
		pthread_mutex_lock(&r->sh[i].lock);
		n += hmap_count(&r->sh[i].map);
		pthread_mutex_unlock(&r->sh[i].lock);
	}
	return n;
}
