/*
 * nonce: stateless, verifiable digest nonces for the server (RFC 7616
 * s.3.3 and s.5.4 suggest a nonce built from a time stamp, the client's
 * address and a private key). nonce = hex(time(8, big-endian) | random(8)
 * | HMAC-SHA256(key, time | random | addr)[0..15]). Any worker holding the
 * key can tell a genuine nonce from a forged one and a fresh one from a
 * stale one without shared state; only the nonce-count replay window (per
 * nonce) needs state, and that is the caller's.
 *
 * ADDR is the client's source IP (4 or 16 bytes, never the port: NATs
 * rebind ports). A nonce only verifies from the address it was issued to,
 * so a request authenticated with it proves the sender can receive at that
 * address: an attacker holding a nonce cannot have big answers reflected
 * to a spoofed victim. The address is not in the nonce, only in the MAC.
 * Nonces are accepted only as issued (lowercase hex), so one nonce has one
 * spelling for the replay tracker.
 *
 * The time field is seconds << 20 | a process-wide issue counter (low 20
 * bits), so nonces of one second are ordered by issue too: the replay
 * tracker (server/sip/auth.c) compares these 64 bits with the newest nonce
 * it evicted, and the order keeps a nonce issued after that one usable.
 * A wrapped counter only makes a nonce look older (stale), never newer.
 */
#include <errno.h>
#include <stdatomic.h>
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
#define N_SEQ_BITS 20

static _Atomic uint64_t nonce_seq;

int sip_nonce_key_new(uint8_t key[SIP_NONCE_KEY_LEN])
{
	return RAND_bytes(key, SIP_NONCE_KEY_LEN) == 1 ? 0 : -EIO;
}

static int mac(const uint8_t key[SIP_NONCE_KEY_LEN], const uint8_t *data,
	       const void *addr, size_t addr_len, uint8_t out[N_MAC])
{
	unsigned char md[EVP_MAX_MD_SIZE], in[N_TIME + N_RAND + 1 + 16];
	unsigned mdl = 0;

	if (addr_len > 16 || (addr_len && !addr))
		return -EINVAL;
	/* time | random | length | addr: the length byte keeps an empty
	 * address and a v4 one from ever colliding */
	memcpy(in, data, N_TIME + N_RAND);
	in[N_TIME + N_RAND] = (unsigned char)addr_len;
	if (addr_len)
		memcpy(in + N_TIME + N_RAND + 1, addr, addr_len);
	if (!HMAC(EVP_sha256(), key, SIP_NONCE_KEY_LEN, in,
		  N_TIME + N_RAND + 1 + addr_len, md, &mdl) || mdl < N_MAC)
		return -EIO;
	memcpy(out, md, N_MAC);
	return 0;
}

int sip_nonce_make(const uint8_t key[SIP_NONCE_KEY_LEN], uint64_t now,
		   const void *addr, size_t addr_len, char out[SIP_NONCE_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	uint8_t raw[N_RAW];
	uint64_t t = now << N_SEQ_BITS |
		     ((atomic_fetch_add_explicit(&nonce_seq, 1,
						 memory_order_relaxed)) &
		      ((1u << N_SEQ_BITS) - 1));
	int rc;

	for (int i = 0; i < N_TIME; i++)
		raw[i] = (uint8_t)(t >> (56 - 8 * i));
	if (RAND_bytes(raw + N_TIME, N_RAND) != 1)
		return -EIO;
	rc = mac(key, raw, addr, addr_len, raw + N_TIME + N_RAND);
	if (rc)
		return rc;
	for (int i = 0; i < N_RAW; i++) {
		out[2 * i] = hx[raw[i] >> 4];
		out[2 * i + 1] = hx[raw[i] & 15];
	}
	out[SIP_NONCE_LEN] = '\0';
	return 0;
}

/* A lowercase hex digit's value, else -1 (uppercase is not as issued). */
static int lowhex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sip_nonce_check(const uint8_t key[SIP_NONCE_KEY_LEN], struct sip_str nonce,
		    uint64_t now, uint64_t ttl, const void *addr,
		    size_t addr_len, uint64_t *issued)
{
	uint8_t raw[N_RAW], want[N_MAC];
	uint64_t t = 0;

	if (!nonce.p || nonce.len != SIP_NONCE_LEN)
		return -EINVAL;
	for (int i = 0; i < N_RAW; i++) {
		int h = lowhex((unsigned char)nonce.p[2 * i]);
		int l = lowhex((unsigned char)nonce.p[2 * i + 1]);
		if (h < 0 || l < 0)
			return -EINVAL;
		raw[i] = (uint8_t)(h << 4 | l);
	}
	if (mac(key, raw, addr, addr_len, want) ||
	    CRYPTO_memcmp(want, raw + N_TIME + N_RAND, N_MAC) != 0)
		return -EINVAL;
	for (int i = 0; i < N_TIME; i++)
		t = t << 8 | raw[i];
	t >>= N_SEQ_BITS;
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
