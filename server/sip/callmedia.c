/*
 * callmedia: a call's media through the server's relay (server/relay/,
 * issue 9; RFC 4566/8866 SDP, RFC 3264 offer/answer; docs/calls.md).
 *
 * The INVITE's offer opens a relay session: leg A is the caller (its
 * SDP address the first peer, its signalling IP the only one that may
 * latch), leg B the callee (unknown until the answer). The offer the
 * devices get names the relay's address and leg B's port; the answer
 * (in a 183 or 2xx, from whichever device answers) updates leg B (its
 * SDP address, its signalling IP) and reaches the caller naming leg A's
 * port. A re-INVITE or UPDATE with SDP (and its answer) updates the leg
 * of the side that wrote it the same way. Only the first audio stream is
 * anchored; other streams in the offer are declined (port 0), so no media
 * bypasses the relay. A malformed offer gets 488 "Malformed SDP" before
 * any port is taken.
 *
 * Threads: the relay runs on its own io_uring thread. Workers call
 * relay_open/update/close (thread-safe). The relay's end callback (the
 * session closed, or no packet for --relay-timeout) runs on the relay
 * thread: it only copies the Call-ID and the figures and posts them to
 * the call's home worker (call.h), which ends the call record there
 * (a media timeout ends the record and counts it; it sends no BYE: the
 * handsets' own RTP timeout hangs up, docs/calls.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "../core/config.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "../relay/relay.h"
#include "dataline/log.h"
#include "dataline/sdp.h"

#define CALL_SDP_MAX 8192

int call_relay_start(struct sipd_shared *sh)
{
	const struct config *cfg = sh->cfg;
	struct relay_config rc;
	int err;

	if (!strcmp(cfg->relay_addr, "off"))
		return 0;
	memset(&rc, 0, sizeof(rc));
	rc.addr = cfg->relay_addr;
	rc.port_min = (uint16_t)cfg->relay_port_min;
	rc.port_max = (uint16_t)cfg->relay_port_max;
	rc.timeout_s = (uint32_t)cfg->relay_timeout;
	err = relay_new(&rc, &sh->relay);
	if (err)
		log_err("relay: %s ports %d-%d: %s", cfg->relay_addr,
			cfg->relay_port_min, cfg->relay_port_max,
			strerror(-err));
	return err;
}

void call_relay_stop(struct sipd_shared *sh)
{
	if (sh->relay)
		relay_free(sh->relay);
	sh->relay = NULL;
}

/* ------------------------------------------------------------ the end */

/* The session's end, from the relay thread to the call's home. */
struct media_end {
	struct sipd_shared *sh;
	int home;
	uint64_t id;
	enum relay_end why;
	struct relay_stats st;
	char call_id[256];
};

static void media_end_home(void *arg)
{
	struct media_end *e = arg;
	struct sipd *w = e->sh->workers[e->home];
	struct sip_str cid = { e->call_id, strlen(e->call_id) };
	struct call *c;

	if (!sipd_closing(w) && (c = call_find(w, cid)) &&
	    c->relay_id == e->id) {
		c->relay_id = 0;
		if (e->why == RELAY_END_TIMEOUT && c->st != CALL_ENDED) {
			log_info("call %s: no media for %d s: ended",
				 c->call_id, w->sh->cfg->relay_timeout);
			metrics_inc(METRICS_CALLS_MEDIA_TIMEOUT);
			call_end(c);
		}
	}
	free(e);
}

/* relay_end_fn: on the relay thread. */
static void media_end_cb(void *arg, uint64_t id, enum relay_end why,
			 const struct relay_stats *st)
{
	struct media_end *e = arg;
	int i;

	metrics_gauge_add(METRICS_RELAY_SESSIONS, -1);
	for (i = 0; i < 2; i++) {
		metrics_add(METRICS_RELAY_PACKETS, st->dir[i].packets);
		metrics_add(METRICS_RELAY_BYTES, st->dir[i].bytes);
		metrics_add(METRICS_RELAY_LOST, st->dir[i].lost);
		metrics_add(METRICS_RELAY_STRANGERS, st->dir[i].strangers);
	}
	log_info("relay: call %s ended (%s): A->B %llu packets %llu bytes "
		 "%llu lost %llu strangers; B->A %llu packets %llu bytes "
		 "%llu lost %llu strangers", e->call_id,
		 why == RELAY_END_TIMEOUT ? "media timeout" :
		 why == RELAY_END_CLOSED ? "closed" : "shutdown",
		 (unsigned long long)st->dir[0].packets,
		 (unsigned long long)st->dir[0].bytes,
		 (unsigned long long)st->dir[0].lost,
		 (unsigned long long)st->dir[0].strangers,
		 (unsigned long long)st->dir[1].packets,
		 (unsigned long long)st->dir[1].bytes,
		 (unsigned long long)st->dir[1].lost,
		 (unsigned long long)st->dir[1].strangers);
	e->id = id;
	e->why = why;
	e->st = *st;
	if (atomic_load(&e->sh->closing) ||
	    mailbox_post(e->sh->workers[e->home]->mb, media_end_home, e))
		free(e);
}

void call_media_close(struct call *c)
{
	if (c->relay_id && c->w->sh->relay)
		relay_close(c->w->sh->relay, c->relay_id);
	c->relay_id = 0;
}

/* ------------------------------------------------------------ SDP */

static int ctype_sdp(const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);

	return h && h->value.len >= 15 &&
	       !strncasecmp(h->value.p, "application/sdp", 15);
}

/* The first audio stream with a port, or -1. */
static int first_audio(const struct sdp_desc *d)
{
	unsigned i;

	for (i = 0; i < d->nmedia; i++)
		if (d->media[i].port && sip_str_caseeq(d->media[i].type,
						       "audio"))
			return (int)i;
	return -1;
}

/* The RTP address of stream I (its c=, else the session's). */
static int media_addr(const struct sdp_desc *d, int i, struct sockaddr_in *out)
{
	const struct sdp_conn *cn = d->media[i].has_conn ? &d->media[i].conn
							: &d->conn;
	char ip[64];

	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons(d->media[i].port);
	if ((!d->media[i].has_conn && !d->has_conn) ||
	    sip_str_copy(cn->addr, ip, sizeof(ip)) ||
	    inet_pton(AF_INET, ip, &out->sin_addr) != 1)
		return -EAFNOSUPPORT;
	return 0;
}

static int leg_params(const struct sdp_desc *d, int i,
		      const union sipd_addr *sig, int answer,
		      struct relay_leg_params *p)
{
	memset(p, 0, sizeof(*p));
	p->answer = answer;
	if (media_addr(d, i, &p->sdp))
		return -EAFNOSUPPORT;
	if (sig->sa.sa_family == AF_INET)
		p->allowed = sig->sin.sin_addr;
	p->rtcp_mux = d->media[i].rtcp_mux;
	if (d->media[i].has_rtcp)   /* RFC 3605; its address is not used */
		p->rtcp_port = (uint16_t)d->media[i].rtcp_port;
	return 0;
}

/*
 * The body SDP (LEN) written by leg FROM (0 caller, 1 callee, whose
 * signalling address is SIG), an offer or (ANSWER) an answer: leg FROM
 * follows its new address and the body is rewritten for the other side,
 * into a malloc'd *OUT. 0, -EBADMSG (malformed), -ENOENT (no relay
 * session, or no audio stream: unchanged).
 */
int call_media_sdp(struct call *c, int from, int answer, const char *body,
		   size_t len, const union sipd_addr *sig, char **out,
		   size_t *outlen)
{
	struct sdp_desc *d = c->w->calls->sdp;
	struct sdp_rewrite_spec rw;
	struct relay_leg_params p;
	char *buf;
	unsigned k;
	int i, err;

	if (!c->relay_id)
		return -ENOENT;
	if (sdp_parse(body, len, d))
		return -EBADMSG;
	i = first_audio(d);
	if (i < 0 || leg_params(d, i, sig, answer, &p))
		return -ENOENT;
	err = relay_update(c->w->sh->relay, c->relay_id, from, &p);
	if (err)
		return err;
	sdp_rewrite_spec_init(&rw);
	rw.addr = c->w->sh->cfg->relay_addr;
	for (k = 0; k < d->nmedia; k++)
		rw.port[k] = (int)k == i ? c->relay_port[1 - from] : 0;
	buf = malloc(CALL_SDP_MAX);
	if (!buf)
		return -ENOMEM;
	err = sdp_rewrite(body, len, d, &rw, buf, CALL_SDP_MAX, outlen);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	return 0;
}

int call_media_offer(struct call *c, const struct sip_msg *m)
{
	struct sipd *w = c->w;
	struct sdp_desc *d = w->calls->sdp;
	struct relay_leg_params a, b;
	struct media_end *e;
	int i, err;

	if (!m->body.len || !ctype_sdp(m))
		return 0; /* no offer: media is not ours to anchor */
	if (sdp_parse(m->body.p, m->body.len, d)) {
		metrics_inc(METRICS_CALLS_BAD_SDP);
		call_reply_up(c, 488, "Malformed SDP", NULL);
		call_end(c);
		return -1;
	}
	if (!w->sh->relay || (i = first_audio(d)) < 0 ||
	    leg_params(d, i, &c->up.addr, 0, &a))
		return 0; /* no relay, no audio, or IPv6: end to end */
	memset(&b, 0, sizeof(b));
	b.sdp.sin_family = AF_INET;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto busy;
	e->sh = w->sh;
	e->home = w->id;
	snprintf(e->call_id, sizeof(e->call_id), "%s", c->call_id);
	err = relay_open(w->sh->relay, &a, &b, media_end_cb, e, &c->relay_id,
			 c->relay_port);
	if (err) {
		free(e);
		log_warn("call %s: no relay session (%s)", c->call_id,
			 strerror(-err));
		goto busy;
	}
	metrics_gauge_add(METRICS_RELAY_SESSIONS, 1);
	err = call_media_sdp(c, 0, 0, m->body.p, m->body.len, &c->up.addr,
			     &c->body_out, &c->body_out_len);
	if (err) {
		call_media_close(c);
		goto busy;
	}
	return 0;
busy:
	call_reply_up(c, 503, "Media Relay Busy", NULL);
	call_end(c);
	return -1;
}

/* M (a response or request) with BODY in place of its own, into a
 * malloc'd *OUT: the start line, every header but Content-Length, then
 * Content-Length and BODY. Our top Via goes too when DROP_VIA. */
int call_replace_body(const struct sip_msg *m, int drop_via, const char *body,
		      size_t blen, char **out, size_t *olen)
{
	const char *eol = memchr(m->buf, '\n', m->len);
	size_t cap = m->len + blen + 64;
	struct sip_buf b;
	unsigned i;
	int first_via = 1;
	char *buf;

	if (!eol || !(buf = malloc(cap)))
		return -ENOMEM;
	sip_buf_init(&b, buf, cap);
	sip_buf_add(&b, m->buf, (size_t)(eol + 1 - m->buf));
	for (i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		if (h->id == SIP_HDR_CONTENT_LENGTH)
			continue;
		if (h->id == SIP_HDR_VIA && first_via && drop_via) {
			struct sip_str rest = h->value, top;

			first_via = 0;
			if (sip_list_split(&rest, &top) == 0 && rest.len)
				sip_buf_printf(&b, "Via: %.*s\r\n",
					       (int)rest.len, rest.p);
			continue;
		}
		sip_buf_printf(&b, "%.*s: %.*s\r\n", (int)h->name.len,
			       h->name.p, (int)h->value.len, h->value.p);
	}
	sip_buf_printf(&b, "Content-Length: %zu\r\n\r\n", blen);
	sip_buf_add(&b, body, blen);
	if (sip_buf_finish(&b, olen)) {
		free(buf);
		return -ENOSPC;
	}
	*out = buf;
	return 0;
}

int call_media_msg(struct call *c, int from, const struct sip_msg *m,
		   const union sipd_addr *sig, int drop_via, char **out,
		   size_t *olen)
{
	char *sdp;
	size_t slen;
	int err;

	if (!m->body.len || !ctype_sdp(m))
		return -ENOENT;
	err = call_media_sdp(c, from, 1, m->body.p, m->body.len, sig, &sdp,
			     &slen);
	if (err)
		return err;
	err = call_replace_body(m, drop_via, sdp, slen, out, olen);
	free(sdp);
	return err;
}
