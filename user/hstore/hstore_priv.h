/*
 * hstore_priv: what the hstore files share (private to user/hstore/): the
 * connection, the prepared-statement ids (their SQL is in hstore_sql.c),
 * the error mapping, transactions and the row-list helpers.
 */
#ifndef DATALINE_USER_HSTORE_PRIV_H
#define DATALINE_USER_HSTORE_PRIV_H

#include <sqlite3.h>
#include <stdint.h>

#include "dataline/hstore.h"

enum hs_stmt {
	HS_OUT_ADD,
	HS_OUT_GET,
	HS_OUT_STATE,
	HS_OUT_BY_MSGID,
	HS_OUT_SET,
	HS_OUT_PENDING,
	HS_OUT_LIST_ASC,
	HS_OUT_LIST_DESC,
	HS_IN_ADD,
	HS_IN_FIND,
	HS_IN_READ,
	HS_IN_LIST_ASC,
	HS_IN_LIST_DESC,
	HS_CT_PUT,
	HS_CT_MARK,
	HS_CT_DELETE,
	HS_CT_LIST,
	HS_NT_ADD,
	HS_NT_DUE,
	HS_NT_NEXT,
	HS_NT_DELETE,
	HS_NT_RETRY,
	HS_NT_COUNT,
	HS_BEGIN,
	HS_COMMIT,
	HS_ROLLBACK,
	HS__N
};

#define HS_OUT_COLS \
	"id, peer, message_id, content_type, body, created, updated, state, " \
	"attempts, last_status, next_at"
#define HS_IN_COLS \
	"id, peer, message_id, content_type, body, received, read"
#define HS_NT_COLS \
	"id, peer, text_id, notice_id, datetime, attempts, next_at"
#define HS_CT_COLS "id, number, name, source, registered, synced, updated"

struct hstore {
	sqlite3 *db;			/* owned */
	sqlite3_stmt *stmt[HS__N];	/* owned, prepared on first use */
	char *path;			/* owned, for messages */
};

/* Maps an SQLite result code to 0 or -errno, logging what is unexpected. */
int hs_err(struct hstore *h, int rc, const char *what);
/* The statement ID, reset and with no bindings; NULL (logged) on error. */
sqlite3_stmt *hs_stmt(struct hstore *h, enum hs_stmt id);
/* Steps a statement that returns no row; resets it. */
int hs_exec_stmt(struct hstore *h, sqlite3_stmt *st, const char *what);
int hs_begin(struct hstore *h);
int hs_commit(struct hstore *h);
void hs_rollback(struct hstore *h);

/* Binds text, NULL as NULL. */
void hs_text(sqlite3_stmt *st, int i, const char *s);
/* Copies column I (text) into DST of CAP bytes, truncating. */
void hs_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap);
/* Columns 0-4 (id, peer, message_id, content_type, body) into M, the
 * body malloc'd with a NUL after it. 0 or -ENOMEM. */
int hs_col_msg(sqlite3_stmt *st, struct hstore_msg *m);
/* Frees what hs_col_msg took; ITEM begins with a struct hstore_msg. */
void hs_free_msg(void *item);
/* Steps ST for one row and takes its column 0; -ENOENT: no row. */
int hs_one_int(struct hstore *h, sqlite3_stmt *st, const char *what,
	       int64_t *out);

/*
 * Steps ST (bound by the caller) and collects its rows into a malloc'd
 * array of ELEM-byte items filled by ROW (0 or -errno; on error ROW frees
 * what it took). FREE_ONE releases an item's allocations on failure.
 */
int hs_rows(struct hstore *h, sqlite3_stmt *st, size_t elem,
	    int (*row)(sqlite3_stmt *st, void *item),
	    void (*free_one)(void *item), void **out, size_t *n);
/* hs_rows() of list statement ID, with its LIMIT ?1 (0: none) OFFSET ?2. */
int hs_list(struct hstore *h, enum hs_stmt id, size_t limit, size_t offset,
	    size_t elem, int (*row)(sqlite3_stmt *st, void *item),
	    void (*free_one)(void *item), void **out, size_t *n);

/* Checks the fields shared by outbox and inbox texts. */
int hs_text_check(const struct hstore_text *t, int need_id);

#endif
