/*
 * agent_call: INVITE dialogs on the handset's UA core, the client side
 * (RFC 3261 s.12, s.13.2, s.15, s.17.1.1) and what both sides share: the
 * call slots, their timers and the deferred end reports.
 *
 * Every request goes down the agent's one flow, so the server is our
 * outbound proxy: an initial INVITE carries no Route; the route set of the
 * 2xx's Record-Route (reversed, s.12.1.2) becomes the Route lines of the
 * ACK and BYE, whose Request-URI is the remote target (Contact). Loose
 * routing only (every dataline server and SIP proxy since RFC 3261).
 *
 * lib/sip's INVITE client transaction retransmits the INVITE (timer A),
 * sends and resends the hop-by-hop ACK of a 3xx-6xx (same branch) and
 * ends at a 2xx; the end-to-end ACK of a 2xx is ours, kept and resent for
 * each retransmitted 2xx. lib/sip runs timer B in Proceeding too, which
 * RFC 3261 does not: when it fires after a 1xx the call keeps waiting
 * without a transaction (responses are then matched here by Call-ID, tag
 * and branch) until its own ring timeout sends CANCEL.
 *
 * ENDED and FAILED are reported from an event of the call, never from
 * inside the transaction table or a response being parsed, so the
 * caller may start a new call from them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "agent_call_priv.h"
#include "dataline/log.h"

static const char *const call_state_names[] = {
	"calling", "early", "incoming", "ringing", "answering", "confirmed",
	"cancelling", "terminating", "ended",
};

static const char *const call_end_names[] = {
	"local", "remote", "cancelled", "rejected", "no-answer", "no-ack", "flow-lost",
};

const char *agent_call_state_name(enum agent_call_state st)
{
	return (unsigned)st <= AGENT_CALL_ENDED ? call_state_names[st] : "?";
}

const char *agent_call_end_name(enum agent_call_end why)
{
	return (unsigned)why <= AGENT_CALL_END_FLOW ? call_end_names[why] : "?";
}

/* ------------------------------------------------------------ slots */

void call_set_state(struct agent_call *c, enum agent_call_state st)
{
	if (c->st == st)
		return;
	log_debug("agent: call %u %s -> %s", c->id, agent_call_state_name(c->st),
		  agent_call_state_name(st));
	c->st = st;
}

void call_timer_ms(struct agent_call *c, uint64_t ms)
{
	evtimer_del(c->timer);
	agent_timer_ms(c->timer, ms);
}

static void call_release(struct agent_call *c)
{
	if (c->tx)
		sip_tx_free(c->tx);
	if (c->timer)
		event_free(c->timer);
	if (c->done_ev)
		event_free(c->done_ev);
	/* CANCEL and BYE transactions stay in the table to absorb their
	 * retransmitted answers; they no longer point at us */
	c->tx = c->cancel_tx = c->bye_tx = c->stx = NULL;
	c->timer = c->done_ev = NULL;
	c->used = 0;
}

static void call_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent_call *c = arg;
	struct agent_calls *t = c->a->calls;
	enum call_report kind = c->report;

	c->report = CALL_REPORT_NONE;
	if (c->pending_487)
		call_in_send_487(c);
	log_info("agent: call %u %s (%s, %d)", c->id,
		 kind == CALL_REPORT_FAILED ? "failed" : "ended",
		 agent_call_end_name(c->why), c->status);
	if (kind == CALL_REPORT_FAILED && t->ev.failed)
		t->ev.failed(t->arg, c, c->status, c->warning);
	else if (kind == CALL_REPORT_ENDED && t->ev.ended)
		t->ev.ended(t->arg, c, c->why, c->status);
	call_release(c);
}

void call_end(struct agent_call *c, enum call_report kind,
	      enum agent_call_end why, int status, const char *warning)
{
	if (c->st == AGENT_CALL_ENDED)
		return;
	call_set_state(c, AGENT_CALL_ENDED);
	evtimer_del(c->timer);
	c->resp_retx = 0;
	c->report = kind;
	c->why = why;
	c->status = status;
	snprintf(c->warning, sizeof(c->warning), "%s", warning ? warning : "");
	if (c->a->freeing) {
		call_release(c);
		return;
	}
	event_active(c->done_ev, EV_TIMEOUT, 0);
}

static void call_timer_cb(evutil_socket_t fd, short what, void *arg);

struct agent_call *call_alloc(struct agent *a, int outgoing)
{
	struct agent_calls *t = a->calls;
	struct agent_call *c = NULL;

	for (unsigned i = 0; i < AGENT_CALL_MAX && !c; i++)
		if (!t->c[i].used)
			c = &t->c[i];
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->a = a;
	c->timer = evtimer_new(a->base, call_timer_cb, c);
	c->done_ev = event_new(a->base, -1, 0, call_done_cb, c);
	if (!c->timer || !c->done_ev || sip_rand_hex(c->local_tag, sizeof(c->local_tag), 8) < 0) {
		call_release(c);
		return NULL;
	}
	if (++t->next_id == 0)
		t->next_id = 1;
	c->id = t->next_id;
	c->used = 1;
	c->outgoing = outgoing;
	return c;
}

struct agent_call *call_find(struct agent *a, struct sip_str call_id,
			     struct sip_str ltag, struct sip_str rtag)
{
	if (!a->calls)
		return NULL;
	for (unsigned i = 0; i < AGENT_CALL_MAX; i++) {
		struct agent_call *c = &a->calls->c[i];

		if (c->used && c->st != AGENT_CALL_ENDED && sip_str_eq(call_id, c->call_id) &&
		    (!ltag.p || sip_str_eq(ltag, c->local_tag)) &&
		    (!rtag.p || !c->remote_tag[0] || sip_str_eq(rtag, c->remote_tag)))
			return c;
	}
	return NULL;
}

void agent_call_flow_down(struct agent *a)
{
	if (!a->calls)
		return;
	for (unsigned i = 0; i < AGENT_CALL_MAX; i++) {
		struct agent_call *c = &a->calls->c[i];

		if (!c->used)
			continue;
		/* the table goes away with the flow: forget its tx */
		if (c->tx)
			sip_tx_free(c->tx);
		c->tx = c->cancel_tx = c->bye_tx = c->stx = NULL;
		if (c->outgoing && c->st != AGENT_CALL_CONFIRMED &&
		    c->st != AGENT_CALL_TERMINATING)
			call_end(c, CALL_REPORT_FAILED, AGENT_CALL_END_FLOW, 503, NULL);
		else
			call_end(c, CALL_REPORT_ENDED, AGENT_CALL_END_FLOW, 503, NULL);
	}
}

void agent_call_free_all(struct agent *a)
{
	if (!a->calls)
		return;
	for (unsigned i = 0; i < AGENT_CALL_MAX; i++)
		if (a->calls->c[i].used)
			call_release(&a->calls->c[i]);
	free(a->calls);
	a->calls = NULL;
}

/* ------------------------------------------------------------ building */

int call_build(struct agent_call *c, const char *method, const char *ruri,
	       const char *branch, uint32_t cseq, const char *extra,
	       const char *body, size_t body_len, char *buf, size_t cap,
	       size_t *len)
{
	struct agent *a = c->a;
	struct sip_req_params p = { 0 };
	struct sip_buf b;

	p.method = method;
	p.ruri = ruri;
	p.transport = agent_via_transport(a->cfg.transport);
	p.via_host = a->local;
	p.via_port = a->local_port;
	p.branch = branch;
	p.rport = 1;
	p.from = c->local_uri;
	p.from_tag = c->local_tag;
	p.to = c->remote_uri;
	p.to_tag = c->remote_tag[0] ? c->remote_tag : NULL;
	p.call_id = c->call_id;
	p.cseq = cseq;
	sip_buf_init(&b, buf, cap);
	sip_req_begin(&b, &p);
	if (extra)
		sip_buf_adds(&b, extra);
	sip_buf_hdr(&b, "User-Agent", "dataline-handset/0.1");
	return sip_msg_end(&b, body_len ? "application/sdp" : NULL, body, body_len, len);
}

/* Sends BUF in a new client transaction keyed by BRANCH + METHOD. */
static int call_tx_new(struct agent_call *c, const char *method, const char *branch,
		       const char *buf, size_t len, struct sip_tx **out)
{
	struct agent *a = c->a;
	struct sip_tx_key key = { 0 };
	char sent_by[80];
	int e;

	if (!a->txt)
		return -ENOTCONN;
	snprintf(sent_by, sizeof(sent_by), "%s:%u", a->local, a->local_port);
	key.branch = (struct sip_tx_str){ branch, strlen(branch) };
	key.sent_by = (struct sip_tx_str){ sent_by, strlen(sent_by) };
	key.method = (struct sip_tx_str){ method, strlen(method) };
	e = sip_tx_client_new(a->txt, &key, "r", 1, a->cfg.transport != AGENT_TP_UDP,
			      buf, len, agent_now_ms(), out);
	if (e == 0)
		sip_tx_set_user(*out, NULL); /* ours, not an agent_req */
	agent_tx_rearm(a);
	return e;
}

int call_send_bye(struct agent_call *c, enum agent_call_end why)
{
	static __thread char buf[AGENT_MSG_MAX];
	char branch[48];
	size_t len;
	int e;

	call_set_state(c, AGENT_CALL_TERMINATING);
	c->why = why; /* reported with the BYE's answer */
	c->resp_retx = 0;
	evtimer_del(c->timer);
	if ((e = sip_branch_new(branch, sizeof(branch))) < 0 ||
	    (e = call_build(c, "BYE", c->target, branch, ++c->local_cseq, c->routes,
			    NULL, 0, buf, sizeof(buf), &len)) < 0 ||
	    (e = call_tx_new(c, "BYE", branch, buf, len, &c->bye_tx)) < 0) {
		call_end(c, CALL_REPORT_ENDED, why, 500, NULL);
		return e;
	}
	return 0;
}

/* ------------------------------------------------------------ out */

static int call_send_invite(struct agent_call *c)
{
	static __thread char buf[AGENT_MSG_MAX + AGENT_BODY_MAX];
	struct agent *a = c->a;
	char hdrs[AGENT_HDRS_MAX + 512];
	struct sip_buf b;
	size_t len, n0;
	int e;

	if ((e = sip_branch_new(c->branch, sizeof(c->branch))) < 0)
		return e;
	sip_buf_init(&b, hdrs, sizeof(hdrs));
	sip_buf_hdr(&b, "Contact", "<%s>", a->contact);
	sip_buf_hdr(&b, "Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE");
	n0 = b.len;
	if ((e = agent_auth_add(a, SIP_METHOD_INVITE, "INVITE", c->ruri, &b)) < 0 ||
	    (e = sip_buf_finish(&b, &len)) < 0)
		return e;
	/* the ACK of a 2xx carries the INVITE's credentials (s.22.1) */
	snprintf(c->auth, sizeof(c->auth), "%.*s", (int)(len - n0), hdrs + n0);
	c->inv_cseq = c->local_cseq;
	e = call_build(c, "INVITE", c->ruri, c->branch, c->inv_cseq, hdrs, c->lsdp,
		       c->lsdp_len, buf, sizeof(buf), &len);
	if (e == 0)
		e = call_tx_new(c, "INVITE", c->branch, buf, len, &c->tx);
	return e;
}

int agent_call_invite(struct agent *a, const char *to, const char *sdp,
		      size_t sdp_len, void *user, struct agent_call **out)
{
	struct agent_call *c;
	int e;

	if (!a->calls || (sdp_len && !sdp))
		return -EINVAL;
	if (sdp_len > AGENT_BODY_MAX)
		return -EMSGSIZE;
	if (!agent_conn_is_open(a) || a->st == AGENT_CONNECTING || !a->txt || !a->contact[0])
		return -ENOTCONN;
	if (!(c = call_alloc(a, 1)))
		return -EBUSY;
	if ((e = agent_target_uri(a, to, c->ruri, sizeof(c->ruri))) < 0)
		goto fail;
	snprintf(c->remote_uri, sizeof(c->remote_uri), "%s", c->ruri);
	snprintf(c->target, sizeof(c->target), "%s", c->ruri);
	if (snprintf(c->local_uri, sizeof(c->local_uri), "sip:%s@%s", a->user, a->domain) >=
	    (int)sizeof(c->local_uri)) {
		e = -ENAMETOOLONG;
		goto fail;
	}
	if ((e = sip_rand_hex(c->call_id, 40, 16)) < 0)
		goto fail;
	strcat(c->call_id, "@dataline");
	memcpy(c->lsdp, sdp, sdp_len);
	c->lsdp_len = sdp_len;
	c->local_cseq = 1;
	c->user = user;
	call_set_state(c, AGENT_CALL_CALLING);
	if ((e = call_send_invite(c)) < 0)
		goto fail;
	call_timer_ms(c, (uint64_t)a->calls->cfg.ring_timeout * 1000);
	log_info("agent: call %u to %s (Call-ID %s)", c->id, c->ruri, c->call_id);
	if (out)
		*out = c;
	return 0;
fail:
	call_release(c);
	return e;
}

static int call_send_cancel(struct agent_call *c)
{
	static __thread char buf[AGENT_MSG_MAX];
	char save[sizeof(c->remote_tag)];
	size_t len;
	int e;

	/* s.9.1: the INVITE's Request-URI, Call-ID, From, To (no tag), CSeq
	 * number and top Via (same branch) */
	memcpy(save, c->remote_tag, sizeof(save));
	c->remote_tag[0] = '\0';
	e = call_build(c, "CANCEL", c->ruri, c->branch, c->inv_cseq, NULL, NULL, 0,
		       buf, sizeof(buf), &len);
	memcpy(c->remote_tag, save, sizeof(save));
	if (e == 0)
		e = call_tx_new(c, "CANCEL", c->branch, buf, len, &c->cancel_tx);
	if (e == 0) {
		c->cancel_sent = 1;
		/* guard: the 487 should follow; give up after 64*T1 */
		call_timer_ms(c, 64ULL * AGENT_CALL_T1);
	}
	return e;
}

/* The hop-by-hop ACK of a 3xx-6xx M to our INVITE (s.17.1.1.3). */
static int call_build_ack_err(struct agent_call *c, const struct sip_msg *m,
			      char *buf, size_t cap, size_t *len)
{
	char save[sizeof(c->remote_tag)];
	int e;

	memcpy(save, c->remote_tag, sizeof(save));
	if (sip_str_copy(m->to.tag, c->remote_tag, sizeof(c->remote_tag)) < 0)
		c->remote_tag[0] = '\0';
	e = call_build(c, "ACK", c->ruri, c->branch, c->inv_cseq, NULL, NULL, 0, buf,
		       cap, len);
	memcpy(c->remote_tag, save, sizeof(save));
	return e;
}

/* A 2xx M: the dialog is made (s.12.1.2) and ACKed end to end. */
static void call_on_2xx(struct agent_call *c, const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTACT);
	struct agent_calls *t = c->a->calls;
	struct sip_contact ct;
	char branch[48];
	int e;

	c->tx = NULL;
	evtimer_del(c->timer);
	sip_str_copy(m->to.tag, c->remote_tag, sizeof(c->remote_tag));
	if (agent_call_route_set(m, 1, c->routes, sizeof(c->routes)) < 0)
		c->routes[0] = '\0';
	if (h && sip_contact_decode(h->value, &ct) == 0 && sip_str_present(ct.addr.uri_str))
		sip_str_copy(ct.addr.uri_str, c->target, sizeof(c->target));
	{
		char extra[AGENT_HDRS_MAX + sizeof(c->auth)];

		snprintf(extra, sizeof(extra), "%s%s", c->routes, c->auth);
		e = sip_branch_new(branch, sizeof(branch));
		if (e == 0)
			e = call_build(c, "ACK", c->target, branch, c->inv_cseq, extra, NULL, 0,
				       c->ack, sizeof(c->ack), &c->ack_len);
	}
	if (e == 0)
		agent_conn_send(c->a, c->ack, c->ack_len);
	else
		c->ack_len = 0;
	if (c->hangup_wanted || c->st == AGENT_CALL_CANCELLING) {
		/* answered while we were cancelling: ACK, then BYE (s.9.1) */
		call_send_bye(c, c->hangup_wanted ? AGENT_CALL_END_CANCELLED :
			      AGENT_CALL_END_NOANSWER);
		return;
	}
	call_set_state(c, AGENT_CALL_CONFIRMED);
	if (t->ev.answered)
		t->ev.answered(t->arg, c, m->body.p ? m->body.p : "", m->body.len);
}

/* A 1xx M: progress, and the CANCEL that waited for it (s.9.1). */
static void call_on_1xx(struct agent_call *c, const struct sip_msg *m)
{
	struct agent_calls *t = c->a->calls;

	c->got_1xx = 1;
	if (c->st == AGENT_CALL_CANCELLING) {
		if (!c->cancel_sent && call_send_cancel(c) < 0)
			call_end(c, CALL_REPORT_ENDED, AGENT_CALL_END_CANCELLED, 500, NULL);
		return;
	}
	if (m->status == 100)
		return;
	call_set_state(c, AGENT_CALL_EARLY);
	if (t->ev.progress)
		t->ev.progress(t->arg, c, m->status);
}

/* A 3xx-6xx M (its ACK already sent). */
static void call_on_error(struct agent_call *c, const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_WARNING);
	char warning[256] = "";
	struct sip_digest_challenge ch;

	c->tx = NULL;
	if ((m->status == 401 || m->status == 407) && c->st != AGENT_CALL_CANCELLING &&
	    sip_digest_challenge_pick(m, &ch) == 0) {
		if ((c->fresh && !ch.stale) || ++c->tries > AGENT_AUTH_TRIES) {
			log_warn("agent: INVITE: credentials refused (%d)", m->status);
			agent_auth_drop(c->a, m);
		} else if (agent_auth_keep(c->a, SIP_METHOD_INVITE, m) == 0) {
			c->fresh = 1;
			c->local_cseq++;
			if (call_send_invite(c) == 0)
				return;
		}
	}
	if (h)
		sip_str_copy(h->value, warning, sizeof(warning));
	h = sip_msg_hdr_byname(m, "X-Dataline-Net");
	if (h)
		sip_str_copy(h->value, c->net, sizeof(c->net));
	if (c->st == AGENT_CALL_CANCELLING)
		call_end(c, CALL_REPORT_ENDED, c->hangup_wanted ? AGENT_CALL_END_CANCELLED :
			 AGENT_CALL_END_NOANSWER, m->status, warning);
	else
		call_end(c, CALL_REPORT_FAILED, AGENT_CALL_END_REMOTE, m->status, warning);
}

static int call_waiting(const struct agent_call *c)
{
	return c->st == AGENT_CALL_CALLING || c->st == AGENT_CALL_EARLY ||
	       c->st == AGENT_CALL_CANCELLING;
}

static void call_on_invite_resp(struct agent_call *c, const struct sip_msg *m)
{
	static __thread char ack[AGENT_MSG_MAX];
	struct agent *a = c->a;
	struct sip_tx_key key = { 0 };
	enum sip_tx_verdict v;
	size_t ack_len = 0;
	int e, ours = sip_str_eq(m->via.branch, c->branch) && m->cseq.num == c->inv_cseq;

	if (m->status >= 300 && call_build_ack_err(c, m, ack, sizeof(ack), &ack_len) < 0)
		ack_len = 0;
	key.branch = (struct sip_tx_str){ m->via.branch.p, m->via.branch.len };
	key.method = (struct sip_tx_str){ m->cseq.method.p, m->cseq.method.len };
	e = sip_tx_client_receive(a->txt, &key, m->status, ack_len ? ack : NULL, ack_len,
				  agent_now_ms(), &v, NULL);
	agent_tx_rearm(a);
	if (e == 0 && v == SIP_TX_ABSORBED)
		return;
	if (e < 0) {
		/* no transaction: a retransmitted 2xx, or an answer after
		 * timer B ended a transaction in Proceeding */
		if (m->status >= 200 && m->status < 300 && m->cseq.num == c->inv_cseq &&
		    c->ack_len && !call_waiting(c)) {
			agent_conn_send(a, c->ack, c->ack_len);
			return;
		}
		if (!ours || !call_waiting(c))
			return;
		if (m->status >= 300 && ack_len)
			agent_conn_send(a, ack, ack_len);
	}
	if (!ours || !call_waiting(c))
		return;
	if (m->status < 200)
		call_on_1xx(c, m);
	else if (m->status < 300)
		call_on_2xx(c, m);
	else
		call_on_error(c, m);
}

int agent_call_on_response(struct agent *a, const struct sip_msg *m)
{
	struct sip_tx_key key = { 0 };
	enum sip_tx_verdict v;
	struct sip_tx *tx = NULL;
	struct agent_call *c;
	int e;

	if (!a->calls || !(sip_str_eq(m->cseq.method, "INVITE") ||
			   sip_str_eq(m->cseq.method, "BYE") ||
			   sip_str_eq(m->cseq.method, "CANCEL")))
		return 0;
	c = call_find(a, m->call_id, m->from.tag, (struct sip_str){ 0 });
	if (!c)
		return 0; /* the core drops it as stray */
	if (sip_str_eq(m->cseq.method, "INVITE")) {
		call_on_invite_resp(c, m);
		return 1;
	}
	key.branch = (struct sip_tx_str){ m->via.branch.p, m->via.branch.len };
	key.method = (struct sip_tx_str){ m->cseq.method.p, m->cseq.method.len };
	e = sip_tx_client_receive(a->txt, &key, m->status, NULL, 0, agent_now_ms(), &v, &tx);
	agent_tx_rearm(a);
	if (e < 0 || v != SIP_TX_PASS || m->status < 200)
		return 1;
	if (tx == c->cancel_tx)
		c->cancel_tx = NULL; /* the 487 of the INVITE ends the call */
	else if (tx == c->bye_tx) {
		c->bye_tx = NULL;
		if (c->st == AGENT_CALL_TERMINATING)
			call_end(c, CALL_REPORT_ENDED, c->why, m->status, NULL);
	}
	return 1;
}

int agent_call_on_timeout(struct agent *a, struct sip_tx *tx)
{
	if (!a->calls)
		return 0;
	for (unsigned i = 0; i < AGENT_CALL_MAX; i++) {
		struct agent_call *c = &a->calls->c[i];

		if (!c->used)
			continue;
		if (tx == c->tx) {
			c->tx = NULL;
			/* timer B after a 1xx: keep waiting (see the top) */
			if (!c->got_1xx)
				call_end(c, c->st == AGENT_CALL_CANCELLING ? CALL_REPORT_ENDED :
					 CALL_REPORT_FAILED, AGENT_CALL_END_NOANSWER, 408, NULL);
			return 1;
		}
		if (tx == c->bye_tx) {
			c->bye_tx = NULL;
			call_end(c, CALL_REPORT_ENDED, c->why, 408, NULL);
			return 1;
		}
		if (tx == c->cancel_tx) {
			c->cancel_tx = NULL;
			return 1;
		}
	}
	return 0;
}

/* Ring timeout (out), CANCEL guard, or the 2xx retransmission (in). */
static void call_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent_call *c = arg;

	if (!c->outgoing) {
		call_in_timer(c);
		return;
	}
	if (c->st == AGENT_CALL_CANCELLING && c->cancel_sent) {
		call_end(c, CALL_REPORT_ENDED, c->hangup_wanted ? AGENT_CALL_END_CANCELLED :
			 AGENT_CALL_END_NOANSWER, 408, NULL);
		return;
	}
	if (c->st != AGENT_CALL_CALLING && c->st != AGENT_CALL_EARLY)
		return;
	log_info("agent: call %u: no answer in %u s, cancelling", c->id,
		 c->a->calls->cfg.ring_timeout);
	call_set_state(c, AGENT_CALL_CANCELLING);
	if (c->got_1xx && call_send_cancel(c) < 0)
		call_end(c, CALL_REPORT_ENDED, AGENT_CALL_END_NOANSWER, 408, NULL);
	else if (!c->got_1xx)
		call_timer_ms(c, 64ULL * AGENT_CALL_T1);
}

int agent_call_hangup(struct agent_call *c)
{
	if (!c || !c->used || c->st == AGENT_CALL_ENDED)
		return -EALREADY;
	switch (c->st) {
	case AGENT_CALL_CALLING:
	case AGENT_CALL_EARLY:
		c->hangup_wanted = 1;
		call_set_state(c, AGENT_CALL_CANCELLING);
		/* s.9.1: no CANCEL before a provisional answer */
		if (c->got_1xx)
			return call_send_cancel(c);
		call_timer_ms(c, 64ULL * AGENT_CALL_T1);
		return 0;
	case AGENT_CALL_INCOMING:
	case AGENT_CALL_RINGING:
		return agent_call_reject(c, 603);
	case AGENT_CALL_ANSWERING:
	case AGENT_CALL_CONFIRMED:
		c->hangup_wanted = 1;
		return call_send_bye(c, AGENT_CALL_END_LOCAL);
	default:
		c->hangup_wanted = 1;
		return 0; /* CANCEL or BYE already under way */
	}
}

/* ------------------------------------------------------------ API */

int agent_call_setup(struct agent *a, const struct agent_call_config *cfg,
		     const struct agent_call_events *ev, void *arg)
{
	if (!a->calls && !(a->calls = calloc(1, sizeof(*a->calls))))
		return -ENOMEM;
	if (ev)
		a->calls->ev = *ev;
	a->calls->arg = arg;
	if (cfg)
		a->calls->cfg = *cfg;
	if (!a->calls->cfg.ring_timeout)
		a->calls->cfg.ring_timeout = 60;
	return 0;
}

enum agent_call_state agent_call_state(const struct agent_call *c)
{
	return c->st;
}

uint32_t agent_call_id(const struct agent_call *c)
{
	return c->id;
}

struct agent_call *agent_call_find(struct agent *a, uint32_t id)
{
	if (!a->calls)
		return NULL;
	for (unsigned i = 0; i < AGENT_CALL_MAX; i++)
		if (a->calls->c[i].used && a->calls->c[i].id == id)
			return &a->calls->c[i];
	return NULL;
}

int agent_call_outgoing(const struct agent_call *c)
{
	return c->outgoing;
}

const char *agent_call_remote(const struct agent_call *c)
{
	return c->remote_uri;
}

const char *agent_call_callid(const struct agent_call *c)
{
	return c->call_id;
}

const char *agent_call_net(const struct agent_call *c)
{
	return c->net;
}

void *agent_call_user(const struct agent_call *c)
{
	return c->user;
}

void agent_call_set_user(struct agent_call *c, void *user)
{
	c->user = user;
}

unsigned agent_call_count(const struct agent *a)
{
	unsigned n = 0;

	if (a->calls)
		for (unsigned i = 0; i < AGENT_CALL_MAX; i++)
			n += a->calls->c[i].used;
	return n;
}
