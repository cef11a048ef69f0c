/*
 * vcard_value: the value side of include/dataline/vcard.h -- parameters
 * (RFC 6350 s.5, RFC 2426 s.4 "param", 2.1's bare ones), structured
 * values (RFC 6350 s.3.4), unfolding and escapes (RFC 6350 s.3.2 and
 * s.3.4, RFC 2426 s.4 "escaped-char"), 2.1 quoted-printable (RFC 2045
 * s.6.7), and TEL values (RFC 6350 s.6.4.1, tel URIs of RFC 3966) as
 * E.164 numbers through the e164 module.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "vcard_int.h"

int vcard_param_next(struct sip_str params, size_t *off,
		     struct sip_str *name, struct sip_str *value)
{
	const char *p, *end, *n, *q, *s;
	struct sip_str v = SIP_STR_NULL;

	if (!off || !name || !value)
		return -EINVAL;
	if (!params.p || *off >= params.len)
		return -ENOENT;
	end = params.p + params.len;
	p = vcard_skip_folds(params.p + *off, end);
	n = vcard_span_name(p, end);
	if (n == p)
		return -EBADMSG;
	q = vcard_skip_folds(n, end);
	if (q < end && *q == '=') {
		for (s = ++q; q < end && *q != ';'; q++) {
			if (*q == '"' && !(q = memchr(q + 1, '"',
						      (size_t)(end - q - 1))))
				return -EBADMSG;
		}
		v = (struct sip_str){ s, (size_t)(q - s) };
		/* a fold before the ':' or ';' is not part of the value */
		while (v.len >= 2 && vcard_is_wsp(v.p[v.len - 1]) &&
		       v.p[v.len - 2] == '\n')
			v.len -= v.len >= 3 && v.p[v.len - 3] == '\r' ? 3 : 2;
	}
	q = vcard_skip_folds(q, end);
	if (q < end && (*q != ';' || q + 1 == end))
		return -EBADMSG;
	*off = q < end ? (size_t)(q + 1 - params.p) : params.len;
	*name = (struct sip_str){ p, (size_t)(n - p) };
	*value = v;
	return 0;
}

int vcard_param_find(const struct vcard_prop *p, const char *name,
		     struct sip_str *value)
{
	struct sip_str n, v;
	size_t off = 0;

	if (!p || !name || !value)
		return -EINVAL;
	while (vcard_param_next(p->params, &off, &n, &v) == 0) {
		if (sip_str_caseeq(n, name)) {
			*value = v;
			return 0;
		}
	}
	return -ENOENT;
}

/* 1 if the TYPE value v ("cell,voice", "\"work,voice\"") lists type. */
static int list_has(struct sip_str v, const char *type)
{
	const char *p = v.p, *end = v.p + v.len, *e;

	while (p < end) {
		e = memchr(p, ',', (size_t)(end - p));
		e = e ? e : end;
		struct sip_str item = { p, (size_t)(e - p) };
		if (item.len && item.p[0] == '"')
			item.p++, item.len--;
		if (item.len && item.p[item.len - 1] == '"')
			item.len--;
		if (sip_str_caseeq(item, type))
			return 1;
		p = e + 1;
	}
	return 0;
}

int vcard_has_type(const struct vcard_prop *p, const char *type)
{
	struct sip_str n, v;
	size_t off = 0;

	if (!p || !type)
		return 0;
	while (vcard_param_next(p->params, &off, &n, &v) == 0) {
		if (!v.p ? sip_str_caseeq(n, type) :
		    sip_str_caseeq(n, "TYPE") && list_has(v, type))
			return 1;
	}
	return 0;
}

/* The character after a backslash at p (folds skipped). */
static const char *escaped(const char *p, const char *end)
{
	return vcard_skip_folds(p + 1, end);
}

int vcard_field(struct sip_str raw, unsigned idx, struct sip_str *out)
{
	const char *p = raw.p, *end, *s = raw.p;
	unsigned i = 0;

	if (!out)
		return -EINVAL;
	if (!raw.p)
		return -ENOENT;
	end = raw.p + raw.len;
	while (p < end) {
		if (*p == '\\') {
			p = escaped(p, end);
			p += p < end;
			continue;
		}
		if (*p == ';') {
			if (i++ == idx) {
				*out = (struct sip_str){ s, (size_t)(p - s) };
				return 0;
			}
			s = p + 1;
		}
		p++;
	}
	if (i != idx)
		return -ENOENT;
	*out = (struct sip_str){ s, (size_t)(end - s) };
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Quoted-printable at p (an '='): -(bytes it takes) with *c for "=HH";
 * +(bytes it takes) for a soft line break ('=' at the end of a line or
 * of the value: nothing to write); -1 for a plain '='.
 */
static int qp_char(const char *p, const char *end, char *c)
{
	if (p + 1 == end)
		return 1;
	if (p + 1 < end && p[1] == '\n')
		return 2;
	if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
		return 3;
	if (p + 2 < end && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
		*c = (char)(hexval(p[1]) << 4 | hexval(p[2]));
		return -3;
	}
	return -1;
}

int vcard_decode(struct sip_str raw, int qp, char *out, size_t cap,
		 size_t *outlen)
{
	const char *p = raw.p, *end = raw.p ? raw.p + raw.len : NULL, *q;
	size_t n = 0, f;
	int k;
	char c;

	if (!out || !outlen || cap == 0)
		return -ENOSPC;
	while (p < end) {
		if ((f = vcard_fold_len(p, end)) != 0) {
			p += f;
			continue;
		}
		c = *p++;
		if (qp && c == '=' && (k = qp_char(p - 1, end, &c)) != -1) {
			p += (k < 0 ? -k : k) - 1;
			if (k > 0)
				continue;	/* soft line break */
		} else if (c == '\\' && (q = escaped(p - 1, end)) < end &&
			   *q && strchr("nN,;:\\", *q)) {
			c = *q == 'n' || *q == 'N' ? '\n' : *q;
			p = q + 1;
		}
		if (n + 1 >= cap)
			return -ENOSPC;
		out[n++] = c;
	}
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/*
 * The number part of a TEL value: blanks trimmed, "tel:" and the tel
 * URI's parameters (";ext=102", ";phone-context=...") dropped, U+00A0
 * (no-break space, which some phones put between digit groups) made a
 * plain space for e164_normalize_national().
 */
static size_t tel_number(const char *in, size_t n, char *out)
{
	const char *p = in, *e = in + n, *semi;
	size_t m = 0;

	while (p < e && vcard_is_wsp(*p))
		p++;
	while (e > p && vcard_is_wsp(e[-1]))
		e--;
	if (e - p >= 4 && strncasecmp(p, "tel:", 4) == 0) {
		p += 4;
		if ((semi = memchr(p, ';', (size_t)(e - p))))
			e = semi;
	}
	for (; p < e; p++) {
		if (e - p >= 2 && p[0] == '\xC2' && p[1] == '\xA0') {
			out[m++] = ' ';
			p++;
		} else {
			out[m++] = *p;
		}
	}
	return m;
}

int vcard_tel_e164(const struct vcard_prop *tel, const char *cc,
		   char out[E164_MAX])
{
	char text[64], num[64];
	size_t n;

	if (!tel || !out)
		return -EINVAL;
	if (vcard_decode(tel->value, tel->qp, text, sizeof(text), &n))
		return -EINVAL;
	n = tel_number(text, n, num);
	return e164_normalize_national(num, n, cc, out);
}
