/*
 * netq_decide: the voice/text decision on per-interface snapshots. Pure
 * functions (no I/O, no allocation) so that unit tests and benchmarks can
 * feed them snapshots they filled themselves. No RFCs; the thresholds and
 * why they are what they are: docs/netq.md.
 */
#include <errno.h>
#include <string.h>
#include "netq_priv.h"
#include "netq_rules.h"

void netq_thresholds_default(enum netq_service svc, struct netq_thresholds *t)
{
	memset(t, 0, sizeof(*t));
	t->probe_max_age_s = NETQ_PROBE_MAX_AGE_S;
	if (svc == NETQ_VOICE) {
		t->min_kbps = NETQ_VOICE_MIN_KBPS;
		t->max_rtt_ms = NETQ_VOICE_MAX_RTT_MS;
		t->max_loss_pct = NETQ_VOICE_MAX_LOSS_PCT;
	} else {
		t->max_loss_pct = -1; /* text: connected is enough (C22) */
	}
}

const char *netq_reason_str(enum netq_reason r)
{
	switch (r) {
	case NETQ_R_OK:           return "ok";
	case NETQ_R_NO_INTERFACE: return "no monitored interface";
	case NETQ_R_LINK_DOWN:    return "link down";
	case NETQ_R_NO_ROUTE:     return "no default route";
	case NETQ_R_NO_RATE:      return "no fresh probe and traffic below threshold";
	case NETQ_R_RATE_LOW:     return "rate below threshold";
	case NETQ_R_RTT_HIGH:     return "rtt above threshold";
	case NETQ_R_LOSS_HIGH:    return "loss above threshold";
	}
	return "unknown";
}

const char *netq_verdict_str(enum netq_verdict v)
{
	return v == NETQ_DATA ? "data" : "fallback";
}

const char *netq_kind_str(enum netq_link_kind k)
{
	switch (k) {
	case NETQ_KIND_ETHERNET: return "ethernet";
	case NETQ_KIND_WIFI:     return "wifi";
	case NETQ_KIND_WWAN:     return "wwan";
	case NETQ_KIND_OTHER:    return "other";
	default:                 return "unknown";
	}
}

/*
 * Evidence, in order: connectivity (carrier, default route), then for voice
 * the rate (max of the traffic seen in the last second either way and a
 * probe's capacity no older than probe_max_age_s), the RTT (TCP srtt when a
 * TCP sample is fresh, else the probe's), the loss (TCP retransmissions over
 * the window when enough segments were sent, else the probe's lost echoes).
 * A figure with no evidence is not held against the link, except the rate:
 * a link without a fresh probe whose traffic stays under the threshold has
 * not shown it can carry a call (NETQ_R_NO_RATE: run a probe); little
 * traffic says how much was sent, not how much could be.
 */
int netq_decide_snapshot(const struct netq_snapshot *s, enum netq_service svc,
			 const struct netq_thresholds *t,
			 struct netq_decision *out)
{
	struct netq_evidence e;
	struct netq_decision d;

	if (!s || !t || !out)
		return -EINVAL;
	e.up = s->up;
	e.route = s->default_route;
	e.traffic_kbps = (s->rx_bps > s->tx_bps ? s->rx_bps : s->tx_bps) / 1000;
	e.have_probe = s->have_probe;
	e.probe_age_ms = s->probe_age_ms;
	e.probe_kbps = s->probe_kbps;
	e.probe_rtt_us = s->probe_rtt_us;
	e.probe_sent = s->probe_sent;
	e.probe_recv = s->probe_recv;
	e.have_tcp = s->have_tcp;
	e.srtt_us = s->srtt_us;
	e.have_loss = s->have_loss;
	e.tcp_loss_pct = s->loss_pct;
	memset(&d, 0, sizeof(d));
	d.ifindex = s->ifindex;
	memcpy(d.ifname, s->ifname, sizeof(d.ifname));
	d.ifname[sizeof(d.ifname) - 1] = 0;
	netq_rules(&e, svc, t, &d);
	*out = d;
	return 0;
}

int netq_decide_many(const struct netq_snapshot *s, size_t n,
		     enum netq_service svc, const struct netq_thresholds *t,
		     struct netq_decision *out)
{
	struct netq_decision best, d;
	size_t i;
	int have = 0;

	if ((!s && n) || !t || !out)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		netq_decide_snapshot(&s[i], svc, t, &d);
		if (d.verdict == NETQ_DATA) {
			*out = d;
			return 0;
		}
		if (!have || netq_reason_progress(d.reason) >
			      netq_reason_progress(best.reason))
			best = d;
		have = 1;
	}
	if (!have) {
		memset(&best, 0, sizeof(best));
		best.verdict = NETQ_FALLBACK;
		best.reason = NETQ_R_NO_INTERFACE;
		best.loss_pct = -1;
	}
	*out = best;
	return 0;
}
