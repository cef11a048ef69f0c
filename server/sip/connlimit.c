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
 * The table is a fixed array of buckets of chained entries under one
 * mutex: an entry lives only while its client has a connection open, so
 * the table never holds more than --max-tcp-conns entries, and accept is
 * the only writer (a few hundred nanoseconds under the lock).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"

#define CL_BUCKETS 4096

struct cl_entry {
	struct cl_entry *next;
	uint8_t key[16];
	int count;
};

struct connlimit {
	pthread_mutex_t lock;
	int per_client;
	struct cl_entry *buckets[CL_BUCKETS]; /* owned chains */
};

int connlimit_new(int per_client, struct connlimit **out)
{
	struct connlimit *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->per_client = per_client;
	*out = t;
	return 0;
}

void connlimit_free(struct connlimit *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < CL_BUCKETS; i++) {
		struct cl_entry *e = t->buckets[i], *n;
		for (; e; e = n) {
			n = e->next;
			free(e);
		}
	}
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

static size_t cl_bucket(const uint8_t key[16])
{
	uint64_t h = 1469598103934665603ULL;
	int i;

	for (i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h % CL_BUCKETS);
}

int connlimit_acquire(struct connlimit *t, const union sipd_addr *a)
{
	uint8_t key[16];
	struct cl_entry **pp, *e;
	int err = 0;

	connlimit_key(a, key);
	pthread_mutex_lock(&t->lock);
	pp = &t->buckets[cl_bucket(key)];
	for (e = *pp; e && memcmp(e->key, key, 16); e = e->next)
		;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(e->key, key, 16);
		e->next = *pp;
		*pp = e;
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
	struct cl_entry **pp, *e;

	connlimit_key(a, key);
	pthread_mutex_lock(&t->lock);
	for (pp = &t->buckets[cl_bucket(key)]; (e = *pp); pp = &e->next) {
		if (memcmp(e->key, key, 16))
			continue;
		if (--e->count <= 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&t->lock);
}
