/*
 * callgate: the C3 gate of the patent (docs/calls.md): before a call is
 * forked, the callee's network must carry it. Threshold 2 is
 * --call-min-kbps, compared with the usable rate of the callee's best
 * device.
 *
 * The figures: the callee's latest PIDF publication in the presence
 * store (the handset PUBLISHes them, docs/presence.md). When there are
 * none, or they are older than --call-figures-max-age, the server asks
 * a device of the callee with an OPTIONS over its flow (a server-side
 * client transaction); the handset answers 200 with its current figures
 * in X-Dataline-Net (rate=KBPS;rtt=MS;loss=PPM[;age=S]). The call waits
 * at most --call-ask-ms for that answer; then stale published figures,
 * if any, decide, else the no-figures policy (--call-no-figures-allow,
 * default allow: docs/decisions.md).
 *
 * Refusal: 488 Not Acceptable Here, Warning: 370 <domain> "Insufficient
 * bandwidth" (RFC 3261 s.20.43) and the figures that decided in
 * X-Dataline-Net, so that the caller's handset can tell its user and
 * offer the carrier network (patent step C3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "call.h"
#include "presence_sip.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "dataline/log.h"

/* An OPTIONS in flight for a call. Freed by the client transaction's
 * callback, which always runs once; the call forgets it (call_gate_detach)
 * when it ends first or the wait runs out. */
struct call_gate {
	struct call *c;              /* borrowed; NULL once detached */
	struct event *timer;         /* owned: the --call-ask-ms wait */
	int have_stale;              /* published figures, too old */
	struct call_net stale;
};

static void net_of_view(const struct presence_view *v, struct call_net *n)
{
	memset(n, 0, sizeof(*n));
	n->rate_kbps = v->netq.rate_kbps;
	n->have = CALL_NET_RATE | CALL_NET_AGE;
	n->age_s = v->age_s;
	if (v->netq.have & PIDF_NETQ_RTT) {
		n->rtt_ms = v->netq.rtt_ms;
		n->have |= CALL_NET_RTT;
	}
	if (v->netq.have & PIDF_NETQ_LOSS) {
		n->loss_ppm = v->netq.loss_ppm;
		n->have |= CALL_NET_LOSS;
	}
}

/* The decision on figures N (NULL: none at all). 0: fork; -1: refused
 * (488 sent, the call ended). */
static int gate_decide(struct call *c, const struct call_net *n)
{
	const struct config *cfg = c->w->sh->cfg;
	char extra[384], why[160];

	if (!n) {
		metrics_inc(METRICS_CALLS_GATE_NO_FIGURES);
		if (cfg->call_no_figures_allow)
			return 0;
		snprintf(extra, sizeof(extra),
			 "Warning: 370 %s \"Insufficient bandwidth: no network "
			 "figures\"\r\n", cfg->domain);
	} else if (n->rate_kbps >= (uint32_t)cfg->call_min_kbps) {
		return 0;
	} else {
		snprintf(extra, sizeof(extra),
			 "Warning: 370 %s \"Insufficient bandwidth\"\r\n"
			 "X-Dataline-Net: rate=%u;rtt=%u;loss=%u;age=%u;"
			 "min=%d\r\n", cfg->domain, n->rate_kbps, n->rtt_ms,
			 n->loss_ppm, n->age_s, cfg->call_min_kbps);
	}
	if (n)
		snprintf(why, sizeof(why), "below threshold 2: rate %u kbit/s < %d kbit/s, "
			 "rtt %u ms, loss %u ppm, figures %u s old", n->rate_kbps,
			 cfg->call_min_kbps, n->rtt_ms, n->loss_ppm, n->age_s);
	else
		snprintf(why, sizeof(why), "no figures");
	log_info("call %s: C3 gate refuses the call to %s (%s)", c->call_id,
		 c->callee, why);
	metrics_inc(METRICS_CALLS_GATE_REFUSED);
	call_reply_up(c, 488, NULL, extra);
	call_end(c);
	return -1;
}

static void gate_resume(struct call *c, const struct call_net *n)
{
	if (gate_decide(c, n) == 0)
		call_fork(c);
}

void call_gate_detach(struct call *c)
{
	struct call_gate *g = c->gate;

	if (!g)
		return;
	g->c = NULL;
	evtimer_del(g->timer);
	c->gate = NULL;
}

/* The wait ran out: stale figures or the policy decide. */
static void gate_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call_gate *g = arg;
	struct call *c = g->c;

	(void)fd;
	(void)what;
	if (!c)
		return;
	call_gate_detach(c);
	log_info("call %s: no figures from %s's device within %d ms",
		 c->call_id, c->callee, c->w->sh->cfg->call_ask_ms);
	gate_resume(c, g->have_stale ? &g->stale : NULL);
}

static void gate_answer_cb(void *arg, int status, const struct sip_msg *m)
{
	struct call_gate *g = arg;
	struct call *c = g->c;
	const struct sip_hdr *h;
	struct call_net n;
	int ok = 0;

	if (c && !sipd_closing(c->w)) {
		call_gate_detach(c);
		h = m && status >= 200 && status < 300 ?
			sip_msg_hdr_byname(m, "X-Dataline-Net") : NULL;
		if (h && call_net_parse(h->value.p, h->value.len, &n) == 0)
			ok = 1;
		log_debug("call %s: OPTIONS answered %d, figures %s",
			  c->call_id, status, ok ? "read" : "none");
		gate_resume(c, ok ? &n : g->have_stale ? &g->stale : NULL);
	}
	event_free(g->timer);
	free(g);
}

/* Sends the OPTIONS to the first device we can reach from here. 0, or
 * -errno when no device could be asked. */
static int gate_ask(struct call *c, struct call_gate *g)
{
	struct call_target t[CALL_MAX_BRANCHES];
	struct sipd *w = c->w;
	const struct config *cfg = w->sh->cfg;
	char from[300], to[300], tag[17], cid[33], branch[64];
	struct sipd_request rq;
	struct sip_buf b;
	size_t len;
	int i, n = call_targets(w->sh, c->callee, t, CALL_MAX_BRANCHES);

	snprintf(from, sizeof(from), "sip:gate@%s", cfg->domain);
	snprintf(to, sizeof(to), "sip:%s@%s", c->callee, cfg->domain);
	for (i = 0; i < n; i++) {
		/* only the flow's owner writes to a stream */
		if (t[i].f.tp != SIPD_UDP && t[i].f.worker != w->id)
			continue;
		sip_rand_hex(tag, sizeof(tag), 8);
		sip_rand_hex(cid, sizeof(cid), 16);
		rq = (struct sipd_request){ .method = "OPTIONS",
					    .ruri = t[i].ruri, .from = from,
					    .from_tag = tag, .to = to,
					    .call_id = cid, .cseq = 1 };
		if (sipd_request_begin(w, &t[i].f, &b, &rq, branch,
				       sizeof(branch)))
			continue;
		sip_buf_hdr(&b, "Accept", "application/sdp");
		if (sip_msg_end(&b, NULL, NULL, 0, &len) ||
		    sipd_txc_send(w, &t[i].f, "OPTIONS", branch, b.p, len,
				  gate_answer_cb, g))
			continue;
		return 0;
	}
	return -ENOENT;
}

int call_gate_check(struct call *c)
{
	struct sipd *w = c->w;
	const struct config *cfg = w->sh->cfg;
	struct presence_view v;
	struct call_gate *g;
	struct call_net n;
	int have = 0;
	struct timeval tv;

	if (!cfg->call_gate)
		return 0;
	if (w->sh->pres && presence_figures(w->sh->pres, c->callee,
					    sipd_now_ms(), &v) == 0 &&
	    (v.netq.have & PIDF_NETQ_RATE)) {
		net_of_view(&v, &n);
		have = 1;
		if (v.age_s <= (uint32_t)cfg->call_figures_max_age)
			return gate_decide(c, &n);
	}
	g = calloc(1, sizeof(*g));
	if (g)
		g->timer = evtimer_new(w->base, gate_timer_cb, g);
	if (!g || !g->timer) {
		if (g)
			free(g);
		return gate_decide(c, have ? &n : NULL);
	}
	g->c = c;
	g->have_stale = have;
	if (have)
		g->stale = n;
	if (gate_ask(c, g)) {
		event_free(g->timer);
		free(g);
		return gate_decide(c, have ? &n : NULL);
	}
	metrics_inc(METRICS_CALLS_GATE_ASKED);
	c->gate = g;
	tv.tv_sec = cfg->call_ask_ms / 1000;
	tv.tv_usec = (cfg->call_ask_ms % 1000) * 1000;
	evtimer_add(g->timer, &tv);
	return 1;
}
