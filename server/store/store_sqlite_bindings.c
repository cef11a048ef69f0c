/*
 * store_sqlite_bindings: SIP registration bindings (RFC 3261 s.10.3).
 * SQLite backend of the store; see store_sqlite.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

/* ---------------------------------------------------------- bindings */

int store_sqlite_binding_upsert(struct store *st, const struct store_binding *b)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_BINDING_UPSERT);

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, b->number);
	sq_text(stmt, 2, b->username);
	sq_text(stmt, 3, b->contact);
	sq_text(stmt, 4, b->call_id);
	sqlite3_bind_int64(stmt, 5, b->cseq);
	sqlite3_bind_int64(stmt, 6, b->expires_at);
	sqlite3_bind_int(stmt, 7, b->q);
	sq_text(stmt, 8, b->transport);
	sq_text(stmt, 9, b->received);
	sq_text(stmt, 10, b->path);
	sq_text(stmt, 11, b->instance);
	sqlite3_bind_int64(stmt, 12, b->reg_id);
	return sq_exec_stmt(s, stmt, "binding upsert", NULL);
}

/* Steps a SELECT of BINDING_COLS, calling cb per row. *rows may be NULL. */
static int sq_binding_walk(struct store_sqlite *s, sqlite3_stmt *stmt,
			   store_binding_cb cb, void *arg, uint64_t *rows)
{
	uint64_t n = 0;
	int rc, err = 0;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_binding b = {
			.number = sq_col_text(stmt, 0),
			.username = sq_col_text(stmt, 1),
			.contact = sq_col_text(stmt, 2),
			.call_id = sq_col_text(stmt, 3),
			.cseq = (uint32_t)sqlite3_column_int64(stmt, 4),
			.expires_at = sqlite3_column_int64(stmt, 5),
			.q = sqlite3_column_int(stmt, 6),
			.transport = sq_col_text(stmt, 7),
			.received = sq_col_text(stmt, 8),
			.path = sq_col_text(stmt, 9),
			.instance = sq_col_text(stmt, 10),
			.reg_id = (uint32_t)sqlite3_column_int64(stmt, 11),
		};
		n++;
		err = cb(&b, arg);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = sq_err(s, rc, "binding walk");
	sq_done(stmt);
	if (!err && rows)
		*rows = n;
	return err;
}

int store_sqlite_binding_get(struct store *st, const char *number,
			  const char *contact, store_binding_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_BINDING_GET);
	uint64_t n = 0;
	int err;

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, number);
	sq_text(stmt, 2, contact);
	err = sq_binding_walk(s, stmt, cb, arg, &n);
	return err ? err : n ? 0 : -ENOENT;
}

int store_sqlite_binding_delete(struct store *st, const char *number,
			     const char *contact)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_BINDING_DELETE);
	uint64_t n = 0;
	int err;

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, number);
	sq_text(stmt, 2, contact);
	err = sq_exec_stmt(s, stmt, "binding delete", &n);
	return err ? err : n ? 0 : -ENOENT;
}

int store_sqlite_binding_delete_all(struct store *st, const char *number,
				 const char *username, uint64_t *removed)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, username ? SQ_BINDING_DELETE_DEVICE
						 : SQ_BINDING_DELETE_ALL);
	uint64_t n = 0;
	int err;

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, number);
	if (username)
		sq_text(stmt, 2, username);
	err = sq_exec_stmt(s, stmt, "binding delete all", &n);
	if (!err && removed)
		*removed = n;
	return err;
}

int store_sqlite_binding_list(struct store *st, const char *number, int64_t now,
			   store_binding_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_BINDING_LIST);

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, number);
	sqlite3_bind_int64(stmt, 2, now);
	return sq_binding_walk(s, stmt, cb, arg, NULL);
}

int store_sqlite_binding_count_device(struct store *st, const char *username,
				   int64_t now, uint64_t *out)
{
	return sq_count(st, SQ_BINDING_COUNT_DEVICE, now, username, out);
}

int store_sqlite_binding_load_all(struct store *st, int64_t now,
			       store_binding_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_BINDING_LOAD_ALL);

	if (!stmt)
		return -EIO;
	sqlite3_bind_int64(stmt, 1, now);
	return sq_binding_walk(s, stmt, cb, arg, NULL);
}

int store_sqlite_binding_expire(struct store *st, int64_t now, uint64_t *removed)
{
	uint64_t n = 0;
	int err = sq_by_int(st, SQ_BINDING_EXPIRE, now, "binding expire", &n);

	if (!err && removed)
		*removed = n;
	return err;
}

int store_sqlite_binding_count(struct store *st, int64_t now, uint64_t *out)
{
	return sq_count(st, SQ_BINDING_COUNT, now, NULL, out);
}
