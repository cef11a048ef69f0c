/*
 * tx_client: SIP client transactions (RFC 3261 s.17.1). Non-INVITE:
 * Trying -> Proceeding -> Completed with timers E (retransmit, T1 doubling
 * to T2, UDP only), F (64*T1 timeout) and K (T4 over UDP, 0 over reliable).
 * INVITE: Calling -> Proceeding -> Completed with timers A (retransmit, T1
 * doubling, UDP only), B (64*T1 timeout) and D (64*T1 over UDP, 0 over
 * reliable); the ACK for a 3xx-6xx is built by the caller and resent here.
 * Responses match on branch + CSeq method (17.1.3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tx_priv.h"

int sip_tx_client_new(struct sip_tx_table *tbl, const struct sip_tx_key *key,
		      const void *peer, size_t peer_len, int reliable,
		      const char *buf, size_t len, uint64_t now_ms,
		      struct sip_tx **out)
{
	struct sip_tx *tx;
	int err;

	if (!key->branch.len || !buf || !len)
		return -EINVAL;
	if (key->method.len == 3 && !memcmp(key->method.p, "ACK", 3))
		return -EINVAL; /* an ACK has no client transaction */
	err = tx_insert(tbl, key, 1, peer, peer_len, reliable, &tx);
	if (err)
		return err;
	err = tx_store(&tx->msg, &tx->msg_len, buf, len);
	if (err) {
		tx_destroy(tx);
		return err;
	}
	tx->state = tx->invite ? SIP_TX_CALLING : SIP_TX_TRYING;
	if (!reliable) {
		tx->retx_ivl = tbl->tm.t1;            /* timer A / E */
		tx->t_retx = now_ms + tx->retx_ivl;
	}
	tx->t_end = now_ms + 64ULL * tbl->tm.t1;      /* timer B / F */
	err = tx_heap_update(tbl, tx);
	if (err) {
		tx_destroy(tx);
		return err;
	}
	tx_send(tx, buf, len);
	*out = tx;
	return 0;
}

int sip_tx_client_receive(struct sip_tx_table *tbl, const struct sip_tx_key *key,
			  int status, const char *ack, size_t ack_len,
			  uint64_t now_ms, enum sip_tx_verdict *out,
			  struct sip_tx **txp)
{
	char sb[512], *k;
	size_t klen;
	struct sip_tx *tx;
	int err;

	if (status < 100 || status > 699)
		return -EINVAL;
	err = tx_make_key(key, 1, &k, &klen, sb, sizeof(sb));
	if (err)
		return err;
	tx = tx_lookup(tbl, k, klen, NULL);
	if (k != sb)
		free(k);
	if (!tx || tx->state == SIP_TX_TERMINATED)
		return -ENOENT;

	if (tx->state == SIP_TX_COMPLETED) {
		/* a retransmitted final response: absorb; resend our ACK */
		if (tx->invite && status >= 300)
			tx_send(tx, tx->ack, tx->ack_len);
		goto absorbed;
	}
	if (status < 200) {
		if (tx->state != SIP_TX_PROCEEDING) {
			tx->state = SIP_TX_PROCEEDING;
			if (tx->invite)
				tx->t_retx = 0;  /* 1xx stops timer A */
			else if (tx->t_retx) /* E continues at T2 */
				tx->retx_ivl = tbl->tm.t2;
		}
		goto pass;
	}
	tx->last_status = status;
	tx->t_retx = 0;
	if (tx->invite && status < 300) {
		tx->state = SIP_TX_TERMINATED;  /* the TU ACKs a 2xx itself */
		tx->t_end = TX_ASAP(now_ms);
	} else if (tx->invite) {
		tx->state = SIP_TX_COMPLETED;
		err = tx_store(&tx->ack, &tx->ack_len, ack, ack ? ack_len : 0);
		if (err)
			return err;
		tx_send(tx, tx->ack, tx->ack_len);
		/* timer D: at least 32 s over UDP, zero over reliable */
		tx->t_end = tx->reliable ? TX_ASAP(now_ms)
					 : now_ms + 64ULL * tbl->tm.t1;
	} else {
		tx->state = SIP_TX_COMPLETED;
		tx->t_end = tx->reliable ? TX_ASAP(now_ms)
					 : now_ms + tbl->tm.t4; /* timer K */
	}
	err = tx_heap_update(tbl, tx);
	if (err)
		return err;
pass:
	*out = SIP_TX_PASS;
	if (txp)
		*txp = tx;
	return 0;
absorbed:
	*out = SIP_TX_ABSORBED;
	if (txp)
		*txp = tx;
	return 0;
}
