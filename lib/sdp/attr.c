/*
 * attr: decoders of the media-level attributes offer/answer needs:
 * rtpmap and fmtp (RFC 8866 s.6.6, s.6.15), ptime and maxptime (s.6.4,
 * s.6.5), the direction attributes (s.6.7), rtcp (RFC 3605), rtcp-mux
 * (RFC 5761 s.5.1.1) and crypto (RFC 4568 s.9.1, SDES keys for SRTP).
 * Each attribute stays in the generic list as well; a malformed value of a
 * decoded one is -EBADMSG, an rtpmap or fmtp for a format not on the m=
 * line is left undecoded.
 */
#include <errno.h>
#include <string.h>

#include "sdp_int.h"

static struct sdp_fmt *fmt_by_id(struct sdp_media *m, struct sip_str id)
{
	for (unsigned i = 0; i < m->nfmts; i++)
		if (m->fmts[i].id.len == id.len &&
		    memcmp(m->fmts[i].id.p, id.p, id.len) == 0)
			return &m->fmts[i];
	return NULL;
}

/* "PT SP encoding/clock[/params]" */
static int rtpmap(struct sdp_media *m, struct sip_str v)
{
	struct sdp_cur c = { v.p, v.p + v.len };
	struct sip_str id, enc;
	struct sdp_fmt *f;
	const char *s1, *s2, *end;
	uint64_t clock, ch = 1;

	if (sdp_field(&c, &id) || sdp_rest(&c, &enc))
		return -EBADMSG;
	end = enc.p + enc.len;
	s1 = memchr(enc.p, '/', enc.len);
	if (!s1)
		return -EBADMSG;
	s2 = memchr(s1 + 1, '/', (size_t)(end - s1 - 1));
	if (!sdp_is_token(sdp_mkstr(enc.p, s1)) ||
	    sdp_uint(sdp_mkstr(s1 + 1, s2 ? s2 : end), UINT32_MAX, &clock) ||
	    clock == 0 ||
	    (s2 && (sdp_uint(sdp_mkstr(s2 + 1, end), 255, &ch) || ch == 0)))
		return -EBADMSG;
	if (!(f = fmt_by_id(m, id)))
		return 0;
	if (f->encoding.p)
		return -EBADMSG;	/* a second rtpmap for one format */
	f->encoding = sdp_mkstr(enc.p, s1);
	f->clock = (uint32_t)clock;
	f->channels = (uint16_t)ch;
	return 0;
}

/* "FMT SP params" */
static int fmtp(struct sdp_media *m, struct sip_str v)
{
	struct sdp_cur c = { v.p, v.p + v.len };
	struct sip_str id, params;
	struct sdp_fmt *f;

	if (sdp_field(&c, &id) || sdp_rest(&c, &params))
		return -EBADMSG;
	if (!(f = fmt_by_id(m, id)))
		return 0;
	if (f->fmtp.p)
		return -EBADMSG;
	f->fmtp = params;
	return 0;
}

/* ptime = non-zero-int-or-real; the fraction is dropped */
static int ms(struct sip_str v, uint32_t *out)
{
	const char *dot = memchr(v.p, '.', v.len), *end = v.p + v.len;
	uint64_t n, frac;

	if (sdp_uint(sdp_mkstr(v.p, dot ? dot : end), 1000000, &n) ||
	    (dot && sdp_uint(sdp_mkstr(dot + 1, end), UINT64_MAX, &frac)) ||
	    (n == 0 && !dot))
		return -EBADMSG;
	*out = (uint32_t)n;
	return 0;
}

/* RFC 3605: "port [SP nettype SP addrtype SP connection-address]" */
static int rtcp(struct sdp_media *m, struct sip_str v)
{
	struct sdp_cur c = { v.p, v.p + v.len };
	struct sip_str port, addr;
	uint64_t n;

	if (m->has_rtcp || sdp_field(&c, &port) ||
	    sdp_uint(port, 65535, &n))
		return -EBADMSG;
	if (c.p < c.end) {
		if (sdp_field(&c, &m->rtcp_conn.nettype) ||
		    sdp_field(&c, &m->rtcp_conn.addrtype) ||
		    sdp_rest(&c, &addr) || memchr(addr.p, ' ', addr.len) ||
		    !sdp_is_token(m->rtcp_conn.nettype) ||
		    !sdp_is_token(m->rtcp_conn.addrtype) ||
		    sdp_conn_addr(addr, &m->rtcp_conn))
			return -EBADMSG;
		m->rtcp_has_conn = 1;
	}
	m->has_rtcp = 1;
	m->rtcp_port = (uint16_t)n;
	m->rtcp_port_s = port;
	return 0;
}

static int is_b64(struct sip_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.p[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
		      ch == '='))
			return 0;
	}
	return s.len > 0;
}

/* The first key param, "inline:KEY[|lifetime][|MKI:length]"
 * (RFC 4568 s.6.1, s.9.2). */
static int first_inline(struct sdp_crypto *k)
{
	const char *p = k->key_params.p, *end = p + k->key_params.len;
	const char *semi = memchr(p, ';', k->key_params.len), *q, *bar;

	if (semi)
		end = semi;
	if (end - p < 7 || memcmp(p, "inline:", 7) != 0)
		return -EBADMSG;
	p += 7;
	bar = memchr(p, '|', (size_t)(end - p));
	k->key = sdp_mkstr(p, bar ? bar : end);
	k->lifetime = k->mki = SIP_STR_NULL;
	while (bar) {
		struct sip_str part;
		q = bar + 1;
		bar = memchr(q, '|', (size_t)(end - q));
		part = sdp_mkstr(q, bar ? bar : end);
		if (!part.len)
			return -EBADMSG;
		if (memchr(part.p, ':', part.len)) {
			if (k->mki.p)
				return -EBADMSG;
			k->mki = part;
		} else {
			if (k->lifetime.p || k->mki.p)
				return -EBADMSG;
			k->lifetime = part;
		}
	}
	return is_b64(k->key) ? 0 : -EBADMSG;
}

static int crypto(struct sdp_media *m, struct sip_str v)
{
	struct sdp_cur c = { v.p, v.p + v.len };
	struct sdp_crypto k = { 0 };
	struct sip_str tag;
	uint64_t n;

	if (sdp_field(&c, &tag) || sdp_field(&c, &k.suite) ||
	    sdp_field(&c, &k.key_params) || tag.len > 9 ||
	    sdp_uint(tag, 999999999, &n) || !sdp_is_token(k.suite))
		return -EBADMSG;
	if (c.p < c.end)
		k.session_params = sdp_mkstr(c.p, c.end);
	if (first_inline(&k))
		return -EBADMSG;
	for (unsigned i = 0; i < m->ncrypto; i++)
		if (m->crypto[i].tag == n)
			return -EBADMSG;	/* tags are unique (s.9.1) */
	if (m->ncrypto >= SDP_MAX_CRYPTO)
		return -E2BIG;
	k.tag = (uint32_t)n;
	m->crypto[m->ncrypto++] = k;
	return 0;
}

int sdp_media_attr(struct sdp_media *m, const struct sdp_attr *a,
		   int *dir_seen)
{
	struct sip_str n = a->name, v = a->value;
	enum sdp_dir dir;

	if (sdp_dir_lookup(n, &dir) == 0) {
		if (v.p || (*dir_seen)++)
			return -EBADMSG;
		m->dir = dir;
		return 0;
	}
	if (sip_str_eq(n, "rtcp-mux")) {
		if (v.p)
			return -EBADMSG;
		m->rtcp_mux = 1;
		return 0;
	}
	if (!v.p)
		return sip_str_eq(n, "rtpmap") || sip_str_eq(n, "fmtp") ||
		       sip_str_eq(n, "ptime") || sip_str_eq(n, "maxptime") ||
		       sip_str_eq(n, "rtcp") || sip_str_eq(n, "crypto") ?
			       -EBADMSG : 0;
	if (sip_str_eq(n, "rtpmap"))
		return rtpmap(m, v);
	if (sip_str_eq(n, "fmtp"))
		return fmtp(m, v);
	if (sip_str_eq(n, "ptime"))
		return ms(v, &m->ptime);
	if (sip_str_eq(n, "maxptime"))
		return ms(v, &m->maxptime);
	if (sip_str_eq(n, "rtcp"))
		return rtcp(m, v);
	if (sip_str_eq(n, "crypto"))
		return crypto(m, v);
	return 0;
}
