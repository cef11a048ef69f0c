/*
 * udp: SIP over UDP (RFC 3261 s.18). Each worker binds its own socket to
 * the same address with SO_REUSEPORT; the kernel spreads peers over them by
 * their address hash, so a client's retransmissions always reach the worker
 * that holds its transaction. A read event drains up to a batch of
 * datagrams per wakeup, and that burst is one group commit (dispatch.c).
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
#include <unistd.h>

#include <event2/event.h>

#include "sipd.h"
#include "../core/config.h"
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

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sipd *w = arg;
	struct sipd_peer peer;
	int i;

	(void)what;
	w->out->queuing = 1;
	sipd_batch_begin(w);
	for (i = 0; i < UDP_BATCH; i++) {
		ssize_t n;

		memset(&peer, 0, sizeof(peer));
		peer.tp = SIPD_UDP;
		peer.addrlen = sizeof(peer.addr);
		n = recvfrom(fd, w->rxbuf, w->rxcap, MSG_TRUNC | MSG_DONTWAIT,
			     &peer.addr.sa, &peer.addrlen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_debug("sip: udp recv: %s", strerror(errno));
			break;
		}
		if ((size_t)n >= w->rxcap) {
			sipd_too_large(w, &peer, w->rxbuf, w->rxcap - 1);
			continue;
		}
		w->rxbuf[n] = '\0';
		sipd_input(w, &peer, w->rxbuf, (size_t)n);
	}
	sipd_batch_end(w); /* commit, then the held replies go out */
	udp_out_flush(w);
	w->out->queuing = 0;
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
