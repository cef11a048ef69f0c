/*
 * media: the handset's media engine (issue 9). Voice sessions negotiated
 * by SDP offer/answer (RFC 3264) with Opus (RFC 7587: in-band FEC, DTX)
 * and G.711 PCMU/PCMA (RFC 3551), secured by SRTP/SRTCP (RFC 3711) with
 * SDES keys (RFC 4568): AEAD_AES_128_GCM (RFC 7714) offered first,
 * AES_CM_128_HMAC_SHA1_80 second. RTP/RTCP per RFC 3550 (SR/RR every
 * ~5 s: RTT, loss, jitter), rtcp-mux (RFC 5761), an adaptive jitter
 * buffer with loss concealment, audio from/to WAV files or ALSA.
 *
 * One engine is one thread with one io_uring (batched sends, multishot
 * recvmsg over a provided-buffer ring) carrying many sessions. The call
 * flow (SIP) carries the SDP strings this module writes and reads; it
 * never looks inside them. See docs/calls.md, "Media engine".
 *
 * Every function returns 0 or -errno and writes output parameters only on
 * success. A session belongs to the thread that created it: its API calls
 * must not run concurrently with each other (the engine thread is
 * synchronised internally).
 */
#ifndef DATALINE_MEDIA_H
#define DATALINE_MEDIA_H

#include <stddef.h>
#include <stdint.h>

struct media_engine;
struct media_session;

enum media_codec {
	MEDIA_CODEC_NONE = 0,
	MEDIA_CODEC_OPUS,	/* opus/48000/2, mono sent, 20 ms */
	MEDIA_CODEC_PCMU,	/* G.711 mu-law, 8000 Hz, 20 ms */
	MEDIA_CODEC_PCMA,	/* G.711 A-law */
};

enum media_suite {
	MEDIA_SUITE_NONE = 0,	/* RTP/AVP, no SRTP (only with
				 * MEDIA_F_ALLOW_PLAIN) */
	MEDIA_SUITE_AEAD_AES_128_GCM,	/* RFC 7714, 16-byte tag */
	MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80,	/* RFC 3711 / 4568 default */
};

/* media_config.flags */
#define MEDIA_F_RTCP_MUX    0x1u /* one socket; offer a=rtcp-mux */
#define MEDIA_F_ALLOW_PLAIN 0x2u /* accept RTP/AVP from a peer without
				  * crypto (SDES keys only travel over TLS:
				  * the caller decides) */
#define MEDIA_F_OFFER_PLAIN 0x4u /* offer RTP/AVP (implies ALLOW_PLAIN) */
#define MEDIA_F_TEL_EVENT   0x8u /* offer telephone-event/8000 (RFC 4733);
				  * received events are counted, not
				  * played */
#define MEDIA_F_NO_OPUS     0x10u /* leave Opus out (G.711 only) */

/* Per-engine settings; zero means the default. */
struct media_engine_config {
	unsigned max_sessions;	/* default 8192 */
	unsigned ring_entries;	/* SQ size, default 1024 */
};

/*
 * Starts an engine: probes the kernel's io_uring features (multishot
 * recvmsg, provided-buffer rings, the ops used) and starts its thread.
 * -EOPNOTSUPP with a message on stderr naming what is missing.
 */
int media_engine_new(const struct media_engine_config *cfg,
		     struct media_engine **out);
/* Stops the thread; every session must have been freed before. */
void media_engine_free(struct media_engine *e);

struct media_config {
	const char *addr;	/* local IPv4 address, e.g. "127.0.0.1";
				 * also written in the SDP c= line */
	uint16_t port;		/* even RTP port (RTCP on port + 1 unless
				 * rtcp-mux); 0: any free even pair */
	unsigned flags;		/* MEDIA_F_* */
	const char *audio_in;	/* "FILE.wav", "alsa", "alsa:DEVICE" or
				 * NULL (silence) */
	const char *audio_out;	/* "FILE.wav" (decoded received audio),
				 * "alsa[:DEVICE]" or NULL (discarded) */
	int loop_in;		/* replay audio_in when it ends */
	unsigned opus_bitrate;	/* bit/s, default 32000 */
	unsigned rtcp_interval_ms;	/* default 5000 (RFC 3550 s.6.2's
					 * minimum), randomised 0.5-1.5x */
	/* Impairments for tests and benches, applied to this session's
	 * outgoing RTP (never RTCP) before it is sent: */
	unsigned loss_permille;	/* random drop, per mille */
	unsigned jitter_ms;	/* random extra delay 0..jitter_ms */
	uint32_t seed;		/* of their PRNG (0: from the clock) */
};

/*
 * A session bound to cfg->addr (UDP). Nothing is sent or received before
 * media_start. -EADDRINUSE when an explicit port pair is taken, -EINVAL an
 * odd port or a bad address, -ENOSPC the engine is full.
 */
int media_session_new(struct media_engine *e, const struct media_config *cfg,
		      struct media_session **out);
/* Stops the session if running and frees it. NULL is allowed. */
void media_session_free(struct media_session *s);

/*
 * Writes a local offer (NUL-terminated; *len without the NUL): Opus
 * (useinbandfec=1;usedtx=1), PCMU, PCMA, telephone-event if asked; RTP/SAVP
 * with fresh random keys for AEAD_AES_128_GCM (tag 1) and
 * AES_CM_128_HMAC_SHA1_80 (tag 2), or RTP/AVP with MEDIA_F_OFFER_PLAIN.
 * -ENOSPC if cap is too small, -EALREADY after an answer or accept.
 */
int media_offer(struct media_session *s, char *out, size_t cap, size_t *len);

/*
 * Takes a remote offer and writes the answer: the first audio stream, our
 * codec preference (Opus, PCMU, PCMA) among the offered ones, our suite
 * preference (GCM, AES_CM) among the offered crypto lines, a fresh key of
 * ours under the chosen tag. -EBADMSG malformed SDP, -ENOENT no audio
 * stream or no common codec, -ENOTSUP no usable crypto suite,
 * -EPROTONOSUPPORT RTP/AVP offered without MEDIA_F_ALLOW_PLAIN (or
 * another transport), -EDESTADDRREQ no usable IPv4 address.
 */
int media_answer(struct media_session *s, const char *offer, size_t offer_len,
		 char *out, size_t cap, size_t *len);

/*
 * Takes the remote answer to our offer. -EBADMSG malformed SDP, -ENOENT no
 * audio stream (or port 0: declined), -EPROTO an answer that does not fit
 * the offer (codec or payload type not offered, a crypto tag or suite we
 * did not offer, not exactly one crypto line, a key of the wrong length,
 * a transport other than the offered one), -EPROTONOSUPPORT RTP/AVP
 * without MEDIA_F_ALLOW_PLAIN, -EDESTADDRREQ no usable IPv4 address,
 * -EALREADY no offer made or already accepted.
 */
int media_accept(struct media_session *s, const char *answer,
		 size_t answer_len);

/*
 * Opens the audio, creates the SRTP contexts and hands the session to the
 * engine: it starts sending (20 ms frames, clocked by the engine's timer)
 * and receiving. -EALREADY running, -EPROTO offer/answer not completed,
 * -ENOENT/-EINVAL/-EIO the audio could not be opened.
 */
int media_start(struct media_session *s);
/* Stops sending and receiving (a final RTCP BYE is sent), closes the
 * audio (the WAV header is written). Idempotent. */
int media_stop(struct media_session *s);

struct media_stats {
	enum media_codec codec;
	enum media_suite suite;
	char codec_name[16];	/* "opus", "PCMU", "PCMA", "" */
	uint64_t duration_ms;	/* since media_start */
	uint64_t pkts_sent, bytes_sent;	/* RTP, as sent (impairments out) */
	uint64_t pkts_recv, bytes_recv;	/* RTP, authenticated */
	uint64_t pkts_dropped_test;	/* dropped by loss_permille */
	uint64_t auth_fail;	/* SRTP/SRTCP packets failing
				 * authentication or replay check */
	uint64_t malformed;	/* not RTP/RTCP, wrong PT or SSRC */
	uint64_t rtcp_sent, rtcp_recv;
	int64_t lost;		/* RFC 3550 A.3 cumulative, ours */
	double loss_pct;	/* ours, over the whole session */
	double jitter_ms;	/* RFC 3550 A.8, ours */
	double remote_loss_pct;	/* the peer's last report on us */
	double remote_jitter_ms;
	double rtt_ms;		/* from RTCP LSR/DLSR; -1 if none yet */
	double jb_target_ms;	/* the jitter buffer's current target */
	double jb_delay_ms;	/* mean time a packet waited in it */
	double m2e_ms;		/* mean arrival -> decoded audio */
	uint64_t frames_played, frames_fec, frames_plc, frames_late,
		 frames_skipped;	/* jitter buffer outcomes */
	uint64_t dtmf_events;	/* telephone-event packets received */
	double r_factor;	/* ITU-T G.107 E-model, simplified */
	double mos;		/* from r_factor (G.107 annex B) */
};

/* A snapshot of the session's figures (also after media_stop). */
int media_stats(struct media_session *s, struct media_stats *st);

/* The local RTP port (after media_session_new). */
uint16_t media_port(const struct media_session *s);

const char *media_codec_name(enum media_codec c);
const char *media_suite_name(enum media_suite s);

/*
 * The simplified E-model (ITU-T G.107) used by media_stats: one-way delay
 * in ms, effective packet loss in percent (after FEC), the codec (its Ie
 * and Bpl, G.113 appendix I; Opus values documented in docs/calls.md).
 * Returns R (0..93.2); *mos is set when not NULL.
 */
double media_emodel(double delay_ms, double loss_pct, enum media_codec c,
		    double *mos);

/* ----------------------------------------------------- WAV helpers */

/* A 16-bit PCM mono WAV file read whole (tests, gateways). */
struct media_pcm {
	int16_t *samples;	/* owned, free with media_pcm_free */
	size_t n;
	unsigned rate;
};

/* -ENOENT, -EBADMSG (not RIFF/WAVE PCM 16-bit), -ENOTSUP (not mono). */
int media_wav_read(const char *path, struct media_pcm *out);
int media_wav_write(const char *path, const int16_t *samples, size_t n,
		    unsigned rate);
void media_pcm_free(struct media_pcm *p);
/* Resamples a whole buffer (linear interpolation, a box low-pass when
 * going down). */
int media_pcm_resample(const struct media_pcm *in, unsigned rate,
		       struct media_pcm *out);
/*
 * Normalised cross-correlation of b against a, b delayed by 0..max_lag
 * samples (both at the same rate): the best value and its lag.
 */
int media_xcorr(const struct media_pcm *a, const struct media_pcm *b,
		size_t max_lag, double *corr, size_t *lag);

#endif /* DATALINE_MEDIA_H */
