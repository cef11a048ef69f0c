/*
 * tx_budget: the memory budget of a SIP transaction table, shared fairly
 * between the sources that fill it (max-min fairness).
 *
 * Every transaction is charged its cost (the struct, its matching key, the
 * response kept for retransmissions) to its table and to its source (the
 * caller's key.source, e.g. the client's IP bytes). Once a transaction has
 * sent its final response it only absorbs retransmissions, so it may go
 * early: it is "settled" into two FIFOs, its source's and the table's.
 * When the table is over its entry or byte budget, tx_make_room() evicts:
 *   1. the oldest settled tx of the source that is adding (when that source
 *      holds at least the average share: bytes/sources), so a flood from
 *      one address only recycles its own entries;
 *   2. else the oldest of the "hog" (the biggest source seen adding since
 *      the last hog went away), when it is above the average share;
 *   3. else the oldest settled tx of all.
 * A lone busy source (an edge proxy, a benchmark) can thus use the whole
 * table, and no source can push the others out while over its share.
 * Transactions still waiting for their answer (the caller holds them) are
 * never evicted; if only those are left, the new one is refused and the
 * caller answers statelessly. Eviction goes through tx_destroy(), which
 * also takes the tx out of the timer heap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tx_priv.h"

/* What one entry costs beyond its key and messages (malloc headers). */
#define TX_OVERHEAD (sizeof(struct sip_tx) + 64)

int tx_sources_init(struct sip_tx_table *tbl)
{
	return hmap_init(&tbl->srcs, 64);
}

/* Finds or makes the record of source SRC (keys longer than TX_SRC_MAX
 * are cut: a caller's source key is an address, 4 or 16 bytes). */
static struct tx_src *src_get(struct sip_tx_table *tbl,
			      const struct sip_tx_str *src)
{
	size_t len = src->len < TX_SRC_MAX ? src->len : TX_SRC_MAX;
	uint64_t h = hmap_hash(src->p, len);
	struct hmap_node *n;
	struct tx_src *s;

	hmap_for_each_hash(&tbl->srcs, n, h) {
		s = HMAP_ENTRY(n, struct tx_src, node);
		if (s->len == len && memcmp(s->key, src->p, len) == 0)
			return s;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (len)
		memcpy(s->key, src->p, len);
	s->len = len;
	hmap_insert(&tbl->srcs, &s->node, h);
	return s;
}

static void src_put(struct sip_tx_table *tbl, struct tx_src *s)
{
	if (s->count)
		return;
	hmap_remove(&tbl->srcs, &s->node);
	if (tbl->hog == s)
		tbl->hog = NULL;
	free(s);
}

void tx_cost_add(struct sip_tx *tx, size_t add, size_t sub)
{
	struct sip_tx_table *tbl = tx->tbl;
	struct tx_src *s = tx->src;

	tx->cost = tx->cost + add - sub;
	tbl->bytes = tbl->bytes + add - sub;
	if (!s)
		return;
	s->bytes = s->bytes + add - sub;
	if (add > sub && (!tbl->hog || s->bytes > tbl->hog->bytes))
		tbl->hog = s;
}

int tx_charge(struct sip_tx *tx, const struct sip_tx_str *src)
{
	static const struct sip_tx_str none = { "", 0 };

	tx->src = src_get(tx->tbl, src && src->p ? src : &none);
	if (!tx->src)
		return -ENOMEM;
	tx->src->count++;
	tx_cost_add(tx, TX_OVERHEAD + tx->key_len, 0);
	return 0;
}

void tx_uncharge(struct sip_tx *tx)
{
	struct sip_tx_table *tbl = tx->tbl;
	struct tx_src *s = tx->src;

	if (!s)
		return;
	if (tx->settled) {
		*(tx->g_prev ? &tx->g_prev->g_next : &tbl->g_head) = tx->g_next;
		*(tx->g_next ? &tx->g_next->g_prev : &tbl->g_tail) = tx->g_prev;
		*(tx->s_prev ? &tx->s_prev->s_next : &s->head) = tx->s_next;
		*(tx->s_next ? &tx->s_next->s_prev : &s->tail) = tx->s_prev;
		tx->settled = 0;
	}
	tx_cost_add(tx, 0, tx->cost);
	s->count--;
	tx->src = NULL;
	src_put(tbl, s);
}

void tx_settle(struct sip_tx *tx)
{
	struct sip_tx_table *tbl = tx->tbl;
	struct tx_src *s = tx->src;

	if (!s || tx->settled)
		return;
	tx->settled = 1;
	tx->g_next = NULL;
	tx->g_prev = tbl->g_tail;
	*(tbl->g_tail ? &tbl->g_tail->g_next : &tbl->g_head) = tx;
	tbl->g_tail = tx;
	tx->s_next = NULL;
	tx->s_prev = s->tail;
	*(s->tail ? &s->tail->s_next : &s->head) = tx;
	s->tail = tx;
}

static int over_budget(const struct sip_tx_table *tbl)
{
	return (tbl->lim.max_entries &&
		hmap_count(&tbl->txs) > tbl->lim.max_entries) ||
	       (tbl->lim.max_bytes && tbl->bytes > tbl->lim.max_bytes);
}

/* At or above the average share: bytes * sources >= the table's bytes. */
static int over_share(const struct sip_tx_table *tbl, const struct tx_src *s)
{
	return s && s->head && s->bytes * hmap_count(&tbl->srcs) >= tbl->bytes;
}

int tx_make_room(struct sip_tx_table *tbl, const struct tx_src *adding)
{
	struct sip_tx *victim;

	while (over_budget(tbl)) {
		if (over_share(tbl, adding))
			victim = adding->head;
		else if (over_share(tbl, tbl->hog))
			victim = tbl->hog->head;
		else
			victim = tbl->g_head;
		if (!victim)
			return -ENOBUFS;
		tbl->evicted++;
		tx_destroy(victim);
	}
	return 0;
}

int sip_tx_table_set_limits(struct sip_tx_table *tbl,
			    const struct sip_tx_limits *lim)
{
	if (!lim)
		return -EINVAL;
	tbl->lim = *lim;
	return 0;
}

void sip_tx_stats(const struct sip_tx_table *tbl, struct sip_tx_stats *out)
{
	out->count = hmap_count(&tbl->txs);
	out->bytes = tbl->bytes;
	out->sources = hmap_count(&tbl->srcs);
	out->evicted = tbl->evicted;
	out->refused = tbl->refused;
}

void tx_sources_free(struct sip_tx_table *tbl)
{
	struct hmap_iter it;
	struct hmap_node *n;

	hmap_for_each(&tbl->srcs, it, n)
		free(HMAP_ENTRY(n, struct tx_src, node));
	hmap_destroy(&tbl->srcs);
}
