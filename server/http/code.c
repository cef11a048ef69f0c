/*
 * code: one-time code generation, hashing, checking and resend limits
 * (see code.h). The codes are the possession proof of the provisioning
 * flow (like RCS/Signal SMS verification); six digits only give 20 bits,
 * so what protects them is the try limit, the expiry and the resend
 * limits, not the hash: the salted HMAC only keeps a copied database from
 * showing live codes at a glance.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "code.h"

/* Largest multiple of 10^6 that fits in 2^32: values at or above it are
 * redrawn so that every code is exactly equally likely. */
#define CODE_SPACE 1000000u
#define CODE_LIMIT (4294967296ull / CODE_SPACE * CODE_SPACE)

int code_generate(char out[CODE_DIGITS + 1])
{
	uint32_t v;
	unsigned char b[4];

	do {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return -EIO;
		v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		    (uint32_t)b[2] << 8 | b[3];
	} while (v >= CODE_LIMIT);
	v %= CODE_SPACE;
	for (int i = CODE_DIGITS - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[CODE_DIGITS] = '\0';
	return 0;
}

int code_hash(const uint8_t salt[STORE_CODE_SALT_LEN], const char *code,
	      size_t len, uint8_t out[STORE_CODE_HASH_LEN])
{
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), salt, STORE_CODE_SALT_LEN,
		  (const unsigned char *)code, len, out, &n) ||
	    n != STORE_CODE_HASH_LEN)
		return -EIO;
	return 0;
}

int code_new(const char *number, int64_t now, int ttl, struct store_code *out,
	     char code_out[CODE_DIGITS + 1])
{
	struct store_code c = { 0 };
	char code[CODE_DIGITS + 1];
	uint8_t id[(STORE_SESSION_MAX - 1) / 2];
	int err;

	if (!number || strlen(number) >= sizeof(c.number) || ttl <= 0)
		return -EINVAL;
	memcpy(c.number, number, strlen(number) + 1);
	if (RAND_bytes(c.salt, sizeof(c.salt)) != 1 ||
	    RAND_bytes(id, sizeof(id)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(c.session + 2 * i, 3, "%02x", id[i]);
	err = code_generate(code);
	if (!err)
		err = code_hash(c.salt, code, CODE_DIGITS, c.hash);
	if (err)
		return err;
	c.created = now;
	c.expires_at = now + ttl;
	c.tries = 0;
	*out = c;
	memcpy(code_out, code, sizeof(code));
	OPENSSL_cleanse(code, sizeof(code));
	return 0;
}

static int code_well_formed(const char *code, size_t len)
{
	if (!code || len != CODE_DIGITS)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	return 1;
}

enum code_verdict code_check(const struct store_code *pending,
			     const char *code, size_t len, int64_t now,
			     int max_tries)
{
	uint8_t h[STORE_CODE_HASH_LEN];

	if (pending->tries >= max_tries)
		return CODE_TOO_MANY_TRIES;
	if (now >= pending->expires_at)
		return CODE_EXPIRED;
	if (!code_well_formed(code, len))
		return CODE_INVALID;
	if (code_hash(pending->salt, code, len, h) != 0)
		return CODE_INVALID;
	return CRYPTO_memcmp(h, pending->hash, sizeof(h)) == 0 ? CODE_OK
							       : CODE_INVALID;
}

const struct code_window_info code_windows[CODE_W__N] = {
	[CODE_W_NUMBER_HOUR] = { 1, 0, 3600 },
	[CODE_W_CLIENT_HOUR] = { 0, 1, 3600 },
	[CODE_W_NUMBER_CLIENT_HOUR] = { 1, 1, 3600 },
	[CODE_W_NUMBER_DAY] = { 1, 0, 86400 },
	[CODE_W_NUMBER_CLIENT_DAY] = { 1, 1, 86400 },
};

void code_limits_share(struct code_limits *lim)
{
	int cap = lim->max[CODE_W_NUMBER_DAY];

	lim->max[CODE_W_NUMBER_CLIENT_DAY] = cap >= 2 ? cap / 2 : 1;
}

int code_rate_check(const struct code_limits *lim, int64_t now,
		    const struct code_history *h, int64_t *retry_after,
		    enum code_window *which)
{
	enum code_window worst = CODE_W__N;
	int64_t wait = 0, w;

	if (h->last_sent >= 0 && now < h->last_sent + lim->resend_interval)
		wait = h->last_sent + lim->resend_interval - now;
	for (int i = 0; i < CODE_W__N; i++) {
		if (h->sent[i] < (uint64_t)lim->max[i])
			continue;
		/* stale data (oldest already out of the window) still
		 * waits >= 1 s */
		w = h->oldest[i] + code_windows[i].length + 1 - now;
		if (w < 1)
			w = 1;
		if (w > wait) {
			wait = w;
			worst = (enum code_window)i;
		}
	}
	if (wait <= 0)
		return 0;
	*retry_after = wait;
	if (which)
		*which = worst;
	return -EAGAIN;
}
