/*
 * vcard: the card reader of include/dataline/vcard.h -- logical lines
 * (RFC 6350 s.3.2 folding, 2.1 quoted-printable soft breaks), content
 * lines (RFC 6350 s.3.3, RFC 2425 s.5.8.1), and cards from BEGIN:VCARD
 * to END:VCARD with resynchronisation after a bad one. Nothing is copied
 * or allocated.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "vcard_int.h"

#define BOM "\xEF\xBB\xBF"

/* A logical line: one physical line and the folded ones after it. */
struct vline {
	const char *p, *end;	/* its text, without the last line end */
	const char *next;	/* where the next logical line starts */
	uint32_t nlines;	/* physical lines it spans */
};

/*
 * The logical line at p. -E2BIG when a physical line is over
 * VCARD_MAX_LINE or the whole over VCARD_MAX_LOGICAL; *l is set anyway,
 * so the caller can step over it.
 */
static int read_line(const char *p, const char *end, struct vline *l)
{
	const char *q = p, *lf, *e;
	int rc = 0;

	l->p = p;
	l->nlines = 0;
	for (;;) {
		lf = memchr(q, '\n', (size_t)(end - q));
		e = lf ? lf : end;
		l->next = lf ? lf + 1 : end;
		if (e > q && e[-1] == '\r')
			e--;
		l->end = e;
		l->nlines++;
		if ((size_t)(e - q) > VCARD_MAX_LINE)
			rc = -E2BIG;
		if (l->next >= end || !vcard_is_wsp(*l->next))
			break;
		q = l->next;
	}
	if ((size_t)(l->end - l->p) > VCARD_MAX_LOGICAL)
		rc = -E2BIG;
	return rc;
}

/* 1 if [p, e) is the marker m ("BEGIN:VCARD"), any case, trailing
 * blanks ignored. */
static int is_marker(const char *p, const char *e, const char *m)
{
	size_t n = strlen(m);

	while (e > p && vcard_is_wsp(e[-1]))
		e--;
	return (size_t)(e - p) == n && strncasecmp(p, m, n) == 0;
}

static int is_blank(const struct vline *l)
{
	for (const char *p = l->p; p < l->end; p++)
		if (!vcard_is_wsp(*p) && *p != '\r' && *p != '\n')
			return 0;
	return 1;
}

/* The ':' ending the parameters at p (quoted values may hold ':'). */
static const char *params_end(const char *p, const char *end)
{
	int quoted = 0;

	for (; p < end; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ':' && !quoted)
			return p;
	}
	return NULL;
}

/* [group "."] name [";" params] ":" value; every parameter must parse. */
static int parse_prop(const struct vline *l, struct vcard_prop *out)
{
	const char *p = l->p, *e = l->end, *q = vcard_span_name(p, e);
	struct sip_str n, v;
	size_t off = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (q == p)
		return -EBADMSG;
	if (q < e && *q == '.') {
		out->group = (struct sip_str){ p, (size_t)(q - p) };
		p = q + 1;
		q = vcard_span_name(p, e);
		if (q == p)
			return -EBADMSG;
	}
	out->name = (struct sip_str){ p, (size_t)(q - p) };
	q = vcard_skip_folds(q, e);
	if (q < e && *q == ';') {
		const char *s = q + 1;
		if (!(q = params_end(s, e)))
			return -EBADMSG;
		out->params = (struct sip_str){ s, (size_t)(q - s) };
		while ((rc = vcard_param_next(out->params, &off, &n, &v)) == 0)
			;
		if (rc != -ENOENT || off == 0)
			return -EBADMSG;
	}
	if (q >= e || *q != ':')
		return -EBADMSG;
	out->value = (struct sip_str){ q + 1, (size_t)(e - q - 1) };
	out->qp = vcard_has_type(out, "QUOTED-PRINTABLE") ||
		  (vcard_param_find(out, "ENCODING", &v) == 0 &&
		   sip_str_caseeq(v, "QUOTED-PRINTABLE"));
	return 0;
}

/*
 * vCard 2.1 quoted-printable: a value line ending in '=' goes on in the
 * next line, which need not start with a blank (a soft line break,
 * RFC 2045 s.6.7). Never across BEGIN:VCARD or END:VCARD, so a value
 * ending in a stray '=' does not swallow the rest of the file.
 */
static int qp_extend(struct vline *l, const char *end)
{
	struct vline n;
	int rc = 0;

	while (l->end > l->p && l->end[-1] == '=' && l->next < end) {
		int big = read_line(l->next, end, &n);
		if (is_marker(n.p, n.end, "END:VCARD") ||
		    is_marker(n.p, n.end, "BEGIN:VCARD"))
			break;
		rc |= big;
		l->end = n.end;
		l->next = n.next;
		l->nlines += n.nlines;
	}
	if ((size_t)(l->end - l->p) > VCARD_MAX_LOGICAL)
		rc = -E2BIG;
	return rc ? -E2BIG : 0;
}

static void skip_bom(struct vline *l)
{
	if (l->end - l->p >= 3 && memcmp(l->p, BOM, 3) == 0)
		l->p += 3;
}

static void step(struct vcard_iter *it, const struct vline *l)
{
	it->off = (size_t)(l->next - it->buf);
	it->line += l->nlines;
}

/*
 * The next content line at it, blank lines skipped (and a BOM at the
 * start of a line: concatenated files): 0 and *p; -ENOENT at the end;
 * -EBADMSG or -E2BIG with *what and p->line. Moves it past what it read
 * in every case.
 */
static int read_prop(struct vcard_iter *it, struct vcard_prop *p,
		     const char **what)
{
	const char *end = it->buf + it->len;
	struct vline l;
	uint32_t line;
	int rc;

	do {
		if (it->off >= it->len)
			return -ENOENT;
		p->line = line = it->line;
		rc = read_line(it->buf + it->off, end, &l);
		step(it, &l);
		if (rc) {
			*what = "line too long";
			return rc;
		}
		skip_bom(&l);
	} while (is_blank(&l));
	if (parse_prop(&l, p)) {
		p->line = line;
		*what = "not a content line";
		return -EBADMSG;
	}
	p->line = line;
	if (p->qp) {
		rc = qp_extend(&l, end);
		it->off = (size_t)(l.next - it->buf);
		it->line = line + l.nlines;
		p->value.len = (size_t)(l.end - p->value.p);
		if (rc) {
			*what = "line too long";
			return rc;
		}
	}
	if (memchr(l.p, '\0', (size_t)(l.end - l.p))) {
		*what = "NUL byte";
		return -EBADMSG;
	}
	return 0;
}

/* After a bad entry: on to the line after the next END:VCARD, or to the
 * next BEGIN:VCARD (left for the next call), whichever comes first. */
static void resync(struct vcard_iter *it)
{
	const char *end = it->buf + it->len;
	struct vline l;

	while (it->off < it->len) {
		read_line(it->buf + it->off, end, &l);
		skip_bom(&l);
		if (is_marker(l.p, l.end, "BEGIN:VCARD"))
			return;
		step(it, &l);
		if (is_marker(l.p, l.end, "END:VCARD"))
			return;
	}
}

static int prop_is(const struct vcard_prop *p, const char *m)
{
	return !p->group.p &&
	       is_marker(p->name.p, p->value.p + p->value.len, m);
}

static int set_version(struct vcard *c, const struct vcard_prop *p)
{
	static const char *const names[] = { "2.1", "3.0", "4.0" };
	const char *v = p->value.p, *e = v + p->value.len;

	while (v < e && vcard_is_wsp(*v))
		v++;
	if (c->version != VCARD_VERSION_NONE)
		return 0;	/* the first one counts */
	for (unsigned i = 0; i < 3; i++) {
		if (is_marker(v, e, names[i])) {
			c->version = (enum vcard_version)(VCARD_VERSION_21 + i);
			return 0;
		}
	}
	return -EBADMSG;
}

/* Files a property of a card being read: 0 or -EBADMSG. */
static int take(struct vcard *c, const struct vcard_prop *p)
{
	if (sip_str_caseeq(p->name, "VERSION"))
		return set_version(c, p);
	if (sip_str_caseeq(p->name, "FN") && !c->fn.name.p)
		c->fn = *p;
	else if (sip_str_caseeq(p->name, "N") && !c->n.name.p)
		c->n = *p;
	else if (sip_str_caseeq(p->name, "TEL") && c->ntel < VCARD_MAX_TEL)
		c->tel[c->ntel++] = *p;
	else if (sip_str_caseeq(p->name, "TEL"))
		c->ntel_dropped++;
	return 0;
}

void vcard_iter_init(struct vcard_iter *it, const char *buf, size_t len)
{
	it->buf = buf;
	it->len = buf ? len : 0;
	it->off = it->len >= 3 && memcmp(buf, BOM, 3) == 0 ? 3 : 0;
	it->line = 1;
}

static int fail(struct vcard_iter *it, struct vcard_err *err, uint32_t line,
		uint32_t card_line, const char *what, int rc)
{
	err->line = line;
	err->card_line = card_line;
	err->what = what;
	if (it)
		resync(it);
	return rc;
}

int vcard_next(struct vcard_iter *it, struct vcard *out, struct vcard_err *err)
{
	struct vcard_prop p;
	struct vcard c;
	const char *what;
	size_t start, off;
	uint32_t line;
	int rc;

	if (!it || !out || !err || (!it->buf && it->len))
		return -EINVAL;
	rc = read_prop(it, &p, &what);
	if (rc == -ENOENT)
		return rc;
	if (rc)
		return fail(it, err, p.line, 0, what, rc);
	if (!prop_is(&p, "BEGIN:VCARD"))
		return fail(it, err, p.line, 0, "text outside a vCard",
			    -EBADMSG);
	memset(&c, 0, sizeof(c));
	c.line = p.line;
	c.body_line = it->line;
	c.raw.p = p.name.p;
	start = (size_t)(c.raw.p - it->buf);
	c.body.p = it->buf + it->off;
	for (;;) {
		off = it->off;
		line = it->line;
		rc = read_prop(it, &p, &what);
		if (rc == -ENOENT)
			return fail(NULL, err, c.line, c.line, "no END:VCARD",
				    -EBADMSG);
		if (rc)
			return fail(it, err, p.line, c.line, what, rc);
		if (prop_is(&p, "BEGIN:VCARD")) {
			/* the next card starts here: this one has no END */
			it->off = off;
			it->line = line;
			return fail(NULL, err, c.line, c.line, "no END:VCARD",
				    -EBADMSG);
		}
		if (it->off - start > VCARD_MAX_CARD)
			return fail(it, err, p.line, c.line, "card too large",
				    -E2BIG);
		if (prop_is(&p, "END:VCARD"))
			break;
		if (take(&c, &p))
			return fail(it, err, p.line, c.line,
				    "unsupported VERSION", -EBADMSG);
	}
	c.body.len = (size_t)(it->buf + off - c.body.p);
	c.raw.len = it->off - start;
	*out = c;
	return 0;
}

void vcard_props_init(struct vcard_iter *it, const struct vcard *c)
{
	it->buf = c->body.p;
	it->len = c->body.p ? c->body.len : 0;
	it->off = 0;
	it->line = c->body_line;
}

int vcard_prop_next(struct vcard_iter *it, struct vcard_prop *out)
{
	struct vcard_prop p;
	const char *what;
	int rc;

	if (!it || !out)
		return -EINVAL;
	rc = read_prop(it, &p, &what);
	if (rc == 0)
		*out = p;
	return rc;
}
