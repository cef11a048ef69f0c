/*
 * creds: device usernames, random passwords and their digest HA1 values
 * (RFC 3261 s.22.4, RFC 8760, RFC 7616 s.3.4.2). Randomness comes from
 * OpenSSL's CSPRNG with rejection sampling, so every password character
 * is uniform over the alphabet.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "creds.h"

static const char creds_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
#define CREDS_ALPHA_N 62
/* the largest multiple of 62 below 256: bytes at or above it are redrawn */
#define CREDS_BYTE_LIMIT 248

static int creds_random_password(char out[CREDS_PASSWORD_LEN + 1])
{
	unsigned char buf[64];
	size_t n = 0, used = sizeof(buf);

	while (n < CREDS_PASSWORD_LEN) {
		if (used == sizeof(buf)) {
			if (RAND_bytes(buf, sizeof(buf)) != 1)
				return -EIO;
			used = 0;
		}
		if (buf[used] < CREDS_BYTE_LIMIT)
			out[n++] = creds_alphabet[buf[used] % CREDS_ALPHA_N];
		used++;
	}
	out[n] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int creds_digest_hex(const EVP_MD *md, const char *a, const char *b,
			    const char *c, char *out, size_t cap)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md, NULL) &&
	     EVP_DigestUpdate(ctx, a, strlen(a)) &&
	     EVP_DigestUpdate(ctx, ":", 1) &&
	     EVP_DigestUpdate(ctx, b, strlen(b)) &&
	     EVP_DigestUpdate(ctx, ":", 1) &&
	     EVP_DigestUpdate(ctx, c, strlen(c)) &&
	     EVP_DigestFinal_ex(ctx, d, &len);
	EVP_MD_CTX_free(ctx);
	if (!ok || cap < 2 * (size_t)len + 1)
		return -EIO;
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return 0;
}

int creds_ha1(const char *username, const char *realm, const char *password,
	      char md5_out[STORE_HA1_MD5_LEN],
	      char sha256_out[STORE_HA1_SHA256_LEN])
{
	char m[STORE_HA1_MD5_LEN], s[STORE_HA1_SHA256_LEN];
	int err;

	if (!username || !realm || !password)
		return -EINVAL;
	err = creds_digest_hex(EVP_md5(), username, realm, password, m, sizeof(m));
	if (!err)
		err = creds_digest_hex(EVP_sha256(), username, realm, password,
				       s, sizeof(s));
	if (err)
		return err;
	memcpy(md5_out, m, sizeof(m));
	memcpy(sha256_out, s, sizeof(s));
	return 0;
}

int creds_new(const char *number, const char *realm, int64_t now,
	      struct creds *out)
{
	struct creds c = { 0 };
	unsigned char tag[4];
	int err;

	if (!number || number[0] != '+' || strlen(number) >= sizeof(c.dev.number) ||
	    !realm)
		return -EINVAL;
	if (RAND_bytes(tag, sizeof(tag)) != 1)
		return -EIO;
	snprintf(c.dev.username, sizeof(c.dev.username), "%s-%02x%02x%02x%02x",
		 number + 1, tag[0], tag[1], tag[2], tag[3]);
	snprintf(c.dev.number, sizeof(c.dev.number), "%s", number);
	c.dev.created = now;
	err = creds_random_password(c.password);
	if (!err)
		err = creds_ha1(c.dev.username, realm, c.password, c.dev.ha1_md5,
				c.dev.ha1_sha256);
	if (err) {
		OPENSSL_cleanse(&c, sizeof(c));
		return err;
	}
	*out = c;
	OPENSSL_cleanse(&c, sizeof(c));
	return 0;
}
