/*
 * reply: building and sending the response to a request (RFC 3261 s.8.2.6
 * responses, s.18.2.2 where they go, RFC 3581 rport/received, s.19.3 To
 * tags), with the amplification budget towards unproven UDP sources and
 * the choice of which answers a server transaction keeps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "sipd.h"
#include "../core/metrics.h"
#include "dataline/log.h"

void sipd_reply_dest(struct sipd_reply *r, union sipd_addr *dest)
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

/* The answer leaves now; TX, if not NULL, is the server transaction that
 * keeps it. */
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
	 * writer's commit when there was one) */
	if (t0_us)
		metrics_register_latency_us(sipd_now_us() - t0_us);
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
	sipd_reply_dest(r, &dest);
	tx = r->tx ? r->tx : sipd_txn_keep(r, &dest);
	r->tx = NULL;
	r->have_key = 0; /* one final answer per request */
	t0 = r->status >= 200 && m->method_id == SIP_METHOD_REGISTER ? r->t0_us
								     : 0;
	reply_out(w, tx, r->peer, &dest, r->status, r->b.p, len, t0);
	return 0;
}

int sipd_reply_simple(struct sipd_reply *r, int status, const char *reason)
{
	sipd_reply_begin(r, status, reason);
	return sipd_reply_send(r);
}

/*
 * A reply that must wait for something off the loop (a commit on a
 * writer thread: a text's 202, a REGISTER's 200): the request is copied,
 * and re-parsed when the answer is known (parsing costs about a microsecond; keeping the parsed message
 * would mean keeping pointers into a buffer the loop reuses). A stream
 * peer is found again by its connection id; if it closed meanwhile the
 * answer is dropped (the client's transaction times out; a retry of the
 * same request is recognised by the caller's dedup key).
 */
struct sipd_deferred {
	struct sipd *w;
	struct sip_tx *tx;       /* UDP: the transaction opened for it */
	struct sipd_peer peer;
	uint64_t t0_us;
	size_t len;
	char buf[];
};

struct sipd_deferred *sipd_defer(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct sipd_deferred *d = malloc(sizeof(*d) + m->len + 1);

	if (!d)
		return NULL;
	d->w = r->w;
	d->tx = sipd_txn_open(r);
	d->peer = *r->peer;
	d->peer.conn = NULL;
	d->t0_us = r->t0_us;
	d->len = m->len;
	memcpy(d->buf, m->buf, m->len);
	d->buf[m->len] = '\0';
	return d;
}

int sipd_deferred_open(struct sipd_deferred *d, struct sip_msg *m,
		       struct sipd_reply *r)
{
	struct sip_parse_error perr;

	if (d->peer.tp != SIPD_UDP) {
		d->peer.conn = stream_find(d->w, d->peer.conn_id);
		if (!d->peer.conn)
			return -ENOTCONN;
	}
	if (sip_msg_parse(d->buf, d->len, d->peer.tp == SIPD_UDP ?
			  SIP_PARSE_DGRAM : SIP_PARSE_STREAM, m, &perr))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->w = d->w;
	r->peer = &d->peer;
	r->req = m;
	r->req_len = d->len;
	r->proven = 1; /* deferred only after authentication */
	r->t0_us = d->t0_us;
	r->tx = d->tx;
	d->tx = NULL;
	return 0;
}

void sipd_deferred_free(struct sipd_deferred *d)
{
	/* never answered: its transaction must not absorb the client's next
	 * try (after sipd_fini the table, and the tx with it, is gone) */
	if (d && d->tx && !sipd_closing(d->w))
		sip_tx_free(d->tx);
	free(d);
}
