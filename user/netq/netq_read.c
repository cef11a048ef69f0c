/*
 * netq_read: opens the pinned netq maps from any process, mmaps them and
 * turns the counters into per-interface snapshots with memory reads only
 * (clock_gettime is a vDSO call). No RFCs.
 *
 * One-read rates: every stream keeps cumulative counters and, per epoch of
 * 2^27 ns, a "mark" (time + counters at the first event of the epoch). The
 * counter value at t0 = now - window is interpolated between the marks
 * around t0, using what the marks prove: epochs with no mark had no
 * events, so the events after mark P happened before the end of P's epoch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "netq_priv.h"

#define RATE_WIN_NS   1000000000ull   /* rx_bps/tx_bps: last second */
#define LOSS_WIN_NS  10000000000ull   /* loss_pct: last 10 s */
#define LOSS_MIN_SEGS 50              /* fewer segments: no loss figure */
#define TCP_FRESH_NS 30000000000ull   /* srtt older than this: stale */
#define BACK_SCAN     16              /* epochs searched before t0 */

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

/* A complete mark of epoch e, or 0. */
static int mark_get(const struct netq_stream *s, uint64_t e,
		    struct netq_mark *out)
{
	const struct netq_mark *m = &s->marks[e & (NETQ_NMARKS - 1)];
	uint64_t seq = RD(m->seq);

	if (seq != 2 * e + 2)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	out->t_ns = RD(m->t_ns);
	out->a = RD(m->a);
	out->b = RD(m->b);
	out->c = RD(m->c);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return RD(m->seq) == seq;
}

static uint64_t lerp(uint64_t v0, uint64_t v1, uint64_t t0, uint64_t t1,
		     uint64_t t)
{
	if (t <= t0 || t1 <= t0)
		return v0;
	if (t >= t1)
		return v1;
	return v0 + (uint64_t)((double)(v1 - v0) * (double)(t - t0) /
			       (double)(t1 - t0));
}

void netq_stream_delta(const struct netq_stream *s, uint64_t now,
		       uint64_t win, uint64_t d[3])
{
	uint64_t cur[3] = { RD(s->a), RD(s->b), RD(s->c) };
	uint64_t t0 = now > win ? now - win : 0;
	uint64_t e0 = t0 >> NETQ_EPOCH_SHIFT, ecur = now >> NETQ_EPOCH_SHIFT;
	uint64_t pv[3], nv[3], at[3], e, hi = 0, pe = 0;
	struct netq_mark pm, nm;
	int have_p = 0, have_n = 0, i;

	uint64_t elast = RD(s->epoch);  /* no mark is newer than this */

	/*
	 * Idle stream: every event belongs to an epoch that has a mark, and
	 * the newest marked epoch ended at or before t0, so nothing happened
	 * inside the window. This is the common case for rx/tcp on a quiet
	 * link and keeps the decision from scanning the mark ring.
	 */
	if (((elast + 1) << NETQ_EPOCH_SHIFT) <= t0) {
		d[0] = d[1] = d[2] = 0;
		return;
	}

	/* N: first mark after t0 (its epoch is e0 or later) */
	for (e = e0; e <= ecur && e <= elast && e < e0 + NETQ_NMARKS; e++) {
		if (mark_get(s, e, &nm) && nm.t_ns > t0) {
			have_n = 1;
			break;
		}
	}
	/* P: last mark at or before t0 */
	for (e = e0 < elast ? e0 : elast; e + BACK_SCAN >= e0 && e <= e0; e--) {
		if (mark_get(s, e, &pm) && pm.t_ns <= t0) {
			have_p = 1;
			pe = e;
			break;
		}
		if (!e)
			break;
	}
	if (have_n) {
		nv[0] = nm.a; nv[1] = nm.b; nv[2] = nm.c;
	}
	if (have_p) {
		pv[0] = pm.a; pv[1] = pm.b; pv[2] = pm.c;
		/* events after P happened before the end of P's epoch (an
		 * epoch without a mark had no events) and before now */
		hi = (pe + 1) << NETQ_EPOCH_SHIFT;
		if (!have_n && now < hi)
			hi = now;
		if (have_n && nm.t_ns < hi)
			hi = nm.t_ns;
	}
	for (i = 0; i < 3; i++) {
		if (have_p)
			at[i] = lerp(pv[i], have_n ? nv[i] : cur[i], pm.t_ns,
				     hi, t0);
		else if (have_n)
			at[i] = nv[i];
		else
			at[i] = cur[i];  /* nothing in the window */
		d[i] = cur[i] >= at[i] ? cur[i] - at[i] : 0;
	}
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
	netq_stream_delta(&st->rx, now, RATE_WIN_NS, d);
	o->rx_bps = d[0] * 8 * 1000000000ull / RATE_WIN_NS;
	/* tx rate after the qdisc when the xmit hook counts it */
	netq_stream_delta(RD(st->flags) & NETQ_IF_TXW ? &st->txw : &st->tx,
			  now, RATE_WIN_NS, d);
	o->tx_bps = d[0] * 8 * 1000000000ull / RATE_WIN_NS;
	last = RD(st->rx.last_ns) > RD(st->tx.last_ns) ? RD(st->rx.last_ns) :
							 RD(st->tx.last_ns);
	o->age_ms = last && now > last ? (now - last) / 1000000 :
		    last ? 0 : (now - st->attach_ns) / 1000000;

	/* TCP */
	o->segs_out = RD(st->tcp.a);
	o->retrans = RD(st->tcp.b);
	if (RD(st->srtt_ns_at) && now - RD(st->srtt_ns_at) < TCP_FRESH_NS) {
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
	netq_stream_delta(&st->tcp, now, LOSS_WIN_NS, d);
	if (d[0] >= LOSS_MIN_SEGS) {
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
	uint64_t now = netq_now_ns();
	int i, n = 0;

	if (!q || !out)
		return -EINVAL;
	for (i = 0; i < NETQ_MAX_IFACES && n < max; i++)
		if (RD(q->ifmap[i].ifindex) &&
		    RD(q->ifmap[i].netns_ino) == q->my_netns)
			fill_slot(q, i, now, &out[n++]);
	return n;
}

int netq_decide(const struct netq *q, enum netq_service svc,
		const struct netq_thresholds *t, struct netq_decision *out)
{
	struct netq_snapshot s[NETQ_MAX_IFACES], tmp;
	int n, i, j;

	if (!q || !t || !out)
		return -EINVAL;
	n = netq_snapshot_all(q, s, NETQ_MAX_IFACES);
	/* default-route interfaces first (stable order otherwise) */
	for (i = 0, j = 0; i < n; i++) {
		if (s[i].default_route) {
			tmp = s[j];
			s[j] = s[i];
			s[i] = tmp;
			j++;
		}
	}
	return netq_decide_many(s, (size_t)n, svc, t, out);
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
