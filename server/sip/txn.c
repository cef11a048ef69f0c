/*
 * txn: the worker's server transactions (RFC 3261 s.17.2, lib/sip tx):
 * which requests get one, the key a request is matched by (s.17.2.3),
 * the send callback for UDP resends, the timer and the /metrics gauges.
 *
 * Over UDP a REGISTER that passed digest authentication (with a nonce
 * bound to its source address) gets a server transaction so that a
 * retransmission is answered with the stored response instead of being run
 * again (its nonce-count would look like a replay); everything else, above
 * all whatever a stranger sends, is answered statelessly (s.8.2.7, as
 * Kamailio's sl_send_reply does): a stranger's datagram leaves no state
 * behind, and the table (bounded, shared fairly per source IP,
 * lib/sip/tx_budget.c) holds only what proven clients caused. Over TCP/TLS
 * a server transaction would end (timer J = 0) with its final answer, and
 * the client does not retransmit, so none is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "sipd.h"
#include "../core/metrics.h"
#include "dataline/log.h"

/* The opaque peer the transaction layer keeps for resends: the transport
 * and either the UDP address or the stream connection's id (a connection
 * may be gone by the time a timer fires: ids, not pointers). */
struct tx_blob {
	int tp;                  /* enum sipd_tp */
	socklen_t len;
	union sipd_addr addr;
	uint64_t conn_id;
};
_Static_assert(sizeof(struct tx_blob) <= SIP_TX_PEER_MAX, "peer blob");

static int tx_send_cb(void *arg, const void *peer, size_t peer_len,
		      const char *buf, size_t len)
{
	struct sipd *w = arg;
	struct stream_conn *c;
	struct tx_blob b;

	if (peer_len != sizeof(b))
		return -EINVAL;
	memcpy(&b, peer, sizeof(b));
	if (b.tp == SIPD_UDP)
		return udp_send(w, &b.addr, b.len, buf, len);
	c = stream_find(w, b.conn_id);
	return c ? stream_send(c, buf, len) : -ENOTCONN;
}

const struct sip_tx_ops sipd_tx_ops = { tx_send_cb, sipd_txc_timeout };

/* /metrics gets the deltas since the last call: the gauge is a sum over
 * workers, each adding what changed in its own table. */
void sipd_tx_metrics(struct sipd *w)
{
	struct sip_tx_stats st;

	if (!w->tx)
		return;
	sip_tx_stats(w->tx, &st);
	if (st.count != w->tx_seen.count)
		metrics_gauge_add(METRICS_SIP_TRANSACTIONS,
				  (int64_t)st.count - (int64_t)w->tx_seen.count);
	if (st.evicted != w->tx_seen.evicted)
		metrics_add(METRICS_SIP_TX_EVICTIONS,
			    st.evicted - w->tx_seen.evicted);
	if (st.refused != w->tx_seen.refused)
		metrics_add(METRICS_SIP_TX_STATELESS,
			    st.refused - w->tx_seen.refused);
	w->tx_seen = st;
}

static void tx_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sipd *w = arg;

	(void)fd;
	(void)what;
	sip_tx_process(w->tx, sipd_now_ms());
	if (w->txc)
		sip_tx_process(w->txc, sipd_now_ms());
	sipd_tx_arm(w);
}

/* Keeps one timer at the earliest deadline of both tables. */
void sipd_tx_arm(struct sipd *w)
{
	uint64_t d, now;
	struct timeval tv;

	if (!w->tx)
		return;
	sipd_tx_metrics(w);
	if (!w->tx_timer) {
		w->tx_timer = evtimer_new(w->base, tx_timer_cb, w);
		if (!w->tx_timer)
			return;
	}
	d = sip_tx_next_deadline(w->tx);
	if (w->txc && sip_tx_next_deadline(w->txc) < d)
		d = sip_tx_next_deadline(w->txc);
	if (d == UINT64_MAX) {
		evtimer_del(w->tx_timer);
		return;
	}
	now = sipd_now_ms();
	d = d > now ? d - now : 0;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	evtimer_add(w->tx_timer, &tv);
}

/*
 * Stateful only where it matters: a REGISTER that got past authentication
 * changed (or read) bindings with a nonce-count that cannot be used twice,
 * so its retransmissions must get this same answer. Challenges and OPTIONS
 * are answered statelessly (RFC 3261 s.8.2.7), which keeps the table (and
 * its 32 s of timer J per entry) to the requests that need it.
 */
/* A UDP server transaction for R's answers to DEST, or NULL (the table
 * refused: answer statelessly). */
static struct sip_tx *txn_server_udp(struct sipd_reply *r,
				     const union sipd_addr *dest)
{
	struct tx_blob blob;
	struct sip_tx *tx;

	memset(&blob, 0, sizeof(blob));
	blob.tp = SIPD_UDP;
	blob.addr = *dest;
	blob.len = dest->sa.sa_family == AF_INET6 ? sizeof(dest->sin6)
						  : sizeof(dest->sin);
	if (sip_tx_server_new(r->w->tx, &r->key, &blob, sizeof(blob), 0,
			      sipd_now_ms(), &tx) != 0) {
		sipd_tx_metrics(r->w);
		return NULL;
	}
	return tx;
}

struct sip_tx *sipd_txn_keep(struct sipd_reply *r, const union sipd_addr *dest)
{

	if (!r->have_key || !r->proven || !r->w->tx || r->status < 200 ||
	    (r->req->method_id != SIP_METHOD_REGISTER &&
	     r->req->method_id != SIP_METHOD_MESSAGE) || r->status == 401 ||
	    r->status == 407)
		return NULL;
	return txn_server_udp(r, dest);
}

static void txn_key_fill(const struct sip_msg *m, const struct sipd_peer *peer,
			struct sip_tx_key *k, char *sent_by, size_t cap,
			char *cseq, size_t ccap, struct sip_str *top_via)
{
	struct sip_list_iter it;
	const uint8_t *ip;
	int n;

	memset(k, 0, sizeof(*k));
	k->method.p = m->method.p;
	k->method.len = m->method.len;
	k->branch.p = m->via.branch.p;
	k->branch.len = m->via.branch.len;
	n = m->via.port ? snprintf(sent_by, cap, "%.*s:%u", (int)m->via.host.len,
				   m->via.host.p, m->via.port)
			: snprintf(sent_by, cap, "%.*s", (int)m->via.host.len,
				   m->via.host.p);
	k->sent_by.p = sent_by;
	k->sent_by.len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
	k->ruri.p = m->ruri_str.p;
	k->ruri.len = m->ruri_str.len;
	k->call_id.p = m->call_id.p;
	k->call_id.len = m->call_id.len;
	k->from_tag.p = m->from.tag.p;
	k->from_tag.len = m->from.tag.len;
	k->to_tag.p = m->to.tag.p;
	k->to_tag.len = m->to.tag.len;
	n = snprintf(cseq, ccap, "%u", m->cseq.num);
	k->cseq_num.p = cseq;
	k->cseq_num.len = (size_t)n;
	k->source.len = sipd_addr_ip(&peer->addr, &ip);
	k->source.p = (const char *)ip;
	*top_via = SIP_STR_NULL;
	sip_list_init(&it, m, SIP_HDR_VIA);
	if (sip_list_next(&it, top_via) == 0) {
		k->via.p = top_via->p;
		k->via.len = top_via->len;
	}
}

/* UDP: a retransmission of a request a live transaction answered is
 * absorbed (the stored answer is resent; while the answer is still being
 * worked out, nothing): returns 1. Only a REGISTER or a MESSAGE carrying
 * credentials can end in a stateful answer (sipd_txn_keep): their
 * nonce-count cannot be used twice, so a retransmission run again would
 * look like a replay. Every other request needs no lookup. */
int sipd_txn_absorb(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct sipd *w = r->w;
	struct sip_str via;
	enum sip_tx_verdict v;

	if (r->peer->tp != SIPD_UDP || !w->tx ||
	    !(m->method_id == SIP_METHOD_INVITE ||
	      m->method_id == SIP_METHOD_ACK ||
	      (m->method_id == SIP_METHOD_REGISTER &&
	       sip_msg_hdr(m, SIP_HDR_AUTHORIZATION)) ||
	      (m->method_id == SIP_METHOD_MESSAGE &&
	       sip_msg_hdr(m, SIP_HDR_PROXY_AUTHORIZATION))))
		return 0;
	txn_key_fill(m, r->peer, &r->key, r->sent_by, sizeof(r->sent_by),
		     r->cseq, sizeof(r->cseq), &via);
	if (sip_tx_server_receive(w->tx, &r->key, sipd_now_ms(), &v) == 0 &&
	    v == SIP_TX_ABSORBED) {
		log_debug("sip: absorbed a retransmitted %.*s",
			  (int)m->method.len, m->method.p);
		return 1;
	}
	r->have_key = 1;
	return 0;
}

/*
 * A transaction for an answer that comes later (a text's 202, a
 * REGISTER's 200 wait for a writer thread's commit): made now, in Trying,
 * so that retransmissions meanwhile are absorbed; the deferred reply then
 * responds through it (r->tx).
 */
struct sip_tx *sipd_txn_open(struct sipd_reply *r)
{
	union sipd_addr dest;
	struct sip_tx *tx;

	r->status = 200; /* a final answer is what it will get */
	sipd_reply_dest(r, &dest);
	tx = sipd_txn_keep(r, &dest);
	r->status = 0;
	r->have_key = 0;
	return tx;
}

/* The caller's side of a call (invite.c): an INVITE server transaction
 * over UDP, so that retransmitted INVITEs get the last provisional
 * again and a final non-2xx is retransmitted until its ACK (absorbed
 * above). NULL over streams or when the table refuses (then the call
 * answers without one). */
struct sip_tx *sipd_txn_invite(struct sipd_reply *r, const union sipd_addr *dest)
{
	if (!r->have_key || !r->w->tx || r->peer->tp != SIPD_UDP)
		return NULL;
	r->have_key = 0;
	return txn_server_udp(r, dest);
}

/* The peer blob of a flow, for a client transaction. */
void sipd_txn_blob(const struct sipd_flow *f, void *out, size_t *len)
{
	struct tx_blob b;

	memset(&b, 0, sizeof(b));
	b.tp = f->tp;
	b.addr = f->addr;
	b.len = f->addr.sa.sa_family == AF_INET6 ? sizeof(f->addr.sin6)
						 : sizeof(f->addr.sin);
	b.conn_id = f->conn_id;
	memcpy(out, &b, sizeof(b));
	*len = sizeof(b);
}
