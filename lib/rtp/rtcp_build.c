/*
 * rtcp_build: writers of the RTCP packets a media engine sends (RFC 3550
 * s.6.4 SR/RR, s.6.5.1 SDES CNAME, s.6.6 BYE), each appended to a compound
 * packet, and the round-trip time of s.6.4.1 from a report block's LSR and
 * DLSR.
 */
#include <errno.h>
#include <string.h>

#include "dataline/rtp.h"
#include "rtp_int.h"

/* The common header: V=2, P=0, count, type, length in words - 1. */
static void hdr(uint8_t *p, uint8_t count, uint8_t pt, size_t len)
{
	p[0] = (uint8_t)(RTP_VERSION << 6 | (count & 0x1f));
	p[1] = pt;
	rtp_wr16(p + 2, (uint16_t)(len / 4 - 1));
}

static uint8_t *room(void *out, size_t cap, const size_t *off, size_t n)
{
	if (!out || !off || *off > cap || cap - *off < n)
		return NULL;
	return (uint8_t *)out + *off;
}

int rtcp_build_rpt(const struct rtcp_rpt *r, void *out, size_t cap,
		   size_t *off)
{
	size_t n, o;
	uint8_t *p;

	if (!r || !off || r->nreports > RTCP_MAX_REPORTS)
		return -EINVAL;
	o = r->is_sr ? 28 : 8;
	n = o + 24u * r->nreports;
	if (!(p = room(out, cap, off, n)))
		return -ENOSPC;
	hdr(p, r->nreports, r->is_sr ? RTCP_SR : RTCP_RR, n);
	rtp_wr32(p + 4, r->ssrc);
	if (r->is_sr) {
		rtp_wr32(p + 8, r->ntp_sec);
		rtp_wr32(p + 12, r->ntp_frac);
		rtp_wr32(p + 16, r->rtp_ts);
		rtp_wr32(p + 20, r->pkt_count);
		rtp_wr32(p + 24, r->octet_count);
	}
	for (unsigned i = 0; i < r->nreports; i++, o += 24) {
		const struct rtcp_report *b = &r->reports[i];
		uint32_t lost = (uint32_t)b->lost & 0xffffff;
		if (b->lost > 0x7fffff)
			lost = 0x7fffff;
		else if (b->lost < -0x800000)
			lost = 0x800000;
		rtp_wr32(p + o, b->ssrc);
		rtp_wr32(p + o + 4, (uint32_t)b->fraction << 24 | lost);
		rtp_wr32(p + o + 8, b->ext_max);
		rtp_wr32(p + o + 12, b->jitter);
		rtp_wr32(p + o + 16, b->lsr);
		rtp_wr32(p + o + 20, b->dlsr);
	}
	*off += n;
	return 0;
}

int rtcp_build_sdes_cname(uint32_t ssrc, const char *cname, void *out,
			  size_t cap, size_t *off)
{
	size_t cl, n;
	uint8_t *p;

	if (!cname || !off || (cl = strlen(cname)) == 0 || cl > 255)
		return -EINVAL;
	/* header, SSRC, CNAME item, END, null padding to 32 bits */
	n = (4 + 4 + 2 + cl + 1 + 3) & ~(size_t)3;
	if (!(p = room(out, cap, off, n)))
		return -ENOSPC;
	memset(p, 0, n);
	hdr(p, 1, RTCP_SDES, n);
	rtp_wr32(p + 4, ssrc);
	p[8] = RTCP_SDES_CNAME;
	p[9] = (uint8_t)cl;
	memcpy(p + 10, cname, cl);
	*off += n;
	return 0;
}

int rtcp_build_bye(const uint32_t *ssrc, size_t nssrc, const char *reason,
		   void *out, size_t cap, size_t *off)
{
	size_t rl = reason ? strlen(reason) : 0, n;
	uint8_t *p;

	if (!off || (nssrc && !ssrc) || nssrc > 31 || rl > 255)
		return -EINVAL;
	n = 4 + 4 * nssrc + (rl ? (1 + rl + 3) & ~(size_t)3 : 0);
	if (!(p = room(out, cap, off, n)))
		return -ENOSPC;
	memset(p, 0, n);
	hdr(p, (uint8_t)nssrc, RTCP_BYE, n);
	for (size_t i = 0; i < nssrc; i++)
		rtp_wr32(p + 4 + 4 * i, ssrc[i]);
	if (rl) {
		p[4 + 4 * nssrc] = (uint8_t)rl;
		memcpy(p + 5 + 4 * nssrc, reason, rl);
	}
	*off += n;
	return 0;
}

int rtcp_rtt(uint32_t arrival, uint32_t lsr, uint32_t dlsr, uint32_t *rtt)
{
	uint32_t since;

	if (!rtt)
		return -EINVAL;
	if (lsr == 0)
		return -ENODATA;
	/* modular: the middle 32 bits wrap every 18 hours */
	since = arrival - lsr;
	if (since < dlsr || since > 0x80000000u)
		return -ERANGE;
	*rtt = since - dlsr;
	return 0;
}
