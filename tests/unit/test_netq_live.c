/*
 * test_netq_live: netq_decide() (the fused, lazy decision straight from
 * the maps, user/netq/netq_live.c) must give exactly what the snapshot path
 * gives: netq_snapshot_all() + default-route-first + netq_decide_many().
 * And netq_stream_delta() (integer interpolation, one read of the window's
 * first mark) must match the first version (double interpolation, kept
 * here as the reference). No BPF needed: the maps are ordinary memory
 * filled by a simulation of bpf/netq.bpf.c's writer (coarse-clock epochs,
 * precise mark times, torn marks, a wrapped ring), at a fixed "now".
 * No RFCs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>
#include "../../user/netq/netq_priv.h"

#define MY_NS    4026531993u
#define OTHER_NS 4026532001u
#define JIFFY_NS 4000000ull            /* HZ=250: the coarse clock's step */
#define SEC      1000000000ull

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t rnd_to(uint64_t n) /* [0, n) */
{
	return n ? rnd() % n : 0;
}

/* ---------------------------------------------------- the reference */
/* netq_stream_delta() as first written (netq_read.c, double lerp). */
static int ref_mark_get(const struct netq_stream *s, uint64_t e,
			struct netq_mark *out)
{
	const struct netq_mark *m = &s->marks[e & (NETQ_NMARKS - 1)];

	if (m->seq != 2 * e + 2)
		return 0;
	*out = *m;
	return 1;
}

static uint64_t ref_lerp(uint64_t v0, uint64_t v1, uint64_t t0, uint64_t t1,
			 uint64_t t)
{
	if (t <= t0 || t1 <= t0)
		return v0;
	if (t >= t1)
		return v1;
	return v0 + (uint64_t)((double)(v1 - v0) * (double)(t - t0) /
			       (double)(t1 - t0));
}

static void ref_delta(const struct netq_stream *s, uint64_t now,
		      uint64_t win, uint64_t d[3], int *inexact)
{
	uint64_t cur[3] = { s->a, s->b, s->c };
	uint64_t t0 = now > win ? now - win : 0;
	uint64_t e0 = t0 >> NETQ_EPOCH_SHIFT, ecur = now >> NETQ_EPOCH_SHIFT;
	uint64_t pv[3] = {0}, nv[3] = {0}, at, e, hi = 0, pe = 0;
	uint64_t elast = s->epoch;
	struct netq_mark pm = {0}, nm = {0};
	int have_p = 0, have_n = 0, i;

	*inexact = 0;
	if (((elast + 1) << NETQ_EPOCH_SHIFT) <= t0) {
		d[0] = d[1] = d[2] = 0;
		return;
	}
	for (e = e0; e <= ecur && e <= elast && e < e0 + NETQ_NMARKS; e++)
		if (ref_mark_get(s, e, &nm) && nm.t_ns > t0) {
			have_n = 1;
			break;
		}
	for (e = e0 < elast ? e0 : elast; e + 16 >= e0 && e <= e0; e--) {
		if (ref_mark_get(s, e, &pm) && pm.t_ns <= t0) {
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
		hi = (pe + 1) << NETQ_EPOCH_SHIFT;
		if (!have_n && now < hi)
			hi = now;
		if (have_n && nm.t_ns < hi)
			hi = nm.t_ns;
	}
	for (i = 0; i < 3; i++) {
		if (have_p) {
			uint64_t v1 = have_n ? nv[i] : cur[i];

			at = ref_lerp(pv[i], v1, pm.t_ns, hi, t0);
			/* doubles round beyond 2^53 */
			if ((double)(v1 - pv[i]) * (double)(hi - pm.t_ns) >
			    9007199254740992.0)
				*inexact = 1;
		} else if (have_n) {
			at = nv[i];
		} else {
			at = cur[i];
		}
		d[i] = cur[i] >= at ? cur[i] - at : 0;
	}
}

/* ---------------------------------------------------- the simulation */
/*
 * bpf/netq.bpf.c's writer: an event at precise time t is seen with the
 * coarse clock (the last tick); the first event of a new epoch (by the
 * coarse clock) writes the mark with the precise time and the counters
 * before it, so a mark's t_ns can lie in the next epoch.
 */
static void sim_event(struct netq_stream *s, uint64_t t, uint64_t a,
		      uint64_t b, uint64_t c)
{
	uint64_t e = (t - t % JIFFY_NS) >> NETQ_EPOCH_SHIFT;

	if (e != s->epoch) {
		struct netq_mark *m = &s->marks[e & (NETQ_NMARKS - 1)];

		s->epoch = e;
		m->seq = 2 * e + 2;
		m->t_ns = t;
		m->a = s->a;
		m->b = s->b;
		m->c = s->c;
		s->last_ns = t;
	}
	s->a += a;
	s->b += b;
	s->c += c;
}

/* A history ending somewhere before now: nothing, steady, bursts, long
 * gaps; tcp streams count segments/retransmits/samples. */
static void sim_stream(struct netq_stream *s, uint64_t now, int tcp)
{
	uint64_t start, end, t, gap_mean;
	int pattern = (int)rnd_to(7), k;
	/* now and then absurd volumes: the 64-bit overflow paths */
	uint64_t big = rnd_to(8) ? 0 : 1ull << (33 + rnd_to(8));

	memset(s, 0, sizeof(*s));
	s->a = rnd_to(4) ? 0 : rnd_to(1ull << 40);  /* totals from before */
	s->b = s->a / 1000;
	if (pattern == 0)
		return;
	start = now - SEC / 2 - rnd_to(25 * SEC);
	end = pattern == 5 ? now - rnd_to(40 * SEC) : now - rnd_to(SEC / 5);
	if (end < start)
		end = start;
	gap_mean = pattern == 1 ? 1000000 + rnd_to(20000000) :
		   pattern == 2 ? 100000 + rnd_to(1000000) :
		   pattern == 6 ? SEC / 2 + rnd_to(SEC) : /* 8-22 epochs */
				  5000000 + rnd_to(400000000);
	for (t = start, k = 0; t <= end && k < 4000; k++) {
		if (tcp)
			sim_event(s, t, 1 + rnd_to(20), rnd_to(8) == 0,
				  rnd_to(3) == 0);
		else {
			uint64_t len = 60 + rnd_to(big ? big :
						   pattern == 2 ? 64000 : 1500);

			sim_event(s, t, len, 1, len > 1600 ? rnd_to(44) : 0);
		}
		/* bursts: back to back, then a pause */
		t += pattern == 3 && rnd_to(4) ? rnd_to(20000) :
		     1 + rnd_to(2 * gap_mean);
	}
	/* a mark being written right now, or a stale one */
	if (!rnd_to(10)) {
		uint64_t e = s->epoch - rnd_to(20);

		s->marks[e & (NETQ_NMARKS - 1)].seq |= 1;
	}
}

static void sim_iface(struct netq_iface *st, uint32_t ifindex, uint64_t now)
{
	memset(st, 0, offsetof(struct netq_iface, rx));
	st->ifindex = ifindex;
	snprintf(st->ifname, sizeof(st->ifname), "if%u", ifindex);
	st->attach_ns = now - 60 * SEC;
	st->attach_mode = NETQ_MODE_TCX;
	st->flags = rnd_to(2) ? NETQ_IF_TXW : 0;
	sim_stream(&st->rx, now, 0);
	sim_stream(&st->tx, now, 0);
	sim_stream(&st->txw, now, 0);
	sim_stream(&st->tcp, now, 1);
	if (rnd_to(2)) {
		st->srtt_ns_at = now - rnd_to(60 * SEC);
		st->srtt_us = (uint32_t)rnd_to(700000);
	}
	if (rnd_to(3)) {
		st->probe_ns = now - rnd_to(2000 * SEC);
		st->probe_seq = 2 * rnd_to(100) + (rnd_to(10) == 0);
		st->probe_kbps = (uint32_t)rnd_to(20000);
		st->probe_rtt_us = (uint32_t)rnd_to(600000);
		st->probe_sent = (uint32_t)rnd_to(65);
		st->probe_recv = (uint32_t)rnd_to(st->probe_sent + 1);
	}
}

/* A "now" whose window starts exactly at a complete mark of s (the
 * boundary of "after t0"), or now itself if s has none. */
static uint64_t now_on_mark(const struct netq_stream *s, uint64_t now,
			    uint64_t win)
{
	uint64_t e = s->epoch - rnd_to(NETQ_NMARKS);
	const struct netq_mark *m = &s->marks[e & (NETQ_NMARKS - 1)];

	return m->seq == 2 * e + 2 && m->t_ns ? m->t_ns + win : now;
}

/* A struct netq over ordinary memory instead of the mmap'ed maps. */
static struct netq *fake_open(void)
{
	struct netq *q = calloc(1, sizeof(*q));

	assert_non_null(q);
	q->ifaces = calloc(NETQ_MAX_IFACES, sizeof(*q->ifaces));
	q->ifmap = calloc(NETQ_MAX_IFACES, sizeof(*q->ifmap));
	assert_non_null(q->ifaces);
	assert_non_null(q->ifmap);
	q->fd_ifaces = q->fd_ifmap = q->fd_probe = q->fd_ctl = -1;
	q->my_netns = MY_NS;
	return q;
}

static void fake_close(struct netq *q)
{
	free(q->ifaces);
	free(q->ifmap);
	free(q);
}

/* Random slots (free, ours, another netns's), link states, counters. */
static uint64_t sim_netq(struct netq *q)
{
	uint64_t now = 3600 * SEC + rnd_to(100000 * SEC);
	int used = 1 + (int)rnd_to(6), i, last = 0;

	memset(q->ifmap, 0, NETQ_MAX_IFACES * sizeof(*q->ifmap));
	q->have_lstate = rnd_to(8) != 0;
	for (i = 0; i < used; i++) {
		int slot = (int)rnd_to(NETQ_MAX_IFACES);
		uint32_t ifindex = 2 + (uint32_t)rnd_to(50);

		q->ifmap[slot].ifindex = rnd_to(8) ? ifindex : 0;
		q->ifmap[slot].netns_ino = rnd_to(5) ? MY_NS : OTHER_NS;
		sim_iface(&q->ifaces[slot], ifindex, now);
		q->lstate[slot].up = rnd_to(5) != 0;
		q->lstate[slot].default_route = rnd_to(3) != 0;
		last = slot;
	}
	/* sometimes the rate window starts right on a mark */
	if (!rnd_to(4))
		now = now_on_mark(rnd_to(2) ? &q->ifaces[last].rx :
				  &q->ifaces[last].txw, now, SEC);
	return now;
}

static void sim_thresholds(enum netq_service svc, struct netq_thresholds *t)
{
	static const uint32_t kbps[] = { 0, 100, 1000, 5000, 50000 };
	static const double loss[] = { -1, 0, 1, 5, 20 };

	netq_thresholds_default(svc, t);
	if (rnd_to(2)) {
		t->min_kbps = kbps[rnd_to(5)];
		t->max_rtt_ms = (uint32_t)rnd_to(3) * 150;
		t->max_loss_pct = loss[rnd_to(5)];
		t->probe_max_age_s = (uint32_t)rnd_to(3) * 450;
	}
}

/* The snapshot path, as netq_decide() did it before netq_live.c. */
static void ref_decide(const struct netq *q, enum netq_service svc,
		       const struct netq_thresholds *t, uint64_t now,
		       struct netq_decision *out)
{
	struct netq_snapshot s[NETQ_MAX_IFACES], tmp;
	int n = netq_snapshot_all_at(q, now, s, NETQ_MAX_IFACES), i, j;

	assert_true(n >= 0);
	for (i = 0, j = 0; i < n; i++)
		if (s[i].default_route) {
			tmp = s[j];
			s[j] = s[i];
			s[i] = tmp;
			j++;
		}
	assert_int_equal(netq_decide_many(s, (size_t)n, svc, t, out), 0);
}

/* ---------------------------------------------------- the tests */
static void test_delta_matches_reference(void **state)
{
	static struct netq_stream s;
	static const uint64_t wins[] = { SEC, 10 * SEC, SEC / 3 };
	uint64_t d[3], r[3], now;
	int iter, w, i, inexact, active = 0;

	for (iter = 0; iter < 3000; iter++) {
		now = 3600 * SEC + rnd_to(100000 * SEC);
		sim_stream(&s, now, (int)rnd_to(2));
		for (w = 0; w < 3; w++) {
			if (rnd_to(2))
				now = now_on_mark(&s, now, wins[w]);
			netq_stream_delta(&s, now, wins[w], d);
			ref_delta(&s, now, wins[w], r, &inexact);
			for (i = 0; i < 3; i++) {
				if (inexact)
					assert_true(d[i] + 1 >= r[i] &&
						    r[i] + 1 >= d[i]);
				else
					assert_int_equal(d[i], r[i]);
			}
			active += d[0] != 0;
		}
	}
	/* the simulation does exercise the marks, not just idle streams */
	assert_true(active > 1000);
}

static void test_decide_matches_snapshots(void **state)
{
	struct netq *q = fake_open();
	struct netq_thresholds t;
	struct netq_decision a, b;
	int iter, svc, seen[NETQ_R_LOSS_HIGH + 1] = {0}, r;

	for (iter = 0; iter < 1500; iter++) {
		uint64_t now = sim_netq(q);

		for (svc = NETQ_TEXT; svc <= NETQ_VOICE; svc++) {
			sim_thresholds((enum netq_service)svc, &t);
			memset(&a, 0x5a, sizeof(a));
			assert_int_equal(netq_decide_at(q, (enum netq_service)svc,
							&t, now, &a), 0);
			ref_decide(q, (enum netq_service)svc, &t, now, &b);
			assert_int_equal(a.verdict, b.verdict);
			assert_int_equal(a.reason, b.reason);
			assert_int_equal(a.ifindex, b.ifindex);
			assert_string_equal(a.ifname, b.ifname);
			assert_int_equal(a.rate_kbps, b.rate_kbps);
			assert_int_equal(a.rate_from_probe, b.rate_from_probe);
			assert_int_equal(a.rtt_us, b.rtt_us);
			assert_memory_equal(&a.loss_pct, &b.loss_pct,
					    sizeof(a.loss_pct));
			seen[a.reason]++;
		}
	}
	/* every outcome occurred, so every branch was compared */
	for (r = NETQ_R_OK; r <= NETQ_R_LOSS_HIGH; r++)
		assert_true(seen[r] > 0);
	fake_close(q);
}

static void test_decide_edges(void **state)
{
	struct netq *q = fake_open();
	struct netq_thresholds t;
	struct netq_decision d;

	netq_thresholds_default(NETQ_VOICE, &t);
	assert_int_equal(netq_decide(NULL, NETQ_VOICE, &t, &d), -EINVAL);
	assert_int_equal(netq_decide(q, NETQ_VOICE, NULL, &d), -EINVAL);
	assert_int_equal(netq_decide(q, NETQ_VOICE, &t, NULL), -EINVAL);
	/* nothing monitored in this netns: slot 31 belongs to another */
	q->ifmap[31].ifindex = 7;
	q->ifmap[31].netns_ino = OTHER_NS;
	assert_int_equal(netq_decide(q, NETQ_VOICE, &t, &d), 0);
	assert_int_equal(d.verdict, NETQ_FALLBACK);
	assert_int_equal(d.reason, NETQ_R_NO_INTERFACE);
	assert_true(d.loss_pct < 0);
	/* the last slot counts: up, routed, a fresh fast probe */
	q->ifmap[31].netns_ino = MY_NS;
	sim_iface(&q->ifaces[31], 7, 1000 * SEC);
	q->have_lstate = 1;
	q->lstate[31].up = 1;
	q->lstate[31].default_route = 1;
	assert_int_equal(netq_decide(q, NETQ_TEXT, &t, &d), 0);
	assert_int_equal(d.verdict, NETQ_DATA);
	assert_int_equal(d.ifindex, 7);
	assert_string_equal(d.ifname, "if7");
	fake_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delta_matches_reference),
		cmocka_unit_test(test_decide_matches_snapshots),
		cmocka_unit_test(test_decide_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
