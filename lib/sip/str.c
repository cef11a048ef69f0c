/*
 * str: slice helpers of the SIP core -- comparison, copying, quoted-string
 * and %HH unescaping, bounded integers, method names, host scanning
 * (RFC 3261 s.25.1 grammar, RFC 3986 s.3.2.2 IPv6 references).
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sip_int.h"

int sip_str_eq(struct sip_str s, const char *c)
{
	size_t n = strlen(c);
	return s.p && s.len == n && memcmp(s.p, c, n) == 0;
}

int sip_str_caseeq(struct sip_str s, const char *c)
{
	size_t n = strlen(c);
	if (!s.p || s.len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (sip_lc((unsigned char)s.p[i]) != sip_lc((unsigned char)c[i]))
			return 0;
	return 1;
}

int sip_str_copy(struct sip_str s, char *out, size_t cap)
{
	if (!out || cap == 0 || s.len >= cap)
		return -ENOSPC;
	if (s.len)
		memcpy(out, s.p, s.len);
	out[s.len] = '\0';
	return 0;
}

const char *sip_skip_quoted(const char *p, const char *end)
{
	const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));

	/* fast path: no backslash before the closing quote */
	if (q && !memchr(p + 1, '\\', (size_t)(q - p - 1)))
		return q + 1;
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

int sip_str_unquote(struct sip_str s, char *out, size_t cap, size_t *outlen)
{
	const char *p = s.p, *end = s.p + s.len;
	size_t n = 0;

	if (!p)
		return -EINVAL;
	if (s.len && *p == '"') {
		if (s.len < 2 || end[-1] != '"' || sip_skip_quoted(p, end) != end)
			return -EBADMSG;
		p++, end--;
	}
	for (; p < end; p++) {
		char c = *p;
		if (c == '\\') {
			if (++p >= end)
				return -EBADMSG;
			c = *p;
		}
		if (n + 1 >= cap)
			return -ENOSPC;
		out[n++] = c;
	}
	if (cap == 0)
		return -ENOSPC;
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return 0;
}

int sip_str_unescape(struct sip_str s, char *out, size_t cap, size_t *outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '%') {
			int h, l;
			if (i + 2 >= s.len)
				return -EBADMSG;
			h = sip_hexval((unsigned char)s.p[i + 1]);
			l = sip_hexval((unsigned char)s.p[i + 2]);
			if (h < 0 || l < 0)
				return -EBADMSG;
			c = (unsigned char)(h << 4 | l);
			i += 2;
		}
		if (n + 1 >= cap)
			return -ENOSPC;
		out[n++] = (char)c;
	}
	if (cap == 0)
		return -ENOSPC;
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return 0;
}

int sip_uint_decode(struct sip_str s, uint64_t max, uint64_t *out)
{
	const char *p, *end;
	uint64_t v = 0;
	int over = 0;

	if (!s.p)
		return -EBADMSG;
	end = s.p + s.len;
	p = sip_skip_lws(s.p, end);
	end = sip_rskip_lws(p, end);
	if (p == end)
		return -EBADMSG;
	for (; p < end; p++) {
		unsigned d = (unsigned char)*p - '0';
		if (d > 9)
			return -EBADMSG;
		if (v > (UINT64_MAX - d) / 10)
			over = 1;
		else
			v = v * 10 + d;
	}
	if (over || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int sip_ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return 0;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

/* ------------------------------------------------------------ methods */

static const char *const sip_method_names[] = {
	[SIP_METHOD_INVITE] = "INVITE",	    [SIP_METHOD_ACK] = "ACK",
	[SIP_METHOD_BYE] = "BYE",	    [SIP_METHOD_CANCEL] = "CANCEL",
	[SIP_METHOD_REGISTER] = "REGISTER", [SIP_METHOD_OPTIONS] = "OPTIONS",
	[SIP_METHOD_INFO] = "INFO",	    [SIP_METHOD_PRACK] = "PRACK",
	[SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE", [SIP_METHOD_NOTIFY] = "NOTIFY",
	[SIP_METHOD_PUBLISH] = "PUBLISH",   [SIP_METHOD_MESSAGE] = "MESSAGE",
	[SIP_METHOD_REFER] = "REFER",	    [SIP_METHOD_UPDATE] = "UPDATE",
};

enum sip_method sip_method_lookup(struct sip_str s)
{
	/* Dispatch on the first letter: at most three memcmp. */
#define M(id) do { if (sip_str_eq(s, sip_method_names[id])) return id; } while (0)
	if (!s.p || s.len < 3)
		return SIP_METHOD_OTHER;
	switch (s.p[0]) {
	case 'A': M(SIP_METHOD_ACK); break;
	case 'B': M(SIP_METHOD_BYE); break;
	case 'C': M(SIP_METHOD_CANCEL); break;
	case 'I': M(SIP_METHOD_INVITE); M(SIP_METHOD_INFO); break;
	case 'M': M(SIP_METHOD_MESSAGE); break;
	case 'N': M(SIP_METHOD_NOTIFY); break;
	case 'O': M(SIP_METHOD_OPTIONS); break;
	case 'P': M(SIP_METHOD_PRACK); M(SIP_METHOD_PUBLISH); break;
	case 'R': M(SIP_METHOD_REGISTER); M(SIP_METHOD_REFER); break;
	case 'S': M(SIP_METHOD_SUBSCRIBE); break;
	case 'U': M(SIP_METHOD_UPDATE); break;
	}
#undef M
	return SIP_METHOD_OTHER;
}

const char *sip_method_name(enum sip_method m)
{
	if ((unsigned)m >= sizeof(sip_method_names) / sizeof(sip_method_names[0]))
		return NULL;
	return sip_method_names[m];
}

/* ------------------------------------------------------------ hosts */

const char *sip_host_scan(const char *p, const char *end, struct sip_str *host,
			  int *is_ipv6)
{
	const char *h = p;

	if (p < end && *p == '[') {
		/* IPv6reference: "[" hex, ':' and '.' (embedded IPv4) "]" */
		int colons = 0;
		for (p++; p < end && *p != ']'; p++) {
			if (*p == ':')
				colons++;
			else if (!sip_cis((unsigned char)*p, SIP_C_HEX) && *p != '.')
				return NULL;
		}
		if (p >= end || colons < 2 || p - h > 46)
			return NULL;
		*host = sip_mkstr(h + 1, p);
		*is_ipv6 = 1;
		return p + 1;
	}
	p = sip_span(p, end, SIP_C_HOST);
	if (p == h)
		return NULL;
	*host = sip_mkstr(h, p);
	*is_ipv6 = 0;
	return p;
}
