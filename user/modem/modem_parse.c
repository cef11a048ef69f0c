/*
 * modem_parse: pure helpers for the modem module. Extracts the one-time
 * code from the text of a dataline SMS ("Your dataline code is NNNNNN",
 * the server's fixed wording) and converts ModemManager's ISO 8601 SMS
 * timestamps (RFC 3339 style, with ModemManager's "+HH" short zone) to Unix
 * time, and checks the number and text of an SMS we are about to send
 * (step C22). No I/O, no allocation.
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

/*
 * Length of the UTF-8 sequence at s (at most n bytes), or 0 if it is not
 * well formed (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF). D-Bus rejects such strings, so we say so before sending.
 */
static size_t modem_utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

int modem_number_check(const char *number)
{
	size_t i, digits;

	if (!number)
		return -EINVAL;
	i = number[0] == '+';
	for (digits = 0; number[i] >= '0' && number[i] <= '9'; i++)
		digits++;
	return number[i] == '\0' && digits && digits <= MODEM_SMS_NUMBER_MAX ? 0 : -EINVAL;
}

int modem_sms_check(const char *number, const char *text)
{
	size_t i, n;

	if (!text || modem_number_check(number) < 0)
		return -EINVAL;
	n = strnlen(text, MODEM_SMS_TEXT_MAX + 1);
	if (n == 0)
		return -EINVAL;
	if (n > MODEM_SMS_TEXT_MAX)
		return -EMSGSIZE;
	for (i = 0; i < n; ) {
		size_t l = modem_utf8_seq((const unsigned char *)text + i, n - i);

		if (l == 0)
			return -EINVAL;
		i += l;
	}
	return 0;
}
