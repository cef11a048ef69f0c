/*
 * test_regcache: the registrar's in-memory bindings (server/sip/regcache.c)
 * against a real SQLite store (":memory:"): lookups, newest-first listing,
 * per-device counts, removal, expiry, the writer jobs' uncommitted tag, the
 * write-behind snapshot and the reload after a failed commit that keeps
 * refreshes not yet written (RFC 3261 s.10.3 bindings).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../server/sip/regcache.h"
#include "../../server/store/store.h"

static struct store_binding mk(const char *contact, const char *user,
			       int64_t expires_at, const char *call_id)
{
	return (struct store_binding){
		.number = "+8613800138000", .username = user,
		.contact = contact, .call_id = call_id, .cseq = 1,
		.expires_at = expires_at, .q = 1000, .transport = "udp",
		.received = "udp:127.0.0.1:5062", .path = "", .instance = "",
	};
}

struct seen {
	int n;
	char contact[8][64];
	int64_t expires[8];
};

static int seen_cb(const struct store_binding *b, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->contact[s->n], sizeof(s->contact[0]), "%s", b->contact);
		s->expires[s->n] = b->expires_at;
	}
	s->n++;
	return 0;
}

/* What regcache_expire_each reported. */
struct gone {
	char number[8][24];
	int n;
};

static void gone_cb(void *arg, const char *number)
{
	struct gone *g = arg;

	if (g->n < 8)
		snprintf(g->number[g->n], sizeof(g->number[0]), "%s", number);
	g->n++;
}

static void test_put_find_list(void **state)
{
	struct regcache *rc;
	struct store_binding a = mk("sip:a@h", "u1", 100, "c1");
	struct store_binding b = mk("sip:b@h", "u1", 200, "c1");
	struct store_binding c = mk("sip:c@h", "u2", 50, "c2");
	struct seen s = { 0 };
	struct gone gone;
	const struct rc_ent *e;

	(void)state;
	assert_int_equal(regcache_new(&rc), 0);
	regcache_lock(rc);
	assert_int_equal(regcache_put(rc, &a, 0), 0);
	assert_int_equal(regcache_put(rc, &b, 0), 0);
	assert_int_equal(regcache_put(rc, &c, 0), 0);
	e = regcache_find(rc, "+8613800138000", "sip:b@h");
	assert_non_null(e);
	assert_string_equal(rc_str(e, RC_USERNAME), "u1");
	assert_int_equal(e->expires_at, 200);
	assert_null(regcache_find(rc, "+8613800138000", "sip:none@h"));
	assert_null(regcache_find(rc, "+8613800138001", "sip:a@h"));
	/* newest first, expired (50 <= 60) left out */
	assert_int_equal(regcache_list(rc, "+8613800138000", 60, seen_cb, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.contact[0], "sip:b@h");
	assert_string_equal(s.contact[1], "sip:a@h");
	/* a put of an existing key replaces it and lists first */
	a.expires_at = 300;
	assert_int_equal(regcache_put(rc, &a, 0), 0);
	memset(&s, 0, sizeof(s));
	regcache_list(rc, "+8613800138000", 0, seen_cb, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.contact[0], "sip:a@h");
	assert_int_equal(s.expires[0], 300);
	assert_int_equal(regcache_count_device(rc, "+8613800138000", "u1", 60), 2);
	assert_int_equal(regcache_count_device(rc, "+8613800138000", "u2", 60), 0);
	assert_int_equal(regcache_count_device(rc, "+8613800138000", NULL, 0), 3);
	assert_int_equal(regcache_del(rc, "+8613800138000", "sip:a@h"), 0);
	assert_int_equal(regcache_del(rc, "+8613800138000", "sip:a@h"), -ENOENT);
	gone.n = 0;
	assert_int_equal(regcache_expire_each(rc, 60, gone_cb, &gone), 1);
	/* c expired (reported with its number), b left */
	assert_int_equal(gone.n, 1);
	assert_string_equal(gone.number[0], "+8613800138000");
	assert_int_equal(regcache_expire_each(rc, 60, gone_cb, &gone), 1);
	assert_int_equal(gone.n, 1);
	/* "Contact: *" of device u1 leaves device u2's binding */
	c.expires_at = 300;
	assert_int_equal(regcache_put(rc, &c, 0), 0);
	regcache_del_all(rc, "+8613800138000", "u1");
	assert_null(regcache_find(rc, "+8613800138000", "sip:b@h"));
	assert_non_null(regcache_find(rc, "+8613800138000", "sip:c@h"));
	regcache_del_all(rc, "+8613800138000", NULL);
	assert_null(regcache_find(rc, "+8613800138000", "sip:c@h"));
	regcache_unlock(rc);
	regcache_free(rc);
}

static void test_many_numbers(void **state)
{
	struct regcache *rc;
	char num[20], ct[40];
	int i;

	(void)state;
	assert_int_equal(regcache_new(&rc), 0);
	regcache_lock(rc);
	for (i = 0; i < 5000; i++) { /* grows the table */
		struct store_binding b = mk(ct, "u", 1000, "c");
		snprintf(num, sizeof(num), "+86138%08d", i);
		snprintf(ct, sizeof(ct), "sip:%d@h", i);
		b.number = num;
		assert_int_equal(regcache_put(rc, &b, 0), 0);
	}
	for (i = 0; i < 5000; i += 7) {
		snprintf(num, sizeof(num), "+86138%08d", i);
		snprintf(ct, sizeof(ct), "sip:%d@h", i);
		assert_non_null(regcache_find(rc, num, ct));
	}
	assert_int_equal(regcache_expire(rc, 999), 5000);
	assert_int_equal(regcache_expire(rc, 1000), 0);
	regcache_unlock(rc);
	regcache_free(rc);
}

/* Jobs of the registrar's writer: a job's puts are uncommitted until its
 * end; a failed job's end reloads from the store, which undoes it (and
 * the later jobs of its batch) but keeps what earlier jobs committed. */
static void test_txn_tag(void **state)
{
	struct regcache *rc;
	struct store *st;
	int64_t t0 = (int64_t)time(NULL);
	struct store_binding a = mk("sip:a@h", "u1", t0 + 100, "c1");
	struct store_binding b = mk("sip:b@h", "u1", t0 + 100, "c1");
	struct store_device dev = { .username = "u1", .number = "+8613800138000",
		.ha1_md5 = "0", .ha1_sha256 = "0", .created = 1 };
	const struct rc_ent *e;
	uint64_t ja, jb;

	(void)state;
	assert_int_equal(store_open(":memory:", &st), 0);
	assert_int_equal(store_device_add(st, &dev), 0);
	assert_int_equal(regcache_new(&rc), 0);
	regcache_lock(rc);
	assert_int_equal(regcache_load(rc, st, t0), 0);
	ja = regcache_txn_begin(rc);
	regcache_put(rc, &a, 0);
	assert_int_equal(store_binding_upsert(st, &a), 0); /* committed */
	jb = regcache_txn_begin(rc);
	assert_true(jb > ja);
	regcache_put(rc, &b, 0); /* its row never reaches the store */
	e = regcache_find(rc, a.number, a.contact);
	assert_true(regcache_uncommitted(rc, e));
	regcache_unlock(rc);

	regcache_txn_end(rc, ja, 1, st);
	regcache_lock(rc);
	e = regcache_find(rc, a.number, a.contact);
	assert_false(regcache_uncommitted(rc, e));
	e = regcache_find(rc, b.number, b.contact);
	assert_true(regcache_uncommitted(rc, e));
	regcache_unlock(rc);

	regcache_txn_end(rc, jb, 0, st); /* its commit failed */
	regcache_lock(rc);
	assert_null(regcache_find(rc, b.number, b.contact));
	e = regcache_find(rc, a.number, a.contact);
	assert_non_null(e);
	assert_false(regcache_uncommitted(rc, e));
	regcache_unlock(rc);
	regcache_free(rc);
	store_close(st);
}

/* The expiry of B's row as the cache knows it. */
static int64_t durable_of(struct regcache *rc, const struct store_binding *b)
{
	const struct rc_ent *e;
	int64_t v;

	regcache_lock(rc);
	e = regcache_find(rc, b->number, b->contact);
	assert_non_null(e);
	v = e->durable_expires;
	regcache_unlock(rc);
	return v;
}

/* Dirty entries: a snapshot copies them and they stay dirty until the
 * flush committed; one refreshed again meanwhile stays dirty after it; a
 * reload from the store keeps them over the rows they refresh. */
static void test_write_behind(void **state)
{
	struct regcache *rc;
	struct store *st;
	/* the reload drops rows expired by the clock: real times */
	int64_t t0 = (int64_t)time(NULL);
	struct store_binding a = mk("sip:a@h", "u1", t0 + 100, "c1");
	struct store_binding b = mk("sip:b@h", "u1", t0 + 100, "c1");
	struct store_device dev = { .username = "u1", .number = "+8613800138000",
		.ha1_md5 = "0", .ha1_sha256 = "0", .created = 1 };
	struct rc_ent *snap;
	const struct rc_ent *e;

	(void)state;
	assert_int_equal(store_open(":memory:", &st), 0);
	assert_int_equal(store_device_add(st, &dev), 0);
	assert_int_equal(store_binding_upsert(st, &a), 0);
	assert_int_equal(store_binding_upsert(st, &b), 0);
	assert_int_equal(regcache_new(&rc), 0);
	regcache_lock(rc);
	assert_false(regcache_loaded(rc));
	assert_int_equal(regcache_load(rc, st, 0), 0);
	assert_true(regcache_loaded(rc));
	a.expires_at = t0 + 500;
	a.call_id = "c9";
	assert_int_equal(regcache_put(rc, &a, 1), 0); /* a refresh */
	e = regcache_find(rc, a.number, a.contact);
	assert_int_equal(e->durable_expires, t0 + 100); /* the row's */
	regcache_unlock(rc);
	assert_int_equal(regcache_dirty_count(rc), 1);

	snap = regcache_take_dirty(rc);
	assert_non_null(snap);
	assert_null(snap->next);
	assert_int_equal(snap->expires_at, t0 + 500);
	assert_string_equal(rc_str(snap, RC_CALL_ID), "c9");
	assert_int_equal(regcache_dirty_count(rc), 1); /* until committed */
	regcache_snap_free(snap); /* the flush failed: nothing to undo */

	/* a failed job reloads; the refresh stays */
	regcache_lock(rc);
	regcache_txn_begin(rc);
	regcache_unlock(rc);
	regcache_txn_end(rc, 1, 0, st);
	regcache_lock(rc);
	e = regcache_find(rc, a.number, a.contact);
	assert_non_null(e);
	assert_int_equal(e->expires_at, t0 + 500);
	assert_true(e->dirty);
	assert_non_null(regcache_find(rc, b.number, b.contact));
	regcache_unlock(rc);

	snap = regcache_take_dirty(rc);
	regcache_flushed(rc, snap); /* written */
	assert_int_equal(regcache_dirty_count(rc), 0);
	assert_int_equal(durable_of(rc, &a), t0 + 500);
	regcache_snap_free(snap);

	/* refreshed again while its flush was under way: still dirty, with
	 * the written expiry (the snapshot's), not its own */
	regcache_lock(rc);
	a.expires_at = t0 + 600;
	assert_int_equal(regcache_put(rc, &a, 1), 0);
	regcache_unlock(rc);
	snap = regcache_take_dirty(rc);
	regcache_lock(rc);
	a.expires_at = t0 + 700;
	assert_int_equal(regcache_put(rc, &a, 1), 0);
	regcache_unlock(rc);
	regcache_flushed(rc, snap);
	assert_int_equal(regcache_dirty_count(rc), 1);
	assert_int_equal(durable_of(rc, &a), t0 + 600);
	regcache_snap_free(snap);

	/* changed by a job after the snapshot: the job's row, not the
	 * flush's, is what its expiry rests on */
	snap = regcache_take_dirty(rc);
	regcache_lock(rc);
	regcache_txn_begin(rc);
	a.expires_at = t0 + 800;
	a.received = "udp:127.0.0.1:5099";
	assert_int_equal(regcache_put(rc, &a, 0), 0);
	regcache_unlock(rc);
	regcache_flushed(rc, snap);
	assert_int_equal(durable_of(rc, &a), t0 + 800);
	regcache_snap_free(snap);
	regcache_free(rc);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_find_list),
		cmocka_unit_test(test_many_numbers),
		cmocka_unit_test(test_txn_tag),
		cmocka_unit_test(test_write_behind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
