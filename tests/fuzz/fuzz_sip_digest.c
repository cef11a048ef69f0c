/*
 * fuzz_sip_digest: libFuzzer target for the Digest header decoders
 * (RFC 7616, RFC 8760) and the nonce checker. Property: for any challenge
 * the decoder accepts and the client can answer, the Authorization header
 * the client builds decodes on the server side and verifies against the
 * same password -- a round trip through both ends of lib/sip.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/sip.h"

static const uint8_t key[SIP_NONCE_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_str s = { (const char *)data, size };
	struct sip_digest_challenge ch;
	struct sip_digest_credentials cr;
	char out[4096], realm[600], ha1[SIP_DIGEST_HEX_MAX];
	struct sip_buf b;
	size_t n;

	if (size > 4096)
		return 0;
	sip_nonce_check(key, s, 1000, 300, key, 4, NULL);
	if (sip_digest_credentials_decode(s, &cr) == 0) {
		sip_digest_ha1(SIP_DIGEST_MD5, "u", "r", "p", ha1);
		sip_digest_verify(&cr, SIP_STR_LIT("REGISTER"), ha1);
		sip_digest_ha1(SIP_DIGEST_SHA256, "u", "r", "p", ha1);
		sip_digest_verify(&cr, SIP_STR_LIT("REGISTER"), ha1);
	}
	if (sip_digest_challenge_decode(s, &ch) != 0)
		return 0;
	sip_buf_init(&b, out, sizeof(out));
	if (sip_digest_authorization_add(&b, "Authorization", &ch, "alice",
					 "secret", NULL, "REGISTER",
					 "sip:dataline.local", "cn", 1) != 0)
		return 0;
	if (sip_buf_finish(&b, &n) || n < 17)
		abort();
	/* "Authorization: " ... "\r\n" */
	if (sip_digest_credentials_decode((struct sip_str){ out + 15, n - 17 }, &cr))
		abort();
	if (sip_str_unquote(ch.realm, realm, sizeof(realm), NULL))
		abort();
	if (sip_digest_ha1(ch.alg, "alice", realm, "secret", ha1))
		abort();
	if (sip_digest_verify(&cr, SIP_STR_LIT("REGISTER"), ha1) != 0)
		abort();
	return 0;
}
