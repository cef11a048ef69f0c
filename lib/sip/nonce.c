/*
 * nonce: stateless, verifiable digest nonces for the server (RFC 7616
 * s.3.3 and s.5.4 suggest a nonce built from a time stamp and a private
 * key). nonce = hex(time(8, big-endian) | random(8) | HMAC-SHA256(key,
 * time | random)[0..15]). Any worker holding the key can tell a genuine
 * nonce from a forged one and a fresh one from a stale one without
 * shared state; only the nonce-count replay window (per nonce) needs
 * state, and that is the caller's.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sip_int.h"

#define N_TIME 8
#define N_RAND 8
#define N_MAC 16
#define N_RAW (N_TIME + N_RAND + N_MAC)

int sip_nonce_key_new(uint8_t key[SIP_NONCE_KEY_LEN])
{
	return RAND_bytes(key, SIP_NONCE_KEY_LEN) == 1 ? 0 : -EIO;
}

static int mac(const uint8_t key[SIP_NONCE_KEY_LEN], const uint8_t *data,
	       uint8_t out[N_MAC])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdl = 0;

	if (!HMAC(EVP_sha256(), key, SIP_NONCE_KEY_LEN, data, N_TIME + N_RAND,
		  md, &mdl) || mdl < N_MAC)
		return -EIO;
	memcpy(out, md, N_MAC);
	return 0;
}

int sip_nonce_make(const uint8_t key[SIP_NONCE_KEY_LEN], uint64_t now,
		   char out[SIP_NONCE_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	uint8_t raw[N_RAW];
	int rc;

	for (int i = 0; i < N_TIME; i++)
		raw[i] = (uint8_t)(now >> (56 - 8 * i));
	if (RAND_bytes(raw + N_TIME, N_RAND) != 1)
		return -EIO;
	rc = mac(key, raw, raw + N_TIME + N_RAND);
	if (rc)
		return rc;
	for (int i = 0; i < N_RAW; i++) {
		out[2 * i] = hx[raw[i] >> 4];
		out[2 * i + 1] = hx[raw[i] & 15];
	}
	out[SIP_NONCE_LEN] = '\0';
	return 0;
}

int sip_nonce_check(const uint8_t key[SIP_NONCE_KEY_LEN], struct sip_str nonce,
		    uint64_t now, uint64_t ttl, uint64_t *issued)
{
	uint8_t raw[N_RAW], want[N_MAC];
	uint64_t t = 0;

	if (!nonce.p || nonce.len != SIP_NONCE_LEN)
		return -EINVAL;
	for (int i = 0; i < N_RAW; i++) {
		int h = sip_hexval((unsigned char)nonce.p[2 * i]);
		int l = sip_hexval((unsigned char)nonce.p[2 * i + 1]);
		if (h < 0 || l < 0)
			return -EINVAL;
		raw[i] = (uint8_t)(h << 4 | l);
	}
	if (mac(key, raw, want) ||
	    CRYPTO_memcmp(want, raw + N_TIME + N_RAND, N_MAC) != 0)
		return -EINVAL;
	for (int i = 0; i < N_TIME; i++)
		t = t << 8 | raw[i];
	/* a nonce from the future (clock stepped back) is not ours to trust
	 * beyond a minute of skew between workers/nodes */
	if (t > now + 60)
		return -EINVAL;
	if (now > t && now - t > ttl)
		return -ESTALE;
	if (issued)
		*issued = t;
	return 0;
}
