/*
 * hstore_outbox: texts the user asked to send, from the insert (with the
 * Message-ID they keep for every attempt) to the server's 202 and the
 * delivery report. A text's state changes only in hs_out_move(), which
 * applies the table in include/dataline/hstore.h: forward moves only, so
 * that reports arriving twice or late (a 202 after the IMDN, a resend's
 * 202 after the first one's) change nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/log.h"
#include "dataline/sip.h"
#include "hstore_priv.h"

static const char *const state_names[] = {
	[HSTORE_OUT_QUEUED] = "queued",
	[HSTORE_OUT_SENDING] = "sending",
	[HSTORE_OUT_ACCEPTED] = "accepted",
	[HSTORE_OUT_DELIVERED] = "delivered",
	[HSTORE_OUT_FAILED] = "failed",
	[HSTORE_OUT_SENT_BY_CARRIER] = "sent_by_carrier",
};

const char *hstore_out_state_name(enum hstore_out_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0])
	       ? state_names[s] : NULL;
}

static bool is_pending(enum hstore_out_state s)
{
	return s == HSTORE_OUT_QUEUED || s == HSTORE_OUT_SENDING;
}

static bool is_final(enum hstore_out_state s)
{
	return s >= HSTORE_OUT_DELIVERED;
}

static int out_row(sqlite3_stmt *st, void *p)
{
	struct hstore_out *m = p;
	int err = hs_col_msg(st, &m->msg);

	if (err)
		return err;
	m->created = sqlite3_column_int64(st, 5);
	m->updated = sqlite3_column_int64(st, 6);
	m->state = (enum hstore_out_state)sqlite3_column_int(st, 7);
	m->attempts = sqlite3_column_int(st, 8);
	hs_col_copy(st, 9, m->last_status, sizeof(m->last_status));
	m->next_at = sqlite3_column_int64(st, 10);
	return 0;
}

void hstore_outbox_free(struct hstore_out *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		hs_free_msg(&v[i]);
	free(v);
}

int hstore_outbox_add(struct hstore *h, const struct hstore_text *t,
		      int64_t now, int64_t *id,
		      char message_id[HSTORE_ID_MAX])
{
	char mid[HSTORE_ID_MAX];
	sqlite3_stmt *st;
	int err = hs_text_check(t, 0);

	if (err)
		return err;
	if (t->message_id)
		snprintf(mid, sizeof(mid), "%s", t->message_id);
	else if ((err = sip_rand_hex(mid, sizeof(mid), 16)))
		return err;
	st = hs_stmt(h, HS_OUT_ADD);
	if (!st)
		return -EIO;
	hs_text(st, 1, t->peer);
	hs_text(st, 2, mid);
	hs_text(st, 3, t->content_type ? t->content_type : HSTORE_DEFAULT_TYPE);
	sqlite3_bind_blob(st, 4, t->body_len ? t->body : "", (int)t->body_len,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	/* autocommit: this step is the commit, fsync'd (synchronous=FULL) */
	err = hs_exec_stmt(h, st, "outbox add");
	if (err)
		return err;
	if (id)
		*id = sqlite3_last_insert_rowid(h->db);
	if (message_id)
		memcpy(message_id, mid, sizeof(mid));
	return 0;
}

/* The current state of text ID, in the caller's transaction. */
static int out_state(struct hstore *h, int64_t id, enum hstore_out_state *s)
{
	sqlite3_stmt *st = hs_stmt(h, HS_OUT_STATE);
	int64_t v;
	int err;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	err = hs_one_int(h, st, "outbox state", &v);
	if (!err)
		*s = (enum hstore_out_state)v;
	return err;
}

/*
 * Whether FROM -> TO is applied (1), a no-op (0), or refused (-EALREADY:
 * the text is not pending any more, so it must not be sent).
 */
static int out_move_ok(enum hstore_out_state from, enum hstore_out_state to)
{
	if (to == HSTORE_OUT_QUEUED || to == HSTORE_OUT_SENDING)
		return is_pending(from) ? 1 : -EALREADY;
	if (is_final(from) || from == to)
		return 0;
	/* from queued, sending or accepted to a later state: TO is one of
	 * accepted and the final ones, and a pending FROM is before both */
	return 1;
}

/* Moves text ID to TO in one transaction; see hstore_outbox_set(). */
static int hs_out_move(struct hstore *h, int64_t id, enum hstore_out_state to,
		       const char *status, int64_t next_at, int64_t now)
{
	enum hstore_out_state from;
	char st_buf[HSTORE_STATUS_MAX];
	sqlite3_stmt *st;
	int ok, err;

	err = hs_begin(h);
	if (err)
		return err;
	err = out_state(h, id, &from);
	if (err)
		goto out;
	ok = out_move_ok(from, to);
	if (ok <= 0) {
		if (ok < 0)
			log_debug("hstore: outbox %lld is %s, not sent again",
				  (long long)id, hstore_out_state_name(from));
		err = ok;
		goto out;
	}
	st = hs_stmt(h, HS_OUT_SET);
	if (!st) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, (int)to);
	sqlite3_bind_int(st, 3, to == HSTORE_OUT_SENDING);
	if (status) {
		snprintf(st_buf, sizeof(st_buf), "%s", status);
		hs_text(st, 4, st_buf);
	}
	if (next_at >= 0)
		sqlite3_bind_int64(st, 5, next_at);
	sqlite3_bind_int64(st, 6, now);
	err = hs_exec_stmt(h, st, "outbox set");
	if (!err) {
		log_debug("hstore: outbox %lld %s -> %s", (long long)id,
			  hstore_out_state_name(from),
			  hstore_out_state_name(to));
		return hs_commit(h);
	}
out:
	hs_rollback(h);
	return err;
}

int hstore_outbox_set(struct hstore *h, int64_t id, enum hstore_out_state to,
		      const char *status, int64_t next_at, int64_t now)
{
	if (!hstore_out_state_name(to))
		return -EINVAL;
	return hs_out_move(h, id, to, status, next_at, now);
}

int hstore_outbox_report(struct hstore *h, const char *message_id,
			 enum hstore_out_state to, const char *status,
			 int64_t now, int64_t *id)
{
	sqlite3_stmt *st;
	int64_t found = 0;
	int err;

	if (!message_id || !hstore_out_state_name(to))
		return -EINVAL;
	st = hs_stmt(h, HS_OUT_BY_MSGID);
	if (!st)
		return -EIO;
	hs_text(st, 1, message_id);
	err = hs_one_int(h, st, "outbox report", &found);
	if (err == -ENOENT)
		log_info("hstore: a %s report for Message-ID %.64s, which "
			 "is not in the outbox", hstore_out_state_name(to),
			 message_id);
	if (!err)
		err = hs_out_move(h, found, to, status, -1, now);
	if (!err && id)
		*id = found;
	return err;
}

int hstore_outbox_get(struct hstore *h, int64_t id, struct hstore_out **out)
{
	sqlite3_stmt *st = hs_stmt(h, HS_OUT_GET);
	struct hstore_out *v;
	size_t n;
	int err;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	err = hs_rows(h, st, sizeof(*v), out_row, hs_free_msg,
		      (void **)&v, &n);
	if (err)
		return err;
	if (!n) {
		free(v);
		return -ENOENT;
	}
	*out = v;
	return 0;
}

int hstore_outbox_pending(struct hstore *h, int64_t due,
			  struct hstore_out **out, size_t *n)
{
	sqlite3_stmt *st = hs_stmt(h, HS_OUT_PENDING);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, due);
	return hs_rows(h, st, sizeof(**out), out_row, hs_free_msg,
		       (void **)out, n);
}

int hstore_outbox_list(struct hstore *h, enum hstore_order order,
		       size_t limit, size_t offset, struct hstore_out **out,
		       size_t *n)
{
	return hs_list(h, order == HSTORE_NEWEST_FIRST ? HS_OUT_LIST_DESC
		       : HS_OUT_LIST_ASC, limit, offset, sizeof(**out),
		       out_row, hs_free_msg, (void **)out, n);
}
