/*
 * invite: new calls through the server (RFC 3261 s.16, a stateful proxy
 * for INVITE; s.9.2/16.10 CANCEL; s.16.8 timer C; RFC 6026 2xx handling)
 * and the call's state (docs/calls.md).
 *
 * One call = one INVITE from an authenticated caller to a number. The
 * steps, each answering at most once:
 *   no/failed Proxy-Authorization   -> 407 (authn.c), as for MESSAGE
 *   From is not the caller's number -> 403
 *   Request-URI not a phone number  -> 404 "Not A Phone Number"
 *   a number without an account     -> 404
 *   100 Trying at once, then the C3 gate (callgate.c): below threshold 2
 *     -> 488 + Warning 370 (docs/calls.md)
 *   no device registered            -> 480
 *   fork: one branch per binding of the callee whose flow is not known
 *     dead, over that flow (as deliver.c reaches devices), with our Via
 *     and Record-Route;lr;dlc.
 * Responses: 100 stays here; 101-199 go up (and restart timer C); the
 * first 2xx goes up at once, the other branches get CANCEL; later 2xx go
 * up too (s.16.7 step 5, RFC 6026); finals 3xx-6xx are ACKed hop by hop
 * (the client transaction sends the ACK), a 6xx cancels the others, and
 * once every branch has its final the best (callpick.c) goes up. Timer C
 * (--call-timeout) cancels what is still pending and counts it as 408.
 *
 * The caller's side is a UDP INVITE server transaction in w->tx
 * (retransmitted INVITEs get the last provisional again, the final
 * non-2xx is retransmitted until its ACK, which it absorbs); over a
 * stream nothing is retransmitted. Branches over UDP are INVITE client
 * transactions in w->txc (timer A retransmits, the ACK for a non-2xx is
 * resent on retransmitted finals); the call never keeps a pointer to
 * them (the table frees them on its own timers), it feeds responses
 * through sip_tx_client_receive() by branch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "call.h"
#include "regcache.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../store/store.h"
#include "dataline/log.h"
#include "dataline/sdp.h"

/* ------------------------------------------------------------ table */

struct call_key {
	struct sip_str id;
};

static int call_eq(const struct hmap_node *n, const void *key)
{
	const struct call *c = HMAP_ENTRY(n, struct call, node);
	const struct call_key *k = key;

	return strlen(c->call_id) == k->id.len &&
	       !memcmp(c->call_id, k->id.p, k->id.len);
}

struct call *call_find(struct sipd *w, struct sip_str call_id)
{
	struct call_key k = { call_id };

	if (!w->calls)
		return NULL;
	return HMAP_ENTRY(hmap_find(&w->calls->calls,
				    hmap_hash(call_id.p, call_id.len), call_eq,
				    &k),
			  struct call, node);
}

int call_init(struct sipd *w)
{
	w->calls = calloc(1, sizeof(*w->calls));
	if (!w->calls)
		return -ENOMEM;
	w->calls->sdp = malloc(sizeof(*w->calls->sdp));
	if (!w->calls->sdp || hmap_init(&w->calls->calls, 64)) {
		free(w->calls->sdp);
		free(w->calls);
		w->calls = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void call_free(struct call *c)
{
	struct sipd *w = c->w;

	hmap_remove(&w->calls->calls, &c->node);
	w->calls->n--;
	if (c->st != CALL_ENDED && c->st != CALL_NEW)
		metrics_gauge_add(METRICS_CALLS_ACTIVE, -1);
	call_gate_detach(c);
	call_media_close(c);
	if (c->timer)
		event_free(c->timer);
	free(c->invite);
	free(c->body_out);
	free(c->best_resp);
	free(c);
}

void call_fini(struct sipd *w)
{
	struct hmap_node *n;
	size_t i;

	if (!w->calls)
		return;
	for (i = 0; i < hmap_buckets(&w->calls->calls); i++)
		while ((n = w->calls->calls.buckets[i]))
			call_free(HMAP_ENTRY(n, struct call, node));
	hmap_destroy(&w->calls->calls);
	free(w->calls->sdp);
	free(w->calls);
	w->calls = NULL;
}

/* ------------------------------------------------------------ state */

static const char *const state_names[] = {
	"new", "trying", "ringing", "answered", "ended",
};

void call_set_state(struct call *c, enum call_state st)
{
	/* forward only: new -> trying -> ringing -> answered -> ended */
	if (st <= c->st)
		return;
	log_debug("call %s: %s -> %s", c->call_id, state_names[c->st],
		  state_names[st]);
	switch (st) {
	case CALL_NEW:
		break;
	case CALL_TRYING:
		metrics_inc(METRICS_CALLS_STARTED);
		metrics_gauge_add(METRICS_CALLS_ACTIVE, 1);
		break;
	case CALL_RINGING:
		metrics_inc(METRICS_CALLS_RINGING);
		break;
	case CALL_ANSWERED:
		metrics_inc(METRICS_CALLS_ANSWERED);
		break;
	case CALL_ENDED:
		metrics_inc(METRICS_CALLS_ENDED);
		metrics_gauge_add(METRICS_CALLS_ACTIVE, -1);
		break;
	}
	c->st = st;
}

static void call_timer_arm(struct call *c, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)(ms % 1000) * 1000 };

	if (c->timer)
		evtimer_add(c->timer, &tv);
}

void call_end(struct call *c)
{
	if (c->st == CALL_ENDED)
		return;
	call_gate_detach(c);
	call_media_close(c);
	call_set_state(c, CALL_ENDED);
	/* it stays a while: late responses to ACK, a BYE's 200 to route */
	call_timer_arm(c, CALL_LINGER_MS);
}

/* ------------------------------------------------------------ upstream */

/* BUF (a response for the caller's INVITE) leaves through the server
 * transaction, or over the caller's flow. */
static void call_up_send(struct call *c, int status, const char *buf,
			 size_t len)
{
	struct sipd *w = c->w;

	if (status >= 200 && status < 300 && c->final_sent) {
		/* another 2xx, or a retransmission: straight on */
		call_send(w, &c->up, &c->up_dest, buf, len);
		return;
	}
	if (status >= 200) {
		if (c->final_sent)
			return;
		c->final_sent = 1;
		metrics_sip_request("INVITE", status);
	}
	if (c->stx) {
		sip_tx_server_respond(c->stx, status, buf, len, sipd_now_ms());
		if (status >= 200)
			c->stx = NULL; /* the table's from now on */
		sipd_tx_arm(w);
		return;
	}
	call_send(w, &c->up, &c->up_dest, buf, len);
}

static int call_parse_invite(const struct call *c, struct sip_msg *m)
{
	struct sip_parse_error perr;

	return sip_msg_parse(c->invite, c->invite_len,
			     c->up.tp == SIPD_UDP ? SIP_PARSE_DGRAM
						  : SIP_PARSE_STREAM, m, &perr);
}

void call_reply_up(struct call *c, int status, const char *reason,
		   const char *extra)
{
	struct sipd_peer peer;
	struct sipd_reply r;
	struct sip_msg m;
	size_t len;

	if (call_parse_invite(c, &m))
		return;
	memset(&peer, 0, sizeof(peer));
	peer.tp = c->up.tp;
	peer.addr = c->up.addr;
	peer.conn_id = c->up.conn_id;
	memset(&r, 0, sizeof(r));
	r.w = c->w;
	r.peer = &peer;
	r.req = &m;
	r.proven = 1;
	snprintf(r.to_tag, sizeof(r.to_tag), "%s", c->our_tag);
	sipd_reply_begin(&r, status, reason);
	if (extra)
		sip_buf_adds(&r.b, extra);
	if (sip_msg_end(&r.b, NULL, NULL, 0, &len))
		return;
	call_up_send(c, status, r.b.p, len);
}

/* ------------------------------------------------------------ branches */

/* A request of ours to branch I (ACK or CANCEL, RFC 3261 s.17.1.1.3,
 * s.9.1): the INVITE's Request-URI, top Via, From, Call-ID and CSeq
 * number; TO as given (the response's for ACK, the INVITE's for CANCEL). */
static int branch_req(const struct call *c, int i, const char *method,
		      struct sip_str from, struct sip_str to, char *out,
		      size_t cap, size_t *len)
{
	const struct call_branch *b = &c->br[i];
	struct sip_buf sb;

	sip_buf_init(&sb, out, cap);
	sip_buf_printf(&sb, "%s %s SIP/2.0\r\n", method, b->ruri);
	sip_buf_printf(&sb, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n",
		       b->f.tp == SIPD_UDP ? "UDP" : b->f.tp == SIPD_TCP
		       ? "TCP" : "TLS", b->hostport, b->branch);
	sip_buf_printf(&sb, "From: %.*s\r\nTo: %.*s\r\nCall-ID: %s\r\n",
		       (int)from.len, from.p, (int)to.len, to.p, c->call_id);
	sip_buf_printf(&sb, "CSeq: %u %s\r\nMax-Forwards: 70\r\n", c->cseq,
		       method);
	sip_buf_adds(&sb, "Content-Length: 0\r\n\r\n");
	return sip_buf_finish(&sb, len);
}

static void branch_tx_key(const struct call_branch *b, const char *method,
			  struct sip_tx_key *k)
{
	memset(k, 0, sizeof(*k));
	k->branch.p = b->branch;
	k->branch.len = strlen(b->branch);
	k->method.p = method;
	k->method.len = strlen(method);
}

/* Sends BUF to branch I in a client transaction (UDP) or over its
 * stream. */
static int branch_send(struct call *c, int i, const char *method,
		       const char *buf, size_t len)
{
	struct call_branch *b = &c->br[i];
	unsigned char blob[SIP_TX_PEER_MAX];
	struct sip_tx_key key;
	struct sip_tx *tx;
	size_t blen;
	int err;

	if (b->f.tp != SIPD_UDP)
		return call_send(c->w, &b->f, NULL, buf, len);
	branch_tx_key(b, method, &key);
	sipd_txn_blob(&b->f, blob, &blen);
	err = sip_tx_client_new(c->w->txc, &key, blob, blen, 0, buf, len,
				sipd_now_ms(), &tx);
	if (!err) {
		metrics_inc(METRICS_SIP_TXC_SENT);
		sipd_tx_arm(c->w);
	}
	return err;
}

static void branch_cancel(struct call *c, int i)
{
	struct call_branch *b = &c->br[i];
	struct sip_msg m;
	const struct sip_hdr *fh, *th;
	char buf[2048];
	size_t len;

	if (b->st == BR_DONE || b->cancelled)
		return;
	if (b->st == BR_CALLING) {
		/* s.9.1: not before a provisional response */
		b->cancel_pending = 1;
		return;
	}
	b->cancelled = 1;
	if (call_parse_invite(c, &m))
		return;
	fh = sip_msg_hdr(&m, SIP_HDR_FROM);
	th = sip_msg_hdr(&m, SIP_HDR_TO);
	if (!fh || !th || branch_req(c, i, "CANCEL", fh->value, th->value,
				     buf, sizeof(buf), &len))
		return;
	branch_send(c, i, "CANCEL", buf, len);
}

static void call_cancel_all(struct call *c, int except)
{
	int i;

	for (i = 0; i < c->nbr; i++)
		if (i != except)
			branch_cancel(c, i);
}

/* Every branch has its final and none answered: the best goes up. */
static void call_check_done(struct call *c)
{
	int i;

	if (c->answered >= 0 || c->final_sent)
		return;
	for (i = 0; i < c->nbr; i++)
		if (c->br[i].st != BR_DONE)
			return;
	if (!c->best_resp || call_pick_upstream(c->best) != c->best)
		call_reply_up(c, c->best ? call_pick_upstream(c->best) : 408,
			      NULL, NULL);
	else
		call_up_send(c, c->best, c->best_resp, c->best_len);
	call_end(c);
}

/* A branch's final status without a response (timer C, a send that
 * failed). */
static void branch_fail(struct call *c, int i, int status)
{
	struct call_branch *b = &c->br[i];

	if (b->st == BR_DONE)
		return;
	b->st = BR_DONE;
	b->status = status;
	if (call_pick_better(c->best, status)) {
		c->best = status;
		free(c->best_resp);
		c->best_resp = NULL;
	}
}

/* Response M of branch I as it goes up (malloc'd): without our Via, an
 * answer's SDP (183, 2xx) rewritten to the relay's leg A. */
static int call_up_msg(struct call *c, int i, const struct sip_msg *m,
		       char **out, size_t *len)
{
	char *buf;
	int err = -ENOENT;

	if (m->status < 300 && m->status > 100 &&
	    (c->answered < 0 || c->answered == i))
		err = call_media_msg(c, 1, m, &c->br[i].f.addr, 1, out, len);
	if (err != -ENOENT && err)
		log_warn("call %s: answer SDP not relayed (%d): sent as is",
			 c->call_id, err);
	if (!err)
		return 0;
	buf = malloc(m->len + 1);
	if (!buf || call_strip_via(m, buf, m->len + 1, len)) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}

static void branch_response(struct call *c, int i, const struct sip_msg *m)
{
	struct call_branch *b = &c->br[i];
	int s = m->status;
	char *buf;
	size_t len;

	if (s == 100 || (s < 200 && (c->final_sent || c->answered >= 0))) {
		if (b->st == BR_CALLING)
			b->st = BR_PROCEEDING;
		if (b->cancel_pending)
			branch_cancel(c, i);
		return;
	}
	if (s >= 300 && b->st == BR_DONE)
		return;
	if (call_up_msg(c, i, m, &buf, &len))
		return;
	if (s < 200) {
		if (b->st == BR_CALLING)
			b->st = BR_PROCEEDING;
		if (b->cancel_pending) {
			branch_cancel(c, i);
			free(buf);
			return;
		}
		call_up_send(c, s, buf, len);
		call_set_state(c, CALL_RINGING);
		call_timer_arm(c, (uint64_t)c->w->sh->cfg->call_timeout * 1000);
		free(buf);
		return;
	}
	if (s < 300) {
		b->st = BR_DONE;
		b->status = s;
		if (c->answered < 0 && !c->final_sent) {
			c->answered = i;
			sip_str_copy(m->to.tag, c->to_tag, sizeof(c->to_tag));
			call_set_state(c, CALL_ANSWERED);
			call_cancel_all(c, i);
			evtimer_del(c->timer);
		}
		call_up_send(c, s, buf, len);
		free(buf);
		return;
	}
	b->st = BR_DONE;
	b->status = s;
	if (s >= 600)
		call_cancel_all(c, i);
	if (call_pick_better(c->best, s)) {
		c->best = s;
		free(c->best_resp);
		c->best_resp = buf;
		c->best_len = len;
		buf = NULL;
	}
	free(buf);
	call_check_done(c);
}

int call_response_in(struct sipd *w, const struct sipd_peer *peer,
		     const struct sip_msg *m)
{
	const size_t tl = sizeof(CALL_BRANCH_TAG) - 1;
	struct sip_tx_key key;
	enum sip_tx_verdict v;
	struct call *c;
	char ack[2048];
	size_t acklen = 0;
	int i, home, err, acked = 0;

	if (m->via.branch.len < tl || memcmp(m->via.branch.p, CALL_BRANCH_TAG,
					     tl) != 0)
		return 0;
	home = call_home_of(w, m->call_id);
	if (home != w->id) {
		call_hand_over(w, home, peer, m->buf, m->len, 0);
		return 1;
	}
	c = call_find(w, m->call_id);
	if (!c)
		return 1;
	for (i = 0; i < c->nbr; i++)
		if (sip_str_eq(m->via.branch, c->br[i].branch))
			break;
	if (i == c->nbr)
		return call_route_response(w, c, m);
	if (m->cseq.method_id == SIP_METHOD_CANCEL) {
		if (c->br[i].f.tp == SIPD_UDP) {
			branch_tx_key(&c->br[i], "CANCEL", &key);
			sip_tx_client_receive(w->txc, &key, m->status, NULL, 0,
					      sipd_now_ms(), &v, NULL);
			sipd_tx_arm(w);
		}
		return 1;
	}
	if (m->cseq.method_id != SIP_METHOD_INVITE || m->cseq.num != c->cseq)
		return 1;
	if (m->status >= 300) {
		const struct sip_hdr *fh = sip_msg_hdr(m, SIP_HDR_FROM);
		const struct sip_hdr *th = sip_msg_hdr(m, SIP_HDR_TO);

		if (!fh || !th || branch_req(c, i, "ACK", fh->value,
					     th->value, ack, sizeof(ack),
					     &acklen))
			acklen = 0;
	}
	if (c->br[i].f.tp == SIPD_UDP) {
		branch_tx_key(&c->br[i], "INVITE", &key);
		err = sip_tx_client_receive(w->txc, &key, m->status,
					    acklen ? ack : NULL, acklen,
					    sipd_now_ms(), &v, NULL);
		sipd_tx_arm(w);
		if (err == 0 && v == SIP_TX_ABSORBED)
			return 1;
		acked = err == 0;
	}
	if (acklen && !acked)
		call_send(w, &c->br[i].f, NULL, ack, acklen);
	branch_response(c, i, m);
	return 1;
}

/* ------------------------------------------------------------ forking */

struct call_collect {
	struct sipd_shared *sh;
	struct call_target *t;
	int n, max;
};

static int call_collect_cb(const struct store_binding *b, void *arg)
{
	struct call_collect *cc = arg;
	struct call_target *t;

	if (cc->n >= cc->max)
		return 0;
	t = &cc->t[cc->n];
	if (sipd_flow_usable(cc->sh, b, &t->f))
		return 0;
	if (snprintf(t->ruri, sizeof(t->ruri), "%s", b->contact) >=
	    (int)sizeof(t->ruri))
		return 0;
	snprintf(t->device, sizeof(t->device), "%s", b->username);
	cc->n++;
	return 0;
}

int call_targets(struct sipd_shared *sh, const char *number,
		 struct call_target *out, int max)
{
	struct call_collect cc = { sh, out, 0, max };

	regcache_lock(sh->rc);
	regcache_list(sh->rc, number, (int64_t)time(NULL), call_collect_cb,
		      &cc);
	regcache_unlock(sh->rc);
	return cc.n;
}

void call_fork(struct call *c)
{
	struct call_target t[CALL_MAX_BRANCHES];
	struct sipd *w = c->w;
	struct call_fwd_params p;
	struct sip_msg m;
	struct sip_buf b;
	size_t len;
	int i, n;

	n = call_targets(w->sh, c->callee, t, CALL_MAX_BRANCHES);
	if (n <= 0) {
		call_reply_up(c, 480, "No Device Registered", NULL);
		call_end(c);
		return;
	}
	if (call_parse_invite(c, &m)) {
		call_reply_up(c, 500, NULL, NULL);
		call_end(c);
		return;
	}
	for (i = 0; i < n; i++) {
		struct call_branch *br = &c->br[c->nbr];
		char rnd[25];

		memset(br, 0, sizeof(*br));
		br->f = t[i].f;
		snprintf(br->ruri, sizeof(br->ruri), "%s", t[i].ruri);
		sip_rand_hex(rnd, sizeof(rnd), 12);
		snprintf(br->branch, sizeof(br->branch), CALL_BRANCH_TAG "%s",
			 rnd);
		c->nbr++;
		if (call_local_hostport(w, &br->f, br->hostport,
					sizeof(br->hostport))) {
			branch_fail(c, c->nbr - 1, 503);
			continue;
		}
		memset(&p, 0, sizeof(p));
		p.ruri = br->ruri;
		p.hostport = br->hostport;
		p.tp = br->f.tp;
		p.branch = br->branch;
		p.record_route = 1;
		p.drop_auth = 1;
		p.body = c->body_out;
		p.body_len = c->body_out_len;
		if (call_build_fwd(w, &m, &p, &b, &len) ||
		    branch_send(c, c->nbr - 1, "INVITE", b.p, len))
			branch_fail(c, c->nbr - 1, 503);
		/* the parse's slices point into c->invite: still valid */
	}
	call_timer_arm(c, (uint64_t)w->sh->cfg->call_timeout * 1000);
	call_check_done(c);
}

/* Timer C (s.16.8), or the end of the linger. */
static void call_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	int i;

	(void)fd;
	(void)what;
	if (c->st == CALL_ENDED) {
		call_free(c);
		return;
	}
	if (c->answered >= 0)
		return;
	log_info("call %s: timer C after %d s", c->call_id,
		 c->w->sh->cfg->call_timeout);
	call_cancel_all(c, -1);
	for (i = 0; i < c->nbr; i++)
		branch_fail(c, i, 408);
	if (!c->nbr) { /* still at the gate */
		call_reply_up(c, 408, NULL, NULL);
		call_end(c);
		return;
	}
	call_check_done(c);
}

/* ------------------------------------------------------------ requests */

void call_invite_handle(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct sipd *w = r->w;
	struct store_device dev;
	struct call *c;
	char callee[E164_MAX];
	int home;

	if (sip_str_present(m->to.tag)) {
		call_route_handle(r); /* a re-INVITE */
		return;
	}
	home = call_home_of(w, m->call_id);
	if (!call_handed_authed()) {
		if (sipd_authenticate(r, 1, &dev))
			return;
		if (!sipd_user_is_device(m->from.uri.user, &dev)) {
			sipd_reply_simple(r, 403, "From Is Not Your Number");
			return;
		}
		if (home != w->id) {
			call_hand_over(w, home, r->peer, m->buf, m->len, 1);
			return;
		}
	}
	if (!sip_str_present(m->from.tag) || m->call_id.len >= sizeof(c->call_id) ||
	    m->from.tag.len >= sizeof(c->from_tag)) {
		call_reply_req(r, 400, "Missing Or Long From Tag Or Call-ID");
		return;
	}
	c = call_find(w, m->call_id);
	if (c) {
		/* a retransmission the UDP transaction did not absorb (a
		 * stream), or a second INVITE with the Call-ID in use */
		if (c->cseq != m->cseq.num || !sip_str_eq(m->from.tag,
							  c->from_tag))
			call_reply_req(r, 482, "Call-ID In Use");
		return;
	}
	if (msg_recipient(w->sh, m, callee)) {
		call_reply_req(r, 404, "Not A Phone Number");
		return;
	}
	if (!numbers_has(w->sh->numbers, callee)) {
		call_reply_req(r, 404, NULL);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->invite = malloc(m->len + 1);
	if (!c || !c->invite ||
	    !(c->timer = evtimer_new(w->base, call_timer_cb, c))) {
		if (c)
			free(c->invite);
		free(c);
		call_reply_req(r, 500, "Out Of Memory");
		return;
	}
	c->w = w;
	memcpy(c->invite, m->buf, m->len);
	c->invite[m->len] = '\0';
	c->invite_len = m->len;
	sip_str_copy(m->call_id, c->call_id, sizeof(c->call_id));
	sip_str_copy(m->from.tag, c->from_tag, sizeof(c->from_tag));
	snprintf(c->callee, sizeof(c->callee), "%s", callee);
	sip_rand_hex(c->our_tag, sizeof(c->our_tag), 8);
	c->cseq = m->cseq.num;
	c->answered = -1;
	c->t0_ms = sipd_now_ms();
	call_peer_flow(w, r->peer, &c->up);
	sipd_reply_dest(r, &c->up_dest);
	c->stx = sipd_txn_invite(r, &c->up_dest);
	hmap_insert(&w->calls->calls, &c->node,
		    hmap_hash(m->call_id.p, m->call_id.len));
	w->calls->n++;
	call_set_state(c, CALL_TRYING);
	call_reply_up(c, 100, NULL, NULL);
	log_debug("call %s: to %s", c->call_id, c->callee);
	if (call_media_offer(c, m)) /* malformed SDP, relay full: answered */
		return;
	call_timer_arm(c, (uint64_t)w->sh->cfg->call_timeout * 1000);
	if (call_gate_check(c))
		return; /* refused, or asking the device: resumes later */
	call_fork(c);
}

void call_cancel_handle(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct sipd *w = r->w;
	struct call *c;
	int home = call_home_of(w, m->call_id);

	if (home != w->id) {
		call_hand_over(w, home, r->peer, m->buf, m->len, 0);
		return;
	}
	c = call_find(w, m->call_id);
	if (!c || c->cseq != m->cseq.num || !sip_str_eq(m->from.tag,
							 c->from_tag)) {
		call_reply_req(r, 481, NULL);
		return;
	}
	call_reply_req(r, 200, NULL);
	if (c->answered >= 0 || c->final_sent)
		return;
	call_cancel_all(c, -1);
	call_reply_up(c, 487, NULL, NULL);
	call_end(c);
}
