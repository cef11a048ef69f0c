/*
 * fuzz_e164: libFuzzer target for e164_normalize(): never reads past len,
 * and whatever it accepts is a valid, idempotent E.164 number.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/e164.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[E164_MAX], again[E164_MAX];

	if (size > 256)
		return 0;
	if (e164_normalize((const char *)data, size, out) == 0) {
		if (!e164_is_valid(out))
			abort();
		if (e164_normalize(out, strlen(out), again) != 0 ||
		    strcmp(out, again) != 0)
			abort();
	}
	return 0;
}
