/*
 * store_sqlite: what the SQLite backend's files share (private to
 * server/store/): the connection struct, the prepared-statement ids and
 * their SQL, small statement helpers, and the operations each file
 * implements for the table in store_sqlite.c. See store_sqlite.c for the
 * connection, durability and migration rules.
 */
#ifndef DATALINE_SERVER_STORE_SQLITE_H
#define DATALINE_SERVER_STORE_SQLITE_H

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dataline/log.h"
#include "dataline/sqlerr.h"
#include "store_impl.h"

enum sq_stmt {
	SQ_DEVICE_ADD_ACCOUNT,
	SQ_DEVICE_ADD,
	SQ_DEVICE_GET,
	SQ_DEVICE_DELETE,
	SQ_DEVICE_DELETE_BINDINGS,
	SQ_COUNT_ACCOUNTS,
	SQ_COUNT_DEVICES,
	SQ_COUNT_NUMBER_DEVICES,
	SQ_CODE_PUT,
	SQ_CODE_GET,
	SQ_CODE_ADD_TRY,
	SQ_CODE_DELETE,
	SQ_SEND_LOG_ADD,
	SQ_SEND_LOG_COUNT,
	SQ_SEND_LOG_LAST,
	SQ_SEND_LOG_NTH,
	SQ_CODES_GC,
	SQ_SEND_LOG_GC,
	SQ_BINDING_UPSERT,
	SQ_BINDING_GET,
	SQ_BINDING_DELETE,
	SQ_BINDING_DELETE_ALL,
	SQ_BINDING_DELETE_DEVICE,
	SQ_BINDING_LIST,
	SQ_BINDING_COUNT_DEVICE,
	SQ_BINDING_LOAD_ALL,
	SQ_BINDING_EXPIRE,
	SQ_BINDING_COUNT,
	SQ_BEGIN,
	SQ_BEGIN_READ,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ__N
};

#define BINDING_COLS \
	"number, username, contact, call_id, cseq, expires_at, q, transport, " \
	"received, path, instance, reg_id"

/* SQL of each statement, in store_sqlite.c */
extern const char *const store_sqlite_sql[SQ__N];

struct store_sqlite {
	struct store base;          /* first: (struct store *) casts */
	sqlite3 *db;                /* owned */
	sqlite3_stmt *stmt[SQ__N];  /* owned, prepared on first use */
	int borrowed;               /* db is the caller's: close leaves it */
	void (*on_commit)(void *arg);
	void *on_commit_arg;
};

static inline struct store_sqlite *sq(struct store *st)
{
	return (struct store_sqlite *)st;
}

/* Maps an SQLite result code to -errno, logging unexpected failures. */
static inline int sq_err(struct store_sqlite *s, int rc, const char *what)
{
	int err = sqlerr_errno(rc);

	switch (err) {
	case 0:
	case -EEXIST:
	case -ENOMEM:
		break;
	case -EBUSY:
		log_warn("store: %s: database busy", what);
		break;
	case -ENOSPC:
		log_err("store: %s: disk full", what);
		break;
	default:
		log_err("store: %s: %s", what, sqlite3_errmsg(s->db));
		break;
	}
	return err;
}

/* Returns the cached statement, reset and with its bindings cleared. */
static inline sqlite3_stmt *sq_stmt(struct store_sqlite *s, enum sq_stmt id)
{
	if (!s->stmt[id]) {
		int rc = sqlite3_prepare_v3(s->db, store_sqlite_sql[id], -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &s->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			log_err("store: prepare %d: %s", id, sqlite3_errmsg(s->db));
			return NULL;
		}
	}
	return s->stmt[id];
}

static inline void sq_done(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

static inline void sq_text(sqlite3_stmt *stmt, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

static inline const char *sq_col_text(sqlite3_stmt *stmt, int i)
{
	const unsigned char *t = sqlite3_column_text(stmt, i);

	return t ? (const char *)t : "";
}

/* Runs a statement that returns no rows; *changes gets sqlite3_changes. */
static inline int sq_exec_stmt(struct store_sqlite *s, sqlite3_stmt *stmt,
			const char *what, uint64_t *changes)
{
	int rc = sqlite3_step(stmt);
	int err = rc == SQLITE_DONE ? 0 : sq_err(s, rc, what);

	if (!err && changes)
		*changes = (uint64_t)sqlite3_changes(s->db);
	sq_done(stmt);
	return err;
}

/* Runs a statement returning one integer (count(*) etc.). NULL -> -ENOENT. */
static inline int sq_int_stmt(struct store_sqlite *s, sqlite3_stmt *stmt,
		       const char *what, int64_t *out)
{
	int rc = sqlite3_step(stmt);
	int err;

	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
			err = -ENOENT;
		} else {
			*out = sqlite3_column_int64(stmt, 0);
			err = 0;
		}
	} else {
		err = rc == SQLITE_DONE ? -ENOENT : sq_err(s, rc, what);
	}
	sq_done(stmt);
	return err;
}

static inline int sq_exec(struct store_sqlite *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_err("store: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return sq_err(s, rc, "exec");
	}
	return 0;
}

static inline void sq_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static inline int sq_count(struct store *st, enum sq_stmt id, int64_t arg,
		    const char *text_arg, uint64_t *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, id);
	int64_t v = 0;
	int err;

	if (!stmt)
		return -EIO;
	if (text_arg) {
		sq_text(stmt, 1, text_arg);
		sqlite3_bind_int64(stmt, 2, arg);
	} else if (sqlite3_bind_parameter_count(stmt) > 0) {
		sqlite3_bind_int64(stmt, 1, arg);
	}
	err = sq_int_stmt(s, stmt, "count", &v);
	if (!err)
		*out = (uint64_t)v;
	return err;
}

static inline int sq_by_text(struct store *st, enum sq_stmt id, const char *v,
		      const char *what, uint64_t *changes)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, id);

	if (!stmt)
		return -EIO;
	sq_text(stmt, 1, v);
	return sq_exec_stmt(s, stmt, what, changes);
}

static inline int sq_by_int(struct store *st, enum sq_stmt id, int64_t v,
		     const char *what, uint64_t *changes)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *stmt = sq_stmt(s, id);

	if (!stmt)
		return -EIO;
	sqlite3_bind_int64(stmt, 1, v);
	return sq_exec_stmt(s, stmt, what, changes);
}

/* operations (store_sqlite.c: lifecycle; _accounts.c: devices, codes, send
 * log; _queue.c: the legacy SMS table; _bindings.c: registrations) */
void store_sqlite_close(struct store *st);
int store_sqlite_schema_version(struct store *st, int *out);
int store_sqlite_begin(struct store *st);
int store_sqlite_read_begin(struct store *st);
int store_sqlite_commit(struct store *st);
int store_sqlite_rollback(struct store *st);
int store_sqlite_autocheckpoint(struct store *st, int pages);
int store_sqlite_on_commit(struct store *st, void (*fn)(void *arg), void *arg);
int store_sqlite_device_add(struct store *st, const struct store_device *d);
int store_sqlite_device_get(struct store *st, const char *username,
		struct store_device *out);
int store_sqlite_device_delete(struct store *st, const char *username);
int store_sqlite_count_accounts(struct store *st, uint64_t *out);
int store_sqlite_count_devices(struct store *st, uint64_t *out);
int store_sqlite_devices_walk(struct store *st,
			      int (*cb)(const char *number,
					const char *username, void *arg),
			      void *arg);
int store_sqlite_count_number_devices(struct store *st, const char *number,
		uint64_t *out);
int store_sqlite_code_put(struct store *st, const struct store_code *c);
int store_sqlite_code_get(struct store *st, const char *session,
		struct store_code *out);
int store_sqlite_code_add_try(struct store *st, const char *session, int *tries);
int store_sqlite_code_delete(struct store *st, const char *session);
int store_sqlite_send_log_add(struct store *st, const char *number,
		const char *client, int64_t now);
int store_sqlite_send_log_count(struct store *st, const char *number,
		const char *client, int64_t since, uint64_t *out);
int store_sqlite_send_log_nth(struct store *st, const char *number,
		const char *client, int64_t since, uint64_t n, int64_t *out);
int store_sqlite_send_log_last(struct store *st, const char *number,
		const char *client, int64_t *out);
int store_sqlite_codes_gc(struct store *st, int64_t now, int64_t log_before);
int store_sqlite_sms_legacy_walk(struct store *st,
		int (*cb)(const struct store_sms *, void *), void *arg);
int store_sqlite_sms_legacy_drop(struct store *st);
int store_sqlite_binding_upsert(struct store *st,
		const struct store_binding *b);
int store_sqlite_binding_get(struct store *st, const char *number,
		const char *contact, store_binding_cb cb, void *arg);
int store_sqlite_binding_delete(struct store *st, const char *number,
		const char *contact);
int store_sqlite_binding_delete_all(struct store *st, const char *number,
		const char *username, uint64_t *removed);
int store_sqlite_binding_list(struct store *st, const char *number, int64_t now,
		store_binding_cb cb, void *arg);
int store_sqlite_binding_count_device(struct store *st, const char *username,
		int64_t now, uint64_t *out);
int store_sqlite_binding_load_all(struct store *st, int64_t now,
		store_binding_cb cb, void *arg);
int store_sqlite_binding_expire(struct store *st, int64_t now,
		uint64_t *removed);
int store_sqlite_binding_count(struct store *st, int64_t now, uint64_t *out);

#endif
