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
	JSONREQ_NOT_STRING = 2,/* present, but a number/object/... */
	JSONREQ_TOO_LONG = 3   /* jsonreq_array: a string longer than cap-1 */
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

/*
 * One element of the array jsonreq_array() walks: its index, its kind
 * (JSONREQ_STRING with the unescaped text in S, LEN bytes, NUL-terminated;
 * JSONREQ_TOO_LONG or JSONREQ_NOT_STRING with S empty). A non-zero return
 * stops the walk and is returned by jsonreq_array().
 */
typedef int (*jsonreq_elem_cb)(void *arg, size_t index,
			       enum jsonreq_found kind, const char *s,
			       size_t len);

/*
 * Reads TEXT[0..LEN) as one JSON object with a member NAME (plain ASCII,
 * under 64 bytes) whose value is an array, e.g. {"numbers":["+49...",..]}.
 * The whole text is validated first (as jsonreq_parse does; other members
 * are skipped); only then is CB called once per element, in order, each
 * string unescaped into BUF (CAP bytes, NUL included). Returns 0 (and the
 * element count in *COUNT if not NULL, set before the first callback), or
 * without any callback: -EINVAL (malformed, not an object, NAME twice or
 * not an array), -ENOENT (no member NAME), -E2BIG (more than MAX_ELEMS
 * elements; the walk stops at the first one over); or what CB returned.
 * Pure: no allocation, no I/O; fuzzed by tests/fuzz/fuzz_discover.c.
 */
int jsonreq_array(const char *text, size_t len, const char *name, char *buf,
		  size_t cap, size_t max_elems, jsonreq_elem_cb cb, void *arg,
		  size_t *count);

#endif
