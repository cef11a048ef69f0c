/*
 * cpim: message/cpim parser and builder (RFC 3862 s.2-4; the IMDN headers
 * of RFC 5438 s.5 and s.6). One pass over the lines: CPIM headers with
 * namespace prefixes resolved as they come (an NS header applies to the
 * headers after it), the empty line, the MIME headers of the content,
 * the empty line, the content. Nothing is copied or allocated.
 */
#include <errno.h>
#include <string.h>

#include "dataline/cpim.h"

static const struct sip_str ns_base = SIP_STR_LIT(CPIM_NS_BASE);

/* RFC 3862 s.3.6 NAMECHAR: token characters without '.' (the prefix
 * separator) */
static int is_namechar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-^_`|~", c) != NULL;
}

static const char *span_name(const char *p, const char *end, int dot_ok)
{
	while (p < end && (is_namechar((unsigned char)*p) || (dot_ok && *p == '.')))
		p++;
	return p;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static struct sip_str mkstr(const char *a, const char *b)
{
	return (struct sip_str){ a, (size_t)(b - a) };
}

/*
 * The line starting at p: *le = its end (the CR), returns the start of the
 * next line. NULL when there is no CRLF before end (truncated), or the
 * line holds a bare CR, a bare LF or another control character (HTAB is
 * allowed).
 */
static const char *next_line(const char *p, const char *end, const char **le)
{
	for (const char *q = p; q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (c == '\r') {
			if (q + 1 >= end || q[1] != '\n')
				return NULL;
			*le = q;
			return q + 2;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return NULL;
	}
	return NULL;
}

/* Name [ "." Name ] ":" *( ";" Parameter ) SP value; for MIME headers
 * (mime != 0) the name may hold dots and there are no parameters. */
static int header_line(const char *p, const char *le, int mime,
		       struct cpim_hdr *h)
{
	const char *q = span_name(p, le, mime), *v;

	memset(h, 0, sizeof(*h));
	if (q == p)
		return -EBADMSG;
	h->name = mkstr(p, q);
	if (!mime && q < le && *q == '.') {
		const char *n = q + 1, *e = span_name(n, le, 0);
		if (e == n)
			return -EBADMSG;
		h->prefix = h->name;
		h->name = mkstr(n, e);
		q = e;
	}
	if (q >= le || *q != ':')
		return -EBADMSG;
	q++;
	if (!mime && q < le && *q == ';') {
		const char *s = ++q;
		while (q < le && !is_ws(*q))
			q++;
		if (q == s || q[-1] == ';')
			return -EBADMSG;
		h->params = mkstr(s, q);
	}
	while (q < le && is_ws(*q))
		q++;
	v = le;
	while (v > q && is_ws(v[-1]))
		v--;
	h->value = mkstr(q, v);
	return 0;
}

/* NS value: [ prefix ] "<" URI ">" */
static int ns_decode(struct sip_str v, struct sip_str *prefix,
		     struct sip_str *uri)
{
	const char *p = v.p, *end = v.p + v.len, *q = span_name(p, end, 0);

	*prefix = q == p ? SIP_STR_NULL : mkstr(p, q);
	while (q < end && is_ws(*q))
		q++;
	if (q >= end || *q != '<' || end[-1] != '>' || end - q < 3)
		return -EBADMSG;
	*uri = mkstr(q + 1, end - 1);
	for (const char *c = uri->p; c < end - 1; c++)
		if (is_ws(*c) || *c == '<' || *c == '>')
			return -EBADMSG;
	return 0;
}

static int name_is(const struct cpim_hdr *h, const char *ns, const char *name)
{
	return sip_str_caseeq(h->ns, ns) && sip_str_caseeq(h->name, name);
}

/* Sets *slot to the header's value; -EBADMSG if it was set already. */
static int once(struct sip_str *slot, const struct cpim_hdr *h)
{
	if (slot->p)
		return -EBADMSG;
	*slot = h->value;
	return 0;
}

/* Resolves h's namespace and picks out the headers we decode. */
static int cpim_header(struct cpim_msg *m, struct cpim_hdr *h,
		       struct sip_str ns_prefix[], struct sip_str ns_uri[],
		       unsigned *nns, struct sip_str *def_ns)
{
	if (h->prefix.p) {
		unsigned i = *nns;
		/* the latest declaration of the prefix wins */
		while (i > 0 && !(ns_prefix[i - 1].len == h->prefix.len &&
				  memcmp(ns_prefix[i - 1].p, h->prefix.p,
					 h->prefix.len) == 0))
			i--;
		if (i == 0)
			return -EBADMSG;	/* undeclared prefix */
		h->ns = ns_uri[i - 1];
	} else {
		h->ns = *def_ns;
	}
	if (!h->prefix.p && sip_str_caseeq(h->name, "NS")) {
		struct sip_str pfx, uri;
		if (ns_decode(h->value, &pfx, &uri))
			return -EBADMSG;
		h->ns = ns_base;
		if (!pfx.p) {
			*def_ns = uri;
			return 0;
		}
		if (*nns >= CPIM_MAX_NS)
			return -E2BIG;
		ns_prefix[*nns] = pfx;
		ns_uri[*nns] = uri;
		(*nns)++;
		return 0;
	}
	if (name_is(h, CPIM_NS_BASE, "From"))
		return once(&m->from, h);
	if (name_is(h, CPIM_NS_BASE, "DateTime"))
		return once(&m->datetime, h);
	if (name_is(h, CPIM_NS_BASE, "To") && !m->to.p)
		m->to = h->value;
	else if (name_is(h, CPIM_NS_BASE, "Subject") && !m->subject.p)
		m->subject = h->value;
	else if (name_is(h, CPIM_NS_IMDN, "Message-ID"))
		return once(&m->imdn_message_id, h);
	else if (name_is(h, CPIM_NS_IMDN, "Disposition-Notification"))
		return once(&m->imdn_disposition, h);
	return 0;
}

static int mime_header(struct cpim_msg *m, const struct cpim_hdr *h)
{
	if (sip_str_caseeq(h->name, "Content-Type")) {
		if (!h->value.len)
			return -EBADMSG;
		return once(&m->content_type, h);
	}
	if (sip_str_caseeq(h->name, "Content-Length")) {
		uint64_t v;
		if (m->has_content_length ||
		    sip_uint_decode(h->value, CPIM_MAX_CONTENT, &v))
			return -EBADMSG;
		m->has_content_length = 1;
		m->content_length = (uint32_t)v;
	}
	return 0;
}

int cpim_parse(const char *buf, size_t len, struct cpim_msg *out)
{
	struct sip_str ns_prefix[CPIM_MAX_NS], ns_uri[CPIM_MAX_NS];
	struct sip_str def_ns = ns_base;
	const char *p, *end, *le, *next;
	struct cpim_msg tmp, *m = &tmp;
	unsigned nns = 0;
	int rc;

	if (!buf || !out)
		return -EINVAL;
	/* *out is written only on success: parse into a local copy (about
	 * 3 KB of stack) */
	memset(m, 0, sizeof(*m));
	p = buf;
	end = buf + len;

	/*
	 * Two header blocks, each ended by an empty line: the CPIM message
	 * headers (no folding), then the MIME headers of the content (RFC
	 * 2045: a folded line continues the value, which then holds the
	 * CRLF and the whitespace).
	 */
	for (int mime = 0; mime < 2; mime++) {
		for (;;) {
			struct cpim_hdr *h;
			next = next_line(p, end, &le);
			if (!next)
				return -EBADMSG;
			if (le == p) {
				p = next;	/* the empty line */
				break;
			}
			if (is_ws(*p)) {
				const char *v = le;
				if (!mime || m->nmime == 0)
					return -EBADMSG;
				const char *b = p;
				h = &m->mime[m->nmime - 1];
				while (v > p && is_ws(v[-1]))
					v--;
				/* an empty value continued on this line starts
				 * after its indentation */
				while (!h->value.len && b < v && is_ws(*b))
					b++;
				if (v > b)
					h->value = mkstr(h->value.len ? h->value.p : b, v);
			} else if (!mime) {
				if (m->nhdrs >= CPIM_MAX_HEADERS)
					return -E2BIG;
				h = &m->hdrs[m->nhdrs++];
				rc = header_line(p, le, 0, h);
				if (!rc)
					rc = cpim_header(m, h, ns_prefix, ns_uri,
							 &nns, &def_ns);
				if (rc)
					return rc;
			} else {
				if (m->nmime >= CPIM_MAX_MIME_HEADERS)
					return -E2BIG;
				rc = header_line(p, le, 1, &m->mime[m->nmime++]);
				if (rc)
					return rc;
			}
			p = next;
		}
	}
	for (unsigned i = 0; i < m->nmime; i++) {
		rc = mime_header(m, &m->mime[i]);
		if (rc)
			return rc;
	}
	if (!m->content_type.p)
		return -EBADMSG;

	/* the content */
	if (m->has_content_length) {
		if (m->content_length > (size_t)(end - p))
			return -EBADMSG;
		m->body = mkstr(p, p + m->content_length);
	} else {
		m->body = mkstr(p, end);
	}
	*out = tmp;
	return 0;
}

const struct cpim_hdr *cpim_hdr_find(const struct cpim_msg *m,
				     const struct cpim_hdr *after,
				     const char *ns_uri, const char *name)
{
	unsigned i = 0;

	if (!m || !name)
		return NULL;
	if (after) {
		if (after < m->hdrs || after >= m->hdrs + m->nhdrs)
			return NULL;
		i = (unsigned)(after - m->hdrs) + 1;
	}
	for (; i < m->nhdrs; i++)
		if (name_is(&m->hdrs[i], ns_uri ? ns_uri : CPIM_NS_BASE, name))
			return &m->hdrs[i];
	return NULL;
}

/* A header value we send: no control characters but HTAB (so no CR/LF),
 * the same rule the parser applies. */
static int value_ok(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

int cpim_build(const struct cpim_params *p, char *out, size_t cap,
	       size_t *outlen)
{
	const char *vals[6];
	struct sip_buf b;

	if (!p || !out || !outlen || !p->from || !p->to || !p->content_type ||
	    (p->disposition && !p->message_id) || (p->body_len && !p->body))
		return -EINVAL;
	vals[0] = p->from, vals[1] = p->to, vals[2] = p->datetime;
	vals[3] = p->message_id, vals[4] = p->disposition;
	vals[5] = p->content_type;
	for (int i = 0; i < 6; i++)
		if (vals[i] && !value_ok(vals[i]))
			return -EINVAL;
	if (!*p->content_type || (p->message_id && !*p->message_id))
		return -EINVAL;

	sip_buf_init(&b, out, cap);
	sip_buf_hdr(&b, "From", "%s", p->from);
	sip_buf_hdr(&b, "To", "%s", p->to);
	if (p->datetime)
		sip_buf_hdr(&b, "DateTime", "%s", p->datetime);
	if (p->message_id) {
		sip_buf_adds(&b, "NS: imdn <" CPIM_NS_IMDN ">\r\n");
		sip_buf_hdr(&b, "imdn.Message-ID", "%s", p->message_id);
		if (p->disposition)
			sip_buf_hdr(&b, "imdn.Disposition-Notification", "%s",
				    p->disposition);
	}
	sip_buf_adds(&b, "\r\n");
	sip_buf_hdr(&b, "Content-Type", "%s", p->content_type);
	sip_buf_hdr(&b, "Content-Length", "%zu", p->body_len);
	sip_buf_adds(&b, "\r\n");
	sip_buf_add(&b, p->body, p->body_len);
	return sip_buf_finish(&b, outlen);
}
