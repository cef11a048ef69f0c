/*
 * media_rtcp: a session's RTCP (RFC 3550 s.6), protected as SRTCP
 * (RFC 3711 s.3.4) when SRTP is on. Sending: a compound packet of an SR
 * (if we sent RTP since the last report) or an RR, with one report block
 * on the peer's source (A.3 loss, A.8 jitter, LSR/DLSR), then SDES CNAME,
 * then BYE at the end of the session; on the RTCP port, or on the RTP
 * port with rtcp-mux (RFC 5761). Receiving: the peer's SR time (our next
 * LSR), and its report block on us: the round-trip time (s.6.4.1), its
 * loss fraction and jitter, which media_stats exposes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "media_priv.h"

#define NTP_UNIX_OFFSET 2208988800u

static void ntp_now(uint32_t *sec, uint32_t *frac)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*sec = (uint32_t)((uint64_t)ts.tv_sec + NTP_UNIX_OFFSET);
	*frac = (uint32_t)(((uint64_t)ts.tv_nsec << 32) / 1000000000u);
}

void me_rtcp_send(struct media_session *s, uint64_t now, int bye)
{
	uint8_t buf[512];
	size_t off = 0, cap = sizeof(buf) - SRTP_MAX_TRAILER_LEN - 8;
	struct rtcp_rpt r;
	char cname[64];
	int l, k;

	memset(&r, 0, sizeof(r));
	r.ssrc = s->ssrc;
	if (s->sent_since_rtcp) {
		r.is_sr = 1;
		ntp_now(&r.ntp_sec, &r.ntp_frac);
		r.rtp_ts = s->last_sent_ts;
		r.pkt_count = (uint32_t)s->pkts_sent;
		r.octet_count = (uint32_t)s->octets_sent;
		s->sent_since_rtcp = 0;
	}
	if (s->have_remote && s->src.received) {
		struct rtcp_report *b = &r.reports[0];

		r.nreports = 1;
		b->ssrc = s->remote_ssrc;
		rtp_source_loss(&s->src, &b->lost, &b->fraction);
		b->ext_max = rtp_source_ext_max(&s->src);
		b->jitter = s->src.jitter >> 4;
		b->lsr = s->lsr;
		b->dlsr = s->lsr ? (uint32_t)((now - s->lsr_at_ns) * 65536 / 1000000000u)
				 : 0;
	}
	snprintf(cname, sizeof(cname), "dataline@%s", s->addr);
	if (rtcp_build_rpt(&r, buf, cap, &off) ||
	    rtcp_build_sdes_cname(s->ssrc, cname, buf, cap, &off) ||
	    (bye && rtcp_build_bye(&s->ssrc, 1, NULL, buf, cap, &off)))
		return;
	l = (int)off;
	if (s->tx && srtp_protect_rtcp(s->tx, buf, &l) != srtp_err_status_ok)
		return;
	k = s->remote_mux || s->fd[1] < 0 ? 0 : 1;
	if (me_sess_send(s, k, &s->remote_rtcp, buf, (size_t)l) == 0)
		s->st.rtcp_sent++;
}

static void on_report(struct media_session *s, const struct rtcp_rpt *r)
{
	for (unsigned i = 0; i < r->nreports; i++) {
		const struct rtcp_report *b = &r->reports[i];
		uint32_t sec, frac, rtt;

		if (b->ssrc != s->ssrc)
			continue;
		s->st.remote_loss_pct = b->fraction * 100.0 / 256;
		s->remote_jitter_ts = b->jitter;
		ntp_now(&sec, &frac);
		if (rtcp_rtt(rtcp_ntp_mid(sec, frac), b->lsr, b->dlsr, &rtt) == 0)
			s->st.rtt_ms = rtt * 1000.0 / 65536;
	}
}

void me_rtcp_recv(struct media_session *s, uint8_t *buf, size_t len,
		  uint64_t now)
{
	struct rtcp_pkt p;
	struct rtcp_rpt r;
	size_t off = 0;

	if (s->rx) {
		int l = (int)len;

		if (srtp_unprotect_rtcp(s->rx, buf, &l) != srtp_err_status_ok) {
			s->st.auth_fail++;
			return;
		}
		len = (size_t)l;
	}
	if (rtcp_check(buf, len, RTCP_ALLOW_REDUCED)) {
		s->st.malformed++;
		return;
	}
	s->st.rtcp_recv++;
	while (rtcp_next(buf, len, &off, &p) == 0) {
		if ((p.pt != RTCP_SR && p.pt != RTCP_RR) || rtcp_rpt_parse(&p, &r))
			continue;
		if (r.is_sr) {
			s->lsr = rtcp_ntp_mid(r.ntp_sec, r.ntp_frac);
			s->lsr_at_ns = now;
		}
		on_report(s, &r);
	}
}
