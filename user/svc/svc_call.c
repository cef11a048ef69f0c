/*
 * svc_call: the handset service's calls (patent C1-C3 and D on the
 * handset; docs/calls.md "The handset's call flow"). Signalling is the
 * agent's INVITE dialogs (agent_call_*), media the engine of
 * include/dataline/media.h (one engine, started with the first call).
 *
 * Out: the C2 check (svc_call_ok: libnetq's voice verdict with threshold 1
 * = call_min_kbps, RTT and loss at netq's voice defaults, and the SIP
 * registration) before any INVITE; below it the caller's fallback
 * (carrier voice call through include/dataline/carrier.h, or quit). Else
 * the engine's offer goes out in the INVITE; the 2xx's answer starts the
 * media. A 488 with Warning 370 (the server's C3 gate) is the same
 * fallback choice, reported as CallState "refused" when it is "quit" (the
 * CLI's "ask" asks then and calls again straight to the carrier).
 * In: the engine answers the offer at once (a call whose offer it cannot
 * take is refused 488); the policy rings (180, CallState "ringing") or
 * answers at once; the ACK starts the media.
 * The end of every call is signalled with its statistics (codec,
 * duration, packets, loss, jitter, RTT, MOS from the E-model).
 *
 * SDES keys travel in the SDP, so SRTP is offered only when the flow to
 * the server is TLS; over UDP/TCP the offer is plain RTP/AVP (and plain
 * offers are accepted), said once in the log.
 *
 * The carrier call is placed on the loop (two short D-Bus calls to
 * ModemManager); SMS use svc_carrier.c's thread because Send can take
 * minutes, a voice Start answers when the modem took the dial command.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "dataline/e164.h"
#include "dataline/log.h"
#include "dataline/media.h"
#include "dataline/netq.h"
#include "svc_priv.h"

#define SVC_SDP_MAX 2048

/* One call of the agent, with its media. */
struct svc_call {
	struct svc *s;
	int used;
	uint32_t id;                  /* the agent call's id */
	struct agent_call *c;         /* the agent's; NULL once ended */
	struct media_session *ms;     /* owned */
	int outgoing;
	enum svc_fallback fb;
	char peer[64];
	char state[16];               /* as signalled last */
	char answer[SVC_SDP_MAX];     /* in: our answer, made at INVITE */
	size_t answer_len;
	uint32_t duration_s;
	struct event *dur_ev;         /* owned: hang up after duration_s */
};

struct svc_calls {
	struct media_engine *eng;     /* owned; NULL until the first call */
	struct svc_call c[AGENT_CALL_MAX];
};

/* ------------------------------------------------------------ C2 */

int svc_call_ok(struct svc *s, char *reason, size_t len)
{
	return svc_net_ok(s, NETQ_VOICE, s->call_min_kbps, reason, len);
}

/* ------------------------------------------------------------ slots */

static struct svc_call *call_of(struct svc *s, uint32_t id)
{
	for (unsigned i = 0; s->calls && i < AGENT_CALL_MAX; i++)
		if (s->calls->c[i].used && s->calls->c[i].id == id)
			return &s->calls->c[i];
	return NULL;
}

static struct svc_call *call_new(struct svc *s)
{
	for (unsigned i = 0; i < AGENT_CALL_MAX; i++) {
		struct svc_call *k = &s->calls->c[i];

		if (!k->used) {
			memset(k, 0, sizeof(*k));
			k->s = s;
			k->used = 1;
			return k;
		}
	}
	return NULL;
}

static void call_free(struct svc_call *k)
{
	if (k->dur_ev)
		event_free(k->dur_ev);
	media_session_free(k->ms);
	k->dur_ev = NULL;
	k->ms = NULL;
	k->used = 0;
}

static void call_signal(struct svc_call *k, const char *state, const char *details)
{
	snprintf(k->state, sizeof(k->state), "%s", state);
	/* the details too: an answered call's statistics (codec, suite,
	 * packets) are otherwise seen only by a D-Bus client */
	log_info("svc: call %u %s %s: %s%s%s%s", k->id, k->outgoing ? "to" : "from",
		 k->peer, state, details && details[0] ? " (" : "",
		 details ? details : "", details && details[0] ? ")" : "");
	svc_bus_call_state(k->s, k->id, state, details);
}

/* A media session on the flow's local address. */
static int call_media(struct svc_call *k, const struct svc_call_opts *o)
{
	struct svc *s = k->s;
	struct media_config mc = { 0 };
	const char *addr = agent_local_addr(s->agent);
	int r;

	if (!s->calls->eng && (r = media_engine_new(NULL, &s->calls->eng)) < 0) {
		log_err("svc: the media engine did not start: %s", strerror(-r));
		return r;
	}
	mc.addr = addr[0] && addr[0] != '[' ? addr : "0.0.0.0";
	mc.flags = MEDIA_F_RTCP_MUX | MEDIA_F_ALLOW_PLAIN;
	if (agent_transport(s->agent) != AGENT_TP_TLS)
		mc.flags |= MEDIA_F_OFFER_PLAIN;
	if (o) {
		mc.audio_in = o->audio_in;
		mc.audio_out = o->audio_out;
	}
	return media_session_new(s->calls->eng, &mc, &k->ms);
}

/* ------------------------------------------------------------ fallback */

static int call_carrier(struct svc *s, const char *to, struct svc_call_result *out)
{
	char ref[CARRIER_REF_MAX];
	int r = carrier_call_start(&s->carrier, to, ref);

	if (r < 0) {
		snprintf(out->detail, sizeof(out->detail), "carrier call failed: %s",
			 strerror(-r));
		return r;
	}
	out->route = SVC_ROUTE_CARRIER;
	out->id = 0;
	snprintf(out->detail, sizeof(out->detail), "%.*s", (int)sizeof(out->detail) - 1, ref);
	return 0;
}

/* ------------------------------------------------------------ events */

static void call_stats(struct svc_call *k, const char *why, int status,
		       char *buf, size_t len)
{
	struct media_stats st;
	int n = snprintf(buf, len, "reason=%s status=%d", why, status);

	if (n < 0 || (size_t)n >= len || !k->ms || media_stop(k->ms) < 0 ||
	    media_stats(k->ms, &st) < 0 || !st.codec_name[0])
		return;
	snprintf(buf + n, len - (size_t)n,
		 " codec=%s duration=%.1fs sent=%llu received=%llu loss=%.1f%% "
		 "jitter=%.1fms rtt=%.0fms mos=%.2f suite=%s", st.codec_name,
		 (double)st.duration_ms / 1000.0, (unsigned long long)st.pkts_sent,
		 (unsigned long long)st.pkts_recv, st.loss_pct, st.jitter_ms, st.rtt_ms,
		 st.mos, media_suite_name(st.suite));
}

static void call_dur_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc_call *k = arg;

	if (k->c)
		agent_call_hangup(k->c);
}

static void ev_incoming(void *arg, struct agent_call *c, const struct agent_call_in *in)
{
	struct svc *s = arg;
	struct svc_call *k = call_new(s);
	struct svc_call_opts ao = { 0 };
	int r;

	if (!k) {
		agent_call_reject(c, 486);
		return;
	}
	k->id = agent_call_id(c);
	k->c = c;
	snprintf(k->peer, sizeof(k->peer), "%s", in->from_user[0] ? in->from_user : in->from);
	ao.audio_in = s->answer_in[0] ? s->answer_in : NULL;
	ao.audio_out = s->answer_out[0] ? s->answer_out : NULL;
	if ((r = call_media(k, &ao)) < 0 ||
	    (r = media_answer(k->ms, in->sdp, in->sdp_len, k->answer, sizeof(k->answer),
			      &k->answer_len)) < 0) {
		log_warn("svc: call %u from %s: cannot take its offer (%s)", k->id, k->peer,
			 strerror(-r));
		k->c = NULL;
		call_free(k);
		agent_call_reject(c, 488);
		return;
	}
	if (s->answer_auto) {
		call_signal(k, "incoming", k->peer);
		agent_call_answer(c, k->answer, k->answer_len);
		return;
	}
	agent_call_ring(c);
	call_signal(k, "ringing", k->peer);
}

static void ev_progress(void *arg, struct agent_call *c, int status)
{
	struct svc_call *k = call_of(arg, agent_call_id(c));
	char d[16];

	snprintf(d, sizeof(d), "%d", status);
	if (k)
		call_signal(k, status == 180 ? "ringing" : "progress", d);
}

static void ev_answered(void *arg, struct agent_call *c, const char *sdp, size_t len)
{
	struct svc_call *k = call_of(arg, agent_call_id(c));
	char d[128];
	int r = 0;

	if (!k)
		return;
	if (k->outgoing)
		r = media_accept(k->ms, sdp, len);
	if (r == 0)
		r = media_start(k->ms);
	if (r < 0) {
		log_warn("svc: call %u: media not started (%s); hanging up", k->id,
			 strerror(-r));
		snprintf(d, sizeof(d), "media: %s", strerror(-r));
		call_signal(k, "media-failed", d);
		agent_call_hangup(c);
		return;
	}
	if (k->duration_s && (k->dur_ev = evtimer_new(k->s->base, call_dur_cb, k))) {
		struct timeval tv = { .tv_sec = k->duration_s };

		evtimer_add(k->dur_ev, &tv);
	}
	snprintf(d, sizeof(d), "media on port %u", media_port(k->ms));
	call_signal(k, "confirmed", d);
}

static void ev_ended(void *arg, struct agent_call *c, enum agent_call_end why, int status)
{
	struct svc_call *k = call_of(arg, agent_call_id(c));
	char d[512];

	if (!k)
		return;
	k->c = NULL;
	call_stats(k, agent_call_end_name(why), status, d, sizeof(d));
	call_signal(k, "ended", d);
	call_free(k);
}

/* The number of parameter NAME in an X-Dataline-Net value V
 * ("rate=20;rtt=300;loss=50000;age=0;min=48", docs/calls.md), or -1. */
static long net_param(const char *v, const char *name)
{
	const size_t n = strlen(name);
	unsigned long x;
	char *e;

	for (; v && *v; v = strchr(v, ';')) {
		while (*v == ';' || *v == ' ')
			v++;
		if (strncmp(v, name, n) || v[n] != '=' || !isdigit((unsigned char)v[n + 1]))
			continue;
		errno = 0;
		x = strtoul(v + n + 1, &e, 10);
		return errno || x > UINT32_MAX || (*e && *e != ';' && *e != ' ') ? -1 : (long)x;
	}
	return -1;
}

/* The details of a C3 refusal: the status and Warning, and the figures
 * that refused it when the server sent them. */
static void refusal_details(struct agent_call *c, int status, const char *warning,
			    char *d, size_t cap)
{
	long rate = net_param(agent_call_net(c), "rate");
	long min = net_param(agent_call_net(c), "min");

	if (rate >= 0 && min >= 0)
		snprintf(d, cap, "%d %s (callee's rate %ld kbit/s, threshold 2 %ld kbit/s)",
			 status, warning, rate, min);
	else if (rate >= 0)
		snprintf(d, cap, "%d %s (callee's rate %ld kbit/s)", status, warning, rate);
	else
		snprintf(d, cap, "%d %s", status, warning);
}

static void ev_failed(void *arg, struct agent_call *c, int status, const char *warning)
{
	struct svc *s = arg;
	struct svc_call *k = call_of(s, agent_call_id(c));
	struct svc_call_result res = { 0 };
	char d[600];

	if (!k)
		return;
	k->c = NULL;
	snprintf(d, sizeof(d), "%d%s%s", status, warning[0] ? " " : "", warning);
	if (status == 488 && agent_call_warn_code(warning) == 370) {
		/* C3: the callee's network is below threshold 2 */
		refusal_details(c, status, warning, d, sizeof(d));
		if (k->fb == SVC_FB_CARRIER && call_carrier(s, k->peer, &res) == 0) {
			call_signal(k, "carrier", res.detail);
		} else {
			call_signal(k, "refused", d);
		}
	} else {
		call_signal(k, "failed", d);
	}
	call_free(k);
}

static int svc_call_net(void *arg, struct agent_net *out)
{
	struct svc *s = arg;
	struct hpres_status st = { 0 };

	if (!s->figures)
		return -ENODATA;
	s->figures(s->figures_arg, &st);
	if (!(st.netq.have & PIDF_NETQ_RATE))
		return -ENODATA;
	out->rate_kbps = st.netq.rate_kbps;
	out->rtt_ms = st.netq.have & PIDF_NETQ_RTT ? st.netq.rtt_ms : 0;
	out->loss_ppm = st.netq.have & PIDF_NETQ_LOSS ? st.netq.loss_ppm : 0;
	return 0;
}

/* ------------------------------------------------------------ API */

int svc_call(struct svc *s, const char *number, const struct svc_call_opts *o,
	     struct svc_call_result *out)
{
	char to[E164_MAX], sdp[SVC_SDP_MAX];
	struct agent_call *c = NULL;
	struct svc_call *k;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	if (!number || e164_normalize_national(number, strlen(number),
					       s->cc[0] ? s->cc : NULL, to) < 0)
		return -EINVAL;
	if (o->carrier)
		return call_carrier(s, to, out);
	if (!svc_call_ok(s, out->detail, sizeof(out->detail))) {
		log_info("svc: call to %s: no call over data (%s), fallback %s", to,
			 out->detail, o->fb == SVC_FB_CARRIER ? "carrier" : "quit");
		if (o->fb == SVC_FB_CARRIER)
			return call_carrier(s, to, out);
		return -ENETUNREACH;
	}
	if (!(k = call_new(s)))
		return -EBUSY;
	k->outgoing = 1;
	k->fb = o->fb;
	k->duration_s = o->duration_s;
	snprintf(k->peer, sizeof(k->peer), "%s", to);
	if ((r = call_media(k, o)) < 0 || (r = media_offer(k->ms, sdp, sizeof(sdp), &len)) < 0 ||
	    (r = agent_call_invite(s->agent, to, sdp, len, NULL, &c)) < 0) {
		snprintf(out->detail, sizeof(out->detail), "%s", strerror(-r));
		call_free(k);
		return r;
	}
	k->c = c;
	k->id = agent_call_id(c);
	out->route = SVC_ROUTE_DATA;
	out->id = k->id;
	snprintf(out->detail, sizeof(out->detail), "%s", agent_call_callid(c));
	call_signal(k, "calling", to);
	return 0;
}

int svc_call_answer(struct svc *s, uint32_t id)
{
	struct svc_call *k = call_of(s, id);

	if (!k || !k->c || k->outgoing)
		return -ENOENT;
	return agent_call_answer(k->c, k->answer, k->answer_len);
}

int svc_call_hangup(struct svc *s, uint32_t id)
{
	struct svc_call *k = call_of(s, id);

	if (!k || !k->c)
		return -ENOENT;
	return agent_call_hangup(k->c);
}

int svc_call_list(struct svc *s, svc_call_row_fn fn, void *arg)
{
	int r = 0;

	for (unsigned i = 0; s->calls && i < AGENT_CALL_MAX && r >= 0; i++) {
		struct svc_call *k = &s->calls->c[i];

		if (k->used)
			r = fn(arg, k->id, k->outgoing ? "out" : "in", k->peer, k->state);
	}
	return r;
}

int svc_call_start(struct svc *s)
{
	static const struct agent_call_events ev = {
		.incoming = ev_incoming, .progress = ev_progress, .answered = ev_answered,
		.ended = ev_ended, .failed = ev_failed,
	};

	if (!(s->calls = calloc(1, sizeof(*s->calls))))
		return -ENOMEM;
	agent_call_on_net(s->agent, svc_call_net, s);
	return agent_call_setup(s->agent, NULL, &ev, s);
}

void svc_call_stop(struct svc *s)
{
	if (!s->calls)
		return;
	for (unsigned i = 0; i < AGENT_CALL_MAX; i++) {
		struct svc_call *k = &s->calls->c[i];

		if (k->used && k->c)
			agent_call_hangup(k->c);
		if (k->used)
			call_free(k);
	}
	agent_call_setup(s->agent, NULL, &(struct agent_call_events){ 0 }, NULL);
	agent_call_on_net(s->agent, NULL, NULL);
	media_engine_free(s->calls->eng);
	free(s->calls);
	s->calls = NULL;
}
