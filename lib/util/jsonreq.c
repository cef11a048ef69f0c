/*
 * jsonreq: strict JSON (RFC 8259) reader for small request objects, see
 * include/dataline/jsonreq.h. UTF-8 is validated per RFC 3629 (no
 * overlongs, no surrogates, nothing above U+10FFFF).
 *
 * The text is read twice with the same code: a first pass validates
 * everything and checks that the wanted strings fit, writing nothing; the
 * second pass, run only when the first succeeded, copies the strings out.
 * That is what keeps the caller's buffers untouched on failure without
 * any scratch memory.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dataline/jsonreq.h"

#define JR_MAX_FIELDS 32

struct jr {
	const unsigned char *p, *end;
	int depth;
	struct jsonreq_field *f;   /* the caller's fields */
	size_t nf;
	bool write;                /* second pass: copy into the buffers */
	uint32_t seen;             /* bit i: field i met at top level */
	enum jsonreq_found found[JR_MAX_FIELDS];
	size_t len[JR_MAX_FIELDS];
	/* jsonreq_array: the one top-level member read as an array */
	const char *arr_name;      /* NULL for jsonreq_parse */
	char *ebuf;                /* the caller's element buffer */
	size_t ecap;
	size_t max_elems, nelems;
	bool arr_seen;
	jsonreq_elem_cb cb;
	void *cb_arg;
	int cb_err;                /* what cb returned to stop the walk */
};

/* Output of one string: bytes go to out (if not NULL) while they fit. */
struct jr_out {
	char *out;
	size_t cap;      /* including the NUL */
	size_t n;        /* bytes produced (even past cap) */
};

static void jr_put(struct jr_out *o, unsigned char c)
{
	if (o->out && o->n + 1 < o->cap)
		o->out[o->n] = (char)c;
	o->n++;
}

static void jr_ws(struct jr *j)
{
	while (j->p < j->end &&
	       (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int jr_hex4(struct jr *j, uint32_t *cp)
{
	uint32_t v = 0;

	if (j->end - j->p < 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		unsigned char c = *j->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -EINVAL;
	}
	*cp = v;
	return 0;
}

static void jr_put_utf8(struct jr_out *o, uint32_t cp)
{
	if (cp < 0x80) {
		jr_put(o, (unsigned char)cp);
	} else if (cp < 0x800) {
		jr_put(o, (unsigned char)(0xC0 | cp >> 6));
		jr_put(o, (unsigned char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		jr_put(o, (unsigned char)(0xE0 | cp >> 12));
		jr_put(o, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
		jr_put(o, (unsigned char)(0x80 | (cp & 0x3F)));
	} else {
		jr_put(o, (unsigned char)(0xF0 | cp >> 18));
		jr_put(o, (unsigned char)(0x80 | ((cp >> 12) & 0x3F)));
		jr_put(o, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
		jr_put(o, (unsigned char)(0x80 | (cp & 0x3F)));
	}
}

/* \uXXXX (the "\u" already read), with a following low surrogate. */
static int jr_unicode(struct jr *j, struct jr_out *o)
{
	uint32_t cp, lo;

	if (jr_hex4(j, &cp))
		return -EINVAL;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return -EINVAL; /* a lone low surrogate */
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
			return -EINVAL;
		j->p += 2;
		if (jr_hex4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF)
			return -EINVAL;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (cp == 0)
		return -EINVAL; /* would cut a C string short */
	jr_put_utf8(o, cp);
	return 0;
}

/* Length of the UTF-8 sequence starting at p (RFC 3629 s.4), or 0. */
static size_t jr_utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n, avail = (size_t)(end - p);
	unsigned char lo = 0x80, hi = 0xBF;

	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* A string; the opening quote is at j->p. */
static int jr_string(struct jr *j, struct jr_out *o)
{
	j->p++;
	while (j->p < j->end) {
		unsigned char c = *j->p;

		if (c == '"') {
			j->p++;
			if (o->out && o->n < o->cap)
				o->out[o->n] = '\0';
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			if (j->end - j->p < 2)
				return -EINVAL;
			c = j->p[1];
			j->p += 2;
			switch (c) {
			case '"': case '\\': case '/': jr_put(o, c); break;
			case 'b': jr_put(o, '\b'); break;
			case 'f': jr_put(o, '\f'); break;
			case 'n': jr_put(o, '\n'); break;
			case 'r': jr_put(o, '\r'); break;
			case 't': jr_put(o, '\t'); break;
			case 'u':
				if (jr_unicode(j, o))
					return -EINVAL;
				break;
			default:
				return -EINVAL;
			}
			continue;
		}
		if (c >= 0x80) {
			size_t n = jr_utf8_len(j->p, j->end);

			if (!n)
				return -EINVAL;
			for (size_t i = 0; i < n; i++)
				jr_put(o, j->p[i]);
			j->p += n;
			continue;
		}
		jr_put(o, c);
		j->p++;
	}
	return -EINVAL; /* unterminated */
}

static int jr_digits(struct jr *j)
{
	const unsigned char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : -EINVAL;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int jr_number(struct jr *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (jr_digits(j))
		return -EINVAL;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (jr_digits(j))
			return -EINVAL;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (jr_digits(j))
			return -EINVAL;
	}
	return 0;
}

static int jr_literal(struct jr *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -EINVAL;
	j->p += n;
	return 0;
}

static int jr_value(struct jr *j);

static int jr_array(struct jr *j)
{
	int err;

	j->p++;
	jr_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		err = jr_value(j);
		if (err)
			return err;
		jr_ws(j);
		if (j->p >= j->end)
			return -EINVAL;
		if (*j->p == ']') {
			j->p++;
			return 0;
		}
		if (*j->p++ != ',')
			return -EINVAL;
	}
}

/* The field a top-level member name asks for, or -1. */
static int jr_field_of(struct jr *j, const char *name, size_t len)
{
	for (size_t i = 0; i < j->nf; i++)
		if (strlen(j->f[i].name) == len && memcmp(j->f[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* One member's value at top level: a wanted string, or anything. */
static int jr_member_value(struct jr *j, int fi)
{
	struct jr_out o = { 0 };
	int err;

	if (fi < 0 || j->p >= j->end || *j->p != '"') {
		err = jr_value(j);
		if (!err && fi >= 0)
			j->found[fi] = JSONREQ_NOT_STRING;
		return err;
	}
	o.cap = j->f[fi].cap;
	o.out = j->write ? j->f[fi].buf : NULL;
	err = jr_string(j, &o);
	if (err)
		return err;
	if (o.n + 1 > o.cap)
		return -E2BIG;
	j->found[fi] = JSONREQ_STRING;
	j->len[fi] = o.n;
	return 0;
}

/*
 * The array member of jsonreq_array(): every element is counted; a string
 * is unescaped into the element buffer (second pass), anything else is
 * validated and reported as not a string. Over max_elems stops at once
 * with -E2BIG, so a huge body costs no more than max_elems elements.
 */
static int jr_member_array(struct jr *j)
{
	int err;

	if (j->p >= j->end || *j->p != '[')
		return -EINVAL;
	if (++j->depth > JSONREQ_MAX_DEPTH)
		return -EINVAL;
	j->p++;
	jr_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		enum jsonreq_found kind = JSONREQ_NOT_STRING;
		struct jr_out o = { 0 };
		size_t idx = j->nelems;

		jr_ws(j);
		if (++j->nelems > j->max_elems)
			return -E2BIG;
		if (j->p < j->end && *j->p == '"') {
			o.cap = j->ecap;
			o.out = j->write ? j->ebuf : NULL;
			err = jr_string(j, &o);
			kind = o.n + 1 > o.cap ? JSONREQ_TOO_LONG : JSONREQ_STRING;
		} else {
			err = jr_value(j);
		}
		if (err)
			return err;
		if (j->write) {
			if (kind != JSONREQ_STRING && j->ecap)
				j->ebuf[0] = '\0';
			j->cb_err = j->cb(j->cb_arg, idx, kind, j->ebuf,
					  kind == JSONREQ_STRING ? o.n : 0);
			if (j->cb_err)
				return j->cb_err;
		}
		jr_ws(j);
		if (j->p >= j->end)
			return -EINVAL;
		if (*j->p == ']') {
			j->p++;
			j->depth--;
			return 0;
		}
		if (*j->p++ != ',')
			return -EINVAL;
	}
}

static int jr_object(struct jr *j, bool top)
{
	char name[64];
	int err, fi;

	j->p++;
	jr_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		struct jr_out key = { name, sizeof(name), 0 };

		if (j->p >= j->end || *j->p != '"')
			return -EINVAL;
		err = jr_string(j, &key);
		if (err)
			return err;
		jr_ws(j);
		if (j->p >= j->end || *j->p++ != ':')
			return -EINVAL;
		jr_ws(j);
		fi = top && key.n < sizeof(name) ? jr_field_of(j, name, key.n) : -1;
		if (fi >= 0) {
			if (j->seen & (1u << fi))
				return -EINVAL; /* duplicate: which one is meant? */
			j->seen |= 1u << fi;
		}
		if (top && j->arr_name && key.n < sizeof(name) &&
		    strlen(j->arr_name) == key.n &&
		    memcmp(j->arr_name, name, key.n) == 0) {
			if (j->arr_seen)
				return -EINVAL;
			j->arr_seen = true;
			err = jr_member_array(j);
		} else {
			err = top ? jr_member_value(j, fi) : jr_value(j);
		}
		if (err)
			return err;
		jr_ws(j);
		if (j->p >= j->end)
			return -EINVAL;
		if (*j->p == '}') {
			j->p++;
			return 0;
		}
		if (*j->p++ != ',')
			return -EINVAL;
		jr_ws(j);
	}
}

static int jr_value(struct jr *j)
{
	struct jr_out skip = { 0 };
	int err;

	jr_ws(j);
	if (j->p >= j->end)
		return -EINVAL;
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > JSONREQ_MAX_DEPTH)
			return -EINVAL;
		err = *j->p == '{' ? jr_object(j, false) : jr_array(j);
		j->depth--;
		return err;
	case '"':
		return jr_string(j, &skip);
	case 't':
		return jr_literal(j, "true");
	case 'f':
		return jr_literal(j, "false");
	case 'n':
		return jr_literal(j, "null");
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return jr_number(j);
		return -EINVAL;
	}
}

static int jr_pass(struct jr *j, const char *text, size_t len)
{
	int err;

	j->p = (const unsigned char *)text;
	j->end = j->p + len;
	j->depth = 1;
	j->seen = 0;
	j->nelems = 0;
	j->arr_seen = false;
	memset(j->found, 0, sizeof(j->found));
	memset(j->len, 0, sizeof(j->len));
	jr_ws(j);
	if (j->p >= j->end || *j->p != '{')
		return -EINVAL;
	err = jr_object(j, true);
	if (err)
		return err;
	jr_ws(j);
	return j->p == j->end ? 0 : -EINVAL;
}

int jsonreq_parse(const char *text, size_t len, struct jsonreq_field *fields,
		  size_t nfields)
{
	struct jr j = { .f = fields, .nf = nfields };
	int err;

	if (!text || nfields > JR_MAX_FIELDS || (nfields && !fields))
		return -EINVAL;
	for (size_t i = 0; i < nfields; i++)
		if (!fields[i].name || !fields[i].buf || !fields[i].cap)
			return -EINVAL;
	err = jr_pass(&j, text, len);
	if (err)
		return err;
	j.write = true;
	err = jr_pass(&j, text, len);
	if (err)
		return err; /* cannot happen: the same text passed once */
	for (size_t i = 0; i < nfields; i++) {
		fields[i].found = j.found[i];
		fields[i].len = j.len[i];
	}
	return 0;
}

int jsonreq_array(const char *text, size_t len, const char *name, char *buf,
		  size_t cap, size_t max_elems, jsonreq_elem_cb cb, void *arg,
		  size_t *count)
{
	struct jr j = { .arr_name = name, .ebuf = buf, .ecap = cap,
			.max_elems = max_elems, .cb = cb, .cb_arg = arg };
	int err;

	if (!text || !name || strlen(name) >= 64 || !buf || !cap || !cb)
		return -EINVAL;
	err = jr_pass(&j, text, len);
	if (err)
		return err;
	if (!j.arr_seen)
		return -ENOENT;
	if (count)
		*count = j.nelems;
	j.write = true;
	err = jr_pass(&j, text, len);
	/* only cb can fail the second pass: the same text passed once */
	return err == j.cb_err ? err : -EIO;
}
