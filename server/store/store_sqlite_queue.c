/*
 * store_sqlite_queue: what is left of the store's SMS queue: the table
 * migration 2 -> 3 renamed to sms_legacy, read once at start-up to move
 * its rows into the durable queue (server/queue/), then dropped.
 * SQLite backend of the store; see store_sqlite.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

int store_sqlite_sms_legacy_walk(struct store *st,
		int (*cb)(const struct store_sms *, void *), void *arg)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt;
	int rc, err = 0;

	/* not cached: read once per start, and the table may not exist */
	rc = sqlite3_prepare_v2(s->db,
		"SELECT id, to_number, text, created, next_try, attempts, last_error"
		" FROM sms_legacy ORDER BY id", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return 0; /* no such table: already moved and dropped */
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_sms m = {
			.id = sqlite3_column_int64(stmt, 0),
			.to = sq_col_text(stmt, 1),
			.text = sq_col_text(stmt, 2),
			.created = sqlite3_column_int64(stmt, 3),
			.next_try = sqlite3_column_int64(stmt, 4),
			.attempts = sqlite3_column_int(stmt, 5),
			.last_error = sq_col_text(stmt, 6),
		};
		err = cb(&m, arg);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = sq_err(s, rc, "sms legacy");
	sqlite3_finalize(stmt);
	return err;
}

int store_sqlite_sms_legacy_drop(struct store *st)
{
	return sq_exec(sq(st), "DROP TABLE IF EXISTS sms_legacy");
}
