/*
 * numbers: the numbers that have an account and their devices, in memory,
 * so that a text to a number can be answered 404 or stored, and its
 * delivery can tell which devices still have to get it, without reading
 * the store on an event loop. Loaded from the store at start-up; the HTTP
 * API adds a device when it is committed (the on_device_added hook).
 * Bounded by what is provisioned (one entry per account, one name per
 * device). Sharded by hash, one mutex per shard.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"
#include "../store/store.h"
#include "dataline/hmap.h"

#define NUM_SHARDS 16

struct num_ent {
	struct hmap_node node;
	char number[STORE_NUMBER_MAX];
	int ndev, cap;
	char (*dev)[STORE_USERNAME_MAX]; /* owned array of ndev names */
};

/* A device's number, by its username (one-field clients address each
 * other by username). */
struct dev_ent {
	struct hmap_node node;
	char username[STORE_USERNAME_MAX];
	char number[STORE_NUMBER_MAX];
};

struct numbers {
	struct {
		pthread_mutex_t lock;
		struct hmap map;     /* num_ent by number */
		struct hmap devs;    /* dev_ent by username */
	} shard[NUM_SHARDS];
};

int numbers_new(struct numbers **out)
{
	struct numbers *t = calloc(1, sizeof(*t));
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < NUM_SHARDS; i++) {
		pthread_mutex_init(&t->shard[i].lock, NULL);
		if (hmap_init(&t->shard[i].map, 256) ||
		    hmap_init(&t->shard[i].devs, 256)) {
			hmap_destroy(&t->shard[i].map);
			while (i--) {
				hmap_destroy(&t->shard[i].map);
				hmap_destroy(&t->shard[i].devs);
			}
			free(t);
			return -ENOMEM;
		}
	}
	*out = t;
	return 0;
}

void numbers_free(struct numbers *t)
{
	struct hmap_iter it;
	struct hmap_node *n;
	int i;

	if (!t)
		return;
	for (i = 0; i < NUM_SHARDS; i++) {
		hmap_for_each(&t->shard[i].map, it, n) {
			struct num_ent *e = HMAP_ENTRY(n, struct num_ent, node);
			hmap_remove(&t->shard[i].map, n);
			free(e->dev);
			free(e);
		}
		hmap_for_each(&t->shard[i].devs, it, n) {
			hmap_remove(&t->shard[i].devs, n);
			free(HMAP_ENTRY(n, struct dev_ent, node));
		}
		hmap_destroy(&t->shard[i].map);
		hmap_destroy(&t->shard[i].devs);
		pthread_mutex_destroy(&t->shard[i].lock);
	}
	free(t);
}

static int numbers_dev_add(struct numbers *t, const char *username,
			   const char *number);

static int num_eq(const struct hmap_node *n, const void *key)
{
	return !strcmp(HMAP_ENTRY(n, struct num_ent, node)->number, key);
}

int numbers_has(struct numbers *t, const char *number)
{
	uint64_t h = hmap_hash_str(number);
	int i = (int)(h % NUM_SHARDS), found;

	pthread_mutex_lock(&t->shard[i].lock);
	found = hmap_find(&t->shard[i].map, h, num_eq, number) != NULL;
	pthread_mutex_unlock(&t->shard[i].lock);
	return found;
}

int numbers_add(struct numbers *t, const char *number, const char *username)
{
	uint64_t h = hmap_hash_str(number);
	int i = (int)(h % NUM_SHARDS), k, err = 0;
	struct hmap_node *n;
	struct num_ent *e;

	if (strlen(number) >= STORE_NUMBER_MAX ||
	    (username && strlen(username) >= STORE_USERNAME_MAX))
		return -EINVAL;
	pthread_mutex_lock(&t->shard[i].lock);
	n = hmap_find(&t->shard[i].map, h, num_eq, number);
	e = HMAP_ENTRY(n, struct num_ent, node);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			err = -ENOMEM;
			goto out;
		}
		strcpy(e->number, number);
		hmap_insert(&t->shard[i].map, &e->node, h);
	}
	if (!username)
		goto out;
	for (k = 0; k < e->ndev; k++)
		if (!strcmp(e->dev[k], username))
			goto out;
	if (e->ndev == e->cap) {
		int cap = e->cap ? 2 * e->cap : 2;
		void *p = realloc(e->dev, (size_t)cap * sizeof(*e->dev));
		if (!p) {
			err = -ENOMEM;
			goto out;
		}
		e->dev = p;
		e->cap = cap;
	}
	strcpy(e->dev[e->ndev++], username);
out:
	pthread_mutex_unlock(&t->shard[i].lock);
	if (!err && username)
		err = numbers_dev_add(t, username, number);
	return err;
}

static int dev_eq(const struct hmap_node *n, const void *key)
{
	return !strcmp(HMAP_ENTRY(n, struct dev_ent, node)->username, key);
}

static int numbers_dev_add(struct numbers *t, const char *username,
			   const char *number)
{
	uint64_t h = hmap_hash_str(username);
	int i = (int)(h % NUM_SHARDS), err = 0;
	struct dev_ent *d;

	pthread_mutex_lock(&t->shard[i].lock);
	if (!hmap_find(&t->shard[i].devs, h, dev_eq, username)) {
		d = calloc(1, sizeof(*d));
		if (d) {
			strcpy(d->username, username);
			strcpy(d->number, number);
			hmap_insert(&t->shard[i].devs, &d->node, h);
		} else {
			err = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&t->shard[i].lock);
	return err;
}

int numbers_of_device(struct numbers *t, const char *username,
		      char number[STORE_NUMBER_MAX])
{
	uint64_t h = hmap_hash_str(username);
	int i = (int)(h % NUM_SHARDS), err = -ENOENT;
	struct dev_ent *d;

	pthread_mutex_lock(&t->shard[i].lock);
	d = HMAP_ENTRY(hmap_find(&t->shard[i].devs, h, dev_eq, username),
		       struct dev_ent, node);
	if (d) {
		strcpy(number, d->number);
		err = 0;
	}
	pthread_mutex_unlock(&t->shard[i].lock);
	return err;
}

int numbers_devices(struct numbers *t, const char *number,
		    char (*out)[STORE_USERNAME_MAX], int max)
{
	uint64_t h = hmap_hash_str(number);
	int i = (int)(h % NUM_SHARDS), n = -ENOENT;
	struct num_ent *e;

	pthread_mutex_lock(&t->shard[i].lock);
	e = HMAP_ENTRY(hmap_find(&t->shard[i].map, h, num_eq, number),
		       struct num_ent, node);
	if (e) {
		n = e->ndev < max ? e->ndev : max;
		if (n > 0) /* e->dev is NULL while the number has none */
			memcpy(out, e->dev, (size_t)n * sizeof(*out));
		else
			n = 0;
	}
	pthread_mutex_unlock(&t->shard[i].lock);
	return n;
}

static int load_cb(const char *number, const char *username, void *arg)
{
	return numbers_add(arg, number, username);
}

int numbers_load(struct numbers *t, struct store *st)
{
	return store_devices_walk(st, load_cb, t);
}
