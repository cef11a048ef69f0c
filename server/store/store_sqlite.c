/*
 * store_sqlite: the SQLite backend of the store (the embedded default).
 *
 * One `struct store_sqlite` is one sqlite3 connection opened in multi-thread
 * mode (SQLITE_OPEN_NOMUTEX): it belongs to one thread, which is why the
 * prepared statements can be cached in it without locks. The file uses WAL
 * so readers never block the writer, with synchronous=NORMAL: a committed
 * transaction survives a crash or kill -9 of the server (the WAL is in the
 * OS page cache and is replayed on open); only a power cut can lose the
 * last commits, which operators can change with PRAGMA (docs/operations.md).
 * Writers on different connections wait for each other (busy_timeout);
 * store_begin() takes the write lock at once (BEGIN IMMEDIATE) so two
 * transactions never deadlock upgrading a read lock.
 *
 * The schema is versioned in `schema_version`; store_sqlite_migrate()
 * applies the missing steps of `migrations[]` in one transaction on open.
 */#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_sqlite.h"

/*
 * migrations[i] takes the schema from version i to i+1. Never edit a
 * step that has shipped: add a new one and bump STORE_SCHEMA_VERSION.
 */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	/* 0 -> 1: the first schema */
	"CREATE TABLE accounts ("
	"  number TEXT PRIMARY KEY,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE devices ("
	"  username TEXT PRIMARY KEY,"
	"  number TEXT NOT NULL REFERENCES accounts(number),"
	"  ha1_md5 TEXT NOT NULL,"
	"  ha1_sha256 TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX devices_number ON devices(number);"
	"CREATE TABLE codes ("
	"  number TEXT PRIMARY KEY,"
	"  hash BLOB NOT NULL,"
	"  salt BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  tries INTEGER NOT NULL);"
	"CREATE TABLE send_log ("
	"  id INTEGER PRIMARY KEY,"
	"  number TEXT NOT NULL,"
	"  client TEXT NOT NULL,"
	"  sent_at INTEGER NOT NULL);"
	"CREATE INDEX send_log_number ON send_log(number, sent_at);"
	"CREATE INDEX send_log_client ON send_log(client, sent_at);"
	"CREATE TABLE sms_queue ("
	"  id INTEGER PRIMARY KEY,"
	"  to_number TEXT NOT NULL,"
	"  text TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  next_try INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX sms_queue_due ON sms_queue(next_try);"
	"CREATE TABLE bindings ("
	"  number TEXT NOT NULL,"
	"  contact TEXT NOT NULL,"
	"  username TEXT NOT NULL,"
	"  call_id TEXT NOT NULL,"
	"  cseq INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  q INTEGER NOT NULL,"
	"  transport TEXT NOT NULL,"
	"  received TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  instance TEXT NOT NULL,"
	"  reg_id INTEGER NOT NULL,"
	"  PRIMARY KEY (number, contact));"
	"CREATE INDEX bindings_username ON bindings(username, expires_at);"
	"CREATE INDEX bindings_expires ON bindings(expires_at);",
	/* 1 -> 2: registration sessions replace the one code per number, so
	 * that wrong guesses by one requester cannot kill the code another
	 * received (docs/decisions.md). Codes pending at the upgrade are
	 * dropped: their holders request a new one. */
	"CREATE TABLE code_sessions ("
	"  session TEXT PRIMARY KEY,"
	"  number TEXT NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  salt BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  tries INTEGER NOT NULL);"
	"CREATE INDEX code_sessions_expires ON code_sessions(expires_at);"
	"CREATE INDEX send_log_number_client ON send_log(number, client, sent_at);"
	"DROP TABLE codes;",
	/* 2 -> 3: the SMS queue moves to the durable queue (server/queue/,
	 * issue 7). The table is renamed, not dropped, so that no SMS still
	 * waiting is lost: start-up moves its rows into the queue and then
	 * drops it (sms_migrate_legacy()). */
	"ALTER TABLE sms_queue RENAME TO sms_legacy;",
};

const char *const store_sqlite_sql[SQ__N] = {
	[SQ_DEVICE_ADD_ACCOUNT] =
		"INSERT OR IGNORE INTO accounts(number, created) VALUES (?1, ?2)",
	[SQ_DEVICE_ADD] =
		"INSERT INTO devices(username, number, ha1_md5, ha1_sha256, created)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_DEVICE_GET] =
		"SELECT username, number, ha1_md5, ha1_sha256, created"
		" FROM devices WHERE username = ?1",
	[SQ_DEVICE_DELETE] = "DELETE FROM devices WHERE username = ?1",
	[SQ_DEVICE_DELETE_BINDINGS] = "DELETE FROM bindings WHERE username = ?1",
	[SQ_COUNT_ACCOUNTS] =
		"SELECT count(*) FROM accounts a WHERE EXISTS"
		" (SELECT 1 FROM devices d WHERE d.number = a.number)",
	[SQ_COUNT_DEVICES] = "SELECT count(*) FROM devices",
	[SQ_COUNT_NUMBER_DEVICES] =
		"SELECT count(*) FROM devices WHERE number = ?1",
	[SQ_CODE_PUT] =
		"INSERT OR REPLACE INTO code_sessions(session, number, hash, salt,"
		" created, expires_at, tries) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQ_CODE_GET] =
		"SELECT number, hash, salt, created, expires_at, tries, session"
		" FROM code_sessions WHERE session = ?1",
	[SQ_CODE_ADD_TRY] =
		"UPDATE code_sessions SET tries = tries + 1 WHERE session = ?1"
		" RETURNING tries",
	[SQ_CODE_DELETE] = "DELETE FROM code_sessions WHERE session = ?1",
	[SQ_SEND_LOG_ADD] =
		"INSERT INTO send_log(number, client, sent_at) VALUES (?1, ?2, ?3)",
	[SQ_SEND_LOG_COUNT] =
		"SELECT count(*) FROM send_log WHERE sent_at >= ?3"
		" AND (?1 IS NULL OR number = ?1) AND (?2 IS NULL OR client = ?2)",
	[SQ_SEND_LOG_LAST] =
		"SELECT max(sent_at) FROM send_log WHERE number = ?1"
		" AND (?2 IS NULL OR client = ?2)",
	[SQ_SEND_LOG_NTH] =
		"SELECT sent_at FROM send_log WHERE sent_at >= ?3"
		" AND (?1 IS NULL OR number = ?1) AND (?2 IS NULL OR client = ?2)"
		" ORDER BY sent_at LIMIT 1 OFFSET ?4",
	[SQ_CODES_GC] = "DELETE FROM code_sessions WHERE expires_at <= ?1",
	[SQ_SEND_LOG_GC] = "DELETE FROM send_log WHERE sent_at < ?1",
	[SQ_BINDING_UPSERT] =
		"INSERT OR REPLACE INTO bindings(" BINDING_COLS ")"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[SQ_BINDING_GET] =
		"SELECT " BINDING_COLS " FROM bindings"
		" WHERE number = ?1 AND contact = ?2",
	[SQ_BINDING_DELETE] =
		"DELETE FROM bindings WHERE number = ?1 AND contact = ?2",
	[SQ_BINDING_DELETE_ALL] = "DELETE FROM bindings WHERE number = ?1",
	[SQ_BINDING_DELETE_DEVICE] =
		"DELETE FROM bindings WHERE number = ?1 AND username = ?2",
	[SQ_BINDING_LIST] =
		"SELECT " BINDING_COLS " FROM bindings"
		" WHERE number = ?1 AND expires_at > ?2 ORDER BY rowid DESC",
	[SQ_BINDING_COUNT_DEVICE] =
		"SELECT count(*) FROM bindings WHERE username = ?1"
		" AND expires_at > ?2",
	[SQ_BINDING_LOAD_ALL] =
		"SELECT " BINDING_COLS " FROM bindings WHERE expires_at > ?1",
	[SQ_BINDING_EXPIRE] = "DELETE FROM bindings WHERE expires_at <= ?1",
	[SQ_BINDING_COUNT] =
		"SELECT count(*) FROM bindings WHERE expires_at > ?1",
	/* prepared once like the rest: a REGISTER is one short transaction */
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	/* a read snapshot: no write lock, writers go on (WAL) */
	[SQ_BEGIN_READ] = "BEGIN DEFERRED",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
};

/* ---------------------------------------------------------- lifecycle */

void store_sqlite_close(struct store *st)
{
	struct store_sqlite *s = sq(st);

	for (int i = 0; i < SQ__N; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->borrowed)
		sqlite3_commit_hook(s->db, NULL, NULL);
	else
		sqlite3_close_v2(s->db);
	free(s);
}

int store_sqlite_schema_version(struct store *st, int *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt;
	int rc, v = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version",
				-1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		/* no table yet: a new, empty file */
		*out = 0;
		return 0;
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	else if (rc != SQLITE_DONE)
		v = -1;
	sqlite3_finalize(stmt);
	if (v < 0)
		return sq_err(s, rc, "schema version");
	*out = v;
	return 0;
}

static int store_sqlite_txn(struct store *st, enum sq_stmt id, const char *what)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, id);

	return stmt ? sq_exec_stmt(s, stmt, what, NULL) : -EIO;
}

int store_sqlite_begin(struct store *st)
{
	return store_sqlite_txn(st, SQ_BEGIN, "begin");
}

int store_sqlite_read_begin(struct store *st)
{
	return store_sqlite_txn(st, SQ_BEGIN_READ, "read begin");
}

int store_sqlite_commit(struct store *st)
{
	return store_sqlite_txn(st, SQ_COMMIT, "commit");
}

int store_sqlite_rollback(struct store *st)
{
	return store_sqlite_txn(st, SQ_ROLLBACK, "rollback");
}

int store_sqlite_autocheckpoint(struct store *st, int pages)
{
	struct store_sqlite *s = sq(st);
	int rc = sqlite3_wal_autocheckpoint(s->db, pages);

	return rc == SQLITE_OK ? 0 : sq_err(s, rc, "autocheckpoint");
}

/* sqlite3_commit_hook: 0 lets the commit go on */
static int sq_commit_hook(void *arg)
{
	struct store_sqlite *s = arg;

	s->on_commit(s->on_commit_arg);
	return 0;
}

int store_sqlite_on_commit(struct store *st, void (*fn)(void *arg), void *arg)
{
	struct store_sqlite *s = sq(st);

	s->on_commit = fn;
	s->on_commit_arg = arg;
	sqlite3_commit_hook(s->db, fn ? sq_commit_hook : NULL, s);
	return 0;
}

static int store_sqlite_migrate(struct store_sqlite *s)
{
	char sql[96];
	int v, err;

	err = sq_exec(s, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = sq_exec(s, "CREATE TABLE IF NOT EXISTS schema_version"
			 " (version INTEGER NOT NULL)");
	if (!err)
		err = store_sqlite_schema_version(&s->base, &v);
	if (err)
		goto fail;
	if (v > STORE_SCHEMA_VERSION) {
		log_err("store: schema version %d is newer than this server (%d)",
			v, STORE_SCHEMA_VERSION);
		err = -EPROTO;
		goto fail;
	}
	for (int i = v; i < STORE_SCHEMA_VERSION; i++) {
		log_info("store: migrating schema %d -> %d", i, i + 1);
		err = sq_exec(s, migrations[i]);
		if (err)
			goto fail;
	}
	if (v < STORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "DELETE FROM schema_version;"
			 "INSERT INTO schema_version VALUES (%d)",
			 STORE_SCHEMA_VERSION);
		err = sq_exec(s, sql);
		if (err)
			goto fail;
	}
	return sq_exec(s, "COMMIT");
fail:
	sq_exec(s, "ROLLBACK");
	return err;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = store_sqlite_close,
	.schema_version = store_sqlite_schema_version,
	.begin = store_sqlite_begin,
	.read_begin = store_sqlite_read_begin,
	.commit = store_sqlite_commit,
	.rollback = store_sqlite_rollback,
	.autocheckpoint = store_sqlite_autocheckpoint,
	.on_commit = store_sqlite_on_commit,
	.device_add = store_sqlite_device_add,
	.device_get = store_sqlite_device_get,
	.device_delete = store_sqlite_device_delete,
	.count_accounts = store_sqlite_count_accounts,
	.count_devices = store_sqlite_count_devices,
	.count_number_devices = store_sqlite_count_number_devices,
	.devices_walk = store_sqlite_devices_walk,
	.code_put = store_sqlite_code_put,
	.code_get = store_sqlite_code_get,
	.code_add_try = store_sqlite_code_add_try,
	.code_delete = store_sqlite_code_delete,
	.send_log_add = store_sqlite_send_log_add,
	.send_log_count = store_sqlite_send_log_count,
	.send_log_nth = store_sqlite_send_log_nth,
	.send_log_last = store_sqlite_send_log_last,
	.codes_gc = store_sqlite_codes_gc,
	.sms_legacy_walk = store_sqlite_sms_legacy_walk,
	.sms_legacy_drop = store_sqlite_sms_legacy_drop,
	.binding_upsert = store_sqlite_binding_upsert,
	.binding_get = store_sqlite_binding_get,
	.binding_delete = store_sqlite_binding_delete,
	.binding_delete_all = store_sqlite_binding_delete_all,
	.binding_list = store_sqlite_binding_list,
	.binding_count_device = store_sqlite_binding_count_device,
	.binding_load_all = store_sqlite_binding_load_all,
	.binding_expire = store_sqlite_binding_expire,
	.binding_count = store_sqlite_binding_count,
};

int store_sqlite_open(const char *path, struct store **out)
{
	struct store_sqlite *s;
	struct stat sb;
	int memory = strcmp(path, ":memory:") == 0;
	int created = !memory && stat(path, &sb) != 0 && errno == ENOENT;
	int rc, err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int oserr = s->db ? sqlite3_system_errno(s->db) : 0;

		log_err("store: open %s: %s", path,
			oserr ? strerror(oserr) : s->db ? sqlite3_errmsg(s->db)
							: sqlite3_errstr(rc));
		err = oserr ? -oserr : -EIO;
		goto fail;
	}
	/*
	 * The file holds HA1 digests: a new one is made private. chmod(2),
	 * never open()+close(): closing any descriptor of the file would drop
	 * the POSIX locks that this process's other SQLite connections hold
	 * on it, and another process could then delete the live WAL.
	 * SQLite gives the -wal and -shm files the database file's mode.
	 */
	if (created && chmod(path, 0600) != 0)
		log_warn("store: chmod %s: %s", path, strerror(errno));
	sqlite3_busy_timeout(s->db, 5000);
	err = sq_exec(s, "PRAGMA foreign_keys = ON");
	if (!err && !memory)
		err = sq_exec(s, "PRAGMA journal_mode = WAL");
	if (!err)
		err = sq_exec(s, "PRAGMA synchronous = NORMAL");
	if (!err)
		err = store_sqlite_migrate(s);
	if (err)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	store_sqlite_close(&s->base);
	return err;
}

/* The schema is the opener's business (the server migrates it once at
 * start, store_prepare in main.c). */
int store_sqlite_attach(void *db, struct store **out)
{
	struct store_sqlite *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->base.ops = &sqlite_ops;
	s->db = db;
	s->borrowed = 1;
	*out = &s->base;
	return 0;
}
