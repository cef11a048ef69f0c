/*
 * dispatch: what the server does with one SIP message (RFC 3261 s.8.2 UAS
 * behaviour, s.18.2 server transport rules, the application-level answers
 * of RFC 4475 s.3.3): parse, then look the method up in the handler table.
 *
 * Order of checks for a request, each answering at most once:
 *   parse error -> 400/505/413 when a response can be built, else drop;
 *   UDP: the transaction layer absorbs retransmissions (txn.c);
 *   ACK: to a call's route (callroute.c), never answered;
 *   CSeq method != request method -> 400; Request-URI not sip/sips -> 416
 *   (unless the handler takes tel: URIs);
 *   Max-Forwards 0 on a request we would have to forward -> 483;
 *   Require with an option we do not support -> 420 + Unsupported;
 *   then the method's handler; a known method without one -> 405 + Allow,
 *   an unknown one -> 501 + Allow.
 * Responses go to the worker's client transactions (sipd_response_in).
 *
 * Handlers are listed in one table (as libre's sip_listen() registers
 * them): the method, the function, and what the checks above may skip.
 * The Allow header is built from it, so a new method is one line here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sipd.h"
#include "call.h"
#include "../core/metrics.h"
#include "dataline/log.h"

#define SIPD_SUPPORTED "path, outbound"

enum {
	H_NO_MAXFWD = 1,   /* not forwarded: Max-Forwards 0 is fine */
	H_NO_REQUIRE = 2,  /* Require is not checked (CANCEL, s.9.2) */
	H_TEL_URI = 4,     /* a tel: Request-URI is the handler's to judge */
};

struct sipd_handler {
	enum sip_method method;
	void (*handle)(struct sipd_reply *r);
	unsigned flags;
};

static void options_handle(struct sipd_reply *r);

/* Calls (call.h): INVITE, CANCEL and what travels in their dialogs. */
static const struct sipd_handler handlers[] = {
	{ SIP_METHOD_REGISTER, reg_handle, H_NO_MAXFWD },
	{ SIP_METHOD_OPTIONS, options_handle, H_NO_MAXFWD },
	{ SIP_METHOD_INVITE, call_invite_handle, H_TEL_URI },
	{ SIP_METHOD_ACK, call_route_handle, H_NO_REQUIRE },
	{ SIP_METHOD_CANCEL, call_cancel_handle, H_NO_REQUIRE },
	{ SIP_METHOD_BYE, call_route_handle, 0 },
	{ SIP_METHOD_UPDATE, call_route_handle, 0 },
	{ SIP_METHOD_INFO, call_route_handle, 0 },
	{ SIP_METHOD_PRACK, call_route_handle, 0 },
	{ SIP_METHOD_MESSAGE, msg_handle, H_TEL_URI },
	{ SIP_METHOD_PUBLISH, pres_publish_handle, 0 },
	{ SIP_METHOD_SUBSCRIBE, pres_subscribe_handle, 0 },
};
#define NHANDLERS (sizeof(handlers) / sizeof(handlers[0]))

static const struct sipd_handler *handler_find(enum sip_method m)
{
	size_t i;

	for (i = 0; i < NHANDLERS; i++)
		if (handlers[i].method == m)
			return &handlers[i];
	return NULL;
}

/* "REGISTER, OPTIONS, ..." from the table (built once; the table is
 * constant, so every thread builds the same string). */
static const char *allow_list(void)
{
	static char allow[256];
	static int built;
	size_t i, n = 0;

	if (__atomic_load_n(&built, __ATOMIC_ACQUIRE))
		return allow;
	for (i = 0; i < NHANDLERS && n < sizeof(allow); i++)
		n += (size_t)snprintf(allow + n, sizeof(allow) - n, "%s%s",
				      i ? ", " : "",
				      sip_method_name(handlers[i].method));
	__atomic_store_n(&built, 1, __ATOMIC_RELEASE);
	return allow;
}

void sipd_dispatch_init(void)
{
	allow_list();
}

static void options_handle(struct sipd_reply *r)
{
	sipd_reply_begin(r, 200, NULL);
	sip_buf_hdr(&r->b, "Allow", "%s", allow_list());
	sip_buf_hdr(&r->b, "Accept", "application/sdp");
	sip_buf_hdr(&r->b, "Accept-Encoding", "identity");
	sip_buf_hdr(&r->b, "Accept-Language", "en");
	sip_buf_hdr(&r->b, "Supported", SIPD_SUPPORTED);
	sipd_reply_send(r);
}

/* 420 when Require names an option we lack (RFC 3261 8.2.2.3). */
static int check_require(struct sipd_reply *r)
{
	struct sip_list_iter it;
	struct sip_str v;
	char bad[512];
	size_t n = 0;
	int rc;

	if (!sip_msg_hdr(r->req, SIP_HDR_REQUIRE))
		return 0;
	sip_list_init(&it, r->req, SIP_HDR_REQUIRE);
	while ((rc = sip_list_next(&it, &v)) == 0) {
		if (sip_str_caseeq(v, "path"))
			continue;
		if (n + v.len + 3 < sizeof(bad)) {
			n += (size_t)snprintf(bad + n, sizeof(bad) - n, "%s%.*s",
					      n ? ", " : "", (int)v.len, v.p);
		}
	}
	if (rc == -EBADMSG) {
		sipd_reply_simple(r, 400, "Bad Require");
		return -1;
	}
	if (!n)
		return 0;
	sipd_reply_begin(r, 420, NULL);
	sip_buf_hdr(&r->b, "Unsupported", "%s", bad);
	sipd_reply_send(r);
	return -1;
}

static void handle_request(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	const struct sipd_handler *h;

	if (sipd_txn_absorb(r))
		return;
	h = handler_find(m->method_id);
	if (m->method_id == SIP_METHOD_ACK) {
		/* never answered; an ACK for a 2xx is routed (callroute.c),
		 * one for our own non-2xx was absorbed above */
		h->handle(r);
		return;
	}
	if (!sip_str_eq(m->cseq.method, "") &&
	    (m->cseq.method.len != m->method.len ||
	     memcmp(m->cseq.method.p, m->method.p, m->method.len) != 0)) {
		sipd_reply_simple(r, 400, "CSeq Method Mismatch");
		return;
	}
	if (!m->ruri.is_sip && !(h && (h->flags & H_TEL_URI))) {
		sipd_reply_simple(r, 416, NULL);
		return;
	}
	if (m->max_forwards == 0 && !(h && (h->flags & H_NO_MAXFWD))) {
		sipd_reply_simple(r, 483, NULL);
		return;
	}
	if (!(h && (h->flags & H_NO_REQUIRE)) && check_require(r))
		return;
	if (h && h->handle) {
		h->handle(r);
		return;
	}
	sipd_reply_begin(r, m->method_id == SIP_METHOD_OTHER ? 501 : 405,
			 NULL);
	sip_buf_hdr(&r->b, "Allow", "%s", allow_list());
	sipd_reply_send(r);
}

void sipd_input(struct sipd *w, const struct sipd_peer *peer,
		const char *buf, size_t len)
{
	struct sip_msg msg;
	struct sip_parse_error perr;
	struct sipd_reply r;
	struct sipd_flow f;
	size_t i;
	int err;

	/* whatever arrives on a flow shows it is alive (flow.c); a message
	 * a call's home worker was handed keeps its receiving worker as the
	 * flow's owner (call_peer_flow), or flow_seen would move the owner
	 * here and later sends over that stream would look for it here */
	call_peer_flow(w, peer, &f);
	flow_seen(w->sh->flows, &f, sipd_now_ms());
	/* a datagram of only CR/LF is a keep-alive; nothing to answer */
	for (i = 0; i < len && (buf[i] == '\r' || buf[i] == '\n'); i++)
		;
	if (i == len)
		return;

	memset(&r, 0, sizeof(r));
	r.w = w;
	r.peer = peer;
	r.req = &msg;
	r.req_len = len;
	r.proven = peer->tp != SIPD_UDP;
	r.t0_us = sipd_now_us();
	memset(&perr, 0, sizeof(perr));
	err = sip_msg_parse(buf, len, peer->tp == SIPD_UDP ? SIP_PARSE_DGRAM
							   : SIP_PARSE_STREAM,
			    &msg, &perr);
	if (err) {
		metrics_inc(METRICS_SIP_PARSE_ERRORS);
		log_debug("sip: parse error %d (%s)", err,
			  perr.reason ? perr.reason : "?");
		if (perr.is_request == 1 && perr.can_reply && perr.status)
			sipd_reply_simple(&r, perr.status, perr.reason);
		return;
	}
	if (!msg.is_request) {
		sipd_response_in(w, peer, &msg);
		return;
	}
	handle_request(&r);
}

/*
 * A message over --max-msg-size: answer 513 Message Too Large when its head
 * (up to the blank line, within what we hold) names the Via/From/To/
 * Call-ID/CSeq needed for a response (RFC 3261 s.21.5.14), else drop.
 */
void sipd_too_large(struct sipd *w, const struct sipd_peer *peer,
		    const char *buf, size_t len)
{
	struct sip_msg msg;
	struct sip_parse_error perr;
	struct sipd_reply r;
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	int err;

	metrics_inc(METRICS_SIP_OVERSIZE);
	if (!end)
		return;
	memset(&perr, 0, sizeof(perr));
	/* the head alone, without the body it announces */
	err = sip_msg_parse(buf, (size_t)(end - buf) + 4, SIP_PARSE_DGRAM, &msg,
			    &perr);
	if (err && !(perr.is_request == 1 && perr.can_reply))
		return;
	if (!err && !msg.is_request)
		return;
	memset(&r, 0, sizeof(r));
	r.w = w;
	r.peer = peer;
	r.req = &msg;
	r.req_len = len;
	r.proven = peer->tp != SIPD_UDP;
	sipd_reply_simple(&r, 513, NULL);
}
