/*
 * fuzz_json_api: libFuzzer target for the provisioning API's request
 * parsing, exactly as server/http/http_reg.c does it: jsonreq_parse()
 * for "number" and "code", then e164_normalize() on the number. Checks
 * that nothing reads out of bounds, that accepted strings are exactly
 * their reported length (no hidden NUL), that a refusal leaves the
 * buffers untouched, and that parsing is deterministic.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/e164.h"
#include "dataline/jsonreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char number[64], code[16], number2[64], code2[16], norm[E164_MAX];
	struct jsonreq_field f[2] = {
		{ .name = "number", .buf = number, .cap = sizeof(number) },
		{ .name = "code", .buf = code, .cap = sizeof(code) },
	};
	struct jsonreq_field g[2] = {
		{ .name = "number", .buf = number2, .cap = sizeof(number2) },
		{ .name = "code", .buf = code2, .cap = sizeof(code2) },
	};
	int rc, rc2;

	if (size > 8192)
		return 0;
	memset(number, 0x55, sizeof(number));
	memset(code, 0x55, sizeof(code));
	rc = jsonreq_parse((const char *)data, size, f, 2);
	rc2 = jsonreq_parse((const char *)data, size, g, 2);
	if (rc != rc2)
		abort();
	if (rc != 0) {
		for (size_t i = 0; i < sizeof(number); i++)
			if ((unsigned char)number[i] != 0x55)
				abort();
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (f[i].found != g[i].found || f[i].len != g[i].len)
			abort();
		if (f[i].found == JSONREQ_STRING &&
		    (strlen(f[i].buf) != f[i].len || f[i].len >= f[i].cap ||
		     memcmp(f[i].buf, g[i].buf, f[i].len + 1) != 0))
			abort();
	}
	if (f[0].found == JSONREQ_STRING &&
	    e164_normalize(number, f[0].len, norm) == 0 && !e164_is_valid(norm))
		abort();
	return 0;
}
