/*
 * hpres_rules: the pure parts of the handset's presence (no I/O, no
 * allocation, no clock): the probe budget over a rolling hour, the check
 * of a probing interval against it, what counts as a material change of
 * the published figures, and the figures themselves from netq's snapshots
 * or a probe result. Why these numbers: docs/presence.md ("The handset's
 * side") and docs/decisions.md.
 */
#include <errno.h>
#include <string.h>

#include "dataline/hpres.h"

void hpres_budget_init(struct hpres_budget *b, uint64_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

uint64_t hpres_budget_spent(struct hpres_budget *b, uint64_t now_ms)
{
	uint64_t sum = 0;
	unsigned i;

	while (b->n && b->e[b->head].t_ms + HPRES_HOUR_MS <= now_ms) {
		b->head = (b->head + 1) % HPRES_BUDGET_SLOTS;
		b->n--;
	}
	for (i = 0; i < b->n; i++)
		sum += b->e[(b->head + i) % HPRES_BUDGET_SLOTS].bytes;
	return sum;
}

int hpres_budget_wait(struct hpres_budget *b, uint64_t now_ms, uint64_t cost,
		      uint64_t *wait_ms)
{
	uint64_t spent = hpres_budget_spent(b, now_ms);
	unsigned i;

	if (cost > b->limit)
		return -E2BIG;
	if (spent + cost <= b->limit) {
		*wait_ms = 0;
		return 0;
	}
	/* the oldest entries age out first: wait for the one that frees
	 * enough */
	for (i = 0; i < b->n; i++) {
		const unsigned k = (b->head + i) % HPRES_BUDGET_SLOTS;

		spent -= b->e[k].bytes;
		if (spent + cost <= b->limit) {
			*wait_ms = b->e[k].t_ms + HPRES_HOUR_MS - now_ms;
			return 0;
		}
	}
	*wait_ms = HPRES_HOUR_MS; /* not reached: cost <= limit */
	return 0;
}

void hpres_budget_charge(struct hpres_budget *b, uint64_t now_ms, uint64_t bytes)
{
	hpres_budget_spent(b, now_ms);
	if (b->n == HPRES_BUDGET_SLOTS) {
		b->e[(b->head + b->n - 1) % HPRES_BUDGET_SLOTS].bytes += bytes;
		return;
	}
	b->e[(b->head + b->n) % HPRES_BUDGET_SLOTS].t_ms = now_ms;
	b->e[(b->head + b->n) % HPRES_BUDGET_SLOTS].bytes = bytes;
	b->n++;
}

int hpres_interval_check(uint64_t cost, uint32_t interval_s, uint64_t limit)
{
	uint64_t per_hour;

	if (!interval_s)
		return -EINVAL;
	per_hour = (3600 + interval_s - 1) / interval_s;
	return per_hour * cost > limit ? -E2BIG : 0;
}

static uint32_t absdiff(uint32_t a, uint32_t b)
{
	return a > b ? a - b : b - a;
}

/* 1 if the field of bit BIT came or went between O and N. */
static int came_or_went(const struct pidf_netq *o, const struct pidf_netq *n,
			unsigned bit)
{
	return !(o->have & bit) != !(n->have & bit);
}

unsigned hpres_material_change(const struct pidf_netq *o, const struct pidf_netq *n)
{
	unsigned c = 0;

	if (!o->present != !n->present)
		return HPRES_CHG_NETQ;
	if (came_or_went(o, n, PIDF_NETQ_LINK) ||
	    ((n->have & PIDF_NETQ_LINK) && o->link != n->link))
		c |= HPRES_CHG_LINK;
	if (came_or_went(o, n, PIDF_NETQ_RATE) ||
	    ((n->have & PIDF_NETQ_RATE) &&
	     (uint64_t)absdiff(o->rate_kbps, n->rate_kbps) * 4 >= o->rate_kbps &&
	     o->rate_kbps != n->rate_kbps))
		c |= HPRES_CHG_RATE;
	if (came_or_went(o, n, PIDF_NETQ_RTT) ||
	    ((n->have & PIDF_NETQ_RTT) &&
	     (uint64_t)absdiff(o->rtt_ms, n->rtt_ms) * 2 >= o->rtt_ms &&
	     absdiff(o->rtt_ms, n->rtt_ms) >= HPRES_RTT_MIN_DELTA_MS))
		c |= HPRES_CHG_RTT;
	if (came_or_went(o, n, PIDF_NETQ_LOSS) ||
	    ((n->have & PIDF_NETQ_LOSS) &&
	     absdiff(o->loss_ppm, n->loss_ppm) >= HPRES_LOSS_DELTA_PPM))
		c |= HPRES_CHG_LOSS;
	return c;
}

static uint32_t ms_of_us(uint64_t us)
{
	uint64_t ms = (us + 500) / 1000;

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static uint32_t s_of_ms(uint64_t ms)
{
	return ms / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ms / 1000);
}

/* Rate and RTT of our own probe where netq has none. */
static void figures_from_probe(const struct netq_probe_result *p,
			       uint64_t age_ms, struct pidf_netq *o)
{
	if (!p || !p->recv ||
	    age_ms > (uint64_t)NETQ_PROBE_MAX_AGE_S * 1000)
		return;
	if (!(o->have & PIDF_NETQ_RATE) && p->kbps) {
		o->rate_kbps = p->kbps;
		o->probed = 1;
		o->have |= PIDF_NETQ_RATE | PIDF_NETQ_PROBED | PIDF_NETQ_AGE;
		o->age_s = s_of_ms(age_ms);
	}
	if (!(o->have & PIDF_NETQ_RTT) && p->rtt_us) {
		o->rtt_ms = ms_of_us(p->rtt_us);
		o->have |= PIDF_NETQ_RTT | PIDF_NETQ_AGE;
		o->age_s = s_of_ms(age_ms);
	}
	if (!(o->have & PIDF_NETQ_LOSS) && p->sent) {
		o->loss_ppm = (uint32_t)((uint64_t)(p->sent - (p->recv < p->sent ?
				p->recv : p->sent)) * PIDF_LOSS_PPM_MAX / p->sent);
		o->have |= PIDF_NETQ_LOSS;
	}
}

void hpres_figures(const struct netq_snapshot *s, int n,
		   const struct netq_probe_result *probe, uint64_t probe_age_ms,
		   struct pidf_netq *out)
{
	struct netq_thresholds t;
	struct netq_decision d;
	const struct netq_snapshot *ss = NULL;
	struct pidf_netq o;
	int i;

	memset(&o, 0, sizeof(o));
	o.present = 1;
	netq_thresholds_default(NETQ_VOICE, &t);
	if (s && n > 0 && netq_decide_many(s, (size_t)n, NETQ_VOICE, &t, &d) == 0) {
		for (i = 0; i < n && !ss; i++)
			if (s[i].ifindex == d.ifindex)
				ss = &s[i];
	}
	if (ss) {
		int fresh = ss->have_probe && ss->probe_recv > 0 &&
			    ss->probe_age_ms <= (uint64_t)t.probe_max_age_s * 1000;
		uint64_t traffic = (ss->rx_bps > ss->tx_bps ? ss->rx_bps : ss->tx_bps) / 1000;

		o.link = ss->up && ss->default_route ? PIDF_LINK_UP : PIDF_LINK_DOWN;
		o.have |= PIDF_NETQ_LINK;
		if (fresh || traffic >= NETQ_VOICE_MIN_KBPS) {
			o.rate_kbps = d.rate_kbps > UINT32_MAX ? UINT32_MAX
							       : (uint32_t)d.rate_kbps;
			o.probed = d.rate_from_probe;
			o.have |= PIDF_NETQ_RATE | PIDF_NETQ_PROBED;
		}
		if (d.rtt_us) {
			o.rtt_ms = ms_of_us(d.rtt_us);
			o.have |= PIDF_NETQ_RTT;
		}
		if (d.loss_pct >= 0) {
			double ppm = d.loss_pct * 10000.0 + 0.5;

			o.loss_ppm = ppm >= PIDF_LOSS_PPM_MAX ? PIDF_LOSS_PPM_MAX
							      : (uint32_t)ppm;
			o.have |= PIDF_NETQ_LOSS;
		}
		o.age_s = 0;
		o.have |= PIDF_NETQ_AGE;
		if (fresh && (d.rate_from_probe || !ss->have_tcp))
			o.age_s = s_of_ms(ss->probe_age_ms);
	}
	figures_from_probe(probe, probe_age_ms, &o);
	*out = o;
}
