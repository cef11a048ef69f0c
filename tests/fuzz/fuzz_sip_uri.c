/*
 * fuzz_sip_uri: libFuzzer target for the per-value decoders: SIP/SIPS and
 * other URIs (RFC 3261 s.19.1, RFC 3986), name-addr/addr-spec, Contact,
 * Via (RFC 3581), CSeq, Date, parameters, %HH and quoted-string
 * unescaping. Properties: slices stay inside the input, a decoded URI's
 * params iterate cleanly, a URI equals itself as an AOR.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/sip.h"

static const char *lo, *hi;

static void inside(struct sip_str s)
{
	if (s.p && (s.p < lo || s.p + s.len > hi))
		abort();
}

static void check_uri(const struct sip_uri *u)
{
	struct sip_str rest = u->params, n, v;
	char tmp[300];
	size_t tl;

	inside(u->scheme), inside(u->user), inside(u->password);
	inside(u->host), inside(u->params), inside(u->headers);
	inside(u->opaque);
	if (u->params.p) {
		while (sip_param_next(&rest, &n, &v) == 0)
			inside(n), inside(v);
	}
	if (u->is_sip && u->user.p && u->user.len < 200) {
		if (sip_str_unescape(u->user, tmp, sizeof(tmp), &tl))
			abort();	/* the decoder validated the escapes */
		if (!sip_uri_eq_aor(u, u))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_str s = { (const char *)data, size };
	struct sip_uri u;
	struct sip_nameaddr a;
	struct sip_contact c;
	struct sip_via v;
	struct sip_cseq cs;
	struct sip_str rest = s, n, val;
	char tmp[512];
	size_t tl;
	int64_t t;
	uint64_t x;

	if (size > 4096)
		return 0;
	lo = s.p;
	hi = s.p + s.len;
	if (sip_uri_decode(s, &u) == 0)
		check_uri(&u);
	if (sip_nameaddr_decode(s, &a) == 0) {
		inside(a.display), inside(a.uri_str), inside(a.params), inside(a.tag);
		check_uri(&a.uri);
		if (a.display.p && a.display.p[0] == '"' &&
		    sip_str_unquote(a.display, tmp, sizeof(tmp), &tl) == -EBADMSG)
			abort();	/* the decoder checked the quotes */
	}
	if (sip_contact_decode(s, &c) == 0 && !c.star)
		check_uri(&c.addr.uri);
	if (sip_via_decode(s, &v) == 0) {
		inside(v.host), inside(v.branch), inside(v.received), inside(v.params);
		if (v.rport_present && v.rport == 0 && v.params.p == NULL)
			abort();
	}
	if (sip_cseq_decode(s, &cs) == 0)
		inside(cs.method);
	sip_date_decode(s, &t);
	sip_uint_decode(s, UINT32_MAX, &x);
	while (sip_param_next(&rest, &n, &val) == 0)
		inside(n), inside(val);
	sip_str_unescape(s, tmp, sizeof(tmp), &tl);
	sip_str_unquote(s, tmp, sizeof(tmp), &tl);
	rest = s;
	while (sip_list_split(&rest, &n) == 0)
		inside(n);
	return 0;
}
