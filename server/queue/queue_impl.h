/*
 * queue_impl: what queue.c (lifecycle, writes) and queue_read.c (the
 * calls that return rows) share. Private to server/queue/.
 *
 * Every call becomes one `struct queue_op`: its arguments are copied into
 * it, its run() executes on the writer thread inside a group commit, its
 * done() calls the user's callback after the COMMIT and frees it.
 */
#ifndef DATALINE_SERVER_QUEUE_IMPL_H
#define DATALINE_SERVER_QUEUE_IMPL_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <time.h>

#include "../core/writer.h"
#include "dataline/hmap.h"
#include "queue.h"

struct queue {
	struct writer *w;              /* owned */
	struct queue_config cfg;       /* path borrowed for open only */
	_Atomic int64_t depth[QUEUE_CHANNEL_MAX + 1]; /* pending per channel */
	uint64_t seq;                  /* calls run so far (writer thread) */
	struct hmap counts;            /* queue_count.c (writer thread) */
	size_t ncounts;
};

struct queue_op {
	struct queue *q;               /* borrowed */
	queue_cb cb;
	void *arg;
	writer_run_fn run;             /* the call's own run */
	int run_err;                   /* what it returned */
	int channel, limit, base_s, max_s;
	int64_t now, id;
	char *recipient, *target, *error; /* owned (NULL allowed) */
	char **targets;                /* owned, NULL-terminated, or NULL */
	struct queue_put put;          /* strings point into put_buf */
	void *put_buf;                 /* owned */
	struct queue_result res;
	struct queue_item *items;      /* owned rows (each item one block
					  starting at its recipient) */
	size_t nrows, cap;
	int64_t depth_delta[QUEUE_CHANNEL_MAX + 1]; /* applied after commit */
	uint64_t acks, puts, expired;  /* metrics, counted after commit */
};

/* The columns every row-returning statement selects, in this order. */
#define QUEUE_ITEM_COLS \
	"i.id, i.channel, i.recipient, i.dedup, i.owner, i.meta, i.body, " \
	"i.created, i.expires_at"
/* ...followed by next_at, attempts, last_error, target. */

/* Steps stmt to the end, appending every row to op->items (strings and
 * body copied into one block per row; the body is followed by a NUL).
 * 0 or -errno. */
int queue_collect(struct queue_op *op, sqlite3_stmt *stmt);

/* Runs the cached statement sql (no rows) with one integer parameter. */
int queue_exec_id(sqlite3 *db, const char *sql, int64_t id);
extern const char QUEUE_SQL_DELETE_ITEM[], QUEUE_SQL_DELETE_DELIVERIES[];

static inline int queue_channel_ok(int ch)
{
	return ch >= 1 && ch <= QUEUE_CHANNEL_MAX;
}

static inline int64_t queue_now(void)
{
	return (int64_t)time(NULL);
}

struct queue_op *queue_op_new(struct queue *q, queue_cb cb, void *arg);
void queue_op_free(struct queue_op *op);
/* Submits op (run on the writer); frees it if submission fails. */
int queue_op_submit(struct queue_op *op, writer_run_fn run);

/* queue_count.c: pending items per (channel, recipient), writer thread
 * only. get: the count (read from the rows the first time); add: follows
 * a committed-to-be change; clear: forget every count. */
int queue_count_get(struct queue *q, sqlite3 *db, int channel,
		    const char *recipient, int64_t *out);
void queue_count_add(struct queue *q, int channel, const char *recipient,
		     int64_t delta);
void queue_count_clear(struct queue *q);

#endif
