/*
 * test_media: the media engine's parts without the network clock: G.711
 * against the reference values and round trips, the jitter buffer's
 * decisions (in order, loss with FEC, loss without, DTX, late, duplicate,
 * skip and hold, target bounds), SRTP/SRTCP with both suites and with a
 * wrong key (RFC 3711, RFC 7714), the offer (RFC 3264, RFC 4568 lines) and
 * answers picking codec and suite, refused offers and a table of malformed
 * or mismatched answers, the E-model figures, WAV write/read, resampling
 * and the cross-correlation, ALSA on the null device. The whole call is tests/integration/
 * media_call.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataline/media.h"
#include "dataline/sdp.h"
#include "../../user/media/media_priv.h"

/* ------------------------------------------------------------- G.711 */

static void t_g711(void **st)
{
	(void)st;
	/* reference values (ITU-T G.711 tables, Sun g711.c) */
	assert_int_equal(me_ulaw_enc(0), 0xff);
	assert_int_equal(me_ulaw_dec(0x00), -32124);
	assert_int_equal(me_ulaw_dec(0x80), 32124);
	assert_int_equal(me_ulaw_dec(0xff), 0);
	assert_int_equal(me_alaw_enc(0), 0xd5);
	assert_int_equal(me_alaw_dec(0xd5), 8);
	assert_int_equal(me_alaw_dec(0x55), -8);
	assert_int_equal(me_alaw_dec(0xaa), 32256);
	assert_int_equal(me_alaw_dec(0x2a), -32256);
	assert_int_equal(me_ulaw_enc(32767), 0x80);
	assert_int_equal(me_ulaw_enc(-32768), 0x00);
	assert_int_equal(me_alaw_enc(32767), 0xaa);
	assert_int_equal(me_alaw_enc(-32768), 0x2a);
	/* every code decodes to a value that encodes back to it (mu-law
	 * 0x7f, negative zero, comes back as 0xff) */
	for (int c = 0; c < 256; c++) {
		assert_int_equal(me_alaw_enc(me_alaw_dec((uint8_t)c)), c);
		if (c != 0x7f)
			assert_int_equal(me_ulaw_enc(me_ulaw_dec((uint8_t)c)), c);
	}
	/* quantisation error bounded by the segment step (about 1/16) */
	for (int v = -32000; v <= 32000; v += 7) {
		int u = me_ulaw_dec(me_ulaw_enc((int16_t)v)) - v;
		int a = me_alaw_dec(me_alaw_enc((int16_t)v)) - v;
		int lim = abs(v) / 16 + 16;

		assert_true(abs(u) <= lim);
		assert_true(abs(a) <= lim);
	}
}

static void t_codec_roundtrip(void **st)
{
	struct me_codec c;
	int16_t pcm[960], out[960];
	uint8_t pay[512];
	int n;
	(void)st;

	for (int i = 0; i < 960; i++)
		pcm[i] = (int16_t)(8000 * ((i / 20) % 2 ? 1 : -1));
	assert_int_equal(me_codec_open(&c, MEDIA_CODEC_PCMA, 0, 0), 0);
	assert_int_equal(c.rate, 8000);
	n = me_codec_encode(&c, pcm, pay, sizeof(pay));
	assert_int_equal(n, 160);
	assert_int_equal(me_codec_decode(&c, pay, (size_t)n, 0, out), 0);
	assert_true(abs(out[5] - pcm[5]) < 300);
	/* concealment: the last frame, halved, then quieter, then silence */
	assert_int_equal(me_codec_decode(&c, NULL, 0, 0, out), 0);
	assert_int_equal(out[5], me_alaw_dec(me_alaw_enc(pcm[5])) >> 1);
	for (int i = 0; i < 5; i++)
		me_codec_decode(&c, NULL, 0, 0, out);
	assert_int_equal(out[5], 0);
	me_codec_close(&c);

	assert_int_equal(me_codec_open(&c, MEDIA_CODEC_OPUS, 32000, 0), 0);
	assert_int_equal(c.frame, 960);
	for (int k = 0; k < 5; k++) {
		n = me_codec_encode(&c, pcm, pay, sizeof(pay));
		assert_true(n > 2 && n < 200);
		assert_int_equal(me_codec_decode(&c, pay, (size_t)n, k == 4, out), 0);
	}
	assert_int_equal(me_codec_decode(&c, NULL, 0, 0, out), 0);
	/* a corrupt packet is concealed, not an error */
	memset(pay, 0xff, 40);
	assert_int_equal(me_codec_decode(&c, pay, 40, 0, out), 0);
	me_codec_close(&c);
	assert_int_equal(me_codec_open(&c, MEDIA_CODEC_NONE, 0, 0), -EINVAL);
}

/* ----------------------------------------------------- jitter buffer */

#define F 960u			/* Opus frame at 48 kHz */
#define MS 1000000ull

static uint64_t at(unsigned frame, unsigned extra_ms)
{
	return 1000 * MS + (uint64_t)frame * 20 * MS + extra_ms * MS;
}

static void put(struct me_jb *jb, unsigned i, unsigned extra_ms)
{
	uint8_t b = (uint8_t)i;

	assert_int_equal(me_jb_put(jb, (uint16_t)(100 + i), 5000 + i * F,
				   at(i, extra_ms), &b, 1), 0);
}

static void t_jb_order_loss(void **st)
{
	struct me_jb jb;
	struct me_jb_out o;
	uint8_t b = 0;
	(void)st;

	me_jb_init(&jb, 48000, F, 1);
	assert_int_equal(jb.target, 2 * F);	/* Opus: two frames */
	assert_int_equal(me_jb_get(&jb, at(0, 0), &o), ME_JB_WAIT);
	put(&jb, 0, 0);
	assert_int_equal(me_jb_get(&jb, at(0, 1), &o), ME_JB_WAIT);
	put(&jb, 1, 0);
	put(&jb, 2, 0);
	/* first packet's playout point: its arrival + the target (40 ms) */
	assert_int_equal(me_jb_get(&jb, at(2, 0), &o), ME_JB_PLAY);
	assert_int_equal(o.data[0], 0);
	assert_int_equal(me_jb_get(&jb, at(3, 0), &o), ME_JB_PLAY);
	assert_int_equal(o.data[0], 1);
	/* 3 lost, 4 there: FEC from 4, then 4 itself */
	put(&jb, 4, 0);
	assert_int_equal(me_jb_get(&jb, at(4, 0), &o), ME_JB_PLAY);
	assert_int_equal(o.data[0], 2);
	assert_int_equal(me_jb_get(&jb, at(5, 0), &o), ME_JB_FEC);
	assert_int_equal(o.data[0], 4);
	put(&jb, 5, 0);
	assert_int_equal(me_jb_get(&jb, at(6, 0), &o), ME_JB_PLAY);
	assert_int_equal(o.data[0], 4);
	/* a duplicate */
	assert_int_equal(me_jb_put(&jb, 105, 5000 + 5 * F, at(6, 5), &b, 1), -EALREADY);
	assert_int_equal(me_jb_put(&jb, 106, 0, 0, &b, ME_JB_MAXPAY + 1), -E2BIG);
	/* nothing buffered: an underrun, concealed */
	assert_int_equal(me_jb_get(&jb, at(7, 0), &o), ME_JB_PLAY);
	assert_int_equal(me_jb_get(&jb, at(8, 0), &o), ME_JB_PLC);
	assert_int_equal(jb.underruns, 1);
	assert_int_equal(jb.fec_used, 1);
	/* a late packet is refused, and widens the target (its transit) */
	assert_int_equal(me_jb_put(&jb, 103, 5000 + 3 * F, at(8, 5), &b, 1), -EALREADY);
	assert_int_equal(jb.late, 1);
	assert_true(jb.target > 5 * F);
}

static void t_jb_dtx_g711(void **st)
{
	struct me_jb jb;
	struct me_jb_out o;
	(void)st;

	/* G.711: one frame of target, no FEC: a loss is concealed */
	me_jb_init(&jb, 8000, 160, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(me_jb_put(&jb, (uint16_t)i, i * 160, at(i, 0),
					   (const uint8_t *)"x", 1), 0);
	assert_int_equal(me_jb_put(&jb, 4, 4 * 160, at(4, 0), (const uint8_t *)"y", 1), 0);
	assert_int_equal(me_jb_get(&jb, at(1, 0), &o), ME_JB_PLAY);
	assert_int_equal(me_jb_get(&jb, at(2, 0), &o), ME_JB_PLAY);
	assert_int_equal(me_jb_get(&jb, at(3, 0), &o), ME_JB_PLAY);
	assert_int_equal(me_jb_get(&jb, at(4, 0), &o), ME_JB_PLC);	/* 3 lost */
	assert_int_equal(me_jb_get(&jb, at(5, 0), &o), ME_JB_PLAY);
	/* DTX: the next packet is 10 frames on but next in sequence */
	assert_int_equal(me_jb_put(&jb, 5, 15 * 160, at(15, 0), (const uint8_t *)"z", 1), 0);
	for (unsigned t = 6; t < 16; t++)
		assert_int_equal(me_jb_get(&jb, at(t, 0), &o), ME_JB_PLC);
	assert_int_equal(jb.dtx, 10);	/* frames 5..14: silence, not loss */
	assert_int_equal(me_jb_get(&jb, at(16, 0), &o), ME_JB_PLAY);
	assert_int_equal(o.data[0], 'z');
	assert_int_equal(jb.skipped, 0);
}

static void t_jb_adapt(void **st)
{
	struct me_jb jb;
	struct me_jb_out o;
	unsigned plays = 0;
	(void)st;

	/* arrivals spread over 0..30 ms: the target follows (spread + half
	 * a frame), bounded by 200 ms */
	me_jb_init(&jb, 48000, F, 1);
	for (unsigned t = 0, next = 0; t < 80; t++) {
		/* tick at t * 20 ms + 10: what has arrived by then goes in */
		while (next < 64 && at(next, (next * 7) % 31) <= at(t, 10)) {
			put(&jb, next, (next * 7) % 31);
			next++;
		}
		if (me_jb_get(&jb, at(t, 10), &o) == ME_JB_PLAY)
			plays++;
	}
	assert_int_equal(jb.target, 30 * 48 + F / 2);
	assert_int_equal(jb.late, 0);
	assert_int_equal(plays, 64);
	assert_true(me_jb_target_ms(&jb) > 39.9 && me_jb_target_ms(&jb) < 40.1);
	/* a 500 ms spread is capped at 200 ms */
	me_jb_init(&jb, 48000, F, 1);
	put(&jb, 0, 0);
	put(&jb, 1, 500);
	assert_int_equal(jb.target, 48000 / 5);
	/* steering: playing too late skips a frame in a silence (DTX: the
	 * next packet is next in sequence); a big jump in timestamps starts
	 * over */
	me_jb_init(&jb, 8000, 160, 0);
	assert_int_equal(me_jb_put(&jb, 1, 0, at(0, 0), (const uint8_t *)"a", 1), 0);
	assert_int_equal(me_jb_get(&jb, at(1, 0), &o), ME_JB_PLAY);
	assert_int_equal(me_jb_put(&jb, 2, 3 * 160, at(3, 0), (const uint8_t *)"c", 1), 0);
	/* at 3: frame 1 skipped (we are a frame late), 2 concealed */
	assert_int_equal(me_jb_get(&jb, at(3, 0), &o), ME_JB_PLC);
	assert_int_equal(me_jb_get(&jb, at(4, 0), &o), ME_JB_PLAY);
	assert_int_equal(o.data[0], 'c');
	assert_int_equal(jb.skipped, 1);
	assert_int_equal(me_jb_get(&jb, at(60, 0), &o), ME_JB_WAIT);
	assert_int_equal(jb.started, 0);
}

/* --------------------------------------------------------------- SRTP */

static void srtp_case(enum media_suite su)
{
	uint8_t key[ME_MAX_KEY], bad[ME_MAX_KEY], pkt[256], copy[256], pay[100];
	struct rtp_hdr h = { .pt = 111, .seq = 7, .ts = 960, .ssrc = 0x1234 };
	srtp_t tx, rx, rxbad;
	size_t n;
	int l, l2;

	for (int i = 0; i < ME_MAX_KEY; i++) {
		key[i] = (uint8_t)(i * 7 + 1);
		bad[i] = key[i];
	}
	bad[3] ^= 1;
	memset(pay, 0x5a, sizeof(pay));
	assert_int_equal(me_srtp_new(&tx, su, key, 0), 0);
	assert_int_equal(me_srtp_new(&rx, su, key, 1), 0);
	assert_int_equal(me_srtp_new(&rxbad, su, bad, 1), 0);
	assert_int_equal(rtp_build(&h, pay, sizeof(pay), pkt, sizeof(pkt), &n), 0);
	l = (int)n;
	assert_int_equal(srtp_protect(tx, pkt, &l), srtp_err_status_ok);
	assert_int_equal(l, (int)n + (su == MEDIA_SUITE_AEAD_AES_128_GCM ? 16 : 10));
	assert_memory_not_equal(pkt + 12, pay, 16);	/* encrypted */
	memcpy(copy, pkt, (size_t)l);
	l2 = l;
	assert_int_equal(srtp_unprotect(rxbad, copy, &l2), srtp_err_status_auth_fail);
	assert_int_equal(srtp_unprotect(rx, pkt, &l), srtp_err_status_ok);
	assert_int_equal(l, (int)n);
	assert_memory_equal(pkt + 12, pay, sizeof(pay));
	/* a replay is refused */
	memcpy(pkt, copy, (size_t)l2);
	assert_int_not_equal(srtp_unprotect(rx, pkt, &l2), srtp_err_status_ok);
	srtp_dealloc(tx);
	srtp_dealloc(rx);
	srtp_dealloc(rxbad);
}

/* Our GCM sender (media_gcm.c) against libsrtp2's receiver, across a
 * sequence number wrap (the rollover counter, RFC 3711 s.3.3.1). */
static void t_gcm_vs_libsrtp(void **st)
{
	uint8_t key[ME_MAX_KEY], pkt[256], pay[100];
	struct me_gcm g;
	srtp_t rx;
	(void)st;

	for (int i = 0; i < ME_MAX_KEY; i++)
		key[i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(me_gcm_init(&g, key), 0);
	assert_int_equal(me_srtp_new(&rx, MEDIA_SUITE_AEAD_AES_128_GCM, key, 1), 0);
	for (unsigned k = 0; k < 6; k++) {
		struct rtp_hdr h = { .pt = 111, .seq = (uint16_t)(0xfffd + k),
				     .ts = 960 * k, .ssrc = 0xcafe0001 };
		size_t n;
		int l;

		memset(pay, (int)k, sizeof(pay));
		assert_int_equal(rtp_build(&h, pay, sizeof(pay), pkt, sizeof(pkt), &n), 0);
		assert_int_equal(me_gcm_protect(&g, pkt, 12, &n, sizeof(pkt)), 0);
		assert_int_equal(n, 12 + sizeof(pay) + 16);
		l = (int)n;
		assert_int_equal(srtp_unprotect(rx, pkt, &l), srtp_err_status_ok);
		assert_int_equal(l, 12 + (int)sizeof(pay));
		assert_memory_equal(pkt + 12, pay, sizeof(pay));
	}
	assert_int_equal(g.roc, 1);
	/* a flipped bit fails libsrtp2's tag check */
	{
		struct rtp_hdr h = { .pt = 111, .seq = 3, .ts = 0, .ssrc = 0xcafe0001 };
		size_t n;
		int l;

		assert_int_equal(rtp_build(&h, pay, sizeof(pay), pkt, sizeof(pkt), &n), 0);
		assert_int_equal(me_gcm_protect(&g, pkt, 12, &n, sizeof(pkt)), 0);
		pkt[20] ^= 1;
		l = (int)n;
		assert_int_equal(srtp_unprotect(rx, pkt, &l), srtp_err_status_auth_fail);
		assert_int_equal(me_gcm_protect(&g, pkt, 12, &n, n + 10), -ENOSPC);
	}
	me_gcm_free(&g);
	srtp_dealloc(rx);
}

static void t_srtp(void **st)
{
	uint8_t key[ME_MAX_KEY] = { 0 };
	srtp_t x;
	(void)st;

	srtp_case(MEDIA_SUITE_AEAD_AES_128_GCM);
	srtp_case(MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(me_suite_keylen(MEDIA_SUITE_AEAD_AES_128_GCM), 28);
	assert_int_equal(me_suite_keylen(MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80), 30);
	assert_int_equal(me_srtp_new(&x, MEDIA_SUITE_NONE, key, 0), -EINVAL);
}

/* ------------------------------------------------------- offer/answer */

static struct media_engine *eng;

static int setup_engine(void **st)
{
	(void)st;
	return media_engine_new(NULL, &eng);
}

static int teardown_engine(void **st)
{
	(void)st;
	media_engine_free(eng);
	return 0;
}

static struct media_session *sess(unsigned flags)
{
	struct media_config c = { .addr = "127.0.0.1", .flags = flags };
	struct media_session *s = NULL;

	assert_int_equal(media_session_new(eng, &c, &s), 0);
	assert_int_equal(media_port(s) % 2, 0);
	return s;
}

static void t_offer(void **st)
{
	struct media_session *a = sess(MEDIA_F_TEL_EVENT | MEDIA_F_RTCP_MUX);
	char sdp[2048], k1[64] = "", k2[64] = "";
	struct sdp_desc *d = malloc(sizeof(*d));
	const struct sdp_media *m;
	size_t n;
	(void)st;

	assert_int_equal(media_offer(a, sdp, 10, &n), -ENOSPC);
	assert_int_equal(media_offer(a, sdp, sizeof(sdp), &n), 0);
	assert_int_equal(strlen(sdp), n);
	assert_int_equal(sdp_parse(sdp, n, d), 0);
	m = &d->media[0];
	assert_int_equal(d->nmedia, 1);
	assert_int_equal(m->proto, SDP_PROTO_RTP_SAVP);
	assert_int_equal(m->port, media_port(a));
	assert_int_equal(m->nfmts, 4);
	assert_int_equal(m->fmts[0].pt, 111);	/* Opus first */
	assert_int_equal(m->fmts[1].pt, 0);
	assert_int_equal(m->fmts[2].pt, 8);
	assert_int_equal(m->fmts[3].pt, 101);
	assert_non_null(strstr(sdp, "a=rtpmap:111 opus/48000/2\r\n"));
	assert_non_null(strstr(sdp, "a=fmtp:111 useinbandfec=1;usedtx=1\r\n"));
	assert_non_null(strstr(sdp, "a=rtpmap:101 telephone-event/8000\r\n"));
	assert_int_equal(m->rtcp_mux, 1);
	assert_int_equal(m->rtcp_port, media_port(a) + 1);
	assert_int_equal(m->ncrypto, 2);
	assert_int_equal(m->crypto[0].tag, 1);
	assert_int_equal(m->crypto[0].suite.len, strlen("AEAD_AES_128_GCM"));
	assert_memory_equal(m->crypto[0].suite.p, "AEAD_AES_128_GCM", 16);
	assert_int_equal(m->crypto[1].tag, 2);
	assert_memory_equal(m->crypto[1].suite.p, "AES_CM_128_HMAC_SHA1_80", 23);
	assert_int_equal(m->crypto[0].key.len, 40);	/* 28 bytes */
	assert_int_equal(m->crypto[1].key.len, 40);	/* 30 bytes */
	memcpy(k1, m->crypto[0].key.p, 40);
	memcpy(k2, m->crypto[1].key.p, 40);
	/* a second offer has fresh keys */
	assert_int_equal(media_offer(a, sdp, sizeof(sdp), &n), 0);
	assert_null(strstr(sdp, k1));
	assert_null(strstr(sdp, k2));
	media_session_free(a);

	a = sess(MEDIA_F_OFFER_PLAIN | MEDIA_F_NO_OPUS);
	assert_int_equal(media_offer(a, sdp, sizeof(sdp), &n), 0);
	assert_int_equal(sdp_parse(sdp, n, d), 0);
	assert_int_equal(d->media[0].proto, SDP_PROTO_RTP_AVP);
	assert_int_equal(d->media[0].ncrypto, 0);
	assert_int_equal(d->media[0].fmts[0].pt, 0);
	assert_null(strstr(sdp, "a=rtcp-mux"));
	media_session_free(a);
	free(d);
}

/* Replaces the first `from` in s with `to` (in place, s has room). */
static void subst(char *s, const char *from, const char *to)
{
	char *p = strstr(s, from);
	size_t fl = strlen(from), tl = strlen(to);

	assert_non_null(p);
	memmove(p + tl, p + fl, strlen(p + fl) + 1);
	memcpy(p, to, tl);
}

/* Sets the m= port to 0 (the stream declined, RFC 3264 s.6). */
static void zero_port(char *s)
{
	char *p = strstr(s, "m=audio ") + 8;
	size_t digits = strcspn(p, " ");

	memmove(p + 1, p + digits, strlen(p + digits) + 1);
	*p = '0';
}

/* Removes the whole line that contains `part`. */
static void drop_line(char *s, const char *part)
{
	char *p = strstr(s, part), *b, *e;

	assert_non_null(p);
	for (b = p; b > s && b[-1] != '\n'; b--)
		;
	e = strstr(p, "\r\n") + 2;
	memmove(b, e, strlen(e) + 1);
}

static void t_answer(void **st)
{
	struct media_session *a = sess(0), *b = sess(0);
	char offer[2048], ans[2048];
	struct media_stats s1;
	size_t n;
	(void)st;

	assert_int_equal(media_accept(a, "v=0", 3), -EALREADY);	/* no offer */
	assert_int_equal(media_offer(a, offer, sizeof(offer), &n), 0);
	assert_int_equal(media_answer(b, offer, n, ans, sizeof(ans), &n), 0);
	assert_non_null(strstr(ans, "m=audio "));
	assert_non_null(strstr(ans, " RTP/SAVP 111\r\n"));
	assert_non_null(strstr(ans, "a=crypto:1 AEAD_AES_128_GCM inline:"));
	assert_null(strstr(ans, "a=crypto:2"));
	assert_int_equal(media_accept(a, ans, n), 0);
	assert_int_equal(media_accept(a, ans, n), -EALREADY);
	assert_int_equal(media_answer(b, offer, strlen(offer), ans, sizeof(ans), &n),
			 -EALREADY);
	/* both ends agree on what they hold; start and stop at once */
	assert_int_equal(memcmp(a->tx_key, b->rx_key, 28), 0);
	assert_int_equal(memcmp(b->tx_key, a->rx_key, 28), 0);
	assert_int_equal(a->codec, MEDIA_CODEC_OPUS);
	assert_int_equal(a->suite, MEDIA_SUITE_AEAD_AES_128_GCM);
	assert_int_equal(media_start(a), 0);
	assert_int_equal(media_start(a), -EALREADY);
	assert_int_equal(media_stop(a), 0);
	assert_int_equal(media_stop(a), 0);
	assert_int_equal(media_stats(a, &s1), 0);
	assert_string_equal(s1.codec_name, "opus");
	media_session_free(a);
	media_session_free(b);

	/* only AES_CM offered, answerer without Opus: PCMU + AES_CM */
	a = sess(0);
	b = sess(MEDIA_F_NO_OPUS);
	assert_int_equal(media_offer(a, offer, sizeof(offer), &n), 0);
	drop_line(offer, "a=crypto:1 ");
	assert_int_equal(media_answer(b, offer, strlen(offer), ans, sizeof(ans), &n), 0);
	assert_non_null(strstr(ans, " RTP/SAVP 0\r\n"));
	assert_non_null(strstr(ans, "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"));
	assert_int_equal(media_accept(a, ans, n), 0);
	assert_int_equal(a->codec, MEDIA_CODEC_PCMU);
	assert_int_equal(a->suite, MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80);
	media_session_free(a);
	media_session_free(b);
}

struct offer_row {
	const char *name;
	unsigned flags;		/* the answerer's */
	const char *from, *to;	/* a change to a good offer */
	const char *drop;	/* a line to remove */
	int err;
};

static void t_offer_refused(void **st)
{
	static const struct offer_row rows[] = {
		{ "plain not allowed", 0, "RTP/SAVP", "RTP/AVP", NULL, -EPROTONOSUPPORT },
		{ "plain allowed", MEDIA_F_ALLOW_PLAIN, "RTP/SAVP", "RTP/AVP", NULL, 0 },
		{ "udp/tls", MEDIA_F_ALLOW_PLAIN, "RTP/SAVP", "UDP/TLS/RTP/SAVP", NULL,
		  -EPROTONOSUPPORT },
		{ "no crypto", 0, NULL, NULL, "a=crypto:", -ENOTSUP },
		{ "unknown suites", 0, "AEAD_AES_128_GCM", "F8_128_HMAC_SHA1_80", "a=crypto:2",
		  -ENOTSUP },
		{ "short key", 0, "inline:", "inline:QUJD", NULL, 0 },
		{ "no common codec", 0, "RTP/SAVP 111 0 8", "RTP/SAVP 18", NULL, -ENOENT },
		{ "declined audio", 0, "m=audio ", "m=audio 0", NULL, -ENOENT },
		{ "video only", 0, "m=audio", "m=video", NULL, -ENOENT },
		{ "IPv6", 0, "c=IN IP4 127.0.0.1", "c=IN IP6 ::1", NULL, -EDESTADDRREQ },
		{ "null address", 0, "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", NULL,
		  -EDESTADDRREQ },
		{ "bad line", 0, "s=", "x=", NULL, -EBADMSG },
		{ "bad crypto", 0, "inline:", "inlin:", NULL, -EBADMSG },
	};
	char offer[2048], ans[2048];
	size_t n;
	(void)st;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct offer_row *r = &rows[i];
		struct media_session *a = sess(0), *b = sess(r->flags);
		int want = r->err, got;	/* "short key": the second suite */

		assert_int_equal(media_offer(a, offer, sizeof(offer), &n), 0);
		if (r->from && !strcmp(r->to, "m=audio 0"))
			zero_port(offer);
		else if (r->from)
			subst(offer, r->from, r->to);
		while (r->drop && strstr(offer, r->drop))
			drop_line(offer, r->drop);
		got = media_answer(b, offer, strlen(offer), ans, sizeof(ans), &n);
		if (got != want)
			fail_msg("row '%s': %d, wanted %d", r->name, got, want);
		if (!strcmp(r->name, "short key"))
			assert_non_null(strstr(ans, "a=crypto:2 AES_CM_128_HMAC_SHA1_80"));
		media_session_free(a);
		media_session_free(b);
	}
}

struct answer_row {
	const char *name;
	const char *from, *to;
	int err;
};

static void t_answer_malformed(void **st)
{
	static const struct answer_row rows[] = {
		{ "garbage", NULL, "hello", -EBADMSG },
		{ "empty", NULL, "", -EBADMSG },
		{ "truncated", NULL, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n", -EBADMSG },
		{ "bare CR", "s=-", "s=-\r", -EBADMSG },
		{ "no t=", "t=0 0\r\n", "", -EBADMSG },
		{ "bad port", "m=audio ", "m=audio x", -EBADMSG },
		{ "pt over 127", "RTP/SAVP 111", "RTP/SAVP 200", -EBADMSG },
		{ "crypto without key", "inline:", "", -EBADMSG },
		{ "tag not offered", "a=crypto:1 ", "a=crypto:7 ", -EPROTO },
		{ "suite not the tag's", "a=crypto:1 AEAD_AES_128_GCM",
		  "a=crypto:1 AES_CM_128_HMAC_SHA1_80", -EPROTO },
		{ "key too short", "inline:", "inline:QUJD", -EPROTO },
		{ "key not base64 length", "inline:", "inline:Q", -EPROTO },
		{ "two crypto lines", "a=crypto:1 ", "a=crypto:2 AES_CM_128_HMAC_SHA1_80 "
		  "inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw\r\na=crypto:1 ", -EPROTO },
		{ "MKI", "==\r\n", "==|1:4\r\n", -EPROTO },	/* not used */
		{ "plain answer", "RTP/SAVP", "RTP/AVP", -EPROTONOSUPPORT },
		{ "feedback profile", "RTP/SAVP", "RTP/SAVPF", 0 },	/* secure */
		{ "pt not offered", "RTP/SAVP 111", "RTP/SAVP 96", -EPROTO },
		{ "opus on another pt", "RTP/SAVP 111", "RTP/SAVP 97", -EPROTO },
		{ "declined", "m=audio ", "m=audio 0", -ENOENT },
		{ "IPv6", "c=IN IP4 127.0.0.1", "c=IN IP6 ::1", -EDESTADDRREQ },
	};
	char offer[2048], ans[2048], bad[4096];
	size_t n;
	(void)st;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct answer_row *r = &rows[i];
		struct media_session *a = sess(0), *b = sess(0);
		int got;

		assert_int_equal(media_offer(a, offer, sizeof(offer), &n), 0);
		assert_int_equal(media_answer(b, offer, n, ans, sizeof(ans), &n), 0);
		snprintf(bad, sizeof(bad), "%s", r->from ? ans : r->to);
		if (r->from && !strcmp(r->to, "m=audio 0"))
			zero_port(bad);
		else if (r->from)
			subst(bad, r->from, r->to);
		got = media_accept(a, bad, strlen(bad));
		if (got != r->err)
			fail_msg("row '%s': %d, wanted %d\n%s", r->name, got, r->err, bad);
		media_session_free(a);
		media_session_free(b);
	}
}

static void t_session_args(void **st)
{
	struct media_config c = { .addr = "127.0.0.1", .port = 29011 };
	struct media_session *s = NULL, *s2 = NULL;
	(void)st;

	assert_int_equal(media_session_new(eng, &c, &s), -EINVAL);	/* odd */
	c.port = 29010;
	assert_int_equal(media_session_new(eng, &c, &s), 0);
	assert_int_equal(media_port(s), 29010);
	assert_int_equal(media_session_new(eng, &c, &s2), -EADDRINUSE);
	assert_int_equal(media_start(s), -EPROTO);	/* nothing negotiated */
	media_session_free(s);
	c.addr = "not an address";
	assert_int_equal(media_session_new(eng, &c, &s), -EINVAL);
	media_session_free(NULL);
}

/* ------------------------------------------------------------ E-model */

static void t_emodel(void **st)
{
	double mos, r;
	(void)st;

	r = media_emodel(0, 0, MEDIA_CODEC_PCMU, &mos);
	assert_true(r > 93.19 && r < 93.21);
	assert_true(mos > 4.40 && mos < 4.42);
	/* G.711 with PLC at 5% random loss: Ie,eff = 95 * 5 / 30.1 */
	r = media_emodel(0, 5, MEDIA_CODEC_PCMU, &mos);
	assert_true(r > 77.40 && r < 77.45);
	/* 200 ms one way: Id = 4.8 + 0.11 * 22.7 */
	r = media_emodel(200, 0, MEDIA_CODEC_PCMA, NULL);
	assert_true(r > 85.89 && r < 85.91);
	r = media_emodel(1000, 100, MEDIA_CODEC_OPUS, &mos);
	assert_true(r == 0 && mos == 1);
}

/* ---------------------------------------------------------------- WAV */

static void t_wav(void **st)
{
	char path[] = "/tmp/test_media_XXXXXX";
	struct media_pcm p = { 0 }, r = { 0 }, up = { 0 };
	int16_t s[1600], d[2000];
	double corr;
	size_t lag;
	int fd = mkstemp(path);
	(void)st;

	assert_true(fd >= 0);
	close(fd);
	for (uint32_t i = 0, x = 1; i < 1600; i++) {	/* noise (an LCG) */
		x = x * 1103515245u + 12345u;
		s[i] = (int16_t)((x >> 16) % 20000 - 10000);
	}
	assert_int_equal(media_wav_write(path, s, 1600, 16000), 0);
	assert_int_equal(media_wav_read(path, &p), 0);
	assert_int_equal(p.rate, 16000);
	assert_int_equal(p.n, 1600);
	assert_memory_equal(p.samples, s, sizeof(s));
	assert_int_equal(media_pcm_resample(&p, 8000, &r), 0);
	assert_int_equal(r.n, 800);
	assert_int_equal(r.samples[10], (int16_t)((s[20] + s[21]) / 2.0));
	assert_int_equal(media_pcm_resample(&r, 48000, &up), 0);
	assert_int_equal(up.n, 4800);
	assert_int_equal(up.samples[6], r.samples[1]);
	/* the correlation finds a known delay */
	memset(d, 0, sizeof(d));
	memcpy(d + 123, s, sizeof(s));
	{
		struct media_pcm b = { d, 2000, 16000 };

		assert_int_equal(media_xcorr(&p, &b, 400, &corr, &lag), 0);
		assert_int_equal(lag, 123);
		assert_true(corr > 0.999);
		/* by windows: a delay 5 samples off the global one is found */
		assert_int_equal(media_xcorr_seg(&p, &b, 118, 10, 400, &corr), 0);
		assert_true(corr > 0.999);
		assert_int_equal(media_xcorr_seg(&p, &b, 100, 10, 400, &corr), 0);
		assert_true(corr < 0.9);
	}
	media_pcm_free(&p);
	media_pcm_free(&r);
	media_pcm_free(&up);
	/* not a WAV, and a stereo one */
	assert_int_equal(media_wav_write(path, s, 10, 8000), 0);
	fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, "\x02", 1, 22), 1);	/* 2 channels */
	close(fd);
	assert_int_equal(media_wav_read(path, &p), -ENOTSUP);
	fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, "RIFX", 4, 0), 4);
	close(fd);
	assert_int_equal(media_wav_read(path, &p), -EBADMSG);
	unlink(path);
	assert_int_equal(media_wav_read("/nonexistent.wav", &p), -ENOENT);
}

/* ALSA through alsa-lib's "null" device (in every alsa.conf): the streams
 * open at the codec's rate and take and give frames without blocking (a
 * blocking call would hang the test); a device that does not exist is an
 * error. */
static void t_alsa(void **st)
{
	struct me_audio_out o;
	struct me_audio_in in;
	int16_t pcm[960];
	(void)st;

	memset(pcm, 0x11, sizeof(pcm));
	assert_int_equal(me_audio_out_open(&o, "alsa:null", 48000), 0);
	for (int k = 0; k < 10; k++)
		me_audio_out_write(&o, pcm, 960);
	me_audio_out_close(&o);
	assert_int_equal(me_audio_in_open(&in, "alsa:null", 8000, 0), 0);
	for (int k = 0; k < 5; k++)	/* the null device's data is undefined */
		me_audio_in_read(&in, pcm, 160);
	me_audio_in_close(&in);
	assert_true(me_audio_out_open(&o, "alsa:no_such_device", 8000) < 0);
	assert_true(me_audio_in_open(&in, "/nonexistent.wav", 8000, 0) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_g711),
		cmocka_unit_test(t_codec_roundtrip),
		cmocka_unit_test(t_jb_order_loss),
		cmocka_unit_test(t_jb_dtx_g711),
		cmocka_unit_test(t_jb_adapt),
		cmocka_unit_test(t_srtp),
		cmocka_unit_test(t_gcm_vs_libsrtp),
		cmocka_unit_test(t_offer),
		cmocka_unit_test(t_answer),
		cmocka_unit_test(t_offer_refused),
		cmocka_unit_test(t_answer_malformed),
		cmocka_unit_test(t_session_args),
		cmocka_unit_test(t_emodel),
		cmocka_unit_test(t_wav),
		cmocka_unit_test(t_alsa),
	};
	return cmocka_run_group_tests(tests, setup_engine, teardown_engine);
}
