/*
 * uri: SIP/SIPS URI decoding (RFC 3261 s.19.1 and s.25.1), any other
 * scheme kept as an opaque absoluteURI (RFC 3986), ";param" iteration for
 * URI, Via and header parameters, and AOR comparison (s.19.1.4).
 */
#include <errno.h>
#include <string.h>

#include "sip_int.h"

/* Characters allowed in a parameter name or (unquoted) value: the URI
 * paramchar set plus the token set plus what Via's received= needs. */
#define PCHARS (SIP_C_PARAM | SIP_C_TOKEN)

static int check_params(const char *p, const char *end, uint16_t cls)
{
	/* params / headers of a URI: no LWS, no empty element */
	for (; p < end; p++)
		if (!sip_cis((unsigned char)*p, cls) && *p != ';' && *p != '=' &&
		    *p != '&')
			return -EBADMSG;
	return 0;
}

static int check_escapes(const char *p, const char *end)
{
	while ((p = memchr(p, '%', (size_t)(end - p)))) {
		if (end - p < 3 || sip_hexval((unsigned char)p[1]) < 0 ||
		    sip_hexval((unsigned char)p[2]) < 0)
			return -EBADMSG;
		p += 3;
	}
	return 0;
}

int sip_uri_decode(struct sip_str s, struct sip_uri *out)
{
	const char *p = s.p, *end = s.p + s.len, *q, *at, *hp;
	struct sip_uri u;

	if (!p || s.len == 0 || !sip_cis((unsigned char)*p, SIP_C_ALPHA))
		return -EBADMSG;
	memset(&u, 0, sizeof(u));
	q = sip_span(p, end, SIP_C_SCHEME);
	if (q == end || *q != ':')
		return -EBADMSG;
	u.scheme = sip_mkstr(p, q);
	if (sip_str_caseeq_n(u.scheme, "sip", 3))
		u.is_sip = 1;
	else if (sip_str_caseeq_n(u.scheme, "sips", 4))
		u.is_sip = 2;
	p = q + 1;
	if (!u.is_sip) {
		/* absoluteURI: hier-part / opaque-part, no further structure
		 * needed by us (tel:, http:, isbn:, ...). */
		if (p == end || sip_span(p, end, SIP_C_URIC) != end)
			return -EBADMSG;
		u.opaque = sip_mkstr(p, end);
		goto out;
	}

	/* userinfo ends at the first '@': '@' may appear neither in the
	 * host, the params nor the headers, but ';' '?' '/' may appear in
	 * the user part (RFC 4475 s.3.1.1.3/.9). */
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *ue = colon ? colon : at;
		if (ue == p || sip_span(p, ue, SIP_C_USER) != ue ||
		    check_escapes(p, ue))
			return -EBADMSG;
		u.user = sip_mkstr(p, ue);
		if (colon) {
			if (sip_span(colon + 1, at, SIP_C_PASS) != at ||
			    check_escapes(colon + 1, at))
				return -EBADMSG;
			u.password = sip_mkstr(colon + 1, at);
		}
		p = at + 1;
	}
	hp = sip_host_scan(p, end, &u.host, &u.host_is_ipv6);
	if (!hp)
		return -EBADMSG;
	p = hp;
	if (p < end && *p == ':') {
		unsigned port = 0;
		const char *d = ++p;
		for (; p < end && (unsigned)(*p - '0') <= 9; p++) {
			port = port * 10 + (unsigned)(*p - '0');
			if (port > 65535)
				return -EBADMSG;
		}
		if (p == d || port == 0)
			return -EBADMSG;
		u.port = (uint16_t)port;
	}
	if (p < end && *p == ';') {
		q = memchr(p, '?', (size_t)(end - p));
		if (!q)
			q = end;
		if (check_params(p + 1, q, SIP_C_PARAM) || check_escapes(p + 1, q) ||
		    q == p + 1)
			return -EBADMSG;
		u.params = sip_mkstr(p + 1, q);
		p = q;
	}
	if (p < end && *p == '?') {
		if (check_params(p + 1, end, SIP_C_HNV) || check_escapes(p + 1, end) ||
		    end == p + 1)
			return -EBADMSG;
		u.headers = sip_mkstr(p + 1, end);
		p = end;
	}
	if (p != end)
		return -EBADMSG;
	/* every param must be well-formed (no ";;", no "=" without name) */
	if (u.params.p) {
		struct sip_str rest = u.params, n, v;
		int rc;
		while ((rc = sip_param_next(&rest, &n, &v)) == 0)
			;
		if (rc != -ENOENT)
			return -EBADMSG;
	}
out:
	*out = u;
	return 0;
}

int sip_param_next(struct sip_str *rest, struct sip_str *name,
		   struct sip_str *val)
{
	const char *p = rest->p, *end = rest->p + rest->len, *q;
	struct sip_str n, v = SIP_STR_NULL;

	if (!p)
		return -ENOENT;
	p = sip_skip_lws(p, end);
	if (p == end)
		return -ENOENT;
	q = sip_span(p, end, PCHARS);
	if (q == p)
		return -EBADMSG;
	n = sip_mkstr(p, q);
	p = sip_skip_lws(q, end);
	if (p < end && *p == '=') {
		p = sip_skip_lws(p + 1, end);
		if (p < end && *p == '"') {
			q = sip_skip_quoted(p, end);
			if (!q)
				return -EBADMSG;
		} else {
			q = sip_span(p, end, PCHARS);
			if (q == p)
				return -EBADMSG;
		}
		v = sip_mkstr(p, q);
		p = sip_skip_lws(q, end);
	}
	if (p < end) {
		/* consume the ';' so that the next call starts at a name:
		 * ";;" and a trailing ';' are then errors */
		if (*p != ';')
			return -EBADMSG;
		p = sip_skip_lws(p + 1, end);
		if (p == end)
			return -EBADMSG;
	}
	*rest = sip_mkstr(p, end);
	if (!v.p)
		v = sip_mkstr(n.p + n.len, n.p + n.len);	/* present, empty */
	*name = n;
	*val = v;
	return 0;
}

int sip_param_get(struct sip_str params, const char *name, struct sip_str *val)
{
	struct sip_str rest = params, n, v;
	size_t nl = strlen(name);

	while (sip_param_next(&rest, &n, &v) == 0) {
		if (n.len != nl)
			continue;
		if (sip_str_caseeq(n, name)) {
			if (val)
				*val = v;
			return 0;
		}
	}
	return -ENOENT;
}

int sip_uri_eq_aor(const struct sip_uri *a, const struct sip_uri *b)
{
	char ua[256], ub[256];
	size_t la, lb;

	if (a->is_sip != b->is_sip || !a->is_sip)
		return 0;
	if (!sip_str_present(a->user) != !sip_str_present(b->user))
		return 0;
	if (a->user.p) {
		if (sip_str_unescape(a->user, ua, sizeof(ua), &la) ||
		    sip_str_unescape(b->user, ub, sizeof(ub), &lb) ||
		    la != lb || memcmp(ua, ub, la) != 0)
			return 0;
	}
	if (a->host.len != b->host.len || a->port != b->port)
		return 0;
	for (size_t i = 0; i < a->host.len; i++)
		if (sip_lc((unsigned char)a->host.p[i]) !=
		    sip_lc((unsigned char)b->host.p[i]))
			return 0;
	return 1;
}
