/*
 * media_srtp: SRTP/SRTCP contexts (RFC 3711) through libsrtp2 for the two
 * SDES suites we use (RFC 4568 s.6.2): AEAD_AES_128_GCM (RFC 7714: 16-byte
 * key, 12-byte salt, 16-byte tag) and AES_CM_128_HMAC_SHA1_80 (16-byte
 * key, 14-byte salt, 80-bit tag). One context per direction; it covers
 * both RTP and RTCP. libsrtp2 is initialised once per process.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "media_priv.h"

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static int srtp_init_err;

static void srtp_global_init(void)
{
	srtp_init_err = srtp_init() == srtp_err_status_ok ? 0 : -EIO;
}

size_t me_suite_keylen(enum media_suite s)
{
	switch (s) {
	case MEDIA_SUITE_AEAD_AES_128_GCM:
		return SRTP_AES_GCM_128_KEY_LEN_WSALT;	/* 28 */
	case MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80:
		return SRTP_AES_ICM_128_KEY_LEN_WSALT;	/* 30 */
	default:
		return 0;
	}
}

int me_srtp_new(srtp_t *out, enum media_suite s, const uint8_t *key,
		int inbound)
{
	srtp_policy_t p;
	uint8_t k[ME_MAX_KEY];
	srtp_t ctx = NULL;

	pthread_once(&srtp_once, srtp_global_init);
	if (srtp_init_err)
		return srtp_init_err;
	memset(&p, 0, sizeof(p));
	switch (s) {
	case MEDIA_SUITE_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
		break;
	case MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_rtp_default(&p.rtp);
		srtp_crypto_policy_set_rtcp_default(&p.rtcp);
		break;
	default:
		return -EINVAL;
	}
	memcpy(k, key, me_suite_keylen(s));
	p.key = k;
	p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	p.window_size = 1024;	/* jitter reorders; 64 is the minimum */
	p.allow_repeat_tx = 0;
	if (srtp_create(&ctx, &p) != srtp_err_status_ok)
		return -EINVAL;
	memset(k, 0, sizeof(k));
	*out = ctx;
	return 0;
}
