/*
 * modem_parse: pure helpers for the modem module. Extracts the one-time
 * code from the text of a dataline SMS ("Your dataline code is NNNNNN",
 * the server's fixed wording) and converts ModemManager's ISO 8601 SMS
 * timestamps (RFC 3339 style, with ModemManager's "+HH" short zone) to Unix
 * time. No I/O, no allocation.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dataline/modem.h"

static const char modem_code_marker[] = "dataline code is ";

int modem_parse_code(const char *text, size_t len, char code[MODEM_CODE_LEN + 1])
{
	const size_t mlen = sizeof(modem_code_marker) - 1;
	size_t i, j;

	if (!text)
		return -ENOENT;
	for (i = 0; i + mlen + MODEM_CODE_LEN <= len; i++) {
		if (strncasecmp(text + i, modem_code_marker, mlen) != 0)
			continue;
		const char *d = text + i + mlen;
		for (j = 0; j < MODEM_CODE_LEN; j++)
			if (!isdigit((unsigned char)d[j]))
				break;
		if (j != MODEM_CODE_LEN)
			continue;
		if (i + mlen + MODEM_CODE_LEN < len &&
		    isdigit((unsigned char)d[MODEM_CODE_LEN]))
			continue;
		memcpy(code, d, MODEM_CODE_LEN);
		code[MODEM_CODE_LEN] = '\0';
		return 0;
	}
	return -ENOENT;
}

/* Reads exactly n digits at *p; advances *p. */
static int modem_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int modem_expect(const char **p, char c)
{
	if (**p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

int modem_parse_timestamp(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se, zh = 0, zm = 0, sign = 1;
	const char *p = s;
	time_t t;

	if (!s)
		return -EINVAL;
	if (modem_digits(&p, 4, &y) || modem_expect(&p, '-') ||
	    modem_digits(&p, 2, &mo) || modem_expect(&p, '-') ||
	    modem_digits(&p, 2, &d))
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if (modem_digits(&p, 2, &h) || modem_expect(&p, ':') ||
	    modem_digits(&p, 2, &mi) || modem_expect(&p, ':') ||
	    modem_digits(&p, 2, &se))
		return -EINVAL;
	if (*p == '.' || *p == ',') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (modem_digits(&p, 2, &zh))
			return -EINVAL;
		if (*p == ':')
			p++;
		if (*p && modem_digits(&p, 2, &zm))
			return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60 || zh > 14 || zm > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	*out = (int64_t)t - sign * (int64_t)(zh * 3600 + zm * 60);
	return 0;
}
