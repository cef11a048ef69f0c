/*
 * fuzz_vcard: libFuzzer target for the vCard reader (RFC 2426, RFC 6350,
 * 2.1). Properties: a walk ends, every call moves forward and says
 * 0/-EBADMSG/-E2BIG; every slice lies inside the input (a card's lines
 * inside its raw text, raw texts in file order, without overlap); line
 * numbers grow; a walk is deterministic; a card read again on its own
 * gives the same card; the walk over a card's lines finds its FN, N and
 * every TEL; parameters, fields and decoded values are consistent; an
 * accepted E.164 number is valid.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/vcard.h"

static const char *lo, *hi;

static void inside(struct sip_str s, const char *a, const char *b)
{
	if (s.p && (s.p < a || s.p + s.len > b))
		abort();
}

static int same(struct sip_str a, struct sip_str b)
{
	return a.len == b.len && (!a.len || memcmp(a.p, b.p, a.len) == 0);
}

/* A property's slices inside the card's body, its parameters walkable. */
static void check_prop(const struct vcard_prop *p, const struct vcard *c)
{
	const char *a = c->body.p, *b = c->body.p + c->body.len;
	struct sip_str n, v, f, prev = SIP_STR_NULL;
	static char out[VCARD_MAX_LOGICAL + 1];
	size_t off = 0, len, total = 0;
	unsigned i;
	int rc;

	inside(p->group, a, b), inside(p->name, a, b);
	inside(p->params, a, b), inside(p->value, a, b);
	if (!p->name.len || p->line < c->body_line)
		abort();
	while ((rc = vcard_param_next(p->params, &off, &n, &v)) == 0) {
		inside(n, p->params.p, p->params.p + p->params.len);
		inside(v, p->params.p, p->params.p + p->params.len);
		if (!n.len || off > p->params.len)
			abort();
	}
	if (rc != -ENOENT)
		abort();
	/* fields tile the value: each starts one ';' after the last */
	for (i = 0; vcard_field(p->value, i, &f) == 0; i++) {
		inside(f, p->value.p, p->value.p + p->value.len);
		if (prev.p && f.p != prev.p + prev.len + 1)
			abort();
		total += f.len + (i > 0);
		prev = f;
	}
	if (i == 0 || total != p->value.len)
		abort();
	/* decoding never grows a value, fits exactly, is deterministic */
	if (vcard_decode(p->value, p->qp, out, sizeof(out), &len) || len > p->value.len)
		abort();
	if (len && vcard_decode(p->value, p->qp, out, len, &off) != -ENOSPC)
		abort();
	if (vcard_decode(p->value, p->qp, out, len + 1, &off) || off != len)
		abort();
}

static void check_tel(const struct vcard_prop *t)
{
	char e[E164_MAX], again[E164_MAX];

	if (vcard_tel_e164(t, "49", e) == 0) {
		if (!e164_is_valid(e))
			abort();
		if (vcard_tel_e164(t, "49", again) || strcmp(e, again))
			abort();
	}
}

/* Walks the card's lines: FN, N and the TELs are among them. */
static void check_props(const struct vcard *c)
{
	struct vcard_iter it;
	struct vcard_prop p;
	unsigned tels = 0, fn = 0, nn = 0;
	size_t last = 0;
	uint32_t line = 0;
	int rc;

	vcard_props_init(&it, c);
	while ((rc = vcard_prop_next(&it, &p)) == 0) {
		if (it.off <= last && last)
			abort();
		if (p.line <= line)
			abort();
		last = it.off, line = p.line;
		check_prop(&p, c);
		if (sip_str_caseeq(p.name, "TEL")) {
			if (tels < c->ntel && (p.value.p != c->tel[tels].value.p ||
					       p.line != c->tel[tels].line))
				abort();
			tels++;
		}
		fn += p.name.p == c->fn.name.p;
		nn += p.name.p == c->n.name.p;
	}
	if (rc != -ENOENT || tels != c->ntel + c->ntel_dropped)
		abort();
	if ((c->fn.name.p && fn != 1) || (c->n.name.p && nn != 1))
		abort();
	for (unsigned i = 0; i < c->ntel; i++)
		check_tel(&c->tel[i]);
}

/* The card alone, from its raw text, is the same card. */
static void check_alone(const struct vcard *c)
{
	static struct vcard again;
	struct vcard_iter it;
	struct vcard_err e;

	static struct vcard none;

	vcard_iter_init(&it, c->raw.p, c->raw.len);
	if (vcard_next(&it, &again, &e) != 0 ||
	    vcard_next(&it, &none, &e) != -ENOENT)
		abort();
	if (again.ntel != c->ntel || again.ntel_dropped != c->ntel_dropped ||
	    again.version != c->version || !same(again.body, c->body) ||
	    !same(again.fn.value, c->fn.value) || !same(again.n.value, c->n.value) ||
	    again.raw.len != c->raw.len)
		abort();
}

struct result {
	int rc;
	size_t off;
	uint32_t line;
	const char *raw;
	uint32_t card_line;
};

/* One walk over the input; fills res (up to max) and returns the count. */
static size_t walk(struct result *res, size_t max, int deep)
{
	static struct vcard c;
	struct vcard_iter it;
	struct vcard_err e;
	const char *last_end = lo;
	size_t n = 0, off;
	uint32_t line;
	int rc;

	vcard_iter_init(&it, lo, (size_t)(hi - lo));
	for (;;) {
		off = it.off, line = it.line;
		rc = vcard_next(&it, &c, &e);
		if (rc == -ENOENT)
			break;
		if (it.off <= off || it.off > (size_t)(hi - lo) || it.line < line)
			abort();
		if (rc == 0) {
			inside(c.raw, lo, hi);
			inside(c.body, c.raw.p, c.raw.p + c.raw.len);
			if (c.raw.p < last_end || c.line < line ||
			    c.body_line <= c.line || c.ntel > VCARD_MAX_TEL ||
			    c.raw.len > VCARD_MAX_CARD)
				abort();
			last_end = c.raw.p + c.raw.len;
			if (deep) {
				check_props(&c);
				check_alone(&c);
			}
		} else if (rc == -EBADMSG || rc == -E2BIG) {
			if (!e.what || e.line < line || e.line > it.line ||
			    (e.card_line && e.card_line > e.line))
				abort();
		} else {
			abort();
		}
		if (n < max)
			res[n] = (struct result){ rc, it.off, it.line,
						  rc ? NULL : c.raw.p,
						  rc ? e.card_line : c.line };
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct result a[256], b[256];
	size_t n, m;

	if (size > 65536)
		return 0;
	lo = (const char *)data;
	hi = lo + size;
	n = walk(a, 256, 1);
	m = walk(b, 256, 0);
	if (n != m)
		abort();
	for (size_t i = 0; i < n && i < 256; i++)
		if (a[i].rc != b[i].rc || a[i].off != b[i].off ||
		    a[i].line != b[i].line || a[i].raw != b[i].raw ||
		    a[i].card_line != b[i].card_line)
			abort();
	return 0;
}
