/*
 * rtcp: the RTCP compound packet walk and its A.2 validity check
 * (RFC 3550 s.6.1, appendix A.2; RFC 5506 reduced size allowed on
 * request), the clear header of SRTCP (RFC 3711 s.3.4), and the decoders
 * of SR and RR (s.6.4), SDES (s.6.5), BYE (s.6.6) and APP (s.6.7).
 * Packet types it does not decode (RTPFB, PSFB, XR, ...) are returned by
 * the walk for the caller to skip or read.
 */
#include <errno.h>
#include <string.h>

#include "dataline/rtp.h"
#include "rtp_int.h"

int rtcp_next(const void *buf, size_t len, size_t *off, struct rtcp_pkt *p)
{
	const uint8_t *b = buf;
	size_t o, n;

	if (!buf || !off || !p)
		return -EINVAL;
	o = *off;
	if (o >= len)
		return -ENOENT;
	if (len - o < RTCP_HDR_LEN || b[o] >> 6 != RTP_VERSION)
		return -EBADMSG;
	n = 4u * ((size_t)rtp_rd16(b + o + 2) + 1);
	if (n > len - o)
		return -EBADMSG;
	p->padding = (b[o] >> 5) & 1;
	p->count = b[o] & 0x1f;
	p->pt = b[o + 1];
	p->data = b + o;
	p->len = n;
	*off = o + n;
	return 0;
}

int rtcp_check(const void *buf, size_t len, unsigned flags)
{
	struct rtcp_pkt p;
	size_t off = 0;
	int err, first = 1, padded = 0;

	if (!buf)
		return -EINVAL;
	while ((err = rtcp_next(buf, len, &off, &p)) == 0) {
		if (first && !(flags & RTCP_ALLOW_REDUCED) &&
		    p.pt != RTCP_SR && p.pt != RTCP_RR)
			return -EBADMSG;
		if (padded)
			return -EBADMSG;	/* padding only on the last */
		padded = p.padding;
		first = 0;
	}
	if (err != -ENOENT || first)
		return -EBADMSG;
	if (padded) {
		uint8_t n = p.data[p.len - 1];
		if (n == 0 || n > p.len - RTCP_HDR_LEN || n % 4)
			return -EBADMSG;
	}
	return 0;
}

int rtcp_peek(const void *buf, size_t len, uint8_t *pt, uint32_t *ssrc)
{
	const uint8_t *b = buf;

	if (!buf || !pt || !ssrc)
		return -EINVAL;
	if (len < 8 || b[0] >> 6 != RTP_VERSION)
		return -EBADMSG;
	*pt = b[1];
	*ssrc = rtp_rd32(b + 4);
	return 0;
}

/* The body without padding (the count in the last byte). */
static int body_len(const struct rtcp_pkt *p, size_t *n)
{
	size_t pad = 0;

	if (p->padding) {
		pad = p->data[p->len - 1];
		if (pad == 0 || pad > p->len - RTCP_HDR_LEN)
			return -EBADMSG;
	}
	*n = p->len - pad;
	return 0;
}

static void report(const uint8_t *b, struct rtcp_report *r)
{
	uint32_t lost = (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];

	r->ssrc = rtp_rd32(b);
	r->fraction = b[4];
	/* 24-bit two's complement */
	r->lost = (int32_t)(lost & 0x800000 ? lost - 0x1000000 : lost);
	r->ext_max = rtp_rd32(b + 8);
	r->jitter = rtp_rd32(b + 12);
	r->lsr = rtp_rd32(b + 16);
	r->dlsr = rtp_rd32(b + 20);
}

int rtcp_rpt_parse(const struct rtcp_pkt *p, struct rtcp_rpt *out)
{
	struct rtcp_rpt r;
	const uint8_t *b;
	size_t n, o;

	if (!p || !out || !p->data)
		return -EINVAL;
	if ((p->pt != RTCP_SR && p->pt != RTCP_RR) || body_len(p, &n))
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	b = p->data;
	r.is_sr = p->pt == RTCP_SR;
	o = r.is_sr ? 28 : 8;
	if (n < o + 24u * p->count)
		return -EBADMSG;
	r.ssrc = rtp_rd32(b + 4);
	if (r.is_sr) {
		r.ntp_sec = rtp_rd32(b + 8);
		r.ntp_frac = rtp_rd32(b + 12);
		r.rtp_ts = rtp_rd32(b + 16);
		r.pkt_count = rtp_rd32(b + 20);
		r.octet_count = rtp_rd32(b + 24);
	}
	r.nreports = p->count;
	for (unsigned i = 0; i < p->count; i++, o += 24)
		report(b + o, &r.reports[i]);
	if (o < n) {
		r.ext = b + o;
		r.ext_len = n - o;
	}
	*out = r;
	return 0;
}

int rtcp_sdes_next(const struct rtcp_pkt *p, struct rtcp_sdes_iter *it,
		   struct rtcp_sdes_item *item)
{
	const uint8_t *b;
	size_t n, o;

	if (!p || !it || !item || !p->data)
		return -EINVAL;
	if (p->pt != RTCP_SDES || body_len(p, &n))
		return -EBADMSG;
	b = p->data;
	if (it->chunk == 0) {	/* the first chunk follows the header */
		it->chunk = 4;
		it->off = 8;
		it->nchunk = 0;
	}
	while (it->nchunk < p->count) {
		if (it->chunk + 4 > n || (o = it->off) >= n)
			return -EBADMSG;
		if (b[o] == RTCP_SDES_END) {
			/* the END item and the null padding to a 32-bit
			 * boundary close the chunk */
			it->chunk = (o + 4) & ~(size_t)3;
			it->off = it->chunk + 4;
			it->nchunk++;
			continue;
		}
		if (o + 2 > n || o + 2 + b[o + 1] > n)
			return -EBADMSG;
		item->ssrc = rtp_rd32(b + it->chunk);
		item->type = b[o];
		item->len = b[o + 1];
		item->text = b + o + 2;
		it->off = o + 2 + item->len;
		return 0;
	}
	return -ENOENT;
}

int rtcp_sdes_cname(const struct rtcp_pkt *p, int ssrc_any, uint32_t ssrc,
		    struct rtcp_sdes_item *out)
{
	struct rtcp_sdes_iter iter = { 0 };
	struct rtcp_sdes_item it;
	int err;

	while ((err = rtcp_sdes_next(p, &iter, &it)) == 0)
		if (it.type == RTCP_SDES_CNAME && (ssrc_any || it.ssrc == ssrc)) {
			*out = it;
			return 0;
		}
	return err;
}

int rtcp_bye_parse(const struct rtcp_pkt *p, struct rtcp_bye *out)
{
	struct rtcp_bye r;
	size_t n, o;

	if (!p || !out || !p->data)
		return -EINVAL;
	if (p->pt != RTCP_BYE || body_len(p, &n) ||
	    n < 4 + 4u * p->count)
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	r.nssrc = p->count;
	for (unsigned i = 0; i < p->count; i++)
		r.ssrc[i] = rtp_rd32(p->data + 4 + 4 * i);
	o = 4 + 4u * p->count;
	if (o < n) {
		if (o + 1 + p->data[o] > n)
			return -EBADMSG;
		r.reason_len = p->data[o];
		r.reason = p->data + o + 1;
	}
	*out = r;
	return 0;
}

int rtcp_app_parse(const struct rtcp_pkt *p, struct rtcp_app *out)
{
	size_t n;

	if (!p || !out || !p->data)
		return -EINVAL;
	if (p->pt != RTCP_APP || body_len(p, &n) || n < 12 || n % 4)
		return -EBADMSG;
	out->subtype = p->count;
	out->ssrc = rtp_rd32(p->data + 4);
	memcpy(out->name, p->data + 8, 4);
	out->data = p->data + 12;
	out->data_len = n - 12;
	return 0;
}
