/*
 * test_stun: RFC 5389 Binding for RFC 5626 keep-alives. The RFC 5769
 * test vectors (s.2.1 request, s.2.2 IPv4 and s.2.3 IPv6 responses:
 * FINGERPRINT and XOR-MAPPED-ADDRESS), STUN-vs-SIP detection, build ->
 * parse round trips, and malformed messages (truncated, bad lengths,
 * attribute overruns, wrong or misplaced fingerprint).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/stun.h"

/* RFC 5769 s.2.1: request with SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME, MESSAGE-INTEGRITY, FINGERPRINT */
static const uint8_t rfc5769_req[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 s.2.2: IPv4 response, 192.0.2.1 port 32853 */
static const uint8_t rfc5769_resp4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 s.2.3: IPv6 response, 2001:db8:1234:5678:11:2233:4455:6677
 * port 32853 */
static const uint8_t rfc5769_resp6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t tid5769[STUN_TID_LEN] = {
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
};

static const uint8_t ip6_5769[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
};

static void t_crc32(void **s)
{
	(void)s;
	assert_int_equal(stun_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(stun_crc32("", 0), 0);
}

static void t_rfc5769_request(void **s)
{
	struct stun_msg m;
	(void)s;
	assert_true(stun_is_stun(rfc5769_req, sizeof(rfc5769_req)));
	assert_int_equal(stun_binding_request_parse(rfc5769_req,
						    sizeof(rfc5769_req), &m), 0);
	assert_int_equal(m.type, STUN_BINDING_REQUEST);
	assert_memory_equal(m.tid, tid5769, STUN_TID_LEN);
	assert_true(m.has_fingerprint);
	assert_true(m.has_integrity);
	assert_false(m.has_mapped);
	assert_int_equal(m.software_len, 16);
	assert_memory_equal(m.software, "STUN test client", 16);
	/* PRIORITY (0x0024) is comprehension-required and not ours */
	assert_int_equal(m.n_unknown, 1);
	assert_int_equal(m.unknown[0], 0x0024);
}

static void t_rfc5769_responses(void **s)
{
	struct stun_addr a;
	struct stun_msg m;
	(void)s;
	assert_int_equal(stun_binding_response_parse(rfc5769_resp4,
		sizeof(rfc5769_resp4), tid5769, &a), 0);
	assert_int_equal(a.family, STUN_AF_IPV4);
	assert_int_equal(a.port, 32853);
	assert_memory_equal(a.ip, "\xc0\x00\x02\x01", 4);

	assert_int_equal(stun_binding_response_parse(rfc5769_resp6,
		sizeof(rfc5769_resp6), tid5769, &a), 0);
	assert_int_equal(a.family, STUN_AF_IPV6);
	assert_int_equal(a.port, 32853);
	assert_memory_equal(a.ip, ip6_5769, 16);

	assert_int_equal(stun_parse(rfc5769_resp4, sizeof(rfc5769_resp4), &m), 0);
	assert_true(m.has_fingerprint);
	assert_int_equal(m.software_len, 11);
	/* a request is not an answer; someone else's tid is not ours */
	assert_int_equal(stun_binding_response_parse(rfc5769_req,
		sizeof(rfc5769_req), tid5769, &a), -EBADMSG);
	{
		uint8_t other[STUN_TID_LEN] = { 0 };
		assert_int_equal(stun_binding_response_parse(rfc5769_resp4,
			sizeof(rfc5769_resp4), other, &a), -ENOENT);
	}
}

/* Our builder reproduces RFC 5769's XOR-MAPPED-ADDRESS encoding. */
static void t_build_matches_vector(void **s)
{
	struct stun_addr a = { .family = STUN_AF_IPV6, .port = 32853 };
	uint8_t out[128];
	size_t n;
	(void)s;
	memcpy(a.ip, ip6_5769, 16);
	assert_int_equal(stun_binding_response_build(tid5769, &a, NULL, out,
						     sizeof(out), &n), 0);
	assert_int_equal(n, 20 + 24 + 8);
	assert_memory_equal(out + 20, rfc5769_resp6 + 36, 24);
}

static void t_roundtrip(void **s)
{
	static const uint8_t tid[STUN_TID_LEN] = "0123456789a";
	struct stun_addr a4 = { .family = STUN_AF_IPV4, .port = 5060,
				.ip = { 198, 51, 100, 7 } }, got;
	struct stun_msg m;
	uint8_t out[128];
	size_t n;
	(void)s;

	/* request: header + FINGERPRINT */
	assert_int_equal(stun_binding_request_build(tid, out, sizeof(out), &n), 0);
	assert_int_equal(n, 28);
	assert_true(stun_is_stun(out, n));
	assert_int_equal(stun_binding_request_parse(out, n, &m), 0);
	assert_true(m.has_fingerprint);
	assert_memory_equal(m.tid, tid, STUN_TID_LEN);
	assert_int_equal(stun_binding_request_build(tid, out, 27, &n), -ENOSPC);

	/* response with SOFTWARE (odd length, padded) */
	assert_int_equal(stun_binding_response_build(m.tid, &a4, "dataline", out,
						     sizeof(out), &n), 0);
	assert_int_equal(n % 4, 0);
	assert_int_equal(stun_binding_response_parse(out, n, tid, &got), 0);
	assert_int_equal(got.family, STUN_AF_IPV4);
	assert_int_equal(got.port, 5060);
	assert_memory_equal(got.ip, a4.ip, 4);
	assert_int_equal(stun_parse(out, n, &m), 0);
	assert_int_equal(m.software_len, 8);
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(stun_binding_response_build(tid, &a4, "dataline",
			out, cap, &n), -ENOSPC);
	a4.family = 3;
	assert_int_equal(stun_binding_response_build(tid, &a4, NULL, out,
						     sizeof(out), &n), -EINVAL);
}

static void t_detect(void **s)
{
	static const struct { const char *buf; size_t len; int stun; } cases[] = {
		{ "OPTIONS sip:x SIP/2.0\r\n\r\n", 25, 0 },
		{ "\r\n\r\n", 4, 0 },
		{ "\r\n", 2, 0 },
		{ "", 0, 0 },
		/* right cookie, but length 1 (not a multiple of 4) */
		{ "\x00\x01\x00\x01\x21\x12\xa4\x42" "abcdefghijkl" "x", 21, 0 },
		/* top bits set */
		{ "\x40\x01\x00\x00\x21\x12\xa4\x42" "abcdefghijkl", 20, 0 },
		/* RFC 3489 style: no cookie */
		{ "\x00\x01\x00\x00\x00\x00\x00\x00" "abcdefghijkl", 20, 0 },
		/* bare header, no attributes */
		{ "\x00\x01\x00\x00\x21\x12\xa4\x42" "abcdefghijkl", 20, 1 },
		/* length says 4, datagram is 20 */
		{ "\x00\x01\x00\x04\x21\x12\xa4\x42" "abcdefghijkl", 20, 0 },
	};
	(void)s;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (stun_is_stun(cases[i].buf, cases[i].len) != cases[i].stun)
			fail_msg("case %zu", i);
	assert_int_equal(stun_is_stun(rfc5769_req, sizeof(rfc5769_req) - 1), 0);
}

static void t_malformed(void **s)
{
	uint8_t b[sizeof(rfc5769_req)];
	struct stun_msg m;
	(void)s;

	/* every truncation is refused */
	for (size_t n = 0; n < sizeof(rfc5769_req); n++)
		assert_int_not_equal(stun_parse(rfc5769_req, n, &m), 0);

	/* one flipped bit in the body breaks the fingerprint */
	memcpy(b, rfc5769_req, sizeof(b));
	b[30] ^= 1;
	assert_int_equal(stun_parse(b, sizeof(b), &m), -EBADMSG);

	/* an attribute length running past the end */
	memcpy(b, rfc5769_req, sizeof(b));
	b[22] = 0x01;	/* SOFTWARE length 0x0110 */
	assert_int_equal(stun_parse(b, sizeof(b), &m), -EBADMSG);

	/* FINGERPRINT not last */
	{
		static const uint8_t fp_not_last[] = {
			0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42,
			1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
			0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0,
			0x80, 0x22, 0x00, 0x04, 'a', 'b', 'c', 'd',
		};
		assert_int_equal(stun_parse(fp_not_last, sizeof(fp_not_last), &m),
				 -EBADMSG);
	}
	/* a truncated attribute header (2 bytes of 4) */
	{
		static const uint8_t half[] = {
			0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42,
			1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
			0x80, 0x22, 0x00, 0x08,
		};
		assert_int_equal(stun_parse(half, sizeof(half), &m), -EBADMSG);
	}
	/* XOR-MAPPED-ADDRESS with a bad family / bad length */
	{
		uint8_t x[] = {
			0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42,
			1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
			0x00, 0x20, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00,
			1, 2, 3, 4,
		};
		assert_int_equal(stun_parse(x, sizeof(x), &m), -EBADMSG);
		x[25] = 0x02;	/* IPv6 family, IPv4 length */
		assert_int_equal(stun_parse(x, sizeof(x), &m), -EBADMSG);
		x[25] = 0x01;
		assert_int_equal(stun_parse(x, sizeof(x), &m), 0);
		assert_true(m.has_mapped);
	}
	/* oversize */
	{
		static uint8_t big[STUN_MAX_MSG + 4];
		memcpy(big, "\x00\x01\x05\xcc\x21\x12\xa4\x42", 8);
		assert_true(stun_is_stun(big, sizeof(big)));
		assert_int_equal(stun_parse(big, sizeof(big), &m), -EBADMSG);
	}
	/* not a Binding request */
	assert_int_equal(stun_binding_request_parse(rfc5769_resp4,
		sizeof(rfc5769_resp4), &m), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_crc32),
		cmocka_unit_test(t_rfc5769_request),
		cmocka_unit_test(t_rfc5769_responses),
		cmocka_unit_test(t_build_matches_vector),
		cmocka_unit_test(t_roundtrip),
		cmocka_unit_test(t_detect),
		cmocka_unit_test(t_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
