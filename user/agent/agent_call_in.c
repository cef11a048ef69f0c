/*
 * agent_call_in: INVITE dialogs on the handset's UA core, the server side
 * (RFC 3261 s.12.1.1, s.13.3, s.15.1.2, s.9.2): incoming calls, the
 * in-dialog requests of every call (BYE, re-INVITE, the ACK of a 2xx),
 * CANCEL, and the OPTIONS figures the server's C3 gate asks for.
 *
 * A new INVITE gets 100 Trying through the server transaction the core
 * made for it and is kept (a copy of the request), so that 180, 200 or
 * 486/603 can be built from it whenever the caller decides. lib/sip ends
 * an INVITE server transaction at its 2xx: the 2xx is then ours to resend
 * (T1 doubling to T2 over UDP) until the ACK, and after 64*T1 without one
 * the call is ended by a BYE (s.13.3.1.4). A retransmitted INVITE that
 * arrives after our 2xx gets the 2xx again.
 *
 * A re-INVITE (To tag of a confirmed dialog) is answered 200 with our SDP
 * unchanged, so a session refresh or a peer's hold keeps the call up;
 * without an SDP of ours it gets 488.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <event2/event.h>

#include "agent_call_priv.h"
#include "dataline/log.h"

/* ------------------------------------------------------------ pure */

#define CALL_ROUTES_MAX 16

int agent_call_route_set(const struct sip_msg *m, int reverse, char *out, size_t cap)
{
	struct sip_str v[CALL_ROUTES_MAX];
	struct sip_list_iter it;
	struct sip_buf b;
	unsigned n = 0;
	size_t len;
	int e;

	sip_list_init(&it, m, SIP_HDR_RECORD_ROUTE);
	while ((e = sip_list_next(&it, &v[n])) == 0)
		if (++n == CALL_ROUTES_MAX)
			return -ENOSPC;
	if (e != -ENOENT)
		return -EBADMSG;
	sip_buf_init(&b, out, cap);
	for (unsigned i = 0; i < n; i++) {
		struct sip_str r = v[reverse ? n - 1 - i : i];

		sip_buf_adds(&b, "Route: ");
		sip_buf_addstr(&b, r);
		sip_buf_adds(&b, "\r\n");
	}
	if (sip_buf_finish(&b, &len) < 0 || len >= cap)
		return -ENOSPC;
	out[len] = '\0';
	return 0;
}

int agent_call_warn_code(const char *w)
{
	int code = 0, i;

	if (!w)
		return -EINVAL;
	for (i = 0; i < 3; i++) {
		if (w[i] < '0' || w[i] > '9')
			return -EINVAL;
		code = code * 10 + (w[i] - '0');
	}
	return w[3] == ' ' && code >= 300 ? code : -EINVAL;
}

int agent_net_format(const struct agent_net *n, char *out, size_t cap)
{
	int r = snprintf(out, cap, "rate=%u;rtt=%u;loss=%u", n->rate_kbps, n->rtt_ms,
			 n->loss_ppm);

	return r < 0 || (size_t)r >= cap ? -ENOSPC : 0;
}

void agent_call_on_net(struct agent *a, agent_net_fn fn, void *arg)
{
	a->net_fn = fn;
	a->net_arg = arg;
}

void agent_call_net_header(struct agent *a, struct sip_buf *b)
{
	struct agent_net n = { 0 };
	char v[96];

	if (a->net_fn && a->net_fn(a->net_arg, &n) == 0 &&
	    agent_net_format(&n, v, sizeof(v)) == 0)
		sip_buf_hdr(b, "X-Dataline-Net", "%s", v);
}

/* ------------------------------------------------------------ answers */

static const struct sip_msg *call_inv(struct agent_call *c)
{
	static __thread struct sip_msg m;

	if (sip_msg_parse(c->inv, c->inv_len, SIP_PARSE_DGRAM, &m, NULL) < 0)
		return NULL;
	return &m;
}

/* Builds STATUS to REQ in C's dialog into BUF and sends it through *TXP,
 * or directly when that is NULL. *TXP is NULL afterwards when a final
 * answer (or a failure) spent the transaction. */
static int call_respond(struct agent_call *c, const struct sip_msg *req, int status,
			const char *body, size_t body_len, struct sip_tx **txp,
			char *buf, size_t cap, size_t *len)
{
	struct sip_tx *tx = txp ? *txp : NULL;
	const struct sip_hdr *h;
	struct sip_buf b;
	int e;

	sip_buf_init(&b, buf, cap);
	sip_resp_begin(&b, req, status, NULL, c->local_tag, NULL);
	if (status > 100 && status < 300) {
		/* s.12.1.1: the Record-Route of the request, and our target */
		for (h = sip_msg_hdr(req, SIP_HDR_RECORD_ROUTE); h; h = sip_msg_hdr_next(req, h)) {
			sip_buf_adds(&b, "Record-Route: ");
			sip_buf_addstr(&b, h->value);
			sip_buf_adds(&b, "\r\n");
		}
		sip_buf_hdr(&b, "Contact", "<%s>", c->a->contact);
	}
	if (status / 100 == 2)
		sip_buf_hdr(&b, "Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE");
	sip_buf_hdr(&b, "User-Agent", "dataline-handset/0.1");
	if (status >= 200 && txp)
		*txp = NULL;
	if ((e = sip_msg_end(&b, body_len ? "application/sdp" : NULL, body, body_len, len)) < 0) {
		if (tx && status >= 200)
			sip_tx_free(tx);
		return e;
	}
	if (tx && sip_tx_server_respond(tx, status, buf, *len, agent_now_ms()) == 0) {
		agent_tx_rearm(c->a);
		return 0;
	}
	if (tx)
		sip_tx_free(tx);
	if (txp)
		*txp = NULL;
	return agent_conn_send(c->a, buf, *len);
}

/* Sends our 2xx (kept in c->resp) and starts resending it until the ACK. */
static int call_send_2xx(struct agent_call *c, const struct sip_msg *req,
			 struct sip_tx **txp)
{
	int e = call_respond(c, req, 200, c->lsdp, c->lsdp_len, txp, c->resp,
			     sizeof(c->resp), &c->resp_len);

	if (e < 0)
		return e;
	c->resp_retx = 1;
	c->retx_ms = AGENT_CALL_T1;
	c->retx_end = agent_now_ms() + 64ULL * AGENT_CALL_T1;
	call_timer_ms(c, c->a->cfg.transport == AGENT_TP_UDP ? c->retx_ms :
		      64ULL * AGENT_CALL_T1);
	return 0;
}

void call_in_timer(struct agent_call *c)
{
	uint64_t now = agent_now_ms();

	if (!c->resp_retx)
		return;
	if (now >= c->retx_end) {
		c->resp_retx = 0;
		log_warn("agent: call %u: no ACK for our 2xx in %u ms", c->id,
			 64 * AGENT_CALL_T1);
		if (c->st == AGENT_CALL_ANSWERING)
			call_send_bye(c, AGENT_CALL_END_NOACK);
		return;
	}
	agent_conn_send(c->a, c->resp, c->resp_len);
	c->retx_ms = c->retx_ms * 2 > AGENT_CALL_T2 ? AGENT_CALL_T2 : c->retx_ms * 2;
	call_timer_ms(c, c->retx_ms < c->retx_end - now ? c->retx_ms : c->retx_end - now);
}

static struct agent_call *call_in_check(struct agent_call *c)
{
	if (!c || !c->used || c->outgoing ||
	    (c->st != AGENT_CALL_INCOMING && c->st != AGENT_CALL_RINGING))
		return NULL;
	return c;
}

int agent_call_ring(struct agent_call *c)
{
	static __thread char buf[AGENT_MSG_MAX];
	const struct sip_msg *m;
	size_t len;

	if (!call_in_check(c))
		return -EALREADY;
	if (c->st == AGENT_CALL_RINGING)
		return 0;
	if (!(m = call_inv(c)))
		return -EBADMSG;
	call_set_state(c, AGENT_CALL_RINGING);
	return call_respond(c, m, 180, NULL, 0, &c->stx, buf, sizeof(buf), &len);
}

int agent_call_answer(struct agent_call *c, const char *sdp, size_t sdp_len)
{
	const struct sip_msg *m;
	int e;

	if (!call_in_check(c))
		return -EALREADY;
	if (sdp_len > sizeof(c->lsdp) || (sdp_len && !sdp))
		return -EMSGSIZE;
	if (!(m = call_inv(c)))
		return -EBADMSG;
	memcpy(c->lsdp, sdp, sdp_len);
	c->lsdp_len = sdp_len;
	call_set_state(c, AGENT_CALL_ANSWERING);
	if ((e = call_send_2xx(c, m, &c->stx)) < 0)
		call_end(c, CALL_REPORT_ENDED, AGENT_CALL_END_REJECTED, 500, NULL);
	return e;
}

int agent_call_reject(struct agent_call *c, int status)
{
	static __thread char buf[AGENT_MSG_MAX];
	const struct sip_msg *m;
	size_t len;

	if (!call_in_check(c))
		return -EALREADY;
	if (status < 300 || status > 699)
		return -EINVAL;
	if ((m = call_inv(c)))
		call_respond(c, m, status, NULL, 0, &c->stx, buf, sizeof(buf), &len);
	call_end(c, CALL_REPORT_ENDED, AGENT_CALL_END_REJECTED, status, NULL);
	return 0;
}

/* ------------------------------------------------------------ requests */

static int call_serve_new(struct agent *a, const struct sip_msg *m, struct sip_tx *tx)
{
	static __thread char buf[AGENT_MSG_MAX];
	static __thread char from_user[64];
	struct agent_calls *t = a->calls;
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTACT);
	struct agent_call_in in = { 0 };
	struct sip_contact ct;
	struct agent_call *c;
	size_t len;

	if (!t->ev.incoming)
		return 480;
	if (m->len > sizeof(((struct agent_call *)0)->inv))
		return 413;
	if (!(c = call_alloc(a, 0)))
		return 486;
	if (sip_str_copy(m->call_id, c->call_id, sizeof(c->call_id)) < 0 ||
	    sip_str_copy(m->from.uri_str, c->remote_uri, sizeof(c->remote_uri)) < 0 ||
	    sip_str_copy(m->to.uri_str, c->local_uri, sizeof(c->local_uri)) < 0 ||
	    (sip_str_present(m->from.tag) &&
	     sip_str_copy(m->from.tag, c->remote_tag, sizeof(c->remote_tag)) < 0) ||
	    agent_call_route_set(m, 0, c->routes, sizeof(c->routes)) < 0) {
		call_end(c, CALL_REPORT_NONE, AGENT_CALL_END_REJECTED, 400, NULL);
		return 400;
	}
	if (!h || sip_contact_decode(h->value, &ct) < 0 || ct.star ||
	    sip_str_copy(ct.addr.uri_str, c->target, sizeof(c->target)) < 0)
		snprintf(c->target, sizeof(c->target), "%s", c->remote_uri);
	memcpy(c->inv, m->buf, m->len);
	c->inv_len = m->len;
	c->remote_cseq = m->cseq.num;
	c->stx = tx;
	call_set_state(c, AGENT_CALL_INCOMING);
	call_respond(c, m, 100, NULL, 0, &c->stx, buf, sizeof(buf), &len);
	from_user[0] = '\0';
	if (sip_str_present(m->from.uri.user) &&
	    sip_str_unescape(m->from.uri.user, from_user, sizeof(from_user), &len) < 0)
		from_user[0] = '\0';
	in.from = c->remote_uri;
	in.from_user = from_user;
	in.call_id = c->call_id;
	in.sdp = m->body.p ? m->body.p : "";
	in.sdp_len = m->body.len;
	in.m = m;
	log_info("agent: call %u from %s (Call-ID %s)", c->id, c->remote_uri, c->call_id);
	t->ev.incoming(t->arg, c, &in);
	return 0;
}

static int call_serve_invite(struct agent *a, const struct sip_msg *m, struct sip_tx *tx)
{
	struct agent_call *c;

	if (sip_str_present(m->to.tag)) {
		c = call_find(a, m->call_id, m->to.tag, m->from.tag);
		if (!c)
			return 481;
		if (c->st != AGENT_CALL_CONFIRMED || c->resp_retx)
			return 491; /* s.14.2: one INVITE at a time */
		if (!c->lsdp_len)
			return 488;
		c->remote_cseq = m->cseq.num;
		return call_send_2xx(c, m, &tx) < 0 ? 500 : 0;
	}
	c = call_find(a, m->call_id, (struct sip_str){ 0 }, m->from.tag);
	if (c && !c->outgoing) {
		/* the INVITE again after our 2xx ended its transaction */
		if (tx)
			sip_tx_free(tx);
		if (c->resp_retx)
			agent_conn_send(a, c->resp, c->resp_len);
		return 0;
	}
	return call_serve_new(a, m, tx);
}

void call_in_send_487(struct agent_call *c)
{
	static __thread char buf[AGENT_MSG_MAX];
	const struct sip_msg *inv = call_inv(c);
	size_t len;

	c->pending_487 = 0;
	if (inv && c->a->txt)
		call_respond(c, inv, 487, NULL, 0, &c->stx, buf, sizeof(buf), &len);
}

/* s.9.2: 200 for the CANCEL (the core sends it on return), then 487 for
 * the INVITE from the call's report event, so they leave in that order. */
static int call_serve_cancel(struct agent *a, const struct sip_msg *m)
{
	struct agent_call *c = call_find(a, m->call_id, (struct sip_str){ 0 }, m->from.tag);

	if (!c || c->outgoing || m->cseq.num != c->remote_cseq)
		return 481;
	if (!call_in_check(c))
		return 200; /* answered already: the CANCEL has no effect */
	c->pending_487 = 1;
	call_end(c, CALL_REPORT_ENDED, AGENT_CALL_END_CANCELLED, 487, NULL);
	return 200;
}

static void call_serve_ack(struct agent *a, const struct sip_msg *m)
{
	struct agent_calls *t = a->calls;
	struct agent_call *c = call_find(a, m->call_id, m->to.tag, m->from.tag);
	const struct sip_msg *inv;

	if (!c || !c->resp_retx)
		return;
	c->resp_retx = 0;
	evtimer_del(c->timer);
	if (c->st != AGENT_CALL_ANSWERING)
		return; /* the ACK of a re-INVITE's 2xx */
	call_set_state(c, AGENT_CALL_CONFIRMED);
	inv = call_inv(c);
	if (t->ev.answered)
		t->ev.answered(t->arg, c, inv && inv->body.p ? inv->body.p : "",
			       inv ? inv->body.len : 0);
}

int agent_call_serve(struct agent *a, const struct sip_msg *m, struct sip_tx *tx)
{
	struct agent_call *c;

	if (!a->calls)
		return m->method_id == SIP_METHOD_INVITE ? 405 :
		       m->method_id == SIP_METHOD_ACK ? 0 : 481;
	switch (m->method_id) {
	case SIP_METHOD_ACK:
		call_serve_ack(a, m);
		return 0;
	case SIP_METHOD_CANCEL:
		return call_serve_cancel(a, m);
	case SIP_METHOD_BYE:
		if (!sip_str_present(m->to.tag) ||
		    !(c = call_find(a, m->call_id, m->to.tag, m->from.tag)))
			return 481;
		call_end(c, CALL_REPORT_ENDED, AGENT_CALL_END_REMOTE, 200, NULL);
		return 200;
	default:
		return call_serve_invite(a, m, tx);
	}
}
