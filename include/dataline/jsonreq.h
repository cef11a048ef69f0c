/*
 * jsonreq: a strict, allocation-free reader for small JSON request bodies
 * (RFC 8259): the text must be one JSON object; the string members asked
 * for are unescaped (\uXXXX and surrogate pairs to UTF-8) into caller
 * buffers, every other member is validated and skipped. Pure: no I/O, no
 * allocation, bounded recursion. Used by the provisioning API, fuzzed by
 * tests/fuzz/fuzz_json_api.c.
 */
#ifndef DATALINE_JSONREQ_H
#define DATALINE_JSONREQ_H

#include <stddef.h>

#define JSONREQ_MAX_DEPTH 32

enum jsonreq_found {
	JSONREQ_MISSING = 0,   /* no member of that name */
	JSONREQ_STRING = 1,    /* a string, now in buf (NUL-terminated) */
	JSONREQ_NOT_STRING = 2 /* present, but a number/object/... */
};

struct jsonreq_field {
	const char *name;         /* in: member name (plain ASCII) */
	char *buf;                /* in: where the string value goes */
	size_t cap;               /* in: size of buf, NUL included */
	enum jsonreq_found found; /* out */
	size_t len;               /* out: bytes in buf without the NUL */
};

/*
 * Parses TEXT[0..LEN). Returns 0 and fills the fields, or -EINVAL (not
 * well-formed JSON, not an object, invalid UTF-8, a \u0000, nesting deeper
 * than JSONREQ_MAX_DEPTH, or a requested member given twice) or -E2BIG
 * (a requested string does not fit its buffer). On failure neither the
 * buffers nor the out fields are touched.
 */
int jsonreq_parse(const char *text, size_t len, struct jsonreq_field *fields,
		  size_t nfields);

#endif
