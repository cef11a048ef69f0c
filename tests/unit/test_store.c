/*
 * test_store: the store API on a real SQLite file in a temp directory:
 * schema creation from an empty file, reopening (data and version kept),
 * refusing a newer schema, migrating schema 1, devices/HA1 lookup,
 * registration sessions (codes) and send-log counts, migrating schema 2
 * with SMS still queued (kept for the durable queue),
 * bindings (upsert, list, expire, per-device counts) and transactions
 * (rollback really discards).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../../server/store/store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/dataline.db", f->dir);
	assert_int_equal(store_open(f->path, &f->st), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct store_device mkdev(const char *user, const char *number)
{
	struct store_device d = { .created = 1000 };

	snprintf(d.username, sizeof(d.username), "%s", user);
	snprintf(d.number, sizeof(d.number), "%s", number);
	memset(d.ha1_md5, 'a', 32);
	memset(d.ha1_sha256, 'b', 64);
	return d;
}

static void test_open_migrates_empty_file(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	int v = -1;

	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	/* the file holds HA1 values: private */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct store_device d = mkdev("8613800138000-0011aabb", "+8613800138000");
	struct store_device got;
	int v = 0;

	assert_int_equal(store_device_add(f->st, &d), 0);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(f->path, &f->st), 0);
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	assert_int_equal(store_device_get(f->st, d.username, &got), 0);
	assert_string_equal(got.number, "+8613800138000");
	assert_string_equal(got.ha1_md5, d.ha1_md5);
	assert_string_equal(got.ha1_sha256, d.ha1_sha256);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store *st = NULL;
	sqlite3 *db;
	char sql[96];

	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d",
		 STORE_SCHEMA_VERSION + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &st), -EPROTO);
	assert_null(st);
	/* and the test's teardown still needs a store */
	assert_int_equal(store_open(":memory:", &f->st), 0);
}

/* A schema 1 file (one code per number) opens as schema 3: devices kept,
 * the pending codes dropped with their table, sessions usable. */
static void test_migrates_schema_1(void **state)
{
	struct fixture *f = *state;
	struct store_device d = mkdev("8613800138000-0011aabb", "+8613800138000");
	struct store_code c = { .expires_at = 700 }, got;
	struct store_device gd;
	struct store *st = NULL;
	sqlite3 *db;
	int v = 0;

	assert_int_equal(store_device_add(f->st, &d), 0);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"DROP TABLE code_sessions; DROP INDEX send_log_number_client;"
		"CREATE TABLE codes (number TEXT PRIMARY KEY, hash BLOB NOT NULL,"
		" salt BLOB NOT NULL, created INTEGER NOT NULL,"
		" expires_at INTEGER NOT NULL, tries INTEGER NOT NULL);"
		"INSERT INTO codes VALUES ('+8613800138000', x'00', x'00', 1, 2, 0);"
		"ALTER TABLE sms_legacy RENAME TO sms_queue;"
		"UPDATE schema_version SET version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &st), 0);
	f->st = st;
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	assert_int_equal(store_device_get(st, d.username, &gd), 0);
	assert_string_equal(gd.number, d.number);
	snprintf(c.number, sizeof(c.number), "+8613800138000");
	snprintf(c.session, sizeof(c.session), "0123456789abcdef0123456789abcdef");
	assert_int_equal(store_code_put(st, &c), 0);
	assert_int_equal(store_code_get(st, c.session, &got), 0);
	assert_string_equal(got.number, c.number);
}

static void test_unknown_scheme(void **state)
{
	struct store *st = NULL;

	(void)state;
	assert_int_equal(store_open("postgres://db/dataline", &st), -ENOTSUP);
	assert_int_equal(store_open("", &st), -EINVAL);
	assert_int_equal(store_open("sqlite:", &st), -EINVAL);
	assert_int_equal(store_open("/nonexistent-dir/x.db", &st), -ENOENT);
	assert_null(st);
}

static void test_devices(void **state)
{
	struct fixture *f = *state;
	struct store_device a = mkdev("u-a", "+8613800138000");
	struct store_device b = mkdev("u-b", "+8613800138000");
	struct store_device c = mkdev("u-c", "+4915112345678");
	struct store_device got;
	uint64_t n = 99;

	assert_int_equal(store_count_accounts(f->st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_device_add(f->st, &a), 0);
	assert_int_equal(store_device_add(f->st, &b), 0);
	assert_int_equal(store_device_add(f->st, &c), 0);
	assert_int_equal(store_device_add(f->st, &a), -EEXIST);
	assert_int_equal(store_count_accounts(f->st, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_count_devices(f->st, &n), 0);
	assert_int_equal(n, 3);

	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(store_device_get(f->st, "nobody", &got), -ENOENT);
	assert_int_equal((unsigned char)got.username[0], 0x5a); /* untouched */
	assert_int_equal(store_device_get(f->st, "u-c", &got), 0);
	assert_string_equal(got.number, "+4915112345678");
	assert_int_equal(got.created, 1000);

	assert_int_equal(store_device_delete(f->st, "u-c"), 0);
	assert_int_equal(store_device_delete(f->st, "u-c"), -ENOENT);
	assert_int_equal(store_count_devices(f->st, &n), 0);
	assert_int_equal(n, 2);
	/* an account with no device left is not counted */
	assert_int_equal(store_count_accounts(f->st, &n), 0);
	assert_int_equal(n, 1);
}

static void test_codes(void **state)
{
	struct fixture *f = *state;
	struct store_code c = { .created = 100, .expires_at = 700, .tries = 0 };
	struct store_code got;
	uint64_t n;
	int tries = -1;

	snprintf(c.number, sizeof(c.number), "+8613800138000");
	snprintf(c.session, sizeof(c.session), "00112233445566778899aabbccddeeff");
	memset(c.hash, 0x11, sizeof(c.hash));
	memset(c.salt, 0x22, sizeof(c.salt));
	assert_int_equal(store_code_get(f->st, c.session, &got), -ENOENT);
	assert_int_equal(store_code_add_try(f->st, c.session, &tries), -ENOENT);
	assert_int_equal(tries, -1);
	assert_int_equal(store_code_put(f->st, &c), 0);
	assert_int_equal(store_code_add_try(f->st, c.session, &tries), 0);
	assert_int_equal(tries, 1);
	assert_int_equal(store_code_add_try(f->st, c.session, &tries), 0);
	assert_int_equal(tries, 2);
	assert_int_equal(store_code_get(f->st, c.session, &got), 0);
	assert_memory_equal(got.hash, c.hash, sizeof(c.hash));
	assert_memory_equal(got.salt, c.salt, sizeof(c.salt));
	assert_int_equal(got.tries, 2);
	assert_int_equal(got.expires_at, 700);
	assert_string_equal(got.number, c.number);
	assert_string_equal(got.session, c.session);
	/* a second session for the same number is separate: its tries are
	 * its own, and the first one's are untouched */
	{
		struct store_code c2 = c, g2;

		c2.session[0] = 'f';
		assert_int_equal(store_code_put(f->st, &c2), 0);
		assert_int_equal(store_code_add_try(f->st, c2.session, &tries), 0);
		assert_int_equal(tries, 1);
		assert_int_equal(store_code_get(f->st, c.session, &g2), 0);
		assert_int_equal(g2.tries, 2);
		assert_int_equal(store_code_delete(f->st, c2.session), 0);
		assert_int_equal(store_code_get(f->st, c.session, &g2), 0);
	}
	/* a put with the same session replaces the code and resets the tries */
	memset(c.hash, 0x33, sizeof(c.hash));
	assert_int_equal(store_code_put(f->st, &c), 0);
	assert_int_equal(store_code_get(f->st, c.session, &got), 0);
	assert_int_equal(got.tries, 0);
	assert_int_equal(got.hash[0], 0x33);

	/* send log: windows by number and by client */
	assert_int_equal(store_send_log_add(f->st, c.number, "127.0.0.1", 100), 0);
	assert_int_equal(store_send_log_add(f->st, c.number, "127.0.0.2", 200), 0);
	assert_int_equal(store_send_log_add(f->st, "+4915112345678", "127.0.0.1", 300), 0);
	assert_int_equal(store_send_log_count(f->st, c.number, NULL, 0, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_send_log_count(f->st, c.number, NULL, 150, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_send_log_count(f->st, NULL, "127.0.0.1", 0, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_send_log_count(f->st, NULL, NULL, 0, &n), 0);
	assert_int_equal(n, 3);
	int64_t last = -1;
	assert_int_equal(store_send_log_last(f->st, "+10000000000", NULL, &last), -ENOENT);
	assert_int_equal(last, -1);
	assert_int_equal(store_send_log_last(f->st, c.number, NULL, &last), 0);
	assert_int_equal(last, 200);
	assert_int_equal(store_send_log_last(f->st, c.number, "127.0.0.1", &last), 0);
	assert_int_equal(last, 100);
	assert_int_equal(store_send_log_count(f->st, c.number, "127.0.0.2", 0, &n), 0);
	assert_int_equal(n, 1);
	int64_t t = -1;
	assert_int_equal(store_send_log_nth(f->st, c.number, NULL, 0, 0, &t), 0);
	assert_int_equal(t, 100);
	assert_int_equal(store_send_log_nth(f->st, c.number, NULL, 0, 1, &t), 0);
	assert_int_equal(t, 200);
	assert_int_equal(store_send_log_nth(f->st, c.number, NULL, 150, 0, &t), 0);
	assert_int_equal(t, 200);
	assert_int_equal(store_send_log_nth(f->st, NULL, "127.0.0.1", 0, 1, &t), 0);
	assert_int_equal(t, 300);
	t = -1;
	assert_int_equal(store_send_log_nth(f->st, c.number, NULL, 0, 2, &t), -ENOENT);
	assert_int_equal(t, -1);

	/* gc: the code expires at 700, log entries before 250 go */
	assert_int_equal(store_codes_gc(f->st, 699, 250), 0);
	assert_int_equal(store_code_get(f->st, c.session, &got), 0);
	assert_int_equal(store_send_log_count(f->st, NULL, NULL, 0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_codes_gc(f->st, 700, 0), 0);
	assert_int_equal(store_code_get(f->st, c.session, &got), -ENOENT);

	assert_int_equal(store_code_put(f->st, &c), 0);
	assert_int_equal(store_code_delete(f->st, c.session), 0);
	assert_int_equal(store_code_get(f->st, c.session, &got), -ENOENT);
}

struct sms_seen {
	int n;
	int64_t ids[8];
	char to[8][32];
	int attempts[8];
	char err[8][32];
};

static int sms_cb(const struct store_sms *m, void *arg)
{
	struct sms_seen *s = arg;

	s->ids[s->n] = m->id;
	snprintf(s->to[s->n], sizeof(s->to[0]), "%s", m->to);
	snprintf(s->err[s->n], sizeof(s->err[0]), "%s", m->last_error);
	s->attempts[s->n] = m->attempts;
	s->n++;
	return 0;
}

/* A schema 2 file with SMS still queued opens as schema 3 with the rows
 * kept in sms_legacy (for the durable queue to take at start-up), and
 * the table can then be dropped. */
static void test_migrates_schema_2_keeps_sms(void **state)
{
	struct fixture *f = *state;
	struct sms_seen seen = { 0 };
	struct store *st = NULL;
	sqlite3 *db;
	int v = 0;

	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"ALTER TABLE sms_legacy RENAME TO sms_queue;"
		"INSERT INTO sms_queue(to_number, text, created, next_try, attempts, last_error)"
		" VALUES ('+8613800138000', 'Your dataline code is 123456', 10, 100, 1, 'HTTP 503'),"
		"        ('+4915112345678', 'Your dataline code is 654321', 20, 20, 0, '');"
		"UPDATE schema_version SET version = 2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &st), 0);
	f->st = st;
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(store_sms_legacy_walk(st, sms_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.to[0], "+8613800138000");
	assert_int_equal(seen.attempts[0], 1);
	assert_string_equal(seen.err[0], "HTTP 503");
	assert_true(seen.ids[1] > seen.ids[0]);
	assert_int_equal(store_sms_legacy_drop(st), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_sms_legacy_walk(st, sms_cb, &seen), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(store_sms_legacy_drop(st), 0); /* idempotent */
	assert_int_equal(store_sms_legacy_walk(st, NULL, NULL), -EINVAL);
	/* reopening a schema 3 file without the table is fine */
	store_close(st);
	f->st = NULL;
	assert_int_equal(store_open(f->path, &f->st), 0);
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
}

struct bind_seen {
	int n;
	char contact[8][64];
	char user[8][32];
	uint32_t cseq[8];
	int64_t exp[8];
	char path[8][64];
	uint32_t reg_id[8];
};

static int bind_cb(const struct store_binding *b, void *arg)
{
	struct bind_seen *s = arg;

	if (s->n >= 8)
		return -E2BIG;
	snprintf(s->contact[s->n], 64, "%s", b->contact);
	snprintf(s->user[s->n], 32, "%s", b->username);
	snprintf(s->path[s->n], 64, "%s", b->path);
	s->cseq[s->n] = b->cseq;
	s->exp[s->n] = b->expires_at;
	s->reg_id[s->n] = b->reg_id;
	s->n++;
	return 0;
}

static struct store_binding mkbind(const char *num, const char *user,
				   const char *contact, int64_t exp)
{
	struct store_binding b = {
		.number = num, .username = user, .contact = contact,
		.call_id = "cid-1@host", .cseq = 1, .expires_at = exp,
		.q = 1000, .transport = "udp", .received = "udp:127.0.0.1:40000",
		.path = "", .instance = "", .reg_id = 0,
	};
	return b;
}

static void test_bindings(void **state)
{
	struct fixture *f = *state;
	const char *num = "+8613800138000";
	struct store_binding b1 = mkbind(num, "u-a", "sip:+8613800138000@127.0.0.1:40000", 1000);
	struct store_binding b2 = mkbind(num, "u-b", "sip:+8613800138000@127.0.0.1:40002;transport=tcp", 500);
	struct store_binding b3 = mkbind("+4915112345678", "u-c", "sip:x@127.0.0.1", 2000);
	struct bind_seen seen = { 0 };
	uint64_t n;

	assert_int_equal(store_binding_upsert(f->st, &b1), 0);
	assert_int_equal(store_binding_upsert(f->st, &b2), 0);
	assert_int_equal(store_binding_upsert(f->st, &b3), 0);
	assert_int_equal(store_binding_list(f->st, num, 0, bind_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.contact[0], b2.contact); /* newest first */

	/* refresh b1: same key, new cseq/expiry/path; still one row */
	b1.cseq = 2;
	b1.expires_at = 1500;
	b1.path = "<sip:edge.example;lr>";
	b1.instance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";
	b1.reg_id = 1;
	assert_int_equal(store_binding_upsert(f->st, &b1), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_binding_get(f->st, num, b1.contact, bind_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.cseq[0], 2);
	assert_int_equal(seen.exp[0], 1500);
	assert_int_equal(seen.reg_id[0], 1);
	assert_string_equal(seen.path[0], "<sip:edge.example;lr>");
	assert_int_equal(store_binding_get(f->st, num, "sip:none", bind_cb, &seen), -ENOENT);

	/* expiry: at t=600 b2 (500) is gone from lists and counts */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_binding_list(f->st, num, 600, bind_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(store_binding_count(f->st, 0, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_binding_count(f->st, 600, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_binding_count_device(f->st, "u-b", 0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_binding_count_device(f->st, "u-b", 600, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_binding_expire(f->st, 600, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_binding_count(f->st, 0, &n), 0);
	assert_int_equal(n, 2);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_binding_load_all(f->st, 0, bind_cb, &seen), 0);
	assert_int_equal(seen.n, 2);

	assert_int_equal(store_binding_delete(f->st, num, b1.contact), 0);
	assert_int_equal(store_binding_delete(f->st, num, b1.contact), -ENOENT);

	/* delete_all: by device, then the whole AOR ("Contact: *") */
	assert_int_equal(store_binding_upsert(f->st, &b1), 0);
	assert_int_equal(store_binding_upsert(f->st, &b2), 0);
	assert_int_equal(store_binding_delete_all(f->st, num, "u-a", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_binding_delete_all(f->st, num, NULL, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_binding_count(f->st, 0, &n), 0);
	assert_int_equal(n, 1);

	/* a callback's error stops the walk and is returned */
	for (int i = 0; i < 9; i++) {
		char c[32];

		snprintf(c, sizeof(c), "sip:%d@h", i);
		struct store_binding b = mkbind(num, "u-a", c, 1000);
		assert_int_equal(store_binding_upsert(f->st, &b), 0);
	}
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_binding_load_all(f->st, 0, bind_cb, &seen), -E2BIG);

	/* deleting a device removes its bindings */
	struct store_device d = mkdev("u-a", num);
	assert_int_equal(store_device_add(f->st, &d), 0);
	assert_int_equal(store_device_delete(f->st, "u-a"), 0);
	assert_int_equal(store_binding_count_device(f->st, "u-a", 0, &n), 0);
	assert_int_equal(n, 0);

	/* invalid arguments */
	b1.contact = NULL;
	assert_int_equal(store_binding_upsert(f->st, &b1), -EINVAL);
}

static void test_transactions(void **state)
{
	struct fixture *f = *state;
	struct store_device d = mkdev("u-tx", "+8613800138000");
	struct store_device got;
	struct store *other;
	uint64_t n;

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_device_add(f->st, &d), 0);
	assert_int_equal(store_rollback(f->st), 0);
	assert_int_equal(store_device_get(f->st, "u-tx", &got), -ENOENT);

	/* a committed batch is seen by another connection to the same file */
	assert_int_equal(store_begin(f->st), 0);
	for (int i = 0; i < 50; i++) {
		char c[32];

		snprintf(c, sizeof(c), "sip:dev%d@10.0.0.1", i);
		struct store_binding b = mkbind("+8613800138000", "u-tx", c, 9999);
		assert_int_equal(store_binding_upsert(f->st, &b), 0);
	}
	assert_int_equal(store_device_add(f->st, &d), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_open(f->path, &other), 0);
	assert_int_equal(store_binding_count(other, 0, &n), 0);
	assert_int_equal(n, 50);
	assert_int_equal(store_device_get(other, "u-tx", &got), 0);
	store_close(other);

	/* a duplicate inside a device_add does not leave half a row */
	assert_int_equal(store_device_add(f->st, &d), -EEXIST);
	assert_int_equal(store_count_devices(f->st, &n), 0);
	assert_int_equal(n, 1);
}

/*
 * Opening a second connection must not drop the first one's POSIX locks
 * (closing any fd of the file does that). With the locks gone, another
 * process that opens and closes the database believes it is the last user
 * and checkpoints and deletes the WAL under our feet, losing later writes.
 */
static void test_second_connection_keeps_locks(void **state)
{
	struct fixture *f = *state;
	struct store *second;
	struct store_device d = mkdev("u-lock", "+8613800138000"), got;
	char wal[160];
	struct stat sb;
	char cmd[256];

	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(store_open(f->path, &second), 0);
	/* another process (a fresh one: a fork would share SQLite's lock
	 * bookkeeping) opens, reads and closes the database */
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'SELECT count(*) FROM devices' >/dev/null",
		 f->path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(stat(wal, &sb), 0); /* the WAL is still ours */
	assert_int_equal(store_device_add(f->st, &d), 0);
	assert_int_equal(store_device_get(second, "u-lock", &got), 0);
	store_close(second);
}

static void count_commit(void *arg)
{
	(*(int *)arg)++;
}

/*
 * store_on_commit: how the server shows that no worker commits
 * (dataline_worker_commits_total). It sees explicit and autocommit writes,
 * not reads; a store attached to a connection it does not own (the
 * registrar's writer's) writes the same rows and leaves the connection
 * open when closed.
 */
static void test_commit_hook_and_attach(void **state)
{
	struct fixture *f = *state;
	struct store_device d = mkdev("u-hook", "+8613800138000"), got;
	struct store_binding b = mkbind("+8613800138000", "u-hook",
					"sip:hook@10.0.0.1", 9999);
	struct store *att;
	sqlite3 *db;
	uint64_t n;
	int commits = 0;

	assert_int_equal(store_on_commit(f->st, count_commit, &commits), 0);
	assert_int_equal(store_device_add(f->st, &d), 0); /* autocommit */
	assert_int_equal(commits, 1);
	assert_int_equal(store_device_get(f->st, "u-hook", &got), 0);
	assert_int_equal(store_binding_count(f->st, 0, &n), 0);
	assert_int_equal(commits, 1); /* reads commit nothing */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_binding_upsert(f->st, &b), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(commits, 2);
	assert_int_equal(store_on_commit(f->st, NULL, NULL), 0);
	assert_int_equal(store_binding_delete(f->st, b.number, b.contact), 0);
	assert_int_equal(commits, 2);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(store_attach_sqlite(db, &att), 0);
	assert_int_equal(store_binding_upsert(att, &b), 0);
	store_close(att);
	assert_int_equal(sqlite3_exec(db, "SELECT 1", NULL, NULL, NULL),
			 SQLITE_OK); /* still open */
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(store_binding_count(f->st, 0, &n), 0);
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_migrates_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrates_schema_1, setup, teardown),
		cmocka_unit_test(test_unknown_scheme),
		cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrates_schema_2_keeps_sms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bindings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_connection_keeps_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_hook_and_attach, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
