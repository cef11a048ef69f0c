/*
 * connlimit: open SIP TCP/TLS connections counted per client, over all
 * workers, so that one client cannot take the whole --max-tcp-conns budget
 * and lock every other device out of TCP and TLS (docs/security.md).
 *
 * A client is its address masked to a prefix: the whole IPv4 address
 * (carrier-grade NAT puts many phones behind one address, so a narrower
 * v4 key would cost them more than it stops), an IPv6 /64 (one host gets a
 * whole /64: counting exact v6 addresses would give it 2^64 budgets).
 * An IPv4-mapped IPv6 address counts as IPv4.
 *
 * The table is an hmap under one mutex, keyed with hmap_hash() (an IPv6
 * client picks its /64s freely, so it must not pick their chain): an
 * entry lives only while its client has a connection open, so the table
 * never holds more than --max-tcp-conns entries, and accept is the only
 * writer (a few hundred nanoseconds under the lock).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"
#include "dataline/hmap.h"

#define CL_BUCKETS 4096

struct cl_entry {
	struct hmap_node node;  /* in connlimit.map, by key */
	uint8_t key[16];
	int count;
};

struct connlimit {
	pthread_mutex_t lock;
	int per_client;
	struct hmap map;        /* owns the entries */
};

int connlimit_new(int per_client, struct connlimit **out)
{
	struct connlimit *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	if (hmap_init(&t->map, CL_BUCKETS)) {
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->per_client = per_client;
	*out = t;
	return 0;
}

void connlimit_free(struct connlimit *t)
{
	struct hmap_iter it;
	struct hmap_node *n;

	if (!t)
		return;
	hmap_for_each(&t->map, it, n)
		free(HMAP_ENTRY(n, struct cl_entry, node));
	hmap_destroy(&t->map);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void connlimit_key(const union sipd_addr *a, uint8_t key[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };

	memset(key, 0, 16);
	if (a->sa.sa_family == AF_INET) {
		memcpy(key + 12, &a->sin.sin_addr, 4);
		key[0] = 4;
	} else if (a->sa.sa_family == AF_INET6) {
		const uint8_t *b = a->sin6.sin6_addr.s6_addr;
		if (!memcmp(b, mapped, sizeof(mapped))) {
			memcpy(key + 12, b + 12, 4);
			key[0] = 4;
		} else {
			memcpy(key, b, 8); /* the /64 */
			key[15] = 6;
		}
	}
}

/* The entry of KEY (hash H), or NULL. Lock held. */
static struct cl_entry *cl_find(struct connlimit *t, uint64_t h,
				const uint8_t key[16])
{
	struct hmap_node *n;

	hmap_for_each_hash(&t->map, n, h) {
		struct cl_entry *e = HMAP_ENTRY(n, struct cl_entry, node);

		if (!memcmp(e->key, key, 16))
			return e;
	}
	return NULL;
}

int connlimit_acquire(struct connlimit *t, const union sipd_addr *a)
{
	uint8_t key[16];
	struct cl_entry *e;
	uint64_t h;
	int err = 0;

	connlimit_key(a, key);
	h = hmap_hash(key, sizeof(key));
	pthread_mutex_lock(&t->lock);
	e = cl_find(t, h, key);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(e->key, key, 16);
		hmap_insert(&t->map, &e->node, h);
	}
	if (e->count >= t->per_client)
		err = -EUSERS;
	else
		e->count++;
out:
	pthread_mutex_unlock(&t->lock);
	return err;
}

void connlimit_release(struct connlimit *t, const union sipd_addr *a)
{
	uint8_t key[16];
	struct cl_entry *e;
	uint64_t h;

	connlimit_key(a, key);
	h = hmap_hash(key, sizeof(key));
	pthread_mutex_lock(&t->lock);
	e = cl_find(t, h, key);
	if (e && --e->count <= 0) {
		hmap_remove(&t->map, &e->node);
		free(e);
	}
	pthread_mutex_unlock(&t->lock);
}
