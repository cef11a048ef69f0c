/*
 * hstore_notice: the delivery notifications (RFC 5438 IMDN "delivered")
 * the handset owes the senders of texts it stored.
 *
 * Why a table: the notification used to be sent once, from memory, as
 * the text was answered. The server deletes its copy of the text on our
 * 2xx, so it never delivers that text again; a notification refused with
 * 503 (the server restarting), lost with its flow, or not sent at all
 * because the client's request slots were full (a queue of a hundred texts
 * arriving at once) was never made up for, and the sender's outbox showed
 * "accepted" for ever. Now the notification is a row written in the same
 * transaction as the text, before the 2xx, and deleted only when the
 * server took it (svc_notice.c sends and retries them): a crash, a kill
 * or a power cut at any point leaves either the text unanswered (the
 * server delivers it again) or the notification on disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataline/sip.h"
#include "hstore_priv.h"

int hstore_inbox_add_notify(struct hstore *h, const struct hstore_text *t,
			    const char *datetime, int64_t now, int64_t *id)
{
	char nid[HSTORE_ID_MAX], dt[HSTORE_DATETIME_MAX];
	sqlite3_stmt *st;
	int err = hs_text_check(t, 1), added;

	if (err)
		return err;
	if (datetime && strlen(datetime) >= sizeof(dt))
		return -EINVAL;
	if (datetime && datetime[0]) {
		snprintf(dt, sizeof(dt), "%s", datetime);
	} else {
		time_t tt = (time_t)now;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(dt, sizeof(dt), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if ((err = sip_rand_hex(nid, sizeof(nid), 16)))
		return err;
	if ((err = hs_begin(h)))
		return err;
	added = hstore_inbox_add(h, t, now, id);
	if (added && added != -EEXIST) {
		hs_rollback(h);
		return added;
	}
	st = hs_stmt(h, HS_NT_ADD);
	if (!st) {
		hs_rollback(h);
		return -EIO;
	}
	hs_text(st, 1, t->peer);
	hs_text(st, 2, t->message_id);
	hs_text(st, 3, nid);
	hs_text(st, 4, dt);
	sqlite3_bind_int64(st, 5, now);
	err = hs_exec_stmt(h, st, "notice add");
	if (!err)
		err = hs_commit(h);  /* the fsync'd commit of both rows */
	if (err) {
		hs_rollback(h);
		return err;
	}
	return added;
}

static int nt_row(sqlite3_stmt *st, void *p)
{
	struct hstore_notice *n = p;

	n->id = sqlite3_column_int64(st, 0);
	hs_col_copy(st, 1, n->peer, sizeof(n->peer));
	hs_col_copy(st, 2, n->text_id, sizeof(n->text_id));
	hs_col_copy(st, 3, n->notice_id, sizeof(n->notice_id));
	hs_col_copy(st, 4, n->datetime, sizeof(n->datetime));
	n->attempts = sqlite3_column_int64(st, 5);
	n->next_at = sqlite3_column_int64(st, 6);
	return 0;
}

static void nt_free_one(void *item)
{
	(void)item;
}

int hstore_notice_due(struct hstore *h, int64_t due, size_t limit,
		      struct hstore_notice **out, size_t *n)
{
	sqlite3_stmt *st = hs_stmt(h, HS_NT_DUE);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, due);
	sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
	return hs_rows(h, st, sizeof(**out), nt_row, nt_free_one, (void **)out, n);
}

int hstore_notice_next(struct hstore *h, int64_t *next_at)
{
	sqlite3_stmt *st = hs_stmt(h, HS_NT_NEXT);

	return st ? hs_one_int(h, st, "notice next", next_at) : -EIO;
}

int hstore_notice_count(struct hstore *h, int64_t *n)
{
	sqlite3_stmt *st = hs_stmt(h, HS_NT_COUNT);

	return st ? hs_one_int(h, st, "notice count", n) : -EIO;
}

/* Runs the one-row statement ID on notice NID (and NEXT_AT, if given). */
static int nt_change(struct hstore *h, enum hs_stmt id, int64_t nid,
		     const int64_t *next_at, const char *what)
{
	sqlite3_stmt *st = hs_stmt(h, id);
	int err;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, nid);
	if (next_at)
		sqlite3_bind_int64(st, 2, *next_at);
	err = hs_exec_stmt(h, st, what);
	return !err && sqlite3_changes(h->db) == 0 ? -ENOENT : err;
}

int hstore_notice_delete(struct hstore *h, int64_t id)
{
	return nt_change(h, HS_NT_DELETE, id, NULL, "notice delete");
}

int hstore_notice_retry(struct hstore *h, int64_t id, int64_t next_at)
{
	return nt_change(h, HS_NT_RETRY, id, &next_at, "notice retry");
}
