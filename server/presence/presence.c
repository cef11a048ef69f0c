/*
 * presence: the in-memory publications of devices and their aggregate per
 * number (RFC 3903 s.6 state kept by an Event State Compositor, reduced to
 * one entry per device). See presence.h for the guarantees.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "presence.h"
#include "dataline/hmap.h"
#include "dataline/sip.h"

#define PRESENCE_SHARDS 64

struct pres_ent {
	struct hmap_node node;            /* in its shard, by hash of number */
	char number[PRESENCE_NUMBER_MAX];
	struct presence_dev d;
};

struct pres_shard {
	pthread_mutex_t lock;
	struct hmap map;                  /* owned entries */
};

struct presence {
	struct pres_shard shards[PRESENCE_SHARDS];
	size_t max;
	atomic_size_t count;
};

int presence_new(size_t max, struct presence **out)
{
	struct presence *p = calloc(1, sizeof(*p));
	int i, err;

	if (!p)
		return -ENOMEM;
	p->max = max;
	atomic_init(&p->count, 0);
	for (i = 0; i < PRESENCE_SHARDS; i++) {
		pthread_mutex_init(&p->shards[i].lock, NULL);
		err = hmap_init(&p->shards[i].map, 16);
		if (err) {
			while (--i >= 0)
				hmap_destroy(&p->shards[i].map);
			free(p);
			return err;
		}
	}
	*out = p;
	return 0;
}

void presence_free(struct presence *p)
{
	struct hmap_iter it;
	struct hmap_node *n;
	int i;

	if (!p)
		return;
	for (i = 0; i < PRESENCE_SHARDS; i++) {
		hmap_for_each(&p->shards[i].map, it, n) {
			hmap_remove(&p->shards[i].map, n);
			free(HMAP_ENTRY(n, struct pres_ent, node));
		}
		hmap_destroy(&p->shards[i].map);
		pthread_mutex_destroy(&p->shards[i].lock);
	}
	free(p);
}

static struct pres_shard *shard_of(struct presence *p, uint64_t h)
{
	return &p->shards[(h >> 58) % PRESENCE_SHARDS];
}

static struct pres_ent *ent_find(struct pres_shard *s, uint64_t h,
				 const char *number, const char *device)
{
	struct hmap_node *n;

	hmap_for_each_hash(&s->map, n, h) {
		struct pres_ent *e = HMAP_ENTRY(n, struct pres_ent, node);
		if (!strcmp(e->number, number) && !strcmp(e->d.device, device))
			return e;
	}
	return NULL;
}

static void ent_drop(struct presence *p, struct pres_shard *s,
		     struct pres_ent *e)
{
	hmap_remove(&s->map, &e->node);
	free(e);
	atomic_fetch_sub(&p->count, 1);
}

int presence_publish(struct presence *p, const char *number,
		     const char *device, const char *if_match,
		     const struct pidf_netq *nq, enum pidf_basic basic,
		     uint32_t expires_s, uint64_t now_ms,
		     char etag[PRESENCE_ETAG_LEN], int *changed)
{
	char tag[PRESENCE_ETAG_LEN];
	struct pres_shard *s;
	struct pres_ent *e;
	uint64_t h;
	int err = 0, ch = 0;

	if (!p || !number || !device || !*number || !*device ||
	    strlen(number) >= PRESENCE_NUMBER_MAX ||
	    strlen(device) >= PRESENCE_DEVICE_MAX ||
	    (!if_match && (!nq || !expires_s)))
		return -EINVAL;
	if (expires_s && sip_rand_hex(tag, sizeof(tag), 8))
		return -EIO;
	h = hmap_hash_str(number);
	s = shard_of(p, h);
	pthread_mutex_lock(&s->lock);
	e = ent_find(s, h, number, device);
	if (e && e->d.expires_ms <= now_ms) {
		/* expired but not yet swept: as good as gone */
		ent_drop(p, s, e);
		e = NULL;
		ch = 1;
	}
	if (if_match && (!e || strcmp(e->d.etag, if_match) != 0)) {
		err = -ENOENT;
		goto out;
	}
	if (!expires_s) {
		ent_drop(p, s, e);
		tag[0] = '\0';
		ch = 1;
		goto done;
	}
	if (!e) {
		if (atomic_fetch_add(&p->count, 1) >= p->max) {
			atomic_fetch_sub(&p->count, 1);
			err = -ENOSPC;
			goto out;
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			atomic_fetch_sub(&p->count, 1);
			err = -ENOMEM;
			goto out;
		}
		strcpy(e->number, number);
		strcpy(e->d.device, device);
		hmap_insert(&s->map, &e->node, h);
	}
	if (nq) {
		e->d.netq = *nq;
		e->d.basic = basic;
		e->d.published_ms = now_ms;
		ch = 1;
	}
	e->d.expires_ms = now_ms + (uint64_t)expires_s * 1000;
	memcpy(e->d.etag, tag, sizeof(tag));
done:
	memcpy(etag, tag, sizeof(tag));
	if (changed)
		*changed = ch;
out:
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* Calls FN for each live publication of NUMBER, under its shard's lock. */
static void each_live(struct presence *p, const char *number, uint64_t now_ms,
		      void (*fn)(void *arg, const struct presence_dev *d),
		      void *arg)
{
	uint64_t h = hmap_hash_str(number);
	struct pres_shard *s = shard_of(p, h);
	struct hmap_node *n;

	pthread_mutex_lock(&s->lock);
	hmap_for_each_hash(&s->map, n, h) {
		struct pres_ent *e = HMAP_ENTRY(n, struct pres_ent, node);
		if (!strcmp(e->number, number) && e->d.expires_ms > now_ms)
			fn(arg, &e->d);
	}
	pthread_mutex_unlock(&s->lock);
}

/* 1 if A's network is better than B's (see presence_figures). */
static int dev_better(const struct presence_dev *a,
		      const struct presence_dev *b)
{
	int adown = (a->netq.have & PIDF_NETQ_LINK) &&
		    a->netq.link == PIDF_LINK_DOWN;
	int bdown = (b->netq.have & PIDF_NETQ_LINK) &&
		    b->netq.link == PIDF_LINK_DOWN;
	uint64_t ar = a->netq.have & PIDF_NETQ_RATE ? a->netq.rate_kbps : 0;
	uint64_t br = b->netq.have & PIDF_NETQ_RATE ? b->netq.rate_kbps : 0;
	uint64_t at = a->netq.have & PIDF_NETQ_RTT ? a->netq.rtt_ms
						   : UINT64_MAX;
	uint64_t bt = b->netq.have & PIDF_NETQ_RTT ? b->netq.rtt_ms
						   : UINT64_MAX;

	if (adown != bdown)
		return bdown;
	if (ar != br)
		return ar > br;
	if (at != bt)
		return at < bt;
	return a->published_ms > b->published_ms;
}

struct best_acc {
	unsigned n;
	struct presence_dev best;
};

static void best_cb(void *arg, const struct presence_dev *d)
{
	struct best_acc *a = arg;

	if (!a->n++ || dev_better(d, &a->best))
		a->best = *d;
}

int presence_figures(struct presence *p, const char *number, uint64_t now_ms,
		     struct presence_view *out)
{
	struct best_acc a;
	uint64_t age;

	if (!p || !number || !out)
		return -EINVAL;
	a.n = 0;
	each_live(p, number, now_ms, best_cb, &a);
	if (!a.n)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->ndevices = a.n;
	memcpy(out->device, a.best.device, sizeof(out->device));
	out->netq = a.best.netq;
	out->published_ms = a.best.published_ms;
	age = (now_ms - a.best.published_ms) / 1000 +
	      (a.best.netq.have & PIDF_NETQ_AGE ? a.best.netq.age_s : 0);
	out->age_s = age > UINT32_MAX ? UINT32_MAX : (uint32_t)age;
	return 0;
}

struct list_acc {
	struct presence_dev *out;
	size_t cap, n;
};

static void list_cb(void *arg, const struct presence_dev *d)
{
	struct list_acc *a = arg;

	if (a->n < a->cap)
		a->out[a->n++] = *d;
}

int presence_list(struct presence *p, const char *number, uint64_t now_ms,
		  struct presence_dev *out, size_t cap, size_t *nout)
{
	struct list_acc a = { out, cap, 0 };

	if (!p || !number || (!out && cap) || !nout)
		return -EINVAL;
	each_live(p, number, now_ms, list_cb, &a);
	*nout = a.n;
	return 0;
}

struct gone {
	struct gone *next;
	char number[PRESENCE_NUMBER_MAX];
};

size_t presence_expire(struct presence *p, uint64_t now_ms,
		       presence_expired_fn cb, void *arg)
{
	struct gone *list = NULL, *g;
	struct hmap_iter it;
	struct hmap_node *n;
	size_t dropped = 0;
	int i;

	for (i = 0; i < PRESENCE_SHARDS; i++) {
		struct pres_shard *s = &p->shards[i];

		pthread_mutex_lock(&s->lock);
		hmap_for_each(&s->map, it, n) {
			struct pres_ent *e = HMAP_ENTRY(n, struct pres_ent,
							node);
			if (e->d.expires_ms > now_ms)
				continue;
			g = (struct gone *)malloc(sizeof(*g));
			if (g) {
				memcpy(g->number, e->number, sizeof(g->number));
				g->next = list;
				list = g;
			}
			ent_drop(p, s, e);
			dropped++;
		}
		hmap_shrink(&s->map);
		pthread_mutex_unlock(&s->lock);
	}
	while ((g = list)) {
		list = g->next;
		if (cb)
			cb(arg, g->number);
		free(g);
	}
	return dropped;
}

int presence_drop(struct presence *p, const char *number, const char *device,
		  const char *etag)
{
	struct pres_shard *s;
	struct pres_ent *e;
	uint64_t h;
	int err = -ENOENT;

	if (!p || !number || !device)
		return -EINVAL;
	h = hmap_hash_str(number);
	s = shard_of(p, h);
	pthread_mutex_lock(&s->lock);
	e = ent_find(s, h, number, device);
	if (e && (!etag || !strcmp(e->d.etag, etag))) {
		ent_drop(p, s, e);
		err = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

size_t presence_count(struct presence *p)
{
	return atomic_load(&p->count);
}
