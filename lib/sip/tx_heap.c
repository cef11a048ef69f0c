/*
 * tx_heap: the deadline min-heap behind the SIP transaction timers
 * (RFC 3261 s.17 timers A-K). Each transaction sits in the heap at most once,
 * keyed by its earliest deadline (retransmission or end), and remembers its
 * index so a timer change is an O(log n) sift instead of a search.
 */
#include <errno.h>
#include <stdlib.h>

#include "tx_priv.h"

uint64_t tx_deadline(const struct sip_tx *tx)
{
	uint64_t d = UINT64_MAX;

	if (tx->t_retx && tx->t_retx < d)
		d = tx->t_retx;
	if (tx->t_end && tx->t_end < d)
		d = tx->t_end;
	return d;
}

static void heap_set(struct sip_tx_table *tbl, size_t i, struct sip_tx *tx)
{
	tbl->heap[i] = tx;
	tx->heap_idx = i;
}

static void heap_up(struct sip_tx_table *tbl, size_t i)
{
	struct sip_tx *tx = tbl->heap[i];
	uint64_t d = tx_deadline(tx);

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (tx_deadline(tbl->heap[p]) <= d)
			break;
		heap_set(tbl, i, tbl->heap[p]);
		i = p;
	}
	heap_set(tbl, i, tx);
}

static void heap_down(struct sip_tx_table *tbl, size_t i)
{
	struct sip_tx *tx = tbl->heap[i];
	uint64_t d = tx_deadline(tx);

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		uint64_t md = d;
		if (l < tbl->heap_len && tx_deadline(tbl->heap[l]) < md) {
			m = l;
			md = tx_deadline(tbl->heap[l]);
		}
		if (r < tbl->heap_len && tx_deadline(tbl->heap[r]) < md)
			m = r;
		if (m == i)
			break;
		heap_set(tbl, i, tbl->heap[m]);
		i = m;
	}
	heap_set(tbl, i, tx);
}

void tx_heap_remove(struct sip_tx_table *tbl, struct sip_tx *tx)
{
	size_t i = tx->heap_idx;
	struct sip_tx *last;

	if (i == TX_NO_HEAP)
		return;
	tx->heap_idx = TX_NO_HEAP;
	last = tbl->heap[--tbl->heap_len];
	if (last == tx)
		return;
	heap_set(tbl, i, last);
	heap_up(tbl, i);
	heap_down(tbl, last->heap_idx);
}

/* (Re)positions TX after its timers changed; drops it when it has none. */
int tx_heap_update(struct sip_tx_table *tbl, struct sip_tx *tx)
{
	if (tx_deadline(tx) == UINT64_MAX) {
		tx_heap_remove(tbl, tx);
		return 0;
	}
	if (tx->heap_idx == TX_NO_HEAP) {
		if (tbl->heap_len == tbl->heap_cap) {
			size_t cap = tbl->heap_cap ? tbl->heap_cap * 2 : 64;
			struct sip_tx **h = realloc(tbl->heap, cap * sizeof(*h));
			if (!h)
				return -ENOMEM;
			tbl->heap = h;
			tbl->heap_cap = cap;
		}
		heap_set(tbl, tbl->heap_len++, tx);
		heap_up(tbl, tx->heap_idx);
		return 0;
	}
	heap_up(tbl, tx->heap_idx);
	heap_down(tbl, tx->heap_idx);
	return 0;
}
