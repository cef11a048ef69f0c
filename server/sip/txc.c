/*
 * txc: requests the server sends to devices (RFC 3261 s.17.1 client
 * transactions, with RFC 6026's timers through lib/sip tx), and where
 * their responses go.
 *
 * A request leaves from the worker that owns the flow (only the owner
 * writes to a stream connection; for UDP any worker could, but the owner
 * keeps the transaction). Its branch names that worker
 * ("z9hG4bK" "dl" WW "-" random, WW its number in hex): under
 * SO_REUSEPORT the response to a UDP request reaches whichever worker the
 * kernel hashes the device's address to, so a worker that finds no
 * transaction for a response with another worker's tag hands a copy to
 * that worker's mailbox.
 *
 * The completion callback runs exactly once, on the owner's thread, with
 * the final status: the device's 2xx-6xx, 408 when timer F (or B) fired,
 * or 430 Flow Failed (RFC 5626) when the flow was gone before the request
 * could leave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"
#include "call.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "dataline/log.h"

#define TXC_TAG "z9hG4bKdl"

struct txc_ctx {
	sipd_txc_cb cb;
	void *arg;
	struct sipd *w;              /* borrowed: the owner */
	struct sip_tx *tx;           /* borrowed: the table owns it */
	struct txc_ctx *prev, *next; /* w->txc_live, for sipd_txc_abort_all */
};

static void txc_unlink(struct txc_ctx *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->w->txc_live = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

int sipd_branch_for(const struct sipd *w, char *out, size_t cap)
{
	char rnd[33];
	int n;

	if (sip_rand_hex(rnd, sizeof(rnd), 12))
		return -EIO;
	n = snprintf(out, cap, TXC_TAG "%02x-%s", (unsigned)w->id & 0xff, rnd);
	return n > 0 && (size_t)n < cap ? 0 : -ENOSPC;
}

/* The worker a branch of ours names, or -1. */
static int branch_worker(struct sip_str b)
{
	const size_t tl = sizeof(TXC_TAG) - 1;
	unsigned v = 0;
	size_t i;

	if (b.len < tl + 3 || memcmp(b.p, TXC_TAG, tl) != 0 ||
	    b.p[tl + 2] != '-')
		return -1;
	for (i = tl; i < tl + 2; i++) {
		char c = b.p[i];
		v = v * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0'
					: c >= 'a' && c <= 'f' ? c - 'a' + 10
					: 99);
	}
	return v < 256 ? (int)v : -1;
}

static void txc_finish(struct sip_tx *tx, int status, const struct sip_msg *m)
{
	struct txc_ctx *c = sip_tx_user(tx);

	if (!c)
		return;
	sip_tx_set_user(tx, NULL);
	txc_unlink(c);
	c->cb(c->arg, status, m);
	free(c);
}

/* At shutdown: every callback still due runs now (503), so that nothing
 * its argument owns outlives the worker. */
void sipd_txc_abort_all(struct sipd *w)
{
	struct txc_ctx *c;

	while ((c = w->txc_live)) {
		sip_tx_set_user(c->tx, NULL);
		txc_unlink(c);
		c->cb(c->arg, 503, NULL);
		free(c);
	}
}

void sipd_txc_timeout(void *arg, struct sip_tx *tx)
{
	(void)arg;
	metrics_inc(METRICS_SIP_TXC_TIMEOUTS);
	txc_finish(tx, 408, NULL);
}

int sipd_txc_send(struct sipd *w, const struct sipd_flow *f,
		  const char *method, const char *branch, const char *buf,
		  size_t len, sipd_txc_cb cb, void *arg)
{
	unsigned char blob[SIP_TX_PEER_MAX];
	struct sip_tx_key key;
	struct txc_ctx *c;
	struct sip_tx *tx;
	size_t blen;
	int err;

	if (f->tp != SIPD_UDP && !stream_find(w, f->conn_id))
		return -ENOTCONN;
	if (f->tp == SIPD_UDP && w->udp_fd < 0)
		return -ENOTCONN;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cb = cb;
	c->arg = arg;
	memset(&key, 0, sizeof(key));
	key.branch.p = branch;
	key.branch.len = strlen(branch);
	key.method.p = method;
	key.method.len = strlen(method);
	sipd_txn_blob(f, blob, &blen);
	err = sip_tx_client_new(w->txc, &key, blob, blen, f->tp != SIPD_UDP, buf,
				len, sipd_now_ms(), &tx);
	if (err) {
		free(c);
		return err;
	}
	sip_tx_set_user(tx, c);
	c->w = w;
	c->tx = tx;
	c->prev = NULL;
	c->next = w->txc_live;
	if (c->next)
		c->next->prev = c;
	w->txc_live = c;
	metrics_inc(METRICS_SIP_TXC_SENT);
	sipd_tx_arm(w);
	return 0;
}

/* A response handed over from the worker that received it. */
struct txc_fwd {
	struct sipd *w;
	struct sipd_peer peer;
	size_t len;
	char buf[];
};

static void txc_fwd_cb(void *arg)
{
	struct txc_fwd *fw = arg;
	struct sip_parse_error perr;
	struct sip_msg m;

	if (sipd_closing(fw->w)) {
		free(fw);
		return;
	}
	if (sip_msg_parse(fw->buf, fw->len, SIP_PARSE_DGRAM, &m, &perr) == 0)
		sipd_response_in(fw->w, &fw->peer, &m);
	free(fw);
}

static void txc_forward(struct sipd *w, int to, const struct sipd_peer *peer,
			const struct sip_msg *m)
{
	struct sipd *dst = w->sh->workers[to];
	struct txc_fwd *fw = malloc(sizeof(*fw) + m->len + 1);

	if (!fw)
		return;
	fw->w = dst;
	fw->peer = *peer;
	fw->peer.conn = NULL; /* another thread's connection: not ours */
	fw->len = m->len;
	memcpy(fw->buf, m->buf, m->len);
	fw->buf[m->len] = '\0';
	if (mailbox_post(dst->mb, txc_fwd_cb, fw)) {
		metrics_inc(METRICS_MAILBOX_FULL);
		free(fw);
	}
}

void sipd_response_in(struct sipd *w, const struct sipd_peer *peer,
		      const struct sip_msg *m)
{
	struct sip_tx_key key;
	enum sip_tx_verdict v;
	struct sip_tx *tx = NULL;
	int owner, err;

	if (call_response_in(w, peer, m))
		return; /* a call's branch or hop (invite.c, callroute.c) */
	memset(&key, 0, sizeof(key));
	key.branch.p = m->via.branch.p;
	key.branch.len = m->via.branch.len;
	key.method.p = m->cseq.method.p;
	key.method.len = m->cseq.method.len;
	err = sip_tx_client_receive(w->txc, &key, m->status, NULL, 0,
				    sipd_now_ms(), &v, &tx);
	if (err == -ENOENT) {
		owner = branch_worker(m->via.branch);
		if (owner >= 0 && owner != w->id && owner < w->sh->nworkers &&
		    peer->tp == SIPD_UDP) {
			txc_forward(w, owner, peer, m);
			return;
		}
		log_debug("sip: stray %d response dropped", m->status);
		return;
	}
	if (err || v != SIP_TX_PASS || m->status < 200 || !tx)
		return;
	txc_finish(tx, m->status, m);
	sipd_tx_arm(w);
}
