/*
 * test_sip_parser: table-driven tests of the SIP parser and the per-header
 * decoders (RFC 3261 s.7, s.19.1, s.20, s.25; RFC 3581; RFC 5626 framing):
 * URIs (IPv6, escapes, params, headers, other schemes), name-addr vs
 * addr-spec, Via (received, rport, branch, IPv6), CSeq, Contact lists,
 * Date, compact and folded headers, Content-Length vs body for datagrams
 * and streams, and malformed input of every kind.
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

#define S(lit) SIP_STR_LIT(lit)
#define STR_EQ(s, lit) do { if (!sip_str_eq((s), (lit))) \
	fail_msg("got '%.*s', want '%s'", (int)(s).len, (s).p ? (s).p : "", (lit)); } while (0)

/* ------------------------------------------------------------ URIs */

struct uri_case {
	const char *in;
	int ok;
	const char *user, *host;
	unsigned port;
	int v6;
	const char *params, *headers;
};

static const struct uri_case uri_cases[] = {
	{ "sip:alice@example.com", 1, "alice", "example.com", 0, 0, NULL, NULL },
	{ "sips:alice@example.com:5061", 1, "alice", "example.com", 5061, 0, NULL, NULL },
	{ "sip:+8613800138000@dataline.local;user=phone", 1, "+8613800138000",
	  "dataline.local", 0, 0, "user=phone", NULL },
	{ "sip:[2001:db8::1]:5060;transport=tcp", 1, NULL, "2001:db8::1", 5060, 1,
	  "transport=tcp", NULL },
	{ "sip:bob@[::ffff:192.0.2.1]", 1, "bob", "::ffff:192.0.2.1", 0, 1, NULL, NULL },
	{ "sip:127.0.0.1", 1, NULL, "127.0.0.1", 0, 0, NULL, NULL },
	{ "sip:a:pw@h", 1, "a", "h", 0, 0, NULL, NULL },
	{ "sip:u@h;lr;maddr=1.2.3.4?subject=x&priority=urgent", 1, "u", "h", 0, 0,
	  "lr;maddr=1.2.3.4", "subject=x&priority=urgent" },
	{ "sip:%61lice@h", 1, "%61lice", "h", 0, 0, NULL, NULL },
	{ "SIP:u@H", 1, "u", "H", 0, 0, NULL, NULL },
	{ .in = "sip:", .ok = 0 }, { .in = "sip:@h", .ok = 0 }, { .in = "sip:u@", .ok = 0 }, { .in = "sip:u@h:", .ok = 0 },
	{ .in = "sip:u@h:70000", .ok = 0 }, { .in = "sip:u@h:0", .ok = 0 }, { .in = "sip:u@[::1", .ok = 0 },
	{ .in = "sip:u@[zz::1]", .ok = 0 }, { .in = "sip:u@h;", .ok = 0 }, { .in = "sip:u@h;;lr", .ok = 0 },
	{ .in = "sip:u@h?", .ok = 0 }, { .in = "sip:u h@x", .ok = 0 }, { .in = "sip:u@h x", .ok = 0 },
	{ .in = "sip:%zzu@h", .ok = 0 }, { .in = "sip:u@h;a=%", .ok = 0 }, { .in = "<sip:u@h>", .ok = 0 },
	{ .in = "1sip:u@h", .ok = 0 }, { .in = "nocolon", .ok = 0 }, { .in = "", .ok = 0 },
};

static void t_uri(void **s)
{
	(void)s;
	for (size_t i = 0; i < sizeof(uri_cases) / sizeof(uri_cases[0]); i++) {
		const struct uri_case *c = &uri_cases[i];
		struct sip_uri u;
		int rc = sip_uri_decode((struct sip_str){ c->in, strlen(c->in) }, &u);
		if ((rc == 0) != c->ok)
			fail_msg("%s: rc %d", c->in, rc);
		if (!c->ok)
			continue;
		assert_true(u.is_sip);
		if (c->user)
			STR_EQ(u.user, c->user);
		else
			assert_false(sip_str_present(u.user));
		STR_EQ(u.host, c->host);
		assert_int_equal(u.port, c->port);
		assert_int_equal(u.host_is_ipv6, c->v6);
		if (c->params)
			STR_EQ(u.params, c->params);
		if (c->headers)
			STR_EQ(u.headers, c->headers);
	}
}

static void t_uri_other_schemes(void **s)
{
	struct sip_uri u;
	(void)s;
	assert_int_equal(sip_uri_decode(S("tel:+8613800138000;phone-context=x"), &u), 0);
	assert_int_equal(u.is_sip, 0);
	STR_EQ(u.scheme, "tel");
	STR_EQ(u.opaque, "+8613800138000;phone-context=x");
	assert_int_equal(sip_uri_decode(S("mailto:a@b"), &u), 0);
	assert_int_equal(sip_uri_decode(S("tel:"), &u), -EBADMSG);
	assert_int_equal(sip_uri_decode(S("tel:a b"), &u), -EBADMSG);
	assert_int_equal(sip_uri_decode(S("tel:<x>"), &u), -EBADMSG);
}

static void t_uri_eq_and_params(void **s)
{
	struct sip_uri a, b;
	struct sip_str v, rest, n;
	(void)s;
	sip_uri_decode(S("sip:%2b86138@DataLine.Local;user=phone"), &a);
	sip_uri_decode(S("sip:+86138@dataline.local"), &b);
	assert_true(sip_uri_eq_aor(&a, &b));
	sip_uri_decode(S("sip:+86139@dataline.local"), &b);
	assert_false(sip_uri_eq_aor(&a, &b));
	sip_uri_decode(S("sips:+86138@dataline.local"), &b);
	assert_false(sip_uri_eq_aor(&a, &b));
	sip_uri_decode(S("sip:+86138@dataline.local:5060"), &b);
	assert_false(sip_uri_eq_aor(&a, &b));

	assert_int_equal(sip_param_get(S("lr;Transport=TCP;x"), "transport", &v), 0);
	STR_EQ(v, "TCP");
	assert_int_equal(sip_param_get(S("lr;transport=TCP"), "lr", &v), 0);
	assert_non_null(v.p);
	assert_int_equal(v.len, 0);
	assert_int_equal(sip_param_get(S("lr"), "maddr", &v), -ENOENT);
	rest = S("a=1 ; b = \"x;y\" ;c");
	assert_int_equal(sip_param_next(&rest, &n, &v), 0);
	STR_EQ(n, "a");
	assert_int_equal(sip_param_next(&rest, &n, &v), 0);
	STR_EQ(v, "\"x;y\"");
	assert_int_equal(sip_param_next(&rest, &n, &v), 0);
	STR_EQ(n, "c");
	assert_int_equal(sip_param_next(&rest, &n, &v), -ENOENT);
	rest = S("a=1;;b");
	assert_int_equal(sip_param_next(&rest, &n, &v), 0);
	assert_int_equal(sip_param_next(&rest, &n, &v), -EBADMSG);
	rest = S("a=");
	assert_int_equal(sip_param_next(&rest, &n, &v), -EBADMSG);
}

/* ------------------------------------------------------------ name-addr */

struct na_case {
	const char *in;
	int ok;
	const char *display, *uri, *tag;
};

static const struct na_case na_cases[] = {
	{ "<sip:a@b>", 1, NULL, "sip:a@b", NULL },
	{ "\"Alice \\\"A\\\"\" <sip:a@b>;tag=x1", 1, "\"Alice \\\"A\\\"\"", "sip:a@b", "x1" },
	{ "Alice Smith <sip:a@b> ; tag = 9", 1, "Alice Smith", "sip:a@b", "9" },
	{ "sip:a@b;tag=77", 1, NULL, "sip:a@b", "77" },
	{ "sip:a@b ;tag=77;foo", 1, NULL, "sip:a@b", "77" },
	{ "<sip:a@b;lr>;tag=t", 1, NULL, "sip:a@b;lr", "t" },
	{ "<tel:+123>", 1, NULL, "tel:+123", NULL },
	{ "\"\" <sip:a@b>", 1, "\"\"", "sip:a@b", NULL },
	{ .in = "\"unterminated <sip:a@b>", .ok = 0 },
	{ .in = "a, b <sip:a@b>", .ok = 0 },
	{ .in = "<sip:a@b", .ok = 0 },
	{ .in = "< sip:a@b>", .ok = 0 },
	{ .in = "<sip:a@b>;", .ok = 0 },
	{ .in = "<sip:a@b>;tag=1;tag=2", .ok = 0 },
	{ .in = "<sip:a@b> junk", .ok = 0 },
	{ .in = "sip:a@b?x=y", .ok = 0 },
	{ .in = "\"x\" sip:a@b", .ok = 0 },
	{ .in = "", .ok = 0 },
};

static void t_nameaddr(void **s)
{
	(void)s;
	for (size_t i = 0; i < sizeof(na_cases) / sizeof(na_cases[0]); i++) {
		const struct na_case *c = &na_cases[i];
		struct sip_nameaddr a;
		int rc = sip_nameaddr_decode((struct sip_str){ c->in, strlen(c->in) }, &a);
		if ((rc == 0) != c->ok)
			fail_msg("'%s': rc %d", c->in, rc);
		if (!c->ok)
			continue;
		if (c->display)
			STR_EQ(a.display, c->display);
		else
			assert_false(sip_str_present(a.display));
		STR_EQ(a.uri_str, c->uri);
		if (c->tag)
			STR_EQ(a.tag, c->tag);
		else
			assert_false(sip_str_present(a.tag));
	}
}

static void t_contact(void **s)
{
	struct sip_contact c;
	(void)s;
	assert_int_equal(sip_contact_decode(S(" * "), &c), 0);
	assert_true(c.star);
	assert_int_equal(sip_contact_decode(
		S("<sip:u@192.0.2.4:5062;transport=tcp>;expires=600;q=0.5;+sip.instance=\"<urn:uuid:1>\""), &c), 0);
	assert_false(c.star);
	assert_int_equal(c.expires, 600);
	STR_EQ(c.q, "0.5");
	assert_int_equal(c.addr.uri.port, 5062);
	assert_int_equal(sip_contact_decode(S("<sip:u@h>"), &c), 0);
	assert_int_equal(c.expires, -1);
	assert_int_equal(sip_contact_decode(S("<sip:u@h>;expires=4294967296"), &c), -EBADMSG);
	assert_int_equal(sip_contact_decode(S("<sip:u@h>;expires=-1"), &c), -EBADMSG);
	assert_int_equal(sip_contact_decode(S("<sip:u@h>;q"), &c), -EBADMSG);
}

/* RFC 3261 s.25.1 qvalue, strictly, in thousandths, without floats */
static void t_qvalue(void **s)
{
	static const struct { const char *in; int q; } ok[] = {
		{ "0", 0 }, { "1", 1000 }, { "0.", 0 }, { "1.", 1000 },
		{ "0.5", 500 }, { "0.05", 50 }, { "0.005", 5 }, { "0.123", 123 },
		{ "0.999", 999 }, { "1.0", 1000 }, { "1.000", 1000 }, { "0.000", 0 },
	};
	static const char *const bad[] = {
		"nan", "NaN", "inf", "-0", "-1", "+1", ".5", "0.0001", "1.001",
		"1.5", "2", "01", "0,5", "0.5 ", " 0.5", "1e0", "0x1", "0.5a", "",
	};
	int q;
	(void)s;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		q = -1;
		if (sip_qvalue_decode((struct sip_str){ ok[i].in, strlen(ok[i].in) }, &q))
			fail_msg("refused '%s'", ok[i].in);
		assert_int_equal(q, ok[i].q);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q = -7;
		if (sip_qvalue_decode((struct sip_str){ bad[i], strlen(bad[i]) }, &q) != -EBADMSG)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(q, -7); /* untouched on failure */
	}
	assert_int_equal(sip_qvalue_decode(SIP_STR_NULL, &q), -EBADMSG);
}

/* ------------------------------------------------------------ Via */

static void t_via(void **s)
{
	struct sip_via v;
	(void)s;
	assert_int_equal(sip_via_decode(
		S("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport;received=10.0.0.1"), &v), 0);
	STR_EQ(v.proto_name, "SIP");
	STR_EQ(v.proto_version, "2.0");
	STR_EQ(v.transport, "UDP");
	STR_EQ(v.host, "192.0.2.1");
	assert_int_equal(v.port, 5060);
	STR_EQ(v.branch, "z9hG4bK776");
	STR_EQ(v.received, "10.0.0.1");
	assert_true(v.rport_present);
	assert_int_equal(v.rport, 0);
	assert_int_equal(v.ttl, -1);

	assert_int_equal(sip_via_decode(
		S("SIP/2.0/TLS [2001:db8::9]:5061 ; rport=40000 ;branch=z9hG4bKx;ttl=16;maddr=224.2.0.1;received=[2001:db8::1]"), &v), 0);
	assert_true(v.host_is_ipv6);
	STR_EQ(v.host, "2001:db8::9");
	assert_int_equal(v.port, 5061);
	assert_int_equal(v.rport, 40000);
	assert_int_equal(v.ttl, 16);
	STR_EQ(v.maddr, "224.2.0.1");
	STR_EQ(v.received, "[2001:db8::1]");

	assert_int_equal(sip_via_decode(S("SIP/2.0/TCP h : 5070"), &v), 0);
	assert_int_equal(v.port, 5070);
	assert_false(sip_str_present(v.branch));

	static const char *const bad[] = {
		"SIP/2.0/UDP", "SIP/2.0 UDP h", "SIP/2.0/UDPh", "SIP/2.0/UDP h;",
		"SIP/2.0/UDP h;;branch=1", "SIP/2.0/UDP h:99999", "SIP/2.0/UDP h;rport=x",
		"SIP/2.0/UDP h;branch=a;branch=b", "SIP/2.0/UDP h;branch=",
		"SIP/2.0/UDP [::1", "SIP/2.0/UDP h x", "/2.0/UDP h", "SIP/2.0/UDP h;ttl=256",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sip_via_decode((struct sip_str){ bad[i], strlen(bad[i]) }, &v) != -EBADMSG)
			fail_msg("accepted '%s'", bad[i]);
}

static void t_cseq_date_uint(void **s)
{
	struct sip_cseq c;
	int64_t t;
	uint64_t u;
	(void)s;
	assert_int_equal(sip_cseq_decode(S(" 4711  REGISTER "), &c), 0);
	assert_int_equal(c.num, 4711);
	assert_int_equal(c.method_id, SIP_METHOD_REGISTER);
	assert_int_equal(sip_cseq_decode(S("4294967295 INVITE"), &c), 0);
	assert_int_equal(sip_cseq_decode(S("4294967296 INVITE"), &c), -EBADMSG);
	assert_int_equal(sip_cseq_decode(S("1INVITE"), &c), -EBADMSG);
	assert_int_equal(sip_cseq_decode(S("INVITE"), &c), -EBADMSG);
	assert_int_equal(sip_cseq_decode(S("1 INVITE x"), &c), -EBADMSG);

	assert_int_equal(sip_date_decode(S("Sat, 13 Nov 2010 23:29:00 GMT"), &t), 0);
	assert_int_equal(t, 1289690940);
	assert_int_equal(sip_date_decode(S("Thu, 01 Jan 1970 00:00:00 GMT"), &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(sip_date_decode(S("Sat, 13 Nov 2010 23:29:00 EST"), &t), -EBADMSG);
	assert_int_equal(sip_date_decode(S("Sat, 13 Foo 2010 23:29:00 GMT"), &t), -EBADMSG);
	assert_int_equal(sip_date_decode(S("13 Nov 2010 23:29:00 GMT"), &t), -EBADMSG);

	assert_int_equal(sip_uint_decode(S(" 0068 "), 255, &u), 0);
	assert_int_equal(u, 68);
	assert_int_equal(sip_uint_decode(S("256"), 255, &u), -ERANGE);
	assert_int_equal(sip_uint_decode(S("99999999999999999999999"), UINT64_MAX, &u), -ERANGE);
	assert_int_equal(sip_uint_decode(S("-1"), 255, &u), -EBADMSG);
	assert_int_equal(sip_uint_decode(S("1 2"), 255, &u), -EBADMSG);
	assert_int_equal(sip_uint_decode(S(""), 255, &u), -EBADMSG);
}

/* ------------------------------------------------------------ messages */

#define REG_HEAD \
	"REGISTER sip:dataline.local SIP/2.0\r\n" \
	"v: SIP/2.0/UDP 192.0.2.7:5062;rport;branch=z9hG4bK1, SIP/2.0/UDP [2001:db8::2];branch=z9hG4bK0\r\n" \
	"Max-Forwards: 70\r\n" \
	"f: \"Zhang\" <sip:+8613800138000@dataline.local>;tag=a1\r\n" \
	"t: <sip:+8613800138000@dataline.local>\r\n" \
	"i: abc@192.0.2.7\r\n" \
	"CSeq: 2 REGISTER\r\n" \
	"m: <sip:+8613800138000@192.0.2.7:5062>;expires=300,\r\n" \
	"   <sip:+8613800138000@[2001:db8::2]>\r\n" \
	"Expires: 600\r\n" \
	"k: path, outbound\r\n" \
	"X-Custom: one\r\n" \
	"x-custom: two\r\n"

static void t_register(void **s)
{
	static const char msg[] = REG_HEAD "l: 4\r\n\r\nbodyEXTRA";
	struct sip_msg m;
	struct sip_list_iter it;
	struct sip_str v;
	struct sip_contact c;
	struct sip_via via;
	(void)s;
	assert_int_equal(sip_msg_parse(msg, sizeof(msg) - 1, SIP_PARSE_DGRAM, &m, NULL), 0);
	assert_true(m.is_request);
	assert_int_equal(m.method_id, SIP_METHOD_REGISTER);
	STR_EQ(m.ruri.host, "dataline.local");
	assert_int_equal(m.nvia, 2);
	assert_true(m.via.rport_present);
	assert_int_equal(m.via.port, 5062);
	STR_EQ(m.from.display, "\"Zhang\"");
	STR_EQ(m.from.tag, "a1");
	assert_false(sip_str_present(m.to.tag));
	STR_EQ(m.to.uri.user, "+8613800138000");
	STR_EQ(m.call_id, "abc@192.0.2.7");
	assert_int_equal(m.cseq.num, 2);
	assert_int_equal(m.expires, 600);
	assert_int_equal(m.max_forwards, 70);
	assert_int_equal(m.content_length, 4);
	STR_EQ(m.body, "body");	/* bytes past Content-Length ignored */
	assert_int_equal(m.len, sizeof(msg) - 1 - 5);

	sip_list_init(&it, &m, SIP_HDR_CONTACT);
	assert_int_equal(sip_list_next(&it, &v), 0);
	assert_int_equal(sip_contact_decode(v, &c), 0);
	assert_int_equal(c.expires, 300);
	assert_int_equal(sip_list_next(&it, &v), 0);
	assert_int_equal(sip_contact_decode(v, &c), 0);
	assert_true(c.addr.uri.host_is_ipv6);
	assert_int_equal(sip_list_next(&it, &v), -ENOENT);

	sip_list_init(&it, &m, SIP_HDR_VIA);
	sip_list_next(&it, &v);
	sip_list_next(&it, &v);
	assert_int_equal(sip_via_decode(v, &via), 0);
	STR_EQ(via.host, "2001:db8::2");

	assert_int_equal(sip_msg_hdr_count(&m, SIP_HDR_SUPPORTED), 1);
	STR_EQ(sip_msg_hdr_byname(&m, "Supported")->value, "path, outbound");
	STR_EQ(sip_msg_hdr_byname(&m, "x-CUSTOM")->value, "one");
	assert_null(sip_msg_hdr_byname(&m, "X-Missing"));
	assert_null(sip_msg_hdr(&m, SIP_HDR_ROUTE));
}

/* One mutation of a good message per line: each must be rejected. */
static void t_bad_messages(void **s)
{
	static const struct { const char *msg; int rc; const char *why; } bad[] = {
		{ "REGISTER sip:d SIP/2.0\r\n", -EBADMSG, "truncated head" },
		{ "REGISTER sip:d SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n", -EBADMSG, "no colon" },
		{ "REGISTER sip:d SIP/2.0\r\n Via: x\r\n\r\n", -EBADMSG, "fold first" },
		{ "REGISTER sip:d SIP/2.0\r\nV(a: x\r\n\r\n", -EBADMSG, "bad name" },
		{ "REGISTER sip:d\r\n\r\n", -EBADMSG, "no version" },
		{ "REGISTER sip:d SIP/2.0 \r\n\r\n", -EBADMSG, "trailing SP" },
		{ "REGISTER  sip:d SIP/2.0\r\n\r\n", -EBADMSG, "double SP" },
		{ "REGISTER sip:d HTTP/1.1\r\n\r\n", -EBADMSG, "not SIP" },
		{ "REGISTER sip:d SIP/3.0\r\n\r\n", -EPROTONOSUPPORT, "version" },
		{ "SIP/2.0 99 Low\r\n\r\n", -EBADMSG, "code < 100" },
		{ "SIP/2.0 700 High\r\n\r\n", -EBADMSG, "code > 699" },
		{ "SIP/2.0 2000 OK\r\n\r\n", -EBADMSG, "4 digits" },
		{ "SIP/2.0 200\r\n\r\n", -EBADMSG, "no SP after code" },
		{ "SIP/1.0 200 OK\r\n\r\n", -EPROTONOSUPPORT, "response version" },
		{ "", -EBADMSG, "empty" },
		{ "\r\n\r\n", -EBADMSG, "only CRLF" },
	};
	(void)s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sip_msg m;
		int rc = sip_msg_parse(bad[i].msg, strlen(bad[i].msg), 0, &m, NULL);
		if (rc != bad[i].rc)
			fail_msg("%s: rc %d want %d", bad[i].why, rc, bad[i].rc);
	}
}

/* Headers replaced in a good REGISTER, each one making it invalid. */
static void t_bad_headers(void **s)
{
	static const char *const lines[] = {
		"Max-Forwards: 256\r\n", "Max-Forwards: x\r\n",
		"Expires: 4294967296\r\n", "Expires: -5\r\n",
		"Content-Length: 1\r\nContent-Length: 1\r\n", "l: 99999999999\r\n",
		"i: second@call\r\n", "CSeq: 3 REGISTER\r\n", "t: <sip:x@y>\r\n",
		"Contact: *, <sip:a@b>\r\n", "Contact: <sip:a@b>,\r\n", "Contact:\r\n",
		"Contact: <sip:a@b>,,<sip:c@d>\r\n", "Via: \r\n",
		"Date: Sat, 13 Nov 2010 23:29:00 PST\r\n",
		/* malformed lines: skipped, remembered, still answerable */
		"Bad Header: x\r\n", "NoColon\r\n", ": novalue\r\n",
	};
	(void)s;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char msg[1024];
		struct sip_msg m;
		struct sip_parse_error e;
		int n = snprintf(msg, sizeof(msg), "%s%s\r\n", REG_HEAD, lines[i]);
		int rc = sip_msg_parse(msg, (size_t)n, 0, &m, &e);
		if (rc != -EBADMSG)
			fail_msg("accepted with '%s'", lines[i]);
		assert_int_equal(e.status, 400);
		assert_true(e.can_reply);
	}
	/* a bad Call-ID too */
	{
		static const char msg[] = "OPTIONS sip:d SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
			"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: a b\r\n"
			"CSeq: 1 OPTIONS\r\n\r\n";
		struct sip_msg m;
		assert_int_equal(sip_msg_parse(msg, sizeof(msg) - 1, 0, &m, NULL), -EBADMSG);
	}
}

static void t_missing_and_limits(void **s)
{
	char msg[8192];
	struct sip_msg m;
	struct sip_parse_error e;
	int n;
	(void)s;
	/* SIP_MAX_HEADERS lines are fine, one more is -E2BIG (413) */
	n = snprintf(msg, sizeof(msg), "%s", REG_HEAD);
	for (int i = 11; i < SIP_MAX_HEADERS; i++)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "X-H%d: v\r\n", i);
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "\r\n");
	assert_int_equal(sip_msg_parse(msg, (size_t)n, 0, &m, NULL), 0);
	assert_int_equal(m.nhdrs, SIP_MAX_HEADERS);
	memcpy(msg + n - 2, "X-Last: v\r\n\r\n", 13);
	n += 11;
	m.call_id = SIP_STR_LIT("sentinel");
	assert_int_equal(sip_msg_parse(msg, (size_t)n, 0, &m, &e), -E2BIG);
	assert_int_equal(e.status, 413);
	/* nothing was written past hdrs[] (call_id follows it) */
	assert_null(m.call_id.p);
	/* ... and the 413 can be answered: Via/From/To/Call-ID/CSeq are
	 * among the lines indexed (docs/protocol.md promises the 413) */
	assert_true(e.can_reply);
	{
		char out[2048];
		struct sip_buf b;
		size_t len;
		sip_buf_init(&b, out, sizeof(out));
		sip_resp_begin(&b, &m, 413, NULL, "t1", NULL);
		assert_int_equal(sip_msg_end(&b, NULL, NULL, 0, &len), 0);
		assert_non_null(strstr(out, "\r\nCSeq: 2 REGISTER\r\n"));
		assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP 192.0.2.7:5062;rport;branch=z9hG4bK1"));
		assert_non_null(strstr(out, "\r\nCall-ID: abc@192.0.2.7\r\n"));
	}
	/* 81 lines before the CSeq: nothing to answer with, dropped */
	n = snprintf(msg, sizeof(msg), "REGISTER sip:d SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
		     "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\n");
	for (int i = 4; i <= SIP_MAX_HEADERS; i++)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "X-H%d: v\r\n", i);
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "CSeq: 1 REGISTER\r\n\r\n");
	assert_int_equal(sip_msg_parse(msg, (size_t)n, 0, &m, &e), -E2BIG);
	assert_int_equal(e.status, 413);
	assert_false(e.can_reply);

	/* a stream message needs Content-Length; a datagram does not */
	n = snprintf(msg, sizeof(msg), "%s\r\n", REG_HEAD);
	assert_int_equal(sip_msg_parse(msg, (size_t)n, SIP_PARSE_DGRAM, &m, NULL), 0);
	assert_int_equal(m.body.len, 0);
	assert_int_equal(sip_msg_parse(msg, (size_t)n, SIP_PARSE_STREAM, &m, &e), -EBADMSG);
	assert_string_equal(e.reason, "Missing Content-Length");
	/* body shorter than Content-Length */
	n = snprintf(msg, sizeof(msg), "%sl: 10\r\n\r\nshort", REG_HEAD);
	assert_int_equal(sip_msg_parse(msg, (size_t)n, SIP_PARSE_DGRAM, &m, NULL), -EBADMSG);
	/* leading CRLFs are skipped (RFC 3261 s.7.5); bare LF lines work */
	n = snprintf(msg, sizeof(msg), "\r\n\r\nOPTIONS sip:d SIP/2.0\nVia: SIP/2.0/UDP h\n"
		     "From: <sip:a@b>;tag=1\nTo: <sip:a@b>\nCall-ID: c1\nCSeq: 1 OPTIONS\n"
		     "Content-Length: 0\n\n");
	assert_int_equal(sip_msg_parse(msg, (size_t)n, 0, &m, NULL), 0);
	assert_ptr_equal(m.buf, msg + 4);
	assert_int_equal(m.method_id, SIP_METHOD_OPTIONS);
	/* missing mandatory headers, each */
	static const char *const hdrs[] = { "Via: SIP/2.0/UDP h\r\n", "From: <sip:a@b>;tag=1\r\n",
		"To: <sip:a@b>\r\n", "Call-ID: c1\r\n", "CSeq: 1 OPTIONS\r\n" };
	for (int skip = 0; skip < 5; skip++) {
		n = snprintf(msg, sizeof(msg), "OPTIONS sip:d SIP/2.0\r\n");
		for (int i = 0; i < 5; i++)
			if (i != skip)
				n += snprintf(msg + n, sizeof(msg) - (size_t)n, "%s", hdrs[i]);
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "\r\n");
		assert_int_equal(sip_msg_parse(msg, (size_t)n, 0, &m, &e), -EBADMSG);
		assert_false(e.can_reply);
	}
}

/* ------------------------------------------------------------ framing */

static void t_frame(void **s)
{
	static const char two[] =
		"OPTIONS sip:d SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:a@b>;tag=1\r\n"
		"To: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nl: 5\r\n\r\nhello"
		"\r\n\r\n"
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:a@b>;tag=1\r\n"
		"To: <sip:a@b>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n"
		"Content-Length:\r\n 0\r\n\r\n";
	struct sip_frame f;
	struct sip_msg m;
	size_t first, off;
	(void)s;
	assert_int_equal(sip_frame(two, sizeof(two) - 1, 65535, &f), 0);
	assert_int_equal(f.kind, SIP_FRAME_MSG);
	first = f.len;
	assert_memory_equal(two + first - 5, "hello", 5);
	assert_int_equal(sip_msg_parse(two, first, SIP_PARSE_STREAM, &m, NULL), 0);
	STR_EQ(m.body, "hello");
	/* every shorter prefix needs more bytes */
	for (size_t n = 1; n < first; n++)
		assert_int_equal(sip_frame(two, n, 65535, &f), -EAGAIN);
	off = first;
	assert_int_equal(sip_frame(two + off, sizeof(two) - 1 - off, 65535, &f), 0);
	assert_int_equal(f.kind, SIP_FRAME_PING);
	assert_int_equal(f.len, 4);
	off += 4;
	assert_int_equal(sip_frame(two + off, sizeof(two) - 1 - off, 65535, &f), 0);
	assert_int_equal(f.kind, SIP_FRAME_MSG);
	assert_int_equal(off + f.len, sizeof(two) - 1);	/* folded CL */
	assert_int_equal(sip_msg_parse(two + off, f.len, SIP_PARSE_STREAM, &m, NULL), 0);
	assert_int_equal(m.status, 200);

	assert_int_equal(sip_frame("\r\n", 2, 100, &f), 0);
	assert_int_equal(f.kind, SIP_FRAME_CRLF);
	assert_int_equal(sip_frame("\r\nO", 3, 100, &f), 0);
	assert_int_equal(f.kind, SIP_FRAME_CRLF);
	assert_int_equal(sip_frame("\r\n\r", 3, 100, &f), -EAGAIN);
	assert_int_equal(sip_frame("\r", 1, 100, &f), -EAGAIN);
	assert_int_equal(sip_frame("\rX", 2, 100, &f), -EBADMSG);
	/* limits and missing / bad Content-Length */
	assert_int_equal(sip_frame(two, sizeof(two) - 1, 100, &f), -EMSGSIZE);
	assert_int_equal(sip_frame(two, first, first - 1, &f), -EMSGSIZE);
	assert_int_equal(sip_frame("OPTIONS sip:d SIP/2.0\r\nVia: x\r\n\r\n", 33, 100, &f),
			 -EBADMSG);
	assert_int_equal(sip_frame("OPTIONS sip:d SIP/2.0\r\nl: -1\r\n\r\n", 32, 100, &f),
			 -EBADMSG);
	assert_int_equal(sip_frame("OPTIONS sip:d SIP/2.0\r\nl: 1\r\nl: 1\r\n\r\n", 37, 100, &f),
			 -EBADMSG);
	{
		char big[200];
		memset(big, 'a', sizeof(big));
		assert_int_equal(sip_frame(big, sizeof(big), 100, &f), -EMSGSIZE);
		assert_int_equal(sip_frame(big, 50, 100, &f), -EAGAIN);
	}
}

static void t_lookup_tables(void **s)
{
	(void)s;
	assert_int_equal(sip_hdr_lookup("v", 1), SIP_HDR_VIA);
	assert_int_equal(sip_hdr_lookup("M", 1), SIP_HDR_CONTACT);
	assert_int_equal(sip_hdr_lookup("www-authenticate", 16), SIP_HDR_WWW_AUTHENTICATE);
	assert_int_equal(sip_hdr_lookup("CALL-ID", 7), SIP_HDR_CALL_ID);
	assert_int_equal(sip_hdr_lookup("Call-IDs", 8), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("q", 1), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("1", 1), SIP_HDR_OTHER);
	for (int id = 1; id < SIP_HDR__COUNT; id++) {
		const char *n = sip_hdr_name(id);
		assert_non_null(n);
		assert_int_equal(sip_hdr_lookup(n, strlen(n)), id);
	}
	for (int m = SIP_METHOD_INVITE; m <= SIP_METHOD_UPDATE; m++) {
		const char *n = sip_method_name(m);
		assert_int_equal(sip_method_lookup((struct sip_str){ n, strlen(n) }), m);
	}
	assert_int_equal(sip_method_lookup(S("invite")), SIP_METHOD_OTHER);
	assert_int_equal(sip_method_lookup(S("INVITEX")), SIP_METHOD_OTHER);
}

static void t_str_helpers(void **s)
{
	char out[16];
	size_t n;
	(void)s;
	assert_int_equal(sip_str_unquote(S("\"a\\\\b\\\"c\""), out, sizeof(out), &n), 0);
	assert_string_equal(out, "a\\b\"c");
	assert_int_equal(sip_str_unquote(S("\"abc"), out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(sip_str_unquote(S("\"a\\\""), out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(sip_str_unquote(S("\"0123456789abcdefg\""), out, sizeof(out), &n),
			 -ENOSPC);
	assert_int_equal(sip_str_unescape(S("a%20b%2"), out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(sip_str_unescape(S("a%20b"), out, sizeof(out), &n), 0);
	assert_string_equal(out, "a b");
	assert_int_equal(sip_str_copy(S("hello"), out, 5), -ENOSPC);
	assert_int_equal(sip_str_copy(S("hello"), out, 6), 0);
	assert_true(sip_str_caseeq(S("HeLLo"), "hello"));
	assert_false(sip_str_eq(S("HeLLo"), "hello"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_uri),	cmocka_unit_test(t_uri_other_schemes),
		cmocka_unit_test(t_uri_eq_and_params),
		cmocka_unit_test(t_nameaddr),	cmocka_unit_test(t_contact),
		cmocka_unit_test(t_qvalue),
		cmocka_unit_test(t_via),	cmocka_unit_test(t_cseq_date_uint),
		cmocka_unit_test(t_register),	cmocka_unit_test(t_bad_messages),
		cmocka_unit_test(t_bad_headers), cmocka_unit_test(t_missing_and_limits),
		cmocka_unit_test(t_frame),	cmocka_unit_test(t_lookup_tables),
		cmocka_unit_test(t_str_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
