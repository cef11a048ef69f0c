/*
 * queue: the generic durable queue (issue 7): SMS codes, SIP texts and
 * delivery reports wait here until their recipient took them.
 *
 * Storage: its own SQLite file (--queue-db, default VAR/queue.db), WAL,
 * synchronous=FULL, every statement run by a writer thread
 * (server/core/writer.h), reads included: no caller ever waits on the
 * disk, and many operations share one fsync. Every call is asynchronous:
 * it copies its arguments, returns 0 (submitted) or -errno (-EAGAIN: the
 * writer's queue is full; -EINVAL; -EMSGSIZE: body over the cap), and its
 * callback runs later ON THE WRITER THREAD, after the commit: a put's
 * callback with err 0 means the item is on disk (fsynced). The callback
 * must copy what it needs and hand it to its own event loop; it must not
 * block. Everything a callback is given is valid during the call only.
 *
 * Model (docs/messaging.md, "The durable queue"): an item is a row keyed
 * by its recipient (a number) on a channel, with a unique dedup key per
 * channel (for texts: sender + imdn.Message-ID). Delivery is per TARGET
 * (a device of the recipient): an item stays pending for a target until
 * that target acked it; a target nobody has heard of yet (a device that
 * registers for the first time) sees every pending item of its recipient.
 * Delivery reads "every pending row of the recipient for this target, in
 * id order" -- never "ids past a cursor" (ids may commit out of order on
 * several nodes); a "recipient came online" signal is only a hint to
 * read the rows, which are the truth.
 */
#ifndef DATALINE_SERVER_QUEUE_H
#define DATALINE_SERVER_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct queue;

enum queue_channel {
	QUEUE_SMS = 1,      /* one-time codes to the SMS gateway */
	QUEUE_TEXT = 2,     /* SIP MESSAGE texts to a number's devices */
	QUEUE_REPORT = 3,   /* delivery reports (IMDN) back to senders */
	QUEUE_CHANNEL_MAX = 3
};

struct queue_config {
	const char *path;          /* SQLite file; required */
	int64_t expiry_s;          /* default lifetime of an item: 30 days */
	int max_per_recipient;     /* pending items per (channel, recipient):
				      1000; more: -ENOSPC */
	size_t max_body;           /* bytes per body: 16384; more: -EMSGSIZE */
	int backoff_base_s;        /* default defer backoff: 1 s ... */
	int backoff_max_s;         /* ... capped at 300 s */
	int sync_normal;           /* 1: synchronous=NORMAL (bench only) */
	unsigned writer_queue_max; /* 0: the writer's default (4096) */
	/* optional: the writer's per-batch hook (writer_config.on_batch) */
	void (*on_batch)(void *arg, unsigned jobs, uint64_t commit_us);
	void *on_batch_arg;
};

/* Called on the writer thread, inside the put's transaction, right
 * after the row went in (not on -EEXIST or a refusal): ID is the new id,
 * SEQ the put's place in the writer's order (queue_result.seq). The row
 * is NOT yet committed: the put's callback says whether it was. For a
 * holder that wants to start on the item while it is being made durable
 * (deliver.c). Must not block: copy what is needed and hand it over. */
struct queue_put;
typedef void (*queue_stored_fn)(void *arg, const struct queue_put *put,
				int64_t id, uint64_t seq);

/* What a put stores. Strings NUL-terminated; NULL = "" (dedup NULL = no
 * dedup key). Times Unix seconds; 0 = the default. */
struct queue_put {
	int channel;
	const char *recipient;     /* required, non-empty */
	const char *dedup;         /* unique per channel while stored */
	const char *owner;         /* whom to tell when it fails (expiry) */
	const char *meta;          /* channel-specific (headers, JSON) */
	const void *body;
	size_t body_len;
	int64_t now;               /* created; 0: time(NULL) */
	int64_t expires_at;        /* 0: now + expiry_s */
	int64_t next_at;           /* first due time (queue_due); 0: now */
	int attempts;              /* already made (migrations); normally 0 */
	queue_stored_fn on_stored; /* optional, see above */
	void *stored_arg;
};

/* One item handed to a callback. `target` is "" except in queue_due()
 * results for a per-target retry, where attempts/next_at/last_error are
 * the target's. */
struct queue_item {
	int64_t id;
	int channel;
	const char *recipient, *dedup, *owner, *meta, *target, *last_error;
	const void *body;
	size_t body_len;
	int64_t created, expires_at, next_at;
	int attempts;
};

/* Outcome of one call, given to its callback. */
struct queue_result {
	int err;                        /* 0 or -errno (see each call) */
	uint64_t seq;                   /* the call's place in the order the
					   writer ran every call (from 1):
					   a call sees the effects of every
					   call with a smaller seq, none of a
					   larger one */
	int64_t id;                     /* put: the new (or, -EEXIST, the
					   existing) id */
	int attempts;                   /* defer: attempts made now */
	int64_t next_at;                /* defer: when due again;
					   due: when to ask again
					   (earliest next_at or expiry
					   still ahead), 0 if nothing */
	int finished;                   /* ack: 1 if the item is done for
					   every target and left the queue */
	const struct queue_item *items; /* pending, due, expire */
	size_t n;
};

typedef void (*queue_cb)(void *arg, const struct queue_result *res);

/* Fills the defaults above (path NULL). */
void queue_config_defaults(struct queue_config *cfg);

/* Opens (creating, migrating) the file and starts its writer thread;
 * counts what is queued for the depth gauges. 0 or -errno. */
int queue_open(const struct queue_config *cfg, struct queue **out);
/* Finishes every call already submitted (their callbacks run), then
 * closes. Calls after close has begun get -ESHUTDOWN. */
void queue_close(struct queue *q);

/*
 * Stores an item. res.err: 0 with res.id; -EEXIST if (channel, dedup) is
 * already stored, with the EXISTING id in res.id (answer the duplicate as
 * the original, store nothing); -ENOSPC over max_per_recipient.
 */
int queue_put(struct queue *q, const struct queue_put *item, queue_cb cb,
	      void *arg);

/*
 * Pending items of (channel, recipient) in id order, at most `limit`,
 * unexpired at `now`. With a target: only those that target has not
 * acked (what a device that just registered must be sent). Target NULL:
 * all pending items.
 */
int queue_pending(struct queue *q, int channel, const char *recipient,
		  const char *target, int64_t now, int limit, queue_cb cb,
		  void *arg);

/*
 * The item was delivered to `target`. The item leaves the queue when
 * every one of `targets` (NULL-terminated: every device the recipient has
 * now) has acked it, or at once when target is NULL/"" or targets is NULL
 * (single-target channels: SMS). res.finished says which. -ENOENT if the
 * item is not pending. A finished item with a dedup key stays as a
 * body-less tombstone until its expiry, so a late duplicate is still
 * recognised (-EEXIST) and not delivered twice.
 */
int queue_ack(struct queue *q, int64_t id, const char *target,
	      const char *const *targets, queue_cb cb, void *arg);

/*
 * An attempt failed: attempts + 1 and next_at = now + base * 2^attempts
 * (attempts before this failure), capped at max; base/max <= 0 take the
 * queue's defaults. Per target when target is non-empty (a device that
 * did not answer), else for the item. error is kept as last_error.
 * res.attempts and res.next_at tell the outcome; -ENOENT if not pending.
 */
int queue_defer(struct queue *q, int64_t id, const char *target,
		int64_t now, int base_s, int max_s, const char *error,
		queue_cb cb, void *arg);

/*
 * Items of a channel whose next_at has come (item-level and per-target
 * retries), unexpired, ordered by next_at then id, at most `limit`.
 * res.next_at: when the next one will be due (or the earliest expiry,
 * whichever is first), 0 if the channel is empty: the retry timer.
 */
int queue_due(struct queue *q, int channel, int64_t now, int limit,
	      queue_cb cb, void *arg);

/*
 * Removes up to `limit` items of a channel (0: every channel) whose
 * expires_at has passed and hands them to cb (with owner and meta) so the
 * caller can send a "failed" report. Tombstones past expiry go silently.
 */
int queue_expire(struct queue *q, int channel, int64_t now, int limit,
		 queue_cb cb, void *arg);

/* Pending items of a channel now (what the depth gauge shows). */
int64_t queue_depth(struct queue *q, int channel);

/* The backoff rule of queue_defer(): base * 2^attempts, capped. */
int64_t queue_backoff(int attempts, int base_s, int max_s);

#endif
