/*
 * netq_live: netq_decide(), the decision read straight from the mmap'ed
 * maps, and the one-read stream deltas it shares with netq_snapshot_read()
 * (netq_read.c). No RFCs; docs/netq.md ("The decision", "Costs").
 *
 * Why this is not netq_snapshot_all() + netq_decide_many(): a decision
 * takes ~50 ns, of which clock_gettime is 20-30, so every load, branch and
 * cache line shows. Counters that the kernel updates from another CPU
 * cost a cache-line transfer each, and on a VM a cold page costs a
 * two-level page walk. So the decision
 *   - finds this netns's slots with SSE2 compares (slots_of_netns());
 *   - reads link state (process memory) first and touches the counters of
 *     an interface only when its verdict depends on them (voice on an up
 *     interface with a default route), or when it is the interface the
 *     decision reports (its figures go into struct netq_decision);
 *   - reads only the counters the decision uses (rx rate, tx rate after
 *     the qdisc, srtt, the TCP loss window, the probe): no totals, no
 *     min-RTT buckets, no wire packets;
 *   - interpolates in integers (exact; no u64 <-> double conversions);
 *   - calls clock_gettime once, and only when some counter is needed;
 *   - prefetches the lines it will read once the slot is known, so that
 *     cold misses overlap instead of queueing one after another.
 * decide_slot() is fill_slot() reading only what the rules need, then the
 * same rules as netq_decide_snapshot() (netq_rules.h, shared). The
 * order and tie-breaks are netq_decide_many()'s over the list
 * netq_snapshot_all() would build. tests/unit/test_netq_live.c checks on
 * simulated maps that the result is exactly that of the snapshot path.
 * Nothing is cached between calls: every call reads the maps as they are.
 */
#include <errno.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "netq_priv.h"
#include "netq_rules.h"

#define RD(x) (*(const volatile typeof(x) *)&(x))

/* The marks are written by the BPF program in the kernel, which
 * ThreadSanitizer cannot see, so its not modelling the seqlock's fences
 * (GCC's -Wtsan) costs nothing here; no user thread writes them. */
#ifdef __SANITIZE_THREAD__
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#define BACK_SCAN     16              /* epochs searched before t0 */

struct mark_rd {
	uint64_t t_ns;
	uint64_t v[3];
};

/* A complete mark of epoch e (its first n counters), or 0. */
static inline __attribute__((always_inline))
int mark_get(const struct netq_stream *s, uint64_t e, int n,
	     struct mark_rd *out)
{
	const struct netq_mark *m = &s->marks[e & (NETQ_NMARKS - 1)];
	uint64_t seq = RD(m->seq);

	if (seq != 2 * e + 2)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	out->t_ns = RD(m->t_ns);
	out->v[0] = RD(m->a);
	if (n > 1)
		out->v[1] = RD(m->b);
	if (n > 2)
		out->v[2] = RD(m->c);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return RD(m->seq) == seq;
}

/* v0 + (v1 - v0) * (t - t0) / (t1 - t0), clamped to [v0, v1], exactly. The
 * span is at most one epoch (2^27 ns), so the product fits 64 bits for any
 * real traffic; 128 bits otherwise. */
static inline uint64_t lerp(uint64_t v0, uint64_t v1, uint64_t t0,
			    uint64_t t1, uint64_t t)
{
	uint64_t dv, p;

	if (t <= t0 || t1 <= t0 || v1 <= v0)
		return v0;
	if (t >= t1)
		return v1;
	dv = v1 - v0;
	if (__builtin_mul_overflow(dv, t - t0, &p))
		return v0 + (uint64_t)((unsigned __int128)dv * (t - t0) /
				       (t1 - t0));
	return v0 + p / (t1 - t0);
}

/*
 * The delta of the first n counters of s (a; a, b; a, b, c) over
 * [now - win, now]. Marks used: N, the first mark after t0 = now - win,
 * and P, the last mark at or before t0; the value at t0 is interpolated
 * between P and N (or now), using what the marks prove: epochs with no
 * mark had no events, so the events after P happened before the end of
 * P's epoch. Inlined with a constant n, the unused counters are not read.
 */
static inline __attribute__((always_inline))
void stream_delta(const struct netq_stream *s, uint64_t now, uint64_t win,
		  int n, uint64_t *d)
{
	uint64_t cur[3], at, e, lim, hi = 0, pe = 0;
	uint64_t t0 = now > win ? now - win : 0;
	uint64_t e0 = t0 >> NETQ_EPOCH_SHIFT, ecur = now >> NETQ_EPOCH_SHIFT;
	uint64_t elast;
	struct mark_rd pm, nm;
	int have_p = 0, have_n = 0, ok, i;

	cur[0] = RD(s->a);
	if (n > 1)
		cur[1] = RD(s->b);
	if (n > 2)
		cur[2] = RD(s->c);
	elast = RD(s->epoch);  /* no mark is newer than this */
	/*
	 * Idle stream: every event belongs to an epoch that has a mark, and
	 * the newest marked epoch ended at or before t0, so nothing happened
	 * inside the window. The common case for rx/tcp on a quiet link. It
	 * also means that below, e0 <= elast.
	 */
	if (((elast + 1) << NETQ_EPOCH_SHIFT) <= t0) {
		for (i = 0; i < n; i++)
			d[i] = 0;
		return;
	}
	/* Epoch e0's mark is N if it is after t0, else it is P. */
	ok = mark_get(s, e0, n, &nm);
	if (ok && nm.t_ns > t0) {
		have_n = 1;
	} else {
		if (ok) {
			pm = nm;
			pe = e0;
			have_p = 1;
		}
		lim = ecur < elast ? ecur : elast;
		if (lim > e0 + NETQ_NMARKS - 1)
			lim = e0 + NETQ_NMARKS - 1;
		for (e = e0 + 1; e <= lim; e++) {
			if (mark_get(s, e, n, &nm) && nm.t_ns > t0) {
				have_n = 1;
				break;
			}
		}
	}
	for (e = e0; !have_p && e-- > 0 && e + BACK_SCAN >= e0;) {
		if (mark_get(s, e, n, &pm) && pm.t_ns <= t0) {
			have_p = 1;
			pe = e;
		}
	}
	if (have_p) {
		hi = (pe + 1) << NETQ_EPOCH_SHIFT;
		if (!have_n && now < hi)
			hi = now;
		if (have_n && nm.t_ns < hi)
			hi = nm.t_ns;
	}
	for (i = 0; i < n; i++) {
		if (have_p)
			at = lerp(pm.v[i], have_n ? nm.v[i] : cur[i], pm.t_ns,
				  hi, t0);
		else if (have_n)
			at = nm.v[i];
		else
			at = cur[i];  /* nothing in the window */
		d[i] = cur[i] >= at ? cur[i] - at : 0;
	}
}

void netq_stream_delta(const struct netq_stream *s, uint64_t now,
		       uint64_t win, uint64_t d[3])
{
	stream_delta(s, now, win, 3, d);
}

/* fill_slot()'s bytes in the window to bit/s, d * 8 * 10^9 / window in
 * 64 bits; below 2^31 bytes the product cannot wrap and it is d * 8 (a
 * shift, not a multiply-and-shift on the critical path). */
static inline uint64_t bits_per_s(uint64_t d)
{
	_Static_assert(NETQ_RATE_WIN_NS == 1000000000ull, "window of 1 s");
	if (d < (1ull << 31))
		return d * 8;
	return d * 8 * 1000000000ull / NETQ_RATE_WIN_NS;
}

/* The lines decide_slot() reads, requested all at once. */
static inline void prefetch_slot(const struct netq_iface *st)
{
	__builtin_prefetch(&st->srtt_ns_at);
	__builtin_prefetch(&st->probe_seq);
	__builtin_prefetch(&st->flags);
	__builtin_prefetch(&st->rx.epoch);
	__builtin_prefetch(&st->tx.epoch);
	__builtin_prefetch(&st->txw.epoch);
	__builtin_prefetch(&st->tcp.epoch);
}

/*
 * Reads the figures the rules use (and no others): the rates, TCP srtt and
 * loss, the probe, with fill_slot()'s windows (netq_read.c), then applies
 * netq_rules() (shared with netq_decide_snapshot()). The result goes
 * straight into *out, field by field: a decision built on the stack and
 * copied as a whole costs a store-forwarding stall.
 * (up, route) come from the link-state cache; *now is read on first use.
 */
static inline __attribute__((always_inline))
void decide_slot(const struct netq *q, int slot, uint64_t *nowp,
		 enum netq_service svc, const struct netq_thresholds *t,
		 struct netq_decision *out)
{
	const struct netq_iface *st = &q->ifaces[slot];
	struct netq_evidence e;
	uint64_t d[2], now, seq, pns, at, rx_bps, tx_bps;

	e.up = e.route = 0;
	if (q->have_lstate) {
		e.up = q->lstate[slot].up;
		e.route = q->lstate[slot].default_route;
	}
	if (!*nowp)
		*nowp = netq_now_ns();
	now = *nowp;

	stream_delta(&st->rx, now, NETQ_RATE_WIN_NS, 1, d);
	rx_bps = bits_per_s(d[0]);
	/* tx rate after the qdisc when the xmit hook counts it */
	stream_delta(RD(st->flags) & NETQ_IF_TXW ? &st->txw : &st->tx, now,
		     NETQ_RATE_WIN_NS, 1, d);
	tx_bps = bits_per_s(d[0]);
	e.traffic_kbps = (rx_bps > tx_bps ? rx_bps : tx_bps) / 1000;

	/* probe (written by user space, seqlock) */
	e.have_probe = 0;
	e.probe_age_ms = 0;
	e.probe_kbps = e.probe_rtt_us = e.probe_sent = e.probe_recv = 0;
	seq = RD(st->probe_seq);
	pns = RD(st->probe_ns);
	if (!(seq & 1) && pns) {
		e.probe_rtt_us = RD(st->probe_rtt_us);
		e.probe_kbps = RD(st->probe_kbps);
		e.probe_sent = RD(st->probe_sent);
		e.probe_recv = RD(st->probe_recv);
		e.probe_age_ms = now > pns ? (now - pns) / 1000000 : 0;
		e.have_probe = RD(st->probe_seq) == seq;
	}
	/* TCP: srtt when fresh; retransmissions over the loss window */
	at = RD(st->srtt_ns_at);
	e.have_tcp = at && now - at < NETQ_TCP_FRESH_NS;
	e.srtt_us = e.have_tcp ? RD(st->srtt_us) : 0;
	stream_delta(&st->tcp, now, NETQ_LOSS_WIN_NS, 2, d);
	e.have_loss = d[0] >= NETQ_LOSS_MIN_SEGS;
	e.tcp_loss_pct = e.have_loss ? 100.0 * (double)d[1] / (double)d[0] : 0;

	netq_rules(&e, svc, t, out);
	out->ifindex = RD(st->ifindex);
	memcpy(out->ifname, st->ifname, sizeof(out->ifname));
	out->ifname[sizeof(out->ifname) - 1] = 0;
}

/* The reason decide_slot() gives when link state alone decides it, or
 * NETQ_R_NO_INTERFACE when it depends on the counters. */
static enum netq_reason reason_by_link(const struct netq *q, int slot,
				       enum netq_service svc)
{
	if (!q->have_lstate || !q->lstate[slot].up)
		return NETQ_R_LINK_DOWN;
	if (!q->lstate[slot].default_route)
		return NETQ_R_NO_ROUTE;
	return svc == NETQ_TEXT ? NETQ_R_OK : NETQ_R_NO_INTERFACE;
}

/*
 * The slots of netns ns in use (ifindex != 0), in slot order: the list
 * netq_snapshot_all() walks. Returns the count.
 *
 * 32 entries {ifindex, netns_ino} of 8 bytes: a loop of 32 compares and
 * branches is ~80 cycles, up to a third of a decision, and every later load
 * waits for it (they need the slot). With SSE2 the entries are compared
 * four 32-bit lanes at a time against {0, ns, 0, ns} and the lane masks
 * packed down to bytes, so one movemask gives 8 entries x 2 bits ("ifindex
 * is 0", "netns is ns"): 16 loads in parallel and a short dependency chain.
 */
static inline int slots_of_netns(const struct netq_ifmap *map, uint32_t ns,
				 int *slot)
{
	int n = 0;

	_Static_assert(sizeof(struct netq_ifmap) == 8 &&
		       offsetof(struct netq_ifmap, netns_ino) == 4 &&
		       NETQ_MAX_IFACES == 32, "netq_ifmap: 32 x {ifindex, netns}");
#ifdef __SSE2__
	const __m128i pat = _mm_set_epi32((int)ns, 0, (int)ns, 0);
	const __m128i *v = (const __m128i *)map;
	uint64_t m[4], ok;
	int k;

	for (k = 0; k < 4; k++) {  /* entries 8k .. 8k+7 */
		__m128i a = _mm_cmpeq_epi32(_mm_loadu_si128(v + 4 * k), pat);
		__m128i b = _mm_cmpeq_epi32(_mm_loadu_si128(v + 4 * k + 1), pat);
		__m128i c = _mm_cmpeq_epi32(_mm_loadu_si128(v + 4 * k + 2), pat);
		__m128i d = _mm_cmpeq_epi32(_mm_loadu_si128(v + 4 * k + 3), pat);

		m[k] = (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(
			_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
	}
	/* bit 2i: ifindex of slot i is 0; bit 2i+1: its netns is ns */
	ok = (m[0] | m[1] << 16) | (m[2] << 32 | m[3] << 48);
	ok = (ok >> 1) & ~ok & 0x5555555555555555ull;
	for (; ok; ok &= ok - 1)
		slot[n++] = __builtin_ctzll(ok) / 2;
#else
	int i;

	for (i = 0; i < NETQ_MAX_IFACES; i++)
		if (RD(map[i].netns_ino) == ns && RD(map[i].ifindex))
			slot[n++] = i;
#endif
	return n;
}

int netq_decide(const struct netq *q, enum netq_service svc,
		const struct netq_thresholds *t, struct netq_decision *out)
{
	return netq_decide_at(q, svc, t, 0, out);
}

int netq_decide_at(const struct netq *q, enum netq_service svc,
		   const struct netq_thresholds *t, uint64_t now,
		   struct netq_decision *out)
{
	int order[NETQ_MAX_IFACES], n, i, j, k, tmp, best = -1;
	int best_done = 0;
	struct netq_decision bd;
	enum netq_reason r, best_r = NETQ_R_NO_INTERFACE;

	if (!q || !t || !out)
		return -EINVAL;
	n = slots_of_netns(q->ifmap, q->my_netns, order);
	/* the slots are known: their lines load while we go on */
	for (i = 0; i < n; i++)
		prefetch_slot(&q->ifaces[order[i]]);
	/* default-route interfaces first, with netq_decide()'s old swaps
	 * (the order of the others matters for which one is reported) */
	for (i = 0, j = 0; i < n && q->have_lstate; i++) {
		if (q->lstate[order[i]].default_route) {
			tmp = order[j];
			order[j] = order[i];
			order[i] = tmp;
			j++;
		}
	}
	/* netq_decide_many(): the first DATA wins, else the first of those
	 * that got furthest. Counters only where the verdict needs them. */
	for (k = 0; k < n; k++) {
		r = reason_by_link(q, order[k], svc);
		if (r == NETQ_R_NO_INTERFACE || r == NETQ_R_OK) {
			decide_slot(q, order[k], &now, svc, t, out);
			if (out->verdict == NETQ_DATA)
				return 0;
			r = out->reason;
			if (best < 0 || netq_reason_progress(r) >
					netq_reason_progress(best_r)) {
				best = order[k];
				best_r = r;
				bd = *out;
				best_done = 1;
			}
		} else if (best < 0 || netq_reason_progress(r) >
				       netq_reason_progress(best_r)) {
			best = order[k];
			best_r = r;
			best_done = 0;
		}
	}
	if (best < 0) {
		memset(out, 0, sizeof(*out));
		out->verdict = NETQ_FALLBACK;
		out->reason = NETQ_R_NO_INTERFACE;
		out->loss_pct = -1;
	} else if (best_done) {
		*out = bd;
	} else {
		decide_slot(q, best, &now, svc, t, out);
	}
	return 0;
}
