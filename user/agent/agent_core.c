/*
 * agent_core: the client side of the handset's UA core (RFC 3261 s.8.1,
 * s.17.1, s.22). A client (registration, texts, later presence) describes
 * a request; the core builds it (Via with a new branch per attempt and
 * rport, From = our AOR, credentials it holds), sends it through lib/sip's
 * transaction layer (non-INVITE: timers E/F over UDP, F alone over
 * streams), routes the response back by Via branch + CSeq method, and
 * reports one final outcome.
 *
 * Digest (s.22.2, RFC 7616, RFC 8760) is handled here once for every
 * method: a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) is kept in
 * one of two slots and the request resent with CSeq + 1. Later requests
 * of a method answer the slot that challenged that method last, with a
 * growing nonce-count, so they need no extra round trip until the server
 * wants a new nonce. A request that was answered for a challenge made to
 * itself and is challenged again without stale=true has wrong credentials:
 * the client gets the 401/407 and the slot is cleared.
 *
 * Completions that do not come from a response (timer F, flow lost) are
 * reported from a zero-delay event, never from inside the transaction
 * table or the transport, so a client may send again from its callback.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "agent_priv.h"
#include "dataline/log.h"

uint64_t agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *agent_via_transport(enum agent_transport tp)
{
	return tp == AGENT_TP_UDP ? "UDP" : tp == AGENT_TP_TCP ? "TCP" : "TLS";
}

/* ------------------------------------------------------------ completion */

/* Seconds of a Retry-After value ("120 (comment);duration=60"), or 0. */
static uint32_t agent_retry_after(const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_RETRY_AFTER);
	uint64_t v = 0;
	size_t i;

	if (!h)
		return 0;
	for (i = 0; i < h->value.len && h->value.p[i] >= '0' && h->value.p[i] <= '9'; i++)
		if ((v = v * 10 + (uint64_t)(h->value.p[i] - '0')) > UINT32_MAX)
			return UINT32_MAX;
	return (uint32_t)v;
}

/* Frees R's slot and reports STATUS; R may be reused by the callback. */
static void agent_req_finish(struct agent_req *r, int status,
			     const struct sip_msg *resp)
{
	struct agent_result res = { .status = status, .local = resp == NULL,
				    .cseq = r->cseq, .resp = resp };
	agent_req_done done = r->done;
	void *arg = r->arg;

	if (resp)
		res.retry_after = agent_retry_after(resp);
	r->used = 0;
	r->tx = NULL;
	r->local_status = 0;
	if (done)
		done(arg, &res);
}

/* Ends R with a made-up STATUS, reported from done_ev. */
static void agent_req_defer(struct agent_req *r, int status)
{
	struct agent *a = r->a;

	r->tx = NULL;
	if (a->freeing) {
		r->used = 0;
		return;
	}
	r->local_status = status;
	event_active(a->done_ev, EV_TIMEOUT, 0);
}

static void agent_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	for (unsigned i = 0; i < AGENT_REQ_MAX; i++) {
		struct agent_req *r = &a->reqs[i];

		if (r->used && r->local_status)
			agent_req_finish(r, r->local_status, NULL);
	}
}

/* ------------------------------------------------------------ tx glue */

static int agent_tx_send(void *arg, const void *peer, size_t peer_len,
			 const char *buf, size_t len)
{
	return agent_conn_send(arg, buf, len);
}

static void agent_tx_timeout(void *arg, struct sip_tx *tx)
{
	struct agent_req *r = sip_tx_user(tx);

	if (agent_call_on_timeout(arg, tx) || !r)
		return;
	log_info("agent: %s to %s: no answer (timer F)", r->method, r->ruri);
	agent_req_defer(r, 408);
}

static const struct sip_tx_ops agent_tx_ops = {
	.send = agent_tx_send,
	.timeout = agent_tx_timeout,
};

void agent_tx_rearm(struct agent *a)
{
	uint64_t next, now = agent_now_ms();

	if (!a->txt)
		return;
	next = sip_tx_next_deadline(a->txt);
	evtimer_del(a->tx_timer);
	if (next != UINT64_MAX)
		agent_timer_ms(a->tx_timer, next > now ? next - now : 0);
}

static void agent_tx_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	sip_tx_process(a->txt, agent_now_ms());
	agent_tx_rearm(a);
}

void agent_core_flow_down(struct agent *a)
{
	agent_call_flow_down(a);
	for (unsigned i = 0; i < AGENT_REQ_MAX; i++) {
		struct agent_req *r = &a->reqs[i];

		if (!r->used || r->local_status)
			continue;
		if (r->tx)
			sip_tx_free(r->tx);
		agent_req_defer(r, 503);
	}
}

int agent_core_reset(struct agent *a)
{
	static const struct sip_tx_limits lim = {
		.max_entries = AGENT_SRV_TX_MAX + AGENT_REQ_MAX,
		.max_bytes = (AGENT_SRV_TX_MAX + AGENT_REQ_MAX) * AGENT_MSG_MAX,
		.max_key = 1024, .max_msg = AGENT_MSG_MAX,
	};
	int r;

	agent_core_flow_down(a);
	evtimer_del(a->tx_timer);
	sip_tx_table_free(a->txt);
	a->txt = NULL;
	r = sip_tx_table_new(&agent_tx_ops, a, NULL, &a->txt);
	if (r == 0)
		r = sip_tx_table_set_limits(a->txt, &lim);
	return r;
}

int agent_core_init(struct agent *a)
{
	memset(a->auth_slot, -1, sizeof(a->auth_slot));
	for (unsigned i = 0; i < AGENT_REQ_MAX; i++)
		a->reqs[i].a = a;
	if (sip_rand_hex(a->tag, sizeof(a->tag), 8) < 0)
		return -EIO;
	a->tx_timer = evtimer_new(a->base, agent_tx_timer_cb, a);
	a->done_ev = event_new(a->base, -1, 0, agent_done_cb, a);
	if (!a->tx_timer || !a->done_ev)
		return -ENOMEM;
	return 0;
}

void agent_core_free(struct agent *a)
{
	a->freeing = 1;
	agent_core_flow_down(a);
	agent_call_free_all(a);
	if (a->tx_timer)
		event_free(a->tx_timer);
	if (a->done_ev)
		event_free(a->done_ev);
	a->tx_timer = a->done_ev = NULL;
	sip_tx_table_free(a->txt);
	a->txt = NULL;
}

/* ------------------------------------------------------------ sending */

/* Adds credentials for a METHOD request to RURI from the slot that
 * challenged its method last (MID), if any. */
int agent_auth_add(struct agent *a, enum sip_method mid, const char *method,
		   const char *ruri, struct sip_buf *b)
{
	/* struct sip_msg is big (header index): keep it off the stack */
	static __thread struct sip_msg msg;
	struct sip_digest_challenge ch;
	int slot = a->auth_slot[mid], e;
	struct agent_chal *c;

	if (slot < 0 || !a->chal[slot].len)
		return 0;
	c = &a->chal[slot];
	e = sip_msg_parse(c->buf, c->len, SIP_PARSE_DGRAM, &msg, NULL);
	if (e == 0)
		e = sip_digest_challenge_pick(&msg, &ch);
	if (e == 0) {
		c->nc++;
		e = sip_digest_authorization_add(b, slot ? "Proxy-Authorization" :
						 "Authorization", &ch, a->username,
						 a->password, NULL, method, ruri,
						 NULL, c->nc);
	}
	if (e < 0 && e != -ENOSPC) {
		log_warn("agent: cannot answer the kept challenge (%s)", strerror(-e));
		c->len = 0;
		e = 0; /* send it without; the server challenges again */
	}
	return e;
}

int agent_auth_keep(struct agent *a, enum sip_method mid, const struct sip_msg *m)
{
	int slot = m->status == 407;
	struct agent_chal *c = &a->chal[slot];

	if (m->len > sizeof(c->buf))
		return -E2BIG;
	memcpy(c->buf, m->buf, m->len);
	c->len = m->len;
	c->nc = 0;
	a->auth_slot[mid] = (int8_t)slot;
	return 0;
}

void agent_auth_drop(struct agent *a, const struct sip_msg *m)
{
	a->chal[m->status == 407].len = 0;
}

static int agent_req_build(struct agent *a, struct agent_req *r, char *buf,
			   size_t size, size_t *len)
{
	struct sip_req_params p = { 0 };
	struct sip_buf b;
	char aor[AGENT_URI_MAX];
	int e;

	if (snprintf(aor, sizeof(aor), "sip:%s@%s", a->user, a->domain) >= (int)sizeof(aor))
		return -ENAMETOOLONG;
	e = sip_branch_new(r->branch, sizeof(r->branch));
	if (e < 0)
		return e;
	p.method = r->method;
	p.ruri = r->ruri;
	p.transport = agent_via_transport(a->cfg.transport);
	p.via_host = a->local;
	p.via_port = a->local_port;
	p.branch = r->branch;
	p.rport = 1;
	p.from = aor;
	p.from_tag = r->from_tag;
	p.to = r->to;
	p.call_id = r->call_id;
	p.cseq = r->cseq;
	sip_buf_init(&b, buf, size);
	sip_req_begin(&b, &p);
	sip_buf_adds(&b, r->hdrs);
	sip_buf_hdr(&b, "User-Agent", "dataline-handset/0.1");
	e = agent_auth_add(a, r->method_id, r->method, r->ruri, &b);
	if (e < 0)
		return e;
	return sip_msg_end(&b, r->body_len ? r->ctype : NULL, r->body, r->body_len, len);
}

/* Builds and sends the current attempt of R in a new transaction. */
static int agent_req_send(struct agent *a, struct agent_req *r)
{
	static __thread char buf[AGENT_MSG_MAX + AGENT_BODY_MAX];
	struct sip_tx_key key = { 0 };
	char sent_by[80];
	size_t len;
	int e;

	e = agent_req_build(a, r, buf, sizeof(buf), &len);
	if (e < 0)
		return e;
	snprintf(sent_by, sizeof(sent_by), "%s:%u", a->local, a->local_port);
	key.branch = (struct sip_tx_str){ r->branch, strlen(r->branch) };
	key.sent_by = (struct sip_tx_str){ sent_by, strlen(sent_by) };
	key.method = (struct sip_tx_str){ r->method, strlen(r->method) };
	log_debug("agent: sending %s cseq %u to %s", r->method, r->cseq, r->ruri);
	e = sip_tx_client_new(a->txt, &key, "r", 1, a->cfg.transport != AGENT_TP_UDP,
			      buf, len, agent_now_ms(), &r->tx);
	if (e < 0) {
		r->tx = NULL;
		return e;
	}
	sip_tx_set_user(r->tx, r);
	agent_tx_rearm(a);
	return 0;
}

static int agent_copy(char *dst, size_t cap, const char *src)
{
	if (!src)
		return -EINVAL;
	return snprintf(dst, cap, "%s", src) >= (int)cap ? -ENAMETOOLONG : 0;
}

int agent_request(struct agent *a, const struct agent_req_params *p,
		  agent_req_done done, void *arg, struct agent_req **out)
{
	struct agent_req *r = NULL;
	enum sip_method mid;
	int e;

	if (!p || !p->method || !p->ruri)
		return -EINVAL;
	mid = sip_method_lookup((struct sip_str){ p->method, strlen(p->method) });
	if (mid == SIP_METHOD_INVITE || mid == SIP_METHOD_ACK || mid == SIP_METHOD_CANCEL)
		return -EINVAL;
	if (p->body_len > AGENT_BODY_MAX ||
	    (p->headers && strlen(p->headers) >= AGENT_HDRS_MAX))
		return -EMSGSIZE;
	if (p->body_len && (!p->body || !p->ctype))
		return -EINVAL;
	if (!agent_conn_is_open(a) || a->st == AGENT_CONNECTING || !a->txt)
		return -ENOTCONN;
	for (unsigned i = 0; i < AGENT_REQ_MAX && !r; i++)
		if (!a->reqs[i].used)
			r = &a->reqs[i];
	if (!r)
		return -ENOBUFS;
	memset(r, 0, sizeof(*r));
	r->a = a;
	r->method_id = mid;
	if ((e = agent_copy(r->method, sizeof(r->method), p->method)) < 0 ||
	    (e = agent_copy(r->ruri, sizeof(r->ruri), p->ruri)) < 0 ||
	    (e = agent_copy(r->to, sizeof(r->to), p->to ? p->to : p->ruri)) < 0 ||
	    (p->ctype && (e = agent_copy(r->ctype, sizeof(r->ctype), p->ctype)) < 0))
		return e;
	if (p->call_id)
		e = agent_copy(r->call_id, sizeof(r->call_id), p->call_id);
	else if ((e = sip_rand_hex(r->call_id, 40, 16)) == 0)
		strcat(r->call_id, "@dataline");
	if (e == 0)
		e = p->from_tag ? agent_copy(r->from_tag, sizeof(r->from_tag), p->from_tag) :
			sip_rand_hex(r->from_tag, sizeof(r->from_tag), 8);
	if (e < 0)
		return e;
	if (p->headers)
		memcpy(r->hdrs, p->headers, strlen(p->headers) + 1);
	if (p->body_len)
		memcpy(r->body, p->body, p->body_len);
	r->body_len = p->body_len;
	r->cseq = p->cseq ? p->cseq : 1;
	r->done = done;
	r->arg = arg;
	e = agent_req_send(a, r);
	if (e < 0)
		return e; /* the slot stays free: used was never set */
	r->used = 1;
	if (out)
		*out = r;
	return 0;
}

void agent_req_cancel(struct agent_req *r)
{
	if (!r || !r->used)
		return;
	if (r->tx)
		sip_tx_free(r->tx);
	r->tx = NULL;
	r->used = 0;
	r->local_status = 0;
}

unsigned agent_req_count(const struct agent *a)
{
	unsigned n = 0;

	for (unsigned i = 0; i < AGENT_REQ_MAX; i++)
		n += a->reqs[i].used != 0;
	return n;
}

/* ------------------------------------------------------------ responses */

/* A 401/407 to R: 0 when R went out again with credentials. */
static int agent_req_challenged(struct agent *a, struct agent_req *r,
				const struct sip_msg *m)
{
	struct sip_digest_challenge ch;
	int e;

	if (sip_digest_challenge_pick(m, &ch) < 0) {
		log_warn("agent: %s challenged without a usable Digest "
			 "(MD5/SHA-256, qop=auth)", r->method);
		return -EPROTO;
	}
	if ((r->fresh && !ch.stale) || ++r->tries > AGENT_AUTH_TRIES) {
		log_warn("agent: %s: credentials refused (%d)", r->method, m->status);
		agent_auth_drop(a, m);
		return -EACCES;
	}
	if ((e = agent_auth_keep(a, r->method_id, m)) < 0)
		return e;
	r->fresh = 1;
	r->cseq++;
	return agent_req_send(a, r);
}

static void agent_on_response(struct agent *a, const struct sip_msg *m)
{
	struct sip_tx_key key = { 0 };
	enum sip_tx_verdict verdict;
	struct agent_req *r;
	struct sip_tx *tx = NULL;
	int e;

	if (agent_call_on_response(a, m))
		return;
	key.branch = (struct sip_tx_str){ m->via.branch.p, m->via.branch.len };
	key.method = (struct sip_tx_str){ m->cseq.method.p, m->cseq.method.len };
	e = sip_tx_client_receive(a->txt, &key, m->status, NULL, 0, agent_now_ms(),
				  &verdict, &tx);
	agent_tx_rearm(a);
	if (e < 0) {
		log_debug("agent: stray %d to %.*s dropped", m->status,
			  (int)m->cseq.method.len, m->cseq.method.p);
		return;
	}
	if (verdict != SIP_TX_PASS || m->status < 200 || !(r = sip_tx_user(tx)))
		return;
	/* the tx now only absorbs retransmitted finals; it is no longer R's */
	sip_tx_set_user(tx, NULL);
	r->tx = NULL;
	if ((m->status == 401 || m->status == 407) && agent_req_challenged(a, r, m) == 0)
		return;
	agent_req_finish(r, m->status, m);
}

void agent_on_message(struct agent *a, const char *buf, size_t len, int stream)
{
	static __thread struct sip_msg m;
	int e;

	e = sip_msg_parse(buf, len, stream ? SIP_PARSE_STREAM : SIP_PARSE_DGRAM, &m, NULL);
	if (e < 0) {
		log_debug("agent: dropped an unparsable message (%s)", strerror(-e));
		return;
	}
	if (!a->txt)
		return;
	if (m.is_request)
		agent_serve_request(a, &m, stream);
	else
		agent_on_response(a, &m);
}
