/*
 * fuzz_discover: libFuzzer target for contact discovery's request body,
 * exactly as server/http/discover.c reads it: jsonreq_array() over the
 * "numbers" member (at most 1000 entries, 64-byte entries), then
 * e164_normalize_national() with a default country code on every string.
 * Checks that nothing reads out of bounds, that callbacks come in order
 * with the count announced, that each string is exactly its reported
 * length (no hidden NUL), that a normalised number is valid E.164, that a
 * refused body makes no callback, and that parsing is deterministic.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/e164.h"
#include "dataline/jsonreq.h"

#define MAX_NUMBERS 1000

struct walk {
	size_t n;
	uint64_t sum;   /* of kinds, lengths and normalised bytes */
};

static int cb(void *arg, size_t index, enum jsonreq_found kind, const char *s,
	      size_t len)
{
	struct walk *w = arg;
	char out[E164_MAX];

	if (index != w->n++ || index >= MAX_NUMBERS || strlen(s) != len)
		abort();
	w->sum = w->sum * 31 + (uint64_t)kind * 1000 + len;
	if (kind == JSONREQ_STRING && len > 64)
		abort();
	if (kind != JSONREQ_STRING && len != 0)
		abort();
	if (kind == JSONREQ_STRING &&
	    e164_normalize_national(s, len, "49", out) == 0) {
		if (!e164_is_valid(out))
			abort();
		for (const char *p = out; *p; p++)
			w->sum = w->sum * 31 + (unsigned char)*p;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[65], buf2[65];
	struct walk a = { 0 }, b = { 0 };
	size_t count = (size_t)-1, count2 = (size_t)-1;
	int rc, rc2;

	if (size > 64 * 1024)
		return 0;
	rc = jsonreq_array((const char *)data, size, "numbers", buf,
			   sizeof(buf), MAX_NUMBERS, cb, &a, &count);
	rc2 = jsonreq_array((const char *)data, size, "numbers", buf2,
			    sizeof(buf2), MAX_NUMBERS, cb, &b, &count2);
	if (rc != rc2 || a.n != b.n || a.sum != b.sum || count != count2)
		abort();
	if (rc != 0 && (a.n != 0 || count != (size_t)-1))
		abort();
	if (rc == 0 && count != a.n)
		abort();
	return 0;
}
