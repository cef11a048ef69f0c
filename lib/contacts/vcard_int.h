/*
 * vcard_int: helpers shared by the vCard card reader (vcard.c) and its
 * value decoders (vcard_value.c). Not a public header.
 */
#ifndef DATALINE_VCARD_INT_H
#define DATALINE_VCARD_INT_H

#include <stddef.h>

#include "dataline/vcard.h"

static inline int vcard_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 6350 s.3.3 name and param-name characters, with '_' for the X-
 * names some exporters write. */
static inline int vcard_is_namechar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The length of the fold (CRLF or LF, then one space or tab; RFC 6350
 * s.3.2) at p, 0 if there is none. */
static inline size_t vcard_fold_len(const char *p, const char *end)
{
	size_t n = p < end && *p == '\r' ? 1 : 0;

	if (p + n + 1 < end && p[n] == '\n' && vcard_is_wsp(p[n + 1]))
		return n + 2;
	return 0;
}

static inline const char *vcard_skip_folds(const char *p, const char *end)
{
	size_t f;

	while ((f = vcard_fold_len(p, end)) != 0)
		p += f;
	return p;
}

static inline const char *vcard_span_name(const char *p, const char *end)
{
	while (p < end && vcard_is_namechar(*p))
		p++;
	return p;
}

#endif
