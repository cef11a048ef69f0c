/*
 * agent_pub: the handset's presence publication on the UA core (RFC 3903,
 * Event: presence, RFC 3856; PIDF bodies, RFC 3863). One publication per
 * agent, to its own AOR. The state is what the server holds (an entity
 * tag and its lifetime) plus what we want it to hold (the newest
 * document); kick() sends the one request that brings them together:
 *
 *   removing             -> Expires: 0 with SIP-If-Match (if a tag is held)
 *   document not in place -> modifying PUBLISH (SIP-If-Match + body) when a
 *                           tag is held, else an initial one (body only)
 *   refresh due           -> SIP-If-Match, no body (s.4.2)
 *
 * One request at a time; a document set meanwhile waits for the answer
 * (only the newest is sent). 412 drops the tag (s.4.1: the server lost
 * it) and publishes anew at once; 423 raises Expires to Min-Expires; a
 * lost flow waits for the agent to register again; anything else backs
 * off (RFC 5626 s.4.5's formula, Retry-After when given). After a
 * registration on a new flow the document is re-sent, since the server
 * drops a device's publication when its flow dies (docs/presence.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "agent_priv.h"
#include "dataline/log.h"
#include "dataline/pidf.h"

#define PUB_DEFAULT_EXPIRES 3600
#define PUB_RETRY_BASE 10
#define PUB_RETRY_MAX 900
#define PUB_RETRIES_AT_ONCE 3  /* 412/423 answered without waiting */

enum pub_kind { PUB_INITIAL, PUB_MODIFY, PUB_REFRESH, PUB_REMOVE };
static const char *const pub_kind_names[] = {
	"initial", "modify", "refresh", "remove",
};

struct agent_pub {
	struct agent *a;              /* borrowed; outlives us */
	struct agent_pub_config cfg;
	agent_pub_cb cb;
	void *arg;
	struct event *timer;          /* owned: refresh or back-off */
	struct agent_req *req;        /* PUBLISH in flight, or NULL */
	enum pub_kind kind;           /* of the request in flight */
	uint64_t sent_gen;            /* doc_gen the request in flight carries */

	char doc[AGENT_BODY_MAX];     /* the newest document */
	size_t doc_len;
	uint64_t doc_gen;             /* + 1 per new document */
	uint64_t placed_gen;          /* doc_gen the server holds; 0 none */

	char etag[128];               /* "" = no publication in place */
	uint32_t expires;             /* what we ask (423 raises it) */
	uint32_t granted;
	uint32_t flow_gen;            /* agent's flow of the last success */
	int refresh_due;
	int waiting;                  /* back-off timer armed */
	int removing, removed;
	unsigned failures, at_once;
	char call_id[64], from_tag[24];
	uint32_t cseq;
};

uint32_t agent_pub_refresh_delay(uint32_t granted)
{
	uint32_t d = (uint32_t)((uint64_t)granted * 4 / 5);

	if (granted > 5 && granted - d < 5)
		d = granted - 5;
	return d ? d : 1;
}

static void pub_kick(struct agent_pub *p);

static void pub_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent_pub *p = arg;

	if (p->waiting)
		p->waiting = 0;
	else
		p->refresh_due = 1;
	pub_kick(p);
}

static void pub_backoff(struct agent_pub *p, uint32_t retry_after)
{
	uint32_t s = retry_after;

	p->failures++;
	if (!s)
		s = agent_backoff_delay(p->cfg.retry_base, p->cfg.retry_max,
					p->failures, agent_rand32());
	p->waiting = 1;
	evtimer_del(p->timer);
	agent_timer_ms(p->timer, (uint64_t)s * 1000);
	log_info("agent: PUBLISH retried in %u s (failure %u)", s, p->failures);
}

/* A 2xx: keep the tag and lifetime, arm the refresh. */
static void pub_success(struct agent_pub *p, const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr_byname(m, "SIP-ETag");

	p->failures = 0;
	p->at_once = 0;
	p->refresh_due = 0;
	evtimer_del(p->timer);
	if (p->kind == PUB_REMOVE) {
		p->etag[0] = '\0';
		p->removed = 1;
		return;
	}
	if (!h || !h->value.len || sip_str_copy(h->value, p->etag, sizeof(p->etag)) < 0) {
		/* no usable tag: nothing to refresh; publish anew later */
		log_warn("agent: PUBLISH 2xx without a usable SIP-ETag");
		p->etag[0] = '\0';
		p->placed_gen = 0;
		pub_backoff(p, 0);
		return;
	}
	if (p->kind != PUB_REFRESH)
		p->placed_gen = p->sent_gen;
	p->granted = m->expires > 0 && m->expires <= UINT32_MAX ?
		     (uint32_t)m->expires : p->expires;
	p->flow_gen = p->a->flow_gen;
	agent_timer_ms(p->timer, (uint64_t)agent_pub_refresh_delay(p->granted) * 1000);
}

static void pub_done(void *arg, const struct agent_result *res)
{
	struct agent_pub *p = arg;
	const struct sip_hdr *h;
	uint64_t minexp;

	p->req = NULL;
	p->cseq = res->cseq + 1;
	log_info("agent: PUBLISH (%s) answered %d%s", pub_kind_names[p->kind],
		 res->status, res->local ? " locally" : "");
	if (res->status >= 200 && res->status < 300) {
		pub_success(p, res->resp);
	} else if (p->kind == PUB_REMOVE) {
		p->etag[0] = '\0';      /* it expires on its own */
		p->removed = 1;
	} else if (res->status == 412 && p->kind != PUB_INITIAL &&
		   p->at_once++ < PUB_RETRIES_AT_ONCE) {
		p->etag[0] = '\0';      /* s.4.1: the server lost it */
		p->placed_gen = 0;
	} else if (res->status == 423 && res->resp &&
		   (h = sip_msg_hdr(res->resp, SIP_HDR_MIN_EXPIRES)) &&
		   sip_uint_decode(h->value, 86400 * 7, &minexp) == 0 &&
		   minexp > p->expires && p->at_once++ < PUB_RETRIES_AT_ONCE) {
		p->expires = (uint32_t)minexp;
	} else if (res->local && res->status == 503) {
		/* flow lost: agent_pub_on_registered() sends it again */
		p->flow_gen = p->a->flow_gen - 1;
	} else {
		pub_backoff(p, res->retry_after);
	}
	if (p->cb)
		p->cb(p->arg, res->status, p->etag[0] != '\0');
	pub_kick(p);
}

static int pub_send(struct agent_pub *p, enum pub_kind kind)
{
	char ruri[AGENT_URI_MAX], hdrs[256];
	int body = kind == PUB_INITIAL || kind == PUB_MODIFY, n, r;
	struct agent_req_params rp = {
		.method = "PUBLISH", .ruri = ruri, .call_id = p->call_id,
		.from_tag = p->from_tag, .cseq = p->cseq, .headers = hdrs,
		.ctype = body ? PIDF_CONTENT_TYPE : NULL, .body = body ? p->doc : NULL,
		.body_len = body ? p->doc_len : 0,
	};

	if (snprintf(ruri, sizeof(ruri), "sip:%s@%s", p->a->user, p->a->domain) >=
	    (int)sizeof(ruri))
		return -ENAMETOOLONG;
	n = snprintf(hdrs, sizeof(hdrs), "Event: presence\r\nExpires: %u\r\n",
		     kind == PUB_REMOVE ? 0 : p->expires);
	if (kind != PUB_INITIAL)
		n += snprintf(hdrs + n, sizeof(hdrs) - (size_t)n, "SIP-If-Match: %s\r\n",
			      p->etag);
	if (n >= (int)sizeof(hdrs))
		return -EMSGSIZE;
	p->kind = kind;
	p->sent_gen = p->doc_gen;
	r = agent_request(p->a, &rp, pub_done, p, &p->req);
	if (r < 0) {
		p->req = NULL;
		return r;
	}
	log_debug("agent: sending PUBLISH (%s) cseq %u", pub_kind_names[kind], p->cseq);
	return 0;
}

static void pub_kick(struct agent_pub *p)
{
	enum pub_kind kind;
	int r;

	if (p->req || p->waiting || p->removed ||
	    (agent_state(p->a) != AGENT_REGISTERED && !(p->removing && p->etag[0])))
		return;
	if (p->removing) {
		if (!p->etag[0]) {
			p->removed = 1;
			return;
		}
		kind = PUB_REMOVE;
	} else if (p->doc_gen && p->placed_gen != p->doc_gen) {
		kind = p->etag[0] ? PUB_MODIFY : PUB_INITIAL;
	} else if (p->refresh_due && p->etag[0]) {
		kind = PUB_REFRESH;
	} else {
		return;
	}
	r = pub_send(p, kind);
	if (r == -ENOTCONN)
		return;         /* no flow: the next registration kicks us */
	if (r < 0) {
		log_warn("agent: PUBLISH (%s) not sent: %s", pub_kind_names[kind],
			 strerror(-r));
		pub_backoff(p, 0);
	}
}

void agent_pub_on_registered(struct agent_pub *p)
{
	if (p->flow_gen != p->a->flow_gen && p->placed_gen) {
		/* a new flow: the server may have dropped it with the old
		 * one; send the document again (412 -> initial) */
		p->placed_gen = 0;
	}
	if (p->waiting && p->flow_gen != p->a->flow_gen) {
		p->waiting = 0;   /* a fresh flow: no reason to wait more */
		evtimer_del(p->timer);
		if (p->etag[0])
			agent_timer_ms(p->timer, 1000ull * agent_pub_refresh_delay(p->granted));
	}
	pub_kick(p);
}

int agent_pub_new(struct agent *a, const struct agent_pub_config *cfg,
		  agent_pub_cb cb, void *arg, struct agent_pub **out)
{
	struct agent_pub *p;
	uint32_t r1 = agent_rand32(), r2 = agent_rand32();

	if (!a || !out)
		return -EINVAL;
	if (a->pub)
		return -EBUSY;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (cfg)
		p->cfg = *cfg;
	if (!p->cfg.expires)
		p->cfg.expires = PUB_DEFAULT_EXPIRES;
	if (!p->cfg.retry_base)
		p->cfg.retry_base = PUB_RETRY_BASE;
	if (!p->cfg.retry_max)
		p->cfg.retry_max = PUB_RETRY_MAX;
	p->a = a;
	p->cb = cb;
	p->arg = arg;
	p->expires = p->cfg.expires;
	p->cseq = 1;
	snprintf(p->call_id, sizeof(p->call_id), "pub-%08x%08x", r1, r2);
	snprintf(p->from_tag, sizeof(p->from_tag), "%08x", r1 ^ r2);
	p->timer = evtimer_new(a->base, pub_timer_cb, p);
	if (!p->timer) {
		free(p);
		return -ENOMEM;
	}
	a->pub = p;
	*out = p;
	return 0;
}

int agent_pub_set(struct agent_pub *p, const char *doc, size_t len)
{
	if (!p || !doc || !len)
		return -EINVAL;
	if (len > sizeof(p->doc))
		return -EMSGSIZE;
	if (p->removing)
		return -ESHUTDOWN;
	if (p->doc_gen && len == p->doc_len && memcmp(doc, p->doc, len) == 0)
		return 0;
	memcpy(p->doc, doc, len);
	p->doc_len = len;
	p->doc_gen++;
	pub_kick(p);
	return 0;
}

int agent_pub_remove(struct agent_pub *p)
{
	if (!p)
		return -EINVAL;
	if (p->removing)
		return -EALREADY;
	p->removing = 1;
	p->waiting = 0;
	evtimer_del(p->timer);
	pub_kick(p);
	return 0;
}

void agent_pub_free(struct agent_pub *p)
{
	if (!p)
		return;
	if (p->req)
		agent_req_cancel(p->req);
	if (p->timer)
		event_free(p->timer);
	if (p->a && p->a->pub == p)
		p->a->pub = NULL;
	free(p);
}

const char *agent_pub_etag(const struct agent_pub *p)
{
	return p->etag;
}

uint32_t agent_pub_granted(const struct agent_pub *p)
{
	return p->etag[0] ? p->granted : 0;
}
