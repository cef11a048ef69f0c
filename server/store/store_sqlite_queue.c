/*
 * store_sqlite_queue: the durable SMS queue (sms_queue table).
 * SQLite backend of the store; see store_sqlite.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

/* ---------------------------------------------------------- SMS queue */

int store_sqlite_sms_add(struct store *st, const char *to, const char *text,
		      int64_t now, int64_t *id_out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_SMS_ADD);
	int err;

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, to);
	sq_text(stmt, 2, text);
	sqlite3_bind_int64(stmt, 3, now);
	err = sq_exec_stmt(s, stmt, "sms add", NULL);
	if (!err && id_out)
		*id_out = sqlite3_last_insert_rowid(s->db);
	return err;
}

int store_sqlite_sms_due(struct store *st, int64_t now, int limit,
		      int (*cb)(const struct store_sms *, void *), void *arg)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_SMS_DUE);
	int rc, err = 0;

	if (!stmt)
		return -EIO;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int(stmt, 2, limit);
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
		err = sq_err(s, rc, "sms due");
	sq_done(stmt);
	return err;
}

int store_sqlite_sms_done(struct store *st, int64_t id)
{
	uint64_t n = 0;
	int err = sq_by_int(st, SQ_SMS_DONE, id, "sms done", &n);

	return err ? err : n ? 0 : -ENOENT;
}

int store_sqlite_sms_retry(struct store *st, int64_t id, int64_t next_try,
			const char *error)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_SMS_RETRY);
	uint64_t n = 0;
	int err;

	if (!stmt)
		return -EIO;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, next_try);
	sq_text(stmt, 3, error);
	err = sq_exec_stmt(s, stmt, "sms retry", &n);
	return err ? err : n ? 0 : -ENOENT;
}

int store_sqlite_sms_count(struct store *st, uint64_t *out)
{
	return sq_count(st, SQ_SMS_COUNT, 0, NULL, out);
}

int store_sqlite_sms_next_due(struct store *st, int64_t *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_SMS_NEXT_DUE);

	return stmt ? sq_int_stmt(s, stmt, "sms next due", out) : -EIO;
}
