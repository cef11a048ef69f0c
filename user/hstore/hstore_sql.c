/*
 * hstore_sql: the SQL of every statement of the handset's store, and the
 * helpers the table files share: the statement cache (prepared once,
 * reset on every use), SQLite errors as -errno with a log line naming
 * the file, transactions, column copies and the row lists.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/log.h"
#include "dataline/sqlerr.h"
#include "hstore_priv.h"

static const char *const hs_sql[HS__N] = {
	[HS_OUT_ADD] =
		"INSERT INTO outbox(peer, message_id, content_type, body,"
		" created, updated, state, attempts, last_status, next_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, 0, '', ?5)",
	[HS_OUT_GET] = "SELECT " HS_OUT_COLS " FROM outbox WHERE id = ?1",
	[HS_OUT_STATE] = "SELECT state FROM outbox WHERE id = ?1",
	[HS_OUT_BY_MSGID] = "SELECT id FROM outbox WHERE message_id = ?1",
	[HS_OUT_SET] =
		"UPDATE outbox SET state = ?2, attempts = attempts + ?3,"
		" last_status = coalesce(?4, last_status),"
		" next_at = coalesce(?5, next_at), updated = ?6 WHERE id = ?1",
	[HS_OUT_PENDING] =
		"SELECT " HS_OUT_COLS " FROM outbox"
		" WHERE state < 2 AND next_at <= ?1 ORDER BY id",
	[HS_OUT_LIST_ASC] =
		"SELECT " HS_OUT_COLS " FROM outbox ORDER BY id"
		" LIMIT ?1 OFFSET ?2",
	[HS_OUT_LIST_DESC] =
		"SELECT " HS_OUT_COLS " FROM outbox ORDER BY id DESC"
		" LIMIT ?1 OFFSET ?2",
	[HS_IN_ADD] =
		"INSERT INTO inbox(peer, message_id, content_type, body,"
		" received, read) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
	[HS_IN_FIND] =
		"SELECT id FROM inbox WHERE peer = ?1 AND message_id = ?2",
	[HS_IN_READ] = "UPDATE inbox SET read = ?2 WHERE id = ?1",
	[HS_IN_LIST_ASC] =
		"SELECT " HS_IN_COLS " FROM inbox ORDER BY id"
		" LIMIT ?1 OFFSET ?2",
	[HS_IN_LIST_DESC] =
		"SELECT " HS_IN_COLS " FROM inbox ORDER BY id DESC"
		" LIMIT ?1 OFFSET ?2",
	[HS_CT_PUT] =
		"INSERT INTO contacts(number, name, source, updated)"
		" VALUES (?1, ?2, ?3, ?4) ON CONFLICT(number) DO UPDATE SET"
		" name = excluded.name, source = excluded.source,"
		" updated = excluded.updated",
	[HS_CT_MARK] =
		"UPDATE contacts SET registered = ?2, synced = ?3"
		" WHERE number = ?1",
	[HS_CT_DELETE] = "DELETE FROM contacts WHERE number = ?1",
	[HS_CT_LIST] =
		"SELECT " HS_CT_COLS " FROM contacts"
		" ORDER BY name COLLATE NOCASE, number LIMIT ?1 OFFSET ?2",
	[HS_NT_ADD] =
		"INSERT OR IGNORE INTO notices(peer, text_id, notice_id,"
		" datetime, attempts, next_at) VALUES (?1, ?2, ?3, ?4, 0, ?5)",
	[HS_NT_DUE] =
		"SELECT " HS_NT_COLS " FROM notices WHERE next_at <= ?1"
		" ORDER BY next_at, id LIMIT ?2",
	[HS_NT_NEXT] = "SELECT min(next_at) FROM notices HAVING count(*) > 0",
	[HS_NT_DELETE] = "DELETE FROM notices WHERE id = ?1",
	[HS_NT_RETRY] =
		"UPDATE notices SET attempts = attempts + 1, next_at = ?2"
		" WHERE id = ?1",
	[HS_NT_COUNT] = "SELECT count(*) FROM notices",
	[HS_BEGIN] = "BEGIN IMMEDIATE",
	[HS_COMMIT] = "COMMIT",
	[HS_ROLLBACK] = "ROLLBACK",
};

/* ----------------------------------------------------------- helpers */

int hs_err(struct hstore *h, int rc, const char *what)
{
	int err = sqlerr_errno(rc), oserr;

	if ((rc & 0xff) == SQLITE_CANTOPEN &&
	    (oserr = sqlite3_system_errno(h->db)))
		err = -oserr;
	switch (err) {
	case 0:
	case -EEXIST:	/* a constraint: the caller's answer, not a fault */
	case -ENOMEM:
		break;
	case -EBADMSG:
		log_err("hstore: %s is not an SQLite database or is damaged "
			"(%s); it was left as it is", h->path,
			sqlite3_errmsg(h->db));
		break;
	default:
		log_err("hstore: %s: %s: %s", h->path, what,
			sqlite3_errmsg(h->db));
	}
	return err;
}

sqlite3_stmt *hs_stmt(struct hstore *h, enum hs_stmt id)
{
	if (!h->stmt[id]) {
		int rc = sqlite3_prepare_v3(h->db, hs_sql[id], -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &h->stmt[id], NULL);

		if (rc != SQLITE_OK) {
			hs_err(h, rc, "prepare");
			h->stmt[id] = NULL;
			return NULL;
		}
	}
	sqlite3_reset(h->stmt[id]);
	sqlite3_clear_bindings(h->stmt[id]);
	return h->stmt[id];
}

int hs_exec_stmt(struct hstore *h, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int err = rc == SQLITE_DONE ? 0 : hs_err(h, rc, what);

	sqlite3_reset(st);
	return err;
}

static int hs_txn(struct hstore *h, enum hs_stmt id, const char *what)
{
	sqlite3_stmt *st = hs_stmt(h, id);

	return st ? hs_exec_stmt(h, st, what) : -EIO;
}

int hs_begin(struct hstore *h)
{
	return hs_txn(h, HS_BEGIN, "begin");
}

int hs_commit(struct hstore *h)
{
	return hs_txn(h, HS_COMMIT, "commit");
}

void hs_rollback(struct hstore *h)
{
	if (!sqlite3_get_autocommit(h->db))
		hs_txn(h, HS_ROLLBACK, "rollback");
}

void hs_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void hs_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	snprintf(dst, cap, "%s", s ? s : "");
}

int hs_col_msg(sqlite3_stmt *st, struct hstore_msg *m)
{
	const void *p = sqlite3_column_blob(st, 4);
	size_t n = (size_t)sqlite3_column_bytes(st, 4);

	m->body = malloc(n + 1);
	if (!m->body)
		return -ENOMEM;
	if (n)
		memcpy(m->body, p, n);
	m->body[n] = '\0';
	m->body_len = n;
	m->id = sqlite3_column_int64(st, 0);
	hs_col_copy(st, 1, m->peer, sizeof(m->peer));
	hs_col_copy(st, 2, m->message_id, sizeof(m->message_id));
	hs_col_copy(st, 3, m->content_type, sizeof(m->content_type));
	return 0;
}

void hs_free_msg(void *item)
{
	free(((struct hstore_msg *)item)->body);
}

int hs_one_int(struct hstore *h, sqlite3_stmt *st, const char *what,
	       int64_t *out)
{
	int rc = sqlite3_step(st);
	int err = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT
						       : hs_err(h, rc, what);

	if (!err)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return err;
}

int hs_rows(struct hstore *h, sqlite3_stmt *st, size_t elem,
	    int (*row)(sqlite3_stmt *st, void *item),
	    void (*free_one)(void *item), void **out, size_t *n)
{
	char *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc, err = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			char *nv = realloc(v, ncap * elem);

			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		memset(v + cnt * elem, 0, elem);
		err = row(st, v + cnt * elem);
		if (err)
			break;
		cnt++;
	}
	if (!err && rc != SQLITE_DONE)
		err = hs_err(h, rc, "read");
	sqlite3_reset(st);
	if (err) {
		for (size_t i = 0; i < cnt; i++)
			free_one(v + i * elem);
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int hs_list(struct hstore *h, enum hs_stmt id, size_t limit, size_t offset,
	    size_t elem, int (*row)(sqlite3_stmt *st, void *item),
	    void (*free_one)(void *item), void **out, size_t *n)
{
	sqlite3_stmt *st = hs_stmt(h, id);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
	sqlite3_bind_int64(st, 2, (int64_t)offset);
	return hs_rows(h, st, elem, row, free_one, out, n);
}

int hs_text_check(const struct hstore_text *t, int need_id)
{
	if (!t || !t->peer || !e164_is_valid(t->peer) ||
	    (t->body_len && !t->body))
		return -EINVAL;
	if (t->body_len > HSTORE_BODY_MAX)
		return -EMSGSIZE;
	if (need_id && !t->message_id)
		return -EINVAL;
	if (t->message_id && (!t->message_id[0] ||
			      strlen(t->message_id) >= HSTORE_ID_MAX))
		return -EINVAL;
	if (t->content_type && (!t->content_type[0] ||
				strlen(t->content_type) >= HSTORE_TYPE_MAX))
		return -EINVAL;
	return 0;
}
