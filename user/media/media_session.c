/*
 * media_session: the public session API (include/dataline/media.h):
 * binding the RTP/RTCP port pair (RFC 3550 s.11: RTP even, RTCP the next
 * odd port), start (codec, SRTP contexts, audio, jitter buffer, handed to
 * the engine thread), stop (the engine sends BYE and lets go), statistics
 * with the E-model estimate. Offer/answer is media_sdp.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media_priv.h"

static int bind_one(const struct in_addr *ip, uint16_t port, int *fd_out,
		    uint16_t *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = *ip,
				 .sin_port = htons(port) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1 << 20;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		int e = -errno;

		close(fd);
		return e;
	}
	*fd_out = fd;
	*bound = ntohs(a.sin_port);
	return 0;
}

/* An even RTP port and the odd one above it. */
static int bind_pair(struct media_session *s, const struct in_addr *ip,
		     uint16_t port)
{
	for (int tries = 0; tries < 64; tries++) {
		uint16_t p0, p1;
		int e = bind_one(ip, port, &s->fd[0], &p0);

		if (e)
			return e;
		if (p0 % 2 == 0 && p0 < 65535 &&
		    bind_one(ip, (uint16_t)(p0 + 1), &s->fd[1], &p1) == 0) {
			s->local.sin_family = AF_INET;
			s->local.sin_addr = *ip;
			s->local.sin_port = htons(p0);
			return 0;
		}
		close(s->fd[0]);
		s->fd[0] = -1;
		if (port)
			return -EADDRINUSE;
	}
	return -EADDRINUSE;
}

int media_session_new(struct media_engine *e, const struct media_config *cfg,
		      struct media_session **out)
{
	struct media_session *s;
	struct in_addr ip;
	int err;

	if (!e || !cfg || !cfg->addr || (cfg->port & 1) ||
	    inet_pton(AF_INET, cfg->addr, &ip) != 1)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->e = e;
	s->fd[0] = s->fd[1] = -1;
	s->fix[0] = s->fix[1] = -1;
	s->cfg = *cfg;
	s->loss_permille = cfg->loss_permille;
	s->jitter_ms = cfg->jitter_ms;
	if (!s->cfg.rtcp_interval_ms)
		s->cfg.rtcp_interval_ms = 5000;
	snprintf(s->addr, sizeof(s->addr), "%s", cfg->addr);
	s->audio_in = cfg->audio_in ? strdup(cfg->audio_in) : NULL;
	s->audio_out = cfg->audio_out ? strdup(cfg->audio_out) : NULL;
	s->cfg.audio_in = s->audio_in;
	s->cfg.audio_out = s->audio_out;
	s->tel_pt = -1;
	s->st.rtt_ms = -1;
	err = me_random(&s->sess_id, sizeof(s->sess_id));
	if (!err)
		err = me_random(&s->ssrc, sizeof(s->ssrc));
	if (!err && ((cfg->audio_in && !s->audio_in) ||
		     (cfg->audio_out && !s->audio_out)))
		err = -ENOMEM;
	if (!err)
		err = bind_pair(s, &ip, cfg->port);
	if (err) {
		media_session_free(s);
		return err;
	}
	s->sess_id &= 0x7fffffffffffull;
	s->rng = cfg->seed ? cfg->seed : me_now_ns() ^ s->ssrc;
	s->rng |= 1;
	*out = s;
	return 0;
}

uint16_t media_port(const struct media_session *s)
{
	return ntohs(s->local.sin_port);
}

static void release(struct media_session *s)
{
	me_audio_in_close(&s->ain);
	me_audio_out_close(&s->aout);
	me_codec_close(&s->cod);
	me_gcm_free(&s->gcm);
	if (s->tx)
		srtp_dealloc(s->tx);
	if (s->rx)
		srtp_dealloc(s->rx);
	s->tx = s->rx = NULL;
}

int me_sess_prepare(struct media_session *s)
{
	uint16_t r16;
	int e;

	if (s->state != ME_READY)
		return s->state >= ME_RUNNING ? -EALREADY : -EPROTO;
	e = me_codec_open(&s->cod, s->codec, s->cfg.opus_bitrate, s->dtx);
	if (!e && s->suite != MEDIA_SUITE_NONE) {
		e = me_srtp_new(&s->tx, s->suite, s->tx_key, 0);
		if (!e)
			e = me_srtp_new(&s->rx, s->suite, s->rx_key, 1);
		if (!e && s->suite == MEDIA_SUITE_AEAD_AES_128_GCM)
			e = me_gcm_init(&s->gcm, s->tx_key);
	}
	if (!e)
		e = me_audio_in_open(&s->ain, s->audio_in, s->cod.rate, s->cfg.loop_in);
	if (!e)
		e = me_audio_out_open(&s->aout, s->audio_out, s->cod.rate);
	if (!e)
		e = me_random(&r16, sizeof(r16));
	if (!e)
		e = me_random(&s->ts, sizeof(s->ts));
	if (e) {
		release(s);
		return e;
	}
	s->seq = r16 & 0x7fff;	/* RFC 3550 s.5.1: random start */
	me_jb_init(&s->jb, s->cod.rate, s->cod.frame, s->codec == MEDIA_CODEC_OPUS);
	snprintf(s->st.codec_name, sizeof(s->st.codec_name), "%s",
		 media_codec_name(s->codec));
	s->st.codec = s->codec;
	s->st.suite = s->suite;
	return 0;
}

int media_start(struct media_session *s)
{
	struct media_engine *e = s->e;
	int err = me_sess_prepare(s);

	if (err)
		return err;
	pthread_mutex_lock(&e->mu);
	err = me_engine_add(e, s);
	if (!err)
		s->state = ME_RUNNING;
	pthread_mutex_unlock(&e->mu);
	if (err) {
		release(s);
		return err;
	}
	me_engine_wake(e);
	return 0;
}

int media_stop(struct media_session *s)
{
	struct media_engine *e = s->e;

	pthread_mutex_lock(&e->mu);
	if (s->state == ME_RUNNING) {
		if (e->has_thread) {
			s->state = ME_STOPPING;
			me_engine_wake(e);
			while (s->state != ME_STOPPED)
				pthread_cond_wait(&e->cv, &e->mu);
		} else {
			me_stop_sess(e, s, me_now_ns());
			me_flush(e);
		}
		release(s);
	}
	if (s->state < ME_RUNNING)
		s->state = ME_STOPPED;
	pthread_mutex_unlock(&e->mu);
	return 0;
}

void media_session_free(struct media_session *s)
{
	if (!s)
		return;
	media_stop(s);
	for (int k = 0; k < 2; k++)
		if (s->fd[k] >= 0)
			close(s->fd[k]);
	free(s->audio_in);
	free(s->audio_out);
	memset(s->tx_key, 0, sizeof(s->tx_key));
	memset(s->rx_key, 0, sizeof(s->rx_key));
	memset(s->offer_key, 0, sizeof(s->offer_key));
	free(s);
}

/* Codec delay in the E-model: a frame plus the codec's look-ahead. */
static double codec_delay_ms(enum media_codec c)
{
	return c == MEDIA_CODEC_OPUS ? 20 + 6.5 : 20;
}

int media_stats(struct media_session *s, struct media_stats *st)
{
	struct media_engine *e = s->e;
	struct media_stats v;
	uint64_t end;
	uint32_t expected;

	pthread_mutex_lock(&e->mu);
	v = s->st;
	v.pkts_sent = s->pkts_sent;
	v.bytes_sent = s->bytes_sent;
	end = s->state == ME_STOPPED && s->stop_ns ? s->stop_ns : me_now_ns();
	v.duration_ms = s->start_ns ? (end - s->start_ns) / 1000000 : 0;
	expected = s->src.received ? rtp_source_ext_max(&s->src) - s->src.base_seq + 1 : 0;
	v.lost = (int64_t)expected - s->src.received;
	v.loss_pct = expected && v.lost > 0 ? v.lost * 100.0 / expected : 0;
	if (s->cod.rate) {
		v.jitter_ms = (s->src.jitter >> 4) * 1000.0 / s->cod.rate;
		v.remote_jitter_ms = s->remote_jitter_ts * 1000.0 / s->cod.rate;
	}
	v.jb_target_ms = me_jb_target_ms(&s->jb);
	v.jb_delay_ms = s->jb.played ? s->jb.wait_sum_ns / 1e6 / s->jb.played : 0;
	v.m2e_ms = s->m2e_n ? s->m2e_sum_ms / s->m2e_n : 0;
	v.frames_played = s->jb.played;
	v.frames_fec = s->jb.fec_used;
	v.frames_plc = s->jb.plc;
	v.frames_late = s->jb.late;
	v.frames_skipped = s->jb.skipped;
	pthread_mutex_unlock(&e->mu);
	{
		/* one-way delay: half the RTT (or nothing known), the jitter
		 * buffer, the codec; loss after FEC recovered what it could */
		double owd = (v.rtt_ms > 0 ? v.rtt_ms / 2 : 0) + v.jb_delay_ms +
			     codec_delay_ms(v.codec);
		double eff = expected ? (v.lost > (int64_t)v.frames_fec
						 ? (double)(v.lost - (int64_t)v.frames_fec) : 0) *
						100.0 / expected
				      : 0;

		v.r_factor = media_emodel(owd, eff, v.codec, &v.mos);
		if (!v.frames_played) {   /* nothing heard: no quality */
			v.r_factor = 0;
			v.mos = 1;
		}
	}
	*st = v;
	return 0;
}
