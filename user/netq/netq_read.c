/*
 * netq_read: opens the pinned netq maps from any process, mmaps them and
 * turns the counters into per-interface snapshots with memory reads only
 * (clock_gettime is a vDSO call). No RFCs.
 *
 * One-read rates: every stream keeps cumulative counters and, per epoch of
 * 2^27 ns, a "mark" (time + counters at the first event of the epoch);
 * netq_stream_delta() (netq_live.c, beside netq_decide()) turns them into
 * the traffic of the last window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "netq_priv.h"

#define RD(x) (*(const volatile typeof(x) *)&(x))

int netq_map_mmap(int fd, size_t value_size, uint32_t n, void **out,
		  size_t *len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t sz = ((value_size + 7) & ~(size_t)7) * n;
	void *p;

	sz = (sz + pg - 1) & ~(pg - 1);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	*len = sz;
	return 0;
}

int netq_slot_find(const struct netq *q, uint32_t ifindex)
{
	int i;

	for (i = 0; i < NETQ_MAX_IFACES; i++)
		if (RD(q->ifmap[i].ifindex) == ifindex &&
		    RD(q->ifmap[i].netns_ino) == q->my_netns)
			return i;
	return -ENOENT;
}

int netq_ifaces(const struct netq *q, uint32_t *ifindex, int max)
{
	int i, n = 0;

	for (i = 0; i < NETQ_MAX_IFACES && n < max; i++)
		if (RD(q->ifmap[i].ifindex) &&
		    RD(q->ifmap[i].netns_ino) == q->my_netns)
			ifindex[n++] = q->ifmap[i].ifindex;
	return n;
}

static void fill_slot(const struct netq *q, int slot, uint64_t now,
		      struct netq_snapshot *o)
{
	const struct netq_iface *st = &q->ifaces[slot];
	uint64_t d[3], last, eb = now >> 33, seq, pns;
	uint32_t mn = 0;
	int i;

	memset(o, 0, sizeof(*o));
	memcpy(o->ifname, st->ifname, sizeof(o->ifname));
	o->ifname[sizeof(o->ifname) - 1] = 0;
	o->ifindex = RD(st->ifindex);
	o->attach_mode = RD(st->attach_mode);
	if (q->have_lstate) {
		const struct netq_lstate *ls = &q->lstate[slot];

		o->up = ls->up;
		o->default_route = ls->default_route;
		o->kind = ls->kind;
		o->speed_mbps = ls->speed_mbps;
	}
	o->rx_bytes = RD(st->rx.a);
	o->rx_packets = RD(st->rx.b);
	o->rx_wire_packets = o->rx_packets + RD(st->rx.c);
	o->tx_bytes = RD(st->tx.a);
	o->tx_packets = RD(st->tx.b);
	o->tx_wire_packets = o->tx_packets + RD(st->tx.c);
	netq_stream_delta(&st->rx, now, NETQ_RATE_WIN_NS, d);
	o->rx_bps = d[0] * 8 * 1000000000ull / NETQ_RATE_WIN_NS;
	/* tx rate after the qdisc when the xmit hook counts it */
	netq_stream_delta(RD(st->flags) & NETQ_IF_TXW ? &st->txw : &st->tx,
			  now, NETQ_RATE_WIN_NS, d);
	o->tx_bps = d[0] * 8 * 1000000000ull / NETQ_RATE_WIN_NS;
	last = RD(st->rx.last_ns) > RD(st->tx.last_ns) ? RD(st->rx.last_ns) :
							 RD(st->tx.last_ns);
	o->age_ms = last && now > last ? (now - last) / 1000000 :
		    last ? 0 : (now - st->attach_ns) / 1000000;

	/* TCP */
	o->segs_out = RD(st->tcp.a);
	o->retrans = RD(st->tcp.b);
	if (RD(st->srtt_ns_at) && now - RD(st->srtt_ns_at) < NETQ_TCP_FRESH_NS) {
		o->have_tcp = 1;
		o->srtt_us = RD(st->srtt_us);
	}
	for (i = 0; i < 4; i++) {
		uint32_t v = RD(st->min_rtt_us[i]);

		if (v && RD(st->min_rtt_epoch[i]) + 3 >= eb &&
		    (!mn || v < mn))
			mn = v;
	}
	o->min_rtt_us = mn;
	netq_stream_delta(&st->tcp, now, NETQ_LOSS_WIN_NS, d);
	if (d[0] >= NETQ_LOSS_MIN_SEGS) {
		o->have_loss = 1;
		o->loss_pct = 100.0 * (double)d[1] / (double)d[0];
	}

	/* probe (written by user space, seqlock) */
	seq = RD(st->probe_seq);
	pns = RD(st->probe_ns);
	if (!(seq & 1) && pns) {
		o->probe_rtt_us = RD(st->probe_rtt_us);
		o->probe_kbps = RD(st->probe_kbps);
		o->probe_sent = RD(st->probe_sent);
		o->probe_recv = RD(st->probe_recv);
		o->probe_age_ms = now > pns ? (now - pns) / 1000000 : 0;
		o->have_probe = RD(st->probe_seq) == seq;
	}
}

int netq_snapshot_read(const struct netq *q, uint32_t ifindex,
		       struct netq_snapshot *out)
{
	int slot;

	if (!q || !out)
		return -EINVAL;
	slot = netq_slot_find(q, ifindex);
	if (slot < 0)
		return slot;
	fill_slot(q, slot, netq_now_ns(), out);
	return 0;
}

int netq_snapshot_all(const struct netq *q, struct netq_snapshot *out, int max)
{
	return netq_snapshot_all_at(q, netq_now_ns(), out, max);
}

int netq_snapshot_all_at(const struct netq *q, uint64_t now,
			 struct netq_snapshot *out, int max)
{
	int i, n = 0;

	if (!q || !out)
		return -EINVAL;
	for (i = 0; i < NETQ_MAX_IFACES && n < max; i++)
		if (RD(q->ifmap[i].ifindex) &&
		    RD(q->ifmap[i].netns_ino) == q->my_netns)
			fill_slot(q, i, now, &out[n++]);
	return n;
}

static int open_map(const char *dir, const char *name)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = bpf_obj_get(p);
	return fd < 0 ? -errno : fd;
}

int netq_open(const char *pin_dir, unsigned flags, struct netq **out)
{
	struct netq *q;
	char dir[512];
	int err;

	if (!out)
		return -EINVAL;
	netq_pin_dir(pin_dir, dir, sizeof(dir));
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->fd_ifaces = q->fd_ifmap = q->fd_probe = q->fd_ctl = -1;
	q->my_netns = netq_netns_ino();
	if ((err = q->fd_ifaces = open_map(dir, NETQ_MAP_IFACES)) < 0 ||
	    (err = q->fd_ifmap = open_map(dir, NETQ_MAP_IFMAP)) < 0 ||
	    (err = q->fd_probe = open_map(dir, NETQ_MAP_PROBE)) < 0 ||
	    (err = q->fd_ctl = open_map(dir, NETQ_MAP_CTL)) < 0)
		goto fail;
	err = netq_map_mmap(q->fd_ifaces, sizeof(struct netq_iface),
			    NETQ_MAX_IFACES, (void **)&q->ifaces,
			    &q->sz_ifaces);
	if (!err)
		err = netq_map_mmap(q->fd_ifmap, sizeof(struct netq_ifmap),
				    NETQ_MAX_IFACES, (void **)&q->ifmap,
				    &q->sz_ifmap);
	if (!err)
		err = netq_map_mmap(q->fd_probe, sizeof(struct netq_probe_ts),
				    NETQ_PROBE_MAX, (void **)&q->probe,
				    &q->sz_probe);
	if (!err)
		err = netq_map_mmap(q->fd_ctl, sizeof(struct netq_ctl), 1,
				    (void **)&q->ctl, &q->sz_ctl);
	if (err)
		goto fail;
	if (flags & NETQ_OPEN_LINKSTATE) {
		err = netq_lstate_open(q);
		if (err)
			goto fail;
	}
	*out = q;
	return 0;
fail:
	netq_close(q);
	return err;
}

void netq_close(struct netq *q)
{
	if (!q)
		return;
	netq_lstate_close(q);
	if (q->ifaces)
		munmap(q->ifaces, q->sz_ifaces);
	if (q->ifmap)
		munmap(q->ifmap, q->sz_ifmap);
	if (q->probe)
		munmap(q->probe, q->sz_probe);
	if (q->ctl)
		munmap(q->ctl, q->sz_ctl);
	if (q->fd_ifaces >= 0)
		close(q->fd_ifaces);
	if (q->fd_ifmap >= 0)
		close(q->fd_ifmap);
	if (q->fd_probe >= 0)
		close(q->fd_probe);
	if (q->fd_ctl >= 0)
		close(q->fd_ctl);
	free(q);
}
