/*
 * addr: decoders of one header value each -- name-addr / addr-spec (From,
 * To, Contact, Route; RFC 3261 s.20.10 and s.25.1), Contact (s.20.10),
 * Via (s.20.42, RFC 3581 rport), CSeq (s.20.16) and Date (s.20.17).
 * LWS (including folded CRLF) is accepted wherever the grammar has it.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip_int.h"

/* Validates the header params after a URI and finds ";tag=". */
static int header_params(const char *p, const char *end, struct sip_str *params,
			 struct sip_str *tag)
{
	struct sip_str rest, n, v;
	int rc;

	p = sip_skip_lws(p, end);
	if (p == end) {
		*params = SIP_STR_NULL;
		*tag = SIP_STR_NULL;
		return 0;
	}
	if (*p != ';')
		return -EBADMSG;
	p = sip_skip_lws(p + 1, end);
	if (p == end)
		return -EBADMSG;	/* ';' and nothing after it */
	rest = sip_mkstr(p, end);
	*params = rest;
	*tag = SIP_STR_NULL;
	while ((rc = sip_param_next(&rest, &n, &v)) == 0) {
		if (sip_str_caseeq_n(n, "tag", 3)) {
			if (tag->p || v.len == 0 || v.p[0] == '"')
				return -EBADMSG;
			*tag = v;
		}
	}
	return rc == -ENOENT ? 0 : -EBADMSG;
}

int sip_nameaddr_decode(struct sip_str s, struct sip_nameaddr *out)
{
	const char *p, *end, *q, *ue;
	struct sip_nameaddr a;

	if (!s.p)
		return -EBADMSG;
	memset(&a, 0, sizeof(a));
	end = s.p + s.len;
	p = sip_skip_lws(s.p, end);
	end = sip_rskip_lws(p, end);
	if (p == end)
		return -EBADMSG;

	if (*p == '"') {
		q = sip_skip_quoted(p, end);
		if (!q)
			return -EBADMSG;	/* RFC 4475 3.1.2.6 quotbal */
		a.display = sip_mkstr(p, q);
		p = sip_skip_lws(q, end);
		if (p == end || *p != '<')
			return -EBADMSG;
	} else if (*p != '<') {
		/* Either "token LWS token ... <uri>" or an addr-spec. An
		 * unquoted display name is tokens and LWS only (3.1.2.15
		 * baddn); an addr-spec starts with "scheme:". */
		q = p;
		while (q < end && sip_cis((unsigned char)*q, SIP_C_TOKEN | SIP_C_LWS))
			q++;
		if (q < end && *q == '<') {
			a.display = sip_mkstr(p, sip_rskip_lws(p, q));
			p = q;
		} else if (q < end && *q == ':') {
			/* addr-spec: the URI ends at the first ';' or LWS;
			 * it may not hold '?' or ',' (s.20.10, 4475 3.1.2.13) */
			ue = p;
			while (ue < end && *ue != ';' &&
			       !sip_cis((unsigned char)*ue, SIP_C_LWS))
				ue++;
			a.uri_str = sip_mkstr(p, ue);
			if (memchr(p, '?', (size_t)(ue - p)) ||
			    memchr(p, ',', (size_t)(ue - p)))
				return -EBADMSG;
			if (sip_uri_decode(a.uri_str, &a.uri))
				return -EBADMSG;
			if (header_params(ue, end, &a.params, &a.tag))
				return -EBADMSG;
			goto out;
		} else {
			return -EBADMSG;
		}
	}
	/* p at '<': the URI runs to '>' without LWS inside (RFC 3261 LAQUOT /
	 * RAQUOT, 4475 3.1.2.14 badaspec) */
	q = memchr(p, '>', (size_t)(end - p));
	if (!q)
		return -EBADMSG;
	a.uri_str = sip_mkstr(p + 1, q);
	if (sip_uri_decode(a.uri_str, &a.uri))
		return -EBADMSG;
	if (header_params(q + 1, end, &a.params, &a.tag))
		return -EBADMSG;
out:
	*out = a;
	return 0;
}

int sip_contact_decode(struct sip_str s, struct sip_contact *out)
{
	struct sip_contact c;
	struct sip_str t = s.p ? sip_trim(s) : s, v;
	uint64_t e;

	if (!t.p)
		return -EBADMSG;
	memset(&c, 0, sizeof(c));
	c.expires = -1;
	if (t.len == 1 && t.p[0] == '*') {
		c.star = 1;
		goto out;
	}
	if (sip_nameaddr_decode(t, &c.addr))
		return -EBADMSG;
	if (c.addr.params.p) {
		if (sip_param_get(c.addr.params, "expires", &v) == 0) {
			if (sip_uint_decode(v, UINT32_MAX, &e))
				return -EBADMSG;
			c.expires = (int64_t)e;
		}
		if (sip_param_get(c.addr.params, "q", &v) == 0) {
			if (v.len == 0)
				return -EBADMSG;
			c.q = v;
		}
	}
out:
	*out = c;
	return 0;
}

int sip_qvalue_decode(struct sip_str s, int *out)
{
	int v, scale = 100;
	size_t i;

	if (!s.p || s.len == 0 || s.len > 5 || (s.p[0] != '0' && s.p[0] != '1'))
		return -EBADMSG;
	v = (s.p[0] - '0') * 1000;
	if (s.len > 1) {
		if (s.p[1] != '.')
			return -EBADMSG;
		for (i = 2; i < s.len; i++, scale /= 10) {
			/* after "1." only zeros */
			if ((unsigned)(s.p[i] - '0') > 9 ||
			    (s.p[0] == '1' && s.p[i] != '0'))
				return -EBADMSG;
			v += (s.p[i] - '0') * scale;
		}
	}
	*out = v;
	return 0;
}

int sip_via_decode(struct sip_str s, struct sip_via *out)
{
	const char *p, *end, *q;
	struct sip_via v;
	struct sip_str rest, n, val;
	uint64_t num;
	int rc;

	if (!s.p)
		return -EBADMSG;
	memset(&v, 0, sizeof(v));
	v.ttl = -1;
	end = s.p + s.len;
	p = sip_skip_lws(s.p, end);
	end = sip_rskip_lws(p, end);

	/* sent-protocol = name SLASH version SLASH transport, where SLASH
	 * allows LWS around it (4475 3.1.1.1 wsinv) */
	q = sip_span(p, end, SIP_C_TOKEN);
	if (q == p)
		return -EBADMSG;
	v.proto_name = sip_mkstr(p, q);
	p = sip_skip_lws(q, end);
	if (p == end || *p != '/')
		return -EBADMSG;
	p = sip_skip_lws(p + 1, end);
	q = sip_span(p, end, SIP_C_TOKEN);
	if (q == p)
		return -EBADMSG;
	v.proto_version = sip_mkstr(p, q);
	v.proto = sip_mkstr(v.proto_name.p, q);
	p = sip_skip_lws(q, end);
	if (p == end || *p != '/')
		return -EBADMSG;
	p = sip_skip_lws(p + 1, end);
	q = sip_span(p, end, SIP_C_TOKEN);
	if (q == p)
		return -EBADMSG;
	v.transport = sip_mkstr(p, q);
	p = sip_skip_lws(q, end);
	if (p == q)
		return -EBADMSG;	/* LWS required before sent-by */

	p = sip_host_scan(p, end, &v.host, &v.host_is_ipv6);
	if (!p)
		return -EBADMSG;
	q = sip_skip_lws(p, end);
	if (q < end && *q == ':') {
		p = sip_skip_lws(q + 1, end);
		q = sip_span(p, end, SIP_C_DIGIT);
		if (sip_uint_decode(sip_mkstr(p, q), 65535, &num) || num == 0)
			return -EBADMSG;
		v.port = (uint16_t)num;
		q = sip_skip_lws(q, end);
	}
	p = q;
	if (p < end) {
		if (*p != ';')
			return -EBADMSG;
		p = sip_skip_lws(p + 1, end);
		if (p == end)
			return -EBADMSG;
		v.params = rest = sip_mkstr(p, end);
		while ((rc = sip_param_next(&rest, &n, &val)) == 0) {
			if (sip_str_caseeq_n(n, "branch", 6)) {
				if (v.branch.p || val.len == 0)
					return -EBADMSG;
				v.branch = val;
			} else if (sip_str_caseeq_n(n, "received", 8)) {
				if (val.len == 0)
					return -EBADMSG;
				v.received = val;
			} else if (sip_str_caseeq_n(n, "rport", 5)) {
				v.rport_present = 1;
				if (val.len) {
					if (sip_uint_decode(val, 65535, &num))
						return -EBADMSG;
					v.rport = (uint16_t)num;
				}
			} else if (sip_str_caseeq_n(n, "maddr", 5)) {
				if (val.len == 0)
					return -EBADMSG;
				v.maddr = val;
			} else if (sip_str_caseeq_n(n, "ttl", 3)) {
				if (sip_uint_decode(val, 255, &num))
					return -EBADMSG;
				v.ttl = (int)num;
			}
		}
		if (rc != -ENOENT)
			return -EBADMSG;
	}
	*out = v;
	return 0;
}

int sip_cseq_decode(struct sip_str s, struct sip_cseq *out)
{
	const char *p, *end, *q;
	struct sip_cseq c;
	uint64_t num;

	if (!s.p)
		return -EBADMSG;
	end = s.p + s.len;
	p = sip_skip_lws(s.p, end);
	end = sip_rskip_lws(p, end);
	q = sip_span(p, end, SIP_C_DIGIT);
	if (sip_uint_decode(sip_mkstr(p, q), UINT32_MAX, &num))
		return -EBADMSG;	/* 4475 3.1.2.4 scalar02: > 2**32-1 */
	p = sip_skip_lws(q, end);
	if (p == q)
		return -EBADMSG;
	q = sip_span(p, end, SIP_C_TOKEN);
	if (q == p || q != end)
		return -EBADMSG;
	c.num = (uint32_t)num;
	c.method = sip_mkstr(p, q);
	c.method_id = sip_method_lookup(c.method);
	*out = c;
	return 0;
}

/* ------------------------------------------------------------ Date */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* H. Hinnant's algorithm: days since 1970-01-01, proleptic Gregorian */
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int ndigits(const char **pp, const char *end, unsigned n, unsigned *out)
{
	const char *p = *pp;
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++, p++) {
		if (p >= end || (unsigned)(*p - '0') > 9)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

static const char *lws1(const char *p, const char *end)
{
	const char *q = sip_skip_lws(p, end);
	return q == p ? NULL : q;
}

int sip_date_decode(struct sip_str s, int64_t *unix_time)
{
	static const char wk[] = "MonTueWedThuFriSatSun";
	static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p, *end;
	unsigned d, y, hh, mm, ss, mon = 0;
	int ok = 0;

	if (!s.p)
		return -EBADMSG;
	end = s.p + s.len;
	p = sip_skip_lws(s.p, end);
	end = sip_rskip_lws(p, end);
	/* wkday "," SP 2DIGIT SP month SP 4DIGIT SP time SP "GMT" */
	if (end - p < 29)
		return -EBADMSG;
	for (int i = 0; i < 7; i++)
		if (strncasecmp(p, wk + 3 * i, 3) == 0)
			ok = 1;
	if (!ok || p[3] != ',')
		return -EBADMSG;
	if (!(p = lws1(p + 4, end)) || ndigits(&p, end, 2, &d) || !(p = lws1(p, end)))
		return -EBADMSG;
	if (end - p < 3)
		return -EBADMSG;
	for (unsigned i = 0; i < 12; i++)
		if (memcmp(p, mons + 3 * i, 3) == 0)
			mon = i + 1;
	if (!mon || !(p = lws1(p + 3, end)) || ndigits(&p, end, 4, &y) ||
	    !(p = lws1(p, end)) || ndigits(&p, end, 2, &hh) || p >= end ||
	    *p++ != ':' || ndigits(&p, end, 2, &mm) || p >= end ||
	    *p++ != ':' || ndigits(&p, end, 2, &ss) || !(p = lws1(p, end)))
		return -EBADMSG;
	/* RFC 3261 s.20.17: only "GMT" (4475 3.1.2.12 baddate: "EST") */
	if (end - p != 3 || memcmp(p, "GMT", 3) != 0)
		return -EBADMSG;
	if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
		return -EBADMSG;
	*unix_time = days_from_civil(y, mon, d) * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}
