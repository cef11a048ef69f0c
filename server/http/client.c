/*
 * client: a client's address masked to its counting prefix (client.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client.h"

static void client_mask(uint8_t *a, size_t len, int bits)
{
	for (size_t i = 0; i < len; i++) {
		int keep = bits - (int)i * 8;

		if (keep >= 8)
			continue;
		a[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
}

int client_prefix(const char *addr, int v4_bits, int v6_bits,
		  char out[CLIENT_KEY_MAX])
{
	uint8_t a[16];
	char txt[INET6_ADDRSTRLEN];
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	int af = AF_INET, bits = v4_bits;

	snprintf(out, CLIENT_KEY_MAX, "%s", addr ? addr : "");
	if (!addr || v4_bits < 0 || v4_bits > 32 || v6_bits < 0 ||
	    v6_bits > 128)
		return -EINVAL;
	if (inet_pton(AF_INET6, addr, a) == 1) {
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memmove(a, a + 12, 4);
		} else {
			af = AF_INET6;
			bits = v6_bits;
		}
	} else if (inet_pton(AF_INET, addr, a) != 1) {
		return -EINVAL;
	}
	client_mask(a, af == AF_INET ? 4 : 16, bits);
	if (!inet_ntop(af, a, txt, sizeof(txt)))
		return -EINVAL;
	snprintf(out, CLIENT_KEY_MAX, "%s/%d", txt, bits);
	return 0;
}
