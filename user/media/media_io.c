/*
 * media_io: a running session's work on the engine thread (under e->mu).
 * Each 20 ms tick: one frame of audio in, encoded (Opus DTX frames are
 * not sent, RFC 7587 s.3.1.3; the marker bit starts each talk spurt,
 * RFC 3551 s.4.1), packetised (RFC 3550), protected (SRTP, RFC 3711) and
 * queued; one frame out of the jitter buffer, decoded (or recovered from
 * the next packet's FEC, or concealed) and written to the audio out; an
 * RTCP report when due. Each received datagram: RTCP to media_rtcp.c,
 * RTP authenticated and decrypted, checked (payload type, SSRC), counted
 * (RFC 3550 A.1, A.8) and stored in the jitter buffer.
 *
 * The test impairments (loss, jitter) act here, on outgoing RTP only.
 */
#include <errno.h>
#include <string.h>

#include "media_priv.h"

uint32_t me_rand(struct media_session *s)
{
	/* xorshift64*: test impairments and RTCP intervals, not keys */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (uint32_t)((s->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint64_t rtcp_interval_ns(struct media_session *s)
{
	uint64_t base = (uint64_t)s->cfg.rtcp_interval_ms * 1000000u;

	/* RFC 3550 s.6.3.1: randomised over [0.5, 1.5] of the interval */
	return base / 2 + base * (me_rand(s) % 1000) / 1000;
}

void me_sess_begin(struct media_session *s, uint64_t now)
{
	s->start_ns = now;
	s->next_rtcp_ns = now + rtcp_interval_ns(s) / 2;   /* s.6.2: half first */
}

static int send_now(struct media_session *s, const uint8_t *pkt, size_t n)
{
	return me_sess_send(s, 0, &s->remote_rtp, pkt, n);
}

/* Test impairments: 1 if the packet is dropped or held back (copied). */
static int impaired(struct media_session *s, const uint8_t *pkt, size_t n,
		    uint64_t now)
{
	if (s->loss_permille && me_rand(s) % 1000 < s->loss_permille) {
		s->st.pkts_dropped_test++;
		return 1;
	}
	if (s->jitter_ms) {
		uint64_t d = (uint64_t)(me_rand(s) % (s->jitter_ms * 1000 + 1)) * 1000;

		for (unsigned i = 0; i < ME_DELAY_Q; i++) {
			struct me_delayed *q = &s->dq[i];

			if (q->due_ns || n > sizeof(q->buf))
				continue;
			q->due_ns = now + d;
			q->len = (uint16_t)n;
			memcpy(q->buf, pkt, n);
			return 1;
		}
	}
	return 0;
}

/*
 * Built and protected in place, in the send slot that goes to the kernel:
 * no copy of the packet, and nothing touched but the session's first
 * cache lines and its cipher context (media_priv.h).
 */
int me_send_rtp(struct media_session *s, const uint8_t *payload, size_t len,
		int marker, uint32_t ts, uint64_t now)
{
	struct rtp_hdr h = { .marker = (uint8_t)marker, .pt = s->pt,
			     .seq = s->seq++, .ts = ts, .ssrc = s->ssrc };
	struct me_send_slot *sl = me_slot_get(s->e);
	uint8_t *pkt = sl->buf;
	size_t n;
	int e = rtp_build(&h, payload, len, pkt, ME_MAX_PKT - SRTP_MAX_TRAILER_LEN, &n);

	if (e)
		goto out;
	if (s->gcm.ctx) {
		e = me_gcm_protect(&s->gcm, pkt, n - len, &n, ME_MAX_PKT);
		if (e)
			goto out;
	} else if (s->tx) {
		int l = (int)n;

		if (srtp_protect(s->tx, pkt, &l) != srtp_err_status_ok) {
			e = -EIO;
			goto out;
		}
		n = (size_t)l;
	}
	s->pkts_sent++;
	s->bytes_sent += n;
	s->octets_sent += len;
	s->last_sent_ts = ts;
	s->sent_since_rtcp = 1;
	if ((s->loss_permille | s->jitter_ms) && impaired(s, pkt, n, now))
		goto out;
	return me_slot_send(s->e, sl, s->fd[0], s->fix[0], &s->remote_rtp, n);
out:
	me_slot_put(s->e, sl);
	return e;
}

void me_sess_delayed(struct media_session *s, uint64_t now, uint64_t *next)
{
	for (unsigned i = 0; s->jitter_ms && i < ME_DELAY_Q; i++) {
		struct me_delayed *q = &s->dq[i];

		if (!q->due_ns)
			continue;
		if (q->due_ns <= now) {
			send_now(s, q->buf, q->len);
			q->due_ns = 0;
		} else if (q->due_ns < *next) {
			*next = q->due_ns;
		}
	}
}

static void play(struct media_session *s, uint64_t now)
{
	int16_t pcm[960];
	struct me_jb_out o;
	enum me_jb_act a = me_jb_get(&s->jb, now, &o);

	switch (a) {
	case ME_JB_WAIT:
		memset(pcm, 0, sizeof(pcm));
		break;
	case ME_JB_PLAY:
	case ME_JB_FEC:
		me_codec_decode(&s->cod, o.data, o.len, a == ME_JB_FEC, pcm);
		if (a == ME_JB_PLAY) {
			s->m2e_sum_ms += (me_now_ns() - o.arrival_ns) / 1e6;
			s->m2e_n++;
		}
		break;
	case ME_JB_PLC:
		me_codec_decode(&s->cod, NULL, 0, 0, pcm);
		break;
	}
	me_audio_out_write(&s->aout, pcm, s->cod.frame);
}

void me_sess_tick(struct media_session *s, uint64_t now)
{
	int16_t pcm[960];
	uint8_t pay[ME_JB_MAXPAY];
	int n;

	me_audio_in_read(&s->ain, pcm, s->cod.frame);
	n = me_codec_encode(&s->cod, pcm, pay, sizeof(pay));
	/* Opus DTX: 2 bytes or less need not be sent (libopus docs) */
	if (n > 2) {
		me_send_rtp(s, pay, (size_t)n, !s->talk, s->ts, now);
		s->talk = 1;
	} else {
		s->talk = 0;
	}
	s->ts += s->cod.frame;
	play(s, now);
	if (now >= s->next_rtcp_ns) {
		me_rtcp_send(s, now, 0);
		s->next_rtcp_ns = now + rtcp_interval_ns(s);
	}
}

void me_sess_packet(struct media_session *s, int k, uint8_t *buf,
		    size_t len, uint64_t now)
{
	struct rtp_hdr h;
	uint32_t arrival;

	(void)k;	/* RTCP may come on either socket (RFC 5761) */
	switch (rtp_classify(buf, len)) {
	case RTP_KIND_RTCP:
		me_rtcp_recv(s, buf, len, now);
		return;
	case RTP_KIND_RTP:
		break;
	default:
		s->st.malformed++;
		return;
	}
	if (s->rx) {
		int l = (int)len;

		if (srtp_unprotect(s->rx, buf, &l) != srtp_err_status_ok) {
			s->st.auth_fail++;
			return;
		}
		len = (size_t)l;
	}
	if (rtp_parse(buf, len, &h, 0)) {
		s->st.malformed++;
		return;
	}
	if (h.pt != s->pt) {
		if ((int)h.pt == s->tel_pt)
			s->st.dtmf_events++;
		else
			s->st.malformed++;
		return;
	}
	if (!s->have_remote || h.ssrc != s->remote_ssrc) {
		if (s->have_remote)   /* a new source: start over */
			me_jb_init(&s->jb, s->cod.rate, s->cod.frame,
				   s->codec == MEDIA_CODEC_OPUS);
		s->remote_ssrc = h.ssrc;
		s->have_remote = 1;
		rtp_source_init(&s->src, h.seq);
	}
	rtp_source_update(&s->src, h.seq);
	arrival = (uint32_t)(now / 1000 * s->cod.rate / 1000000);
	rtp_source_jitter(&s->src, arrival, h.ts);
	s->st.pkts_recv++;
	s->st.bytes_recv += len;
	me_jb_put(&s->jb, h.seq, h.ts, now, h.payload, h.payload_len);
}
