/*
 * queue: the durable queue's lifecycle, schema and its writes (put, ack,
 * defer); queue_read.c has the calls that return rows. See queue.h for
 * the contract and docs/messaging.md ("The durable queue") for the model.
 *
 * Schema (PRAGMA user_version = 1):
 *   items       one row per message: channel, recipient, dedup key
 *               (UNIQUE per channel), times, item-level attempts (single-
 *               target channels such as SMS), owner, meta, body. state 0 =
 *               pending; 1 = finished, kept body-less as a dedup tombstone
 *               until expires_at.
 *   deliveries  per-(item, target) state, created lazily: acked = 1 when
 *               that device took it; acked = 0 with attempts/next_at when
 *               an attempt to it failed. No row = never tried, so a device
 *               that appears after the item was stored still gets it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/metrics.h"
#include "dataline/log.h"
#include "queue_impl.h"

#define QUEUE_SCHEMA_VERSION 1

static const char SQL_SCHEMA_V1[] =
	"CREATE TABLE items ("
	"  id INTEGER PRIMARY KEY,"
	"  channel INTEGER NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  dedup TEXT,"
	"  created INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  next_at INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT '',"
	"  owner TEXT NOT NULL DEFAULT '',"
	"  meta TEXT NOT NULL DEFAULT '',"
	"  body BLOB NOT NULL,"
	"  state INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (channel, dedup));"
	"CREATE INDEX items_recipient ON items(channel, recipient, state, id);"
	"CREATE INDEX items_next ON items(channel, state, next_at);"
	"CREATE INDEX items_expires ON items(state, expires_at);"
	"CREATE TABLE deliveries ("
	"  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
	"  target TEXT NOT NULL,"
	"  acked INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (item_id, target)) WITHOUT ROWID;"
	"CREATE INDEX deliveries_next ON deliveries(acked, next_at);";

static const char *const queue_migrations[QUEUE_SCHEMA_VERSION] = {
	SQL_SCHEMA_V1,
};

static const char SQL_INSERT[] =
	"INSERT INTO items(channel, recipient, dedup, owner, meta, body,"
	" created, expires_at, next_at, attempts)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_FIND_DEDUP[] =
	"SELECT id FROM items WHERE channel = ?1 AND dedup = ?2";
static const char SQL_ITEM_STATE[] =
	"SELECT channel, dedup IS NOT NULL, attempts, recipient FROM items"
	" WHERE id = ?1 AND state = 0";
static const char SQL_ACK_TARGET[] =
	"INSERT INTO deliveries(item_id, target, acked) VALUES (?1, ?2, 1)"
	" ON CONFLICT(item_id, target) DO UPDATE SET acked = 1";
static const char SQL_TARGET_ACKED[] =
	"SELECT 1 FROM deliveries WHERE item_id = ?1 AND target = ?2"
	" AND acked = 1";
static const char SQL_TOMBSTONE[] =
	"UPDATE items SET state = 1, body = x'', meta = '' WHERE id = ?1";
const char QUEUE_SQL_DELETE_ITEM[] = "DELETE FROM items WHERE id = ?1";
const char QUEUE_SQL_DELETE_DELIVERIES[] =
	"DELETE FROM deliveries WHERE item_id = ?1";
static const char SQL_DEFER_ITEM[] =
	"UPDATE items SET attempts = ?2, next_at = ?3, last_error = ?4"
	" WHERE id = ?1";
static const char SQL_TARGET_ATTEMPTS[] =
	"SELECT attempts FROM deliveries WHERE item_id = ?1 AND target = ?2";
static const char SQL_DEFER_TARGET[] =
	"INSERT INTO deliveries(item_id, target, acked, attempts, next_at,"
	" last_error) VALUES (?1, ?2, 0, ?3, ?4, ?5)"
	" ON CONFLICT(item_id, target) DO UPDATE SET attempts = excluded.attempts,"
	" next_at = excluded.next_at, last_error = excluded.last_error";
static const char SQL_DEPTHS[] =
	"SELECT channel, count(*) FROM items WHERE state = 0 GROUP BY channel";

/* ---------------------------------------------------------- helpers */

static const enum metrics_gauge queue_gauge[QUEUE_CHANNEL_MAX + 1] = {
	[QUEUE_SMS] = METRICS_QUEUE_SMS,
	[QUEUE_TEXT] = METRICS_QUEUE_TEXT,
	[QUEUE_REPORT] = METRICS_QUEUE_REPORT,
};

int64_t queue_backoff(int attempts, int base_s, int max_s)
{
	int64_t d = base_s > 0 ? base_s : 1;

	for (int i = 0; i < attempts && d < max_s; i++)
		d *= 2;
	return d > max_s ? max_s : d;
}

/* Steps a statement that returns no rows. */
static int queue_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : writer_errno(rc);
}

int queue_exec_id(sqlite3 *db, const char *sql, int64_t id)
{
	sqlite3_stmt *st = writer_stmt(db, sql);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return queue_step_done(st);
}

static void queue_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void queue_config_defaults(struct queue_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->expiry_s = 30 * 86400;
	cfg->max_per_recipient = 1000;
	cfg->max_body = 16384;
	cfg->backoff_base_s = 1;
	cfg->backoff_max_s = 300;
}

int64_t queue_depth(struct queue *q, int channel)
{
	return q && queue_channel_ok(channel) ? atomic_load(&q->depth[channel]) : 0;
}

static void queue_depth_add(struct queue *q, int channel, int64_t d)
{
	int64_t v;

	if (!queue_channel_ok(channel) || !d)
		return;
	v = atomic_fetch_add(&q->depth[channel], d) + d;
	metrics_gauge_set(queue_gauge[channel], v);
}

/* ---------------------------------------------------------- operations */

struct queue_op *queue_op_new(struct queue *q, queue_cb cb, void *arg)
{
	struct queue_op *op;

	if (!q || !cb)
		return NULL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->q = q;
	op->cb = cb;
	op->arg = arg;
	return op;
}

void queue_op_free(struct queue_op *op)
{
	for (size_t i = 0; i < op->nrows; i++)
		free((void *)op->items[i].recipient); /* the row's one block */
	free(op->items);
	free(op->recipient);
	free(op->target);
	free(op->error);
	if (op->targets)
		for (char **t = op->targets; *t; t++)
			free(*t);
	free(op->targets);
	free(op->put_buf);
	free(op);
}

/* On the writer thread after the COMMIT: publish the counts, tell the
 * caller, free. */
static void queue_op_done(void *arg, int err)
{
	struct queue_op *op = arg;

	/* err is run's own error (-EEXIST, -ENOSPC ... as run set it) or, if
	 * the batch did not commit, that failure: it wins over run's */
	op->res.err = err;
	if (err != op->run_err)
		queue_count_clear(op->q); /* the batch did not commit */
	if (!err) {
		for (int ch = 1; ch <= QUEUE_CHANNEL_MAX; ch++)
			queue_depth_add(op->q, ch, op->depth_delta[ch]);
		if (op->puts)
			metrics_add(METRICS_QUEUE_PUTS, op->puts);
		if (op->acks)
			metrics_add(METRICS_QUEUE_ACKS, op->acks);
		if (op->expired)
			metrics_add(METRICS_QUEUE_EXPIRED, op->expired);
	}
	/* rows read in a transaction that did not commit: none */
	op->res.n = err ? 0 : op->nrows;
	op->res.items = op->res.n ? op->items : NULL;
	op->cb(op->arg, &op->res);
	queue_op_free(op);
}

/* On the writer thread: every call is numbered in the order it runs. */
static int queue_op_run(void *arg, sqlite3 *db)
{
	struct queue_op *op = arg;
	int err;

	op->res.seq = ++op->q->seq;
	err = op->run(op, db);
	/* refusals before any change keep the counts; anything else may
	 * have counted what its rollback undid */
	if (err && err != -EEXIST && err != -ENOSPC && err != -ENOENT &&
	    err != -EINVAL)
		queue_count_clear(op->q);
	op->run_err = err;
	return err;
}

int queue_op_submit(struct queue_op *op, writer_run_fn run)
{
	int err;

	op->run = run;
	err = writer_submit(op->q->w, queue_op_run, queue_op_done, op);

	if (err)
		queue_op_free(op);
	return err;
}

/* ---------------------------------------------------------- put */

static int queue_put_run(void *arg, sqlite3 *db)
{
	struct queue_op *op = arg;
	const struct queue_put *p = &op->put;
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc;

	if (p->dedup) {
		st = writer_stmt(db, SQL_FIND_DEDUP);
		if (!st)
			return -EIO;
		sqlite3_bind_int(st, 1, p->channel);
		queue_bind_text(st, 2, p->dedup);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			op->res.id = sqlite3_column_int64(st, 0);
			op->res.err = -EEXIST;
			return -EEXIST;
		}
		if (rc != SQLITE_DONE)
			return writer_errno(rc);
	}
	rc = queue_count_get(op->q, db, p->channel, p->recipient, &n);
	if (rc)
		return rc;
	if (n >= op->q->cfg.max_per_recipient) {
		op->res.err = -ENOSPC;
		return -ENOSPC;
	}
	st = writer_stmt(db, SQL_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, p->channel);
	queue_bind_text(st, 2, p->recipient);
	queue_bind_text(st, 3, p->dedup);
	queue_bind_text(st, 4, p->owner);
	queue_bind_text(st, 5, p->meta);
	sqlite3_bind_blob(st, 6, p->body_len ? p->body : "", (int)p->body_len,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, p->now);
	sqlite3_bind_int64(st, 8, p->expires_at);
	sqlite3_bind_int64(st, 9, p->next_at);
	sqlite3_bind_int(st, 10, p->attempts);
	rc = queue_step_done(st);
	if (rc)
		return rc;
	op->res.id = sqlite3_last_insert_rowid(db);
	queue_count_add(op->q, p->channel, p->recipient, 1);
	op->depth_delta[p->channel] = 1;
	op->puts = 1;
	if (p->on_stored)
		p->on_stored(p->stored_arg, p, op->res.id, op->res.seq);
	return 0;
}

/* Copies the put's strings and body into one block. */
static int queue_put_copy(struct queue_op *op, const struct queue_put *in)
{
	const char *s[4] = { in->recipient, in->dedup, in->owner, in->meta };
	const char **d[4] = { &op->put.recipient, &op->put.dedup,
			      &op->put.owner, &op->put.meta };
	size_t len = in->body_len + 1, off;
	char *buf;

	for (int i = 0; i < 4; i++)
		len += (s[i] ? strlen(s[i]) : 0) + 1;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	op->put_buf = buf;
	op->put = *in;
	if (in->body_len)
		memcpy(buf, in->body, in->body_len);
	op->put.body = buf;
	off = in->body_len;
	for (int i = 0; i < 4; i++) {
		size_t l;

		if (!s[i]) {
			/* dedup NULL stays NULL (no key); the rest become "" */
			*d[i] = i == 1 ? NULL : "";
			continue;
		}
		l = strlen(s[i]) + 1;
		memcpy(buf + off, s[i], l);
		*d[i] = buf + off;
		off += l;
	}
	return 0;
}

int queue_put(struct queue *q, const struct queue_put *item, queue_cb cb,
	      void *arg)
{
	struct queue_op *op;
	int err;

	if (!q || !item || !queue_channel_ok(item->channel) ||
	    !item->recipient || !item->recipient[0] ||
	    (item->body_len && !item->body))
		return -EINVAL;
	if (item->body_len > q->cfg.max_body)
		return -EMSGSIZE;
	op = queue_op_new(q, cb, arg);
	if (!op)
		return cb ? -ENOMEM : -EINVAL;
	err = queue_put_copy(op, item);
	if (err) {
		free(op);
		return err;
	}
	if (!op->put.now)
		op->put.now = queue_now();
	if (!op->put.expires_at)
		op->put.expires_at = op->put.now + q->cfg.expiry_s;
	if (!op->put.next_at)
		op->put.next_at = op->put.now;
	return queue_op_submit(op, queue_put_run);
}

/* ---------------------------------------------------------- ack */

/* Looks up a pending item: its channel, whether it has a dedup key, its
 * attempts; op->recipient becomes its recipient. -ENOENT if it is not
 * pending. */
static int queue_item_state(struct queue_op *op, sqlite3 *db, int64_t id,
			    int *channel, int *has_dedup, int *attempts)
{
	sqlite3_stmt *st = writer_stmt(db, SQL_ITEM_STATE);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return writer_errno(rc);
	*channel = sqlite3_column_int(st, 0);
	*has_dedup = sqlite3_column_int(st, 1);
	*attempts = sqlite3_column_int(st, 2);
	free(op->recipient);
	op->recipient = strdup((const char *)sqlite3_column_text(st, 3) ?: "");
	sqlite3_reset(st);
	return op->recipient ? 0 : -ENOMEM;
}

/* Takes a finished item out of the queue (tombstone if it has a dedup). */
static int queue_finish_item(struct queue_op *op, sqlite3 *db, int64_t id,
		      int channel, int has_dedup)
{
	int err = queue_exec_id(db, QUEUE_SQL_DELETE_DELIVERIES, id);

	if (!err)
		err = queue_exec_id(db, has_dedup ? SQL_TOMBSTONE : QUEUE_SQL_DELETE_ITEM,
				    id);
	if (!err && queue_channel_ok(channel)) {
		op->depth_delta[channel]--;
		queue_count_add(op->q, channel, op->recipient, -1);
	}
	return err;
}

static int queue_ack_run(void *arg, sqlite3 *db)
{
	struct queue_op *op = arg;
	sqlite3_stmt *st;
	const char *target = op->target;
	int channel, has_dedup, attempts, all = 1, err;

	err = queue_item_state(op, db, op->id, &channel, &has_dedup, &attempts);
	if (err)
		return err;
	/* the only device acked: the item is done, no per-target row */
	if (target && op->targets && op->targets[0] && !op->targets[1] &&
	    !strcmp(op->targets[0], target))
		target = NULL;
	if (target) {
		st = writer_stmt(db, SQL_ACK_TARGET);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, op->id);
		queue_bind_text(st, 2, target);
		err = queue_step_done(st);
		if (err)
			return err;
	}
	for (char **t = target ? op->targets : NULL; t && *t && all; t++) {
		st = writer_stmt(db, SQL_TARGET_ACKED);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, op->id);
		queue_bind_text(st, 2, *t);
		all = sqlite3_step(st) == SQLITE_ROW;
	}
	op->acks = 1;
	if (!all)
		return 0;
	err = queue_finish_item(op, db, op->id, channel, has_dedup);
	if (!err)
		op->res.finished = 1;
	return err;
}

static int queue_strdup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!s || !*s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

int queue_ack(struct queue *q, int64_t id, const char *target,
	      const char *const *targets, queue_cb cb, void *arg)
{
	struct queue_op *op = queue_op_new(q, cb, arg);
	size_t n = 0;

	if (!op)
		return -EINVAL;
	op->id = id;
	if (queue_strdup_opt(target, &op->target))
		goto nomem;
	while (targets && targets[n])
		n++;
	if (targets) {
		op->targets = calloc(n + 1, sizeof(*op->targets));
		if (!op->targets)
			goto nomem;
		for (size_t i = 0; i < n; i++)
			if (!(op->targets[i] = strdup(targets[i])))
				goto nomem;
	}
	return queue_op_submit(op, queue_ack_run);
nomem:
	queue_op_free(op);
	return -ENOMEM;
}

/* ---------------------------------------------------------- defer */

static int queue_defer_run(void *arg, sqlite3 *db)
{
	struct queue_op *op = arg;
	sqlite3_stmt *st;
	int channel, has_dedup, attempts, rc, err;
	int64_t next;

	err = queue_item_state(op, db, op->id, &channel, &has_dedup, &attempts);
	if (err)
		return err;
	if (op->target) {
		st = writer_stmt(db, SQL_TARGET_ATTEMPTS);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, op->id);
		queue_bind_text(st, 2, op->target);
		rc = sqlite3_step(st);
		attempts = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	}
	next = op->now + queue_backoff(attempts, op->base_s, op->max_s);
	st = writer_stmt(db, op->target ? SQL_DEFER_TARGET : SQL_DEFER_ITEM);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, op->id);
	if (op->target) {
		queue_bind_text(st, 2, op->target);
		sqlite3_bind_int(st, 3, attempts + 1);
		sqlite3_bind_int64(st, 4, next);
		queue_bind_text(st, 5, op->error ? op->error : "");
	} else {
		sqlite3_bind_int(st, 2, attempts + 1);
		sqlite3_bind_int64(st, 3, next);
		queue_bind_text(st, 4, op->error ? op->error : "");
	}
	err = queue_step_done(st);
	if (!err) {
		op->res.attempts = attempts + 1;
		op->res.next_at = next;
	}
	return err;
}

int queue_defer(struct queue *q, int64_t id, const char *target,
		int64_t now, int base_s, int max_s, const char *error,
		queue_cb cb, void *arg)
{
	struct queue_op *op = queue_op_new(q, cb, arg);

	if (!op)
		return -EINVAL;
	op->id = id;
	op->now = now ? now : queue_now();
	op->base_s = base_s > 0 ? base_s : q->cfg.backoff_base_s;
	op->max_s = max_s > 0 ? max_s : q->cfg.backoff_max_s;
	if (op->max_s < op->base_s)
		op->max_s = op->base_s;
	if (queue_strdup_opt(target, &op->target) ||
	    queue_strdup_opt(error, &op->error)) {
		queue_op_free(op);
		return -ENOMEM;
	}
	return queue_op_submit(op, queue_defer_run);
}

/* ---------------------------------------------------------- lifecycle */

/* On the writer's connection, in queue_open's thread: schema migrations
 * (forward only, one transaction) and the depth gauges. */
static int queue_init_db(sqlite3 *db, void *arg)
{
	struct queue *q = arg;
	sqlite3_stmt *st = NULL;
	char *msg = NULL, sql[48];
	int v = 0, rc, err = 0;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto sqlerr;
	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v > QUEUE_SCHEMA_VERSION) {
		log_err("queue: schema version %d is newer than this server (%d)",
			v, QUEUE_SCHEMA_VERSION);
		err = -EPROTO;
		goto rollback;
	}
	for (int i = v; i < QUEUE_SCHEMA_VERSION; i++) {
		log_info("queue: migrating schema %d -> %d", i, i + 1);
		if (sqlite3_exec(db, queue_migrations[i], NULL, NULL, &msg) != SQLITE_OK)
			goto sqlerr;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 QUEUE_SCHEMA_VERSION);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		goto sqlerr;
	rc = sqlite3_prepare_v2(db, SQL_DEPTHS, -1, &st, NULL);
	while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		int ch = sqlite3_column_int(st, 0);

		if (queue_channel_ok(ch))
			atomic_store(&q->depth[ch], sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto sqlerr;
	for (int ch = 1; ch <= QUEUE_CHANNEL_MAX; ch++)
		metrics_gauge_set(queue_gauge[ch], atomic_load(&q->depth[ch]));
	return 0;
sqlerr:
	log_err("queue: schema: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	err = -EIO;
rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

int queue_open(const struct queue_config *cfg, struct queue **out)
{
	struct writer_config wc = { .name = "queue" };
	struct queue *q;
	int err;

	if (!cfg || !cfg->path || !*cfg->path || !out)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	if (hmap_init(&q->counts, 64)) {
		free(q);
		return -ENOMEM;
	}
	queue_config_defaults(&q->cfg);
	if (cfg->expiry_s > 0)
		q->cfg.expiry_s = cfg->expiry_s;
	if (cfg->max_per_recipient > 0)
		q->cfg.max_per_recipient = cfg->max_per_recipient;
	if (cfg->max_body > 0)
		q->cfg.max_body = cfg->max_body;
	if (cfg->backoff_base_s > 0)
		q->cfg.backoff_base_s = cfg->backoff_base_s;
	if (cfg->backoff_max_s >= q->cfg.backoff_base_s)
		q->cfg.backoff_max_s = cfg->backoff_max_s;
	q->cfg.path = NULL;
	wc.path = cfg->path;
	wc.sync_full = !cfg->sync_normal;
	wc.init = queue_init_db;
	wc.init_arg = q;
	wc.queue_max = cfg->writer_queue_max;
	wc.on_batch = cfg->on_batch;
	wc.on_batch_arg = cfg->on_batch_arg;
	err = writer_open(&wc, &q->w);
	if (err) {
		log_err("queue: cannot open %s: %s", cfg->path, strerror(-err));
		hmap_destroy(&q->counts);
		free(q);
		return err;
	}
	*out = q;
	return 0;
}

void queue_close(struct queue *q)
{
	if (!q)
		return;
	writer_close(q->w);
	queue_count_clear(q);
	hmap_destroy(&q->counts);
	free(q);
}
