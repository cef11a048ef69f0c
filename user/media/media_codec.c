/*
 * media_codec: Opus (RFC 6716, RTP payload RFC 7587) through libopus with
 * in-band FEC and DTX, and G.711 mu-law/A-law (ITU-T G.711, RFC 3551
 * PCMU/PCMA) written here: the segment encoders of the reference code
 * (Sun's g711.c, public domain) in a few lines each. Concealment: libopus
 * PLC; for G.711 the last frame repeated, attenuated by 6 dB a frame and
 * silent after five (a simple form of G.711 appendix I's idea).
 */
#include <errno.h>
#include <string.h>

#include "media_priv.h"

/* -------------------------------------------------------------- G.711 */

#define ULAW_BIAS 0x84
#define ULAW_CLIP 32635

uint8_t me_ulaw_enc(int16_t s)
{
	int sign = 0, exp = 7, v = s, mant;

	if (v < 0) {
		v = -v;
		sign = 0x80;
	}
	if (v > ULAW_CLIP)
		v = ULAW_CLIP;
	v += ULAW_BIAS;
	for (int mask = 0x4000; !(v & mask) && exp > 0; mask >>= 1)
		exp--;
	mant = (v >> (exp + 3)) & 0x0f;
	return (uint8_t)~(sign | exp << 4 | mant);
}

int16_t me_ulaw_dec(uint8_t u)
{
	int t;

	u = (uint8_t)~u;
	t = ((u & 0x0f) << 3) + ULAW_BIAS;
	t <<= (u & 0x70) >> 4;
	return (int16_t)((u & 0x80) ? ULAW_BIAS - t : t - ULAW_BIAS);
}

uint8_t me_alaw_enc(int16_t s)
{
	int v = s >> 3, mask, seg = 0, aval;	/* 13-bit magnitude */

	if (v >= 0) {
		mask = 0xd5;
	} else {
		mask = 0x55;
		v = -v - 1;
	}
	/* segment ends: 0x1f, 0x3f, 0x7f, ... 0xfff */
	for (int end = 0x1f; seg < 8 && v > end; end = end << 1 | 1)
		seg++;
	if (seg >= 8)
		return (uint8_t)(0x7f ^ mask);
	aval = seg << 4;
	aval |= seg < 2 ? (v >> 1) & 0x0f : (v >> seg) & 0x0f;
	return (uint8_t)(aval ^ mask);
}

int16_t me_alaw_dec(uint8_t a)
{
	int t, seg;

	a ^= 0x55;
	t = (a & 0x0f) << 4;
	seg = (a & 0x70) >> 4;
	if (seg == 0)
		t += 8;
	else if (seg == 1)
		t += 0x108;
	else
		t = (t + 0x108) << (seg - 1);
	return (int16_t)((a & 0x80) ? t : -t);
}

/* -------------------------------------------------------------- codec */

int me_codec_open(struct me_codec *c, enum media_codec id, unsigned bitrate,
		  int dtx)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->id = id;
	switch (id) {
	case MEDIA_CODEC_PCMU:
	case MEDIA_CODEC_PCMA:
		c->rate = 8000;
		c->frame = 160;
		return 0;
	case MEDIA_CODEC_OPUS:
		break;
	default:
		return -EINVAL;
	}
	c->rate = 48000;
	c->frame = 960;
	c->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	if (!c->enc)
		return -ENOMEM;
	c->dec = opus_decoder_create(48000, 1, &err);
	if (!c->dec) {
		me_codec_close(c);
		return -ENOMEM;
	}
	opus_encoder_ctl(c->enc, OPUS_SET_BITRATE(bitrate ? (int)bitrate : 32000));
	opus_encoder_ctl(c->enc, OPUS_SET_INBAND_FEC(1));
	/* FEC is only coded when the encoder expects loss */
	opus_encoder_ctl(c->enc, OPUS_SET_PACKET_LOSS_PERC(10));
	opus_encoder_ctl(c->enc, OPUS_SET_DTX(dtx ? 1 : 0));
	opus_encoder_ctl(c->enc, OPUS_SET_COMPLEXITY(5));
	opus_encoder_ctl(c->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	return 0;
}

void me_codec_close(struct me_codec *c)
{
	if (c->enc)
		opus_encoder_destroy(c->enc);
	if (c->dec)
		opus_decoder_destroy(c->dec);
	c->enc = NULL;
	c->dec = NULL;
}

int me_codec_encode(struct me_codec *c, const int16_t *pcm, uint8_t *out,
		    size_t cap)
{
	int n;

	switch (c->id) {
	case MEDIA_CODEC_OPUS:
		n = opus_encode(c->enc, pcm, (int)c->frame, out, (opus_int32)cap);
		return n < 0 ? -EIO : n;
	case MEDIA_CODEC_PCMU:
	case MEDIA_CODEC_PCMA:
		if (cap < c->frame)
			return -ENOSPC;
		for (unsigned i = 0; i < c->frame; i++)
			out[i] = c->id == MEDIA_CODEC_PCMU ? me_ulaw_enc(pcm[i])
							   : me_alaw_enc(pcm[i]);
		return (int)c->frame;
	default:
		return -EINVAL;
	}
}

static void g711_conceal(struct me_codec *c, int16_t *pcm)
{
	c->plc_run++;
	for (unsigned i = 0; i < c->frame; i++) {
		int v = c->plc_run > 5 ? 0 : c->last[i] >> c->plc_run;

		pcm[i] = (int16_t)v;
	}
}

int me_codec_decode(struct me_codec *c, const uint8_t *data, size_t len,
		    int fec, int16_t *pcm)
{
	int n;

	if (c->id == MEDIA_CODEC_OPUS) {
		n = opus_decode(c->dec, data, data ? (opus_int32)len : 0, pcm,
				(int)c->frame, fec);
		if (n < 0)   /* a corrupt packet: conceal instead */
			n = opus_decode(c->dec, NULL, 0, pcm, (int)c->frame, 0);
		if (n < 0)
			return -EIO;
		if ((unsigned)n < c->frame)
			memset(pcm + n, 0, (c->frame - (unsigned)n) * sizeof(*pcm));
		return 0;
	}
	if (c->id != MEDIA_CODEC_PCMU && c->id != MEDIA_CODEC_PCMA)
		return -EINVAL;
	if (!data || fec) {   /* G.711 has no FEC: conceal */
		g711_conceal(c, pcm);
		return 0;
	}
	for (unsigned i = 0; i < c->frame; i++)
		pcm[i] = i >= len ? 0
			: c->id == MEDIA_CODEC_PCMU ? me_ulaw_dec(data[i])
						    : me_alaw_dec(data[i]);
	memcpy(c->last, pcm, c->frame * sizeof(*pcm));
	c->plc_run = 0;
	return 0;
}
