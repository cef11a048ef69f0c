/*
 * probe: the netq probe reflector hosted by the server (--probe-udp), so a
 * handset measures its own path to the server with `dataline-netq probe
 * SERVER:PORT` (user/netq/netq_probe.c, docs/netq.md "Active probe"). No
 * RFC: UDP (RFC 768) carrying struct netq_probe_hdr.
 *
 * Like `dataline-netq echo` it answers only packets with the probe magic
 * and dir = request, copying them back with dir = reply: never more bytes
 * than came in (no amplification). Unlike it, it answers only sources
 * that authenticated to the SIP side recently, at a bounded rate per
 * address (server/presence/reflector.h). Worker 0's event loop serves it;
 * a probe is at most 64 packets, so one worker is plenty.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "presence_sip.h"
#include "../core/config.h"
#include "../presence/reflector.h"
#include "dataline/log.h"
#include "dataline/netq_maps.h"

/* Packets read per readiness callback (then the loop serves others). */
#define PROBE_BATCH 64

void probe_authenticated(const struct sipd_reply *r)
{
	const uint8_t *ip;
	size_t n;

	if (!r->w->sh->refl)
		return;
	n = sipd_addr_ip(&r->peer->addr, &ip);
	reflector_allow(r->w->sh->refl, ip, n, sipd_now_ms());
}

static void probe_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sipd *w = arg;
	uint8_t buf[2048] __attribute__((aligned(8)));
	struct netq_probe_hdr *h = (struct netq_probe_hdr *)buf;
	union sipd_addr from;
	const uint8_t *ip;
	socklen_t flen;
	size_t iplen;
	ssize_t n;
	int i;

	(void)what;
	for (i = 0; i < PROBE_BATCH; i++) {
		flen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, &from.sa, &flen);
		if (n < 0)
			return;
		if (n < (ssize_t)sizeof(*h) || h->magic != NETQ_PROBE_MAGIC ||
		    h->dir != NETQ_PROBE_REQ)
			continue; /* not a probe: no answer at all */
		iplen = sipd_addr_ip(&from, &ip);
		if (!reflector_admit(w->sh->refl, ip, iplen, sipd_now_ms()))
			continue;
		h->dir = NETQ_PROBE_REPLY;
		h->delay_ms = 0;
		sendto(fd, buf, (size_t)n, 0, &from.sa, flen);
	}
}

int probe_open(struct sipd *w)
{
	const struct config *cfg = w->sh->cfg;
	union sipd_addr a;
	socklen_t alen;
	int fd, one = 1;

	if (!w->sh->refl)
		return 0;
	if (sipd_parse_hostport(cfg->probe_udp, &a, &alen)) {
		log_err("presence: bad --probe-udp '%s'", cfg->probe_udp);
		return -EINVAL;
	}
	fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &a.sa, alen) < 0) {
		int err = -errno;
		log_err("presence: --probe-udp %s: %s", cfg->probe_udp,
			strerror(errno));
		close(fd);
		return err;
	}
	w->probe_ev = event_new(w->base, fd, EV_READ | EV_PERSIST,
				probe_read_cb, w);
	if (!w->probe_ev) {
		close(fd);
		return -ENOMEM;
	}
	event_add(w->probe_ev, NULL);
	log_info("presence: probe reflector on udp %s", cfg->probe_udp);
	return 0;
}

void probe_close(struct sipd *w)
{
	if (!w->probe_ev)
		return;
	evutil_socket_t fd = event_get_fd(w->probe_ev);

	event_free(w->probe_ev);
	close(fd);
	w->probe_ev = NULL;
}
