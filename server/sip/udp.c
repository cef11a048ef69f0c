/*
 * udp: SIP over UDP (RFC 3261 s.18). Each worker binds its own socket to
 * the same address with SO_REUSEPORT; the kernel spreads peers over them by
 * their address hash, so a client's retransmissions always reach the worker
 * that holds its transaction. A read event drains up to a batch of
 * datagrams per wakeup, and that burst is one group commit (dispatch.c). Datagrams over --max-msg-size are answered 513 when
 * possible (MSG_TRUNC tells their real size).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "sipd.h"
#include "../core/config.h"
#include "dataline/log.h"

#define UDP_BATCH 64

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sipd *w = arg;
	struct sipd_peer peer;
	int i;

	(void)what;
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
	w->udp_ev = event_new(w->base, fd, EV_READ | EV_PERSIST, udp_read_cb, w);
	if (!w->udp_ev || event_add(w->udp_ev, NULL) != 0) {
		close(fd);
		return -ENOMEM;
	}
	w->udp_fd = fd;
	return 0;
}

void udp_close(struct sipd *w)
{
	if (w->udp_ev)
		event_free(w->udp_ev);
	w->udp_ev = NULL;
	if (w->udp_fd >= 0)
		close(w->udp_fd);
	w->udp_fd = -1;
}
