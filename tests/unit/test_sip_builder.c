/*
 * test_sip_builder: responses built from parsed requests (RFC 3261
 * s.8.2.6: Via / From / To / Call-ID / CSeq copied, To tag added;
 * s.18.2.1 received, RFC 3581 rport), requests (REGISTER, OPTIONS),
 * the bounded buffer (-ENOSPC at every size), and that everything built
 * parses back to the same fields.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/sip.h"

#define STR_EQ(s, lit) do { if (!sip_str_eq((s), (lit))) \
	fail_msg("got '%.*s', want '%s'", (int)(s).len, (s).p ? (s).p : "", (lit)); } while (0)

static const char req[] =
	"REGISTER sip:dataline.local SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.0.0.5:5062;rport;branch=z9hG4bKtop, SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1\r\n"
	"v: SIP/2.0/TCP p2.example.com;branch=z9hG4bKp2\r\n"
	"Max-Forwards: 69\r\n"
	"From: \"Li\" <sip:+8613800138000@dataline.local>;tag=ft1\r\n"
	"To: <sip:+8613800138000@dataline.local>\r\n"
	"Call-ID: bld-1@10.0.0.5\r\n"
	"CSeq:   7\r\n   REGISTER\r\n"
	"Contact: <sip:+8613800138000@10.0.0.5:5062>\r\n"
	"Content-Length: 0\r\n\r\n";

static void t_response(void **s)
{
	struct sip_msg m, r;
	struct sip_buf b;
	struct sip_via_fix fix = { "198.51.100.7", 40123 };
	struct sip_list_iter it;
	struct sip_str v;
	struct sip_via via;
	char out[2048];
	size_t n;
	(void)s;

	assert_int_equal(sip_msg_parse(req, sizeof(req) - 1, 0, &m, NULL), 0);
	sip_buf_init(&b, out, sizeof(out));
	sip_resp_begin(&b, &m, 200, NULL, "tt9", &fix);
	sip_buf_hdr(&b, "Contact", "<sip:+8613800138000@10.0.0.5:5062>;expires=%d", 3600);
	sip_buf_hdr(&b, "Expires", "%d", 3600);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
	assert_int_equal(strlen(out), n);
	assert_memory_equal(out, "SIP/2.0 200 OK\r\n", 16);
	/* exact top Via: rport filled, received added, the rest untouched */
	assert_non_null(strstr(out,
		"Via: SIP/2.0/UDP 10.0.0.5:5062;rport=40123;branch=z9hG4bKtop;received=198.51.100.7, "
		"SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1\r\n"
		"Via: SIP/2.0/TCP p2.example.com;branch=z9hG4bKp2\r\n"));
	assert_non_null(strstr(out, "\r\nCSeq: 7 REGISTER\r\n"));

	assert_int_equal(sip_msg_parse(out, n, SIP_PARSE_STREAM, &r, NULL), 0);
	assert_false(r.is_request);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.nvia, 3);
	assert_int_equal(r.via.rport, 40123);
	STR_EQ(r.via.received, "198.51.100.7");
	STR_EQ(r.via.branch, "z9hG4bKtop");
	sip_list_init(&it, &r, SIP_HDR_VIA);
	sip_list_next(&it, &v);
	sip_list_next(&it, &v);
	sip_list_next(&it, &v);
	assert_int_equal(sip_via_decode(v, &via), 0);
	STR_EQ(via.branch, "z9hG4bKp2");
	STR_EQ(r.from.tag, "ft1");
	STR_EQ(r.to.tag, "tt9");
	STR_EQ(r.call_id, "bld-1@10.0.0.5");
	assert_int_equal(r.cseq.num, 7);
	assert_int_equal(r.cseq.method_id, SIP_METHOD_REGISTER);
	assert_int_equal(r.expires, 3600);
	assert_int_equal(r.body.len, 0);
}

static void t_response_variants(void **s)
{
	static const char withtag[] =
		"OPTIONS sip:x@dataline.local SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK5\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:x@dataline.local>;tag=already\r\n"
		"Call-ID: v1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	struct sip_msg m, r;
	struct sip_buf b;
	struct sip_via_fix same = { "192.0.2.1", 5060 };
	char out[1024];
	size_t n;
	(void)s;
	assert_int_equal(sip_msg_parse(withtag, sizeof(withtag) - 1, 0, &m, NULL), 0);
	/* an existing To tag is kept, no second tag; sent-by equal to the
	 * source and no rport: no received (RFC 3261 s.18.2.1) */
	sip_buf_init(&b, out, sizeof(out));
	sip_resp_begin(&b, &m, 404, "Nobody Here", "new", &same);
	assert_int_equal(sip_msg_end(&b, "text/plain", "gone", 4, &n), 0);
	assert_non_null(strstr(out, "SIP/2.0 404 Nobody Here\r\n"));
	assert_non_null(strstr(out, "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK5\r\n"));
	assert_null(strstr(out, "new"));
	assert_int_equal(sip_msg_parse(out, n, SIP_PARSE_STREAM, &r, NULL), 0);
	STR_EQ(r.to.tag, "already");
	STR_EQ(r.body, "gone");
	STR_EQ(sip_msg_hdr(&r, SIP_HDR_CONTENT_TYPE)->value, "text/plain");
	/* 100 Trying never gets a To tag */
	sip_buf_init(&b, out, sizeof(out));
	assert_int_equal(sip_msg_parse(req, sizeof(req) - 1, 0, &m, NULL), 0);
	sip_resp_begin(&b, &m, 100, NULL, "t", NULL);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
	assert_int_equal(sip_msg_parse(out, n, 0, &r, NULL), 0);
	assert_false(sip_str_present(r.to.tag));
	STR_EQ(r.reason, "Trying");
	assert_string_equal(sip_reason_phrase(423), "Interval Too Brief");
	assert_string_equal(sip_reason_phrase(499), "Client Error");
}

static void t_request(void **s)
{
	char branch[32], tag[17], callid[33], out[2048];
	struct sip_req_params p = {
		.method = "REGISTER", .ruri = "sip:dataline.local", .transport = "TLS",
		.via_host = "[2001:db8::5]", .via_port = 5061, .rport = 1,
		.from = "sip:+8613800138000@dataline.local", .from_display = "A \"B\"",
		.to = "sip:+8613800138000@dataline.local", .cseq = 3,
	};
	struct sip_buf b;
	struct sip_msg m;
	size_t n;
	char dn[32];
	(void)s;
	assert_int_equal(sip_branch_new(branch, sizeof(branch)), 0);
	assert_memory_equal(branch, "z9hG4bK", 7);
	assert_int_equal(strlen(branch), 27);
	assert_int_equal(sip_rand_hex(tag, sizeof(tag), 8), 0);
	assert_int_equal(sip_rand_hex(callid, sizeof(callid), 16), 0);
	assert_int_equal(sip_rand_hex(tag, 16, 8), -ENOSPC);
	p.branch = branch;
	p.from_tag = tag;
	p.call_id = callid;

	sip_buf_init(&b, out, sizeof(out));
	sip_req_begin(&b, &p);
	sip_buf_hdr(&b, "Contact", "<sip:+8613800138000@[2001:db8::5]:5061;transport=tls>");
	sip_buf_hdr(&b, "Expires", "%u", 600);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
	assert_int_equal(sip_msg_parse(out, n, SIP_PARSE_STREAM, &m, NULL), 0);
	assert_int_equal(m.method_id, SIP_METHOD_REGISTER);
	STR_EQ(m.ruri_str, "sip:dataline.local");
	STR_EQ(m.via.transport, "TLS");
	STR_EQ(m.via.host, "2001:db8::5");
	assert_int_equal(m.via.port, 5061);
	assert_true(m.via.rport_present);
	STR_EQ(m.via.branch, branch);
	assert_int_equal(m.max_forwards, 70);
	STR_EQ(m.from.tag, tag);
	assert_int_equal(sip_str_unquote(m.from.display, dn, sizeof(dn), NULL), 0);
	assert_string_equal(dn, "A \"B\"");
	STR_EQ(m.call_id, callid);
	assert_int_equal(m.cseq.num, 3);
	assert_int_equal(m.expires, 600);

	/* OPTIONS over UDP without port and rport, in-dialog To tag */
	p = (struct sip_req_params){ .method = "OPTIONS", .ruri = "sip:127.0.0.1:5060",
		.via_host = "127.0.0.1", .branch = "z9hG4bKopt", .from = "sip:a@b",
		.from_tag = "x", .to = "sip:127.0.0.1", .to_tag = "y", .call_id = "o1",
		.cseq = 1, .max_forwards = 5 };
	sip_buf_init(&b, out, sizeof(out));
	sip_req_begin(&b, &p);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
	assert_int_equal(sip_msg_parse(out, n, SIP_PARSE_STREAM, &m, NULL), 0);
	STR_EQ(m.via.transport, "UDP");
	assert_int_equal(m.via.port, 0);
	assert_false(m.via.rport_present);
	STR_EQ(m.to.tag, "y");
	assert_int_equal(m.max_forwards, 5);
}

/* Every buffer size smaller than the message fails cleanly with -ENOSPC
 * and never writes past the buffer; the exact size works. */
static void t_bounded(void **s)
{
	struct sip_msg m;
	char full[2048], small[2048];
	struct sip_buf b;
	size_t n, k;
	(void)s;
	assert_int_equal(sip_msg_parse(req, sizeof(req) - 1, 0, &m, NULL), 0);
	sip_buf_init(&b, full, sizeof(full));
	sip_resp_begin(&b, &m, 401, NULL, "t1", NULL);
	sip_digest_challenge_add(&b, "WWW-Authenticate", SIP_DIGEST_SHA256,
				 "dataline.local", "n0nce", 1, NULL);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
	assert_non_null(strstr(full, "stale=true"));
	for (k = 0; k < n; k++) {
		memset(small, 0x5a, sizeof(small));
		sip_buf_init(&b, small, k);
		sip_resp_begin(&b, &m, 401, NULL, "t1", NULL);
		sip_digest_challenge_add(&b, "WWW-Authenticate", SIP_DIGEST_SHA256,
					 "dataline.local", "n0nce", 1, NULL);
		assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, NULL), -ENOSPC);
		for (size_t i = k; i < sizeof(small); i++)
			if (small[i] != 0x5a)
				fail_msg("size %zu: byte %zu written", k, i);
	}
	sip_buf_init(&b, small, n);
	sip_resp_begin(&b, &m, 401, NULL, "t1", NULL);
	sip_digest_challenge_add(&b, "WWW-Authenticate", SIP_DIGEST_SHA256,
				 "dataline.local", "n0nce", 1, NULL);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &k), 0);
	assert_int_equal(k, n);
	assert_memory_equal(small, full, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_response), cmocka_unit_test(t_response_variants),
		cmocka_unit_test(t_request), cmocka_unit_test(t_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
