/*
 * hstore_inbox: received texts, each stored once. The server may deliver
 * a text twice (its copy is deleted only when our 2xx reached it, and a
 * 2xx can be lost: docs/messaging.md "Duplicates"); both copies carry the
 * same sender and imdn.Message-ID, which is the table's unique key, so
 * the second insert stores nothing and says -EEXIST, and the daemon
 * answers 2xx to it all the same without showing it again.
 */
#include <errno.h>
#include <stdlib.h>

#include "hstore_priv.h"

static int in_row(sqlite3_stmt *st, void *p)
{
	struct hstore_in *m = p;
	int err = hs_col_msg(st, &m->msg);

	if (err)
		return err;
	m->received = sqlite3_column_int64(st, 5);
	m->read = sqlite3_column_int(st, 6) != 0;
	return 0;
}

void hstore_inbox_free(struct hstore_in *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		hs_free_msg(&v[i]);
	free(v);
}

/* The id of the text already stored under T's sender and Message-ID. */
static int in_find(struct hstore *h, const struct hstore_text *t, int64_t *id)
{
	sqlite3_stmt *st = hs_stmt(h, HS_IN_FIND);

	if (!st)
		return -EIO;
	hs_text(st, 1, t->peer);
	hs_text(st, 2, t->message_id);
	return hs_one_int(h, st, "inbox find", id);
}

int hstore_inbox_add(struct hstore *h, const struct hstore_text *t,
		     int64_t now, int64_t *id)
{
	sqlite3_stmt *st;
	int64_t got;
	int err = hs_text_check(t, 1);

	if (err)
		return err;
	st = hs_stmt(h, HS_IN_ADD);
	if (!st)
		return -EIO;
	hs_text(st, 1, t->peer);
	hs_text(st, 2, t->message_id);
	hs_text(st, 3, t->content_type ? t->content_type : HSTORE_DEFAULT_TYPE);
	sqlite3_bind_blob(st, 4, t->body_len ? t->body : "", (int)t->body_len,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	/* autocommit: this step is the commit, fsync'd (synchronous=FULL) */
	err = hs_exec_stmt(h, st, "inbox add");
	if (err == -EEXIST) {
		/* the unique (peer, message_id): a duplicate, nothing stored */
		if (id && in_find(h, t, &got) == 0)
			*id = got;
		return -EEXIST;
	}
	if (!err && id)
		*id = sqlite3_last_insert_rowid(h->db);
	return err;
}

int hstore_inbox_set_read(struct hstore *h, int64_t id, bool read)
{
	sqlite3_stmt *st = hs_stmt(h, HS_IN_READ);
	int err;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, read);
	err = hs_exec_stmt(h, st, "inbox read");
	return !err && sqlite3_changes(h->db) == 0 ? -ENOENT : err;
}

int hstore_inbox_list(struct hstore *h, enum hstore_order order,
		      size_t limit, size_t offset, struct hstore_in **out,
		      size_t *n)
{
	return hs_list(h, order == HSTORE_NEWEST_FIRST ? HS_IN_LIST_DESC
		       : HS_IN_LIST_ASC, limit, offset, sizeof(**out),
		       in_row, hs_free_msg, (void **)out, n);
}
