/*
 * queue_count: how many items each recipient has pending, kept in memory
 * on the writer thread, so that a put checks max_per_recipient in O(1)
 * instead of counting the recipient's rows (which made every put cost
 * O(its backlog): a recipient offline for a week made each new text for
 * it slower to store).
 *
 * A recipient's count is read once with COUNT(*) the first time a put
 * needs it, then follows every put (+1) and every item that leaves
 * (finished, expired: -1). Only what committed may count: a call whose
 * own run failed after changing rows, or a batch whose COMMIT failed,
 * clears the whole cache (queue_op_run, queue_op_done), and the counts
 * are read again. At most QUEUE_COUNT_MAX recipients are cached; past
 * that the cache starts over.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue_impl.h"

#define QUEUE_COUNT_MAX 65536

struct queue_count {
	struct hmap_node node;
	int channel;
	int64_t n;
	char recipient[];
};

static const char SQL_COUNT_ALL[] =
	"SELECT count(*) FROM items WHERE channel = ?1 AND recipient = ?2"
	" AND state = 0";

struct count_key {
	int channel;
	const char *recipient;
};

static int queue_count_eq(const struct hmap_node *n, const void *key)
{
	const struct queue_count *c = HMAP_ENTRY(n, struct queue_count, node);
	const struct count_key *k = key;

	return c->channel == k->channel && !strcmp(c->recipient, k->recipient);
}

static uint64_t queue_count_hash(int channel, const char *recipient)
{
	return hmap_hash_str(recipient) ^ (uint64_t)channel;
}

static struct queue_count *queue_count_find(struct queue *q, int channel,
					    const char *recipient)
{
	struct count_key k = { channel, recipient };

	return HMAP_ENTRY(hmap_find(&q->counts,
				    queue_count_hash(channel, recipient),
				    queue_count_eq, &k),
			  struct queue_count, node);
}

void queue_count_clear(struct queue *q)
{
	struct hmap_iter it;
	struct hmap_node *n;

	hmap_for_each(&q->counts, it, n) {
		hmap_remove(&q->counts, n);
		free(HMAP_ENTRY(n, struct queue_count, node));
	}
	q->ncounts = 0;
}

int queue_count_get(struct queue *q, sqlite3 *db, int channel,
		    const char *recipient, int64_t *out)
{
	struct queue_count *c = queue_count_find(q, channel, recipient);
	sqlite3_stmt *st;
	size_t len;
	int rc;

	if (c) {
		*out = c->n;
		return 0;
	}
	st = writer_stmt(db, SQL_COUNT_ALL);
	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, channel);
	sqlite3_bind_text(st, 2, recipient, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return writer_errno(rc) ?: -EIO;
	*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (q->ncounts >= QUEUE_COUNT_MAX)
		queue_count_clear(q);
	len = strlen(recipient) + 1;
	c = malloc(sizeof(*c) + len);
	if (!c)
		return 0; /* counted, not cached */
	c->channel = channel;
	c->n = *out;
	memcpy(c->recipient, recipient, len);
	hmap_insert(&q->counts, &c->node, queue_count_hash(channel, recipient));
	q->ncounts++;
	return 0;
}

void queue_count_add(struct queue *q, int channel, const char *recipient,
		     int64_t delta)
{
	struct queue_count *c = queue_count_find(q, channel, recipient);

	if (c)
		c->n += delta;
}
