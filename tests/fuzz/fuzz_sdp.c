/*
 * fuzz_sdp: libFuzzer target for the SDP parser (RFC 8866), the relay's
 * rewrite and the offer/answer helpers. Properties: every slice stays
 * inside the input; a rewrite that changes nothing gives the input back
 * byte for byte; a rewrite to a relay address and new ports parses again
 * with the same sections, formats and attributes and the new values; each
 * format with a known codec is found again by that codec.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/sdp.h"

static const char *lo, *hi;

static void inside(struct sip_str s)
{
	if (s.p && (s.p < lo || s.p + s.len > hi))
		abort();
}

static void conn_inside(const struct sdp_conn *c)
{
	inside(c->nettype), inside(c->addrtype), inside(c->addr);
	inside(c->suffix);
}

static void check_slices(const struct sdp_desc *d)
{
	conn_inside(&d->origin.conn);
	conn_inside(&d->conn);
	inside(d->name), inside(d->info), inside(d->uri);
	for (unsigned i = 0; i < d->nattrs; i++)
		inside(d->attrs[i].name), inside(d->attrs[i].value);
	for (unsigned i = 0; i < d->nmedia; i++) {
		const struct sdp_media *m = &d->media[i];
		inside(m->port_s), inside(m->proto_s), inside(m->type);
		conn_inside(&m->conn), conn_inside(&m->rtcp_conn);
		for (unsigned j = 0; j < m->nfmts; j++)
			inside(m->fmts[j].id), inside(m->fmts[j].encoding),
				inside(m->fmts[j].fmtp);
		for (unsigned j = 0; j < m->ncrypto; j++)
			inside(m->crypto[j].key), inside(m->crypto[j].key_params),
				inside(m->crypto[j].session_params);
		if (m->attr_first + m->nattrs > d->nattrs)
			abort();
	}
}

static void check_codecs(const struct sdp_media *m)
{
	for (unsigned j = 0; j < m->nfmts; j++) {
		const char *name;
		size_t nl;
		uint32_t clock;
		char buf[64];
		const struct sdp_fmt *f;
		if (sdp_fmt_codec(&m->fmts[j], &name, &nl, &clock) ||
		    nl >= sizeof(buf))
			continue;
		memcpy(buf, name, nl), buf[nl] = 0;
		f = sdp_codec_find(m, buf, clock, 0);
		if (!f || f > &m->fmts[j])
			abort();
	}
}

static void check_rewrite(const char *in, size_t len, const struct sdp_desc *d)
{
	static char out[SDP_MAX_LEN + 64 * 32];
	static struct sdp_desc r;
	struct sdp_rewrite_spec rw;
	size_t n;

	sdp_rewrite_spec_init(&rw);
	if (sdp_rewrite(in, len, d, &rw, out, sizeof(out), &n) || n != len ||
	    memcmp(out, in, len))
		abort();
	rw.addr = d->nmedia & 1 ? "2001:db8::7" : "203.0.113.7";
	/* a rejected stream (port 0) keeps its 0, as a relay does */
	for (unsigned i = 0; i < d->nmedia; i++)
		if (d->media[i].port)
			rw.port[i] = (int32_t)(20000 + 2 * i);
	if (sdp_rewrite(in, len, d, &rw, out, sizeof(out), &n))
		abort();
	if (n > SDP_MAX_LEN)
		return;
	if (sdp_parse(out, n, &r) || r.nmedia != d->nmedia ||
	    r.nattrs != d->nattrs)
		abort();
	for (unsigned i = 0; i < r.nmedia; i++) {
		const struct sdp_conn *c = sdp_media_conn(&r, i);
		if (!d->media[i].port)
			continue;
		if (r.media[i].port != 20000 + 2 * i ||
		    r.media[i].nfmts != d->media[i].nfmts ||
		    r.media[i].ncrypto != d->media[i].ncrypto ||
		    !sip_str_eq(c->addr, rw.addr) ||
		    (r.media[i].has_rtcp && r.media[i].rtcp_port != 20001 + 2 * i))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdp_desc d;

	if (size > SDP_MAX_LEN)
		return 0;
	lo = (const char *)data;
	hi = lo + size;
	if (sdp_parse(lo, size, &d) != 0)
		return 0;
	check_slices(&d);
	for (unsigned i = 0; i < d.nmedia; i++)
		check_codecs(&d.media[i]);
	check_rewrite(lo, size, &d);
	return 0;
}
