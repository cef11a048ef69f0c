/*
 * media_gcm: the sending side of SRTP with AEAD_AES_128_GCM (RFC 7714)
 * done with OpenSSL's EVP, one key schedule per session kept for its
 * life. libsrtp2 still does everything else (receiving, SRTCP, the
 * AES_CM suite) and checks this code in tests/unit/test_media.c: a packet
 * protected here must unprotect there.
 *
 * Why: Debian's libsrtp2 runs on NSS, whose soft token finds each key and
 * session by walking hash chains of every key in the process; with the
 * thousands of streams one engine carries (four NSS keys each) a packet
 * cost several microseconds of cache misses (docs/decisions.md).
 *
 * Key derivation (RFC 3711 s.4.3.1, AES-CM PRF, key derivation rate 0):
 * x = (label at octet 7 of 14) XOR master salt, the 96-bit GCM salt padded
 * with two zero octets on the right (RFC 7714 s.11); the key stream of
 * AES-128-CTR(master key, x || 0x0000) gives the session key (label 0,
 * 16 octets) and salt (label 2, 12 octets). Per packet (RFC 7714 s.8):
 * IV = (00 00 || SSRC || ROC || SEQ) XOR session salt; the RTP header is
 * the associated data; the payload is encrypted and a 16-octet tag
 * appended.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "media_priv.h"

static int kdf(const uint8_t *mkey, const uint8_t *msalt12, uint8_t label,
	       uint8_t *out, size_t len)
{
	uint8_t iv[16] = { 0 }, zero[32] = { 0 };
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l, ok;

	if (!c)
		return -ENOMEM;
	memcpy(iv, msalt12, 12);	/* 14-octet x: salt || 00 00 */
	iv[7] ^= label;
	ok = EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, mkey, iv) == 1 &&
	     EVP_EncryptUpdate(c, out, &l, zero, (int)len) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EIO;
}

int me_gcm_init(struct me_gcm *g, const uint8_t *key_salt)
{
	uint8_t skey[16];
	int e;

	memset(g, 0, sizeof(*g));
	e = kdf(key_salt, key_salt + 16, 0x00, skey, 16);
	if (!e)
		e = kdf(key_salt, key_salt + 16, 0x02, g->salt, 12);
	if (e)
		return e;
	g->ctx = EVP_CIPHER_CTX_new();
	if (!g->ctx)
		return -ENOMEM;
	if (EVP_EncryptInit_ex(g->ctx, EVP_aes_128_gcm(), NULL, skey, NULL) != 1) {
		me_gcm_free(g);
		return -EIO;
	}
	memset(skey, 0, sizeof(skey));
	return 0;
}

void me_gcm_free(struct me_gcm *g)
{
	if (g->ctx)
		EVP_CIPHER_CTX_free(g->ctx);
	memset(g, 0, sizeof(*g));
}

int me_gcm_protect(struct me_gcm *g, uint8_t *pkt, size_t hdr_len,
		   size_t *len, size_t cap)
{
	uint8_t iv[12];
	uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
	int l, l2;

	if (*len + 16 > cap || hdr_len > *len)
		return -ENOSPC;
	if (g->started && seq < g->last_seq && g->last_seq - seq > 0x8000)
		g->roc++;	/* the sequence number wrapped */
	g->started = 1;
	g->last_seq = seq;
	iv[0] = g->salt[0];
	iv[1] = g->salt[1];
	for (int i = 0; i < 4; i++)	/* SSRC from the header */
		iv[2 + i] = pkt[8 + i] ^ g->salt[2 + i];
	for (int i = 0; i < 4; i++)
		iv[6 + i] = (uint8_t)(g->roc >> (24 - 8 * i)) ^ g->salt[6 + i];
	iv[10] = pkt[2] ^ g->salt[10];
	iv[11] = pkt[3] ^ g->salt[11];
	if (EVP_EncryptInit_ex(g->ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(g->ctx, NULL, &l, pkt, (int)hdr_len) != 1 ||
	    EVP_EncryptUpdate(g->ctx, pkt + hdr_len, &l, pkt + hdr_len,
			      (int)(*len - hdr_len)) != 1 ||
	    EVP_EncryptFinal_ex(g->ctx, pkt + hdr_len + l, &l2) != 1 ||
	    EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_GET_TAG, 16, pkt + *len) != 1)
		return -EIO;
	*len += 16;
	return 0;
}
