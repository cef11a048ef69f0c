/*
 * fuzz_stun: libFuzzer target for the RFC 5389 Binding subset (RFC 5626
 * keep-alives). Properties beyond "no crash": stun_parse accepts only
 * what stun_is_stun recognises; a parsed request answered with
 * stun_binding_response_build parses back with the same transaction id
 * and address; a response accepted by stun_binding_response_parse agrees
 * with stun_parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m;
	struct stun_addr a;
	uint8_t out[128];
	size_t n;

	if (size > 4096)
		return 0;
	if (stun_parse(data, size, &m) != 0)
		return 0;
	if (!stun_is_stun(data, size) || (size_t)m.length + STUN_HDR_LEN != size)
		abort();
	if (m.software && (m.software < data ||
			   m.software + m.software_len > data + size))
		abort();
	if (m.has_mapped) {
		if (stun_binding_response_build(m.tid, &m.mapped, "fz", out,
						sizeof(out), &n))
			abort();
		if (stun_binding_response_parse(out, n, m.tid, &a) ||
		    a.family != m.mapped.family || a.port != m.mapped.port ||
		    memcmp(a.ip, m.mapped.ip, sizeof(a.ip)))
			abort();
	}
	if (stun_binding_response_parse(data, size, m.tid, &a) == 0 &&
	    (m.type != STUN_BINDING_SUCCESS || !m.has_mapped))
		abort();
	return 0;
}
