/*
 * media_audio: a session's audio source and sink, one 20 ms frame per
 * engine tick. Files: a WAV (8, 16 or 48 kHz, or any rate, 16-bit mono)
 * read whole and resampled once to the codec's rate; received audio
 * written as a WAV at the codec's rate, its header completed at close.
 * ALSA ("alsa" = the "default" device, or "alsa:DEVICE"): S16 mono at the
 * codec's rate, non-blocking, so the engine's timer stays the clock; a
 * capture that has nothing yet gives silence, a playback that is full
 * drops the frame, an xrun re-prepares the device.
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media_priv.h"

static int alsa_open(void **out, const char *spec, snd_pcm_stream_t dir,
		     unsigned rate)
{
	const char *dev = spec[4] == ':' && spec[5] ? spec + 5 : "default";
	snd_pcm_t *pcm;
	int e;

	e = snd_pcm_open(&pcm, dev, dir, SND_PCM_NONBLOCK);
	if (e < 0)
		return e;
	/* 1 channel, latency 60 ms: three frames of slack */
	e = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S16_LE,
			       SND_PCM_ACCESS_RW_INTERLEAVED, 1, rate, 1, 60000);
	if (e < 0) {
		snd_pcm_close(pcm);
		return e;
	}
	if (dir == SND_PCM_STREAM_CAPTURE)
		snd_pcm_start(pcm);
	*out = pcm;
	return 0;
}

static int is_alsa(const char *spec)
{
	return !strncmp(spec, "alsa", 4) && (spec[4] == 0 || spec[4] == ':');
}

int me_audio_in_open(struct me_audio_in *a, const char *spec, unsigned rate,
		     int loop)
{
	struct media_pcm in = { 0 }, rs;
	int e;

	memset(a, 0, sizeof(*a));
	a->loop = loop;
	if (!spec)
		return 0;
	if (is_alsa(spec))
		return alsa_open(&a->alsa, spec, SND_PCM_STREAM_CAPTURE, rate);
	e = media_wav_read(spec, &in);
	if (e)
		return e;
	if (in.rate == rate) {
		a->pcm = in.samples;
		a->n = in.n;
		return 0;
	}
	e = media_pcm_resample(&in, rate, &rs);
	media_pcm_free(&in);
	if (e)
		return e;
	a->pcm = rs.samples;
	a->n = rs.n;
	return 0;
}

void me_audio_in_read(struct me_audio_in *a, int16_t *pcm, unsigned n)
{
	unsigned got = 0;

	if (a->alsa) {
		snd_pcm_sframes_t r = snd_pcm_readi(a->alsa, pcm, n);

		if (r == -EPIPE || r == -ESTRPIPE) {
			snd_pcm_prepare(a->alsa);
			snd_pcm_start(a->alsa);
		}
		got = r > 0 ? (unsigned)r : 0;
	} else if (a->pcm) {
		while (got < n) {
			size_t k = a->n - a->pos;

			if (k == 0) {
				if (!a->loop || a->n == 0)
					break;
				a->pos = 0;
				continue;
			}
			if (k > n - got)
				k = n - got;
			memcpy(pcm + got, a->pcm + a->pos, k * sizeof(*pcm));
			a->pos += k;
			got += (unsigned)k;
		}
	}
	if (got < n)
		memset(pcm + got, 0, (n - got) * sizeof(*pcm));
}

void me_audio_in_close(struct me_audio_in *a)
{
	if (a->alsa)
		snd_pcm_close(a->alsa);
	free(a->pcm);
	memset(a, 0, sizeof(*a));
}

int me_audio_out_open(struct me_audio_out *a, const char *spec,
		      unsigned rate)
{
	uint8_t h[44];

	memset(a, 0, sizeof(*a));
	a->rate = rate;
	if (!spec)
		return 0;
	if (is_alsa(spec))
		return alsa_open(&a->alsa, spec, SND_PCM_STREAM_PLAYBACK, rate);
	a->f = fopen(spec, "wb");
	if (!a->f)
		return -errno;
	me_wav_header(h, rate, 0);
	if (fwrite(h, 1, 44, a->f) != 44) {
		fclose(a->f);
		a->f = NULL;
		return -EIO;
	}
	return 0;
}

void me_audio_out_write(struct me_audio_out *a, const int16_t *pcm,
			unsigned n)
{
	if (a->alsa) {
		snd_pcm_sframes_t r = snd_pcm_writei(a->alsa, pcm, n);

		if (r == -EPIPE || r == -ESTRPIPE)
			snd_pcm_prepare(a->alsa);
		return;
	}
	if (a->f && fwrite(pcm, sizeof(*pcm), n, a->f) == n)
		a->samples += n;
}

void me_audio_out_close(struct me_audio_out *a)
{
	uint8_t h[44];

	if (a->alsa) {
		snd_pcm_nonblock(a->alsa, 0);   /* play what is queued (<= 60 ms) */
		snd_pcm_drain(a->alsa);
		snd_pcm_close(a->alsa);
	}
	if (a->f) {
		me_wav_header(h, a->rate, (uint32_t)(a->samples * 2));
		if (fseek(a->f, 0, SEEK_SET) == 0)
			fwrite(h, 1, 44, a->f);
		fclose(a->f);
	}
	memset(a, 0, sizeof(*a));
}
