/*
 * test_sip_torture: the 49 RFC 4475 torture messages (byte-exact copies in
 * tests/data/rfc4475/) through sip_msg_parse. Valid messages (s.3.1.1)
 * must parse to the fields the RFC describes; invalid ones (s.3.1.2) must
 * be rejected with the answer the RFC asks for (400 / 505 for requests,
 * drop for responses); the transaction- and application-layer ones
 * (s.3.2, s.3.3, s.3.4) must parse so that the layer above can give its
 * answer -- except insuf, multi01 and mcl01, whose RFC answer is a 400 the
 * parser itself can give. Every message is also parsed from every
 * truncated length, which must never crash (ASan build) or succeed with a
 * body beyond the buffer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/sip.h"

static char buf[8192];
static size_t buflen;

static void load(const char *name)
{
	char path[512];
	const char *root = getenv("ROOT");
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/rfc4475/%s.dat",
		 root ? root : ".", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	buflen = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(buflen > 0 && buflen < sizeof(buf));
}

static void parse_ok(const char *name, struct sip_msg *m)
{
	struct sip_parse_error e = { 0 };
	int rc;

	load(name);
	rc = sip_msg_parse(buf, buflen, SIP_PARSE_DGRAM, m, &e);
	if (rc)
		fail_msg("%s: rc %d (%s)", name, rc, e.reason);
}

static void parse_bad(const char *name, int want_rc, int is_request,
		      int status, int can_reply)
{
	struct sip_parse_error e = { 0 };
	struct sip_msg m;
	int rc;

	load(name);
	rc = sip_msg_parse(buf, buflen, SIP_PARSE_DGRAM, &m, &e);
	if (rc != want_rc)
		fail_msg("%s: rc %d, want %d", name, rc, want_rc);
	assert_int_equal(e.is_request, is_request);
	if (is_request == 1)
		assert_int_equal(e.status, status);
	assert_int_equal(e.can_reply, can_reply);
	assert_non_null(e.reason);
}

#define STR_EQ(s, lit) assert_true(sip_str_eq((s), (lit)))

static unsigned count_list(const struct sip_msg *m, enum sip_hdr_id id)
{
	struct sip_list_iter it;
	struct sip_str v;
	unsigned n = 0;

	sip_list_init(&it, m, id);
	while (sip_list_next(&it, &v) == 0)
		n++;
	return n;
}

/* ------------------------------------------------------ 3.1.1 valid */

static void t_wsinv(void **s)
{
	struct sip_msg m;
	struct sip_contact c;
	struct sip_via v;
	struct sip_list_iter it;
	struct sip_str val;
	char dn[64];
	(void)s;
	parse_ok("wsinv", &m);
	STR_EQ(m.method, "INVITE");
	STR_EQ(m.ruri.host, "chair-dnrc.example.com");
	assert_int_equal(sip_param_get(m.ruri.params, "unknownparam", &val), 0);
	STR_EQ(m.to.tag, "1918181833n");
	STR_EQ(m.from.tag, "98asjd8");
	assert_int_equal(sip_str_unquote(m.from.display, dn, sizeof(dn), NULL), 0);
	assert_string_equal(dn, "J Rosenberg \\\"");
	assert_int_equal(m.max_forwards, 68);
	assert_int_equal(m.cseq.num, 9);
	assert_int_equal(m.cseq.method_id, SIP_METHOD_INVITE);
	assert_int_equal(m.nvia, 3);
	STR_EQ(m.via.transport, "UDP");
	STR_EQ(m.via.host, "192.0.2.2");
	STR_EQ(m.via.branch, "390skdjuw");
	/* the second and third Via come from one folded compact "v:" line */
	sip_list_init(&it, &m, SIP_HDR_VIA);
	assert_int_equal(sip_list_next(&it, &val), 0);
	assert_int_equal(sip_list_next(&it, &val), 0);
	assert_int_equal(sip_via_decode(val, &v), 0);
	STR_EQ(v.transport, "TCP");
	STR_EQ(v.host, "spindle.example.com");
	STR_EQ(v.branch, "z9hG4bK9ikj8");
	assert_int_equal(sip_list_next(&it, &val), 0);
	assert_int_equal(sip_via_decode(val, &v), 0);
	STR_EQ(v.host, "192.168.255.111");
	STR_EQ(v.branch, "z9hG4bK30239");
	assert_int_equal(sip_list_next(&it, &val), -ENOENT);
	/* m: "Quoted string \"\"" <sip:jdrosen@example.com> ; ...; q = 0.33 */
	sip_list_init(&it, &m, SIP_HDR_CONTACT);
	assert_int_equal(sip_list_next(&it, &val), 0);
	assert_int_equal(sip_contact_decode(val, &c), 0);
	STR_EQ(c.q, "0.33");
	STR_EQ(c.addr.uri.user, "jdrosen");
	assert_int_equal(sip_param_get(c.addr.params, "newparam", &val), 0);
	STR_EQ(val, "newvalue");
	assert_int_equal(sip_param_get(c.addr.params, "secondparam", NULL), 0);
	/* "s :" is present and empty; unknown headers are kept raw */
	assert_non_null(sip_msg_hdr(&m, SIP_HDR_SUBJECT));
	assert_int_equal(sip_msg_hdr(&m, SIP_HDR_SUBJECT)->value.len, 0);
	STR_EQ(sip_msg_hdr_byname(&m, "unknownheaderwithunusualvalue")->value,
	       ";;,,;;,;");
	assert_non_null(sip_msg_hdr_byname(&m, "NewFangledHeader"));
	STR_EQ(m.call_id, "wsinv.ndaksdj@192.0.2.1");
	assert_int_equal(m.content_length, 150);
	assert_int_equal(m.body.len, 150);
	assert_memory_equal(m.body.p, "v=0\r\n", 5);
}

static void t_intmeth(void **s)
{
	struct sip_msg m;
	char dn[64];
	size_t dl;
	(void)s;
	parse_ok("intmeth", &m);
	STR_EQ(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
	assert_int_equal(m.method_id, SIP_METHOD_OTHER);
	STR_EQ(m.ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
	STR_EQ(m.ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	STR_EQ(m.ruri.host, "example.com");
	STR_EQ(m.cseq.method, "!interesting-Method0123456789_*+`.%indeed'~");
	assert_int_equal(m.cseq.num, 139122385);
	STR_EQ(m.call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
	STR_EQ(m.via.branch, "z9hG4bK-.!%66*_+`'~");
	/* To display name holds quoted-pairs of BEL, NUL and DEL */
	assert_int_equal(sip_str_unquote(m.to.display, dn, sizeof(dn), &dl), 0);
	assert_int_equal(dl, 17);
	assert_memory_equal(dn, "BEL:\x07 NUL:\0 DEL:\x7f", 17);
	STR_EQ(m.from.display, "token1~` token2'+_ token3*%!.-");
	STR_EQ(m.from.tag, "_token~1'+`*%!-.");
	assert_int_equal(m.max_forwards, 255);
	assert_non_null(sip_msg_hdr_byname(&m, "extensionHeader-!.%*+_`'~"));
	assert_int_equal(m.body.len, 0);
}

static void t_esc01(void **s)
{
	struct sip_msg m;
	struct sip_contact c;
	struct sip_str v;
	char u[64];
	size_t ul;
	(void)s;
	parse_ok("esc01", &m);
	STR_EQ(m.ruri.user, "sips%3Auser%40example.com");
	STR_EQ(m.ruri.host, "example.net");
	assert_int_equal(sip_str_unescape(m.ruri.user, u, sizeof(u), &ul), 0);
	assert_string_equal(u, "sips:user@example.com");
	assert_int_equal(sip_str_unescape(m.to.uri.user, u, sizeof(u), &ul), 0);
	assert_string_equal(u, "user");
	assert_int_equal(sip_str_unescape(m.from.uri.user, u, sizeof(u), &ul), 0);
	assert_string_equal(u, "I have spaces");
	STR_EQ(m.call_id, "esc01.239409asdfakjkn23onasd0-3234");
	assert_int_equal(m.max_forwards, 87);
	/* the Contact is on a folded line after an empty "Contact:" */
	assert_int_equal(sip_contact_decode(sip_msg_hdr(&m, SIP_HDR_CONTACT)->value, &c), 0);
	assert_int_equal(sip_param_get(c.addr.uri.params, "n%61me", &v), 0);
	STR_EQ(v, "v%61lue%25%34%31");
	assert_int_equal(sip_param_get(c.addr.uri.params, "%6C%72", &v), 0);
	/* compact "C:" is Content-Type */
	STR_EQ(sip_msg_hdr(&m, SIP_HDR_CONTENT_TYPE)->value, "application/sdp");
	assert_int_equal(m.body.len, 150);
}

static void t_escnull(void **s)
{
	struct sip_msg m;
	struct sip_list_iter it;
	struct sip_str v;
	struct sip_contact c;
	char u[64];
	size_t ul;
	(void)s;
	parse_ok("escnull", &m);
	assert_int_equal(m.method_id, SIP_METHOD_REGISTER);
	assert_int_equal(sip_str_unescape(m.to.uri.user, u, sizeof(u), &ul), 0);
	assert_int_equal(ul, 11);
	assert_memory_equal(u, "null-\0-null", 11);
	assert_int_equal(count_list(&m, SIP_HDR_CONTACT), 2);
	sip_list_init(&it, &m, SIP_HDR_CONTACT);
	assert_int_equal(sip_list_next(&it, &v), 0);
	assert_int_equal(sip_list_next(&it, &v), 0);
	assert_int_equal(sip_contact_decode(v, &c), 0);
	STR_EQ(c.addr.uri.user, "%00%00");
	assert_true(m.has_content_length);
	assert_int_equal(m.content_length, 0);
}

static void t_esc02(void **s)
{
	struct sip_msg m;
	(void)s;
	parse_ok("esc02", &m);
	/* an escaped method name is a different method, not REGISTER */
	STR_EQ(m.method, "RE%47IST%45R");
	assert_int_equal(m.method_id, SIP_METHOD_OTHER);
	STR_EQ(m.to.display, "\"%Z%45\"");
	STR_EQ(m.via.branch, "z9hG4bK209%fzsnel234");
	/* "C%6Fntact" is an unknown header, not Contact: two contacts */
	assert_int_equal(count_list(&m, SIP_HDR_CONTACT), 2);
	assert_non_null(sip_msg_hdr_byname(&m, "C%6Fntact"));
}

static void t_lwsdisp(void **s)
{
	struct sip_msg m;
	(void)s;
	parse_ok("lwsdisp", &m);
	STR_EQ(m.from.display, "caller");
	STR_EQ(m.from.uri.user, "caller");
	STR_EQ(m.from.tag, "323");
	assert_int_equal(m.method_id, SIP_METHOD_OPTIONS);
}

static void t_longreq(void **s)
{
	struct sip_msg m;
	struct sip_list_iter it;
	struct sip_str v;
	struct sip_via via;
	unsigned n = 0;
	(void)s;
	parse_ok("longreq", &m);
	assert_int_equal(m.nvia, 34);
	assert_int_equal(m.to.uri.port, 6000);
	assert_true(m.to.display.len > 90);
	assert_true(m.call_id.len > 100);
	assert_int_equal(m.cseq.num, 3882340);
	assert_int_equal(m.body.len, 150);
	sip_list_init(&it, &m, SIP_HDR_VIA);
	while (sip_list_next(&it, &v) == 0) {
		assert_int_equal(sip_via_decode(v, &via), 0);
		n++;
	}
	assert_int_equal(n, 34);
	STR_EQ(via.received, "192.0.2.5");
	assert_true(via.branch.len > 200);
}

static void t_dblreq(void **s)
{
	struct sip_msg m;
	(void)s;
	parse_ok("dblreq", &m);
	/* only the first request counts: its Content-Length is 0 */
	assert_int_equal(m.method_id, SIP_METHOD_REGISTER);
	STR_EQ(m.call_id, "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
	assert_int_equal(m.body.len, 0);
	assert_true(m.len < buflen);
	assert_int_equal(m.max_forwards, 8);
}

static void t_semiuri(void **s)
{
	struct sip_msg m;
	(void)s;
	parse_ok("semiuri", &m);
	STR_EQ(m.ruri.user, "user;par=u%40example.net");
	STR_EQ(m.ruri.host, "example.com");
	assert_false(sip_str_present(m.ruri.params));
	assert_int_equal(count_list(&m, SIP_HDR_ACCEPT), 6);
}

static void t_transports(void **s)
{
	static const char *const tr[] = { "UDP", "SCTP", "TLS", "UNKNOWN", "TCP" };
	struct sip_msg m;
	struct sip_list_iter it;
	struct sip_str v;
	struct sip_via via;
	(void)s;
	parse_ok("transports", &m);
	assert_int_equal(m.nvia, 5);
	sip_list_init(&it, &m, SIP_HDR_VIA);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sip_list_next(&it, &v), 0);
		assert_int_equal(sip_via_decode(v, &via), 0);
		STR_EQ(via.transport, tr[i]);
	}
	STR_EQ(m.call_id, "transports.kijh4akdnaqjkwendsasfdj");
}

static void t_mpart01(void **s)
{
	struct sip_msg m;
	(void)s;
	parse_ok("mpart01", &m);
	assert_int_equal(m.method_id, SIP_METHOD_MESSAGE);
	assert_int_equal(m.body.len, 553);
	assert_true(m.via.rport_present);
	assert_int_equal(m.via.port, 5070);
	STR_EQ(m.call_id, "3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..");
	assert_memory_equal(m.body.p, "--7a9cbec02ceef655", 18);
}

static void t_unreason(void **s)
{
	struct sip_msg m;
	(void)s;
	parse_ok("unreason", &m);
	assert_false(m.is_request);
	assert_int_equal(m.status, 200);
	assert_true(m.reason.len > 40);	/* UTF-8 reason phrase */
	assert_memory_equal(m.reason.p, "= 2**3 * 5**2 ", 14);
	assert_int_equal(m.body.len, 154);
	STR_EQ(m.to.tag, "2229");
}

static void t_noreason(void **s)
{
	struct sip_msg m;
	(void)s;
	parse_ok("noreason", &m);
	assert_int_equal(m.status, 100);
	assert_non_null(m.reason.p);
	assert_int_equal(m.reason.len, 0);
	assert_int_equal(m.cseq.num, 35);
}

/* ---------------------------------------------------- 3.1.2 invalid */

/* Requests: 400 (505 for badvers). Each is rejected, not repaired: the
 * RFC allows a tolerant element to repair trws / lwsstart / baddate /
 * scalar02's Max-Forwards, but rejecting is always an allowed answer and
 * a registrar gains nothing by guessing. Responses are dropped. */
static void t_invalid(void **s)
{
	(void)s;
	parse_bad("badinv01", -EBADMSG, 1, 400, 1);	/* ";;,;,," in Via */
	parse_bad("clerr", -EBADMSG, 1, 400, 1);	/* CL 9999 > datagram */
	parse_bad("ncl", -EBADMSG, 1, 400, 1);		/* CL -999 */
	parse_bad("scalar02", -EBADMSG, 1, 400, 1);	/* CSeq > 2**32 */
	parse_bad("scalarlg", -EBADMSG, 0, 0, 0);	/* response: drop */
	parse_bad("quotbal", -EBADMSG, 1, 400, 1);	/* unterminated quote */
	parse_bad("ltgtruri", -EBADMSG, 1, 400, 1);	/* <sip:..> R-URI */
	parse_bad("lwsruri", -EBADMSG, 1, 400, 1);	/* LWS in R-URI */
	parse_bad("lwsstart", -EBADMSG, 1, 400, 1);	/* 2 SP in start line */
	parse_bad("trws", -EBADMSG, 1, 400, 1);		/* SP after SIP/2.0 */
	parse_bad("escruri", -EBADMSG, 1, 400, 1);	/* ?headers in R-URI */
	parse_bad("baddate", -EBADMSG, 1, 400, 1);	/* Date in EST */
	parse_bad("regbadct", -EBADMSG, 1, 400, 1);	/* addr-spec with '?' */
	parse_bad("badaspec", -EBADMSG, 1, 400, 1);	/* "< sip:... >" */
	parse_bad("baddn", -EBADMSG, 1, 400, 1);	/* "Bell, Alexander" */
	parse_bad("badvers", -EPROTONOSUPPORT, 1, 505, 1); /* SIP/7.0 */
	parse_bad("mismatch01", -EBADMSG, 1, 400, 1);	/* OPTIONS vs INVITE */
	parse_bad("mismatch02", -EBADMSG, 1, 400, 1);	/* NEWMETHOD vs INVITE */
	parse_bad("bigcode", -EBADMSG, 0, 0, 0);	/* 4294967301: drop */
}

static void t_invalid_reasons(void **s)
{
	struct sip_parse_error e;
	struct sip_msg m;
	(void)s;
	load("mismatch01");
	assert_int_equal(sip_msg_parse(buf, buflen, 0, &m, &e), -EBADMSG);
	assert_string_equal(e.reason, "CSeq method does not match");
	load("baddate");
	assert_int_equal(sip_msg_parse(buf, buflen, 0, &m, &e), -EBADMSG);
	assert_string_equal(e.reason, "Bad Date");
	load("quotbal");
	assert_int_equal(sip_msg_parse(buf, buflen, 0, &m, &e), -EBADMSG);
	assert_string_equal(e.reason, "Bad To");
	/* the partial parse can still be answered: the 400 echoes the
	 * request's Call-ID */
	{
		char out[2048];
		struct sip_buf b;
		size_t n;
		load("ltgtruri");
		assert_int_equal(sip_msg_parse(buf, buflen, 0, &m, &e), -EBADMSG);
		assert_true(e.can_reply);
		sip_buf_init(&b, out, sizeof(out));
		sip_resp_begin(&b, &m, e.status, e.reason, "x1", NULL);
		assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &n), 0);
		assert_non_null(strstr(out, "SIP/2.0 400 Bad Request-URI\r\n"));
		assert_non_null(strstr(out, "Call-ID: ltgtruri.1@192.0.2.5\r\n"));
	}
}

/* ------------------------------------------------------ 3.2 - 3.4 */

static void t_app_layer(void **s)
{
	struct sip_msg m;
	struct sip_contact c;
	struct sip_str v;
	(void)s;

	/* 3.2.1: a branch that is only the magic cookie parses; the
	 * transaction layer treats it as RFC 2543 style */
	parse_ok("badbranch", &m);
	STR_EQ(m.via.branch, "z9hG4bK");

	/* 3.3.2/3: unknown R-URI schemes parse (answer 416 above us) */
	parse_ok("unkscm", &m);
	assert_int_equal(m.ruri.is_sip, 0);
	STR_EQ(m.ruri.scheme, "nobodyKnowsThisScheme");
	STR_EQ(m.ruri.opaque, "totallyopaquecontent");
	parse_ok("novelsc", &m);
	STR_EQ(m.ruri.scheme, "soap.beep");

	/* 3.3.4: unknown schemes in To/From/Contact are fine */
	parse_ok("unksm2", &m);
	STR_EQ(m.to.uri.scheme, "isbn");
	STR_EQ(m.from.uri.scheme, "http");
	assert_int_equal(sip_contact_decode(sip_msg_hdr(&m, SIP_HDR_CONTACT)->value, &c), 0);
	STR_EQ(c.addr.uri.scheme, "name");

	/* 3.3.5 bext01 (420), 3.3.6 invut (415), 3.3.15 sdp01 (406) */
	parse_ok("bext01", &m);
	assert_int_equal(count_list(&m, SIP_HDR_REQUIRE), 2);
	assert_int_equal(count_list(&m, SIP_HDR_PROXY_REQUIRE), 2);
	parse_ok("invut", &m);
	STR_EQ(sip_msg_hdr(&m, SIP_HDR_CONTENT_TYPE)->value, "application/unknownformat");
	assert_int_equal(m.body.len, 40);
	parse_ok("sdp01", &m);
	STR_EQ(sip_msg_hdr(&m, SIP_HDR_ACCEPT)->value, "text/nobodyKnowsThis");

	/* 3.3.7: unknown authorization scheme: the message is fine, the
	 * digest decoder says "not Digest" */
	parse_ok("regaut01", &m);
	{
		struct sip_digest_credentials cr;
		assert_int_equal(sip_digest_credentials_decode(
			sip_msg_hdr(&m, SIP_HDR_AUTHORIZATION)->value, &cr),
			-EPROTONOSUPPORT);
	}

	/* 3.3.11 bcast: the response parses; the broadcast Via is for the
	 * transport layer to refuse */
	parse_ok("bcast", &m);
	assert_int_equal(m.nvia, 2);

	/* 3.3.12 zeromf: Max-Forwards 0 (483 above us for a proxy) */
	parse_ok("zeromf", &m);
	assert_int_equal(m.max_forwards, 0);

	/* 3.3.13/14: without <> the ;param is a Contact param, inside it is
	 * a URI param */
	parse_ok("cparam01", &m);
	assert_int_equal(sip_contact_decode(sip_msg_hdr(&m, SIP_HDR_CONTACT)->value, &c), 0);
	assert_int_equal(sip_param_get(c.addr.params, "unknownparam", NULL), 0);
	assert_false(sip_str_present(c.addr.uri.params));
	parse_ok("cparam02", &m);
	assert_int_equal(sip_contact_decode(sip_msg_hdr(&m, SIP_HDR_CONTACT)->value, &c), 0);
	assert_int_equal(sip_param_get(c.addr.uri.params, "unknownparam", NULL), 0);
	assert_false(sip_str_present(c.addr.params));

	/* 3.3.16 regescrt: escaped headers inside <> are legal */
	parse_ok("regescrt", &m);
	assert_int_equal(sip_contact_decode(sip_msg_hdr(&m, SIP_HDR_CONTACT)->value, &c), 0);
	STR_EQ(c.addr.uri.headers, "Route=%3Csip:sip.example.com%3E");

	/* 3.4.1 inv2543: RFC 2543 syntax: no branch, no Max-Forwards, no
	 * Content-Length (the datagram's rest is the body) */
	parse_ok("inv2543", &m);
	assert_false(sip_str_present(m.via.branch));
	assert_int_equal(m.max_forwards, -1);
	assert_false(m.has_content_length);
	assert_true(m.body.len > 0);
	assert_int_equal(sip_param_get(m.to.params, "user", &v), 0);
	STR_EQ(v, "phone");
}

static void t_app_layer_400(void **s)
{
	(void)s;
	/* 3.3.1 insuf: no Call-ID, From or To. The RFC: "ideally" a 400;
	 * the parser says 400, but can_reply is 0 because a response
	 * needs those three (RFC 3261 s.8.2.6.2) -- the server drops it */
	parse_bad("insuf", -EBADMSG, 1, 400, 0);
	/* 3.3.9 multi01: several To / From / Call-ID / CSeq: 400 */
	parse_bad("multi01", -EBADMSG, 1, 400, 1);
	/* 3.3.10 mcl01: two Content-Length values: 400 */
	parse_bad("mcl01", -EBADMSG, 1, 400, 1);
}

/* ------------------------------------------------------ robustness */

static const char *const all[] = {
	"wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq",
	"dblreq", "semiuri", "transports", "mpart01", "unreason", "noreason",
	"badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal",
	"ltgtruri", "lwsruri", "lwsstart", "trws", "escruri", "baddate",
	"regbadct", "badaspec", "baddn", "badvers", "mismatch01", "mismatch02",
	"bigcode", "badbranch", "insuf", "unkscm", "novelsc", "unksm2",
	"bext01", "invut", "regaut01", "multi01", "mcl01", "bcast", "zeromf",
	"cparam01", "cparam02", "regescrt", "sdp01", "inv2543",
};

static void t_all_49_truncated(void **s)
{
	(void)s;
	assert_int_equal(sizeof(all) / sizeof(all[0]), 49);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		load(all[i]);
		for (size_t n = 0; n <= buflen; n++) {
			/* a heap copy of exactly n bytes: ASan catches any
			 * read past the end */
			char *c = malloc(n ? n : 1);
			struct sip_msg m;
			struct sip_frame fr;
			memcpy(c, buf, n);
			if (sip_msg_parse(c, n, SIP_PARSE_DGRAM, &m, NULL) == 0)
				assert_true(m.body.p + m.body.len <= c + n);
			if (sip_msg_parse(c, n, SIP_PARSE_STREAM, &m, NULL) == 0)
				assert_true(m.body.p + m.body.len <= c + n);
			if (sip_frame(c, n, 65535, &fr) == 0)
				assert_true(fr.len <= n);
			free(c);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_wsinv),	cmocka_unit_test(t_intmeth),
		cmocka_unit_test(t_esc01),	cmocka_unit_test(t_escnull),
		cmocka_unit_test(t_esc02),	cmocka_unit_test(t_lwsdisp),
		cmocka_unit_test(t_longreq),	cmocka_unit_test(t_dblreq),
		cmocka_unit_test(t_semiuri),	cmocka_unit_test(t_transports),
		cmocka_unit_test(t_mpart01),	cmocka_unit_test(t_unreason),
		cmocka_unit_test(t_noreason),	cmocka_unit_test(t_invalid),
		cmocka_unit_test(t_invalid_reasons),
		cmocka_unit_test(t_app_layer),	cmocka_unit_test(t_app_layer_400),
		cmocka_unit_test(t_all_49_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
