/*
 * test_imdn: message/imdn+xml (RFC 5438): the s.7.2.1.1/7.2.1.2 style
 * delivery and display notifications, every status with every kind,
 * extension elements ignored, build -> parse round trips with escaping,
 * -ENOSPC at every short size, the Disposition-Notification values, and
 * hostile documents (wrong namespace, DOCTYPE bombs, deep nesting,
 * duplicates, truncation).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/imdn.h"

#define STR_EQ(s, lit) do { if (!sip_str_eq((s), (lit))) \
	fail_msg("got '%.*s', want '%s'", (int)(s).len, (s).p ? (s).p : "", (lit)); } while (0)

static char scratch[4096];

static int parse(const char *doc, struct imdn *n)
{
	return imdn_parse(doc, strlen(doc), scratch, sizeof(scratch), n);
}

/* RFC 5438 s.7.2.1.1: a delivery notification */
static const char rfc5438_delivered[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\n"
	"  <message-id>34jk324j</message-id>\n"
	"  <datetime>2008-04-04T12:16:49-05:00</datetime>\n"
	"  <recipient-uri>im:bob@example.com</recipient-uri>\n"
	"  <original-recipient-uri\n"
	"     >im:bob@example.com</original-recipient-uri>\n"
	"  <delivery-notification>\n"
	"     <status>\n"
	"        <delivered/>\n"
	"     </status>\n"
	"  </delivery-notification>\n"
	"</imdn>\n";

/* RFC 5438 s.7.2.1.2: a display notification */
static const char rfc5438_displayed[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\n"
	"  <message-id>34jk324j</message-id>\n"
	"  <datetime>2008-04-04T12:16:49-05:00</datetime>\n"
	"  <recipient-uri>im:bob@example.com</recipient-uri>\n"
	"  <original-recipient-uri\n"
	"     >im:bob@example.com</original-recipient-uri>\n"
	"  <display-notification>\n"
	"     <status>\n"
	"        <displayed/>\n"
	"     </status>\n"
	"  </display-notification>\n"
	"</imdn>\n";

static void t_rfc_examples(void **s)
{
	struct imdn n;
	(void)s;
	assert_int_equal(parse(rfc5438_delivered, &n), 0);
	STR_EQ(n.message_id, "34jk324j");
	STR_EQ(n.datetime, "2008-04-04T12:16:49-05:00");
	STR_EQ(n.recipient_uri, "im:bob@example.com");
	STR_EQ(n.original_recipient_uri, "im:bob@example.com");
	assert_false(sip_str_present(n.subject));
	assert_int_equal(n.kind, IMDN_DELIVERY);
	assert_int_equal(n.status, IMDN_DELIVERED);

	assert_int_equal(parse(rfc5438_displayed, &n), 0);
	assert_int_equal(n.kind, IMDN_DISPLAY);
	assert_int_equal(n.status, IMDN_DISPLAYED);
}

#define DOC(body) "<imdn xmlns='urn:ietf:params:xml:ns:imdn'>" \
	"<message-id>m1</message-id><datetime>2026-12-05T12:00:00Z</datetime>" body "</imdn>"

static void t_statuses(void **s)
{
	static const struct { const char *doc; enum imdn_kind k; enum imdn_status st; } ok[] = {
		{ DOC("<delivery-notification><status><delivered/></status></delivery-notification>"), IMDN_DELIVERY, IMDN_DELIVERED },
		{ DOC("<delivery-notification><status><failed/></status></delivery-notification>"), IMDN_DELIVERY, IMDN_FAILED },
		{ DOC("<delivery-notification><status><forbidden/></status></delivery-notification>"), IMDN_DELIVERY, IMDN_FORBIDDEN },
		{ DOC("<delivery-notification><status><error/></status></delivery-notification>"), IMDN_DELIVERY, IMDN_ERROR },
		{ DOC("<display-notification><status><displayed/></status></display-notification>"), IMDN_DISPLAY, IMDN_DISPLAYED },
		{ DOC("<display-notification><status><forbidden/></status></display-notification>"), IMDN_DISPLAY, IMDN_FORBIDDEN },
		{ DOC("<display-notification><status><error/></status></display-notification>"), IMDN_DISPLAY, IMDN_ERROR },
		{ DOC("<processing-notification><status><processed/></status></processing-notification>"), IMDN_PROCESSING, IMDN_PROCESSED },
		{ DOC("<processing-notification><status><stored/></status></processing-notification>"), IMDN_PROCESSING, IMDN_STORED },
		{ DOC("<processing-notification><status><error/></status></processing-notification>"), IMDN_PROCESSING, IMDN_ERROR },
		/* extensions anywhere are ignored */
		{ DOC("<x:ext xmlns:x='urn:x'><x:deep><x:er/></x:deep></x:ext>"
		      "<delivery-notification><x:a xmlns:x='urn:x'/><status>"
		      "<x:reason xmlns:x='urn:x'>why</x:reason><delivered/></status>"
		      "</delivery-notification><future-element>z</future-element>"),
		  IMDN_DELIVERY, IMDN_DELIVERED },
	};
	struct imdn n;
	(void)s;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc = parse(ok[i].doc, &n);
		if (rc || n.kind != ok[i].k || n.status != ok[i].st)
			fail_msg("case %zu: rc %d kind %d status %d", i, rc, n.kind, n.status);
		STR_EQ(n.message_id, "m1");
	}
}

static const struct { const char *doc; int rc; const char *why; } bad[] = {
	{ DOC("<display-notification><status><delivered/></status></display-notification>"), -EBADMSG, "status/kind mismatch" },
	{ DOC("<delivery-notification><status><stored/></status></delivery-notification>"), -EBADMSG, "stored for delivery" },
	{ DOC("<delivery-notification><status></status></delivery-notification>"), -EBADMSG, "empty status" },
	{ DOC("<delivery-notification></delivery-notification>"), -EBADMSG, "no status" },
	{ DOC("<delivery-notification><status><delivered/><failed/></status></delivery-notification>"), -EBADMSG, "two statuses" },
	{ DOC("<delivery-notification><status><delivered/></status><status><delivered/></status></delivery-notification>"), -EBADMSG, "two status elements" },
	{ DOC("<delivery-notification><status><delivered/></status></delivery-notification>"
	      "<display-notification><status><displayed/></status></display-notification>"), -EBADMSG, "two notifications" },
	{ DOC(""), -EBADMSG, "no notification" },
	{ DOC("<message-id>m2</message-id><delivery-notification><status><delivered/></status></delivery-notification>"), -EBADMSG, "message-id twice" },
	{ DOC("<delivery-notification><status><x:delivered xmlns:x='urn:other'/></status></delivery-notification>"), -EBADMSG, "status in another namespace" },
	{ DOC("<delivery-notification><status><delivered/></status></delivery-notification>") "<x/>", -EBADMSG, "second root" },
	{ "<imdn xmlns='urn:ietf:params:xml:ns:imdn'><datetime>d</datetime><delivery-notification><status><delivered/></status></delivery-notification></imdn>", -EBADMSG, "no message-id" },
	{ "<imdn xmlns='urn:ietf:params:xml:ns:imdn'><message-id>m</message-id><delivery-notification><status><delivered/></status></delivery-notification></imdn>", -EBADMSG, "no datetime" },
	{ "<imdn xmlns='urn:ietf:params:xml:ns:imdn'><message-id> </message-id><datetime>d</datetime><delivery-notification><status><delivered/></status></delivery-notification></imdn>", -EBADMSG, "blank message-id" },
	{ "<imdn xmlns='urn:ietf:params:xml:ns:imdn'><message-id><b/></message-id></imdn>", -EBADMSG, "element in message-id" },
	{ "<imdn xmlns='urn:ietf:params:xml:ns:imdn-wrong'><message-id>m</message-id><datetime>d</datetime><delivery-notification><status><delivered/></status></delivery-notification></imdn>", -EBADMSG, "wrong namespace" },
	{ "<imdn><message-id>m</message-id><datetime>d</datetime><delivery-notification><status><delivered/></status></delivery-notification></imdn>", -EBADMSG, "no namespace" },
	{ "<presence xmlns='urn:ietf:params:xml:ns:imdn'/>", -EBADMSG, "wrong root" },
	{ "<!DOCTYPE imdn [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
	  "<imdn xmlns='urn:ietf:params:xml:ns:imdn'><message-id>&b;</message-id></imdn>", -ENOTSUP, "entity bomb" },
	{ "<!DOCTYPE imdn SYSTEM \"http://evil.example/x.dtd\"><imdn/>", -ENOTSUP, "external DTD" },
	{ DOC("<x><x><x><x><x><x><x><x><x><x><x><x><x><x><x><x><x><x></x></x></x></x></x></x></x></x></x></x></x></x></x></x></x></x></x></x>"), -E2BIG, "deep nesting" },
	{ "<imdn xmlns='urn:ietf:params:xml:ns:imdn'><message-id>&unknown;</message-id></imdn>", -EBADMSG, "unknown entity" },
	{ "", -EBADMSG, "empty" },
};

static void t_malformed(void **s)
{
	struct imdn n;
	(void)s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].doc, &n);
		if (rc != bad[i].rc)
			fail_msg("%s: rc %d, want %d", bad[i].why, rc, bad[i].rc);
	}
	for (size_t len = 0; len < strlen(rfc5438_delivered) - 1; len++)
		assert_int_not_equal(imdn_parse(rfc5438_delivered, len, scratch,
						 sizeof(scratch), &n), 0);
	/* scratch too small */
	assert_int_equal(imdn_parse(rfc5438_delivered, strlen(rfc5438_delivered),
				    scratch, 10, &n), -ENOSPC);
}

static void t_build(void **s)
{
	struct imdn n = {
		.message_id = SIP_STR_LIT("a<b>&c"),
		.datetime = SIP_STR_LIT("2026-12-05T12:00:00Z"),
		.recipient_uri = SIP_STR_LIT("sip:+8613900139000@dataline.local"),
		.subject = SIP_STR_LIT("it's \"quoted\""),
		.kind = IMDN_DELIVERY, .status = IMDN_FAILED,
	}, r;
	char out[1024];
	size_t len, l2;
	(void)s;

	assert_int_equal(imdn_build(&n, out, sizeof(out), &len), 0);
	assert_non_null(strstr(out, "<message-id>a&lt;b&gt;&amp;c</message-id>"));
	assert_int_equal(imdn_parse(out, len, scratch, sizeof(scratch), &r), 0);
	STR_EQ(r.message_id, "a<b>&c");
	STR_EQ(r.datetime, "2026-12-05T12:00:00Z");
	STR_EQ(r.recipient_uri, "sip:+8613900139000@dataline.local");
	STR_EQ(r.subject, "it's \"quoted\"");
	assert_false(sip_str_present(r.original_recipient_uri));
	assert_int_equal(r.kind, IMDN_DELIVERY);
	assert_int_equal(r.status, IMDN_FAILED);
	/* the document's own size is always enough scratch */
	assert_int_equal(imdn_parse(out, len, scratch, len, &r), 0);
	for (size_t cap = 0; cap < len; cap++)
		assert_int_equal(imdn_build(&n, out, cap, &l2), -ENOSPC);

	/* every allowed pair round-trips; the others are refused */
	for (int k = IMDN_DELIVERY; k <= IMDN_PROCESSING; k++)
		for (int st = IMDN_DELIVERED; st <= IMDN_STORED; st++) {
			n.kind = (enum imdn_kind)k;
			n.status = (enum imdn_status)st;
			if (!imdn_status_allowed(n.kind, n.status)) {
				assert_int_equal(imdn_build(&n, out, sizeof(out), &len), -EINVAL);
				continue;
			}
			assert_int_equal(imdn_build(&n, out, sizeof(out), &len), 0);
			assert_int_equal(imdn_parse(out, len, scratch, sizeof(scratch), &r), 0);
			assert_int_equal(r.kind, k);
			assert_int_equal(r.status, st);
		}
	n.kind = IMDN_DISPLAY, n.status = IMDN_DISPLAYED;
	n.message_id = SIP_STR_LIT("bad\x01id");
	assert_int_equal(imdn_build(&n, out, sizeof(out), &len), -EINVAL);
	n.message_id = SIP_STR_NULL;
	assert_int_equal(imdn_build(&n, out, sizeof(out), &len), -EINVAL);
	assert_string_equal(imdn_status_name(IMDN_STORED), "stored");
	assert_null(imdn_status_name(IMDN_STATUS_NONE));
}

static void t_disposition(void **s)
{
	unsigned w;
	(void)s;
	assert_int_equal(imdn_disposition_decode(SIP_STR_LIT("positive-delivery, display"), &w), 0);
	assert_int_equal(w, IMDN_WANT_POSITIVE_DELIVERY | IMDN_WANT_DISPLAY);
	assert_int_equal(imdn_disposition_decode(
		SIP_STR_LIT(" Negative-Delivery ,processing,future-thing"), &w), 0);
	assert_int_equal(w, IMDN_WANT_NEGATIVE_DELIVERY | IMDN_WANT_PROCESSING);
	assert_int_equal(imdn_disposition_decode(SIP_STR_LIT(""), &w), 0);
	assert_int_equal(w, 0);
	assert_int_equal(imdn_disposition_decode(SIP_STR_LIT("display,,x"), &w), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rfc_examples),
		cmocka_unit_test(t_statuses),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_build),
		cmocka_unit_test(t_disposition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
