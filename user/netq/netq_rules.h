/*
 * netq_rules: the decision rules on figures already read, shared by
 * netq_decide_snapshot() (netq_decide.c, on a filled snapshot) and the
 * fused live path (netq_live.c, straight from the maps), so the two cannot
 * drift apart. Inline: the live path is ~50 ns and a call shows.
 * Rules and why: netq_decide.c and docs/netq.md ("The decision").
 */
#ifndef DATALINE_NETQ_RULES_H
#define DATALINE_NETQ_RULES_H

#include <stdint.h>
#include <dataline/netq.h>

/* What one interface shows, before the rules pick the figures. */
struct netq_evidence {
	int      up, route;          /* link state (netlink) */
	uint64_t traffic_kbps;       /* max of rx and tx over the last second */
	int      have_probe;         /* a complete probe result exists */
	uint64_t probe_age_ms;
	uint32_t probe_kbps, probe_rtt_us, probe_sent, probe_recv;
	int      have_tcp;           /* a fresh TCP RTT sample */
	uint32_t srtt_us;
	int      have_loss;          /* enough TCP segments in the window */
	double   tcp_loss_pct;
};

static inline __attribute__((always_inline))
void netq_rules(const struct netq_evidence *e, enum netq_service svc,
		const struct netq_thresholds *t, struct netq_decision *out)
{
	int fresh = e->have_probe && e->probe_recv > 0 &&
		    (!t->probe_max_age_s ||
		     e->probe_age_ms <= (uint64_t)t->probe_max_age_s * 1000);
	uint64_t rate = e->traffic_kbps;
	uint32_t rtt = 0;
	double loss = -1;
	int from_probe = 0;
	enum netq_reason r;

	if (fresh && e->probe_kbps > e->traffic_kbps) {
		rate = e->probe_kbps;
		from_probe = 1;
	}
	if (e->have_tcp)
		rtt = e->srtt_us;
	else if (fresh)
		rtt = e->probe_rtt_us;
	if (e->have_loss)
		loss = e->tcp_loss_pct;
	else if (fresh && e->probe_sent)
		loss = 100.0 * (e->probe_sent - e->probe_recv) / e->probe_sent;

	if (!e->up)
		r = NETQ_R_LINK_DOWN;
	else if (!e->route)
		r = NETQ_R_NO_ROUTE;
	else if (svc == NETQ_TEXT)
		r = NETQ_R_OK;
	else if (t->min_kbps && !fresh && e->traffic_kbps < t->min_kbps)
		r = NETQ_R_NO_RATE;
	else if (rate < t->min_kbps)
		r = NETQ_R_RATE_LOW;
	else if (t->max_rtt_ms && rtt && rtt > (uint64_t)t->max_rtt_ms * 1000)
		r = NETQ_R_RTT_HIGH;
	else if (t->max_loss_pct >= 0 && loss >= 0 && loss > t->max_loss_pct)
		r = NETQ_R_LOSS_HIGH;
	else
		r = NETQ_R_OK;

	out->verdict = r == NETQ_R_OK ? NETQ_DATA : NETQ_FALLBACK;
	out->reason = r;
	out->rate_kbps = rate;
	out->rate_from_probe = from_probe;
	out->rtt_us = rtt;
	out->loss_pct = loss;
}

#endif
