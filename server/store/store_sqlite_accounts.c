/*
 * store_sqlite_accounts: devices with their HA1 values, one-time codes and
 * the send log behind the resend limits.
 * SQLite backend of the store; see store_sqlite.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

/* ---------------------------------------------------------- devices */

int store_sqlite_device_add(struct store *st, const struct store_device *d)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *a = sq_stmt(s, SQ_DEVICE_ADD_ACCOUNT);
	sqlite3_stmt *b = sq_stmt(s, SQ_DEVICE_ADD);
	int err;

	if (!a || !b)
		return -EIO;
	/* the account row and the device row go in together or not at all */
	err = sq_exec(s, "SAVEPOINT device_add");
	if (err)
		return err;
	sq_text(a, 1, d->number);
	sqlite3_bind_int64(a, 2, d->created);
	err = sq_exec_stmt(s, a, "account add", NULL);
	if (!err) {
		sq_text(b, 1, d->username);
		sq_text(b, 2, d->number);
		sq_text(b, 3, d->ha1_md5);
		sq_text(b, 4, d->ha1_sha256);
		sqlite3_bind_int64(b, 5, d->created);
		err = sq_exec_stmt(s, b, "device add", NULL);
	}
	if (err)
		sq_exec(s, "ROLLBACK TO device_add");
	sq_exec(s, "RELEASE device_add");
	return err;
}

int store_sqlite_device_get(struct store *st, const char *username,
			 struct store_device *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_DEVICE_GET);
	int rc, err = -ENOENT;

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, username);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		sq_copy(out->username, sizeof(out->username), sq_col_text(stmt, 0));
		sq_copy(out->number, sizeof(out->number), sq_col_text(stmt, 1));
		sq_copy(out->ha1_md5, sizeof(out->ha1_md5), sq_col_text(stmt, 2));
		sq_copy(out->ha1_sha256, sizeof(out->ha1_sha256), sq_col_text(stmt, 3));
		out->created = sqlite3_column_int64(stmt, 4);
		err = 0;
	} else if (rc != SQLITE_DONE) {
		err = sq_err(s, rc, "device get");
	}
	sq_done(stmt);
	return err;
}

int store_sqlite_device_delete(struct store *st, const char *username)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *a = sq_stmt(s, SQ_DEVICE_DELETE_BINDINGS);
	sqlite3_stmt *b = sq_stmt(s, SQ_DEVICE_DELETE);
	uint64_t n = 0;
	int err;

	if (!a || !b)
		return -EIO;
	err = sq_exec(s, "SAVEPOINT device_delete");
	if (err)
		return err;
	sq_text(a, 1, username);
	err = sq_exec_stmt(s, a, "device delete bindings", NULL);
	if (!err) {
		sq_text(b, 1, username);
		err = sq_exec_stmt(s, b, "device delete", &n);
		if (!err && n == 0)
			err = -ENOENT;
	}
	if (err)
		sq_exec(s, "ROLLBACK TO device_delete");
	sq_exec(s, "RELEASE device_delete");
	return err;
}

int store_sqlite_count_accounts(struct store *st, uint64_t *out)
{
	return sq_count(st, SQ_COUNT_ACCOUNTS, 0, NULL, out);
}

int store_sqlite_count_devices(struct store *st, uint64_t *out)
{
	return sq_count(st, SQ_COUNT_DEVICES, 0, NULL, out);
}

int store_sqlite_count_number_devices(struct store *st, const char *number,
				      uint64_t *out)
{
	return sq_count(st, SQ_COUNT_NUMBER_DEVICES, 0, number, out);
}

int store_sqlite_devices_walk(struct store *st,
			      int (*cb)(const char *number,
					const char *username, void *arg),
			      void *arg)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt;
	int rc, err = 0;

	/* not cached: read once per start */
	rc = sqlite3_prepare_v2(s->db, "SELECT number, username FROM devices",
				-1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "devices");
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		err = cb(sq_col_text(stmt, 0), sq_col_text(stmt, 1), arg);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = sq_err(s, rc, "numbers");
	sqlite3_finalize(stmt);
	return err;
}

/* ---------------------------------------------------------- codes */

int store_sqlite_code_put(struct store *st, const struct store_code *c)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_CODE_PUT);

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, c->session);
	sq_text(stmt, 2, c->number);
	sqlite3_bind_blob(stmt, 3, c->hash, sizeof(c->hash), SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 4, c->salt, sizeof(c->salt), SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, c->created);
	sqlite3_bind_int64(stmt, 6, c->expires_at);
	sqlite3_bind_int(stmt, 7, c->tries);
	return sq_exec_stmt(s, stmt, "code put", NULL);
}

int store_sqlite_code_get(struct store *st, const char *session,
		       struct store_code *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_CODE_GET);
	int rc, err = -ENOENT;

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, session);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(stmt, 1) != STORE_CODE_HASH_LEN ||
		    sqlite3_column_bytes(stmt, 2) != STORE_CODE_SALT_LEN) {
			log_err("store: corrupt code row for session %s", session);
			err = -EIO;
		} else {
			sq_copy(out->number, sizeof(out->number), sq_col_text(stmt, 0));
			memcpy(out->hash, sqlite3_column_blob(stmt, 1), STORE_CODE_HASH_LEN);
			memcpy(out->salt, sqlite3_column_blob(stmt, 2), STORE_CODE_SALT_LEN);
			out->created = sqlite3_column_int64(stmt, 3);
			out->expires_at = sqlite3_column_int64(stmt, 4);
			out->tries = sqlite3_column_int(stmt, 5);
			sq_copy(out->session, sizeof(out->session), sq_col_text(stmt, 6));
			err = 0;
		}
	} else if (rc != SQLITE_DONE) {
		err = sq_err(s, rc, "code get");
	}
	sq_done(stmt);
	return err;
}

int store_sqlite_code_add_try(struct store *st, const char *session, int *tries)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_CODE_ADD_TRY);
	int64_t v = 0;
	int err;

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, session);
	err = sq_int_stmt(s, stmt, "code try", &v);
	if (!err)
		*tries = (int)v;
	return err;
}

int store_sqlite_code_delete(struct store *st, const char *session)
{
	return sq_by_text(st, SQ_CODE_DELETE, session, "code delete", NULL);
}

int store_sqlite_send_log_add(struct store *st, const char *number,
			   const char *client, int64_t now)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_SEND_LOG_ADD);

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, number);
	sq_text(stmt, 2, client);
	sqlite3_bind_int64(stmt, 3, now);
	return sq_exec_stmt(s, stmt, "send log add", NULL);
}

int store_sqlite_send_log_count(struct store *st, const char *number,
			     const char *client, int64_t since, uint64_t *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_SEND_LOG_COUNT);
	int64_t v = 0;
	int err;

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, number);
	sq_text(stmt, 2, client);
	sqlite3_bind_int64(stmt, 3, since);
	err = sq_int_stmt(s, stmt, "send log count", &v);
	if (!err)
		*out = (uint64_t)v;
	return err;
}

int store_sqlite_send_log_nth(struct store *st, const char *number,
		const char *client, int64_t since, uint64_t n, int64_t *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_SEND_LOG_NTH);

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, number);
	sq_text(stmt, 2, client);
	sqlite3_bind_int64(stmt, 3, since);
	sqlite3_bind_int64(stmt, 4, (int64_t)n);
	return sq_int_stmt(s, stmt, "send log nth", out);
}

int store_sqlite_send_log_last(struct store *st, const char *number,
			       const char *client, int64_t *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, SQ_SEND_LOG_LAST);

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, number);
	sq_text(stmt, 2, client);
	return sq_int_stmt(s, stmt, "send log last", out);
}

int store_sqlite_codes_gc(struct store *st, int64_t now, int64_t log_before)
{
	int err = sq_by_int(st, SQ_CODES_GC, now, "codes gc", NULL);

	return err ? err : sq_by_int(st, SQ_SEND_LOG_GC, log_before,
				     "send log gc", NULL);
}
