/*
 * scan: finding one header in a SIP message without parsing it (RFC 3261
 * s.7.3: header lines, the compact forms of s.7.3.3), for the decisions
 * made before the real parse, such as which worker a datagram goes to.
 * Pure, allocation-free, never reads past LEN. Folded header lines are
 * not unfolded: a Call-ID folded over two lines is not found, and the
 * caller falls back (the message is then handled where it was read).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "dataline/sip.h"

int sip_scan_call_id(const char *buf, size_t len, const char **v,
			  size_t *vlen)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t nlen;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return -ENOENT;
		p = nl + 1;
		if (p >= end || *p == '\r' || *p == '\n')
			return -ENOENT; /* end of the head */
		if ((size_t)(end - p) > 8 && !strncasecmp(p, "call-id", 7))
			nlen = 7;
		else if ((*p == 'i' || *p == 'I') && end - p > 1 &&
			 (p[1] == ':' || p[1] == ' ' || p[1] == '\t'))
			nlen = 1;
		else
			continue;
		p += nlen;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p != ':')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (nl = p; nl < end && *nl != '\r' && *nl != '\n'; nl++)
			;
		if (nl == end)
			return -ENOENT;
		*v = p;
		*vlen = (size_t)(nl - p);
		return *vlen ? 0 : -ENOENT;
	}
	return -ENOENT;
}

