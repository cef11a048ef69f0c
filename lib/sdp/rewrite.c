/*
 * rewrite: the media relay's SDP rewrite. The relay anchors media, so the
 * description it forwards must name its own address and ports (c= lines,
 * m= ports, a=rtcp, RFC 3605) and nothing else may change: SDES keys,
 * codecs, unknown attributes and even the line endings are the peers'.
 * Rather than re-serialising the parsed struct (which would normalise
 * whatever it does not model), the output is the input copied byte for
 * byte with only the slices to replace swapped, in input order.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sdp_int.h"

/* One replacement: the input bytes [from, to) become text. */
struct edit {
	const char *from, *to;
	char text[64];
};

/* the session c=; per media its port, c=, a=rtcp port and address */
#define MAX_EDITS (1 + 4 * SDP_MAX_MEDIA)

struct edits {
	unsigned n;
	struct edit e[MAX_EDITS];
};

static void add(struct edits *es, const char *from, const char *to,
		const char *text)
{
	struct edit *e = &es->e[es->n++];

	e->from = from;
	e->to = to;
	snprintf(e->text, sizeof(e->text), "%s", text);
}

/* addrtype and address (with any suffix) of a c= or a=rtcp */
static void conn_edit(struct edits *es, const struct sdp_conn *c,
		      const char *addr)
{
	char text[64];
	const struct sip_str *last = c->suffix.p ? &c->suffix : &c->addr;

	snprintf(text, sizeof(text), "%s %s", strchr(addr, ':') ? "IP6" : "IP4",
		 addr);
	add(es, c->addrtype.p, last->p + last->len, text);
}

static void port_edit(struct edits *es, struct sip_str s, long port)
{
	char text[8];

	snprintf(text, sizeof(text), "%u", (unsigned)(uint16_t)port);
	add(es, s.p, s.p + s.len, text);
}

void sdp_rewrite_spec_init(struct sdp_rewrite_spec *spec)
{
	if (!spec)
		return;
	spec->addr = NULL;
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		spec->port[i] = spec->rtcp_port[i] = -1;
}

static int check_spec(const struct sdp_desc *d,
		      const struct sdp_rewrite_spec *spec)
{
	if (spec->addr && (!*spec->addr || strlen(spec->addr) > 45 ||
			   strpbrk(spec->addr, " \t\r\n/")))
		return -EINVAL;
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		if (spec->port[i] > 65535 || spec->rtcp_port[i] > 65535 ||
		    spec->rtcp_port[i] < -1 || spec->port[i] < -1)
			return -EINVAL;
		if (i >= d->nmedia && (spec->port[i] >= 0 ||
				       spec->rtcp_port[i] >= 0))
			return -EINVAL;
	}
	return 0;
}

static void collect(const struct sdp_desc *d,
		    const struct sdp_rewrite_spec *spec, struct edits *es)
{
	if (spec->addr && d->has_conn)
		conn_edit(es, &d->conn, spec->addr);
	for (unsigned i = 0; i < d->nmedia; i++) {
		const struct sdp_media *m = &d->media[i];
		long rtcp = spec->rtcp_port[i];
		if (spec->port[i] >= 0)
			port_edit(es, m->port_s, spec->port[i]);
		if (spec->addr && m->has_conn)
			conn_edit(es, &m->conn, spec->addr);
		if (!m->has_rtcp)
			continue;
		if (rtcp < 0 && spec->port[i] >= 0)
			rtcp = spec->port[i] + 1 > 65535 ? 65535 :
			       spec->port[i] + 1;
		if (rtcp >= 0)
			port_edit(es, m->rtcp_port_s, rtcp);
		if (spec->addr && m->rtcp_has_conn)
			conn_edit(es, &m->rtcp_conn, spec->addr);
	}
}

int sdp_rewrite(const char *buf, size_t len, const struct sdp_desc *d,
		const struct sdp_rewrite_spec *spec, char *out, size_t cap,
		size_t *outlen)
{
	struct edits es = { 0 };
	const char *p = buf, *end = buf + len;
	size_t n = 0;

	if (!buf || !d || !spec || !outlen || (!out && cap))
		return -EINVAL;
	if (check_spec(d, spec))
		return -EINVAL;
	/* The edits come out in input order: session c=, then per media
	 * its m= port, its c=, its a=rtcp (port before address). */
	collect(d, spec, &es);
	for (unsigned i = 0; i <= es.n; i++) {
		const char *upto = i < es.n ? es.e[i].from : end;
		size_t tl = i < es.n ? strlen(es.e[i].text) : 0;
		if (upto < p || upto > end)
			return -EINVAL;	/* d was not parsed from buf */
		if (n + (size_t)(upto - p) + tl > cap)
			return -ENOSPC;
		memcpy(out + n, p, (size_t)(upto - p));
		n += (size_t)(upto - p);
		if (i < es.n) {
			memcpy(out + n, es.e[i].text, tl);
			n += tl;
			p = es.e[i].to;
		}
	}
	*outlen = n;
	return 0;
}
