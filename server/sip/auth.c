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
#include "dataline/hmap.h"

#define NC_SHARDS 64
#define NC_KEY 16 /* the nonce's time (8) + random (8) bytes identify it */

struct nc_entry {
	struct hmap_node node;  /* in its shard's map, by key */
	struct nc_entry *older; /* FIFO towards the newest (head is oldest) */
	uint8_t key[NC_KEY];
	uint32_t nc;            /* the highest count seen */
	uint64_t window;        /* bit i: count nc - i was seen (i < 64) */
	uint64_t born;          /* seconds, when first seen */
	uint64_t issued;        /* the nonce's issue stamp (time | counter) */
};

/* Every challenge adds an entry, so a busy registrar holds many: start each
 * shard big enough (64 x 1024 buckets, 512 KiB) that it seldom grows. */
#define NC_BUCKETS0 1024

struct nc_shard {
	pthread_mutex_t lock;
	struct hmap map;               /* owns the entries (also in the FIFO) */
	size_t max;
	struct nc_entry *head, *tail;  /* borrowed: FIFO by first use */
	uint64_t floor;                /* largest issue time evicted */
	int evicted;                   /* floor is set */
};

struct auth_nc {
	struct nc_shard shard[NC_SHARDS];
};

int auth_nc_new(size_t max, struct auth_nc **out)
{
	struct auth_nc *t = calloc(1, sizeof(*t));
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < NC_SHARDS; i++) {
		pthread_mutex_init(&t->shard[i].lock, NULL);
		t->shard[i].max = max / NC_SHARDS ? max / NC_SHARDS : 1;
		if (hmap_init(&t->shard[i].map, NC_BUCKETS0)) {
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
		hmap_destroy(&s->map);
		pthread_mutex_destroy(&s->lock);
	}
	free(t);
}

/* Unlinks and frees the shard's oldest entry. */
static void nc_pop(struct nc_shard *s)
{
	struct nc_entry *e = s->head;

	hmap_remove(&s->map, &e->node);
	s->head = e->older;
	if (!s->head)
		s->tail = NULL;
	free(e);
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
	struct nc_entry *e = NULL;
	struct hmap_node *n;
	int err = 0, i;

	if (nc == 0 || nc > AUTH_NC_LIMIT)
		return -ERANGE;
	if (nc_key(nonce, key))
		return -EINVAL;
	for (i = 0; i < 8; i++)
		issued = issued << 8 | key[i];
	/* keyed like every table strangers feed (hmap.h); the high bits
	 * pick the shard, the low ones the bucket */
	h = hmap_hash(key, NC_KEY);
	s = &t->shard[(h >> 32) % NC_SHARDS];
	pthread_mutex_lock(&s->lock);
	while (s->head && s->head->born + 2 * ttl < now)
		nc_pop(s);
	hmap_for_each_hash(&s->map, n, h) {
		struct nc_entry *c = HMAP_ENTRY(n, struct nc_entry, node);

		if (memcmp(c->key, key, NC_KEY) == 0) {
			e = c;
			break;
		}
	}
	if (e) {
		/*
		 * RFC 7616 s.3.4.6 wants each count used once, not counts in
		 * order: a client with several requests in flight over UDP
		 * (a handset sending delivery reports while texts arrive)
		 * has them overtake each other. So a count is accepted once
		 * within a window of the 64 below the highest seen, as IPsec
		 * does with sequence numbers (RFC 4303 s.3.4.3).
		 */
		if (nc > e->nc) {
			uint32_t d = nc - e->nc;
			e->window = d >= 64 ? 1 : (e->window << d) | 1;
			e->nc = nc;
		} else if (e->nc - nc >= 64 ||
			   (e->window >> (e->nc - nc) & 1)) {
			err = -EALREADY;
		} else {
			e->window |= (uint64_t)1 << (e->nc - nc);
		}
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
	e->nc = nc;
	e->window = 1;
	e->born = now;
	e->issued = issued;
	while (hmap_count(&s->map) >= s->max) {
		if (!s->evicted || s->head->issued > s->floor)
			s->floor = s->head->issued;
		s->evicted = 1;
		nc_pop(s);
	}
	hmap_insert(&s->map, &e->node, h);
	*(s->tail ? &s->tail->older : &s->head) = e;
	s->tail = e;
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
		n += hmap_count(&t->shard[i].map);
		pthread_mutex_unlock(&t->shard[i].lock);
	}
	return n;
}
