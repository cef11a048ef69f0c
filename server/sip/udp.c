/*
 * udp: SIP over UDP (RFC 3261 s.18). Each worker binds its own socket to
 * the same address with SO_REUSEPORT; the kernel spreads peers over them by
 * their address hash, so a client's retransmissions always reach the worker
 * that holds its transaction. A read event drains up to a batch of
 * datagrams per wakeup, SIPD_UDP_RECV_BATCH per recvmmsg(2) call (one
 * system call, not one per datagram: on these VMs a system call costs
 * more than parsing a REGISTER).
 * Datagrams over --max-msg-size are answered 513 when possible (MSG_TRUNC
 * tells their real size).
 *
 * The answers of one burst are queued and leave in one sendmmsg(2) at its
 * end: one system call instead of one per answer, and the clients they
 * wake are woken together instead of preempting the worker once per
 * answer. Outside a burst (timer retransmissions) answers leave at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/event.h>

#include "sipd.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "dataline/stun.h"
#include "dataline/log.h"

#define UDP_BATCH 64
#define UDP_OUT_MAX UDP_BATCH        /* answers queued per burst */
#define UDP_OUT_ARENA (128 * 1024)   /* their bytes */

struct sipd_udp_out {
	int queuing;                 /* inside a read burst */
	unsigned n;                  /* queued answers */
	size_t used;                 /* of arena */
	struct mmsghdr msg[UDP_OUT_MAX];
	struct iovec iov[UDP_OUT_MAX];
	union sipd_addr to[UDP_OUT_MAX];
	char arena[UDP_OUT_ARENA];
};

static void udp_out_flush(struct sipd *w)
{
	struct sipd_udp_out *o = w->out;
	unsigned done = 0;
	int n;

	while (done < o->n) {
		n = sendmmsg(w->udp_fd, o->msg + done, o->n - done, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* like a lost datagram: the client retransmits */
			log_debug("sip: udp sendmmsg: %s", strerror(errno));
			done++; /* skip the one that failed, try the rest */
			continue;
		}
		done += (unsigned)n;
	}
	o->n = 0;
	o->used = 0;
}

int udp_send(struct sipd *w, const union sipd_addr *dest, socklen_t dlen,
	     const char *buf, size_t len)
{
	struct sipd_udp_out *o = w->out;
	unsigned i;

	if (!o || !o->queuing || len > UDP_OUT_ARENA) {
		if (sendto(w->udp_fd, buf, len, MSG_DONTWAIT, &dest->sa,
			   dlen) < 0) {
			log_debug("sip: udp send: %s", strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (o->n == UDP_OUT_MAX || o->used + len > UDP_OUT_ARENA)
		udp_out_flush(w);
	i = o->n++;
	memcpy(o->arena + o->used, buf, len);
	memcpy(&o->to[i], dest, dlen);
	o->iov[i].iov_base = o->arena + o->used;
	o->iov[i].iov_len = len;
	memset(&o->msg[i], 0, sizeof(o->msg[i]));
	o->msg[i].msg_hdr.msg_name = &o->to[i];
	o->msg[i].msg_hdr.msg_namelen = dlen;
	o->msg[i].msg_hdr.msg_iov = &o->iov[i];
	o->msg[i].msg_hdr.msg_iovlen = 1;
	o->used += len;
	return 0;
}

static int udp_ops_send(struct sipd *w, const struct sipd_peer *peer,
			const union sipd_addr *dest, const char *buf,
			size_t len)
{
	if (!dest)
		dest = &peer->addr;
	return udp_send(w, dest, dest->sa.sa_family == AF_INET6 ?
			sizeof(dest->sin6) : sizeof(dest->sin), buf, len);
}

const struct sipd_tp_ops sipd_udp_ops = { "udp", 0, udp_ops_send };

/*
 * RFC 5626 s.4.4.2 keep-alive: a STUN Binding request on the SIP port gets
 * a Binding success response telling the device its public address (so it
 * notices a NAT rebinding), and marks its flow alive. The answer (40 to
 * 52 bytes) stays within the amplification budget of the 20+ bytes it
 * answers; anything that is not a well-formed Binding request, or that
 * carries attributes we must understand and do not, is dropped.
 */
static void udp_stun(struct sipd *w, const struct sipd_peer *peer,
		     const char *buf, size_t len)
{
	struct stun_msg req;
	struct stun_addr mapped;
	struct sipd_flow f;
	uint8_t out[STUN_HDR_LEN + 32];
	size_t n;

	if (stun_binding_request_parse(buf, len, &req) || req.n_unknown)
		return;
	memset(&mapped, 0, sizeof(mapped));
	if (peer->addr.sa.sa_family == AF_INET6) {
		mapped.family = STUN_AF_IPV6;
		mapped.port = ntohs(peer->addr.sin6.sin6_port);
		memcpy(mapped.ip, &peer->addr.sin6.sin6_addr, 16);
	} else {
		mapped.family = STUN_AF_IPV4;
		mapped.port = ntohs(peer->addr.sin.sin_port);
		memcpy(mapped.ip, &peer->addr.sin.sin_addr, 4);
	}
	if (stun_binding_response_build(req.tid, &mapped, NULL, out,
					sizeof(out), &n) ||
	    n > SIPD_AMP_FACTOR * len)
		return;
	sipd_flow_of(w, peer, &f);
	flow_seen(w->sh->flows, &f, sipd_now_ms());
	metrics_inc(METRICS_KEEPALIVES);
	udp_send(w, &peer->addr, peer->addrlen, (const char *)out, n);
}

/* Reads up to SIPD_UDP_RECV_BATCH datagrams into w->rxbuf's slots and
 * hands each to dispatch. Returns how many were read (0: none waiting). */
static int udp_read_some(struct sipd *w, int fd)
{
	struct mmsghdr mm[SIPD_UDP_RECV_BATCH];
	struct iovec iov[SIPD_UDP_RECV_BATCH];
	struct sipd_peer peer[SIPD_UDP_RECV_BATCH];
	int i, n, to;

	for (i = 0; i < SIPD_UDP_RECV_BATCH; i++) {
		memset(&peer[i], 0, sizeof(peer[i]));
		peer[i].tp = SIPD_UDP;
		peer[i].ops = &sipd_udp_ops;
		iov[i].iov_base = w->rxbuf + (size_t)i * (w->rxcap + 1);
		iov[i].iov_len = w->rxcap;
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_name = &peer[i].addr;
		mm[i].msg_hdr.msg_namelen = sizeof(peer[i].addr);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	/* MSG_TRUNC: msg_len is a datagram's real size, even past rxcap */
	n = recvmmsg(fd, mm, SIPD_UDP_RECV_BATCH, MSG_TRUNC | MSG_DONTWAIT,
		     NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_debug("sip: udp recv: %s", strerror(errno));
		return 0;
	}
	for (i = 0; i < n; i++) {
		char *buf = iov[i].iov_base;
		size_t len = mm[i].msg_len;

		peer[i].addrlen = mm[i].msg_hdr.msg_namelen;
		if (len >= w->rxcap) {
			sipd_too_large(w, &peer[i], buf, w->rxcap - 1);
			continue;
		}
		buf[len] = '\0';
		if (stun_is_stun(buf, len)) {
			udp_stun(w, &peer[i], buf, len);
			continue;
		}
		to = spread_target(w, buf, len);
		if (to == w->id || spread_add(w, to, &peer[i], buf, len))
			sipd_input(w, &peer[i], buf, len);
	}
	return n;
}

/* A burst: its answers in one sendmmsg. */
void udp_burst_begin(struct sipd *w)
{
	w->out->queuing = 1;
}

void udp_burst_end(struct sipd *w)
{
	udp_out_flush(w);
	w->out->queuing = 0;
}

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sipd *w = arg;
	int got = 0, n;

	(void)what;
	udp_burst_begin(w);
	while (got < UDP_BATCH &&
	       (n = udp_read_some(w, fd)) > 0) {
		got += n;
		if (n < SIPD_UDP_RECV_BATCH)
			break; /* drained */
	}
	spread_flush(w); /* the other workers' share of the burst */
	udp_burst_end(w);
}

int udp_open(struct sipd *w, const char *hostport)
{
	union sipd_addr a;
	socklen_t alen;
	int fd, one = 1, sz = 4 << 20, err;

	err = sipd_parse_hostport(hostport, &a, &alen);
	if (err) {
		log_err("sip: bad --sip-udp '%s'", hostport);
		return err;
	}
	fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(fd, &a.sa, alen) < 0) {
		err = -errno;
		log_err("sip: udp bind %s: %s", hostport, strerror(errno));
		close(fd);
		return err;
	}
	w->out = calloc(1, sizeof(*w->out));
	w->udp_ev = event_new(w->base, fd, EV_READ | EV_PERSIST, udp_read_cb, w);
	if (!w->out || !w->udp_ev || event_add(w->udp_ev, NULL) != 0) {
		close(fd);
		return -ENOMEM; /* udp_close frees what was made */
	}
	w->udp_fd = fd;
	return 0;
}

void udp_close(struct sipd *w)
{
	if (w->udp_ev)
		event_free(w->udp_ev);
	w->udp_ev = NULL;
	free(w->out);
	w->out = NULL;
	if (w->udp_fd >= 0)
		close(w->udp_fd);
	w->udp_fd = -1;
}
