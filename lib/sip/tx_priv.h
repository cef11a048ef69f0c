/*
 * tx_priv: private structures of the SIP transaction layer (RFC 3261 s.17):
 * the transaction object, the table (hash chains for matching plus a binary
 * min-heap of deadlines for the timers). Only lib/sip/tx*.c include this.
 */
#ifndef DATALINE_SIP_TX_PRIV_H
#define DATALINE_SIP_TX_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/hmap.h"
#include "dataline/sip_tx.h"

#define TX_NO_HEAP ((size_t)-1)
#define TX_SRC_MAX 32

/* One source's share of the table (tx_budget.c). */
struct tx_src {
	struct hmap_node node;     /* in tbl->srcs, by key */
	char key[TX_SRC_MAX];
	size_t len;
	size_t count, bytes;       /* its transactions and their cost */
	struct sip_tx *head, *tail; /* borrowed: its settled tx, oldest first */
};

struct sip_tx {
	struct sip_tx_table *tbl;  /* not owned: the table we live in */
	struct hmap_node node;     /* in tbl->txs, by key */
	char *key;                 /* owned: normalised matching key */
	size_t key_len;
	char *msg;                 /* owned: last response (server) or the
				    * request (client), for retransmission */
	size_t msg_len;
	char *ack;                 /* owned: client INVITE, ACK for non-2xx */
	size_t ack_len;
	char *to_tag;              /* owned: RFC 2543 fallback only */
	size_t to_tag_len;
	uint64_t t_retx;           /* next retransmission, 0 = none */
	uint64_t t_end;            /* timeout / cleanup deadline, 0 = none */
	uint32_t retx_ivl;         /* current retransmission interval */
	size_t heap_idx;           /* position in tbl->heap or TX_NO_HEAP */
	enum sip_tx_state state;
	int last_status;
	unsigned client : 1, invite : 1, reliable : 1, rfc2543 : 1;
	/* aligned so callers may keep a struct in it */
	unsigned char peer[SIP_TX_PEER_MAX] __attribute__((aligned(16)));
	size_t peer_len;
	void *user;                /* not owned: caller data */
	/* budget (tx_budget.c) */
	struct tx_src *src;        /* not owned: the table's source record */
	size_t cost;               /* bytes charged for this tx */
	int settled;               /* final answer sent: in the FIFOs below */
	struct sip_tx *g_prev, *g_next; /* table FIFO of settled tx */
	struct sip_tx *s_prev, *s_next; /* its source's FIFO */
};

struct sip_tx_table {
	const struct sip_tx_ops *ops; /* not owned */
	void *arg;                    /* not owned: callback argument */
	struct sip_tx_timers tm;
	struct hmap txs;              /* by key; the table owns its tx */
	struct sip_tx **heap;         /* owned array of borrowed pointers */
	size_t heap_len, heap_cap;
	/* budget (tx_budget.c) */
	struct sip_tx_limits lim;     /* 0 = no limit */
	size_t bytes;                 /* cost of every tx */
	struct hmap srcs;             /* owned sources, by key */
	struct tx_src *hog;           /* borrowed: biggest source lately */
	struct sip_tx *g_head, *g_tail; /* borrowed: settled tx, oldest first */
	uint64_t evicted, refused;
};

/* tx_heap.c */
uint64_t tx_deadline(const struct sip_tx *tx);
int tx_heap_update(struct sip_tx_table *tbl, struct sip_tx *tx);
void tx_heap_remove(struct sip_tx_table *tbl, struct sip_tx *tx);

/* tx.c */
void tx_destroy(struct sip_tx *tx);
void tx_send(struct sip_tx *tx, const char *buf, size_t len);
size_t tx_key_len(const struct sip_tx_key *key, int client);
int tx_make_key(const struct sip_tx_key *key, int client, char **bufp,
		size_t *lenp, char *stackbuf, size_t stacklen);
struct sip_tx *tx_lookup(struct sip_tx_table *tbl, const char *k, size_t klen,
			 uint64_t *hashp);
int tx_insert(struct sip_tx_table *tbl, const struct sip_tx_key *key,
	      int client, const void *peer, size_t peer_len, int reliable,
	      struct sip_tx **out);
/* Deadline meaning "at the next sip_tx_process()" (0 means none). */
#define TX_ASAP(now) ((now) ? (now) : 1)

int tx_store(char **dst, size_t *dlen, const char *buf, size_t len);

/* tx_budget.c */
int tx_charge(struct sip_tx *tx, const struct sip_tx_str *src);
void tx_uncharge(struct sip_tx *tx);
void tx_cost_add(struct sip_tx *tx, size_t add, size_t sub);
void tx_settle(struct sip_tx *tx);
int tx_make_room(struct sip_tx_table *tbl, const struct tx_src *adding);
int tx_sources_init(struct sip_tx_table *tbl);
void tx_sources_free(struct sip_tx_table *tbl);

#endif
