/*
 * e164: validating and normalising telephone numbers in the international
 * E.164 form ("+" country code and subscriber number, ITU-T E.164; the
 * "global number" of RFC 3966 s.5.1.1 without its visual separators).
 * Pure functions, no allocation.
 */
#ifndef DATALINE_E164_H
#define DATALINE_E164_H

#include <stdbool.h>
#include <stddef.h>

/* "+" plus at most 15 digits, plus the NUL. */
#define E164_MAX 17
#define E164_MIN_DIGITS 8
#define E164_MAX_DIGITS 15

/*
 * Normalises IN (LEN bytes, not necessarily NUL-terminated) into OUT
 * (E164_MAX bytes): drops the visual separators RFC 3966 allows
 * (space, '-', '.', '(', ')') and one national trunk prefix written
 * "(0)" after the country code ("+44 (0)20..." -> "+4420..."), then requires "+" followed by 8..15 digits,
 * the first of which is not 0. Returns 0, or -EINVAL (OUT untouched).
 */
int e164_normalize(const char *in, size_t len, char out[E164_MAX]);

/* True if S (NUL-terminated) is already a normalised E.164 number. */
bool e164_is_valid(const char *s);

/* True if CC is a country calling code's form: 1-3 digits, not 0-led. */
bool e164_country_code_valid(const char *cc);

/*
 * Like e164_normalize() for the forms an address book holds: "+..." as
 * e164_normalize(); "00CC..." as "+CC..."; otherwise a national number,
 * its trunk prefix "0" (if any) dropped and "+" CC put in front
 * ("030 1234567", CC "49" -> "+49301234567"; "(415) 555-0100", CC "1" ->
 * "+14155550100"). CC NULL or not valid: only the first two forms are
 * accepted. Returns 0, or -EINVAL (OUT untouched).
 */
int e164_normalize_national(const char *in, size_t len, const char *cc,
			    char out[E164_MAX]);

#endif
