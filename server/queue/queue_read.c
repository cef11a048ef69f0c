/*
 * queue_read: the durable queue's calls that return rows: what a target
 * has pending (delivery on register), what is due for a retry (timers),
 * and what has expired (removed here, reported by the caller). They run
 * on the writer thread like the writes (queue.h): one connection, no
 * second reader thread, and a read that shares a batch with writes sees
 * them in order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataline/log.h"
#include "queue_impl.h"

/* columns 9..12 after QUEUE_ITEM_COLS: next_at, attempts, last_error,
 * target */
static const char SQL_PENDING[] =
	"SELECT " QUEUE_ITEM_COLS ", i.next_at, i.attempts, i.last_error, ''"
	" FROM items i WHERE i.channel = ?1 AND i.recipient = ?2"
	" AND i.state = 0 AND +i.expires_at > ?3"
	" AND (?4 IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries d"
	"  WHERE d.item_id = i.id AND d.target = ?4 AND d.acked = 1))"
	" ORDER BY i.id LIMIT ?5";
/* "+i.expires_at": not an index term, so SQLite walks items_recipient
 * (the recipient's rows, already in id order) instead of the expiry index
 * plus a sort of every pending row of the queue */
static const char SQL_DUE[] =
	"SELECT " QUEUE_ITEM_COLS ", i.next_at, i.attempts, i.last_error, ''"
	" FROM items i WHERE i.channel = ?1 AND i.state = 0"
	" AND i.next_at <= ?2 AND i.expires_at > ?2"
	" UNION ALL "
	"SELECT " QUEUE_ITEM_COLS ", d.next_at, d.attempts, d.last_error, d.target"
	" FROM deliveries d JOIN items i ON i.id = d.item_id"
	" WHERE i.channel = ?1 AND i.state = 0 AND d.acked = 0"
	" AND d.next_at <= ?2 AND i.expires_at > ?2"
	" ORDER BY 10, 1 LIMIT ?3";
static const char SQL_NEXT[] =
	"SELECT min(t) FROM ("
	" SELECT min(next_at) AS t FROM items"
	"  WHERE channel = ?1 AND state = 0 AND next_at > ?2"
	" UNION ALL SELECT min(d.next_at) FROM deliveries d"
	"  JOIN items i ON i.id = d.item_id"
	"  WHERE i.channel = ?1 AND i.state = 0 AND d.acked = 0"
	"  AND d.next_at > ?2"
	" UNION ALL SELECT min(expires_at) FROM items"
	"  WHERE channel = ?1 AND state = 0)";
static const char SQL_EXPIRED[] =
	"SELECT " QUEUE_ITEM_COLS ", i.next_at, i.attempts, i.last_error, ''"
	" FROM items i WHERE i.state = 0 AND i.expires_at <= ?2"
	" AND (?1 = 0 OR i.channel = ?1)"
	" ORDER BY i.expires_at, i.id LIMIT ?3";
static const char SQL_DELETE_TOMBSTONES[] =
	"DELETE FROM items WHERE state = 1 AND expires_at <= ?1";

/* ---------------------------------------------------------- rows */

static size_t queue_col_len(sqlite3_stmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(st, i);
}

/* Copies text column i into *p (NUL-terminated), advancing *p. */
static const char *queue_col_copy(sqlite3_stmt *st, int i, char **p)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = queue_col_len(st, i);
	char *dst = *p;

	if (t)
		memcpy(dst, t, n);
	dst[n] = '\0';
	*p += n + 1;
	return dst;
}

static int queue_collect_row(struct queue_op *op, sqlite3_stmt *st)
{
	static const int text_cols[] = { 2, 3, 4, 5, 11, 12 };
	struct queue_item *it;
	size_t len = 0, blen;
	char *block, *p;

	if (op->nrows == op->cap) {
		size_t cap = op->cap ? op->cap * 2 : 16;

		it = realloc(op->items, cap * sizeof(*it));
		if (!it)
			return -ENOMEM;
		op->items = it;
		op->cap = cap;
	}
	/* sqlite3_column_text before _bytes: the length of the text form */
	for (size_t k = 0; k < sizeof(text_cols) / sizeof(text_cols[0]); k++) {
		sqlite3_column_text(st, text_cols[k]);
		len += queue_col_len(st, text_cols[k]) + 1;
	}
	blen = queue_col_len(st, 6);
	len += blen + 1;
	block = malloc(len);
	if (!block)
		return -ENOMEM;
	it = &op->items[op->nrows];
	p = block;
	/* recipient first: the block's start, which queue_op_free frees */
	it->recipient = queue_col_copy(st, 2, &p);
	it->dedup = sqlite3_column_type(st, 3) == SQLITE_NULL
			    ? (p++[0] = '\0', NULL)
			    : queue_col_copy(st, 3, &p);
	it->owner = queue_col_copy(st, 4, &p);
	it->meta = queue_col_copy(st, 5, &p);
	it->last_error = queue_col_copy(st, 11, &p);
	it->target = queue_col_copy(st, 12, &p);
	if (blen)
		memcpy(p, sqlite3_column_blob(st, 6), blen);
	p[blen] = '\0';
	it->body = p;
	it->body_len = blen;
	it->id = sqlite3_column_int64(st, 0);
	it->channel = sqlite3_column_int(st, 1);
	it->created = sqlite3_column_int64(st, 7);
	it->expires_at = sqlite3_column_int64(st, 8);
	it->next_at = sqlite3_column_int64(st, 9);
	it->attempts = sqlite3_column_int(st, 10);
	op->nrows++;
	return 0;
}

int queue_collect(struct queue_op *op, sqlite3_stmt *st)
{
	int rc, err = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = queue_collect_row(op, st);
		if (err)
			break;
	}
	sqlite3_reset(st);
	if (!err && rc != SQLITE_DONE)
		err = writer_errno(rc);
	return err;
}

/* ---------------------------------------------------------- pending */

static int queue_pending_run(void *arg, sqlite3 *db)
{
	struct queue_op *op = arg;
	sqlite3_stmt *st = writer_stmt(db, SQL_PENDING);

	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, op->channel);
	sqlite3_bind_text(st, 2, op->recipient, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, op->now);
	if (op->target)
		sqlite3_bind_text(st, 4, op->target, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int(st, 5, op->limit);
	return queue_collect(op, st);
}

int queue_pending(struct queue *q, int channel, const char *recipient,
		  const char *target, int64_t now, int limit, queue_cb cb,
		  void *arg)
{
	struct queue_op *op;

	if (!queue_channel_ok(channel) || !recipient || limit <= 0)
		return -EINVAL;
	op = queue_op_new(q, cb, arg);
	if (!op)
		return -EINVAL;
	op->channel = channel;
	op->limit = limit;
	op->now = now ? now : queue_now();
	op->recipient = strdup(recipient);
	op->target = target && *target ? strdup(target) : NULL;
	if (!op->recipient || (target && *target && !op->target)) {
		queue_op_free(op);
		return -ENOMEM;
	}
	return queue_op_submit(op, queue_pending_run);
}

/* ---------------------------------------------------------- due */

static int queue_due_run(void *arg, sqlite3 *db)
{
	struct queue_op *op = arg;
	sqlite3_stmt *st = writer_stmt(db, SQL_DUE);
	int rc, err;

	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, op->channel);
	sqlite3_bind_int64(st, 2, op->now);
	sqlite3_bind_int(st, 3, op->limit);
	err = queue_collect(op, st);
	if (err)
		return err;
	if (op->nrows == (size_t)op->limit) {
		op->res.next_at = op->now; /* more may be due: ask again now */
		return 0;
	}
	st = writer_stmt(db, SQL_NEXT);
	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, op->channel);
	sqlite3_bind_int64(st, 2, op->now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		op->res.next_at = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : writer_errno(rc);
}

/* due and expire: the same arguments, another run */
static int queue_scan(struct queue *q, int channel, int64_t now, int limit,
		      queue_cb cb, void *arg, writer_run_fn run)
{
	struct queue_op *op;

	if (limit <= 0)
		return -EINVAL;
	op = queue_op_new(q, cb, arg);
	if (!op)
		return -EINVAL;
	op->channel = channel;
	op->limit = limit;
	op->now = now ? now : queue_now();
	return queue_op_submit(op, run);
}

int queue_due(struct queue *q, int channel, int64_t now, int limit,
	      queue_cb cb, void *arg)
{
	if (!queue_channel_ok(channel))
		return -EINVAL;
	return queue_scan(q, channel, now, limit, cb, arg, queue_due_run);
}

/* ---------------------------------------------------------- expire */

static int queue_expire_run(void *arg, sqlite3 *db)
{
	struct queue_op *op = arg;
	sqlite3_stmt *st = writer_stmt(db, SQL_EXPIRED);
	int err;

	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, op->channel);
	sqlite3_bind_int64(st, 2, op->now);
	sqlite3_bind_int(st, 3, op->limit);
	err = queue_collect(op, st);
	for (size_t i = 0; !err && i < op->nrows; i++) {
		const struct queue_item *it = &op->items[i];

		err = queue_exec_id(db, QUEUE_SQL_DELETE_DELIVERIES, it->id);
		if (!err)
			err = queue_exec_id(db, QUEUE_SQL_DELETE_ITEM, it->id);
		if (!err && queue_channel_ok(it->channel)) {
			op->depth_delta[it->channel]--;
			queue_count_add(op->q, it->channel, it->recipient,
					-1);
		}
	}
	if (err)
		return err;
	op->expired = op->nrows;
	return queue_exec_id(db, SQL_DELETE_TOMBSTONES, op->now);
}

int queue_expire(struct queue *q, int channel, int64_t now, int limit,
		 queue_cb cb, void *arg)
{
	if (channel && !queue_channel_ok(channel))
		return -EINVAL;
	return queue_scan(q, channel, now, limit, cb, arg, queue_expire_run);
}
