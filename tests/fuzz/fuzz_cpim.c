/*
 * fuzz_cpim: libFuzzer target for the message/cpim parser (RFC 3862, the
 * RFC 5438 IMDN headers) and builder. Properties: every slice stays
 * inside the input, every header is found again by its namespace and
 * name, and a message rebuilt from a parsed one's From/To/DateTime/IMDN
 * values and content parses back to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/cpim.h"

static const char *lo, *hi;

static void inside(struct sip_str s)
{
	if (s.p && (s.p < lo || s.p + s.len > hi))
		abort();
}

static int same(struct sip_str a, struct sip_str b)
{
	return a.len == b.len && (!a.len || memcmp(a.p, b.p, a.len) == 0);
}

/* A parsed value as a C string, or NULL when it holds a folded CRLF. */
static const char *cstr(struct sip_str s, char *tmp, size_t cap)
{
	if (!s.p || s.len >= cap || memchr(s.p, '\r', s.len))
		return NULL;
	memcpy(tmp, s.p, s.len);
	tmp[s.len] = '\0';
	return tmp;
}

static void rebuild(const struct cpim_msg *m)
{
	static char out[70000], f[512], t[512], d[512], id[512], disp[512], ct[512];
	struct cpim_params p = { 0 };
	struct cpim_msg r;
	size_t n;

	p.from = cstr(m->from, f, sizeof(f));
	p.to = cstr(m->to, t, sizeof(t));
	p.datetime = cstr(m->datetime, d, sizeof(d));
	p.message_id = m->imdn_message_id.len ? cstr(m->imdn_message_id, id, sizeof(id)) : NULL;
	p.disposition = p.message_id ? cstr(m->imdn_disposition, disp, sizeof(disp)) : NULL;
	p.content_type = cstr(m->content_type, ct, sizeof(ct));
	p.body = m->body.p;
	p.body_len = m->body.len;
	if (!p.from || !p.to || !p.content_type)
		return;
	if (cpim_build(&p, out, sizeof(out), &n))
		abort();
	if (cpim_parse(out, n, &r) || !same(r.from, m->from) ||
	    !same(r.to, m->to) || !same(r.body, m->body) ||
	    !same(r.content_type, m->content_type) ||
	    (p.message_id && !same(r.imdn_message_id, m->imdn_message_id)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cpim_msg m;

	if (size > 65535)
		return 0;
	lo = (const char *)data;
	hi = lo + size;
	if (cpim_parse(lo, size, &m) != 0)
		return 0;
	for (unsigned i = 0; i < m.nhdrs; i++) {
		const struct cpim_hdr *h = &m.hdrs[i];
		char ns[256], name[256];
		inside(h->prefix), inside(h->name), inside(h->params);
		inside(h->value);
		if (h->ns.len < sizeof(ns) && h->name.len < sizeof(name) &&
		    !memchr(h->ns.p, 0, h->ns.len)) {
			memcpy(ns, h->ns.p, h->ns.len), ns[h->ns.len] = 0;
			memcpy(name, h->name.p, h->name.len), name[h->name.len] = 0;
			if (!cpim_hdr_find(&m, NULL, ns, name))
				abort();
		}
	}
	for (unsigned i = 0; i < m.nmime; i++)
		inside(m.mime[i].name), inside(m.mime[i].value);
	inside(m.body);
	if (m.has_content_length && m.body.len != m.content_length)
		abort();
	rebuild(&m);
	return 0;
}
