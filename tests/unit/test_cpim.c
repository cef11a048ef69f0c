/*
 * test_cpim: message/cpim (RFC 3862) with the IMDN headers (RFC 5438
 * s.5): the RFC 3862 s.6 example, the RFC 5438 s.7.1.1 style request for
 * notifications, namespace resolution independent of the prefix,
 * lookups, build -> parse round trips, -ENOSPC at every short size, and
 * malformed bodies (bare CR/LF, missing empty lines, bad lengths, limits).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/cpim.h"

#define STR_EQ(s, lit) do { if (!sip_str_eq((s), (lit))) \
	fail_msg("got '%.*s', want '%s'", (int)(s).len, (s).p ? (s).p : "", (lit)); } while (0)

static int parse(const char *s, struct cpim_msg *m)
{
	return cpim_parse(s, strlen(s), m);
}

/* RFC 3862 s.6 (the message/cpim body, without the outer MIME header) */
static const char rfc3862_ex[] =
	"From: MR SANDERS <im:piglet@100akerwood.com>\r\n"
	"To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n"
	"DateTime: 2000-12-13T13:40:00-08:00\r\n"
	"Subject: the weather will be fine today\r\n"
	"Subject:;lang=fr beau temps prevu pour aujourd'hui\r\n"
	"NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
	"Require: MyFeatures.VitalMessageOption\r\n"
	"MyFeatures.VitalMessageOption: Confirmation-requested\r\n"
	"MyFeatures.WackyMessageOption: Use-silly-font\r\n"
	"\r\n"
	"Content-type: text/xml; charset=utf-8\r\n"
	"Content-ID: <1234567890@foo.com>\r\n"
	"\r\n"
	"<body>\r\n"
	"Here is the text of my message.\r\n"
	"</body>\r\n";

static void t_rfc3862_example(void **s)
{
	struct cpim_msg m;
	const struct cpim_hdr *h;
	(void)s;
	assert_int_equal(parse(rfc3862_ex, &m), 0);
	assert_int_equal(m.nhdrs, 9);
	assert_int_equal(m.nmime, 2);
	STR_EQ(m.from, "MR SANDERS <im:piglet@100akerwood.com>");
	STR_EQ(m.to, "Depressed Donkey <im:eeyore@100akerwood.com>");
	STR_EQ(m.datetime, "2000-12-13T13:40:00-08:00");
	STR_EQ(m.subject, "the weather will be fine today");
	STR_EQ(m.content_type, "text/xml; charset=utf-8");
	assert_false(m.has_content_length);
	STR_EQ(m.body, "<body>\r\nHere is the text of my message.\r\n</body>\r\n");
	assert_false(sip_str_present(m.imdn_message_id));

	/* the second Subject, with its language parameter */
	h = cpim_hdr_find(&m, NULL, NULL, "Subject");
	assert_non_null(h);
	h = cpim_hdr_find(&m, h, NULL, "subject");
	assert_non_null(h);
	STR_EQ(h->params, "lang=fr");
	STR_EQ(h->value, "beau temps prevu pour aujourd'hui");
	assert_null(cpim_hdr_find(&m, h, NULL, "Subject"));

	/* namespaced headers are found by URI, not by prefix */
	h = cpim_hdr_find(&m, NULL, "mid:MessageFeatures@id.foo.com",
			  "VitalMessageOption");
	assert_non_null(h);
	STR_EQ(h->prefix, "MyFeatures");
	STR_EQ(h->value, "Confirmation-requested");
	assert_null(cpim_hdr_find(&m, NULL, NULL, "VitalMessageOption"));
	h = cpim_hdr_find(&m, NULL, NULL, "Require");
	STR_EQ(h->value, "MyFeatures.VitalMessageOption");
}

/* RFC 5438 s.7.1.1: an IM asking for delivery and display notifications */
static const char rfc5438_ex[] =
	"From: Alice <im:alice@example.com>\r\n"
	"To: Bob <im:bob@example.com>\r\n"
	"NS: imdn <urn:ietf:params:imdn>\r\n"
	"imdn.Message-ID: 34jk324j\r\n"
	"DateTime: 2006-04-04T12:16:49-05:00\r\n"
	"imdn.Disposition-Notification: positive-delivery, display\r\n"
	"\r\n"
	"Content-type: text/plain\r\n"
	"Content-length: 12\r\n"
	"\r\n"
	"Hello World!";

static void t_rfc5438_example(void **s)
{
	struct cpim_msg m;
	(void)s;
	assert_int_equal(parse(rfc5438_ex, &m), 0);
	STR_EQ(m.imdn_message_id, "34jk324j");
	STR_EQ(m.imdn_disposition, "positive-delivery, display");
	STR_EQ(m.datetime, "2006-04-04T12:16:49-05:00");
	assert_true(m.has_content_length);
	assert_int_equal(m.content_length, 12);
	STR_EQ(m.body, "Hello World!");
	STR_EQ(cpim_hdr_find(&m, NULL, CPIM_NS_IMDN, "Message-ID")->value,
	       "34jk324j");
}

static void t_namespaces(void **s)
{
	struct cpim_msg m;
	(void)s;
	/* any prefix works; the default namespace can be moved */
	assert_int_equal(parse("NS: n <urn:ietf:params:imdn>\r\n"
			       "n.Message-ID: x1\r\n"
			       "NS: <urn:example:other>\r\n"
			       "Message-ID: not-imdn\r\n"
			       "From: <im:a@b>\r\n"
			       "\r\nContent-Type: text/plain\r\n\r\nhi", &m), 0);
	STR_EQ(m.imdn_message_id, "x1");
	assert_false(sip_str_present(m.from));	/* From is in urn:example:other */
	assert_non_null(cpim_hdr_find(&m, NULL, "urn:example:other", "From"));
	/* a re-declared prefix: the latest wins for the headers after it */
	assert_int_equal(parse("NS: p <urn:a>\r\np.X: 1\r\nNS: p <urn:b>\r\n"
			       "p.X: 2\r\n\r\nContent-Type: t/p\r\n\r\n", &m), 0);
	STR_EQ(cpim_hdr_find(&m, NULL, "urn:a", "X")->value, "1");
	STR_EQ(cpim_hdr_find(&m, NULL, "urn:b", "X")->value, "2");
	/* imdn headers from the wrong namespace are not IMDN */
	assert_int_equal(parse("NS: imdn <urn:ietf:params:not-imdn>\r\n"
			       "imdn.Message-ID: x\r\n\r\n"
			       "Content-Type: t/p\r\n\r\n", &m), 0);
	assert_false(sip_str_present(m.imdn_message_id));
	/* folded MIME header value */
	assert_int_equal(parse("From: <im:a@b>\r\n\r\nContent-Type: text/plain;\r\n"
			       " charset=utf-8\r\n\r\nx", &m), 0);
	STR_EQ(m.content_type, "text/plain;\r\n charset=utf-8");
	/* empty content with Content-Length: 0, trailing bytes ignored */
	assert_int_equal(parse("From: <im:a@b>\r\n\r\nContent-Type: t/p\r\n"
			       "Content-Length: 0\r\n\r\nextra", &m), 0);
	assert_int_equal(m.body.len, 0);
}

static const struct { const char *in; int rc; const char *why; } bad[] = {
	{ "From: a\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "bare LF" },
	{ "From: a\r\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "bare CR" },
	{ "From: a\r\n\r\nContent-Type: t/p\n\nbody", -EBADMSG, "LF-only MIME" },
	{ "From: a\r\nContent-Type: t/p\r\n\r\nbody", -EBADMSG, "no first empty line" },
	{ "From: a\r\n\r\nContent-Type: t/p\r\nbody", -EBADMSG, "no second empty line" },
	{ "From: a\r\n\r\nContent-Type: t/p\r\n", -EBADMSG, "truncated MIME" },
	{ "From: a\r\n", -EBADMSG, "truncated CPIM" },
	{ "", -EBADMSG, "empty" },
	{ "From: a\r\n\r\n\r\nbody", -EBADMSG, "no Content-Type" },
	{ "From: a\r\n\r\nContent-Type: \r\n\r\n", -EBADMSG, "empty Content-Type" },
	{ "From: a\r\n\r\nContent-Type: t/p\r\nContent-Length: 5\r\n\r\nabc", -EBADMSG, "short body" },
	{ "From: a\r\n\r\nContent-Type: t/p\r\nContent-Length: x\r\n\r\nabc", -EBADMSG, "CL not a number" },
	{ "From: a\r\n\r\nContent-Type: t/p\r\nContent-Length: -1\r\n\r\nabc", -EBADMSG, "CL negative" },
	{ "From: a\r\n\r\nContent-Type: t/p\r\nContent-Length: 99999999999999999999\r\n\r\n", -EBADMSG, "CL huge" },
	{ "From: a\r\n\r\nContent-Type: t/p\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", -EBADMSG, "CL twice" },
	{ "From: a\r\n\r\nContent-Type: t/p\r\nContent-Type: t/p\r\n\r\na", -EBADMSG, "CT twice" },
	{ "From: a\r\nFrom: b\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "From twice" },
	{ "DateTime: 1\r\nDateTime: 2\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "DateTime twice" },
	{ "x.Message-ID: 1\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "undeclared prefix" },
	{ "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 1\r\nimdn.Message-ID: 2\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "Message-ID twice" },
	{ "NS: imdn urn:ietf:params:imdn\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "NS without <>" },
	{ "NS: imdn <>\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "NS empty URI" },
	{ "From: a\r\n folded\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "folded CPIM header" },
	{ "From a\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "no colon" },
	{ ": a\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "empty name" },
	{ "imdn.: a\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "empty name after prefix" },
	{ "Subject:; x\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "empty params" },
	{ "From: a\x01\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "control char" },
	{ " x: a\r\n\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "leading space" },
	{ "From: a\r\n\r\n continued\r\nContent-Type: t/p\r\n\r\n", -EBADMSG, "fold without header" },
};

static void t_malformed(void **s)
{
	struct cpim_msg m;
	(void)s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].in, &m);
		if (rc != bad[i].rc)
			fail_msg("%s: rc %d, want %d", bad[i].why, rc, bad[i].rc);
	}
	/* a NUL inside is a control character, not the end */
	assert_int_equal(cpim_parse("From: a\0b\r\n\r\nContent-Type: t/p\r\n\r\n",
				    35, &m), -EBADMSG);
	/* every truncation of a good message is refused or shorter */
	for (size_t n = 0; n < strlen(rfc5438_ex); n++)
		assert_int_not_equal(cpim_parse(rfc5438_ex, n, &m), 0);
	assert_int_equal(cpim_parse(NULL, 0, &m), -EINVAL);
}

static void t_limits(void **s)
{
	char buf[4096];
	struct cpim_msg m;
	size_t n = 0;
	(void)s;
	for (int i = 0; i < CPIM_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
	snprintf(buf + n, sizeof(buf) - n, "\r\nContent-Type: t/p\r\n\r\n");
	assert_int_equal(parse(buf, &m), 0);
	assert_int_equal(m.nhdrs, CPIM_MAX_HEADERS);
	snprintf(buf + n, sizeof(buf) - n, "One: more\r\n\r\nContent-Type: t/p\r\n\r\n");
	assert_int_equal(parse(buf, &m), -E2BIG);

	n = 0;
	for (int i = 0; i <= CPIM_MAX_NS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "NS: p%d <urn:x:%d>\r\n", i, i);
	snprintf(buf + n, sizeof(buf) - n, "\r\nContent-Type: t/p\r\n\r\n");
	assert_int_equal(parse(buf, &m), -E2BIG);

	n = snprintf(buf, sizeof(buf), "From: a\r\n\r\n");
	for (int i = 0; i <= CPIM_MAX_MIME_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Content-Type: t/p\r\n");
	snprintf(buf + n, sizeof(buf) - n, "\r\n");
	assert_int_equal(parse(buf, &m), -E2BIG);
}

static void t_build(void **s)
{
	struct cpim_params p = {
		.from = "<sip:+8613800138000@dataline.local>",
		.to = "<sip:+8613900139000@dataline.local>",
		.datetime = "2026-12-05T12:00:00Z",
		.message_id = "a1b2c3",
		.disposition = "positive-delivery, negative-delivery, display",
		.content_type = "text/plain;charset=UTF-8",
		.body = "hello\r\nworld", .body_len = 12,
	};
	char out[1024];
	struct cpim_msg m;
	size_t n, n2;
	(void)s;

	assert_int_equal(cpim_build(&p, out, sizeof(out), &n), 0);
	assert_int_equal(cpim_parse(out, n, &m), 0);
	STR_EQ(m.from, p.from);
	STR_EQ(m.to, p.to);
	STR_EQ(m.datetime, p.datetime);
	STR_EQ(m.imdn_message_id, p.message_id);
	STR_EQ(m.imdn_disposition, p.disposition);
	STR_EQ(m.content_type, p.content_type);
	assert_int_equal(m.content_length, 12);
	STR_EQ(m.body, "hello\r\nworld");
	/* exactly n bytes fit; anything less does not */
	assert_int_equal(cpim_build(&p, out, n, &n2), 0);
	assert_int_equal(n2, n);
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(cpim_build(&p, out, cap, &n2), -ENOSPC);

	/* without IMDN there is no NS declaration */
	p.message_id = NULL, p.disposition = NULL, p.datetime = NULL;
	assert_int_equal(cpim_build(&p, out, sizeof(out), &n), 0);
	assert_null(memmem(out, n, "NS:", 3));
	assert_int_equal(cpim_parse(out, n, &m), 0);
	assert_int_equal(m.nhdrs, 2);

	/* header injection and missing values are refused */
	p.to = "<sip:b@x>\r\nFrom: evil";
	assert_int_equal(cpim_build(&p, out, sizeof(out), &n), -EINVAL);
	p.to = "<sip:b@x>";
	p.disposition = "display";	/* without a Message-ID */
	assert_int_equal(cpim_build(&p, out, sizeof(out), &n), -EINVAL);
	p.disposition = NULL;
	p.content_type = NULL;
	assert_int_equal(cpim_build(&p, out, sizeof(out), &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rfc3862_example),
		cmocka_unit_test(t_rfc5438_example),
		cmocka_unit_test(t_namespaces),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
