/*
 * hstore: the handset's messages.db: opening, the checks that refuse a
 * file, the schema and its migrations. The statements and shared helpers
 * are in hstore_sql.c, the tables in hstore_outbox.c, hstore_inbox.c and
 * hstore_contacts.c, the JSON export in hstore_json.c.
 *
 * Why synchronous=FULL (the server's store runs NORMAL): in WAL mode NORMAL
 * loses the last commits on a power cut, and a handset loses power often
 * (a flat battery). The daemon tells the user "queued" once
 * hstore_outbox_add() returned, and answers a received text's MESSAGE with
 * 2xx once hstore_inbox_add() returned, after which the server deletes
 * its copy; both promises need the fsync of the WAL at every commit. The
 * writes are one per text, so the cost (one fsync each) does not matter.
 *
 * A file we cannot read is never "repaired": SQLite reads the header
 * before it writes anything, so garbage gives SQLITE_NOTADB at the first
 * statement and we stop there (-EBADMSG, naming the file). The checks run
 * before the journal mode is set (which writes the header): not SQLite,
 * another program's database (another application_id, or tables but
 * not ours), a schema newer than this code, then PRAGMA quick_check for a
 * damaged or truncated file (it reads every page: a fraction of a second
 * for years of texts, once per daemon start). Migrations: migrations[i] takes
 * user_version i to i+1, all in one transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataline/log.h"
#include "hstore_priv.h"

#define HSTORE_APP_ID 0x444c4853	/* "DLHS": PRAGMA application_id */

/* Never edit a step that has shipped: add one, bump HSTORE_SCHEMA_VERSION. */
static const char *const migrations[HSTORE_SCHEMA_VERSION] = {
	/* 0 -> 1: the first schema */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  peer TEXT NOT NULL,"
	"  message_id TEXT NOT NULL UNIQUE,"
	"  content_type TEXT NOT NULL,"
	"  body BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 5),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_status TEXT NOT NULL DEFAULT '',"
	"  next_at INTEGER NOT NULL);"
	"CREATE INDEX outbox_pending ON outbox(next_at) WHERE state < 2;"
	"CREATE TABLE inbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  peer TEXT NOT NULL,"
	"  message_id TEXT NOT NULL,"
	"  content_type TEXT NOT NULL,"
	"  body BLOB NOT NULL,"
	"  received INTEGER NOT NULL,"
	"  read INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (peer, message_id));"
	"CREATE TABLE contacts ("
	"  id INTEGER PRIMARY KEY,"
	"  number TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  registered INTEGER NOT NULL DEFAULT -1"
	"    CHECK (registered BETWEEN -1 AND 1),"
	"  synced INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX contacts_name ON contacts(name COLLATE NOCASE, number);",
	/* 1 -> 2: delivery notifications owed to senders (hstore_notice.c) */
	"CREATE TABLE notices ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  peer TEXT NOT NULL,"
	"  text_id TEXT NOT NULL,"
	"  notice_id TEXT NOT NULL UNIQUE,"
	"  datetime TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL,"
	"  UNIQUE (peer, text_id));"
	"CREATE INDEX notices_due ON notices(next_at);",
};

/* ---------------------------------------------------------- lifecycle */

/* One integer from a PRAGMA or query. */
static int hs_int(struct hstore *h, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
	int err;

	if (rc != SQLITE_OK)
		return hs_err(h, rc, sql);
	rc = sqlite3_step(st);
	err = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -EIO
						       : hs_err(h, rc, sql);
	if (!err)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return err;
}

static int hs_exec(struct hstore *h, const char *sql)
{
	int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : hs_err(h, rc, "exec");
}

int hstore_schema_version(struct hstore *h, int *out)
{
	int64_t v;
	int err = hs_int(h, "PRAGMA user_version", &v);

	if (!err)
		*out = (int)v;
	return err;
}

/* Refuses what is not ours to open or to change (see the top comment). */
static int hs_check(struct hstore *h)
{
	int64_t version, app, tables;
	sqlite3_stmt *st;
	const char *res;
	int rc, err;

	err = hs_int(h, "PRAGMA user_version", &version);
	if (!err)
		err = hs_int(h, "PRAGMA application_id", &app);
	if (!err)
		err = hs_int(h, "SELECT count(*) FROM sqlite_master", &tables);
	if (err)
		return err;
	if ((app && app != HSTORE_APP_ID) || (!app && tables)) {
		log_err("hstore: %s is another program's database; it was "
			"left as it is", h->path);
		return -EBADMSG;
	}
	if (version > HSTORE_SCHEMA_VERSION) {
		log_err("hstore: %s has schema version %lld, newer than this "
			"program's (%d); use a newer dataline", h->path,
			(long long)version, HSTORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	rc = sqlite3_prepare_v2(h->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return hs_err(h, rc, "quick_check");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = hs_err(h, rc, "quick_check");
	} else {
		res = (const char *)sqlite3_column_text(st, 0);
		if (!res || strcmp(res, "ok") != 0) {
			log_err("hstore: %s is damaged (%s); it was left as "
				"it is", h->path, res ? res : "?");
			err = -EBADMSG;
		}
	}
	sqlite3_finalize(st);
	return err;
}

static int hs_migrate(struct hstore *h)
{
	char sql[64];
	int v, err;

	err = hs_exec(h, "BEGIN IMMEDIATE");
	if (err)
		return err;
	/* again inside the lock: another process may have migrated */
	err = hstore_schema_version(h, &v);
	if (!err && v > HSTORE_SCHEMA_VERSION)
		err = -EPROTO;
	for (int i = v; !err && i < HSTORE_SCHEMA_VERSION; i++) {
		log_info("hstore: %s: schema %d -> %d", h->path, i, i + 1);
		err = hs_exec(h, migrations[i]);
	}
	if (!err && v < HSTORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d;"
			 "PRAGMA user_version = %d", HSTORE_APP_ID,
			 HSTORE_SCHEMA_VERSION);
		err = hs_exec(h, sql);
	}
	if (!err)
		return hs_exec(h, "COMMIT");
	hs_exec(h, "ROLLBACK");
	return err;
}

void hstore_close(struct hstore *h)
{
	if (!h)
		return;
	for (int i = 0; i < HS__N; i++)
		sqlite3_finalize(h->stmt[i]);
	sqlite3_close_v2(h->db);
	free(h->path);
	free(h);
}

/*
 * Creates a missing file with mode 0600 ourselves, so that it is never
 * readable by others, not even between its creation and a chmod. Closing
 * this descriptor is safe: no connection of ours can have the file open
 * yet (it did not exist), so no POSIX lock of SQLite's is dropped.
 */
static int hs_create(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	log_err("hstore: create %s: %s", path, strerror(errno));
	return -errno;
}

int hstore_open(const char *path, struct hstore **out)
{
	struct hstore *h;
	int64_t wal;
	int rc, err;

	if (!path || !*path || !out)
		return -EINVAL;
	err = hs_create(path);
	if (err)
		return err;
	h = calloc(1, sizeof(*h));
	if (!h || !(h->path = strdup(path))) {
		free(h);
		return -ENOMEM;
	}
	rc = sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = h->db ? hs_err(h, rc, "open") : -ENOMEM;
		goto fail;
	}
	sqlite3_extended_result_codes(h->db, 1);
	sqlite3_busy_timeout(h->db, 5000);
	err = hs_check(h);
	if (!err)
		err = hs_exec(h, "PRAGMA journal_mode = WAL");
	/* "wal" is what it answers; anything else leaves us on a rollback
	 * journal, which FULL makes as durable, so that is only noted */
	if (!err && hs_int(h, "SELECT journal_mode = 'wal' FROM "
		       "pragma_journal_mode", &wal) == 0 && !wal)
		log_warn("hstore: %s: not in WAL mode", path);
	if (!err)
		err = hs_exec(h, "PRAGMA synchronous = FULL");
	if (!err)
		err = hs_migrate(h);
	if (err)
		goto fail;
	*out = h;
	return 0;
fail:
	hstore_close(h);
	return err;
}
