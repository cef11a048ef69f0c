/*
 * test_sdp: the SDP parser (RFC 8866 / RFC 4566 s.5 examples), the
 * RFC 3264 s.10 offer/answer examples with the codec and direction
 * helpers, RFC 4568 crypto lines, malformed descriptions (table-driven),
 * limits, the relay's rewrite (byte-for-byte round trips, CRLF and LF,
 * -ENOSPC at every short size) and the builder (build -> parse).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/sdp.h"

#define STR_EQ(s, lit) do { if (!sip_str_eq((s), (lit))) \
	fail_msg("got '%.*s', want '%s'", (int)(s).len, (s).p ? (s).p : "", (lit)); } while (0)

static struct sdp_desc d;	/* large: kept off the stack */

static int parse(const char *s)
{
	return sdp_parse(s, strlen(s), &d);
}

/* RFC 8866 s.5 */
static const char rfc8866_ex[] =
	"v=0\r\n"
	"o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\n"
	"s=Call to John Smith\r\n"
	"i=SDP Offer #1\r\n"
	"u=http://www.jdoe.example.com/home.html\r\n"
	"e=Jane Doe <jane@jdoe.example.com>\r\n"
	"p=+1 617 555-6011\r\n"
	"c=IN IP4 198.51.100.1\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0\r\n"
	"m=audio 49180 RTP/AVP 0\r\n"
	"m=video 51372 RTP/AVP 99\r\n"
	"c=IN IP6 2001:db8::2\r\n"
	"a=rtpmap:99 h263-1998/90000\r\n";

/* RFC 4566 s.5 (multicast, session-level recvonly) */
static const char rfc4566_ex[] =
	"v=0\r\n"
	"o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
	"s=SDP Seminar\r\n"
	"i=A Seminar on the session description protocol\r\n"
	"u=http://www.example.com/seminars/sdp.pdf\r\n"
	"e=j.doe@example.com (Jane Doe)\r\n"
	"c=IN IP4 224.2.17.12/127\r\n"
	"t=2873397496 2873404696\r\n"
	"a=recvonly\r\n"
	"m=audio 49170 RTP/AVP 0\r\n"
	"m=video 51372 RTP/AVP 99\r\n"
	"a=rtpmap:99 h263-1998/90000\r\n";

static void t_rfc8866_example(void **s)
{
	const struct sdp_conn *c;
	(void)s;
	assert_int_equal(parse(rfc8866_ex), 0);
	STR_EQ(d.origin.username, "jdoe");
	STR_EQ(d.origin.sess_id, "3724394400");
	STR_EQ(d.origin.sess_version, "3724394405");
	STR_EQ(d.origin.conn.addrtype, "IP4");
	STR_EQ(d.origin.conn.addr, "198.51.100.1");
	STR_EQ(d.name, "Call to John Smith");
	STR_EQ(d.info, "SDP Offer #1");
	STR_EQ(d.uri, "http://www.jdoe.example.com/home.html");
	assert_true(d.has_conn);
	STR_EQ(d.conn.addr, "198.51.100.1");
	assert_int_equal(d.ntimes, 1);
	assert_int_equal(d.start, 0);
	assert_int_equal(d.nmedia, 3);
	assert_int_equal(d.media[0].port, 49170);
	assert_int_equal(d.media[0].nports, 1);
	assert_int_equal(d.media[0].proto, SDP_PROTO_RTP_AVP);
	assert_int_equal(d.media[0].nfmts, 1);
	assert_int_equal(d.media[0].fmts[0].pt, 0);
	assert_int_equal(d.media[0].dir, SDP_DIR_SENDRECV);
	STR_EQ(d.media[2].type, "video");
	STR_EQ(d.media[2].fmts[0].encoding, "h263-1998");
	assert_int_equal(d.media[2].fmts[0].clock, 90000);
	assert_int_equal(d.media[2].nattrs, 1);
	/* media-level c= overrides the session's */
	c = sdp_media_conn(&d, 2);
	STR_EQ(c->addrtype, "IP6");
	STR_EQ(c->addr, "2001:db8::2");
	c = sdp_media_conn(&d, 1);
	STR_EQ(c->addr, "198.51.100.1");
	assert_null(sdp_media_conn(&d, 3));
	/* PCMU is static: found without an rtpmap */
	assert_ptr_equal(sdp_codec_find(&d.media[0], "pcmu", 8000, 0),
			 &d.media[0].fmts[0]);
	assert_null(sdp_codec_find(&d.media[0], "PCMA", 0, 0));
}

static void t_rfc4566_example(void **s)
{
	(void)s;
	assert_int_equal(parse(rfc4566_ex), 0);
	STR_EQ(d.conn.addr, "224.2.17.12");
	STR_EQ(d.conn.suffix, "/127");
	assert_int_equal(d.start, 2873397496u);
	assert_int_equal(d.stop, 2873404696u);
	assert_int_equal(d.dir, SDP_DIR_RECVONLY);
	assert_int_equal(d.nsess_attrs, 1);
	/* the session's direction applies to media without their own */
	assert_int_equal(d.media[0].dir, SDP_DIR_RECVONLY);
	assert_int_equal(d.media[1].dir, SDP_DIR_RECVONLY);
	assert_non_null(sdp_attr_find(&d, SDP_SESSION, "recvonly", NULL));
	assert_null(sdp_attr_find(&d, 0, "recvonly", NULL));
	assert_non_null(sdp_attr_find(&d, 1, "rtpmap", NULL));
	/* LF-only line ends are the same description */
	{
		char lf[sizeof(rfc4566_ex)];
		size_t n = 0;
		for (const char *p = rfc4566_ex; *p; p++)
			if (*p != '\r')
				lf[n++] = *p;
		assert_int_equal(sdp_parse(lf, n, &d), 0);
		STR_EQ(d.name, "SDP Seminar");
		assert_int_equal(d.nmedia, 2);
		/* and the last line may lack its terminator */
		assert_int_equal(sdp_parse(lf, n - 1, &d), 0);
		STR_EQ(d.media[1].fmts[0].encoding, "h263-1998");
	}
}

/* RFC 3264 s.10.1 */
static const char rfc3264_offer[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
	"s=\r\n"
	"c=IN IP4 host.atlanta.example.com\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0 8 97\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:97 iLBC/8000\r\n"
	"m=video 51372 RTP/AVP 31 32\r\n"
	"a=rtpmap:31 H261/90000\r\n"
	"a=rtpmap:32 MPV/90000\r\n";

static const char rfc3264_answer[] =
	"v=0\r\n"
	"o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com\r\n"
	"s=\r\n"
	"c=IN IP4 host.biloxi.example.com\r\n"
	"t=0 0\r\n"
	"m=audio 49174 RTP/AVP 0\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"m=video 49170 RTP/AVP 32\r\n"
	"a=rtpmap:32 MPV/90000\r\n";

/* RFC 3264 s.10.2: the answerer declines video and sends only */
static const char rfc3264_answer2[] =
	"v=0\r\n"
	"o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com\r\n"
	"s=\r\n"
	"c=IN IP4 host.biloxi.example.com\r\n"
	"t=0 0\r\n"
	"m=audio 49172 RTP/AVP 99\r\n"
	"a=rtpmap:99 iLBC/8000\r\n"
	"a=sendonly\r\n"
	"m=video 0 RTP/AVP 31\r\n"
	"a=rtpmap:31 H261/90000\r\n";

static void t_rfc3264_offer_answer(void **s)
{
	static const struct sdp_codec_pref bob[] = {
		{ "iLBC", 8000, 0 }, { "PCMU", 8000, 0 },
	};
	static const struct sdp_codec_pref g729only[] = { { "G729", 0, 0 } };
	const struct sdp_fmt *f;
	size_t pref;
	(void)s;

	assert_int_equal(parse(rfc3264_offer), 0);
	STR_EQ(d.name, "");
	assert_true(sip_str_present(d.name));
	assert_int_equal(d.media[0].nfmts, 3);
	assert_int_equal(d.media[0].fmts[2].pt, 97);
	STR_EQ(d.media[0].fmts[2].encoding, "iLBC");
	/* the local order wins: iLBC (pt 97), the preference at index 0 */
	assert_int_equal(sdp_codec_pick(&d.media[0], bob, 2, &f, &pref), 0);
	assert_int_equal(f->pt, 97);
	assert_int_equal(pref, 0);
	assert_int_equal(sdp_codec_pick(&d.media[0], bob + 1, 1, &f, &pref), 0);
	assert_int_equal(f->pt, 0);
	assert_int_equal(sdp_codec_pick(&d.media[0], g729only, 1, &f, &pref),
			 -ENOENT);
	assert_ptr_equal(sdp_codec_find(&d.media[1], "MPV", 90000, 0),
			 &d.media[1].fmts[1]);
	assert_null(sdp_codec_find(&d.media[1], "MPV", 8000, 0));

	assert_int_equal(parse(rfc3264_answer), 0);
	assert_int_equal(d.media[0].port, 49174);
	STR_EQ(d.media[1].fmts[0].encoding, "MPV");

	assert_int_equal(parse(rfc3264_answer2), 0);
	assert_int_equal(d.media[0].dir, SDP_DIR_SENDONLY);
	assert_int_equal(d.media[1].port, 0);	/* rejected stream */
	assert_int_equal(sdp_dir_answer(d.media[0].dir, SDP_DIR_SENDRECV),
			 SDP_DIR_RECVONLY);
	assert_int_equal(sdp_dir_answer(SDP_DIR_RECVONLY, SDP_DIR_SENDRECV),
			 SDP_DIR_SENDONLY);
	assert_int_equal(sdp_dir_answer(SDP_DIR_SENDONLY, SDP_DIR_SENDONLY),
			 SDP_DIR_INACTIVE);
	assert_int_equal(sdp_dir_answer(SDP_DIR_INACTIVE, SDP_DIR_SENDRECV),
			 SDP_DIR_INACTIVE);
	assert_int_equal(sdp_dir_answer(SDP_DIR_SENDRECV, SDP_DIR_RECVONLY),
			 SDP_DIR_RECVONLY);
}

/* RFC 4568 s.4, plus a second line with two keys (s.9.2 style) and a
 * GCM suite (RFC 7714 s.14.2), rtcp (RFC 3605), rtcp-mux and ptime */
static const char srtp_ex[] =
	"v=0\r\n"
	"o=sam 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
	"s=SRTP Discussion\r\n"
	"i=A discussion of Secure RTP\r\n"
	"u=http://www.example.com/seminars/srtp.pdf\r\n"
	"e=marge@example.com (Marge Simpson)\r\n"
	"c=IN IP4 168.2.17.12\r\n"
	"t=2873397496 2873404696\r\n"
	"m=audio 49170 RTP/SAVP 0 111\r\n"
	"b=AS:64\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=fmtp:111 useinbandfec=1;usedtx=1\r\n"
	"a=ptime:20\r\n"
	"a=maxptime:120\r\n"
	"a=rtcp:53020 IN IP4 126.16.64.4\r\n"
	"a=rtcp-mux\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 FEC_ORDER=FEC_SRTP\r\n"
	"a=crypto:2 AEAD_AES_128_GCM inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4\r\n"
	"a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"
	"a=x-unknown:kept as is\r\n";

static void t_rfc4568_crypto(void **s)
{
	const struct sdp_media *m;
	(void)s;
	assert_int_equal(parse(srtp_ex), 0);
	m = &d.media[0];
	assert_int_equal(m->proto, SDP_PROTO_RTP_SAVP);
	assert_int_equal(m->nbw, 1);
	STR_EQ(m->bw[0].type, "AS");
	assert_int_equal(m->bw[0].value, 64);
	STR_EQ(m->fmts[1].encoding, "opus");
	assert_int_equal(m->fmts[1].clock, 48000);
	assert_int_equal(m->fmts[1].channels, 2);
	STR_EQ(m->fmts[1].fmtp, "useinbandfec=1;usedtx=1");
	assert_false(sip_str_present(m->fmts[0].fmtp));
	assert_int_equal(m->ptime, 20);
	assert_int_equal(m->maxptime, 120);
	assert_true(m->has_rtcp);
	assert_int_equal(m->rtcp_port, 53020);
	assert_true(m->rtcp_has_conn);
	STR_EQ(m->rtcp_conn.addr, "126.16.64.4");
	assert_true(m->rtcp_mux);
	assert_int_equal(m->ncrypto, 3);
	assert_int_equal(m->crypto[0].tag, 1);
	STR_EQ(m->crypto[0].suite, "AES_CM_128_HMAC_SHA1_80");
	STR_EQ(m->crypto[0].key, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
	STR_EQ(m->crypto[0].lifetime, "2^20");
	STR_EQ(m->crypto[0].mki, "1:4");
	STR_EQ(m->crypto[0].session_params, "FEC_ORDER=FEC_SRTP");
	STR_EQ(m->crypto[1].suite, "AEAD_AES_128_GCM");
	STR_EQ(m->crypto[1].key, "MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm");
	STR_EQ(m->crypto[1].key_params,
	       "inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
	       "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4");
	assert_false(sip_str_present(m->crypto[1].session_params));
	assert_false(sip_str_present(m->crypto[2].lifetime));
	assert_false(sip_str_present(m->crypto[2].mki));
	STR_EQ(sdp_attr_find(&d, 0, "x-unknown", NULL)->value, "kept as is");
	assert_null(sdp_attr_find(&d, 0, "rtcp-mux", NULL)->value.p);
	assert_non_null(sdp_codec_find(m, "OPUS", 48000, 2));
	assert_null(sdp_codec_find(m, "opus", 48000, 1));
}

/* The base for malformed variants: each row replaces one line. */
#define HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
#define BODY "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

static void t_malformed(void **s)
{
	static const struct {
		const char *sdp;
		int err;
	} rows[] = {
		{ HEAD BODY, 0 },
		{ "", -EBADMSG },
		{ "v=0\r\n", -EBADMSG },
		{ "v=1\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", -EBADMSG },
		{ "o=- 1 1 IN IP4 h\r\nv=0\r\ns=-\r\nt=0 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 192.0.2.1\r\n", -EBADMSG },	/* no t= */
		{ HEAD "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", -EBADMSG },	/* no c= */
		{ HEAD BODY "\r\n", -EBADMSG },		/* empty line */
		{ HEAD BODY "a=x\rb\r\n", -EBADMSG },	/* bare CR */
		{ HEAD BODY "a=x\x01\r\n", -EBADMSG },	/* control */
		{ HEAD BODY "A=x\r\n", -EBADMSG },
		{ HEAD BODY "x=unknown\r\n", -EBADMSG },	/* unknown type */
		{ HEAD BODY "a =x\r\n", -EBADMSG },
		{ HEAD BODY "a\r\n", -EBADMSG },
		{ HEAD BODY "a=\r\n", -EBADMSG },
		{ HEAD BODY "a=foo:\r\n", -EBADMSG },
		{ HEAD BODY "a=fo o\r\n", -EBADMSG },
		{ HEAD BODY "t=0 0\r\n", -EBADMSG },	/* t= in media */
		{ HEAD BODY "c=IN IP4 a\r\nc=IN IP4 b\r\n", -EBADMSG },
		{ HEAD BODY "a=x\r\nc=IN IP4 a\r\n", -EBADMSG },	/* order */
		{ HEAD "t=0 0\r\nc=IN IP4 a\r\n", -EBADMSG },	/* order */
		{ HEAD "s=again\r\n" BODY, -EBADMSG },
		{ HEAD "r=7d 1h 0 25h\r\n" BODY, -EBADMSG },	/* r= before t= */
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nr=7d 1h 0 25h\r\nt=1 2\r\n"
		  "m=audio 1 RTP/AVP 0\r\n", 0 },
		{ "v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", -EBADMSG },
		{ "v=0\r\no=- x 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", -EBADMSG },
		{ "v=0\r\no=-  1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", -EBADMSG },
		{ "v=0\r\no=- 1 1 IN IP4 h \r\ns=-\r\nt=0 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4\r\nt=0 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a/\r\nt=0 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a/1/2/3\r\nt=0 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a/x\r\nt=0 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nb=AS\r\nt=0 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nb=AS:x\r\nt=0 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 -1\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nm=audio 4000/0 RTP/AVP 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nm=audio 4000 RTP/AVP\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 \r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nm=audio 4000 RTP/AVP 128\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nm=audio 4000 RTP/AVP x\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nm=audio 4000 RTP//AVP 0\r\n", -EBADMSG },
		{ HEAD "c=IN IP4 a\r\nt=0 0\r\nm=image 4000 udptl t38\r\n", 0 },
		{ HEAD BODY "a=rtpmap:0 PCMU\r\n", -EBADMSG },
		{ HEAD BODY "a=rtpmap:0 PCMU/0\r\n", -EBADMSG },
		{ HEAD BODY "a=rtpmap:0 PCMU/8000/0\r\n", -EBADMSG },
		{ HEAD BODY "a=rtpmap:0 PCMU/8000\r\na=rtpmap:0 PCMU/8000\r\n", -EBADMSG },
		{ HEAD BODY "a=rtpmap:5 X/8000\r\n", 0 },	/* not listed */
		{ HEAD BODY "a=fmtp:0\r\n", -EBADMSG },
		{ HEAD BODY "a=ptime:0\r\n", -EBADMSG },
		{ HEAD BODY "a=ptime:x\r\n", -EBADMSG },
		{ HEAD BODY "a=ptime:20.5\r\n", 0 },
		{ HEAD BODY "a=ptime\r\n", -EBADMSG },
		{ HEAD BODY "a=sendonly:x\r\n", -EBADMSG },
		{ HEAD BODY "a=sendonly\r\na=recvonly\r\n", -EBADMSG },
		{ HEAD BODY "a=rtcp-mux:1\r\n", -EBADMSG },
		{ HEAD BODY "a=rtcp:x\r\n", -EBADMSG },
		{ HEAD BODY "a=rtcp:5 IN IP4\r\n", -EBADMSG },
		{ HEAD BODY "a=rtcp:5\r\na=rtcp:6\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:1 AES_CM_128_HMAC_SHA1_80\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:1 AES_CM_128_HMAC_SHA1_80 key:abc\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:a$c\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc||1:4\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc|1:4|2^20\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:abc\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:1234567890 AES inline:abc\r\n", -EBADMSG },
		{ HEAD BODY "a=crypto:1 AES inline:abc\r\na=crypto:1 AES inline:abd\r\n", -EBADMSG },
	};
	(void)s;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int err = parse(rows[i].sdp);
		if (err != rows[i].err)
			fail_msg("row %zu: got %d want %d:\n%s", i, err,
				 rows[i].err, rows[i].sdp);
		if (err)	/* nothing left behind on failure */
			assert_int_equal(d.nmedia, 0);
	}
	assert_int_equal(sdp_parse(NULL, 0, &d), -EINVAL);
	assert_int_equal(sdp_parse("v=0", SDP_MAX_LEN + 1, &d), -EINVAL);
}

static void t_limits(void **s)
{
	static char buf[SDP_MAX_LEN];
	size_t n;
	(void)s;

	/* SDP_MAX_MEDIA m= sections fit, one more does not */
	for (int extra = 0; extra <= 1; extra++) {
		n = (size_t)snprintf(buf, sizeof(buf), HEAD "c=IN IP4 a\r\nt=0 0\r\n");
		for (int i = 0; i < SDP_MAX_MEDIA + extra; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "m=audio %d RTP/AVP 0\r\n", 1000 + i);
		assert_int_equal(sdp_parse(buf, n, &d), extra ? -E2BIG : 0);
	}
	for (int extra = 0; extra <= 1; extra++) {
		n = (size_t)snprintf(buf, sizeof(buf), HEAD "c=IN IP4 a\r\nt=0 0\r\nm=audio 1 RTP/AVP");
		for (int i = 0; i < SDP_MAX_FMTS + extra; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %d", i);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
		assert_int_equal(sdp_parse(buf, n, &d), extra ? -E2BIG : 0);
	}
	for (int extra = 0; extra <= 1; extra++) {
		n = (size_t)snprintf(buf, sizeof(buf), HEAD BODY);
		for (int i = 0; i < SDP_MAX_ATTRS + extra; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "a=x-%d\r\n", i);
		assert_int_equal(sdp_parse(buf, n, &d), extra ? -E2BIG : 0);
	}
	for (int extra = 0; extra <= 1; extra++) {
		n = (size_t)snprintf(buf, sizeof(buf), HEAD BODY);
		for (int i = 0; i < SDP_MAX_CRYPTO + extra; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "a=crypto:%d AES_CM_128_HMAC_SHA1_80 inline:QUJD\r\n", i + 1);
		assert_int_equal(sdp_parse(buf, n, &d), extra ? -E2BIG : 0);
	}
	for (int extra = 0; extra <= 1; extra++) {
		n = (size_t)snprintf(buf, sizeof(buf), HEAD "c=IN IP4 a\r\n");
		for (int i = 0; i < SDP_MAX_BW + extra; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "b=X%d:1\r\n", i);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "t=0 0\r\n");
		assert_int_equal(sdp_parse(buf, n, &d), extra ? -E2BIG : 0);
	}
}

/* The lines of a, with the rewritten fields, must equal b's. */
static const char relay_in[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 10.0.0.5\r\n"
	"s=-\r\n"
	"c=IN IP4 10.0.0.5\r\n"
	"t=0 0\r\n"
	"m=audio 49170/2 RTP/SAVP 111 0\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=rtcp:49171\r\n"
	"a=crypto:1 AEAD_AES_128_GCM inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm\r\n"
	"m=video 51372 RTP/AVP 99\r\n"
	"c=IN IP6 2001:db8::2\r\n"
	"a=rtcp:9 IN IP4 224.2.17.12/127\r\n"
	"a=zzz\r\n";

static const char relay_out[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 10.0.0.5\r\n"
	"s=-\r\n"
	"c=IN IP4 203.0.113.7\r\n"
	"t=0 0\r\n"
	"m=audio 30000/2 RTP/SAVP 111 0\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=rtcp:30001\r\n"
	"a=crypto:1 AEAD_AES_128_GCM inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm\r\n"
	"m=video 5 RTP/AVP 99\r\n"
	"c=IN IP4 203.0.113.7\r\n"
	"a=rtcp:40000 IN IP4 203.0.113.7\r\n"
	"a=zzz\r\n";

static void t_rewrite(void **s)
{
	static char out[4096], lf_in[4096], lf_out[4096];
	struct sdp_rewrite_spec rw;
	size_t n, n2, li = 0, lo = 0;
	(void)s;

	assert_int_equal(parse(relay_in), 0);
	/* nothing to change: the input, byte for byte */
	sdp_rewrite_spec_init(&rw);
	assert_int_equal(sdp_rewrite(relay_in, strlen(relay_in), &d, &rw, out,
				     sizeof(out), &n), 0);
	assert_int_equal(n, strlen(relay_in));
	assert_memory_equal(out, relay_in, n);

	rw.addr = "203.0.113.7";
	rw.port[0] = 30000;
	rw.port[1] = 5;
	rw.rtcp_port[1] = 40000;
	assert_int_equal(sdp_rewrite(relay_in, strlen(relay_in), &d, &rw, out,
				     sizeof(out), &n), 0);
	if (n != strlen(relay_out) || memcmp(out, relay_out, n))
		fail_msg("got:\n%.*s", (int)n, out);
	/* exactly n fits; less never does */
	assert_int_equal(sdp_rewrite(relay_in, strlen(relay_in), &d, &rw, out,
				     n, &n2), 0);
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(sdp_rewrite(relay_in, strlen(relay_in), &d,
					     &rw, out, cap, &n2), -ENOSPC);

	/* the result parses, with the new values */
	assert_int_equal(sdp_rewrite(relay_in, strlen(relay_in), &d, &rw, out,
				     sizeof(out), &n), 0);
	assert_int_equal(sdp_parse(out, n, &d), 0);
	assert_int_equal(d.media[0].port, 30000);
	assert_int_equal(d.media[0].nports, 2);
	assert_int_equal(d.media[0].rtcp_port, 30001);
	STR_EQ(d.media[1].conn.addr, "203.0.113.7");
	assert_false(sip_str_present(d.media[1].rtcp_conn.suffix));
	STR_EQ(d.media[0].crypto[0].key, "MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm");

	/* LF line ends stay LF */
	for (const char *p = relay_in; *p; p++)
		if (*p != '\r')
			lf_in[li++] = *p;
	for (const char *p = relay_out; *p; p++)
		if (*p != '\r')
			lf_out[lo++] = *p;
	assert_int_equal(sdp_parse(lf_in, li, &d), 0);
	assert_int_equal(sdp_rewrite(lf_in, li, &d, &rw, out, sizeof(out), &n), 0);
	assert_int_equal(n, lo);
	assert_memory_equal(out, lf_out, n);

	/* IPv6 relay address */
	rw.addr = "2001:db8::99";
	assert_int_equal(sdp_rewrite(lf_in, li, &d, &rw, out, sizeof(out), &n), 0);
	assert_non_null(memmem(out, n, "c=IN IP6 2001:db8::99\n", 22));

	/* the most edits a description can need: every media with its
	 * own c= and an a=rtcp with an address */
	{
		static char many[8192];
		size_t mn = (size_t)snprintf(many, sizeof(many), HEAD
					     "c=IN IP4 10.0.0.1\r\nt=0 0\r\n");
		for (int i = 0; i < SDP_MAX_MEDIA; i++)
			mn += (size_t)snprintf(many + mn, sizeof(many) - mn,
				"m=audio %d RTP/AVP 0\r\nc=IN IP4 10.0.0.%d\r\n"
				"a=rtcp:%d IN IP4 10.0.0.%d\r\n",
				1000 + 2 * i, i + 2, 1001 + 2 * i, i + 2);
		assert_int_equal(sdp_parse(many, mn, &d), 0);
		sdp_rewrite_spec_init(&rw);
		rw.addr = "192.0.2.200";
		for (int i = 0; i < SDP_MAX_MEDIA; i++)
			rw.port[i] = 50000 + 2 * i;
		assert_int_equal(sdp_rewrite(many, mn, &d, &rw, out,
					     sizeof(out), &n), 0);
		assert_int_equal(sdp_parse(out, n, &d), 0);
		for (int i = 0; i < SDP_MAX_MEDIA; i++) {
			assert_int_equal(d.media[i].port, 50000 + 2 * i);
			assert_int_equal(d.media[i].rtcp_port, 50001 + 2 * i);
			STR_EQ(d.media[i].conn.addr, "192.0.2.200");
			STR_EQ(d.media[i].rtcp_conn.addr, "192.0.2.200");
		}
		assert_null(memmem(out, n, "10.0.0.", 7));
		assert_int_equal(sdp_parse(lf_in, li, &d), 0);
	}

	/* bad specs */
	rw.addr = "1.2.3.4\r\na=evil";
	assert_int_equal(sdp_rewrite(lf_in, li, &d, &rw, out, sizeof(out), &n), -EINVAL);
	rw.addr = NULL;
	rw.port[0] = 65536;
	assert_int_equal(sdp_rewrite(lf_in, li, &d, &rw, out, sizeof(out), &n), -EINVAL);
	rw.port[0] = -1;
	rw.port[2] = 1000;	/* no third media */
	assert_int_equal(sdp_rewrite(lf_in, li, &d, &rw, out, sizeof(out), &n), -EINVAL);
}

static void t_build(void **s)
{
	static const struct sdp_build_fmt fmts[] = {
		{ 111, "opus", 48000, 2, "useinbandfec=1;usedtx=1" },
		{ 0, "PCMU", 8000, 1, NULL },
		{ 8, NULL, 0, 0, NULL },
		{ 101, "telephone-event", 8000, 0, "0-15" },
	};
	static const struct sdp_build_crypto keys[] = {
		{ 1, "AEAD_AES_128_GCM", "inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm" },
		{ 2, "AES_CM_128_HMAC_SHA1_80", "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4" },
	};
	struct sdp_build_media m = {
		.type = "audio", .port = 40000, .proto = SDP_PROTO_RTP_SAVP,
		.nfmts = 4, .fmts = fmts, .ptime = 20, .dir = SDP_DIR_SENDRECV,
		.rtcp_mux = 1, .rtcp_port = 40001, .ncrypto = 2, .crypto = keys,
	};
	struct sdp_build_params p = {
		.username = "dataline", .sess_id = 42, .sess_version = 1,
		.addr = "192.0.2.10", .name = "call", .nmedia = 1, .media = &m,
	};
	static const struct sdp_codec_pref prefs[] = {
		{ "opus", 48000, 2 }, { "PCMA", 8000, 0 },
	};
	static char out[2048];
	const struct sdp_fmt *f;
	size_t n, n2, pref;
	(void)s;

	assert_int_equal(sdp_build(&p, out, sizeof(out), &n), 0);
	assert_int_equal(sdp_parse(out, n, &d), 0);
	STR_EQ(d.origin.username, "dataline");
	STR_EQ(d.origin.sess_id, "42");
	STR_EQ(d.conn.addr, "192.0.2.10");
	assert_int_equal(d.media[0].port, 40000);
	assert_int_equal(d.media[0].proto, SDP_PROTO_RTP_SAVP);
	assert_int_equal(d.media[0].nfmts, 4);
	STR_EQ(d.media[0].fmts[0].fmtp, "useinbandfec=1;usedtx=1");
	assert_int_equal(d.media[0].fmts[0].channels, 2);
	assert_false(sip_str_present(d.media[0].fmts[2].encoding));
	assert_int_equal(d.media[0].ptime, 20);
	assert_true(d.media[0].rtcp_mux);
	assert_int_equal(d.media[0].rtcp_port, 40001);
	assert_int_equal(d.media[0].ncrypto, 2);
	STR_EQ(d.media[0].crypto[1].mki, "1:4");
	assert_int_equal(sdp_codec_pick(&d.media[0], prefs, 2, &f, &pref), 0);
	assert_int_equal(f->pt, 111);
	assert_int_equal(sdp_codec_pick(&d.media[0], prefs + 1, 1, &f, &pref), 0);
	assert_int_equal(f->pt, 8);	/* static PCMA, no rtpmap */
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(sdp_build(&p, out, cap, &n2), -ENOSPC);

	/* IPv6 */
	p.addr = "2001:db8::1";
	assert_int_equal(sdp_build(&p, out, sizeof(out), &n), 0);
	assert_int_equal(sdp_parse(out, n, &d), 0);
	STR_EQ(d.conn.addrtype, "IP6");
	/* injection and missing fields */
	p.name = "x\r\na=evil";
	assert_int_equal(sdp_build(&p, out, sizeof(out), &n), -EINVAL);
	p.name = NULL;
	p.addr = "a b";
	assert_int_equal(sdp_build(&p, out, sizeof(out), &n), -EINVAL);
	p.addr = "192.0.2.1";
	m.nfmts = 0;
	assert_int_equal(sdp_build(&p, out, sizeof(out), &n), -EINVAL);
	m.nfmts = 4;
	m.proto = SDP_PROTO_OTHER;
	assert_int_equal(sdp_build(&p, out, sizeof(out), &n), -EINVAL);
	m.proto = SDP_PROTO_RTP_AVP;
	m.ncrypto = 0;
	assert_int_equal(sdp_build(&p, out, sizeof(out), &n), 0);
	assert_int_equal(sdp_parse(out, n, &d), 0);
	assert_string_equal(sdp_dir_name(d.media[0].dir), "sendrecv");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rfc8866_example),
		cmocka_unit_test(t_rfc4566_example),
		cmocka_unit_test(t_rfc3264_offer_answer),
		cmocka_unit_test(t_rfc4568_crypto),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_rewrite),
		cmocka_unit_test(t_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
