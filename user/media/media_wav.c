/*
 * media_wav: whole-file WAV (RIFF/WAVE, PCM 16-bit mono) read and write,
 * resampling of a whole buffer and the normalised cross-correlation the
 * tests use to compare sent and received speech. The streaming side (a
 * session's audio in/out) is media_audio.c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_priv.h"

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

#define WAV_MAX_BYTES (256u << 20)

int media_wav_read(const char *path, struct media_pcm *out)
{
	FILE *f = fopen(path, "rb");
	uint8_t h[12], ch[8], fmt[16];
	int have_fmt = 0, err = -EBADMSG;
	unsigned rate = 0;

	if (!f)
		return -errno;
	if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) ||
	    memcmp(h + 8, "WAVE", 4))
		goto out;
	while (fread(ch, 1, 8, f) == 8) {
		uint32_t len = le32(ch + 4);

		if (!memcmp(ch, "fmt ", 4)) {
			if (len < 16 || fread(fmt, 1, 16, f) != 16)
				goto out;
			if (le16(fmt) != 1 || le16(fmt + 14) != 16)
				goto out;	/* not PCM 16-bit */
			if (le16(fmt + 2) != 1) {
				err = -ENOTSUP;
				goto out;
			}
			rate = le32(fmt + 4);
			have_fmt = 1;
			if (fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR))
				goto out;
		} else if (!memcmp(ch, "data", 4)) {
			int16_t *s;
			size_t n;

			if (!have_fmt || rate == 0)
				goto out;
			/* espeak-ng writes 0x7fffffff when writing a pipe */
			if (len > WAV_MAX_BYTES)
				len = WAV_MAX_BYTES;
			s = malloc(len + 2);
			if (!s) {
				err = -ENOMEM;
				goto out;
			}
			n = fread(s, 1, len, f) / 2;
			for (size_t i = 0; i < n; i++)   /* little-endian file */
				s[i] = (int16_t)le16((const uint8_t *)&s[i]);
			out->samples = s;
			out->n = n;
			out->rate = rate;
			err = 0;
			goto out;
		} else if (fseek(f, (long)(len + (len & 1)), SEEK_CUR)) {
			goto out;
		}
	}
out:
	fclose(f);
	return err;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The 44-byte header of a PCM 16-bit mono file of nbytes data. */
void me_wav_header(uint8_t h[44], unsigned rate, uint32_t nbytes)
{
	memcpy(h, "RIFF", 4);
	put32(h + 4, 36 + nbytes);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put32(h + 20, 1 | 1u << 16);	/* PCM, 1 channel */
	put32(h + 24, rate);
	put32(h + 28, rate * 2);
	put32(h + 32, 2 | 16u << 16);	/* block align 2, 16 bits */
	memcpy(h + 36, "data", 4);
	put32(h + 40, nbytes);
}

int media_wav_write(const char *path, const int16_t *samples, size_t n,
		    unsigned rate)
{
	FILE *f = fopen(path, "wb");
	uint8_t h[44];
	int err = 0;

	if (!f)
		return -errno;
	me_wav_header(h, rate, (uint32_t)(n * 2));
	if (fwrite(h, 1, 44, f) != 44 || fwrite(samples, 2, n, f) != n)
		err = -EIO;
	if (fclose(f) && !err)
		err = -EIO;
	return err;
}

void media_pcm_free(struct media_pcm *p)
{
	if (!p)
		return;
	free(p->samples);
	p->samples = NULL;
	p->n = 0;
}

int media_pcm_resample(const struct media_pcm *in, unsigned rate,
		       struct media_pcm *out)
{
	double step = (double)in->rate / rate;	/* input samples per output */
	size_t n = (size_t)((double)in->n / step);
	int16_t *s;

	if (!rate || !in->rate)
		return -EINVAL;
	s = malloc((n + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		double pos = i * step, acc = 0;
		size_t a = (size_t)pos;

		if (step > 1.0) {   /* box low-pass over one output period */
			size_t b = (size_t)(pos + step);
			size_t k;

			if (b > in->n)
				b = in->n;
			for (k = a; k < b; k++)
				acc += in->samples[k];
			s[i] = (int16_t)(b > a ? acc / (double)(b - a) : 0);
		} else {
			double fr = pos - (double)a;
			int16_t x0 = in->samples[a];
			int16_t x1 = a + 1 < in->n ? in->samples[a + 1] : x0;

			s[i] = (int16_t)lrint(x0 + (x1 - x0) * fr);
		}
	}
	out->samples = s;
	out->n = n;
	out->rate = rate;
	return 0;
}

int media_xcorr(const struct media_pcm *a, const struct media_pcm *b,
		size_t max_lag, double *corr, size_t *lag)
{
	double best = -2;
	size_t best_lag = 0;

	if (!a->n || !b->n)
		return -EINVAL;
	for (size_t l = 0; l <= max_lag && l < b->n; l++) {
		size_t n = a->n < b->n - l ? a->n : b->n - l;
		double xy = 0, xx = 0, yy = 0, c;

		for (size_t i = 0; i < n; i++) {
			double x = a->samples[i], y = b->samples[i + l];

			xy += x * y;
			xx += x * x;
			yy += y * y;
		}
		c = xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
		if (c > best) {
			best = c;
			best_lag = l;
		}
	}
	*corr = best;
	*lag = best_lag;
	return 0;
}
