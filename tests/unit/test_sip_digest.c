/*
 * test_sip_digest: Digest authentication (RFC 2617 s.3.5 and RFC 7616
 * s.3.9.1 test vectors, MD5 and SHA-256), header decoding (quoted
 * strings with escapes, any parameter order, folded LWS), server-side
 * verification, stateless nonces (fresh / stale / forged) and a full
 * client-server round trip through real SIP messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <ctype.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/sip.h"

#define S(lit) SIP_STR_LIT(lit)

/* RFC 2617 s.3.5 */
static void t_rfc2617(void **s)
{
	char ha1[SIP_DIGEST_HEX_MAX], r[SIP_DIGEST_HEX_MAX];
	(void)s;
	assert_int_equal(sip_digest_ha1(SIP_DIGEST_MD5, "Mufasa", "testrealm@host.com",
					"Circle Of Life", ha1), 0);
	assert_int_equal(sip_digest_response(SIP_DIGEST_MD5, ha1,
		"dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b",
		"auth", "GET", "/dir/index.html", r), 0);
	assert_string_equal(r, "6629fae49393a05397450978507c4ef1");
	/* RFC 2069 style (no qop). The value printed in RFC 2069 is a known
	 * erratum; this one was computed independently (Python hashlib). */
	assert_int_equal(sip_digest_ha1(SIP_DIGEST_MD5, "Mufasa", "testrealm@host.com",
					"CircleOfLife", ha1), 0);
	assert_int_equal(sip_digest_response(SIP_DIGEST_MD5, ha1,
		"dcd98b7102dd2f0e8b11d0f600bfb0c093", NULL, NULL, NULL, "GET",
		"/dir/index.html", r), 0);
	assert_string_equal(r, "1949323746fe6a43ef61f9606e7febea");
}

/* RFC 7616 s.3.9.1, both algorithms */
static void t_rfc7616(void **s)
{
	static const char *nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
	static const char *cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
	char ha1[SIP_DIGEST_HEX_MAX], r[SIP_DIGEST_HEX_MAX];
	(void)s;
	assert_int_equal(sip_digest_ha1(SIP_DIGEST_MD5, "Mufasa", "http-auth@example.org",
					"Circle of Life", ha1), 0);
	assert_int_equal(sip_digest_response(SIP_DIGEST_MD5, ha1, nonce, "00000001",
					     cnonce, "auth", "GET", "/dir/index.html", r), 0);
	assert_string_equal(r, "8ca523f5e9506fed4657c9700eebdbec");
	assert_int_equal(sip_digest_ha1(SIP_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
					"Circle of Life", ha1), 0);
	assert_int_equal(strlen(ha1), 64);
	assert_int_equal(sip_digest_response(SIP_DIGEST_SHA256, ha1, nonce, "00000001",
					     cnonce, "auth", "GET", "/dir/index.html", r), 0);
	assert_string_equal(r, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

/* The RFC 7616 Authorization header, reordered and folded, verified. */
static void t_verify(void **s)
{
	static const char hdr[] =
		"Digest response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n"
		"   username = \"Mufasa\" , realm=\"http-auth@example.org\",\r\n"
		"\turi=\"/dir/index.html\", algorithm=SHA-256,\r\n"
		" nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001,\r\n"
		" cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth,\r\n"
		" opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	struct sip_digest_credentials c;
	char ha1[SIP_DIGEST_HEX_MAX], tampered[sizeof(hdr)], upper[sizeof(hdr)];
	(void)s;
	assert_int_equal(sip_digest_credentials_decode(S(hdr), &c), 0);
	assert_int_equal(c.alg, SIP_DIGEST_SHA256);
	assert_true(sip_str_eq(c.username, "Mufasa"));
	assert_true(sip_str_eq(c.uri, "/dir/index.html"));
	assert_int_equal(c.nc_value, 1);
	assert_true(sip_str_eq(c.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"));
	sip_digest_ha1(SIP_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
		       "Circle of Life", ha1);
	assert_int_equal(sip_digest_verify(&c, S("GET"), ha1), 0);
	/* a different method, a wrong HA1, a flipped response digit */
	assert_int_equal(sip_digest_verify(&c, S("POST"), ha1), -EACCES);
	sip_digest_ha1(SIP_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
		       "Circle of life", ha1);
	assert_int_equal(sip_digest_verify(&c, S("GET"), ha1), -EACCES);
	sip_digest_ha1(SIP_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
		       "Circle of Life", ha1);
	memcpy(tampered, hdr, sizeof(hdr));
	*strstr(tampered, "753927") = '6';
	assert_int_equal(sip_digest_credentials_decode(S(hdr), &c), 0);
	assert_int_equal(sip_digest_credentials_decode(
		(struct sip_str){ tampered, sizeof(hdr) - 1 }, &c), 0);
	assert_int_equal(sip_digest_verify(&c, S("GET"), ha1), -EACCES);
	/* hex case does not matter */
	memcpy(upper, hdr, sizeof(hdr));
	memcpy(strstr(upper, "753927fa0e"), "753927FA0E", 10);
	assert_int_equal(sip_digest_credentials_decode(
		(struct sip_str){ upper, sizeof(hdr) - 1 }, &c), 0);
	assert_int_equal(sip_digest_verify(&c, S("GET"), ha1), 0);
	/* an MD5 HA1 for a SHA-256 response is refused as malformed */
	sip_digest_ha1(SIP_DIGEST_MD5, "Mufasa", "http-auth@example.org",
		       "Circle of Life", ha1);
	assert_int_equal(sip_digest_verify(&c, S("GET"), ha1), -EBADMSG);
}

static void t_decode_errors(void **s)
{
	struct sip_digest_credentials c;
	struct sip_digest_challenge ch;
	(void)s;
	assert_int_equal(sip_digest_credentials_decode(
		S("Basic dXNlcjpwYXNz"), &c), -EPROTONOSUPPORT);
	/* duplicated parameter */
	assert_int_equal(sip_digest_credentials_decode(
		S("Digest username=\"a\", username=\"b\", realm=\"r\", nonce=\"n\", "
		  "uri=\"sip:x\", response=\"00\""), &c), -EBADMSG);
	/* missing response */
	assert_int_equal(sip_digest_credentials_decode(
		S("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\""), &c),
		-EBADMSG);
	/* qop without nc/cnonce; nc not 8 hex digits */
	assert_int_equal(sip_digest_credentials_decode(
		S("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
		  "response=\"00\", qop=auth"), &c), -EBADMSG);
	assert_int_equal(sip_digest_credentials_decode(
		S("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
		  "response=\"00\", qop=auth, cnonce=\"c\", nc=0000001g"), &c), -EBADMSG);
	/* unterminated quote, trailing comma, missing '=' */
	assert_int_equal(sip_digest_challenge_decode(
		S("Digest realm=\"r, nonce=\"n\""), &ch), -EBADMSG);
	assert_int_equal(sip_digest_challenge_decode(
		S("Digest realm=\"r\", nonce=\"n\","), &ch), -EBADMSG);
	assert_int_equal(sip_digest_challenge_decode(
		S("Digest realm \"r\", nonce=\"n\""), &ch), -EBADMSG);
	assert_int_equal(sip_digest_challenge_decode(S("Digest realm=\"r\""), &ch),
			 -EBADMSG);
}

static void t_challenge_decode(void **s)
{
	struct sip_digest_challenge ch;
	char realm[64];
	(void)s;
	assert_int_equal(sip_digest_challenge_decode(
		S("DIGEST stale=TRUE, qop=\"auth-int, auth\", nonce=\"abc\",\r\n"
		  " realm=\"a \\\"quoted\\\" realm\", algorithm=sha-256, foo=bar"), &ch), 0);
	assert_true(ch.stale);
	assert_true(ch.qop_auth);
	assert_true(ch.qop_auth_int);
	assert_int_equal(ch.alg, SIP_DIGEST_SHA256);
	assert_int_equal(sip_str_unquote(ch.realm, realm, sizeof(realm), NULL), 0);
	assert_string_equal(realm, "a \"quoted\" realm");
	assert_int_equal(sip_digest_challenge_decode(
		S("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess"), &ch), 0);
	assert_int_equal(ch.alg, SIP_DIGEST_ALG_UNKNOWN);
	assert_int_equal(sip_digest_challenge_decode(
		S("Digest realm=\"r\", nonce=\"n\""), &ch), 0);
	assert_int_equal(ch.alg, SIP_DIGEST_MD5);	/* absent = MD5 */
	assert_false(ch.stale);
	assert_false(ch.qop_auth);
}

static const uint8_t A1[4] = { 127, 0, 0, 1 }, A2[4] = { 127, 0, 0, 2 };

static void t_nonce(void **s)
{
	uint8_t key[SIP_NONCE_KEY_LEN], other[SIP_NONCE_KEY_LEN];
	char n1[SIP_NONCE_LEN + 1], n2[SIP_NONCE_LEN + 1];
	struct sip_str ns;
	uint64_t issued = 0;
	(void)s;
	assert_int_equal(sip_nonce_key_new(key), 0);
	assert_int_equal(sip_nonce_key_new(other), 0);
	assert_int_equal(sip_nonce_make(key, 1000000, A1, 4, n1), 0);
	assert_int_equal(sip_nonce_make(key, 1000000, A1, 4, n2), 0);
	assert_int_equal(strlen(n1), SIP_NONCE_LEN);
	assert_string_not_equal(n1, n2);	/* random part differs */
	ns = (struct sip_str){ n1, SIP_NONCE_LEN };
	assert_int_equal(sip_nonce_check(key, ns, 1000000, 300, A1, 4, &issued), 0);
	assert_int_equal(issued, 1000000);
	assert_int_equal(sip_nonce_check(key, ns, 1000300, 300, A1, 4, NULL), 0);
	assert_int_equal(sip_nonce_check(key, ns, 1000301, 300, A1, 4, NULL), -ESTALE);
	assert_int_equal(sip_nonce_check(other, ns, 1000000, 300, A1, 4, NULL), -EINVAL);
	/* any changed character is detected (time, random, or MAC part) */
	for (int i = 0; i < SIP_NONCE_LEN; i += 7) {
		char t[SIP_NONCE_LEN + 1];
		memcpy(t, n1, sizeof(t));
		t[i] = t[i] == '0' ? '1' : '0';
		assert_int_equal(sip_nonce_check(key, (struct sip_str){ t, SIP_NONCE_LEN },
						 1000000, 300, A1, 4, NULL), -EINVAL);
	}
	assert_int_equal(sip_nonce_check(key, (struct sip_str){ n1, 63 }, 1000000, 300,
					 A1, 4, NULL), -EINVAL);
	/* from the future beyond the allowed skew */
	assert_int_equal(sip_nonce_check(key, ns, 999000, 300, A1, 4, NULL), -EINVAL);
}

/* A nonce verifies only from the address it was issued to, and only in
 * the spelling it was issued in (lowercase hex). */
static void t_nonce_bound(void **s)
{
	uint8_t key[SIP_NONCE_KEY_LEN], v6[16] = { 0 };
	char n[SIP_NONCE_LEN + 1], up[SIP_NONCE_LEN + 1];
	struct sip_str ns = { n, SIP_NONCE_LEN };
	(void)s;
	assert_int_equal(sip_nonce_key_new(key), 0);
	assert_int_equal(sip_nonce_make(key, 1000, A1, 4, n), 0);
	assert_int_equal(sip_nonce_check(key, ns, 1000, 300, A1, 4, NULL), 0);
	assert_int_equal(sip_nonce_check(key, ns, 1000, 300, A2, 4, NULL), -EINVAL);
	assert_int_equal(sip_nonce_check(key, ns, 1000, 300, NULL, 0, NULL), -EINVAL);
	assert_int_equal(sip_nonce_check(key, ns, 1000, 300, v6, 16, NULL), -EINVAL);
	for (int i = 0; i <= SIP_NONCE_LEN; i++)
		up[i] = (char)toupper((unsigned char)n[i]);
	assert_string_not_equal(up, n); /* 64 hex digits hold some letter */
	assert_int_equal(sip_nonce_check(key, (struct sip_str){ up, SIP_NONCE_LEN },
					 1000, 300, A1, 4, NULL), -EINVAL);
	assert_int_equal(sip_nonce_make(key, 1000, v6, 16, n), 0);
	assert_int_equal(sip_nonce_check(key, ns, 1000, 300, v6, 16, NULL), 0);
	assert_int_equal(sip_nonce_make(key, 1000, v6, 17, n), -EINVAL);
}

/* Server challenge -> 401 -> client picks SHA-256 -> REGISTER with
 * Authorization -> server decodes and verifies. */
static void t_round_trip(void **s)
{
	static const char req[] =
		"REGISTER sip:dataline.local SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5099;rport;branch=z9hG4bKabc\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:+8613800138000@dataline.local>;tag=f1\r\n"
		"To: <sip:+8613800138000@dataline.local>\r\n"
		"Call-ID: rt1@127.0.0.1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
	uint8_t key[SIP_NONCE_KEY_LEN];
	char nonce[SIP_NONCE_LEN + 1], out[2048], out2[2048], ha1[SIP_DIGEST_HEX_MAX];
	struct sip_msg m, resp, reg;
	struct sip_buf b;
	struct sip_digest_challenge ch;
	struct sip_digest_credentials cr;
	size_t n;
	(void)s;

	assert_int_equal(sip_msg_parse(req, sizeof(req) - 1, 0, &m, NULL), 0);
	sip_nonce_key_new(key);
	sip_nonce_make(key, 5000, A1, 4, nonce);
	sip_buf_init(&b, out, sizeof(out));
	sip_resp_begin(&b, &m, 401, NULL, "srv1", NULL);
	sip_digest_challenge_add(&b, "WWW-Authenticate", SIP_DIGEST_SHA256,
				 "dataline.local", nonce, 0, NULL);
	sip_digest_challenge_add(&b, "WWW-Authenticate", SIP_DIGEST_MD5,
				 "dataline.local", nonce, 0, NULL);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
	assert_int_equal(sip_msg_parse(out, n, 0, &resp, NULL), 0);
	assert_int_equal(resp.status, 401);
	assert_int_equal(sip_msg_hdr_count(&resp, SIP_HDR_WWW_AUTHENTICATE), 2);
	assert_int_equal(sip_digest_challenge_pick(&resp, &ch), 0);
	assert_int_equal(ch.alg, SIP_DIGEST_SHA256);
	assert_true(ch.qop_auth);

	/* the client's second REGISTER, with credentials */
	sip_buf_init(&b, out2, sizeof(out2));
	sip_buf_add(&b, req, sizeof(req) - 1 - 2 - 19);	/* drop CL + CRLF */
	assert_int_equal(sip_digest_authorization_add(&b, "Authorization", &ch,
		"8613800138000-ab12cd34", "s3cret \"pw\"", NULL, "REGISTER",
		"sip:dataline.local", NULL, 1), 0);
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
	assert_int_equal(sip_msg_parse(out2, n, 0, &reg, NULL), 0);
	assert_int_equal(sip_digest_credentials_decode(
		sip_msg_hdr(&reg, SIP_HDR_AUTHORIZATION)->value, &cr), 0);
	assert_true(sip_str_eq(cr.username, "8613800138000-ab12cd34"));
	assert_int_equal(cr.nc_value, 1);
	assert_int_equal(sip_nonce_check(key, cr.nonce, 5010, 300, A1, 4, NULL), 0);
	sip_digest_ha1(SIP_DIGEST_SHA256, "8613800138000-ab12cd34", "dataline.local",
		       "s3cret \"pw\"", ha1);
	assert_int_equal(sip_digest_verify(&cr, reg.method, ha1), 0);
	sip_digest_ha1(SIP_DIGEST_SHA256, "8613800138000-ab12cd34", "dataline.local",
		       "wrong", ha1);
	assert_int_equal(sip_digest_verify(&cr, reg.method, ha1), -EACCES);

	/* with only an MD5 challenge the client answers in MD5, from a
	 * known HA1 instead of the password */
	sip_buf_init(&b, out, sizeof(out));
	sip_buf_adds(&b, "SIP/2.0 407 Proxy Authentication Required\r\n"
		     "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
		     "To: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\n");
	sip_digest_challenge_add(&b, "Proxy-Authenticate", SIP_DIGEST_MD5, "b",
				 "nn", 0, "op\"aque");
	assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
	assert_int_equal(sip_msg_parse(out, n, 0, &resp, NULL), 0);
	assert_int_equal(sip_digest_challenge_pick(&resp, &ch), 0);
	assert_int_equal(ch.alg, SIP_DIGEST_MD5);
	sip_digest_ha1(SIP_DIGEST_MD5, "a", "b", "pw", ha1);
	sip_buf_init(&b, out2, sizeof(out2));
	assert_int_equal(sip_digest_authorization_add(&b, "Proxy-Authorization", &ch,
		"a", NULL, ha1, "REGISTER", "sip:b", "cn0", 7), 0);
	assert_int_equal(sip_buf_finish(&b, &n), 0);
	assert_non_null(strstr(out2, "nc=00000007"));
	assert_non_null(strstr(out2, "opaque=\"op\\\"aque\""));
	assert_int_equal(sip_digest_credentials_decode(
		(struct sip_str){ out2 + 21, n - 23 }, &cr), 0);
	assert_int_equal(sip_digest_verify(&cr, S("REGISTER"), ha1), 0);
	/* too small a buffer: -ENOSPC, nothing half-written counts */
	sip_buf_init(&b, out2, 40);
	assert_int_equal(sip_digest_authorization_add(&b, "Authorization", &ch,
		"a", "pw", NULL, "REGISTER", "sip:b", NULL, 1), -ENOSPC);
}

static void t_ct_eq(void **s)
{
	(void)s;
	assert_true(sip_ct_eq("abc", 3, "abc", 3));
	assert_false(sip_ct_eq("abc", 3, "abd", 3));
	assert_false(sip_ct_eq("abc", 3, "abcd", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rfc2617),	cmocka_unit_test(t_rfc7616),
		cmocka_unit_test(t_verify),	cmocka_unit_test(t_decode_errors),
		cmocka_unit_test(t_challenge_decode), cmocka_unit_test(t_nonce),
		cmocka_unit_test(t_nonce_bound),
		cmocka_unit_test(t_round_trip),	cmocka_unit_test(t_ct_eq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
