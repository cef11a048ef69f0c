/*
 * rtp: the RTP fixed header, CSRC list, header extension and padding
 * (RFC 3550 s.5.1, s.5.3), the RFC 8285 one-byte and two-byte extension
 * elements, and the demultiplexing of RTP, RTCP (RFC 5761 s.4), STUN and
 * DTLS (RFC 7983) on one port. The relay reads SRTP through rtp_parse
 * with RTP_PARSE_SRTP: everything it needs is in the clear header.
 */
#include <errno.h>
#include <string.h>

#include "dataline/rtp.h"
#include "rtp_int.h"

int rtp_parse(const void *buf, size_t len, struct rtp_hdr *out,
	      unsigned flags)
{
	const uint8_t *p = buf;
	struct rtp_hdr h;
	size_t off;

	if (!buf || !out)
		return -EINVAL;
	if (len < RTP_HDR_MIN || p[0] >> 6 != RTP_VERSION)
		return -EBADMSG;
	memset(&h, 0, sizeof(h));
	h.padding = (p[0] >> 5) & 1;
	h.extension = (p[0] >> 4) & 1;
	h.cc = p[0] & 0x0f;
	h.marker = p[1] >> 7;
	h.pt = p[1] & 0x7f;
	h.seq = rtp_rd16(p + 2);
	h.ts = rtp_rd32(p + 4);
	h.ssrc = rtp_rd32(p + 8);
	off = RTP_HDR_MIN;
	if (len < off + 4u * h.cc)
		return -EBADMSG;
	for (unsigned i = 0; i < h.cc; i++, off += 4)
		h.csrc[i] = rtp_rd32(p + off);
	if (h.extension) {
		if (len < off + 4)
			return -EBADMSG;
		h.ext_profile = rtp_rd16(p + off);
		h.ext_len = 4u * rtp_rd16(p + off + 2);
		off += 4;
		if (len - off < h.ext_len)
			return -EBADMSG;
		h.ext = p + off;
		off += h.ext_len;
	}
	h.hdr_len = off;
	h.payload = p + off;
	h.payload_len = len - off;
	if (h.padding && !(flags & RTP_PARSE_SRTP)) {
		h.pad_len = p[len - 1];
		if (h.pad_len == 0 || h.pad_len > h.payload_len)
			return -EBADMSG;
		h.payload_len -= h.pad_len;
	}
	*out = h;
	return 0;
}

int rtp_build(const struct rtp_hdr *h, const void *payload, size_t plen,
	      void *out, size_t cap, size_t *outlen)
{
	uint8_t *p = out;
	size_t n, off;

	if (!h || !out || !outlen || (plen && !payload) || h->cc > RTP_MAX_CSRC ||
	    h->pt > 127 || (h->ext && (h->ext_len % 4 || h->ext_len > 4u * 0xffff)))
		return -EINVAL;
	n = RTP_HDR_MIN + 4u * h->cc + (h->ext ? 4 + h->ext_len : 0);
	if (cap < n || cap - n < plen || cap - n - plen < h->pad_len)
		return -ENOSPC;
	p[0] = (uint8_t)(RTP_VERSION << 6 | (h->pad_len ? 1 : 0) << 5 |
			 (h->ext ? 1 : 0) << 4 | h->cc);
	p[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
	rtp_wr16(p + 2, h->seq);
	rtp_wr32(p + 4, h->ts);
	rtp_wr32(p + 8, h->ssrc);
	off = RTP_HDR_MIN;
	for (unsigned i = 0; i < h->cc; i++, off += 4)
		rtp_wr32(p + off, h->csrc[i]);
	if (h->ext) {
		rtp_wr16(p + off, h->ext_profile);
		rtp_wr16(p + off + 2, (uint16_t)(h->ext_len / 4));
		memcpy(p + off + 4, h->ext, h->ext_len);
		off += 4 + h->ext_len;
	}
	if (plen)
		memcpy(p + off, payload, plen);
	off += plen;
	if (h->pad_len) {
		memset(p + off, 0, h->pad_len);
		off += h->pad_len;
		p[off - 1] = h->pad_len;
	}
	*outlen = off;
	return 0;
}

int rtp_ext_next(const struct rtp_hdr *h, size_t *off, struct rtp_ext_elem *e)
{
	int two;
	size_t o;

	if (!h || !off || !e)
		return -EINVAL;
	if (!h->ext)
		return -ENOENT;
	if (h->ext_profile == 0xBEDE)
		two = 0;
	else if ((h->ext_profile & 0xfff0) == 0x1000)
		two = 1;
	else
		return -ENOTSUP;
	o = *off;
	/* padding bytes (ID 0, RFC 8285 s.4.2 and s.4.3) */
	while (o < h->ext_len && h->ext[o] == 0)
		o++;
	if (o >= h->ext_len)
		return -ENOENT;
	if (!two) {
		uint8_t id = h->ext[o] >> 4, n = (h->ext[o] & 0x0f) + 1;
		/* s.4.2: ID 15 stops the parsing; ID 0 is only padding (a
		 * zero byte), so one with a length ends it as well */
		if (id == 15 || id == 0)
			return -ENOENT;
		if (h->ext_len - o - 1 < n)
			return -EBADMSG;
		e->id = id, e->len = n, e->data = h->ext + o + 1;
		*off = o + 1 + n;
		return 0;
	}
	if (h->ext_len - o < 2 || h->ext_len - o - 2 < h->ext[o + 1])
		return -EBADMSG;
	e->id = h->ext[o];
	e->len = h->ext[o + 1];
	e->data = h->ext + o + 2;
	*off = o + 2 + e->len;
	return 0;
}

enum rtp_kind rtp_classify(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!buf || len < 2)
		return RTP_KIND_OTHER;
	if (p[0] <= 3)
		return RTP_KIND_STUN;
	if (p[0] >= 20 && p[0] <= 63)
		return RTP_KIND_DTLS;
	if (p[0] < 128 || p[0] > 191)
		return RTP_KIND_OTHER;
	/* RFC 5761 s.4: RTCP packet types 192..223 put 64..95 in the
	 * RTP payload type field (marker bit aside) */
	if ((p[1] & 0x7f) >= 64 && (p[1] & 0x7f) <= 95)
		return len >= 8 ? RTP_KIND_RTCP : RTP_KIND_OTHER;
	return len >= RTP_HDR_MIN ? RTP_KIND_RTP : RTP_KIND_OTHER;
}
