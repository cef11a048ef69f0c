/*
 * dispatch: what the server does with one SIP message (RFC 3261 s.8.2 UAS
 * behaviour, s.18.2 server transport rules, RFC 3581 rport, the
 * application-level answers of RFC 4475 s.3.3).
 *
 * Order of checks for a request, each answering at most once:
 *   parse error -> 400/505/413 when a response can be built, else drop;
 *   UDP: the transaction layer absorbs retransmissions (ACK included);
 *   CSeq method != request method -> 400; Request-URI not sip/sips -> 416;
 *   Max-Forwards 0 on a request we would have to forward -> 483;
 *   Require with an option we do not support -> 420 + Unsupported;
 *   then REGISTER -> registrar, OPTIONS -> 200, CANCEL/BYE -> 481,
 *   other known methods -> 405 + Allow, unknown -> 501. ACK: nothing.
 * Responses are dropped (the server runs no client transactions yet).
 *
 * Over UDP a REGISTER that passed digest authentication (with a nonce
 * bound to its source address) gets a server transaction (lib/sip tx) so a
 * retransmission is answered with the stored response instead of being
 * run again (its nonce-count would look like a replay); everything else,
 * above all whatever a stranger sends, is answered statelessly (RFC 3261
 * s.8.2.7, as Kamailio's sl_send_reply does): a stranger's datagram leaves
 * no state behind, and the table (bounded, shared fairly per source IP,
 * lib/sip/tx_budget.c) holds only what proven clients caused. Over TCP/TLS
 * a server transaction would end (timer J = 0) in the call that created it,
 * since every answer here is final and synchronous, so none is kept.
 *
 * Amplification: over UDP the source address may be spoofed, so an answer
 * to a source that has not proven it is there (r->proven) may be at most
 * SIPD_AMP_FACTOR times the request; anything bigger is dropped and
 * counted. The registrar trims a 401 to its preferred challenge when both
 * would not fit (registrar.c, reg_challenge).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "sipd.h"
#include "regcache.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../store/store.h"
#include "dataline/log.h"

#define SIPD_ALLOW "REGISTER, OPTIONS, ACK, CANCEL, BYE"
#define SIPD_SUPPORTED "path"

uint64_t sipd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The opaque peer the transaction layer keeps for UDP resends. */
struct udp_blob {
	int fd;
	socklen_t len;
	union sipd_addr addr;
};
_Static_assert(sizeof(struct udp_blob) <= SIP_TX_PEER_MAX, "peer blob");

int sipd_send(struct sipd *w, const struct sipd_peer *peer,
	      const union sipd_addr *dest, const char *buf, size_t len)
{
	if (peer->tp != SIPD_UDP)
		return peer->conn ? stream_send(peer->conn, buf, len) : -ENOTCONN;
	if (!dest)
		dest = &peer->addr;
	return udp_send(w, dest, dest->sa.sa_family == AF_INET6 ?
			sizeof(dest->sin6) : sizeof(dest->sin), buf, len);
}

static int tx_send_cb(void *arg, const void *peer, size_t peer_len,
		      const char *buf, size_t len)
{
	struct sipd *w = arg;
	struct udp_blob b;

	if (peer_len != sizeof(b))
		return -EINVAL;
	memcpy(&b, peer, sizeof(b));
	if (b.fd == w->udp_fd)
		return udp_send(w, &b.addr, b.len, buf, len);
	if (sendto(b.fd, buf, len, MSG_DONTWAIT, &b.addr.sa, b.len) < 0)
		return -errno;
	return 0;
}

const struct sip_tx_ops sipd_tx_ops = { tx_send_cb, NULL };

size_t sipd_addr_ip(const union sipd_addr *a, const uint8_t **ip)
{
	if (a->sa.sa_family == AF_INET6) {
		*ip = a->sin6.sin6_addr.s6_addr;
		return 16;
	}
	if (a->sa.sa_family == AF_INET) {
		*ip = (const uint8_t *)&a->sin.sin_addr;
		return 4;
	}
	*ip = NULL;
	return 0;
}

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
	sipd_tx_arm(w);
}

/* Keeps one timer at the table's earliest deadline. */
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

/* ------------------------------------------------------------ replies */

static void reply_dest(struct sipd_reply *r, union sipd_addr *dest)
{
	const struct sip_msg *m = r->req;

	/* RFC 3261 18.2.2 + RFC 3581: the source address; the source port
	 * with rport, else the Via port (5060 by default). A request that
	 * failed to parse before its Via was decoded (m->nvia == 0: a bad
	 * start line, too many header lines, a missing From, ...) has no
	 * Via port to trust: its 400/413 goes to the source port, which is
	 * also what rport would have asked for. */
	*dest = r->peer->addr;
	if (r->peer->tp == SIPD_UDP && m->nvia && !m->via.rport_present) {
		uint16_t port = m->via.port ? m->via.port : 5060;
		if (dest->sa.sa_family == AF_INET6)
			dest->sin6.sin6_port = htons(port);
		else
			dest->sin.sin_port = htons(port);
	}
}

/*
 * A To tag (RFC 3261 s.19.3: cryptographically random, 32 bits or more):
 * 8 bytes of OpenSSL's CSPRNG, hex. The bytes are drawn 512 at a time per
 * worker, as one RAND_bytes call per tag cost more than the tag is worth;
 * each byte is used once.
 */
static void reply_to_tag(struct sipd *w, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (cap < 17 || (w->rnd_used + 8 > sizeof(w->rnd) &&
			 RAND_bytes(w->rnd, sizeof(w->rnd)) != 1)) {
		sip_rand_hex(out, cap, 8);
		return;
	}
	if (w->rnd_used + 8 > sizeof(w->rnd))
		w->rnd_used = 0;
	for (i = 0; i < 8; i++) {
		uint8_t v = w->rnd[w->rnd_used + i];
		out[2 * i] = hex[v >> 4];
		out[2 * i + 1] = hex[v & 15];
	}
	out[16] = '\0';
	OPENSSL_cleanse(w->rnd + w->rnd_used, 8);
	w->rnd_used += 8;
}

void sipd_reply_begin(struct sipd_reply *r, int status, const char *reason)
{
	const struct sip_msg *m = r->req;
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;
	struct sip_via_fix fix;

	sipd_addr_str(&r->peer->addr, ip, sizeof(ip), &port);
	fix.received = sip_str_caseeq(m->via.host, ip) ? NULL : ip;
	fix.rport = port;
	r->status = status;
	if (!r->to_tag[0] && status > 100 && !sip_str_present(m->to.tag))
		reply_to_tag(r->w, r->to_tag, sizeof(r->to_tag));
	sip_buf_init(&r->b, r->w->txbuf, r->w->txcap);
	/* received=/rport= need a NUL-terminated IP alive until here */
	sip_resp_begin(&r->b, m, status, reason,
		       sip_str_present(m->to.tag) ? NULL : r->to_tag, &fix);
	sip_buf_hdr(&r->b, "Server", "dataline-server");
}

/* A reply held until the batch's transaction commits. */
struct sipd_pending {
	struct sipd_pending *next;
	uint64_t t0_us;              /* REGISTER arrival, 0 for others */
	struct sip_tx *tx;           /* borrowed from the table, or NULL */
	struct sipd_peer peer;
	union sipd_addr dest;
	int status;
	size_t len;
	char buf[];
};

uint64_t sipd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void reply_out(struct sipd *w, struct sip_tx *tx,
		      const struct sipd_peer *peer, const union sipd_addr *dest,
		      int status, const char *buf, size_t len, uint64_t t0_us)
{
	if (tx) {
		sip_tx_server_respond(tx, status, buf, len, sipd_now_ms());
		sipd_tx_arm(w);
	} else {
		sipd_send(w, peer, dest, buf, len);
	}
	/* REGISTER latency: arrival to the final answer leaving (after the
	 * group commit when there was one) */
	if (t0_us)
		metrics_register_latency_us(sipd_now_us() - t0_us);
}

/*
 * Stateful only where it matters: a REGISTER that got past authentication
 * changed (or read) bindings with a nonce-count that cannot be used twice,
 * so its retransmissions must get this same answer. Challenges and OPTIONS
 * are answered statelessly (RFC 3261 s.8.2.7), which keeps the table (and
 * its 32 s of timer J per entry) to the requests that need it.
 */
static struct sip_tx *reply_tx(struct sipd_reply *r, const union sipd_addr *dest)
{
	struct udp_blob blob;
	struct sip_tx *tx;

	if (!r->have_key || !r->proven || !r->w->tx || r->status < 200 ||
	    r->req->method_id != SIP_METHOD_REGISTER || r->status == 401 ||
	    r->status == 407)
		return NULL;
	memset(&blob, 0, sizeof(blob));
	blob.fd = r->w->udp_fd;
	blob.addr = *dest;
	blob.len = dest->sa.sa_family == AF_INET6 ? sizeof(dest->sin6)
						  : sizeof(dest->sin);
	if (sip_tx_server_new(r->w->tx, &r->key, &blob, sizeof(blob), 0,
			      sipd_now_ms(), &tx) != 0) {
		sipd_tx_metrics(r->w);
		return NULL; /* answer statelessly */
	}
	return tx;
}

size_t sipd_reply_room(const struct sipd_reply *r)
{
	size_t cap = SIPD_AMP_FACTOR * r->req_len;

	if (r->peer->tp != SIPD_UDP || r->proven)
		return SIZE_MAX;
	return cap > r->b.len + SIPD_REPLY_TAIL ? cap - r->b.len -
						  SIPD_REPLY_TAIL : 0;
}

int sipd_reply_send(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct sipd *w = r->w;
	struct sipd_pending *p;
	union sipd_addr dest;
	struct sip_tx *tx;
	size_t len;
	uint64_t t0;
	int err;
	const char *mname;

	err = sip_msg_end(&r->b, NULL, NULL, 0, &len);
	if (err) {
		log_warn("sip: response %d does not fit (%d); sending 500",
			 r->status, err);
		sipd_reply_begin(r, 500, "Response Too Large");
		err = sip_msg_end(&r->b, NULL, NULL, 0, &len);
		if (err)
			return err;
	}
	if (r->peer->tp == SIPD_UDP && !r->proven &&
	    len > SIPD_AMP_FACTOR * r->req_len) {
		log_debug("sip: %d of %zu bytes to an unproven source for %zu "
			  "in; dropped", r->status, len, r->req_len);
		metrics_inc(METRICS_SIP_AMP_DROPS);
		r->have_key = 0;
		return 0;
	}
	if (r->status >= 200) {
		mname = sip_method_name(m->method_id);
		metrics_sip_request(mname ? mname : "other", r->status);
	}
	reply_dest(r, &dest);
	tx = reply_tx(r, &dest);
	r->have_key = 0; /* one final answer per request */
	t0 = r->status >= 200 && m->method_id == SIP_METHOD_REGISTER ? r->t0_us
								     : 0;
	if (!w->txn_open) {
		reply_out(w, tx, r->peer, &dest, r->status, r->b.p, len, t0);
		return 0;
	}
	/* hold it (in order) until the transaction commits */
	p = malloc(sizeof(*p) + len);
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->t0_us = t0;
	p->tx = tx;
	p->peer = *r->peer;
	p->dest = dest;
	p->status = r->status;
	p->len = len;
	memcpy(p->buf, r->b.p, len);
	*w->pend_tail = p;
	w->pend_tail = &p->next;
	return 0;
}

/* ------------------------------------------------------------ group commit */

void sipd_batch_begin(struct sipd *w)
{
	w->batching = 1;
}

static void pending_flush(struct sipd *w, int send)
{
	struct sipd_pending *p = w->pend, *n;

	for (; p; p = n) {
		n = p->next;
		if (send)
			reply_out(w, p->tx, &p->peer, &p->dest, p->status,
				  p->buf, p->len, p->t0_us);
		/* a tx whose answer is dropped must not absorb the
		 * client's retransmission, which gets a fresh try */
		else
			sip_tx_free(p->tx);
		free(p);
	}
	w->pend = NULL;
	w->pend_tail = &w->pend;
}

int sipd_write_begin(struct sipd *w)
{
	int err;

	if (w->txn_open)
		return 0;
	pthread_mutex_lock(&w->sh->write_lock);
	err = store_begin(w->store);
	if (err) {
		pthread_mutex_unlock(&w->sh->write_lock);
		return err;
	}
	w->txn_open = 1;
	regcache_txn_begin(w->sh->rc);
	return 0;
}

static int write_commit(struct sipd *w)
{
	int err;

	if (!w->txn_open)
		return 0;
	err = store_commit(w->store);
	if (err)
		store_rollback(w->store);
	regcache_txn_end(w->sh->rc, err == 0, w->store);
	w->txn_open = 0;
	pthread_mutex_unlock(&w->sh->write_lock);
	if (err)
		log_err("sip: registrar commit failed (%d); dropping replies",
			err);
	pending_flush(w, err == 0);
	return err;
}

int sipd_write_end(struct sipd *w)
{
	return w->batching ? 0 : write_commit(w);
}

void sipd_write_abort(struct sipd *w)
{
	if (w->txn_open) {
		store_rollback(w->store);
		regcache_txn_end(w->sh->rc, 0, w->store);
		w->txn_open = 0;
		pthread_mutex_unlock(&w->sh->write_lock);
	}
	pending_flush(w, 0);
}

void sipd_batch_end(struct sipd *w)
{
	w->batching = 0;
	write_commit(w);
}

int sipd_reply_simple(struct sipd_reply *r, int status, const char *reason)
{
	sipd_reply_begin(r, status, reason);
	return sipd_reply_send(r);
}

/* ------------------------------------------------------------ requests */

static void reply_options(struct sipd_reply *r)
{
	sipd_reply_begin(r, 200, NULL);
	sip_buf_hdr(&r->b, "Allow", SIPD_ALLOW);
	sip_buf_hdr(&r->b, "Accept", "application/sdp");
	sip_buf_hdr(&r->b, "Accept-Encoding", "identity");
	sip_buf_hdr(&r->b, "Accept-Language", "en");
	sip_buf_hdr(&r->b, "Supported", SIPD_SUPPORTED);
	sipd_reply_send(r);
}

/* 420 when Require names an option we lack (RFC 3261 8.2.2.3). */
static int check_require(struct sipd_reply *r)
{
	struct sip_list_iter it;
	struct sip_str v;
	char bad[512];
	size_t n = 0;
	int rc;

	if (!sip_msg_hdr(r->req, SIP_HDR_REQUIRE))
		return 0;
	sip_list_init(&it, r->req, SIP_HDR_REQUIRE);
	while ((rc = sip_list_next(&it, &v)) == 0) {
		if (sip_str_caseeq(v, "path"))
			continue;
		if (n + v.len + 3 < sizeof(bad)) {
			n += (size_t)snprintf(bad + n, sizeof(bad) - n, "%s%.*s",
					      n ? ", " : "", (int)v.len, v.p);
		}
	}
	if (rc == -EBADMSG) {
		sipd_reply_simple(r, 400, "Bad Require");
		return -1;
	}
	if (!n)
		return 0;
	sipd_reply_begin(r, 420, NULL);
	sip_buf_hdr(&r->b, "Unsupported", "%s", bad);
	sipd_reply_send(r);
	return -1;
}

static void tx_key_fill(const struct sip_msg *m, const struct sipd_peer *peer,
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

static void handle_request(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct sipd *w = r->w;

	/* Only a REGISTER carrying credentials can end in a stateful answer
	 * (reply_tx); every other request is answered statelessly, so its
	 * retransmissions need no lookup either. */
	if (r->peer->tp == SIPD_UDP && w->tx &&
	    m->method_id == SIP_METHOD_REGISTER &&
	    sip_msg_hdr(m, SIP_HDR_AUTHORIZATION)) {
		struct sip_str via;
		enum sip_tx_verdict v;

		tx_key_fill(m, r->peer, &r->key, r->sent_by, sizeof(r->sent_by), r->cseq,
			    sizeof(r->cseq), &via);
		if (sip_tx_server_receive(w->tx, &r->key, sipd_now_ms(), &v) == 0 &&
		    v == SIP_TX_ABSORBED) {
			log_debug("sip: absorbed a retransmitted %.*s",
				  (int)m->method.len, m->method.p);
			return;
		}
		r->have_key = 1;
	}

	if (m->method_id == SIP_METHOD_ACK)
		return; /* nothing of ours to acknowledge */
	if (!sip_str_eq(m->cseq.method, "") &&
	    (m->cseq.method.len != m->method.len ||
	     memcmp(m->cseq.method.p, m->method.p, m->method.len) != 0)) {
		sipd_reply_simple(r, 400, "CSeq Method Mismatch");
		return;
	}
	if (!m->ruri.is_sip) {
		sipd_reply_begin(r, 416, NULL);
		sipd_reply_send(r);
		return;
	}
	if (m->max_forwards == 0 && m->method_id != SIP_METHOD_REGISTER &&
	    m->method_id != SIP_METHOD_OPTIONS) {
		sipd_reply_simple(r, 483, NULL);
		return;
	}
	if (m->method_id != SIP_METHOD_CANCEL && check_require(r))
		return;
	switch (m->method_id) {
	case SIP_METHOD_REGISTER:
		reg_handle(r);
		break;
	case SIP_METHOD_OPTIONS:
		reply_options(r);
		break;
	case SIP_METHOD_CANCEL:
	case SIP_METHOD_BYE:
		sipd_reply_simple(r, 481, NULL);
		break;
	case SIP_METHOD_OTHER:
		sipd_reply_begin(r, 501, NULL);
		sip_buf_hdr(&r->b, "Allow", SIPD_ALLOW);
		sipd_reply_send(r);
		break;
	default:
		sipd_reply_begin(r, 405, NULL);
		sip_buf_hdr(&r->b, "Allow", SIPD_ALLOW);
		sipd_reply_send(r);
		break;
	}
}

void sipd_input(struct sipd *w, const struct sipd_peer *peer,
		const char *buf, size_t len)
{
	struct sip_msg msg;
	struct sip_parse_error perr;
	struct sipd_reply r;
	size_t i;
	int err;

	/* a datagram of only CR/LF is a keep-alive; nothing to answer */
	for (i = 0; i < len && (buf[i] == '\r' || buf[i] == '\n'); i++)
		;
	if (i == len)
		return;

	memset(&r, 0, sizeof(r));
	r.w = w;
	r.peer = peer;
	r.req = &msg;
	r.req_len = len;
	r.proven = peer->tp != SIPD_UDP;
	r.t0_us = sipd_now_us();
	memset(&perr, 0, sizeof(perr));
	err = sip_msg_parse(buf, len, peer->tp == SIPD_UDP ? SIP_PARSE_DGRAM
							   : SIP_PARSE_STREAM,
			    &msg, &perr);
	if (err) {
		metrics_inc(METRICS_SIP_PARSE_ERRORS);
		log_debug("sip: parse error %d (%s)", err,
			  perr.reason ? perr.reason : "?");
		if (perr.is_request == 1 && perr.can_reply && perr.status)
			sipd_reply_simple(&r, perr.status, perr.reason);
		return;
	}
	if (!msg.is_request)
		return; /* no client transactions on the server yet */
	handle_request(&r);
}

/*
 * A message over --max-msg-size: answer 513 Message Too Large when its head
 * (up to the blank line, within what we hold) names the Via/From/To/
 * Call-ID/CSeq needed for a response (RFC 3261 s.21.5.14), else drop.
 */
void sipd_too_large(struct sipd *w, const struct sipd_peer *peer,
		    const char *buf, size_t len)
{
	struct sip_msg msg;
	struct sip_parse_error perr;
	struct sipd_reply r;
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	int err;

	metrics_inc(METRICS_SIP_OVERSIZE);
	if (!end)
		return;
	memset(&perr, 0, sizeof(perr));
	/* the head alone, without the body it announces */
	err = sip_msg_parse(buf, (size_t)(end - buf) + 4, SIP_PARSE_DGRAM, &msg,
			    &perr);
	if (err && !(perr.is_request == 1 && perr.can_reply))
		return;
	if (!err && !msg.is_request)
		return;
	memset(&r, 0, sizeof(r));
	r.w = w;
	r.peer = peer;
	r.req = &msg;
	r.req_len = len;
	r.proven = peer->tp != SIPD_UDP;
	sipd_reply_simple(&r, 513, NULL);
}
