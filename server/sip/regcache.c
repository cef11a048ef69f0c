/*
 * regcache: the registrar's in-memory bindings (RFC 3261 s.10.3), an hmap
 * keyed by the number (the AOR); a number's few bindings share its hash
 * and so its chain. Design and locking rules: regcache.h.
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
	struct hmap map;          /* owns the entries */
	size_t ndirty;            /* entries with dirty set */
	uint64_t next_seq;
	uint64_t next_txn;        /* the last job id given out */
	uint64_t open_txn;        /* the job writing now: puts are its */
	uint64_t settled;         /* jobs up to this one have an outcome */
	uint64_t reloaded;        /* jobs up to this one were undone by a
				     reload from the store */
	int loaded;
};

/* Numbers are the clients' to choose (registration by phone number), so
 * they are hashed with the keyed hmap_hash(). */
static uint64_t rc_hash(const char *number)
{
	return hmap_hash_str(number);
}

#define RC_ENT(n) HMAP_ENTRY(n, struct rc_ent, node)

int regcache_new(struct regcache **out)
{
	struct regcache *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return -ENOMEM;
	if (hmap_init(&rc->map, 1024)) {
		free(rc);
		return -ENOMEM;
	}
	pthread_mutex_init(&rc->lock, NULL);
	*out = rc;
	return 0;
}

static void rc_clear(struct regcache *rc)
{
	struct hmap_iter it;
	struct hmap_node *n;

	hmap_for_each(&rc->map, it, n) {
		hmap_remove(&rc->map, n);
		free(RC_ENT(n));
	}
	rc->ndirty = 0;
}

void regcache_free(struct regcache *rc)
{
	if (!rc)
		return;
	rc_clear(rc);
	hmap_destroy(&rc->map);
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

/* The binding (NUMBER, CONTACT), H the hash of NUMBER; or NULL. */
static struct rc_ent *rc_get(const struct regcache *rc, uint64_t h,
			     const char *number, const char *contact)
{
	struct hmap_node *n;

	hmap_for_each_hash(&rc->map, n, h) {
		struct rc_ent *e = RC_ENT(n);

		if (!strcmp(rc_str(e, RC_NUMBER), number) &&
		    !strcmp(rc_str(e, RC_CONTACT), contact))
			return e;
	}
	return NULL;
}

const struct rc_ent *regcache_find(const struct regcache *rc,
				   const char *number, const char *contact)
{
	return rc_get(rc, rc_hash(number), number, contact);
}

int regcache_uncommitted(const struct regcache *rc, const struct rc_ent *e)
{
	return e->txn > rc->settled;
}

uint64_t regcache_count_device(const struct regcache *rc, const char *number,
			       const char *username, int64_t now)
{
	uint64_t h = rc_hash(number), n = 0;
	struct hmap_node *pos;

	hmap_for_each_hash(&rc->map, pos, h) {
		const struct rc_ent *e = RC_ENT(pos);

		if (e->expires_at > now &&
		    !strcmp(rc_str(e, RC_NUMBER), number) &&
		    (!username || !strcmp(rc_str(e, RC_USERNAME), username)))
			n++;
	}
	return n;
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
	e->node.hash = rc_hash(b->number);
	e->cseq = b->cseq;
	e->expires_at = b->expires_at;
	e->durable_expires = b->expires_at;
	e->q = b->q;
	e->reg_id = b->reg_id;
	e->conn_id = b->conn_id;
	e->worker = b->worker;
	return e;
}

/* Links E in place of whatever has its key. */
static void rc_link(struct regcache *rc, struct rc_ent *e)
{
	struct rc_ent *old = rc_get(rc, e->node.hash, rc_str(e, RC_NUMBER),
				    rc_str(e, RC_CONTACT));

	e->root = e->seq;
	if (old) {
		if (e->dirty) { /* a refresh: the row written is still old's */
			e->durable_expires = old->durable_expires;
			e->root = old->root;
		}
		if (old->dirty)
			rc->ndirty--;
		hmap_remove(&rc->map, &old->node);
		free(old);
	}
	e->next = NULL;
	hmap_insert(&rc->map, &e->node, e->node.hash);
	if (e->dirty)
		rc->ndirty++;
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

static void rc_unlink(struct regcache *rc, struct rc_ent *e)
{
	hmap_remove(&rc->map, &e->node);
	if (e->dirty)
		rc->ndirty--;
	free(e);
}

int regcache_del(struct regcache *rc, const char *number, const char *contact)
{
	struct rc_ent *e = rc_get(rc, rc_hash(number), number, contact);

	if (!e)
		return -ENOENT;
	rc_unlink(rc, e);
	return 0;
}

void regcache_del_all(struct regcache *rc, const char *number,
		      const char *username)
{
	uint64_t h = rc_hash(number);
	struct hmap_node *pos, *tmp;

	hmap_for_each_hash_safe(&rc->map, pos, tmp, h) {
		struct rc_ent *e = RC_ENT(pos);

		if (!strcmp(rc_str(e, RC_NUMBER), number) &&
		    (!username || !strcmp(rc_str(e, RC_USERNAME), username)))
			rc_unlink(rc, e);
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
		.conn_id = e->conn_id, .worker = e->worker,
	};
}

#define RC_LIST_MAX 64

int regcache_list(const struct regcache *rc, const char *number, int64_t now,
		  store_binding_cb cb, void *arg)
{
	uint64_t h = rc_hash(number);
	const struct rc_ent *v[RC_LIST_MAX];
	struct hmap_node *pos;
	int n = 0, i, j, err;

	hmap_for_each_hash(&rc->map, pos, h) {
		const struct rc_ent *e = RC_ENT(pos);

		if (e->expires_at > now &&
		    !strcmp(rc_str(e, RC_NUMBER), number) && n < RC_LIST_MAX)
			v[n++] = e;
	}
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

uint64_t regcache_expire_each(struct regcache *rc, int64_t now,
			      regcache_gone_fn gone, void *arg)
{
	struct hmap_iter it;
	struct hmap_node *n;
	uint64_t live = 0;

	hmap_for_each(&rc->map, it, n) {
		if (RC_ENT(n)->expires_at > now) {
			live++;
			continue;
		}
		if (gone)
			gone(arg, rc_str(RC_ENT(n), RC_NUMBER));
		rc_unlink(rc, RC_ENT(n));
	}
	return live;
}

uint64_t regcache_expire(struct regcache *rc, int64_t now)
{
	return regcache_expire_each(rc, now, NULL, NULL);
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
	struct hmap_iter it;
	struct hmap_node *pos;
	int err;

	/* pending refreshes were answered 200: they outlive the reload, on
	 * top of the rows they refresh */
	hmap_for_each(&rc->map, it, pos) {
		e = RC_ENT(pos);
		hmap_remove(&rc->map, pos);
		if (e->dirty && rc->loaded) {
			e->next = keep;
			keep = e;
		} else {
			free(e);
		}
	}
	rc->ndirty = 0;
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

uint64_t regcache_txn_begin(struct regcache *rc)
{
	rc->open_txn = ++rc->next_txn;
	return rc->open_txn;
}

void regcache_txn_end(struct regcache *rc, uint64_t id, int ok,
		      struct store *st)
{
	regcache_lock(rc);
	if (id > rc->settled)
		rc->settled = id;
	/* one reload undoes every job run so far: the failed batch's other
	 * jobs (their own calls here then find it done) */
	if (!ok && rc->loaded && id > rc->reloaded) {
		rc->reloaded = rc->next_txn;
		rc->settled = rc->next_txn;
		regcache_load(rc, st, (int64_t)time(NULL));
	}
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
	struct hmap_iter it;
	struct hmap_node *n;
	size_t taken = 0;

	regcache_lock(rc);
	hmap_for_each(&rc->map, it, n) {
		struct rc_ent *e = RC_ENT(n);

		if (taken == rc->ndirty)
			break;
		if (!e->dirty)
			continue;
		c = malloc(e->size);
		if (!c)
			break; /* the rest is written next time */
		memcpy(c, e, e->size);
		c->node.next = NULL; /* a copy, in no table */
		c->next = snap;
		snap = c;
		taken++;
	}
	regcache_unlock(rc);
	return snap;
}

void regcache_flushed(struct regcache *rc, const struct rc_ent *snap)
{
	regcache_lock(rc);
	for (; snap; snap = snap->next) {
		struct rc_ent *e = rc_get(rc, snap->node.hash,
					  rc_str(snap, RC_NUMBER),
					  rc_str(snap, RC_CONTACT));
		/* the version written, or a refresh of it since (a job's
		 * change since has a row of its own) */
		if (!e || e->root != snap->root || e->seq < snap->seq)
			continue;
		e->durable_expires = snap->expires_at;
		if (e->seq == snap->seq && e->dirty) {
			e->dirty = 0;
			rc->ndirty--;
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
