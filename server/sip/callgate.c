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
#include "../core/mailbox.h"
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
	int remote;                  /* asked through another worker: the
					call owns this, the answer finds
					it by Call-ID and ask_id */
	uint64_t ask_id;
};

/*
 * An OPTIONS over a stream another worker owns: only the owner writes to
 * a stream and keeps the client transaction, so the request is built and
 * sent there, and the answer's figures come back to the call's home in a
 * message of their own. The gate itself never crosses threads: the home
 * finds its call again by Call-ID and the ask's number, and a late answer
 * (the call ended, the wait ran out, a mailbox full) finds nothing and is
 * dropped.
 */
struct gate_remote {
	struct sipd *home, *owner;
	struct sipd_flow f;
	uint64_t ask_id;
	char call_id[256];
	char ruri[512];
	char callee[64];
	int status, ok;              /* the answer */
	struct call_net n;
};

static uint64_t gate_ask_seq;	/* numbers asks (any thread) */

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
	if (g->remote) {	/* no callback of ours will free it */
		event_free(g->timer);
		free(g);
	}
}

/* The wait ran out: stale figures or the policy decide. */
static void gate_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call_gate *g = arg;
	struct call *c = g->c;

	(void)fd;
	(void)what;
	struct call_net stale = g->stale;
	int have_stale = g->have_stale;

	if (!c)
		return;
	call_gate_detach(c);	/* frees g when remote */
	log_info("call %s: no figures from %s's device within %d ms",
		 c->call_id, c->callee, c->w->sh->cfg->call_ask_ms);
	gate_resume(c, have_stale ? &stale : NULL);
}

/* The figures of an OPTIONS answer (2xx with X-Dataline-Net), 1 if any. */
static int answer_figures(int status, const struct sip_msg *m,
			  struct call_net *n)
{
	const struct sip_hdr *h = m && status >= 200 && status < 300 ?
		sip_msg_hdr_byname(m, "X-Dataline-Net") : NULL;

	return h && call_net_parse(h->value.p, h->value.len, n) == 0;
}

/* On the home worker: the answer to an ask through another worker. */
static void gate_remote_back(void *arg)
{
	struct gate_remote *r = arg;
	struct sip_str cid = { r->call_id, strlen(r->call_id) };
	struct call *c = sipd_closing(r->home) ? NULL : call_find(r->home, cid);
	struct call_gate *g = c ? c->gate : NULL;
	struct call_net stale;
	int have_stale;

	if (g && g->remote && g->ask_id == r->ask_id) {
		stale = g->stale;
		have_stale = g->have_stale;
		call_gate_detach(c);
		log_debug("call %s: OPTIONS (via worker %d) answered %d, figures %s",
			  c->call_id, r->owner->id, r->status, r->ok ? "read" : "none");
		gate_resume(c, r->ok ? &r->n : have_stale ? &stale : NULL);
	}
	free(r);
}

/* On the owner worker: the answer; its figures go home. */
static void gate_remote_answer(void *arg, int status, const struct sip_msg *m)
{
	struct gate_remote *r = arg;

	r->status = status;
	r->ok = answer_figures(status, m, &r->n);
	if (mailbox_post(r->home->mb, gate_remote_back, r)) {
		metrics_inc(METRICS_MAILBOX_FULL);
		free(r);	/* the home's wait decides */
	}
}

static int gate_send_options(struct sipd *w, const struct sipd_flow *f,
			     const char *ruri, const char *callee,
			     sipd_txc_cb cb, void *arg);

/* On the owner worker: send the OPTIONS over its stream. */
static void gate_remote_send(void *arg)
{
	struct gate_remote *r = arg;

	if (sipd_closing(r->owner) ||
	    gate_send_options(r->owner, &r->f, r->ruri, r->callee,
			      gate_remote_answer, r))
		gate_remote_answer(r, 430, NULL);	/* Flow Failed */
}

static void gate_answer_cb(void *arg, int status, const struct sip_msg *m)
{
	struct call_gate *g = arg;
	struct call *c = g->c;
	struct call_net n;
	int ok;

	if (c && !sipd_closing(c->w)) {
		call_gate_detach(c);
		ok = answer_figures(status, m, &n);
		log_debug("call %s: OPTIONS answered %d, figures %s",
			  c->call_id, status, ok ? "read" : "none");
		gate_resume(c, ok ? &n : g->have_stale ? &g->stale : NULL);
	}
	event_free(g->timer);
	free(g);
}

/* An OPTIONS from gate@ to a device over F, from worker W (F's owner for
 * a stream). 0 or -errno. */
static int gate_send_options(struct sipd *w, const struct sipd_flow *f,
			     const char *ruri, const char *callee,
			     sipd_txc_cb cb, void *arg)
{
	const struct config *cfg = w->sh->cfg;
	char from[300], to[300], tag[17], cid[33], branch[64];
	struct sipd_request rq;
	struct sip_buf b;
	size_t len;

	snprintf(from, sizeof(from), "sip:gate@%s", cfg->domain);
	snprintf(to, sizeof(to), "sip:%s@%s", callee, cfg->domain);
	sip_rand_hex(tag, sizeof(tag), 8);
	sip_rand_hex(cid, sizeof(cid), 16);
	rq = (struct sipd_request){ .method = "OPTIONS", .ruri = ruri,
				    .from = from, .from_tag = tag, .to = to,
				    .call_id = cid, .cseq = 1 };
	if (sipd_request_begin(w, f, &b, &rq, branch, sizeof(branch)))
		return -EIO;
	sip_buf_hdr(&b, "Accept", "application/sdp");
	if (sip_msg_end(&b, NULL, NULL, 0, &len))
		return -ENOSPC;
	return sipd_txc_send(w, f, "OPTIONS", branch, b.p, len, cb, arg);
}

/* Hands the ask to the worker owning stream flow T's connection. */
static int gate_ask_remote(struct call *c, struct call_gate *g,
			   const struct call_target *t)
{
	struct sipd *w = c->w;
	struct gate_remote *r;

	if (t->f.worker < 0 || t->f.worker >= w->sh->nworkers)
		return -ENOENT;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->home = w;
	r->owner = w->sh->workers[t->f.worker];
	r->f = t->f;
	r->ask_id = g->ask_id;
	snprintf(r->call_id, sizeof(r->call_id), "%s", c->call_id);
	snprintf(r->ruri, sizeof(r->ruri), "%s", t->ruri);
	snprintf(r->callee, sizeof(r->callee), "%s", c->callee);
	if (mailbox_post(r->owner->mb, gate_remote_send, r)) {
		metrics_inc(METRICS_MAILBOX_FULL);
		free(r);
		return -EAGAIN;
	}
	g->remote = 1;
	return 0;
}

/* Asks one device of the callee: one this worker can write to first, else
 * one over a stream another worker owns. 0, or -errno when no device
 * could be asked. */
static int gate_ask(struct call *c, struct call_gate *g)
{
	struct call_target t[CALL_MAX_BRANCHES];
	struct sipd *w = c->w;
	int i, n = call_targets(w->sh, c->callee, t, CALL_MAX_BRANCHES);

	g->ask_id = __atomic_add_fetch(&gate_ask_seq, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++)
		if ((t[i].f.tp == SIPD_UDP || t[i].f.worker == w->id) &&
		    gate_send_options(w, &t[i].f, t[i].ruri, c->callee,
				      gate_answer_cb, g) == 0)
			return 0;
	for (i = 0; i < n; i++)
		if (t[i].f.tp != SIPD_UDP && t[i].f.worker != w->id &&
		    gate_ask_remote(c, g, &t[i]) == 0)
			return 0;
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
