/*
 * hdr: header names of RFC 3261 s.20 (and of RFC 3265, 3515, 3892, 3327),
 * long and compact forms (s.7.3.3), matched case-insensitively. The lookup
 * switches on the name's length first so a name costs one or two compares.
 */
#include <stdint.h>

#include "sip_int.h"

static const char *const sip_hdr_names[SIP_HDR__COUNT] = {
	[SIP_HDR_ACCEPT] = "Accept",
	[SIP_HDR_ACCEPT_ENCODING] = "Accept-Encoding",
	[SIP_HDR_ACCEPT_LANGUAGE] = "Accept-Language",
	[SIP_HDR_ALLOW] = "Allow",
	[SIP_HDR_ALLOW_EVENTS] = "Allow-Events",
	[SIP_HDR_AUTHORIZATION] = "Authorization",
	[SIP_HDR_CALL_ID] = "Call-ID",
	[SIP_HDR_CONTACT] = "Contact",
	[SIP_HDR_CONTENT_DISPOSITION] = "Content-Disposition",
	[SIP_HDR_CONTENT_ENCODING] = "Content-Encoding",
	[SIP_HDR_CONTENT_LENGTH] = "Content-Length",
	[SIP_HDR_CONTENT_TYPE] = "Content-Type",
	[SIP_HDR_CSEQ] = "CSeq",
	[SIP_HDR_DATE] = "Date",
	[SIP_HDR_EVENT] = "Event",
	[SIP_HDR_EXPIRES] = "Expires",
	[SIP_HDR_FROM] = "From",
	[SIP_HDR_MAX_FORWARDS] = "Max-Forwards",
	[SIP_HDR_MIN_EXPIRES] = "Min-Expires",
	[SIP_HDR_PATH] = "Path",
	[SIP_HDR_PROXY_AUTHENTICATE] = "Proxy-Authenticate",
	[SIP_HDR_PROXY_AUTHORIZATION] = "Proxy-Authorization",
	[SIP_HDR_PROXY_REQUIRE] = "Proxy-Require",
	[SIP_HDR_RECORD_ROUTE] = "Record-Route",
	[SIP_HDR_REFER_TO] = "Refer-To",
	[SIP_HDR_REFERRED_BY] = "Referred-By",
	[SIP_HDR_REQUIRE] = "Require",
	[SIP_HDR_RETRY_AFTER] = "Retry-After",
	[SIP_HDR_ROUTE] = "Route",
	[SIP_HDR_SERVER] = "Server",
	[SIP_HDR_SUBJECT] = "Subject",
	[SIP_HDR_SUPPORTED] = "Supported",
	[SIP_HDR_TIMESTAMP] = "Timestamp",
	[SIP_HDR_TO] = "To",
	[SIP_HDR_UNSUPPORTED] = "Unsupported",
	[SIP_HDR_USER_AGENT] = "User-Agent",
	[SIP_HDR_VIA] = "Via",
	[SIP_HDR_WARNING] = "Warning",
	[SIP_HDR_WWW_AUTHENTICATE] = "WWW-Authenticate",
};

/* Compact forms (RFC 3261 s.7.3.3 and later RFCs), by letter. */
static const uint8_t sip_hdr_compact[26] = {
	['u' - 'a'] = SIP_HDR_ALLOW_EVENTS,
	['i' - 'a'] = SIP_HDR_CALL_ID,
	['m' - 'a'] = SIP_HDR_CONTACT,
	['e' - 'a'] = SIP_HDR_CONTENT_ENCODING,
	['l' - 'a'] = SIP_HDR_CONTENT_LENGTH,
	['c' - 'a'] = SIP_HDR_CONTENT_TYPE,
	['o' - 'a'] = SIP_HDR_EVENT,
	['f' - 'a'] = SIP_HDR_FROM,
	['r' - 'a'] = SIP_HDR_REFER_TO,
	['b' - 'a'] = SIP_HDR_REFERRED_BY,
	['s' - 'a'] = SIP_HDR_SUBJECT,
	['k' - 'a'] = SIP_HDR_SUPPORTED,
	['t' - 'a'] = SIP_HDR_TO,
	['v' - 'a'] = SIP_HDR_VIA,
};

enum sip_hdr_id sip_hdr_lookup(const char *n, size_t len)
{
	struct sip_str s = { n, len };

	if (len == 1) {
		int c = sip_lc((unsigned char)n[0]);
		return (c >= 'a' && c <= 'z') ? (enum sip_hdr_id)sip_hdr_compact[c - 'a'] : SIP_HDR_OTHER;
	}
	switch (len) {
	case 2:
		if (sip_lc((unsigned char)n[0]) == 't' && sip_str_caseeq_n(s, "to", 2))
			return SIP_HDR_TO;
		break;
	case 3:
		if (sip_lc((unsigned char)n[0]) == 'v' && sip_str_caseeq_n(s, "via", 3))
			return SIP_HDR_VIA;
		break;
	case 4:
		if (sip_lc((unsigned char)n[0]) == 'c' && sip_str_caseeq_n(s, "cseq", 4))
			return SIP_HDR_CSEQ;
		if (sip_lc((unsigned char)n[0]) == 'd' && sip_str_caseeq_n(s, "date", 4))
			return SIP_HDR_DATE;
		if (sip_lc((unsigned char)n[0]) == 'f' && sip_str_caseeq_n(s, "from", 4))
			return SIP_HDR_FROM;
		if (sip_lc((unsigned char)n[0]) == 'p' && sip_str_caseeq_n(s, "path", 4))
			return SIP_HDR_PATH;
		break;
	case 5:
		if (sip_lc((unsigned char)n[0]) == 'a' && sip_str_caseeq_n(s, "allow", 5))
			return SIP_HDR_ALLOW;
		if (sip_lc((unsigned char)n[0]) == 'e' && sip_str_caseeq_n(s, "event", 5))
			return SIP_HDR_EVENT;
		if (sip_lc((unsigned char)n[0]) == 'r' && sip_str_caseeq_n(s, "route", 5))
			return SIP_HDR_ROUTE;
		break;
	case 6:
		if (sip_lc((unsigned char)n[0]) == 'a' && sip_str_caseeq_n(s, "accept", 6))
			return SIP_HDR_ACCEPT;
		if (sip_lc((unsigned char)n[0]) == 's' && sip_str_caseeq_n(s, "server", 6))
			return SIP_HDR_SERVER;
		break;
	case 7:
		if (sip_lc((unsigned char)n[0]) == 'c' && sip_str_caseeq_n(s, "call-id", 7))
			return SIP_HDR_CALL_ID;
		if (sip_lc((unsigned char)n[0]) == 'c' && sip_str_caseeq_n(s, "contact", 7))
			return SIP_HDR_CONTACT;
		if (sip_lc((unsigned char)n[0]) == 'e' && sip_str_caseeq_n(s, "expires", 7))
			return SIP_HDR_EXPIRES;
		if (sip_lc((unsigned char)n[0]) == 'r' && sip_str_caseeq_n(s, "require", 7))
			return SIP_HDR_REQUIRE;
		if (sip_lc((unsigned char)n[0]) == 's' && sip_str_caseeq_n(s, "subject", 7))
			return SIP_HDR_SUBJECT;
		if (sip_lc((unsigned char)n[0]) == 'w' && sip_str_caseeq_n(s, "warning", 7))
			return SIP_HDR_WARNING;
		break;
	case 8:
		if (sip_lc((unsigned char)n[0]) == 'r' && sip_str_caseeq_n(s, "refer-to", 8))
			return SIP_HDR_REFER_TO;
		break;
	case 9:
		if (sip_lc((unsigned char)n[0]) == 's' && sip_str_caseeq_n(s, "supported", 9))
			return SIP_HDR_SUPPORTED;
		if (sip_lc((unsigned char)n[0]) == 't' && sip_str_caseeq_n(s, "timestamp", 9))
			return SIP_HDR_TIMESTAMP;
		break;
	case 10:
		if (sip_lc((unsigned char)n[0]) == 'u' && sip_str_caseeq_n(s, "user-agent", 10))
			return SIP_HDR_USER_AGENT;
		break;
	case 11:
		if (sip_lc((unsigned char)n[0]) == 'm' && sip_str_caseeq_n(s, "min-expires", 11))
			return SIP_HDR_MIN_EXPIRES;
		if (sip_lc((unsigned char)n[0]) == 'r' && sip_str_caseeq_n(s, "referred-by", 11))
			return SIP_HDR_REFERRED_BY;
		if (sip_lc((unsigned char)n[0]) == 'r' && sip_str_caseeq_n(s, "retry-after", 11))
			return SIP_HDR_RETRY_AFTER;
		if (sip_lc((unsigned char)n[0]) == 'u' && sip_str_caseeq_n(s, "unsupported", 11))
			return SIP_HDR_UNSUPPORTED;
		break;
	case 12:
		if (sip_lc((unsigned char)n[0]) == 'a' && sip_str_caseeq_n(s, "allow-events", 12))
			return SIP_HDR_ALLOW_EVENTS;
		if (sip_lc((unsigned char)n[0]) == 'c' && sip_str_caseeq_n(s, "content-type", 12))
			return SIP_HDR_CONTENT_TYPE;
		if (sip_lc((unsigned char)n[0]) == 'm' && sip_str_caseeq_n(s, "max-forwards", 12))
			return SIP_HDR_MAX_FORWARDS;
		if (sip_lc((unsigned char)n[0]) == 'r' && sip_str_caseeq_n(s, "record-route", 12))
			return SIP_HDR_RECORD_ROUTE;
		break;
	case 13:
		if (sip_lc((unsigned char)n[0]) == 'a' && sip_str_caseeq_n(s, "authorization", 13))
			return SIP_HDR_AUTHORIZATION;
		if (sip_lc((unsigned char)n[0]) == 'p' && sip_str_caseeq_n(s, "proxy-require", 13))
			return SIP_HDR_PROXY_REQUIRE;
		break;
	case 14:
		if (sip_lc((unsigned char)n[0]) == 'c' && sip_str_caseeq_n(s, "content-length", 14))
			return SIP_HDR_CONTENT_LENGTH;
		break;
	case 15:
		if (sip_lc((unsigned char)n[0]) == 'a' && sip_str_caseeq_n(s, "accept-encoding", 15))
			return SIP_HDR_ACCEPT_ENCODING;
		if (sip_lc((unsigned char)n[0]) == 'a' && sip_str_caseeq_n(s, "accept-language", 15))
			return SIP_HDR_ACCEPT_LANGUAGE;
		break;
	case 16:
		if (sip_lc((unsigned char)n[0]) == 'c' && sip_str_caseeq_n(s, "content-encoding", 16))
			return SIP_HDR_CONTENT_ENCODING;
		if (sip_lc((unsigned char)n[0]) == 'w' && sip_str_caseeq_n(s, "www-authenticate", 16))
			return SIP_HDR_WWW_AUTHENTICATE;
		break;
	case 18:
		if (sip_lc((unsigned char)n[0]) == 'p' && sip_str_caseeq_n(s, "proxy-authenticate", 18))
			return SIP_HDR_PROXY_AUTHENTICATE;
		break;
	case 19:
		if (sip_lc((unsigned char)n[0]) == 'c' && sip_str_caseeq_n(s, "content-disposition", 19))
			return SIP_HDR_CONTENT_DISPOSITION;
		if (sip_lc((unsigned char)n[0]) == 'p' && sip_str_caseeq_n(s, "proxy-authorization", 19))
			return SIP_HDR_PROXY_AUTHORIZATION;
		break;
	}
	return SIP_HDR_OTHER;
}

const char *sip_hdr_name(enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR__COUNT)
		return NULL;
	return sip_hdr_names[id];
}
