/*
 * ratelimit: token buckets in a sharded hmap (see ratelimit.h).
 */
#include "ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/hmap.h"

#define RL_SHARDS 16
#define RL_KEY_MAX 64

struct rl_ent {
	struct hmap_node node;
	double tokens;
	uint64_t at_ms;          /* tokens counted up to here */
	char key[RL_KEY_MAX];
};

struct ratelimit {
	double rate, burst;      /* tokens per ms, max tokens */
	size_t max_per_shard;
	struct {
		pthread_mutex_t lock;
		struct hmap map;
	} shard[RL_SHARDS];
};

int ratelimit_new(double rate, double burst, size_t max,
		  struct ratelimit **out)
{
	struct ratelimit *rl;
	int i;

	if (rate <= 0 || burst < 1)
		return -EINVAL;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->rate = rate / 1000.0;
	rl->burst = burst;
	rl->max_per_shard = max / RL_SHARDS + 1;
	for (i = 0; i < RL_SHARDS; i++) {
		pthread_mutex_init(&rl->shard[i].lock, NULL);
		if (hmap_init(&rl->shard[i].map, 64)) {
			while (i--)
				hmap_destroy(&rl->shard[i].map);
			free(rl);
			return -ENOMEM;
		}
	}
	*out = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	struct hmap_iter it;
	struct hmap_node *n;
	int i;

	if (!rl)
		return;
	for (i = 0; i < RL_SHARDS; i++) {
		hmap_for_each(&rl->shard[i].map, it, n) {
			hmap_remove(&rl->shard[i].map, n);
			free(HMAP_ENTRY(n, struct rl_ent, node));
		}
		hmap_destroy(&rl->shard[i].map);
		pthread_mutex_destroy(&rl->shard[i].lock);
	}
	free(rl);
}

static int rl_eq(const struct hmap_node *n, const void *key)
{
	return !strcmp(HMAP_ENTRY(n, struct rl_ent, node)->key, key);
}

/* Makes room in a full shard: drops buckets that are full again, or else
 * the one idle longest. */
static void rl_trim(struct ratelimit *rl, struct hmap *m, uint64_t now)
{
	struct rl_ent *idlest = NULL;
	struct hmap_iter it;
	struct hmap_node *n;

	hmap_for_each(m, it, n) {
		struct rl_ent *e = HMAP_ENTRY(n, struct rl_ent, node);
		/* NOW may be a little older than the entry's last take
		 * (another thread read its clock later): not idle at all */
		uint64_t idle = now > e->at_ms ? now - e->at_ms : 0;

		if (e->tokens + (double)idle * rl->rate >= rl->burst) {
			hmap_remove(m, n);
			free(e);
			continue;
		}
		if (!idlest || e->at_ms < idlest->at_ms)
			idlest = e;
	}
	if (idlest && hmap_count(m) >= rl->max_per_shard) {
		hmap_remove(m, &idlest->node);
		free(idlest);
	}
}

uint64_t ratelimit_take(struct ratelimit *rl, const char *key,
			uint64_t now_ms)
{
	char k[RL_KEY_MAX];
	uint64_t h, wait = 0;
	struct hmap *m;
	struct rl_ent *e;
	int s;

	strncpy(k, key, sizeof(k) - 1);
	k[sizeof(k) - 1] = '\0';
	h = hmap_hash_str(k);
	s = (int)(h >> 60) % RL_SHARDS;
	m = &rl->shard[s].map;
	pthread_mutex_lock(&rl->shard[s].lock);
	e = HMAP_ENTRY(hmap_find(m, h, rl_eq, k), struct rl_ent, node);
	if (!e) {
		if (hmap_count(m) >= rl->max_per_shard)
			rl_trim(rl, m, now_ms);
		e = calloc(1, sizeof(*e));
		if (!e)
			goto out; /* let it through rather than fail */
		memcpy(e->key, k, sizeof(k));
		e->tokens = rl->burst;
		e->at_ms = now_ms;
		hmap_insert(m, &e->node, h);
	}
	if (now_ms > e->at_ms) {
		e->tokens += (double)(now_ms - e->at_ms) * rl->rate;
		if (e->tokens > rl->burst)
			e->tokens = rl->burst;
		e->at_ms = now_ms;
	}
	if (e->tokens >= 1.0)
		e->tokens -= 1.0;
	else
		wait = (uint64_t)((1.0 - e->tokens) / rl->rate) + 1;
out:
	pthread_mutex_unlock(&rl->shard[s].lock);
	return wait;
}
