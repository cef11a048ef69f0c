/*
 * tx: SIP transaction table and server transactions (RFC 3261 s.17.2),
 * with the matching rules of s.17.2.3 (magic-cookie branch, or the RFC 2543
 * fallback) and the timer pump shared with client transactions (tx_client.c).
 *
 * Matching keys are normalised into one string per transaction:
 *   "S|C" '\n' method '\n' branch '\n' lower(sent-by)         (RFC 3261)
 *   "S"  '\n' method '\n' ruri '\n' call-id '\n' from-tag '\n'
 *        cseq '\n' via                                        (RFC 2543)
 * with ACK folded onto INVITE so an ACK finds the INVITE transaction it
 * acknowledges. In the fallback the To tag is compared too, except for ACK
 * (whose To tag is the one our response added). The string is hashed
 * with the keyed hmap_hash() (a peer picks branches, Call-IDs and tags, so
 * it must not be able to pick which of them share a chain) into an hmap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "tx_priv.h"

#define MAGIC "z9hG4bK"

static const struct sip_tx_timers tx_default_timers = { 500, 4000, 5000 };

int tx_store(char **dst, size_t *dlen, const char *buf, size_t len)
{
	char *p = NULL;

	if (len) {
		p = malloc(len);
		if (!p)
			return -ENOMEM;
		memcpy(p, buf, len);
	}
	free(*dst);
	*dst = p;
	*dlen = len;
	return 0;
}

static int is_ack(const struct sip_tx_str *m)
{
	return m->len == 3 && memcmp(m->p, "ACK", 3) == 0;
}

static int has_cookie(const struct sip_tx_str *b)
{
	return b->len > 7 && memcmp(b->p, MAGIC, 7) == 0;
}

static size_t put(char *dst, size_t at, const struct sip_tx_str *s, int lower)
{
	size_t i;

	for (i = 0; i < s->len; i++)
		dst[at + i] = lower ? (char)tolower((unsigned char)s->p[i])
				    : s->p[i];
	dst[at + s->len] = '\n';
	return at + s->len + 1;
}

/* Length of the normalised key tx_make_key() would build. */
size_t tx_key_len(const struct sip_tx_key *key, int client)
{
	size_t n = 2 + key->method.len + 1;

	if (client || has_cookie(&key->branch))
		return n + key->branch.len + 1 +
		       (client ? 0 : key->sent_by.len + 1);
	return n + key->ruri.len + key->call_id.len + key->from_tag.len +
	       key->cseq_num.len + key->via.len + 5;
}

/*
 * Builds the normalised key into STACKBUF when it fits, else into a malloc'd
 * buffer (*bufp != stackbuf then; the caller frees it).
 */
int tx_make_key(const struct sip_tx_key *key, int client, char **bufp,
		size_t *lenp, char *stackbuf, size_t stacklen)
{
	struct sip_tx_str m = key->method, invite = { "INVITE", 6 };
	const struct sip_tx_str *parts[8];
	size_t n = 0, i, need = 2, at;
	char *b;

	if (!key->method.p || !key->method.len)
		return -EINVAL;
	if (is_ack(&m))
		m = invite;
	parts[n++] = &m;
	if (client || has_cookie(&key->branch)) {
		parts[n++] = &key->branch;
		if (!client)
			parts[n++] = &key->sent_by;
	} else {
		parts[n++] = &key->ruri;
		parts[n++] = &key->call_id;
		parts[n++] = &key->from_tag;
		parts[n++] = &key->cseq_num;
		parts[n++] = &key->via;
	}
	for (i = 0; i < n; i++)
		need += parts[i]->len + 1;
	b = need <= stacklen ? stackbuf : malloc(need);
	if (!b)
		return -ENOMEM;
	b[0] = client ? 'C' : 'S';
	b[1] = '\n';
	at = 2;
	for (i = 0; i < n; i++)
		at = put(b, at, parts[i], parts[i] == &key->sent_by);
	*bufp = b;
	*lenp = at;
	return 0;
}

struct sip_tx *tx_lookup(struct sip_tx_table *tbl, const char *k, size_t klen,
			 uint64_t *hashp)
{
	uint64_t h = hmap_hash(k, klen);
	struct hmap_node *n;

	if (hashp)
		*hashp = h;
	hmap_for_each_hash(&tbl->txs, n, h) {
		struct sip_tx *tx = HMAP_ENTRY(n, struct sip_tx, node);

		if (tx->key_len == klen && memcmp(tx->key, k, klen) == 0)
			return tx;
	}
	return NULL;
}

int tx_insert(struct sip_tx_table *tbl, const struct sip_tx_key *key,
	      int client, const void *peer, size_t peer_len, int reliable,
	      struct sip_tx **out)
{
	char sb[512], *k;
	size_t klen;
	struct sip_tx *tx;
	uint64_t h;
	int err;

	if (peer_len > SIP_TX_PEER_MAX)
		return -EINVAL;
	err = tx_make_key(key, client, &k, &klen, sb, sizeof(sb));
	if (err)
		return err;
	if (tx_lookup(tbl, k, klen, &h)) {
		err = -EEXIST;
		goto out;
	}
	tx = calloc(1, sizeof(*tx));
	if (!tx) {
		err = -ENOMEM;
		goto out;
	}
	tx->key = malloc(klen);
	if (!tx->key) {
		free(tx);
		err = -ENOMEM;
		goto out;
	}
	memcpy(tx->key, k, klen);
	tx->key_len = klen;
	tx->tbl = tbl;
	if (tx_charge(tx, &key->source)) {
		free(tx->key);
		free(tx);
		err = -ENOMEM;
		goto out;
	}
	tx->heap_idx = TX_NO_HEAP;
	tx->client = !!client;
	tx->reliable = !!reliable;
	tx->invite = key->method.len == 6 && !memcmp(key->method.p, "INVITE", 6);
	if (peer_len)
		memcpy(tx->peer, peer, peer_len);
	tx->peer_len = peer_len;
	hmap_insert(&tbl->txs, &tx->node, h);
	/* room for it; it cannot be evicted itself before its answer */
	err = tx_make_room(tbl, tx->src);
	if (err) {
		tbl->refused++;
		tx_destroy(tx);
		goto out;
	}
	*out = tx;
out:
	if (k != sb)
		free(k);
	return err;
}

/* Unlinks TX from its chain and the heap and frees it. */
void tx_destroy(struct sip_tx *tx)
{
	struct sip_tx_table *tbl = tx->tbl;

	hmap_remove(&tbl->txs, &tx->node); /* -ENOENT: never linked */
	tx_heap_remove(tbl, tx);
	tx_uncharge(tx);
	free(tx->key);
	free(tx->msg);
	free(tx->ack);
	free(tx->to_tag);
	free(tx);
}

void sip_tx_free(struct sip_tx *tx)
{
	if (tx)
		tx_destroy(tx);
}

void tx_send(struct sip_tx *tx, const char *buf, size_t len)
{
	struct sip_tx_table *tbl = tx->tbl;

	if (buf && len && tbl->ops && tbl->ops->send)
		tbl->ops->send(tbl->arg, tx->peer, tx->peer_len, buf, len);
}

int sip_tx_table_new(const struct sip_tx_ops *ops, void *arg,
		     const struct sip_tx_timers *timers,
		     struct sip_tx_table **out)
{
	struct sip_tx_table *tbl = calloc(1, sizeof(*tbl));

	int err;

	if (!tbl)
		return -ENOMEM;
	tbl->ops = ops;
	tbl->arg = arg;
	tbl->tm = timers ? *timers : tx_default_timers;
	if (!tbl->tm.t1 || !tbl->tm.t2 || !tbl->tm.t4) {
		free(tbl);
		return -EINVAL;
	}
	err = hmap_init(&tbl->txs, 256);
	if (err) {
		free(tbl);
		return err;
	}
	err = tx_sources_init(tbl);
	if (err) {
		hmap_destroy(&tbl->txs);
		free(tbl);
		return err;
	}
	*out = tbl;
	return 0;
}

void sip_tx_table_free(struct sip_tx_table *tbl)
{
	struct hmap_iter it;
	struct hmap_node *n;

	if (!tbl)
		return;
	hmap_for_each(&tbl->txs, it, n) {
		struct sip_tx *tx = HMAP_ENTRY(n, struct sip_tx, node);

		free(tx->key);
		free(tx->msg);
		free(tx->ack);
		free(tx->to_tag);
		free(tx);
	}
	hmap_destroy(&tbl->txs);
	free(tbl->heap);
	tx_sources_free(tbl);
	free(tbl);
}

size_t sip_tx_count(const struct sip_tx_table *tbl)
{
	return hmap_count(&tbl->txs);
}

/* ------------------------------------------------------------ server side */

/*
 * RFC 2543 fallback: the To tag must match too, except on an ACK (its To tag
 * is the one our final response added, which the INVITE did not carry).
 */
static int tx_to_tag_matches(const struct sip_tx *tx,
			     const struct sip_tx_key *key)
{
	if (!tx->rfc2543 || is_ack(&key->method))
		return 1;
	return tx->to_tag_len == key->to_tag.len &&
	       (!tx->to_tag_len ||
		memcmp(tx->to_tag, key->to_tag.p, tx->to_tag_len) == 0);
}

int sip_tx_server_receive(struct sip_tx_table *tbl, const struct sip_tx_key *key,
			  uint64_t now_ms, enum sip_tx_verdict *out)
{
	char sb[512], *k;
	size_t klen;
	struct sip_tx *tx;
	int err;

	if (!key->method.p || !key->method.len)
		return -EINVAL;
	if (tbl->lim.max_key && tx_key_len(key, 0) > tbl->lim.max_key) {
		*out = SIP_TX_NEW; /* never kept, so nothing to match */
		return 0;
	}
	err = tx_make_key(key, 0, &k, &klen, sb, sizeof(sb));
	if (err)
		return err;
	tx = tx_lookup(tbl, k, klen, NULL);
	if (k != sb)
		free(k);
	if (!tx || tx->state == SIP_TX_TERMINATED || !tx_to_tag_matches(tx, key)) {
		*out = SIP_TX_NEW;
		return 0;
	}
	if (is_ack(&key->method)) {
		if (tx->invite && tx->state == SIP_TX_COMPLETED) {
			/* 17.2.1: ACK stops G and H; timer I absorbs more ACKs */
			tx->state = SIP_TX_CONFIRMED;
			tx->t_retx = 0;
			tx->t_end = now_ms + (tx->reliable ? 0 : tbl->tm.t4);
			tx_heap_update(tbl, tx);
		}
	} else if (tx->state == SIP_TX_PROCEEDING ||
		   tx->state == SIP_TX_COMPLETED) {
		tx_send(tx, tx->msg, tx->msg_len);
	}
	*out = SIP_TX_ABSORBED;
	return 0;
}

int sip_tx_server_new(struct sip_tx_table *tbl, const struct sip_tx_key *key,
		      const void *peer, size_t peer_len, int reliable,
		      uint64_t now_ms, struct sip_tx **out)
{
	struct sip_tx *tx;
	int err;

	if (is_ack(&key->method))
		return -EINVAL;
	if (tbl->lim.max_key && tx_key_len(key, 0) > tbl->lim.max_key) {
		tbl->refused++;
		return -E2BIG;
	}
	err = tx_insert(tbl, key, 0, peer, peer_len, reliable, &tx);
	if (err)
		return err;
	tx->state = tx->invite ? SIP_TX_PROCEEDING : SIP_TX_TRYING;
	if (!has_cookie(&key->branch)) {
		tx->rfc2543 = 1;
		err = tx_store(&tx->to_tag, &tx->to_tag_len, key->to_tag.p,
			       key->to_tag.len);
		if (err) {
			tx_destroy(tx);
			return err;
		}
		tx_cost_add(tx, tx->to_tag_len, 0);
	}
	*out = tx;
	return 0;
}

int sip_tx_server_respond(struct sip_tx *tx, int status, const char *buf,
			  size_t len, uint64_t now_ms)
{
	struct sip_tx_table *tbl = tx->tbl;
	size_t old;
	int err;

	if (tx->client || status < 100 || status > 699)
		return -EINVAL;
	if (tx->state != SIP_TX_TRYING && tx->state != SIP_TX_PROCEEDING)
		return -EALREADY;
	if (tbl->lim.max_msg && len > tbl->lim.max_msg) {
		/* too big to keep: answered, but as if statelessly */
		tx_send(tx, buf, len);
		tbl->refused++;
		tx_destroy(tx);
		return 0;
	}
	old = tx->msg_len;
	err = tx_store(&tx->msg, &tx->msg_len, buf, len);
	if (err)
		return err;
	tx_cost_add(tx, len, old);
	tx->last_status = status;
	tx_send(tx, buf, len);
	if (status < 200) {
		tx->state = SIP_TX_PROCEEDING;
		return 0;
	}
	if (tx->invite && status < 300) {
		/* RFC 3261 17.2.1: a 2xx ends the INVITE tx; the TU resends it */
		tx_destroy(tx);
		return 0;
	} else if (tx->invite) {
		tx->state = SIP_TX_COMPLETED;
		if (!tx->reliable) {
			tx->retx_ivl = tbl->tm.t1; /* timer G */
			tx->t_retx = now_ms + tx->retx_ivl;
		}
		tx->t_end = now_ms + 64ULL * tbl->tm.t1; /* timer H */
	} else {
		tx->state = SIP_TX_COMPLETED;
		/* timer J: 64*T1 over UDP, zero over reliable transports */
		if (tx->reliable) {
			tx_destroy(tx);
			return 0;
		}
		tx->t_end = now_ms + 64ULL * tbl->tm.t1;
	}
	err = tx_heap_update(tbl, tx);
	if (err)
		return err;
	/* only absorbing from now on: evictable, and the stored answer may
	 * have taken the table over its budget (this tx may go too) */
	tx_settle(tx);
	tx_make_room(tbl, tx->src);
	return 0;
}

/* ------------------------------------------------------------ timers */

static void tx_fire(struct sip_tx_table *tbl, struct sip_tx *tx, uint64_t now)
{
	if (tx->t_end && tx->t_end <= now) {
		int timed_out = tx->client && (tx->state == SIP_TX_CALLING ||
					       tx->state == SIP_TX_TRYING ||
					       tx->state == SIP_TX_PROCEEDING);
		/* timer B/F: a client tx with no final answer; H, I, J, K, D:
		 * the end of absorbing retransmissions */
		if (timed_out && tbl->ops && tbl->ops->timeout)
			tbl->ops->timeout(tbl->arg, tx);
		tx_destroy(tx);
		return;
	}
	if (tx->t_retx && tx->t_retx <= now) {
		if (tx->client) {
			tx_send(tx, tx->msg, tx->msg_len); /* timer A / E */
			if (tx->invite)
				tx->retx_ivl *= 2;
			else if (tx->state == SIP_TX_PROCEEDING)
				tx->retx_ivl = tbl->tm.t2;
			else
				tx->retx_ivl = tx->retx_ivl * 2 < tbl->tm.t2 ?
					tx->retx_ivl * 2 : tbl->tm.t2;
		} else {
			tx_send(tx, tx->msg, tx->msg_len); /* timer G */
			tx->retx_ivl = tx->retx_ivl * 2 < tbl->tm.t2 ?
				tx->retx_ivl * 2 : tbl->tm.t2;
		}
		tx->t_retx = now + tx->retx_ivl;
	}
	tx_heap_update(tbl, tx);
}

void sip_tx_process(struct sip_tx_table *tbl, uint64_t now_ms)
{
	while (tbl->heap_len && tx_deadline(tbl->heap[0]) <= now_ms)
		tx_fire(tbl, tbl->heap[0], now_ms);
}

uint64_t sip_tx_next_deadline(const struct sip_tx_table *tbl)
{
	return tbl->heap_len ? tx_deadline(tbl->heap[0]) : UINT64_MAX;
}

enum sip_tx_state sip_tx_state(const struct sip_tx *tx)
{
	return tx->state;
}

int sip_tx_is_invite(const struct sip_tx *tx)
{
	return tx->invite;
}

void sip_tx_set_user(struct sip_tx *tx, void *user)
{
	tx->user = user;
}

void *sip_tx_user(const struct sip_tx *tx)
{
	return tx->user;
}

const char *sip_tx_state_name(enum sip_tx_state st)
{
	static const char *const names[] = {
		"calling", "trying", "proceeding", "completed", "confirmed",
		"terminated",
	};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st]
							      : "?";
}
