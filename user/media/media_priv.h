/*
 * media_priv: the media engine's private structures (include/dataline/
 * media.h is the public side). Files: media_engine.c (thread, io_uring,
 * probe), media_session.c (public session API), media_sdp.c (offer/answer),
 * media_io.c (per-tick send and playout, receive), media_rtcp.c (SR/RR),
 * media_jb.c (jitter buffer), media_codec.c (Opus, G.711), media_srtp.c
 * (libsrtp2), media_audio.c (WAV/ALSA streams), media_wav.c (whole-file
 * WAV helpers, resampling, correlation), media_emodel.c (G.107).
 */
#ifndef MEDIA_PRIV_H
#define MEDIA_PRIV_H

#include <liburing.h>
#include <netinet/in.h>
#include <opus/opus.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>

#include "dataline/media.h"
#include "dataline/rtp.h"

#define ME_FRAME_MS 20
#define ME_TICK_NS (ME_FRAME_MS * 1000000ull)
#define ME_MAX_PKT 1500		/* largest datagram handled */
#define ME_MAX_KEY 30		/* key || salt, AES_CM's 16 + 14 */

/* ----------------------------------------------------------- codecs */

struct me_codec {
	enum media_codec id;
	unsigned rate;		/* PCM and RTP clock rate: 48000 or 8000 */
	unsigned frame;		/* samples per 20 ms */
	OpusEncoder *enc;	/* owned (Opus only) */
	OpusDecoder *dec;	/* owned (Opus only) */
	int16_t last[960];	/* G.711 concealment: the last frame */
	unsigned plc_run;	/* G.711: consecutive concealed frames */
};

int me_codec_open(struct me_codec *c, enum media_codec id, unsigned bitrate,
		  int dtx);
void me_codec_close(struct me_codec *c);
/* Encodes one frame; returns the payload length (Opus DTX: <= 2 means
 * "nothing to send") or -errno. */
int me_codec_encode(struct me_codec *c, const int16_t *pcm, uint8_t *out,
		    size_t cap);
/* Decodes one frame into pcm (c->frame samples): the packet itself
 * (fec 0), the FEC copy of the frame before data (fec 1), or a concealed
 * frame (data NULL). Returns 0 or -errno. */
int me_codec_decode(struct me_codec *c, const uint8_t *data, size_t len,
		    int fec, int16_t *pcm);

uint8_t me_ulaw_enc(int16_t s);
int16_t me_ulaw_dec(uint8_t u);
uint8_t me_alaw_enc(int16_t s);
int16_t me_alaw_dec(uint8_t a);

/* ------------------------------------------------------------ SRTP */

size_t me_suite_keylen(enum media_suite s);
/* An srtp_t for one direction (inbound: the peer's key). */
int me_srtp_new(srtp_t *out, enum media_suite s, const uint8_t *key,
		int inbound);

/* media_gcm.c: SRTP AEAD_AES_128_GCM sending (RFC 7714) with OpenSSL */
struct me_gcm {
	void *ctx;		/* owned EVP_CIPHER_CTX *, session key set */
	uint8_t salt[12];	/* session salt */
	uint32_t roc;		/* rollover counter */
	uint16_t last_seq;
	int started;
};

/* key_salt: the 16-octet master key then the 12-octet master salt. */
int me_gcm_init(struct me_gcm *g, const uint8_t *key_salt);
void me_gcm_free(struct me_gcm *g);
/* Protects the RTP packet pkt (*len octets, header hdr_len) in place,
 * appending the 16-octet tag (cap: room in pkt). */
int me_gcm_protect(struct me_gcm *g, uint8_t *pkt, size_t hdr_len,
		   size_t *len, size_t cap);

/* ---------------------------------------------------- jitter buffer */

#define ME_JB_SLOTS 32
#define ME_JB_MAXPAY 512
#define ME_JB_WIN 64		/* transit samples for the spread */

struct me_jb_slot {
	int used;
	uint16_t seq;
	uint32_t ts;
	uint64_t arrival_ns;
	uint16_t len;
	uint8_t data[ME_JB_MAXPAY];
};

enum me_jb_act {
	ME_JB_WAIT = 0,		/* not playing yet: silence */
	ME_JB_PLAY,		/* decode out->data */
	ME_JB_FEC,		/* decode the FEC in out->data (next pkt) */
	ME_JB_PLC,		/* conceal */
};

struct me_jb_out {
	const uint8_t *data;	/* into the buffer, valid until next put */
	size_t len;
	uint64_t arrival_ns;
};

struct me_jb {
	struct me_jb_slot slot[ME_JB_SLOTS];
	unsigned rate, frame;	/* clock rate, samples per frame */
	int fec;		/* the codec can decode FEC from the next */
	uint32_t min_target, max_target, target;	/* ts units */
	int started;
	uint32_t play_ts;
	int have_last;
	uint16_t last_seq;	/* of the last packet played */
	uint32_t min_transit;	/* smallest of transit[] */
	uint32_t transit[ME_JB_WIN];
	unsigned ntransit, ti;
	uint64_t played, fec_used, plc, late, skipped, underruns, dtx;
	uint64_t wait_sum_ns;	/* sum of arrival -> playout of PLAYed */
};

void me_jb_init(struct me_jb *jb, unsigned rate, unsigned frame, int fec);
/* Stores a packet; -EALREADY duplicate or late, -E2BIG too large,
 * -ENOSPC full. */
int me_jb_put(struct me_jb *jb, uint16_t seq, uint32_t ts,
	      uint64_t arrival_ns, const uint8_t *data, size_t len);
/* What to play at this 20 ms tick. */
enum me_jb_act me_jb_get(struct me_jb *jb, uint64_t now_ns,
			 struct me_jb_out *out);
double me_jb_target_ms(const struct me_jb *jb);

/* ----------------------------------------------------------- audio */

struct me_audio_in {
	int16_t *pcm;		/* owned: a WAV resampled to the codec rate */
	size_t n, pos;
	int loop;
	void *alsa;		/* owned snd_pcm_t *, NULL if a file */
};

struct me_audio_out {
	FILE *f;		/* owned: a WAV being written */
	uint64_t samples;
	unsigned rate;
	void *alsa;		/* owned snd_pcm_t * */
};

/* spec: path, "alsa" or "alsa:DEVICE", NULL (silence / discard). */
int me_audio_in_open(struct me_audio_in *a, const char *spec, unsigned rate,
		     int loop);
void me_audio_in_read(struct me_audio_in *a, int16_t *pcm, unsigned n);
void me_audio_in_close(struct me_audio_in *a);
int me_audio_out_open(struct me_audio_out *a, const char *spec,
		      unsigned rate);
void me_audio_out_write(struct me_audio_out *a, const int16_t *pcm,
			unsigned n);
void me_audio_out_close(struct me_audio_out *a);
/* media_wav.c: the 44-byte header of a PCM 16-bit mono WAV. */
void me_wav_header(uint8_t h[44], unsigned rate, uint32_t nbytes);

/* --------------------------------------------------------- session */

enum me_state {
	ME_NEW = 0,	/* bound, nothing negotiated */
	ME_OFFERED,	/* media_offer done, waiting for the answer */
	ME_READY,	/* offer/answer complete */
	ME_RUNNING,	/* in the engine */
	ME_STOPPING,	/* the engine is closing it */
	ME_STOPPED,
};

/* A packet held back by the jitter_ms impairment. */
struct me_delayed {
	uint64_t due_ns;
	uint16_t len;
	uint8_t buf[ME_JB_MAXPAY + 64];
};
#define ME_DELAY_Q 16

/*
 * The session is large (jitter buffer, delay queue, codec state: ~30 kB).
 * What sending one RTP packet touches comes first, in the first cache
 * lines: an engine with 6000 sessions sends each one packet every 20 ms,
 * so the session is cold in cache at every send, and each further line
 * it touches is one more miss (docs/calls.md "Sending fast").
 */
struct media_session {
	/* the send path (engine thread, under e->mu) */
	struct media_engine *e;	/* not owned */
	int fd[2];		/* owned: RTP, RTCP (-1 with rtcp-mux) */
	int fix[2];		/* their fixed-file slots in the ring, or -1 */
	uint16_t seq;
	uint8_t pt;		/* the negotiated payload type */
	int sent_since_rtcp;	/* an SR, not an RR, is due */
	uint32_t ssrc;
	uint32_t ts;
	uint32_t last_sent_ts;
	uint64_t pkts_sent, bytes_sent;	/* RTP, as sent (into st on read) */
	uint64_t octets_sent;	/* RTP payload octets (SR) */
	struct sockaddr_in remote_rtp, remote_rtcp;
	struct me_gcm gcm;	/* GCM: RTP sending (tx does SRTCP) */
	srtp_t tx, rx;		/* owned, NULL for RTP/AVP */
	unsigned loss_permille, jitter_ms;	/* cfg's, copied here */

	uint32_t idx;		/* slot in e->sess */
	uint16_t gen;
	struct media_config cfg;	/* strings below are owned copies */
	char *audio_in, *audio_out;	/* owned */
	char addr[INET_ADDRSTRLEN];
	struct sockaddr_in local;
	enum me_state state;	/* changed under e->mu once RUNNING */

	/* offer/answer */
	uint64_t sess_id, sess_ver;
	uint8_t offer_key[3][ME_MAX_KEY];	/* by tag 1 (GCM), 2 (AES_CM) */
	int offered_plain;
	enum media_suite suite;
	uint8_t tx_key[ME_MAX_KEY], rx_key[ME_MAX_KEY];
	enum media_codec codec;
	int tel_pt;		/* telephone-event PT, -1 none */
	int dtx;		/* the peer asked for usedtx=1 */
	int remote_mux;

	/* running (engine thread, under e->mu) */
	struct me_codec cod;
	struct me_audio_in ain;
	struct me_audio_out aout;
	struct me_jb jb;
	uint32_t remote_ssrc;
	int have_remote;
	struct rtp_source src;
	int talk;		/* last frame was sent (not DTX) */
	uint64_t start_ns, stop_ns, next_rtcp_ns;
	uint32_t lsr;		/* middle of the peer's last SR's NTP */
	uint64_t lsr_at_ns;
	int armed;		/* receives armed */
	int bye_sent;
	uint64_t rng;
	struct me_delayed dq[ME_DELAY_Q];

	struct media_stats st;	/* counters kept live */
	double m2e_sum_ms;
	uint64_t m2e_n;
	uint32_t remote_jitter_ts;
};

/* ---------------------------------------------------------- engine */

#define ME_NBUF 1024		/* provided receive buffers (power of 2) */
#define ME_BUFSZ 2048
#define ME_BGID 7
#define ME_NSEND 4096		/* send slots */

struct me_send_slot {
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_in to;
	uint8_t buf[ME_MAX_PKT];
};

struct media_engine {
	struct media_engine_config cfg;
	struct io_uring ring;
	struct io_uring_buf_ring *br;	/* owned (mmap) */
	size_t br_len;
	uint8_t *bufs;		/* owned: ME_NBUF * ME_BUFSZ */
	struct msghdr rmsg;	/* template of the multishot recvmsg */
	struct me_send_slot *send;	/* owned: ME_NSEND */
	uint32_t *send_free;	/* owned: free slot stack */
	unsigned nsend_free;
	unsigned queued;	/* SQEs prepared, not submitted */
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* a session reached STOPPED */
	pthread_t thr;
	int has_thread;
	int efd;		/* owned: wakes the thread */
	uint64_t efd_val;
	int stop;
	struct media_session **sess;	/* slots, not owned */
	uint16_t *gen;		/* generation per slot */
	uint32_t nsess;		/* high-water mark */
	uint32_t open;
	uint64_t next_tick_ns;
	uint64_t rearms, enobufs;	/* multishot ended / no buffer */
	uint64_t send_errors;	/* sends the kernel failed */
	unsigned nfixed;	/* fixed-file table size, 0: none */
	int send_addr;		/* SEND takes a destination address */
};

uint64_t me_now_ns(void);
/* Engine without a thread (the bench drives it). */
int me_engine_init(struct media_engine *e,
		   const struct media_engine_config *cfg);
void me_engine_fini(struct media_engine *e);
int me_engine_add(struct media_engine *e, struct media_session *s);
void me_engine_del(struct media_engine *e, struct media_session *s);
void me_engine_wake(struct media_engine *e);
/* Sends the BYE, cancels the receives, takes s out (under e->mu). */
void me_stop_sess(struct media_engine *e, struct media_session *s,
		  uint64_t now);
/* A free send slot to build a datagram in (waits while all are in
 * flight); me_slot_send queues it (fix: fixed-file slot or -1, then fd is
 * used) and submits every 32; me_slot_put gives an unsent one back. */
struct me_send_slot *me_slot_get(struct media_engine *e);
int me_slot_send(struct media_engine *e, struct me_send_slot *sl, int fd,
		 int fix, const struct sockaddr_in *to, size_t len);
void me_slot_put(struct media_engine *e, struct me_send_slot *sl);
/* Queues a copy of a datagram to `to` on fd, or on session s's socket k. */
int me_send(struct media_engine *e, int fd, const struct sockaddr_in *to,
	    const void *buf, size_t len);
int me_sess_send(struct media_session *s, int k, const struct sockaddr_in *to,
		 const void *buf, size_t len);
/* Submits what is queued and reaps completed sends (no wait). */
void me_flush(struct media_engine *e);
/* Processes one completion (engine thread, under mu). */
void me_cqe(struct media_engine *e, struct io_uring_cqe *cqe);
void me_arm_recv(struct media_engine *e, struct media_session *s);

/* media_io.c (engine thread, under e->mu) */
void me_sess_begin(struct media_session *s, uint64_t now);
void me_sess_tick(struct media_session *s, uint64_t now);
void me_sess_delayed(struct media_session *s, uint64_t now, uint64_t *next);
void me_sess_packet(struct media_session *s, int k, uint8_t *buf,
		    size_t len, uint64_t now);
/* Builds, protects and sends one RTP packet of payload (also the bench's
 * path). */
int me_send_rtp(struct media_session *s, const uint8_t *payload, size_t len,
		int marker, uint32_t ts, uint64_t now);
uint32_t me_rand(struct media_session *s);

/* media_rtcp.c */
void me_rtcp_send(struct media_session *s, uint64_t now, int bye);
void me_rtcp_recv(struct media_session *s, uint8_t *buf, size_t len,
		  uint64_t now);

/* media_session.c: codec, SRTP, audio, jitter buffer of a READY session */
int me_sess_prepare(struct media_session *s);

/* media_sdp.c */
int me_random(void *buf, size_t len);

#endif /* MEDIA_PRIV_H */
