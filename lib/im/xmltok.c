/*
 * xmltok: allocation-free XML pull tokenizer (XML 1.0 s.2-4 without DTDs,
 * Namespaces in XML 1.0) shared by the IMDN (RFC 5438) and PIDF (RFC
 * 3863) parsers, plus the escaping their builders use.
 *
 * Design: xmltok_next() reads exactly one token. A start tag is checked
 * completely when it is read (names, quoting, references, duplicate
 * attributes, its xmlns declarations pushed on a bounded stack, its
 * prefix resolved); attributes stay a raw slice that xmltok_attr_next()
 * re-walks on demand, so nothing needs storing per attribute. The open
 * element names are kept (bounded depth) to match end tags. There is no
 * DTD support at all: "<!DOCTYPE" is refused, and with it every way to
 * declare an entity -- only the five predefined ones and character
 * references exist, so no input can expand or reach outside itself.
 */
#include <errno.h>
#include <string.h>

#include "dataline/xmltok.h"

static const struct sip_str xml_ns = SIP_STR_LIT("http://www.w3.org/XML/1998/namespace");

static struct sip_str mkstr(const char *a, const char *b)
{
	return (struct sip_str){ a, (size_t)(b - a) };
}

static int same(struct sip_str a, struct sip_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int is_lit(struct sip_str a, const char *lit)
{
	size_t n = strlen(lit);
	return a.len == n && (n == 0 || memcmp(a.p, lit, n) == 0);
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Names: ASCII per XML 1.0 s.2.3, any non-ASCII byte accepted (UTF-8
 * is not validated). */
static int name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c >= 0x80;
}

static int name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* NCName [":" NCName] at p; NULL if there is none. */
static const char *scan_qname(const char *p, const char *end,
			      struct sip_str *prefix, struct sip_str *local)
{
	const char *q = p, *r;

	if (q >= end || !name_start((unsigned char)*q))
		return NULL;
	while (++q < end && name_char((unsigned char)*q))
		;
	if (q < end && *q == ':') {
		r = q + 1;
		if (r >= end || !name_start((unsigned char)*r))
			return NULL;
		while (++r < end && name_char((unsigned char)*r))
			;
		if (r < end && *r == ':')
			return NULL;
		*prefix = mkstr(p, q);
		*local = mkstr(q + 1, r);
		return r;
	}
	*prefix = SIP_STR_NULL;
	*local = mkstr(p, q);
	return q;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws((unsigned char)*p))
		p++;
	return p;
}

/* XML 1.0 s.2.2 Char */
static int char_ok(uint32_t c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/*
 * The reference at p ('&'): the five predefined entities, &#N; and &#xH;.
 * Returns its length with *cp, or 0 when it is anything else (an
 * undeclared entity: there are no declared ones).
 */
static size_t ref_scan(const char *p, const char *end, uint32_t *cp)
{
	static const struct { const char *name; char c; } ent[] = {
		{ "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' },
		{ "apos;", '\'' }, { "quot;", '"' },
	};
	size_t room = (size_t)(end - p) - 1;
	const char *q = p + 1;
	uint32_t v = 0;
	int digits = 0;

	if (room >= 1 && *q == '#') {
		int hex = room >= 2 && q[1] == 'x';
		for (q += hex ? 2 : 1; q < end && *q != ';'; q++) {
			unsigned char c = (unsigned char)*q;
			unsigned d;
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				d = (c | 0x20) - 'a' + 10;
			else
				return 0;
			if (++digits > 8)
				return 0;
			v = v * (hex ? 16 : 10) + d;
		}
		if (q >= end || digits == 0 || !char_ok(v))
			return 0;
		*cp = v;
		return (size_t)(q + 1 - p);
	}
	for (size_t i = 0; i < sizeof(ent) / sizeof(ent[0]); i++) {
		size_t n = strlen(ent[i].name);
		if (room >= n && memcmp(q, ent[i].name, n) == 0) {
			*cp = (unsigned char)ent[i].c;
			return n + 1;
		}
	}
	return 0;
}

/* Character data or an attribute value: control characters refused,
 * references well-formed, no '<'; in text no "]]>" either. */
static int chars_check(const char *p, const char *end, int text)
{
	uint32_t cp;

	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '&') {
			size_t n = ref_scan(p, end, &cp);
			if (!n)
				return -EBADMSG;
			p += n - 1;
		} else if ((c < 0x20 && !is_ws(c)) || c == '<') {
			return -EBADMSG;
		} else if (text && c == ']' && end - p >= 3 && p[1] == ']' &&
			   p[2] == '>') {
			return -EBADMSG;
		}
	}
	return 0;
}

void xmltok_init(struct xmltok *t, const char *buf, size_t len)
{
	memset(t, 0, sizeof(*t));
	if (!buf)
		len = 0;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		buf += 3, len -= 3;
	t->start = t->p = buf;
	t->end = buf + len;
}

/* The namespace of a prefix in scope: 0 and *uri (empty = none). */
static int ns_lookup(const struct xmltok *t, struct sip_str prefix,
		     struct sip_str *uri)
{
	if (prefix.p && is_lit(prefix, "xml")) {
		*uri = xml_ns;
		return 0;
	}
	if (prefix.p && is_lit(prefix, "xmlns"))
		return -EBADMSG;
	for (unsigned i = t->nns; i > 0; i--) {
		const struct xmltok_ns *n = &t->ns[i - 1];
		if (prefix.p ? same(n->prefix, prefix) : n->prefix.len == 0) {
			*uri = n->uri;
			return 0;
		}
	}
	if (prefix.p)
		return -EBADMSG;	/* undeclared prefix */
	*uri = SIP_STR_NULL;
	return 0;
}

/* One attribute at p (after whitespace): name, '=', quoted value. */
static const char *scan_attr(const char *p, const char *end,
			     struct xmltok_attr *a, struct sip_str *qname)
{
	const char *q = scan_qname(p, end, &a->prefix, &a->name), *close;

	if (!q)
		return NULL;
	*qname = mkstr(p, q);
	q = skip_ws(q, end);
	if (q >= end || *q != '=')
		return NULL;
	q = skip_ws(q + 1, end);
	if (q >= end || (*q != '"' && *q != '\''))
		return NULL;
	close = memchr(q + 1, *q, (size_t)(end - q - 1));
	if (!close)
		return NULL;
	a->raw = mkstr(q + 1, close);
	return close + 1;
}

/* xmlns="..." or xmlns:p="...": 1 and the declared prefix (empty for the
 * default namespace), 0 for an ordinary attribute. */
static int is_nsdecl(const struct xmltok_attr *a, struct sip_str *prefix)
{
	if (!a->prefix.p && is_lit(a->name, "xmlns")) {
		*prefix = (struct sip_str){ a->name.p, 0 };
		return 1;
	}
	if (a->prefix.p && is_lit(a->prefix, "xmlns")) {
		*prefix = a->name;
		return 1;
	}
	return 0;
}

static int ns_declare(struct xmltok *t, const struct xmltok_attr *a,
		      struct sip_str prefix)
{
	if (memchr(a->raw.p, '&', a->raw.len))
		return -EBADMSG;	/* no references in namespace names */
	if (prefix.len) {
		/* Namespaces in XML s.3: xmlns:p="" is illegal, "xmlns" may
		 * not be declared, "xml" only to its own URI */
		if (!a->raw.len || is_lit(prefix, "xmlns") ||
		    (is_lit(prefix, "xml") != same(a->raw, xml_ns)))
			return -EBADMSG;
	}
	if (t->nns >= XMLTOK_MAX_NS)
		return -E2BIG;
	t->ns[t->nns].prefix = prefix;
	t->ns[t->nns].uri = a->raw;
	t->nns++;
	return 0;
}

/* Splits an element qname and resolves its namespace into tok. */
static int elem_name(const struct xmltok *t, struct sip_str qname,
		     struct xmltok_token *tok)
{
	if (!scan_qname(qname.p, qname.p + qname.len, &tok->prefix, &tok->name))
		return -EBADMSG;
	return ns_lookup(t, tok->prefix, &tok->ns);
}

static int start_tag(struct xmltok *t, struct xmltok_token *tok)
{
	struct sip_str qname, seen[XMLTOK_MAX_ATTRS], aq, pfx, rest;
	const char *p = t->p + 1, *end = t->end, *attrs, *attrs_end;
	unsigned mark = t->nns, nattr = 0;
	struct xmltok_attr a;
	int rc, empty = 0;

	if (t->done)
		return -EBADMSG;	/* a second root element */
	if (t->depth >= XMLTOK_MAX_DEPTH)
		return -E2BIG;
	if (!(p = scan_qname(p, end, &a.prefix, &a.name)))
		return -EBADMSG;
	qname = mkstr(t->p + 1, p);
	attrs = attrs_end = p;
	for (;;) {
		const char *q = skip_ws(p, end);
		if (q >= end) {
			rc = -EBADMSG;
			goto fail;
		}
		if (*q == '>' || *q == '/') {
			if (*q == '/' && (q + 1 >= end || q[1] != '>')) {
				rc = -EBADMSG;
				goto fail;
			}
			empty = *q == '/';
			p = q + (empty ? 2 : 1);
			break;
		}
		if (q == p || !(p = scan_attr(q, end, &a, &aq)) ||
		    chars_check(a.raw.p, a.raw.p + a.raw.len, 0)) {
			rc = -EBADMSG;
			goto fail;
		}
		attrs_end = p;
		if (nattr >= XMLTOK_MAX_ATTRS) {
			rc = -E2BIG;
			goto fail;
		}
		for (unsigned i = 0; i < nattr; i++)
			if (same(seen[i], aq)) {
				rc = -EBADMSG;	/* duplicate attribute */
				goto fail;
			}
		seen[nattr++] = aq;
		if (is_nsdecl(&a, &pfx) && (rc = ns_declare(t, &a, pfx)))
			goto fail;
	}
	memset(tok, 0, sizeof(*tok));
	if ((rc = elem_name(t, qname, tok)))
		goto fail;
	/* every attribute prefix must resolve too */
	rest = mkstr(attrs, attrs_end);
	while ((rc = xmltok_attr_next(t, &rest, &a)) == 0)
		;
	if (rc != -ENOENT)
		goto fail;
	tok->type = XMLTOK_START;
	tok->attrs = mkstr(attrs, attrs_end);
	tok->empty = empty;
	t->open[t->depth] = qname;
	t->ns_mark[t->depth] = (uint8_t)mark;
	t->depth++;
	tok->depth = t->depth;
	t->seen_root = 1;
	t->pending_end = empty;
	t->p = p;
	return 0;
fail:
	t->nns = mark;
	return rc;
}

/* Emits the END of the innermost open element and pops it. */
static int close_elem(struct xmltok *t, struct xmltok_token *tok)
{
	int rc;

	memset(tok, 0, sizeof(*tok));
	rc = elem_name(t, t->open[t->depth - 1], tok);
	if (rc)
		return rc;
	tok->type = XMLTOK_END;
	tok->depth = t->depth;
	t->depth--;
	t->nns = t->ns_mark[t->depth];
	if (t->depth == 0)
		t->done = 1;
	return 0;
}

static int end_tag(struct xmltok *t, struct xmltok_token *tok)
{
	struct sip_str pfx, local;
	const char *p = t->p + 2, *q;

	if (t->depth == 0)
		return -EBADMSG;
	q = scan_qname(p, t->end, &pfx, &local);
	if (!q || !same(mkstr(p, q), t->open[t->depth - 1]))
		return -EBADMSG;	/* unbalanced */
	q = skip_ws(q, t->end);
	if (q >= t->end || *q != '>')
		return -EBADMSG;
	t->p = q + 1;
	return close_elem(t, tok);
}

/* <?target ...?>; the XML declaration only at the very start. */
static int skip_pi(struct xmltok *t)
{
	const char *p = t->p + 2, *q = p, *e;

	while (q < t->end && (name_char((unsigned char)*q) || *q == ':'))
		q++;
	if (q == p || !name_start((unsigned char)*p))
		return -EBADMSG;
	if (q - p == 3 && (p[0] | 0x20) == 'x' && (p[1] | 0x20) == 'm' &&
	    (p[2] | 0x20) == 'l' && (t->p != t->start || memcmp(p, "xml", 3)))
		return -EBADMSG;	/* misplaced declaration, reserved name */
	e = memmem(q, (size_t)(t->end - q), "?>", 2);
	if (!e || (e != q && !is_ws((unsigned char)*q)))
		return -EBADMSG;
	t->p = e + 2;
	return 0;
}

/* <!-- ... --> with no "--" inside. */
static int skip_comment(struct xmltok *t)
{
	const char *p = t->p + 4;
	const char *q = memmem(p, (size_t)(t->end - p), "--", 2);

	if (!q || q + 2 >= t->end || q[2] != '>')
		return -EBADMSG;
	t->p = q + 3;
	return 0;
}

static int next_token(struct xmltok *t, struct xmltok_token *tok)
{
	memset(tok, 0, sizeof(*tok));
	if (t->pending_end) {
		t->pending_end = 0;
		return close_elem(t, tok);
	}
	for (;;) {
		const char *p = t->p, *end = t->end;
		size_t left = (size_t)(end - p);
		int rc;

		if (p >= end) {
			if (t->depth || !t->seen_root)
				return -EBADMSG;	/* truncated or empty */
			tok->type = XMLTOK_EOF;
			return 0;
		}
		if (*p != '<') {
			const char *lt = memchr(p, '<', left);
			if (!lt)
				lt = end;
			if ((rc = chars_check(p, lt, 1)))
				return rc;
			t->p = lt;
			if (t->depth == 0) {
				if (skip_ws(p, lt) != lt)
					return -EBADMSG; /* text outside root */
				continue;
			}
			tok->type = XMLTOK_TEXT;
			tok->text = mkstr(p, lt);
			tok->depth = t->depth;
			return 0;
		}
		if (left >= 2 && p[1] == '?') {
			if ((rc = skip_pi(t)))
				return rc;
		} else if (left >= 4 && memcmp(p, "<!--", 4) == 0) {
			if ((rc = skip_comment(t)))
				return rc;
		} else if (left >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
			const char *q = memmem(p + 9, left - 9, "]]>", 3);
			if (!t->depth || !q)
				return -EBADMSG;
			for (const char *c = p + 9; c < q; c++)
				if ((unsigned char)*c < 0x20 && !is_ws((unsigned char)*c))
					return -EBADMSG;
			tok->type = XMLTOK_TEXT;
			tok->text = mkstr(p + 9, q);
			tok->cdata = 1;
			tok->depth = t->depth;
			t->p = q + 3;
			return 0;
		} else if (left >= 2 && p[1] == '!') {
			return -ENOTSUP;	/* DOCTYPE, ENTITY, ...: refused */
		} else if (left >= 2 && p[1] == '/') {
			return end_tag(t, tok);
		} else {
			return start_tag(t, tok);
		}
	}
}

int xmltok_next(struct xmltok *t, struct xmltok_token *tok)
{
	struct xmltok_token v;
	int rc;

	if (t->err)
		return t->err;
	rc = next_token(t, &v);
	if (rc)
		t->err = rc;
	else
		*tok = v;
	return rc;
}

int xmltok_attr_next(const struct xmltok *t, struct sip_str *rest,
		     struct xmltok_attr *a)
{
	const char *end = rest->p + rest->len, *p;
	struct sip_str qname, pfx;
	struct xmltok_attr v;

	for (;;) {
		p = skip_ws(rest->p, end);
		if (p >= end)
			return -ENOENT;
		memset(&v, 0, sizeof(v));
		p = scan_attr(p, end, &v, &qname);
		if (!p)
			return -EBADMSG;
		*rest = mkstr(p, end);
		if (is_nsdecl(&v, &pfx))
			continue;
		if (v.prefix.p) {
			if (ns_lookup(t, v.prefix, &v.ns))
				return -EBADMSG;
		} else {
			v.ns = SIP_STR_NULL;	/* unprefixed: no namespace */
		}
		*a = v;
		return 0;
	}
}

int xmltok_attr_get(const struct xmltok *t, const struct xmltok_token *tok,
		    const char *ns, const char *name, struct sip_str *raw)
{
	struct sip_str rest = tok->attrs;
	struct xmltok_attr a;

	while (xmltok_attr_next(t, &rest, &a) == 0)
		if (is_lit(a.ns, ns ? ns : "") && is_lit(a.name, name)) {
			*raw = a.raw;
			return 0;
		}
	return -ENOENT;
}

static size_t utf8_put(uint32_t c, char *o)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

int xmltok_decode(struct sip_str raw, int attr, char *out, size_t cap,
		  size_t *outlen)
{
	const char *p = raw.p, *end = raw.p + raw.len;
	size_t n = 0;

	if (!out || cap == 0)
		return -ENOSPC;
	if (!p)
		end = p;
	while (p < end) {
		char tmp[4];
		size_t k = 1;
		uint32_t cp;

		if (*p == '&') {
			size_t r = ref_scan(p, end, &cp);
			if (!r)
				return -EBADMSG;
			k = utf8_put(cp, tmp);
			p += r;
		} else if (*p == '\r') {
			tmp[0] = attr ? ' ' : '\n';
			p += (p + 1 < end && p[1] == '\n') ? 2 : 1;
		} else {
			tmp[0] = (attr && (*p == '\t' || *p == '\n')) ? ' ' : *p;
			p++;
		}
		if (k >= cap - n)
			return -ENOSPC;
		memcpy(out + n, tmp, k);
		n += k;
	}
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return 0;
}

int xmltok_text(struct xmltok *t, char *out, size_t cap, struct sip_str *val)
{
	struct xmltok_token tok;
	size_t n = 0, a = 0;
	int rc;

	if (!out || cap == 0)
		return -ENOSPC;
	for (;;) {
		if ((rc = xmltok_next(t, &tok)))
			return rc;
		if (tok.type == XMLTOK_END)
			break;
		if (tok.type != XMLTOK_TEXT)
			return -EBADMSG;	/* not a text-only element */
		if (tok.cdata) {
			if (tok.text.len >= cap - n)
				return -ENOSPC;
			memcpy(out + n, tok.text.p, tok.text.len);
			n += tok.text.len;
			out[n] = '\0';
		} else {
			size_t got;
			if ((rc = xmltok_decode(tok.text, 0, out + n, cap - n, &got)))
				return rc;
			n += got;
		}
	}
	out[n] = '\0';
	while (a < n && is_ws((unsigned char)out[a]))
		a++;
	while (n > a && is_ws((unsigned char)out[n - 1]))
		n--;
	*val = mkstr(out + a, out + n);
	return 0;
}

int xmltok_text_once(struct xmltok *t, struct xmltok_buf *s,
		     struct sip_str *slot)
{
	struct sip_str v;
	int rc;

	if (slot->p)
		return -EBADMSG;	/* given twice */
	if (s->len >= s->cap)
		return -ENOSPC;
	rc = xmltok_text(t, s->p + s->len, s->cap - s->len, &v);
	if (rc)
		return rc;
	s->len = (size_t)(v.p - s->p) + v.len + 1;
	*slot = v;
	return 0;
}

int xmltok_attr_decode(struct xmltok_buf *s, struct sip_str raw,
		       struct sip_str *val)
{
	size_t n;
	int rc;

	if (s->len >= s->cap)
		return -ENOSPC;
	rc = xmltok_decode(raw, 1, s->p + s->len, s->cap - s->len, &n);
	if (rc)
		return rc;
	*val = (struct sip_str){ s->p + s->len, n };
	s->len += n + 1;
	return 0;
}

int xmltok_child(struct xmltok *t, struct xmltok_token *tok)
{
	int rc;

	for (;;) {
		if ((rc = xmltok_next(t, tok)))
			return rc;
		if (tok->type == XMLTOK_START)
			return 0;
		if (tok->type == XMLTOK_END)
			return -ENOENT;
		if (tok->type == XMLTOK_EOF)
			return -EBADMSG;
	}
}

int xmltok_skip(struct xmltok *t)
{
	struct xmltok_token tok;
	unsigned d = 1;
	int rc;

	while (d) {
		if ((rc = xmltok_next(t, &tok)))
			return rc;
		if (tok.type == XMLTOK_START)
			d++;
		else if (tok.type == XMLTOK_END)
			d--;
		else if (tok.type == XMLTOK_EOF)
			return -EBADMSG;
	}
	return 0;
}

int xmltok_is(const struct xmltok_token *tok, const char *ns, const char *name)
{
	return is_lit(tok->ns, ns ? ns : "") && is_lit(tok->name, name);
}

void xmltok_escape(struct sip_buf *b, const char *s, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *rep;
		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		/* as references, so that parsing does not normalise them */
		case '\t': rep = "&#9;"; break;
		case '\n': rep = "&#10;"; break;
		case '\r': rep = "&#13;"; break;
		default:
			if (c < 0x20) {
				if (!b->err)
					b->err = -EINVAL;
				return;
			}
			continue;
		}
		sip_buf_add(b, s + run, i - run);
		sip_buf_adds(b, rep);
		run = i + 1;
	}
	sip_buf_add(b, s + run, len - run);
}

void xmltok_put_element(struct sip_buf *b, const char *qname,
			struct sip_str text)
{
	if (!text.p)
		return;
	sip_buf_printf(b, "<%s>", qname);
	xmltok_escape(b, text.p, text.len);
	sip_buf_printf(b, "</%s>", qname);
}
