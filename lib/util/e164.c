/*
 * e164: E.164 number validation and normalisation (ITU-T E.164; visual
 * separators as in RFC 3966 s.5.1.1). See include/dataline/e164.h.
 */
#include <errno.h>
#include <string.h>

#include "dataline/e164.h"

static bool e164_is_separator(char c)
{
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

/*
 * "(0)" after the country code is how the national trunk prefix is often
 * written ("+44 (0)20 7946 0000", "+86(0)139..."): it is dialled only from
 * inside the country and is not part of the E.164 number. Dropping the
 * parentheses alone would keep the 0 and make a different number, so the
 * whole "(0)" goes. Only once, and only after at least one digit: "+(0)44"
 * still starts with 0 and is rejected.
 */
static bool e164_is_trunk_zero(const char *in, size_t len, size_t i)
{
	return i + 2 < len && in[i] == '(' && in[i + 1] == '0' &&
	       in[i + 2] == ')';
}

int e164_normalize(const char *in, size_t len, char out[E164_MAX])
{
	char buf[E164_MAX];
	size_t i = 0, n = 0;
	bool trunk_seen = false;

	if (!in)
		return -EINVAL;
	/* leading separators are not allowed: the number starts with '+' */
	if (len == 0 || in[0] != '+')
		return -EINVAL;
	buf[n++] = '+';
	for (i = 1; i < len; i++) {
		char c = in[i];

		if (n > 1 && !trunk_seen && e164_is_trunk_zero(in, len, i)) {
			trunk_seen = true;
			i += 2;
			continue;
		}
		if (e164_is_separator(c))
			continue;
		if (c < '0' || c > '9')
			return -EINVAL;
		if (n == 1 && c == '0')
			return -EINVAL;
		if (n - 1 >= E164_MAX_DIGITS)
			return -EINVAL;
		buf[n++] = c;
	}
	if (n - 1 < E164_MIN_DIGITS)
		return -EINVAL;
	buf[n] = '\0';
	memcpy(out, buf, n + 1);
	return 0;
}

bool e164_is_valid(const char *s)
{
	size_t n;

	if (!s || s[0] != '+')
		return false;
	n = strlen(s);
	if (n - 1 < E164_MIN_DIGITS || n - 1 > E164_MAX_DIGITS || s[1] == '0')
		return false;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool e164_country_code_valid(const char *cc)
{
	size_t n = cc ? strlen(cc) : 0;

	if (n < 1 || n > 3 || cc[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++)
		if (cc[i] < '0' || cc[i] > '9')
			return false;
	return true;
}

/*
 * The forms a phone's address book holds besides "+CC...": "00CC..." (the
 * international call prefix ITU-T recommends, E.164 Annex A, used by most
 * countries), and national numbers: a trunk prefix "0" then the national
 * number ("030 1234567" in Germany), or no trunk prefix at all (NANP:
 * "(415) 555-0100"). The separators are those e164_normalize() drops; the
 * result goes through e164_normalize() so its limits hold.
 */
int e164_normalize_national(const char *in, size_t len, const char *cc,
			    char out[E164_MAX])
{
	char buf[3 * E164_MAX + 8];
	size_t i, n = 0, start;

	if (!in)
		return -EINVAL;
	for (start = 0; start < len && e164_is_separator(in[start]); start++)
		;
	if (start < len && in[start] == '+')
		return e164_normalize(in + start, len - start, out);
	buf[n++] = '+';
	if (len - start >= 2 && in[start] == '0' && in[start + 1] == '0') {
		i = start + 2; /* 00CC...: international */
	} else {
		if (!e164_country_code_valid(cc))
			return -EINVAL;
		for (const char *c = cc; *c; c++)
			buf[n++] = *c;
		/* the national trunk prefix 0 is not part of the E.164 number */
		i = start < len && in[start] == '0' ? start + 1 : start;
	}
	for (; i < len; i++) {
		char c = in[i];

		if (e164_is_separator(c))
			continue;
		if (c < '0' || c > '9' || n >= sizeof(buf) - 1)
			return -EINVAL;
		buf[n++] = c;
	}
	return e164_normalize(buf, n, out);
}
