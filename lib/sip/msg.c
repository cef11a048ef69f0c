/*
 * msg: the zero-copy SIP message parser (RFC 3261 s.7, s.18.3, s.25),
 * stream framing with CRLF keep-alives (RFC 3261 s.7.5, RFC 5626 s.3.5.1),
 * header lookup and comma-list iteration. RFC 4475 is the test suite.
 *
 * Design: one pass over the head with memchr('\n') indexes every header
 * line into msg->hdrs (name + raw value slices, folded continuation lines
 * merged into the value), chained per known header id. Then only the
 * headers every element needs are decoded and validated (Via, From, To,
 * Call-ID, CSeq, Max-Forwards, Expires, Content-Length, Contact, Date);
 * everything else stays a raw slice until someone asks. Nothing is copied
 * and nothing is allocated.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "sip_int.h"

#define FAIL(code, st, why) do { rc = (code); e.status = (st); e.reason = (why); goto fail; } while (0)

static int is_version20(const char *p, const char *end)
{
	return end - p == 7 && sip_lc((unsigned char)p[0]) == 's' &&
	       sip_lc((unsigned char)p[1]) == 'i' &&
	       sip_lc((unsigned char)p[2]) == 'p' && memcmp(p + 3, "/2.0", 4) == 0;
}

static int is_sip_slash(const char *p, const char *end)
{
	return end - p >= 4 && sip_lc((unsigned char)p[0]) == 's' &&
	       sip_lc((unsigned char)p[1]) == 'i' &&
	       sip_lc((unsigned char)p[2]) == 'p' && p[3] == '/';
}

/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF */
static int status_line(struct sip_msg *m, const char *p, const char *le,
		       struct sip_parse_error *e)
{
	const char *sp = memchr(p, ' ', (size_t)(le - p));
	unsigned code = 0;

	e->is_request = 0;
	if (!sp) {
		e->reason = "Bad status line";
		return -EBADMSG;
	}
	if (!is_version20(p, sp)) {
		e->reason = "Unsupported SIP version";
		return -EPROTONOSUPPORT;
	}
	p = sp + 1;
	for (int i = 0; i < 3; i++, p++) {
		if (p >= le || (unsigned)(*p - '0') > 9) {
			e->reason = "Bad status code";
			return -EBADMSG;
		}
		code = code * 10 + (unsigned)(*p - '0');
	}
	/* 4475 3.1.2.19 bigcode: a 4th digit is not a longer code */
	if (p >= le || *p != ' ' || code < 100 || code > 699) {
		e->reason = "Bad status code";
		return -EBADMSG;
	}
	m->status = (int)code;
	m->reason = sip_mkstr(p + 1, le);
	return 0;
}

/* Request-Line = Method SP Request-URI SP SIP-Version CRLF: exactly one
 * SP between the three, none around (4475 3.1.2.8-10). */
static int request_line(struct sip_msg *m, const char *p, const char *le,
			struct sip_parse_error *e)
{
	const char *q = sip_span(p, le, SIP_C_TOKEN), *sp2;

	if (q == p || q == le || *q != ' ') {
		e->reason = "Bad request line";
		return -EBADMSG;
	}
	e->is_request = 1;
	m->is_request = 1;
	m->method = sip_mkstr(p, q);
	m->method_id = sip_method_lookup(m->method);
	sp2 = memrchr(q, ' ', (size_t)(le - q));
	if (sp2 == q) {
		e->reason = "Bad request line";
		return -EBADMSG;
	}
	m->ruri_str = sip_mkstr(q + 1, sp2);
	if (!is_version20(sp2 + 1, le)) {
		if (is_sip_slash(sp2 + 1, le)) {
			e->status = 505;
			e->reason = "Version Not Supported";
			return -EPROTONOSUPPORT;
		}
		e->reason = "Bad request line";
		return -EBADMSG;
	}
	if (memchr(m->ruri_str.p, ' ', m->ruri_str.len) ||
	    memchr(m->ruri_str.p, '\t', m->ruri_str.len) ||
	    sip_uri_decode(m->ruri_str, &m->ruri) ||
	    (m->ruri.is_sip && m->ruri.headers.p)) {
		/* 3.1.2.7 ltgtruri, 3.1.2.8 lwsruri, 3.1.2.11 escruri */
		e->reason = "Bad Request-URI";
		return -EBADMSG;
	}
	return 0;
}

/* Call-ID = word [ "@" word ] */
static int callid_ok(struct sip_str s)
{
	const char *p = s.p, *end = s.p + s.len, *q;

	q = sip_span(p, end, SIP_C_WORD);
	if (q == p)
		return 0;
	if (q < end && *q == '@') {
		p = q + 1;
		q = sip_span(p, end, SIP_C_WORD);
		if (q == p)
			return 0;
	}
	return q == end;
}

static int single(const struct sip_msg *m, enum sip_hdr_id id)
{
	return m->hdrs[m->first[id] - 1].next == 0;
}

int sip_msg_parse(const char *buf, size_t len, unsigned flags,
		  struct sip_msg *m, struct sip_parse_error *err)
{
	struct sip_parse_error e = { -1, 400, NULL, 0 };
	const char *p = buf, *end = buf + len, *nl, *le, *q;
	uint16_t last[SIP_HDR__COUNT];
	int rc, pending = 0, too_many = 0;
	int pending_status = 400;
	const char *pending_reason = NULL;
	struct sip_str v;
	uint64_t num;

	if (!buf || !m)
		return -EINVAL;
	memset(m, 0, offsetof(struct sip_msg, hdrs));
	memset(&m->call_id, 0, sizeof(*m) - offsetof(struct sip_msg, call_id));
	m->max_forwards = -1;
	m->expires = -1;

	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	m->buf = p;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		FAIL(-EBADMSG, 400, "Truncated start line");
	le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
	if (is_sip_slash(p, le))
		rc = status_line(m, p, le, &e);
	else
		rc = request_line(m, p, le, &e);
	if (rc) {
		if (e.is_request != 1)
			goto fail;	/* not a request: nothing to answer */
		/* keep indexing so that the caller can still answer */
		pending = rc;
		pending_status = e.status;
		pending_reason = e.reason;
	}
	p = nl + 1;

	memset(last, 0, sizeof(last));
	for (;;) {
		struct sip_hdr *h;
		unsigned id;

		if (p == end && !(flags & SIP_PARSE_STREAM) && m->nhdrs)
			break;	/* a datagram may end right after its last
				 * header line: no empty line, no body */
		nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		if (!nl)
			FAIL(-EBADMSG, 400, "Truncated message head");
		le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
		if (le == p) {
			p = nl + 1;
			break;
		}
		if (*p == ' ' || *p == '\t') {
			/* folded line: extends the previous value */
			if (!m->nhdrs)
				FAIL(-EBADMSG, 400, "Bad header line");
			h = &m->hdrs[m->nhdrs - 1];
			h->value.len = (size_t)(le - h->value.p);
			p = nl + 1;
			continue;
		}
		if (m->nhdrs == SIP_MAX_HEADERS) {
			/* stop indexing, but say whether the lines indexed so
			 * far allow the 413 to be answered */
			too_many = 1;
			break;
		}
		q = sip_span(p, le, SIP_C_TOKEN);
		h = &m->hdrs[m->nhdrs];
		h->name = sip_mkstr(p, q);
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		if (h->name.len == 0 || q == le || *q != ':') {
			/* remember the error, skip the line, and keep indexing
			 * so that a request can still get its 400 */
			if (!pending) {
				pending = -EBADMSG;
				pending_status = 400;
				pending_reason = h->name.len ? "Bad header line"
							     : "Bad header name";
			}
			p = nl + 1;
			continue;
		}
		h->value = sip_mkstr(q + 1, le);
		id = sip_hdr_lookup(h->name.p, h->name.len);
		h->id = (uint16_t)id;
		h->next = 0;
		m->nhdrs++;
		if (id != SIP_HDR_OTHER) {
			if (last[id])
				m->hdrs[last[id] - 1].next = m->nhdrs;
			else
				m->first[id] = m->nhdrs;
			last[id] = m->nhdrs;
		}
		p = nl + 1;
	}
	for (unsigned i = 0; i < m->nhdrs; i++)
		m->hdrs[i].value = sip_trim(m->hdrs[i].value);

	e.can_reply = e.is_request == 1 && m->first[SIP_HDR_VIA] &&
		      m->first[SIP_HDR_FROM] && m->first[SIP_HDR_TO] &&
		      m->first[SIP_HDR_CALL_ID] && m->first[SIP_HDR_CSEQ];
	if (too_many)
		FAIL(-E2BIG, 413, "Too many header lines");
	if (pending) {
		rc = pending;
		e.status = pending_status;
		e.reason = pending_reason;
		goto fail;
	}

	/* mandatory, single-valued (4475 3.3.1 insuf, 3.3.9 multi01) */
	if (!m->first[SIP_HDR_VIA])
		FAIL(-EBADMSG, 400, "Missing Via");
	if (!m->first[SIP_HDR_FROM] || !single(m, SIP_HDR_FROM))
		FAIL(-EBADMSG, 400, m->first[SIP_HDR_FROM] ? "Multiple From" : "Missing From");
	if (!m->first[SIP_HDR_TO] || !single(m, SIP_HDR_TO))
		FAIL(-EBADMSG, 400, m->first[SIP_HDR_TO] ? "Multiple To" : "Missing To");
	if (!m->first[SIP_HDR_CALL_ID] || !single(m, SIP_HDR_CALL_ID))
		FAIL(-EBADMSG, 400, m->first[SIP_HDR_CALL_ID] ? "Multiple Call-ID" : "Missing Call-ID");
	if (!m->first[SIP_HDR_CSEQ] || !single(m, SIP_HDR_CSEQ))
		FAIL(-EBADMSG, 400, m->first[SIP_HDR_CSEQ] ? "Multiple CSeq" : "Missing CSeq");

	m->call_id = m->hdrs[m->first[SIP_HDR_CALL_ID] - 1].value;
	if (!callid_ok(m->call_id))
		FAIL(-EBADMSG, 400, "Bad Call-ID");
	if (sip_cseq_decode(m->hdrs[m->first[SIP_HDR_CSEQ] - 1].value, &m->cseq) ||
	    m->cseq.num > SIP_CSEQ_MAX)
		FAIL(-EBADMSG, 400, "Bad CSeq");
	/* 4475 3.1.2.17/18 mismatch01/02 */
	if (m->is_request && (m->cseq.method.len != m->method.len ||
			      memcmp(m->cseq.method.p, m->method.p, m->method.len)))
		FAIL(-EBADMSG, 400, "CSeq method does not match");
	if (sip_nameaddr_decode(m->hdrs[m->first[SIP_HDR_FROM] - 1].value, &m->from))
		FAIL(-EBADMSG, 400, "Bad From");
	if (sip_nameaddr_decode(m->hdrs[m->first[SIP_HDR_TO] - 1].value, &m->to))
		FAIL(-EBADMSG, 400, "Bad To");

	{
		struct sip_list_iter it;
		struct sip_via via;
		for (const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_VIA); h;
		     h = sip_msg_hdr_next(m, h))
			if (h->value.len == 0)
				FAIL(-EBADMSG, 400, "Bad Via");
		sip_list_init(&it, m, SIP_HDR_VIA);
		while ((rc = sip_list_next(&it, &v)) == 0) {
			if (sip_via_decode(v, &via))
				FAIL(-EBADMSG, 400, "Bad Via");
			if (m->nvia++ == 0)
				m->via = via;
		}
		if (rc != -ENOENT || m->nvia == 0)
			FAIL(-EBADMSG, 400, "Bad Via");
	}
	if (m->first[SIP_HDR_MAX_FORWARDS]) {
		if (!single(m, SIP_HDR_MAX_FORWARDS) ||
		    sip_uint_decode(m->hdrs[m->first[SIP_HDR_MAX_FORWARDS] - 1].value,
				    SIP_MAX_FORWARDS_MAX, &num))
			FAIL(-EBADMSG, 400, "Bad Max-Forwards");
		m->max_forwards = (int)num;
	}
	if (m->first[SIP_HDR_EXPIRES]) {
		if (!single(m, SIP_HDR_EXPIRES) ||
		    sip_uint_decode(m->hdrs[m->first[SIP_HDR_EXPIRES] - 1].value,
				    UINT32_MAX, &num))
			FAIL(-EBADMSG, 400, "Bad Expires");
		m->expires = (int64_t)num;
	}
	if (m->first[SIP_HDR_CONTENT_LENGTH]) {
		/* 4475 3.1.2.3 ncl, 3.3.10 mcl01 */
		if (!single(m, SIP_HDR_CONTENT_LENGTH) ||
		    sip_uint_decode(m->hdrs[m->first[SIP_HDR_CONTENT_LENGTH] - 1].value,
				    UINT32_MAX, &num))
			FAIL(-EBADMSG, 400, "Bad Content-Length");
		m->has_content_length = 1;
		m->content_length = (uint32_t)num;
	}
	if (m->first[SIP_HDR_DATE]) {
		int64_t t;
		if (!single(m, SIP_HDR_DATE) ||
		    sip_date_decode(m->hdrs[m->first[SIP_HDR_DATE] - 1].value, &t))
			FAIL(-EBADMSG, 400, "Bad Date");
	}
	if (m->first[SIP_HDR_CONTACT]) {
		struct sip_list_iter it;
		struct sip_contact c;
		unsigned n = 0, star = 0;
		for (const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTACT); h;
		     h = sip_msg_hdr_next(m, h))
			if (h->value.len == 0)
				FAIL(-EBADMSG, 400, "Bad Contact");
		sip_list_init(&it, m, SIP_HDR_CONTACT);
		while ((rc = sip_list_next(&it, &v)) == 0) {
			if (sip_contact_decode(v, &c))
				FAIL(-EBADMSG, 400, "Bad Contact");
			n++;
			star |= (unsigned)c.star;
		}
		if (rc != -ENOENT || (star && n > 1))
			FAIL(-EBADMSG, 400, "Bad Contact");
	}

	/* body (RFC 3261 s.18.3) */
	if (m->has_content_length) {
		if ((size_t)(end - p) < m->content_length)
			FAIL(-EBADMSG, 400, "Body shorter than Content-Length");
		m->body = sip_mkstr(p, p + m->content_length);
	} else if (flags & SIP_PARSE_STREAM) {
		FAIL(-EBADMSG, 400, "Missing Content-Length");
	} else {
		m->body = sip_mkstr(p, end);
	}
	m->len = (size_t)(m->body.p + m->body.len - m->buf);
	return 0;
fail:
	if (err) {
		if (e.is_request != 1)
			e.can_reply = 0;
		*err = e;
	}
	return rc;
}

/* ------------------------------------------------------------ framing */

/* Finds the Content-Length value in a head (long or compact name). */
static int frame_clen(const char *p, const char *end, uint64_t *out)
{
	const char *nl, *le, *q;
	int found = 0;

	nl = memchr(p, '\n', (size_t)(end - p));	/* skip start line */
	for (p = nl ? nl + 1 : end; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end - 1;
		le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
		q = sip_span(p, le, SIP_C_TOKEN);
		if (sip_hdr_lookup(p, (size_t)(q - p)) != SIP_HDR_CONTENT_LENGTH)
			continue;
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		if (q == le || *q != ':')
			return -EBADMSG;
		/* the value may be folded onto following lines */
		while (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
			const char *n2 = memchr(nl + 1, '\n', (size_t)(end - nl - 1));
			if (!n2)
				break;
			nl = n2;
			le = nl[-1] == '\r' ? nl - 1 : nl;
		}
		if (found || sip_uint_decode(sip_mkstr(q + 1, le), UINT32_MAX, out))
			return -EBADMSG;
		found = 1;
	}
	return found ? 0 : -EBADMSG;
}

int sip_frame(const char *buf, size_t len, size_t max, struct sip_frame *out)
{
	const char *end, *hend = NULL, *p;
	uint64_t cl;
	size_t head;
	int rc;

	if (!buf || len == 0)
		return -EAGAIN;
	if (buf[0] == '\r') {
		if (len < 2 || (len == 3 && buf[1] == '\n' && buf[2] == '\r'))
			return -EAGAIN;
		if (buf[1] != '\n')
			return -EBADMSG;
		if (len >= 4 && buf[2] == '\r' && buf[3] == '\n') {
			*out = (struct sip_frame){ SIP_FRAME_PING, 4 };
			return 0;
		}
		*out = (struct sip_frame){ SIP_FRAME_CRLF, 2 };
		return 0;
	}
	end = buf + (len < max ? len : max);
	/* end of head: an empty line ("\r\n\r\n" or bare "\n\n") */
	for (p = buf; p < end; p++) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			break;
		if (p + 1 < end && p[1] == '\n') {
			hend = p + 2;
			break;
		}
		if (p + 2 < end && p[1] == '\r' && p[2] == '\n') {
			hend = p + 3;
			break;
		}
	}
	if (!hend)
		return len >= max ? -EMSGSIZE : -EAGAIN;
	head = (size_t)(hend - buf);
	rc = frame_clen(buf, hend, &cl);
	if (rc)
		return rc;
	if (head + cl > max)
		return -EMSGSIZE;
	if (len < head + cl)
		return -EAGAIN;
	*out = (struct sip_frame){ SIP_FRAME_MSG, head + (size_t)cl };
	return 0;
}

/* ------------------------------------------------------------ lookup */

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *m, enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR__COUNT || id == SIP_HDR_OTHER || !m->first[id])
		return NULL;
	return &m->hdrs[m->first[id] - 1];
}

const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *m,
				       const struct sip_hdr *h)
{
	return h && h->next ? &m->hdrs[h->next - 1] : NULL;
}

const struct sip_hdr *sip_msg_hdr_byname(const struct sip_msg *m,
					 const char *name)
{
	size_t n = strlen(name);
	enum sip_hdr_id id = sip_hdr_lookup(name, n);

	if (id != SIP_HDR_OTHER)
		return sip_msg_hdr(m, id);
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].id == SIP_HDR_OTHER && sip_str_caseeq(m->hdrs[i].name, name))
			return &m->hdrs[i];
	return NULL;
}

unsigned sip_msg_hdr_count(const struct sip_msg *m, enum sip_hdr_id id)
{
	unsigned n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(m, id); h; h = sip_msg_hdr_next(m, h))
		n++;
	return n;
}

/* ------------------------------------------------------------ lists */

static const uint8_t list_special[256] = {
	['"'] = 1, ['<'] = 1, ['>'] = 1, [','] = 1,
};

int sip_list_split(struct sip_str *rest, struct sip_str *out)
{
	const char *p, *end, *s, *e;
	int angle = 0;

	if (!rest->p)
		return -ENOENT;
	end = rest->p + rest->len;
	p = sip_skip_lws(rest->p, end);
	if (p == end)
		return -ENOENT;
	s = p;
	for (; p < end; p++) {
		/* fast skip over the characters that cannot matter */
		while (p < end && !list_special[(unsigned char)*p])
			p++;
		if (p == end)
			break;
		if (*p == '"') {
			p = sip_skip_quoted(p, end);
			if (!p)
				return -EBADMSG;
			p--;
		} else if (*p == '<') {
			angle = 1;
		} else if (*p == '>') {
			angle = 0;
		} else if (*p == ',' && !angle) {
			break;
		}
	}
	if (angle)
		return -EBADMSG;
	e = sip_rskip_lws(s, p);
	if (e == s)
		return -EBADMSG;	/* empty element: ",," */
	if (p < end) {
		p++;
		if (sip_skip_lws(p, end) == end)
			return -EBADMSG;	/* trailing ',' */
	}
	*out = sip_mkstr(s, e);
	*rest = sip_mkstr(p, end);
	return 0;
}

void sip_list_init(struct sip_list_iter *it, const struct sip_msg *m,
		   enum sip_hdr_id id)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id);

	it->m = m;
	it->hdr = h ? (unsigned)(h - m->hdrs) + 1 : 0;
	it->pos = h ? h->value.p : NULL;
}

int sip_list_next(struct sip_list_iter *it, struct sip_str *out)
{
	while (it->hdr) {
		const struct sip_hdr *h = &it->m->hdrs[it->hdr - 1];
		const char *end = h->value.p + h->value.len;
		struct sip_str rest = sip_mkstr(it->pos, end);
		int rc = sip_list_split(&rest, out);

		if (rc == 0) {
			it->pos = rest.p;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
		it->hdr = h->next;
		it->pos = h->next ? it->m->hdrs[h->next - 1].value.p : NULL;
	}
	return -ENOENT;
}
