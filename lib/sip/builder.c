/*
 * builder: SIP messages into a caller's buffer (RFC 3261 s.7, s.8.1.1 for
 * requests, s.8.2.6 / s.18.2.1 for responses, RFC 3581 rport). Bounded:
 * the first write that does not fit sets a sticky -ENOSPC, and the
 * message is then never emitted half-written.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "sip_int.h"

void sip_buf_init(struct sip_buf *b, char *mem, size_t size)
{
	b->p = mem;
	b->size = size;
	b->len = 0;
	b->err = (mem && size) ? 0 : -ENOSPC;
}

void sip_buf_add(struct sip_buf *b, const void *data, size_t len)
{
	if (b->err)
		return;
	if (len > b->size - b->len) {
		b->err = -ENOSPC;
		return;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

void sip_buf_adds(struct sip_buf *b, const char *s)
{
	sip_buf_add(b, s, strlen(s));
}

void sip_buf_addstr(struct sip_buf *b, struct sip_str s)
{
	sip_buf_add(b, s.p, s.len);
}

static void buf_vprintf(struct sip_buf *b, const char *fmt, va_list ap)
{
	char tmp[512];
	size_t room;
	va_list ap2;
	int n;

	if (b->err)
		return;
	/* vsnprintf needs room for a NUL the message does not: format into
	 * a scratch buffer first so that a message may fill b exactly */
	room = b->size - b->len;
	va_copy(ap2, ap);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap2);
	va_end(ap2);
	if (n < 0 || (size_t)n > room) {
		b->err = -ENOSPC;
		return;
	}
	if ((size_t)n < sizeof(tmp))
		memcpy(b->p + b->len, tmp, (size_t)n);
	else if ((size_t)n < room)
		vsnprintf(b->p + b->len, room, fmt, ap);
	else {
		b->err = -ENOSPC;	/* > 511 bytes and no room for the NUL */
		return;
	}
	b->len += (size_t)n;
}

void sip_buf_printf(struct sip_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void sip_buf_hdr(struct sip_buf *b, const char *name, const char *fmt, ...)
{
	va_list ap;

	sip_buf_adds(b, name);
	sip_buf_add(b, ": ", 2);
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	sip_buf_add(b, "\r\n", 2);
}

int sip_buf_finish(struct sip_buf *b, size_t *len)
{
	if (b->err)
		return b->err;
	if (b->len < b->size)
		b->p[b->len] = '\0';
	if (len)
		*len = b->len;
	return 0;
}

const char *sip_reason_phrase(int status)
{
	switch (status) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 413: return "Request Entity Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Unsupported URI Scheme";
	case 420: return "Bad Extension";
	case 423: return "Interval Too Brief";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 483: return "Too Many Hops";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Server Time-out";
	case 505: return "Version Not Supported";
	case 513: return "Message Too Large";
	case 603: return "Decline";
	}
	if (status >= 100 && status < 200) return "Provisional";
	if (status >= 200 && status < 300) return "OK";
	if (status >= 300 && status < 400) return "Redirection";
	if (status >= 400 && status < 500) return "Client Error";
	if (status >= 500 && status < 600) return "Server Error";
	return "Global Failure";
}

/*
 * The top Via value with received / rport filled in (RFC 3581 s.4):
 * received when the sent-by host differs from the source or when the
 * client asked for rport; a bare ";rport" becomes ";rport=PORT".
 */
static void add_fixed_via(struct sip_buf *b, struct sip_str raw,
			  const struct sip_via_fix *fix)
{
	struct sip_via v;
	struct sip_str rest, n, val;
	const char *w = raw.p;

	if (sip_via_decode(raw, &v)) {
		sip_buf_addstr(b, raw);
		return;
	}
	if (v.rport_present && v.rport == 0 && fix->rport) {
		rest = v.params;
		while (sip_param_next(&rest, &n, &val) == 0) {
			if (n.len == 5 && sip_str_caseeq(n, "rport") && val.len == 0) {
				sip_buf_add(b, w, (size_t)(n.p + n.len - w));
				sip_buf_printf(b, "=%u", fix->rport);
				w = n.p + n.len;
				break;
			}
		}
	}
	sip_buf_add(b, w, (size_t)(raw.p + raw.len - w));
	if (fix->received && !v.received.p &&
	    (v.rport_present || !sip_str_eq(v.host, fix->received)))
		sip_buf_printf(b, ";received=%s", fix->received);
}

void sip_resp_begin(struct sip_buf *b, const struct sip_msg *req, int status,
		    const char *reason, const char *to_tag,
		    const struct sip_via_fix *fix)
{
	const struct sip_hdr *h;
	int first = 1;

	sip_buf_printf(b, "SIP/2.0 %d %s\r\n", status,
		       reason ? reason : sip_reason_phrase(status));
	for (h = sip_msg_hdr(req, SIP_HDR_VIA); h; h = sip_msg_hdr_next(req, h)) {
		sip_buf_add(b, "Via: ", 5);
		if (first && fix) {
			/* rewrite only the first value of the first line */
			struct sip_str rest = h->value, top;
			if (sip_list_split(&rest, &top) == 0) {
				add_fixed_via(b, top, fix);
				if (rest.len) {
					sip_buf_add(b, ",", 1);
					sip_buf_addstr(b, rest);
				}
			} else {
				sip_buf_addstr(b, h->value);
			}
		} else {
			sip_buf_addstr(b, h->value);
		}
		sip_buf_add(b, "\r\n", 2);
		first = 0;
	}
	if ((h = sip_msg_hdr(req, SIP_HDR_FROM))) {
		sip_buf_add(b, "From: ", 6);
		sip_buf_addstr(b, h->value);
		sip_buf_add(b, "\r\n", 2);
	}
	if ((h = sip_msg_hdr(req, SIP_HDR_TO))) {
		struct sip_nameaddr to;
		sip_buf_add(b, "To: ", 4);
		sip_buf_addstr(b, h->value);
		if (to_tag && status > 100 && sip_nameaddr_decode(h->value, &to) == 0 &&
		    !to.tag.p)
			sip_buf_printf(b, ";tag=%s", to_tag);
		sip_buf_add(b, "\r\n", 2);
	}
	if ((h = sip_msg_hdr(req, SIP_HDR_CALL_ID))) {
		sip_buf_add(b, "Call-ID: ", 9);
		sip_buf_addstr(b, h->value);
		sip_buf_add(b, "\r\n", 2);
	}
	if ((h = sip_msg_hdr(req, SIP_HDR_CSEQ))) {
		struct sip_cseq cs;
		/* normalised: folded or oddly spaced CSeq values come back
		 * as "N METHOD" */
		if (sip_cseq_decode(h->value, &cs) == 0)
			sip_buf_printf(b, "CSeq: %u %.*s\r\n", cs.num,
				       (int)cs.method.len, cs.method.p);
		else {
			sip_buf_add(b, "CSeq: ", 6);
			sip_buf_addstr(b, h->value);
			sip_buf_add(b, "\r\n", 2);
		}
	}
}

static void add_quoted(struct sip_buf *b, const char *s)
{
	sip_buf_add(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sip_buf_add(b, "\\", 1);
		sip_buf_add(b, s, 1);
	}
	sip_buf_add(b, "\"", 1);
}

void sip_req_begin(struct sip_buf *b, const struct sip_req_params *p)
{
	sip_buf_printf(b, "%s %s SIP/2.0\r\n", p->method, p->ruri);
	sip_buf_printf(b, "Via: SIP/2.0/%s %s", p->transport ? p->transport : "UDP",
		       p->via_host);
	if (p->via_port)
		sip_buf_printf(b, ":%u", p->via_port);
	if (p->rport)
		sip_buf_adds(b, ";rport");
	sip_buf_printf(b, ";branch=%s\r\n", p->branch);
	sip_buf_printf(b, "Max-Forwards: %d\r\n",
		       p->max_forwards > 0 ? p->max_forwards : 70);
	sip_buf_adds(b, "From: ");
	if (p->from_display) {
		add_quoted(b, p->from_display);
		sip_buf_add(b, " ", 1);
	}
	sip_buf_printf(b, "<%s>", p->from);
	if (p->from_tag)
		sip_buf_printf(b, ";tag=%s", p->from_tag);
	sip_buf_printf(b, "\r\nTo: <%s>", p->to);
	if (p->to_tag)
		sip_buf_printf(b, ";tag=%s", p->to_tag);
	sip_buf_printf(b, "\r\nCall-ID: %s\r\nCSeq: %u %s\r\n", p->call_id,
		       p->cseq, p->method);
}

int sip_msg_end(struct sip_buf *b, const char *ctype, const void *body,
		size_t body_len, size_t *out_len)
{
	if (ctype && body_len)
		sip_buf_hdr(b, "Content-Type", "%s", ctype);
	sip_buf_printf(b, "Content-Length: %zu\r\n\r\n", body_len);
	if (body_len)
		sip_buf_add(b, body, body_len);
	return sip_buf_finish(b, out_len);
}

int sip_rand_hex(char *out, size_t cap, size_t nbytes)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char r[64];

	if (nbytes > sizeof(r) || cap < 2 * nbytes + 1)
		return -ENOSPC;
	if (RAND_bytes(r, (int)nbytes) != 1)
		return -EIO;
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hx[r[i] >> 4];
		out[2 * i + 1] = hx[r[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

int sip_branch_new(char *out, size_t cap)
{
	if (cap < 7 + 2 * 10 + 1)
		return -ENOSPC;
	memcpy(out, "z9hG4bK", 7);
	return sip_rand_hex(out + 7, cap - 7, 10);
}
