/*
 * regcache: the registrar's in-memory bindings (RFC 3261 s.10.3), a hash
 * table keyed by the number (the AOR); a number's few bindings share its
 * chain. Design and locking rules: regcache.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "regcache.h"
#include "dataline/log.h"

struct regcache {
	pthread_mutex_t lock;
	struct rc_ent **buckets;  /* owned, power of two */
	size_t nbuckets, count;
	size_t ndirty;            /* entries with dirty set */
	uint64_t next_seq;
	uint64_t next_txn;
	uint64_t open_txn;        /* id of the open write transaction, or 0 */
	int loaded;
};

static uint64_t rc_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int regcache_new(struct regcache **out)
{
	struct regcache *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return -ENOMEM;
	rc->nbuckets = 1024;
	rc->buckets = calloc(rc->nbuckets, sizeof(*rc->buckets));
	if (!rc->buckets) {
		free(rc);
		return -ENOMEM;
	}
	pthread_mutex_init(&rc->lock, NULL);
	*out = rc;
	return 0;
}

static void rc_clear(struct regcache *rc)
{
	size_t b;

	for (b = 0; b < rc->nbuckets; b++) {
		struct rc_ent *e = rc->buckets[b], *n;
		for (; e; e = n) {
			n = e->next;
			free(e);
		}
		rc->buckets[b] = NULL;
	}
	rc->count = rc->ndirty = 0;
}

void regcache_free(struct regcache *rc)
{
	if (!rc)
		return;
	rc_clear(rc);
	free(rc->buckets);
	pthread_mutex_destroy(&rc->lock);
	free(rc);
}

void regcache_lock(struct regcache *rc)
{
	pthread_mutex_lock(&rc->lock);
}

void regcache_unlock(struct regcache *rc)
{
	pthread_mutex_unlock(&rc->lock);
}

int regcache_loaded(const struct regcache *rc)
{
	return rc->loaded;
}

static struct rc_ent **rc_slot(const struct regcache *rc, uint64_t h,
			       const char *number, const char *contact)
{
	struct rc_ent **pp = &rc->buckets[h & (rc->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && !strcmp(rc_str(*pp, RC_NUMBER), number) &&
		    !strcmp(rc_str(*pp, RC_CONTACT), contact))
			return pp;
	return pp;
}

const struct rc_ent *regcache_find(const struct regcache *rc,
				   const char *number, const char *contact)
{
	return *rc_slot(rc, rc_hash(number), number, contact);
}

int regcache_uncommitted(const struct regcache *rc, const struct rc_ent *e)
{
	return rc->open_txn && e->txn == rc->open_txn;
}

uint64_t regcache_count_device(const struct regcache *rc, const char *number,
			       const char *username, int64_t now)
{
	uint64_t h = rc_hash(number), n = 0;
	const struct rc_ent *e = rc->buckets[h & (rc->nbuckets - 1)];

	for (; e; e = e->next)
		if (e->hash == h && e->expires_at > now &&
		    !strcmp(rc_str(e, RC_NUMBER), number) &&
		    (!username || !strcmp(rc_str(e, RC_USERNAME), username)))
			n++;
	return n;
}

static void rc_grow(struct regcache *rc)
{
	size_t n = rc->nbuckets * 2, b;
	struct rc_ent **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* longer chains, still correct */
	for (b = 0; b < rc->nbuckets; b++) {
		struct rc_ent *e = rc->buckets[b], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(rc->buckets);
	rc->buckets = nb;
	rc->nbuckets = n;
}

static struct rc_ent *rc_make(const struct store_binding *b)
{
	const char *s[RC__N] = {
		[RC_NUMBER] = b->number, [RC_USERNAME] = b->username,
		[RC_CONTACT] = b->contact, [RC_CALL_ID] = b->call_id,
		[RC_TRANSPORT] = b->transport, [RC_RECEIVED] = b->received,
		[RC_PATH] = b->path, [RC_INSTANCE] = b->instance,
	};
	size_t len[RC__N], total = 0, at = 0;
	struct rc_ent *e;
	int i;

	for (i = 0; i < RC__N; i++) {
		len[i] = strlen(s[i]) + 1;
		total += len[i];
	}
	e = malloc(sizeof(*e) + total);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	for (i = 0; i < RC__N; i++) {
		e->off[i] = (uint32_t)at;
		memcpy(e->buf + at, s[i], len[i]);
		at += len[i];
	}
	e->size = sizeof(*e) + total;
	e->hash = rc_hash(b->number);
	e->cseq = b->cseq;
	e->expires_at = b->expires_at;
	e->durable_expires = b->expires_at;
	e->q = b->q;
	e->reg_id = b->reg_id;
	return e;
}

/* Links E in place of whatever has its key. */
static void rc_link(struct regcache *rc, struct rc_ent *e)
{
	struct rc_ent **pp = rc_slot(rc, e->hash, rc_str(e, RC_NUMBER),
				     rc_str(e, RC_CONTACT));

	if (*pp) {
		struct rc_ent *old = *pp;
		e->next = old->next;
		if (e->dirty) /* a refresh: the row written is still old's */
			e->durable_expires = old->durable_expires;
		if (old->dirty)
			rc->ndirty--;
		free(old);
	} else {
		e->next = NULL;
		rc->count++;
	}
	*pp = e;
	if (e->dirty)
		rc->ndirty++;
	if (rc->count > rc->nbuckets)
		rc_grow(rc);
}

int regcache_put(struct regcache *rc, const struct store_binding *b,
		 int dirty)
{
	struct rc_ent *e = rc_make(b);

	if (!e)
		return -ENOMEM;
	e->seq = ++rc->next_seq;
	e->dirty = dirty;
	e->txn = dirty ? 0 : rc->open_txn;
	rc_link(rc, e);
	return 0;
}

static void rc_unlink(struct regcache *rc, struct rc_ent **pp)
{
	struct rc_ent *e = *pp;

	*pp = e->next;
	if (e->dirty)
		rc->ndirty--;
	rc->count--;
	free(e);
}

int regcache_del(struct regcache *rc, const char *number, const char *contact)
{
	struct rc_ent **pp = rc_slot(rc, rc_hash(number), number, contact);

	if (!*pp)
		return -ENOENT;
	rc_unlink(rc, pp);
	return 0;
}

void regcache_del_all(struct regcache *rc, const char *number,
		      const char *username)
{
	uint64_t h = rc_hash(number);
	struct rc_ent **pp = &rc->buckets[h & (rc->nbuckets - 1)];

	while (*pp) {
		if ((*pp)->hash == h && !strcmp(rc_str(*pp, RC_NUMBER), number) &&
		    (!username || !strcmp(rc_str(*pp, RC_USERNAME), username)))
			rc_unlink(rc, pp);
		else
			pp = &(*pp)->next;
	}
}

void regcache_to_binding(const struct rc_ent *e, struct store_binding *b)
{
	*b = (struct store_binding){
		.number = rc_str(e, RC_NUMBER),
		.username = rc_str(e, RC_USERNAME),
		.contact = rc_str(e, RC_CONTACT),
		.call_id = rc_str(e, RC_CALL_ID),
		.cseq = e->cseq, .expires_at = e->expires_at, .q = e->q,
		.transport = rc_str(e, RC_TRANSPORT),
		.received = rc_str(e, RC_RECEIVED),
		.path = rc_str(e, RC_PATH),
		.instance = rc_str(e, RC_INSTANCE),
		.reg_id = e->reg_id,
	};
}

#define RC_LIST_MAX 64

int regcache_list(const struct regcache *rc, const char *number, int64_t now,
		  store_binding_cb cb, void *arg)
{
	uint64_t h = rc_hash(number);
	const struct rc_ent *e = rc->buckets[h & (rc->nbuckets - 1)];
	const struct rc_ent *v[RC_LIST_MAX];
	int n = 0, i, j, err;

	for (; e; e = e->next)
		if (e->hash == h && e->expires_at > now &&
		    !strcmp(rc_str(e, RC_NUMBER), number) && n < RC_LIST_MAX)
			v[n++] = e;
	/* newest first (few entries: insertion sort) */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1]->seq < v[j]->seq; j--) {
			const struct rc_ent *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		struct store_binding b;
		regcache_to_binding(v[i], &b);
		err = cb(&b, arg);
		if (err)
			return err;
	}
	return 0;
}

uint64_t regcache_expire(struct regcache *rc, int64_t now)
{
	size_t b;
	uint64_t live = 0;

	for (b = 0; b < rc->nbuckets; b++) {
		struct rc_ent **pp = &rc->buckets[b];
		while (*pp) {
			if ((*pp)->expires_at <= now) {
				rc_unlink(rc, pp);
			} else {
				live++;
				pp = &(*pp)->next;
			}
		}
	}
	return live;
}

/* ------------------------------------------------------------ loading */

static int load_cb(const struct store_binding *b, void *arg)
{
	struct regcache *rc = arg;
	struct rc_ent *e = rc_make(b);

	if (!e)
		return -ENOMEM;
	e->seq = ++rc->next_seq;
	rc_link(rc, e);
	return 0;
}

int regcache_load(struct regcache *rc, struct store *st, int64_t now)
{
	struct rc_ent *keep = NULL, *e, *n;
	size_t b;
	int err;

	/* pending refreshes were answered 200: they outlive the reload, on
	 * top of the rows they refresh */
	for (b = 0; b < rc->nbuckets; b++) {
		struct rc_ent **pp = &rc->buckets[b];
		while (*pp) {
			e = *pp;
			if (e->dirty && rc->loaded) {
				*pp = e->next;
				e->next = keep;
				keep = e;
			} else {
				*pp = e->next;
				free(e);
			}
		}
	}
	rc->count = rc->ndirty = 0;
	rc->loaded = 0;
	err = store_binding_load_all(st, now, load_cb, rc);
	if (err) {
		rc_clear(rc);
		for (e = keep; e; e = n) {
			n = e->next;
			free(e);
		}
		log_err("sip: loading bindings failed (%d)", err);
		return err;
	}
	/* a dirty entry's row exists in the store (a removal would have
	 * dropped the entry), though maybe with an expiry already past */
	for (e = keep; e; e = n) {
		n = e->next;
		e->txn = 0;
		rc_link(rc, e);
	}
	rc->loaded = 1;
	return 0;
}

/* ------------------------------------------------------------ transactions */

void regcache_txn_begin(struct regcache *rc)
{
	regcache_lock(rc);
	rc->open_txn = ++rc->next_txn;
	regcache_unlock(rc);
}

void regcache_txn_end(struct regcache *rc, int ok, struct store *st)
{
	regcache_lock(rc);
	rc->open_txn = 0;
	if (!ok && rc->loaded)
		regcache_load(rc, st, (int64_t)time(NULL));
	regcache_unlock(rc);
}

/* ------------------------------------------------------------ write-behind */

size_t regcache_dirty_count(struct regcache *rc)
{
	size_t n;

	regcache_lock(rc);
	n = rc->ndirty;
	regcache_unlock(rc);
	return n;
}

struct rc_ent *regcache_take_dirty(struct regcache *rc)
{
	struct rc_ent *snap = NULL, *c;
	size_t b;

	regcache_lock(rc);
	for (b = 0; b < rc->nbuckets && rc->ndirty; b++) {
		struct rc_ent *e = rc->buckets[b];
		for (; e; e = e->next) {
			if (!e->dirty)
				continue;
			c = malloc(e->size);
			if (!c)
				goto out; /* the rest stays dirty */
			memcpy(c, e, e->size);
			c->next = snap;
			snap = c;
			e->dirty = 0;
			rc->ndirty--;
		}
	}
out:
	regcache_unlock(rc);
	return snap;
}

void regcache_flushed(struct regcache *rc, const struct rc_ent *snap)
{
	regcache_lock(rc);
	for (; snap; snap = snap->next) {
		struct rc_ent *e = *rc_slot(rc, snap->hash,
					    rc_str(snap, RC_NUMBER),
					    rc_str(snap, RC_CONTACT));
		if (e)
			e->durable_expires = snap->expires_at;
	}
	regcache_unlock(rc);
}

void regcache_restore_dirty(struct regcache *rc, const struct rc_ent *snap)
{
	regcache_lock(rc);
	for (; snap; snap = snap->next) {
		struct rc_ent *e = *rc_slot(rc, snap->hash,
					    rc_str(snap, RC_NUMBER),
					    rc_str(snap, RC_CONTACT));
		if (e && e->seq == snap->seq && !e->dirty) {
			e->dirty = 1;
			rc->ndirty++;
		}
	}
	regcache_unlock(rc);
}

void regcache_snap_free(struct rc_ent *snap)
{
	struct rc_ent *n;

	for (; snap; snap = n) {
		n = snap->next;
		free(snap);
	}
}
