/*
 * test_rtp: RTP headers (hand-built packets with CSRCs, RFC 8285 one-byte
 * and two-byte extensions, padding; SRTP's encrypted padding), malformed
 * packets, sequence arithmetic across the wrap, the RFC 3550 appendix A
 * receiver state (probation, cycles, restarts, A.3 loss, A.8 jitter), the
 * RFC 5761 / RFC 7983 demultiplexing, RTCP compound packets built and
 * walked (SR, RR, SDES, BYE, APP), their A.2 check, SRTCP's clear header,
 * and the s.6.4.1 round-trip time with the RFC 3550 figure 2 numbers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/rtp.h"

/* V=2 P=1 X=1 CC=2, M=1 PT=111, seq 0xfffe, ts 0x01020304,
 * ssrc 0xdeadbeef, 2 CSRCs, one-byte extension (3 words), 4 payload bytes,
 * 4 padding bytes */
static const uint8_t pkt1[] = {
	0xb2, 0xef, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04,
	0xde, 0xad, 0xbe, 0xef,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0xbe, 0xde, 0x00, 0x03,
	0x11, 0xaa, 0xbb,	/* id 1, 2 bytes (L = len - 1) */
	0x00,			/* padding */
	0x22, 0x01, 0x02, 0x03,	/* id 2, 3 bytes */
	0x00, 0x00, 0x00, 0x00,	/* padding */
	'o', 'p', 'u', 's',
	0x00, 0x00, 0x00, 0x04,
};

static void t_rtp_parse(void **s)
{
	struct rtp_hdr h;
	struct rtp_ext_elem e;
	size_t off = 0;
	(void)s;

	assert_int_equal(rtp_parse(pkt1, sizeof(pkt1), &h, 0), 0);
	assert_int_equal(h.padding, 1);
	assert_int_equal(h.extension, 1);
	assert_int_equal(h.cc, 2);
	assert_int_equal(h.marker, 1);
	assert_int_equal(h.pt, 111);
	assert_int_equal(h.seq, 0xfffe);
	assert_int_equal(h.ts, 0x01020304);
	assert_int_equal(h.ssrc, 0xdeadbeef);
	assert_int_equal(h.csrc[0], 1);
	assert_int_equal(h.csrc[1], 2);
	assert_int_equal(h.ext_profile, 0xBEDE);
	assert_int_equal(h.ext_len, 12);
	assert_int_equal(h.hdr_len, 36);
	assert_int_equal(h.payload_len, 4);
	assert_memory_equal(h.payload, "opus", 4);
	assert_int_equal(h.pad_len, 4);

	assert_int_equal(rtp_ext_next(&h, &off, &e), 0);
	assert_int_equal(e.id, 1);
	assert_int_equal(e.len, 2);
	assert_int_equal(e.data[0], 0xaa);
	assert_int_equal(rtp_ext_next(&h, &off, &e), 0);
	assert_int_equal(e.id, 2);
	assert_int_equal(e.len, 3);
	assert_int_equal(e.data[2], 0x03);
	assert_int_equal(rtp_ext_next(&h, &off, &e), -ENOENT);

	/* SRTP: the padding count is encrypted; the payload runs to the
	 * end (auth tag included) */
	assert_int_equal(rtp_parse(pkt1, sizeof(pkt1), &h, RTP_PARSE_SRTP), 0);
	assert_int_equal(h.payload_len, 8);
	assert_int_equal(h.pad_len, 0);
	assert_int_equal(h.ssrc, 0xdeadbeef);
}

static void t_rtp_ext_forms(void **s)
{
	/* two-byte form (0x100 + appbits 0x5): id 5 len 0, padding, id 200
	 * len 2, then id 15 in the one-byte form ends a walk */
	static const uint8_t two[] = {
		0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,
		0x10, 0x05, 0x00, 0x02,
		0x05, 0x00, 0x00, 0xc8, 0x02, 0x11, 0x22, 0x00,
	};
	static const uint8_t stop[] = {
		0x90, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,
		0xbe, 0xde, 0x00, 0x01,
		0x11, 0x01, 0x02, 0xf0,
	};
	/* ID 0 with a length is no element: the walk ends there */
	static const uint8_t id0[] = {
		0x90, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,
		0xbe, 0xde, 0x00, 0x01,
		0x00, 0x02, 0x01, 0x02,
	};
	static const uint8_t other[] = {
		0x90, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,
		0x12, 0x34, 0x00, 0x01, 1, 2, 3, 4,
	};
	/* one-byte element longer than the extension */
	static const uint8_t bad[] = {
		0x90, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,
		0xbe, 0xde, 0x00, 0x01, 0x1f, 0x01, 0x02, 0x03,
	};
	uint8_t buf[sizeof(two)];
	struct rtp_hdr h;
	struct rtp_ext_elem e;
	size_t off = 0;
	(void)s;

	memcpy(buf, two, sizeof(two));
	buf[0] = 0x90;	/* X */
	assert_int_equal(rtp_parse(buf, sizeof(buf), &h, 0), 0);
	assert_int_equal(rtp_ext_next(&h, &off, &e), 0);
	assert_int_equal(e.id, 5);
	assert_int_equal(e.len, 0);
	assert_int_equal(rtp_ext_next(&h, &off, &e), 0);
	assert_int_equal(e.id, 200);
	assert_int_equal(e.len, 2);
	assert_int_equal(e.data[1], 0x22);
	assert_int_equal(rtp_ext_next(&h, &off, &e), -ENOENT);

	off = 0;
	assert_int_equal(rtp_parse(stop, sizeof(stop), &h, 0), 0);
	assert_int_equal(rtp_ext_next(&h, &off, &e), 0);
	assert_int_equal(e.len, 2);
	assert_int_equal(rtp_ext_next(&h, &off, &e), -ENOENT);

	/* the first step of a walk, one packet per row */
	const struct {
		const uint8_t *pkt;
		size_t len;
		int err;
	} first[] = {
		{ id0, sizeof(id0), -ENOENT },
		{ other, sizeof(other), -ENOTSUP },
		{ bad, sizeof(bad), -EBADMSG },
		{ two, sizeof(two), -ENOENT },	/* without X: nothing to walk */
	};
	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		off = 0;
		assert_int_equal(rtp_parse(first[i].pkt, first[i].len, &h, 0), 0);
		assert_int_equal(rtp_ext_next(&h, &off, &e), first[i].err);
	}
}

static void t_rtp_malformed(void **s)
{
	static const struct {
		uint8_t b[20];
		size_t len;
	} rows[] = {
		{ { 0x80, 0 }, 11 },			/* short */
		{ { 0x40, 0 }, 12 },			/* version 1 */
		{ { 0x00, 0 }, 12 },			/* version 0 */
		{ { 0x81, 0 }, 12 },			/* CC 1, no CSRC */
		{ { 0x90, 0 }, 12 },			/* X, no ext header */
		{ { 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    0xbe, 0xde, 0x00, 0x02, 0, 0, 0, 0 }, 20 },	/* ext past end */
		{ { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    1, 2, 3, 0 }, 16 },		/* padding count 0 */
		{ { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    1, 2, 3, 5 }, 16 },		/* padding beyond payload */
	};
	struct rtp_hdr h;
	(void)s;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rtp_parse(rows[i].b, rows[i].len, &h, 0) != -EBADMSG)
			fail_msg("row %zu parsed", i);
	assert_int_equal(rtp_parse(NULL, 12, &h, 0), -EINVAL);
}

static void t_rtp_build(void **s)
{
	static const uint8_t ext[] = { 0x11, 0xaa, 0xbb, 0x00, 0x22, 1, 2, 3,
				       0, 0, 0, 0 };
	struct rtp_hdr h = { 0 }, r;
	uint8_t out[64];
	size_t n, n2;
	(void)s;

	h.cc = 2, h.csrc[0] = 1, h.csrc[1] = 2;
	h.marker = 1, h.pt = 111, h.seq = 0xfffe, h.ts = 0x01020304;
	h.ssrc = 0xdeadbeef;
	h.ext_profile = 0xBEDE, h.ext = ext, h.ext_len = sizeof(ext);
	h.pad_len = 4;
	assert_int_equal(rtp_build(&h, "opus", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(pkt1));
	assert_memory_equal(out, pkt1, n);
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(rtp_build(&h, "opus", 4, out, cap, &n2), -ENOSPC);
	assert_int_equal(rtp_parse(out, n, &r, 0), 0);
	assert_int_equal(r.seq, h.seq);
	h.ext_len = 3;
	assert_int_equal(rtp_build(&h, "opus", 4, out, sizeof(out), &n), -EINVAL);
	h.ext_len = sizeof(ext);
	h.pt = 128;
	assert_int_equal(rtp_build(&h, "opus", 4, out, sizeof(out), &n), -EINVAL);
	h.pt = 0, h.cc = 16;
	assert_int_equal(rtp_build(&h, "opus", 4, out, sizeof(out), &n), -EINVAL);
}

static void t_seq_arith(void **s)
{
	(void)s;
	assert_true(rtp_seq_lt(65535, 0));
	assert_false(rtp_seq_lt(0, 65535));
	assert_true(rtp_seq_lt(65000, 100));
	assert_int_equal(rtp_seq_diff(0, 65535), 1);
	assert_int_equal(rtp_seq_diff(65535, 0), -1);
	assert_int_equal(rtp_seq_diff(32768, 0), -32768);
	assert_int_equal(rtp_seq_diff(32767, 0), 32767);
	assert_int_equal(rtp_ts_diff(5, 0xfffffffb), 10);
	assert_int_equal(rtp_ts_diff(0xfffffffb, 5), -10);
}

static void t_source(void **s)
{
	struct rtp_source src;
	int32_t lost;
	uint8_t frac;
	(void)s;

	/* probation: the first packet does not count, the second
	 * sequential one makes the source valid */
	rtp_source_init(&src, 100);
	assert_int_equal(rtp_source_update(&src, 100), 0);
	assert_int_equal(rtp_source_update(&src, 101), 1);
	assert_int_equal(src.base_seq, 101);
	for (uint32_t q = 102; q <= 65535; q++)
		assert_int_equal(rtp_source_update(&src, (uint16_t)q), 1);
	/* wrap, with 0..4 lost */
	for (uint16_t q = 5; q <= 10; q++)
		assert_int_equal(rtp_source_update(&src, q), 1);
	assert_int_equal(src.cycles, 65536);
	assert_int_equal(rtp_source_ext_max(&src), 65536 + 10);
	rtp_source_loss(&src, &lost, &frac);
	assert_int_equal(lost, 5);
	assert_int_equal(frac, 5 * 256 / 65446);
	/* next interval: 11..20 without 12 and 13: 2 of 10, 51/256 */
	for (uint16_t q = 11; q <= 20; q++)
		if (q != 12 && q != 13)
			rtp_source_update(&src, q);
	rtp_source_loss(&src, &lost, &frac);
	assert_int_equal(lost, 7);
	assert_int_equal(frac, 51);
	/* a late duplicate counts as received (A.1), so loss goes down */
	assert_int_equal(rtp_source_update(&src, 15), 1);
	rtp_source_loss(&src, &lost, &frac);
	assert_int_equal(lost, 6);
	assert_int_equal(frac, 0);
	/* a large jump is refused once, then taken as a restart */
	assert_int_equal(rtp_source_update(&src, 40000), 0);
	assert_int_equal(rtp_source_update(&src, 40001), 1);
	assert_int_equal(src.base_seq, 40001);
	assert_int_equal(src.cycles, 0);
	/* a broken probation starts over */
	rtp_source_init(&src, 7);
	assert_int_equal(rtp_source_update(&src, 7), 0);
	assert_int_equal(rtp_source_update(&src, 9), 0);
	assert_int_equal(rtp_source_update(&src, 10), 1);
	/* all lost in an interval tops out at 255/256 */
	rtp_source_loss(&src, &lost, &frac);
	src.max_seq = (uint16_t)(src.max_seq + 100);
	rtp_source_loss(&src, &lost, &frac);
	assert_int_equal(frac, 255);
	assert_int_equal(lost, 100);
}

static void t_jitter(void **s)
{
	struct rtp_source src = { 0 };
	(void)s;

	/* 20 ms of 8 kHz audio per packet, constant transit: no jitter */
	for (uint32_t i = 0; i < 10; i++)
		assert_int_equal(rtp_source_jitter(&src, 1000 + 160 * i, 160 * i), 0);
	/* one packet 160 units late: J = 160/16 = 10 */
	assert_int_equal(rtp_source_jitter(&src, 1000 + 160 * 11, 160 * 10), 10);
	/* back on time: |D| = 160 again, J = 10 + (160 - 10)/16 = 19.375 */
	assert_int_equal(rtp_source_jitter(&src, 1000 + 160 * 11, 160 * 11), 19);
	/* the estimate decays toward 0 with steady transit */
	for (uint32_t i = 12; i < 200; i++)
		rtp_source_jitter(&src, 1000 + 160 * i, 160 * i);
	assert_int_equal(src.jitter >> 4, 0);
	/* the timestamps wrap without a jump */
	assert_int_equal(rtp_source_jitter(&src, 1000 - 16, 0xfffffff0), 0);
	assert_int_equal(rtp_source_jitter(&src, 1000 + 0x90, 0x90), 0);
}

static void t_classify(void **s)
{
	static const uint8_t stun[] = { 0x00, 0x01, 0, 0 };
	static const uint8_t dtls[] = { 0x16, 0xfe, 0xfd, 0 };
	static const uint8_t rtp[12] = { 0x80, 0x00 };
	static const uint8_t rtp_m96[12] = { 0x80, 0xe0 };
	static const uint8_t rtcp[8] = { 0x80, 0xc8 };
	static const uint8_t rtcp_rr[8] = { 0x81, 0xc9 };
	static const uint8_t junk[12] = { 0x50, 0x00 };
	(void)s;
	assert_int_equal(rtp_classify(stun, sizeof(stun)), RTP_KIND_STUN);
	assert_int_equal(rtp_classify(dtls, sizeof(dtls)), RTP_KIND_DTLS);
	assert_int_equal(rtp_classify(rtp, sizeof(rtp)), RTP_KIND_RTP);
	assert_int_equal(rtp_classify(rtp_m96, sizeof(rtp_m96)), RTP_KIND_RTP);
	assert_int_equal(rtp_classify(rtcp, sizeof(rtcp)), RTP_KIND_RTCP);
	assert_int_equal(rtp_classify(rtcp_rr, sizeof(rtcp_rr)), RTP_KIND_RTCP);
	assert_int_equal(rtp_classify(junk, sizeof(junk)), RTP_KIND_OTHER);
	assert_int_equal(rtp_classify(rtp, 11), RTP_KIND_OTHER);
	assert_int_equal(rtp_classify(rtp, 1), RTP_KIND_OTHER);
}

static void t_rtcp_compound(void **s)
{
	struct rtcp_rpt sr = { 0 }, got;
	struct rtcp_pkt p;
	struct rtcp_sdes_item it;
	struct rtcp_bye bye;
	const uint32_t gone[] = { 0x11111111, 0x22222222 };
	uint8_t buf[512];
	size_t len = 0, off = 0, n;
	(void)s;

	sr.is_sr = 1;
	sr.ssrc = 0x11111111;
	sr.ntp_sec = 0xb710, sr.ntp_frac = 0x80000000;
	sr.rtp_ts = 123456, sr.pkt_count = 1000, sr.octet_count = 160000;
	sr.nreports = 2;
	sr.reports[0] = (struct rtcp_report){ 0x33333333, 64, 5, 65546, 19,
					      0xb7052000, 0x00054000 };
	sr.reports[1] = (struct rtcp_report){ 0x44444444, 0, -3, 7, 0, 0, 0 };
	assert_int_equal(rtcp_build_rpt(&sr, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 28 + 48);
	assert_int_equal(rtcp_build_sdes_cname(0x11111111, "alice@example.com",
					       buf, sizeof(buf), &len), 0);
	assert_int_equal(rtcp_build_bye(gone, 2, "hangup", buf, sizeof(buf),
					&len), 0);
	assert_int_equal(len % 4, 0);
	assert_int_equal(rtcp_check(buf, len, 0), 0);

	assert_int_equal(rtcp_next(buf, len, &off, &p), 0);
	assert_int_equal(p.pt, RTCP_SR);
	assert_int_equal(rtcp_rpt_parse(&p, &got), 0);
	assert_true(got.is_sr);
	assert_int_equal(got.ssrc, 0x11111111);
	assert_int_equal(got.ntp_sec, 0xb710);
	assert_int_equal(got.octet_count, 160000);
	assert_int_equal(got.nreports, 2);
	assert_memory_equal(&got.reports[0], &sr.reports[0], sizeof(got.reports[0]));
	assert_int_equal(got.reports[1].lost, -3);
	assert_null(got.ext);

	assert_int_equal(rtcp_next(buf, len, &off, &p), 0);
	assert_int_equal(p.pt, RTCP_SDES);
	assert_int_equal(rtcp_sdes_cname(&p, 0, 0x11111111, &it), 0);
	assert_int_equal(it.len, strlen("alice@example.com"));
	assert_memory_equal(it.text, "alice@example.com", it.len);
	assert_int_equal(rtcp_sdes_cname(&p, 0, 0x99, &it), -ENOENT);

	assert_int_equal(rtcp_next(buf, len, &off, &p), 0);
	assert_int_equal(rtcp_bye_parse(&p, &bye), 0);
	assert_int_equal(bye.nssrc, 2);
	assert_int_equal(bye.ssrc[1], 0x22222222);
	assert_int_equal(bye.reason_len, 6);
	assert_memory_equal(bye.reason, "hangup", 6);
	assert_int_equal(rtcp_next(buf, len, &off, &p), -ENOENT);

	/* a wrong decoder for the type */
	off = 0;
	rtcp_next(buf, len, &off, &p);
	assert_int_equal(rtcp_bye_parse(&p, &bye), -EBADMSG);

	/* RR with no blocks; -ENOSPC leaves the offset alone */
	got = (struct rtcp_rpt){ .ssrc = 7 };
	n = 0;
	assert_int_equal(rtcp_build_rpt(&got, buf, 7, &n), -ENOSPC);
	assert_int_equal(n, 0);
	assert_int_equal(rtcp_build_rpt(&got, buf, 8, &n), 0);
	assert_int_equal(n, 8);
	off = 0;
	assert_int_equal(rtcp_next(buf, n, &off, &p), 0);
	assert_int_equal(rtcp_rpt_parse(&p, &got), 0);
	assert_false(got.is_sr);
	assert_int_equal(got.ssrc, 7);
	/* out-of-range cumulative loss is clamped on the wire */
	got.nreports = 1;
	got.reports[0].lost = -10000000;
	n = 0;
	assert_int_equal(rtcp_build_rpt(&got, buf, sizeof(buf), &n), 0);
	off = 0;
	rtcp_next(buf, n, &off, &p);
	assert_int_equal(rtcp_rpt_parse(&p, &got), 0);
	assert_int_equal(got.reports[0].lost, -0x800000);
}

static void t_rtcp_sdes_app(void **s)
{
	/* two chunks: ssrc 1 with NAME "ab" and CNAME "c"; ssrc 2 with
	 * CNAME "xyz" */
	static const uint8_t sdes[] = {
		0x82, 202, 0x00, 0x06,
		0, 0, 0, 1, 2, 2, 'a', 'b', 1, 1, 'c', 0,
		0, 0, 0, 2, 1, 3, 'x', 'y', 'z', 0, 0, 0,
	};
	static const uint8_t app[] = {
		0x85, 204, 0x00, 0x03, 0, 0, 0, 9, 'D', 'L', 'N', 'E',
		1, 2, 3, 4,
	};
	struct rtcp_pkt p;
	struct rtcp_sdes_item it;
	struct rtcp_app a;
	struct rtcp_sdes_iter io = { 0 };
	size_t off = 0;
	(void)s;

	assert_int_equal(rtcp_next(sdes, sizeof(sdes), &off, &p), 0);
	assert_int_equal(rtcp_sdes_next(&p, &io, &it), 0);
	assert_int_equal(it.ssrc, 1);
	assert_int_equal(it.type, RTCP_SDES_NAME);
	assert_int_equal(rtcp_sdes_next(&p, &io, &it), 0);
	assert_int_equal(it.type, RTCP_SDES_CNAME);
	assert_int_equal(it.text[0], 'c');
	assert_int_equal(rtcp_sdes_next(&p, &io, &it), 0);
	assert_int_equal(it.ssrc, 2);
	assert_memory_equal(it.text, "xyz", 3);
	assert_int_equal(rtcp_sdes_next(&p, &io, &it), -ENOENT);
	assert_int_equal(rtcp_sdes_cname(&p, 0, 2, &it), 0);
	assert_int_equal(it.len, 3);
	/* an SDES first is refused unless reduced-size RTCP is allowed */
	assert_int_equal(rtcp_check(sdes, sizeof(sdes), 0), -EBADMSG);
	assert_int_equal(rtcp_check(sdes, sizeof(sdes), RTCP_ALLOW_REDUCED), 0);

	off = 0;
	assert_int_equal(rtcp_next(app, sizeof(app), &off, &p), 0);
	assert_int_equal(rtcp_app_parse(&p, &a), 0);
	assert_int_equal(a.subtype, 5);
	assert_int_equal(a.ssrc, 9);
	assert_memory_equal(a.name, "DLNE", 4);
	assert_int_equal(a.data_len, 4);
	assert_int_equal(a.data[3], 4);
}

static void t_rtcp_malformed(void **s)
{
	/* an RR header with RC=1 but no report block */
	static const uint8_t rr_short[] = { 0x81, 201, 0, 1, 0, 0, 0, 1 };
	/* SDES whose CNAME runs past the packet */
	static const uint8_t sdes_long[] = { 0x81, 202, 0, 2, 0, 0, 0, 1,
					     1, 9, 'a', 'b' };
	/* SDES whose chunk has no END */
	static const uint8_t sdes_noend[] = { 0x81, 202, 0, 2, 0, 0, 0, 1,
					      1, 2, 'a', 'b' };
	/* BYE whose reason runs past the packet */
	static const uint8_t bye_long[] = { 0x81, 203, 0, 2, 0, 0, 0, 1,
					    9, 'x', 0, 0 };
	/* padded RR followed by another packet */
	static const uint8_t pad_mid[] = { 0xa0, 201, 0, 2, 0, 0, 0, 1,
					   0, 0, 0, 4, 0x80, 201, 0, 1,
					   0, 0, 0, 2 };
	static const uint8_t pad_last[] = { 0x80, 201, 0, 1, 0, 0, 0, 1,
					    0xa0, 202, 0, 1, 0, 0, 0, 4 };
	static const uint8_t v1[] = { 0x40, 201, 0, 1, 0, 0, 0, 1 };
	static const uint8_t past[] = { 0x80, 201, 0, 5, 0, 0, 0, 1 };
	struct rtcp_pkt p;
	struct rtcp_rpt r;
	struct rtcp_sdes_item it;
	struct rtcp_bye b;
	struct rtcp_sdes_iter io;
	size_t off;
	(void)s;

	off = 0;
	assert_int_equal(rtcp_next(rr_short, sizeof(rr_short), &off, &p), 0);
	assert_int_equal(rtcp_rpt_parse(&p, &r), -EBADMSG);
	off = 0, io = (struct rtcp_sdes_iter){ 0 };
	assert_int_equal(rtcp_next(sdes_long, sizeof(sdes_long), &off, &p), 0);
	assert_int_equal(rtcp_sdes_next(&p, &io, &it), -EBADMSG);
	off = 0, io = (struct rtcp_sdes_iter){ 0 };
	assert_int_equal(rtcp_next(sdes_noend, sizeof(sdes_noend), &off, &p), 0);
	assert_int_equal(rtcp_sdes_next(&p, &io, &it), 0);
	assert_int_equal(rtcp_sdes_next(&p, &io, &it), -EBADMSG);
	off = 0;
	assert_int_equal(rtcp_next(bye_long, sizeof(bye_long), &off, &p), 0);
	assert_int_equal(rtcp_bye_parse(&p, &b), -EBADMSG);
	assert_int_equal(rtcp_check(pad_mid, sizeof(pad_mid), 0), -EBADMSG);
	assert_int_equal(rtcp_check(pad_last, sizeof(pad_last), 0), 0);
	assert_int_equal(rtcp_check(v1, sizeof(v1), 0), -EBADMSG);
	assert_int_equal(rtcp_check(past, sizeof(past), 0), -EBADMSG);
	assert_int_equal(rtcp_check(v1, 0, 0), -EBADMSG);
	assert_int_equal(rtcp_check(rr_short, 6, 0), -EBADMSG);	/* trailing */
}

static void t_srtcp_peek(void **s)
{
	/* an SRTCP packet: SR header and SSRC clear, the rest ciphertext,
	 * then E|index (4) and a 10-byte tag */
	uint8_t buf[28 + 4 + 10];
	struct rtcp_rpt sr = { .is_sr = 1, .ssrc = 0xcafef00d };
	size_t n = 0;
	uint8_t pt;
	uint32_t ssrc;
	(void)s;

	assert_int_equal(rtcp_build_rpt(&sr, buf, sizeof(buf), &n), 0);
	memset(buf + 8, 0xa5, sizeof(buf) - 8);
	assert_int_equal(rtcp_peek(buf, sizeof(buf), &pt, &ssrc), 0);
	assert_int_equal(pt, RTCP_SR);
	assert_int_equal(ssrc, 0xcafef00d);
	assert_int_equal(rtp_classify(buf, sizeof(buf)), RTP_KIND_RTCP);
	assert_int_equal(rtcp_peek(buf, 7, &pt, &ssrc), -EBADMSG);
	buf[0] = 0x40;
	assert_int_equal(rtcp_peek(buf, sizeof(buf), &pt, &ssrc), -EBADMSG);
}

static void t_rtt(void **s)
{
	uint32_t rtt;
	(void)s;
	/* RFC 3550 s.6.4.1 figure 2: A = 0xb710:8000 (46864.500 s),
	 * LSR = 0xb705:2000 (46853.125 s), DLSR = 0x0005:4000 (5.250 s):
	 * delay 0x0006:2000 (6.125 s) */
	assert_int_equal(rtcp_ntp_mid(0xb710, 0x80000000), 0xb7108000);
	assert_int_equal(rtcp_rtt(0xb7108000, 0xb7052000, 0x00054000, &rtt), 0);
	assert_int_equal(rtt, 0x00062000);
	assert_int_equal(rtcp_rtt(0xb7108000, 0, 0x00054000, &rtt), -ENODATA);
	assert_int_equal(rtcp_rtt(0xb7108000, 0xb7052000, 0x000c0000, &rtt),
			 -ERANGE);
	/* across the wrap of the middle 32 bits */
	assert_int_equal(rtcp_rtt(0x00010000, 0xffff0000, 0x00010000, &rtt), 0);
	assert_int_equal(rtt, 0x00010000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rtp_parse),
		cmocka_unit_test(t_rtp_ext_forms),
		cmocka_unit_test(t_rtp_malformed),
		cmocka_unit_test(t_rtp_build),
		cmocka_unit_test(t_seq_arith),
		cmocka_unit_test(t_source),
		cmocka_unit_test(t_jitter),
		cmocka_unit_test(t_classify),
		cmocka_unit_test(t_rtcp_compound),
		cmocka_unit_test(t_rtcp_sdes_app),
		cmocka_unit_test(t_rtcp_malformed),
		cmocka_unit_test(t_srtcp_peek),
		cmocka_unit_test(t_rtt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
