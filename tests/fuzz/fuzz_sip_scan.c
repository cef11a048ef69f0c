/*
 * fuzz_sip_scan: libFuzzer target for sip_scan_call_id(): never reads
 * past len, and a value it finds lies inside the input, is not empty and
 * holds no CR or LF.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *v;
	size_t n;

	if (size > 65536)
		return 0;
	if (sip_scan_call_id(buf, size, &v, &n) == 0) {
		if (n == 0 || v < buf || v + n > buf + size ||
		    memchr(v, '\r', n) || memchr(v, '\n', n))
			abort();
	}
	return 0;
}
