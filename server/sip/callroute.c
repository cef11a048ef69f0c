/*
 * callroute: how the messages of a call move (docs/calls.md): every one
 * is handled on the call's home worker (call.h), leaves over the right
 * flow, and in-dialog requests are routed by their Route header (RFC 3261
 * s.16.4 loose routing: our own top Route entry, marked ;dlc, is removed;
 * s.16.6 request forwarding: our Via on top, Max-Forwards less one).
 *
 * In-dialog requests (ACK for a 2xx, BYE, re-INVITE, UPDATE, INFO, ...)
 * are forwarded without a client transaction of ours: the UAs at both
 * ends retransmit end to end over UDP, and our Via branch is derived
 * from the incoming one (s.16.11), so a retransmission leaves with the
 * same branch. Their responses come back through us and go the other
 * way by the same rule. Which way: a request whose From tag is the
 * caller's goes to the answering device's flow, any other (the callee's)
 * to the caller's flow. Only the two parties may use a call's route: a
 * request from any other address gets 403.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "dataline/log.h"

/* ------------------------------------------------------------ homes */

int call_home_of(const struct sipd *w, struct sip_str call_id)
{
	int n = w->sh->nworkers;

	if (n < 2)
		return w->id;
	return (int)(hmap_hash(call_id.p, call_id.len) % (uint64_t)n);
}

static __thread int handed_authed;
static __thread int handed_from = -1;

int call_handed_authed(void)
{
	return handed_authed;
}

/* The flow a request came over, also when it was handed over: a stream
 * stays its receiving worker's. */
void call_peer_flow(const struct sipd *w, const struct sipd_peer *peer,
		    struct sipd_flow *f)
{
	sipd_flow_of(w, peer, f);
	if (handed_from >= 0)
		f->worker = handed_from;
}

struct call_fwd {
	struct sipd *w;
	struct sipd_peer peer;
	int from, authed;
	size_t len;
	char buf[];
};

static void call_fwd_cb(void *arg)
{
	struct call_fwd *fw = arg;

	if (!sipd_closing(fw->w)) {
		handed_authed = fw->authed;
		handed_from = fw->from;
		sipd_input(fw->w, &fw->peer, fw->buf, fw->len);
		handed_authed = 0;
		handed_from = -1;
	}
	free(fw);
}

void call_hand_over(struct sipd *w, int to, const struct sipd_peer *peer,
		    const char *buf, size_t len, int authed)
{
	struct sipd *dst = w->sh->workers[to];
	struct call_fwd *fw = malloc(sizeof(*fw) + len + 1);

	if (!fw)
		return;
	fw->w = dst;
	fw->peer = *peer;
	fw->peer.conn = NULL; /* another thread's connection: not ours */
	fw->from = handed_from >= 0 ? handed_from : w->id;
	fw->authed = authed;
	fw->len = len;
	memcpy(fw->buf, buf, len);
	fw->buf[len] = '\0';
	if (mailbox_post(dst->mb, call_fwd_cb, fw)) {
		metrics_inc(METRICS_MAILBOX_FULL);
		free(fw);
	}
}

/* ------------------------------------------------------------ sending */

struct call_out {
	struct sipd *w;
	uint64_t conn_id;
	size_t len;
	char buf[];
};

static void call_out_cb(void *arg)
{
	struct call_out *o = arg;
	struct stream_conn *c;

	if (!sipd_closing(o->w) && (c = stream_find(o->w, o->conn_id)))
		stream_send(c, o->buf, o->len);
	free(o);
}

int call_send(struct sipd *w, const struct sipd_flow *f,
	      const union sipd_addr *dest, const char *buf, size_t len)
{
	const union sipd_addr *d = dest ? dest : &f->addr;
	struct stream_conn *c;
	struct call_out *o;

	if (f->tp == SIPD_UDP) {
		if (w->udp_fd < 0)
			return -ENOTCONN;
		return udp_send(w, d, d->sa.sa_family == AF_INET6 ?
			       sizeof(d->sin6) : sizeof(d->sin), buf, len);
	}
	if (f->worker == w->id || f->worker < 0 ||
	    f->worker >= w->sh->nworkers) {
		c = stream_find(w, f->conn_id);
		return c ? stream_send(c, buf, len) : -ENOTCONN;
	}
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	o->w = w->sh->workers[f->worker];
	o->conn_id = f->conn_id;
	o->len = len;
	memcpy(o->buf, buf, len);
	if (mailbox_post(o->w->mb, call_out_cb, o)) {
		metrics_inc(METRICS_MAILBOX_FULL);
		free(o);
		return -EAGAIN;
	}
	return 0;
}

int call_local_hostport(struct sipd *w, const struct sipd_flow *f,
			char *out, size_t cap)
{
	union sipd_addr la;
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;
	int n, err;

	err = sipd_local_addr(w, f, &la);
	if (err)
		return err;
	sipd_addr_str(&la, ip, sizeof(ip), &port);
	n = snprintf(out, cap, la.sa.sa_family == AF_INET6 ? "[%s]:%u"
							   : "%s:%u", ip, port);
	return n > 0 && (size_t)n < cap ? 0 : -ENOSPC;
}

static const char *tp_name(enum sipd_tp tp)
{
	return tp == SIPD_UDP ? "UDP" : tp == SIPD_TCP ? "TCP" : "TLS";
}

/* 1 if Route value V is our own entry (;dlc in its URI). */
static int route_is_ours(struct sip_str v)
{
	struct sip_nameaddr na;
	struct sip_str val;

	return sip_nameaddr_decode(v, &na) == 0 &&
	       sip_param_get(na.uri.params, CALL_RR_PARAM, &val) == 0;
}

/* The first Route value, if it is ours: its slice, else absent. */
static struct sip_str our_top_route(const struct sip_msg *m)
{
	struct sip_list_iter it;
	struct sip_str v;

	sip_list_init(&it, m, SIP_HDR_ROUTE);
	if (sip_list_next(&it, &v) == 0 && route_is_ours(v))
		return v;
	return SIP_STR_NULL;
}

int call_build_fwd(struct sipd *w, const struct sip_msg *m,
		   const struct call_fwd_params *p, struct sip_buf *b,
		   size_t *len)
{
	struct sip_str top = our_top_route(m);
	const struct sip_hdr *ct = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
	char ctype[256];
	unsigned i;
	int mf = m->max_forwards < 0 ? 70 : m->max_forwards - 1;

	sip_buf_init(b, w->txbuf, w->txcap);
	sip_buf_printf(b, "%.*s %s SIP/2.0\r\n", (int)m->method.len,
		       m->method.p, p->ruri);
	sip_buf_printf(b, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n",
		       tp_name(p->tp), p->hostport, p->branch);
	for (i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		switch (h->id) {
		case SIP_HDR_CONTENT_LENGTH:
		case SIP_HDR_CONTENT_TYPE:
		case SIP_HDR_MAX_FORWARDS:
			continue;
		case SIP_HDR_PROXY_AUTHORIZATION:
			if (p->drop_auth)
				continue; /* ours, consumed (s.22.3) */
			break;
		case SIP_HDR_ROUTE:
			if (top.p && top.p >= h->value.p &&
			    top.p < h->value.p + h->value.len) {
				/* our entry leaves; the rest of its line stays */
				const char *rest = top.p + top.len;
				const char *end = h->value.p + h->value.len;
				while (rest < end && (*rest == ',' ||
						      *rest == ' ' ||
						      *rest == '\t'))
					rest++;
				if (rest < end)
					sip_buf_printf(b, "Route: %.*s\r\n",
						       (int)(end - rest), rest);
				continue;
			}
			break;
		default:
			break;
		}
		sip_buf_printf(b, "%.*s: %.*s\r\n", (int)h->name.len,
			       h->name.p, (int)h->value.len, h->value.p);
	}
	sip_buf_printf(b, "Max-Forwards: %d\r\n", mf);
	if (p->record_route)
		sip_buf_printf(b, "Record-Route: <sip:%s;transport=%s;lr;"
			       CALL_RR_PARAM ">\r\n", p->hostport,
			       p->tp == SIPD_UDP ? "udp" : p->tp == SIPD_TCP
			       ? "tcp" : "tls");
	if (p->extra)
		sip_buf_adds(b, p->extra);
	ctype[0] = '\0';
	if (ct)
		sip_str_copy(ct->value, ctype, sizeof(ctype));
	return sip_msg_end(b, ctype[0] ? ctype : NULL,
			   p->body ? p->body : m->body.p,
			   p->body ? p->body_len : m->body.len, len);
}

int call_strip_via(const struct sip_msg *m, char *out, size_t cap,
		   size_t *len)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_VIA);
	struct sip_str rest, top;
	const char *ls, *le, *end = m->buf + m->len;
	struct sip_buf b;

	if (!h)
		return -EBADMSG;
	ls = h->name.p;
	le = memchr(h->value.p + h->value.len, '\n',
		    (size_t)(end - (h->value.p + h->value.len)));
	if (!le)
		return -EBADMSG;
	le++;
	rest = h->value;
	if (sip_list_split(&rest, &top))
		return -EBADMSG;
	sip_buf_init(&b, out, cap);
	sip_buf_add(&b, m->buf, (size_t)(ls - m->buf));
	if (rest.len) /* more values on the line: keep them */
		sip_buf_printf(&b, "Via: %.*s\r\n", (int)rest.len, rest.p);
	sip_buf_add(&b, le, (size_t)(end - le));
	return sip_buf_finish(&b, len);
}

/* ------------------------------------------------------------ in dialog */

static int same_ip(const union sipd_addr *a, const union sipd_addr *b)
{
	const uint8_t *x, *y;
	size_t n = sipd_addr_ip(a, &x);

	return n && n == sipd_addr_ip(b, &y) && !memcmp(x, y, n);
}

/* A response to a request R got on the home without a transaction:
 * straight back to its source. */
int call_reply_req(struct sipd_reply *r, int status, const char *reason)
{
	union sipd_addr dest;
	struct sipd_flow f;
	size_t len;
	int err;

	sipd_reply_begin(r, status, reason);
	err = sip_msg_end(&r->b, NULL, NULL, 0, &len);
	if (err)
		return err;
	/* the amplification budget of sipd_reply_send() holds here too */
	if (r->peer->tp == SIPD_UDP && !r->proven &&
	    len > SIPD_AMP_FACTOR * r->req_len) {
		metrics_inc(METRICS_SIP_AMP_DROPS);
		return 0;
	}
	if (status >= 200)
		metrics_sip_request(sip_method_name(r->req->method_id) ?
				    sip_method_name(r->req->method_id) :
				    "other", status);
	sipd_reply_dest(r, &dest);
	call_peer_flow(r->w, r->peer, &f);
	return call_send(r->w, &f, &dest, r->b.p, len);
}

void call_route_handle(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct sipd *w = r->w;
	struct call_fwd_params p;
	const struct sipd_flow *to;
	char ruri[512], hp[80], branch[48];
	struct call *c;
	struct sip_buf b;
	char *sdp = NULL;
	size_t len;
	int from_caller, i, err, ok = 0;

	if (call_home_of(w, m->call_id) != w->id) {
		call_hand_over(w, call_home_of(w, m->call_id), r->peer, m->buf,
			       m->len, 0);
		return;
	}
	c = call_find(w, m->call_id);
	if (!c || (c->answered < 0 && m->method_id != SIP_METHOD_ACK)) {
		if (m->method_id != SIP_METHOD_ACK)
			call_reply_req(r, 481, NULL);
		return;
	}
	/* only the two parties may route through the call */
	if (same_ip(&r->peer->addr, &c->up.addr))
		ok = 1;
	for (i = 0; i < c->nbr && !ok; i++)
		ok = same_ip(&r->peer->addr, &c->br[i].f.addr);
	if (!ok) {
		if (m->method_id != SIP_METHOD_ACK)
			call_reply_req(r, 403, "Not A Party To This Call");
		return;
	}
	from_caller = sip_str_eq(m->from.tag, c->from_tag);
	if (c->answered < 0)
		return; /* an ACK before any 2xx: nothing to route */
	to = from_caller ? &c->br[c->answered].f : &c->up;
	if (sip_str_copy(m->ruri_str, ruri, sizeof(ruri)) ||
	    call_local_hostport(w, to, hp, sizeof(hp)))
		return;
	/* s.16.11: a branch derived from the incoming one */
	snprintf(branch, sizeof(branch), CALL_BRANCH_TAG "r%016llx",
		 (unsigned long long)hmap_hash(m->via.branch.p,
					       m->via.branch.len));
	memset(&p, 0, sizeof(p));
	p.ruri = ruri;
	p.hostport = hp;
	p.tp = to->tp;
	p.branch = branch;
	/* a new offer or answer (re-INVITE, UPDATE, ACK): the relay
	 * follows the side that wrote it */
	if (m->body.len)
		call_media_sdp(c, from_caller ? 0 : 1,
			       m->method_id == SIP_METHOD_ACK, m->body.p,
			       m->body.len, &r->peer->addr, &sdp, &p.body_len);
	p.body = sdp;
	err = call_build_fwd(w, m, &p, &b, &len);
	free(sdp);
	if (err) {
		if (m->method_id != SIP_METHOD_ACK)
			call_reply_req(r, 500, "Request Too Large");
		return;
	}
	call_send(w, to, NULL, b.p, len);
	if (m->method_id == SIP_METHOD_BYE)
		call_end(c);
}

int call_route_response(struct sipd *w, struct call *c, const struct sip_msg *m)
{
	const struct sipd_flow *to;
	char *buf;
	size_t len;
	int from_caller = sip_str_eq(m->from.tag, c->from_tag);

	if (c->answered < 0 && !from_caller)
		return 1;
	to = from_caller ? &c->up : &c->br[c->answered].f;
	/* the answer to an in-dialog offer comes from the other side */
	if (call_media_msg(c, from_caller ? 1 : 0, m, from_caller ?
			   &c->br[c->answered].f.addr : &c->up.addr, 1, &buf,
			   &len)) {
		buf = malloc(m->len + 1);
		if (!buf || call_strip_via(m, buf, m->len + 1, &len)) {
			free(buf);
			return 1;
		}
	}
	call_send(w, to, from_caller ? &c->up_dest : NULL, buf, len);
	free(buf);
	return 1;
}
