/*
 * fuzz_rtp: libFuzzer target for the RTP and RTCP parsers (RFC 3550,
 * RFC 8285 extensions) and builders. Properties: every pointer stays
 * inside the input; an RTP packet rebuilt from its parsed header,
 * extension and payload has the input's header and payload bytes; the
 * extension walk ends; each RTCP packet of the walk decodes or is refused
 * cleanly, and an SR/RR without padding or extension rebuilds to the same
 * bytes; the receiver statistics stay consistent over the input read as a
 * stream of sequence numbers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/rtp.h"

static const uint8_t *lo, *hi;

static void inside(const uint8_t *p, size_t n)
{
	if (p && (p < lo || p + n > hi))
		abort();
}

static void check_rtp(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	struct rtp_hdr h;
	struct rtp_ext_elem e;
	size_t off = 0, n, steps = 0;
	int err;

	if (rtp_parse(data, size, &h, RTP_PARSE_SRTP) == 0) {
		inside(h.payload, h.payload_len);
		if (h.hdr_len + h.payload_len != size)
			abort();
	}
	if (rtp_parse(data, size, &h, 0) != 0)
		return;
	inside(h.ext, h.ext_len);
	inside(h.payload, h.payload_len + h.pad_len);
	while ((err = rtp_ext_next(&h, &off, &e)) == 0) {
		inside(e.data, e.len);
		if (++steps > h.ext_len)
			abort();
	}
	if (err != -ENOENT && err != -EBADMSG && err != -ENOTSUP)
		abort();
	if (rtp_build(&h, h.payload, h.payload_len, out, sizeof(out), &n) ||
	    n != size || memcmp(out, data, h.hdr_len + h.payload_len))
		abort();
}

static void check_rtcp_pkt(const struct rtcp_pkt *p)
{
	static uint8_t out[2048];
	struct rtcp_rpt r;
	struct rtcp_sdes_item it;
	struct rtcp_bye b;
	struct rtcp_app a;
	struct rtcp_sdes_iter iter = { 0 };
	size_t n = 0, steps = 0;

	switch (p->pt) {
	case RTCP_SR:
	case RTCP_RR:
		if (rtcp_rpt_parse(p, &r))
			return;
		inside(r.ext, r.ext_len);
		if (!p->padding && !r.ext &&
		    (rtcp_build_rpt(&r, out, sizeof(out), &n) || n != p->len ||
		     memcmp(out, p->data, n)))
			abort();
		return;
	case RTCP_SDES:
		while (rtcp_sdes_next(p, &iter, &it) == 0) {
			inside(it.text, it.len);
			if (iter.off > p->len || ++steps > p->len)
				abort();
		}
		return;
	case RTCP_BYE:
		if (rtcp_bye_parse(p, &b) == 0)
			inside(b.reason, b.reason_len);
		return;
	case RTCP_APP:
		if (rtcp_app_parse(p, &a) == 0)
			inside(a.data, a.data_len);
		return;
	default:
		return;
	}
}

static void check_rtcp(const uint8_t *data, size_t size)
{
	struct rtcp_pkt p;
	size_t off = 0, total = 0;
	uint8_t pt;
	uint32_t ssrc;

	rtcp_check(data, size, 0);
	rtcp_peek(data, size, &pt, &ssrc);
	while (rtcp_next(data, size, &off, &p) == 0) {
		inside(p.data, p.len);
		total += p.len;
		check_rtcp_pkt(&p);
	}
	if (total > size)
		abort();
	if (rtcp_check(data, size, RTCP_ALLOW_REDUCED) == 0 && total != size)
		abort();
}

static void check_stats(const uint8_t *data, size_t size)
{
	struct rtp_source s;
	int32_t lost;
	uint8_t frac;
	uint32_t rtt;

	if (size < 2)
		return;
	rtp_source_init(&s, (uint16_t)(data[0] << 8 | data[1]));
	for (size_t i = 0; i + 1 < size; i += 2) {
		uint16_t seq = (uint16_t)(data[i] << 8 | data[i + 1]);
		rtp_source_update(&s, seq);
		rtp_source_jitter(&s, (uint32_t)i * 160u + data[i], seq * 160u);
		if (i % 64 == 0)
			rtp_source_loss(&s, &lost, &frac);
	}
	rtp_source_loss(&s, &lost, &frac);
	if (lost > 0x7fffff || lost < -0x800000)
		abort();
	if (size >= 12) {
		uint32_t a = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
			     (uint32_t)data[2] << 8 | data[3];
		uint32_t l = (uint32_t)data[4] << 24 | data[5];
		uint32_t d = (uint32_t)data[8] << 8 | data[9];
		if (rtcp_rtt(a, l, d, &rtt) == 0 && rtt + d != a - l)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return 0;
	lo = data;
	hi = data + size;
	rtp_classify(data, size);
	check_rtp(data, size);
	check_rtcp(data, size);
	check_stats(data, size);
	return 0;
}
