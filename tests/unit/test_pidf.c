/*
 * test_pidf: application/pidf+xml (RFC 3863) with dataline's netq
 * extension element: the RFC 3863 s.4 example (extension elements in
 * other namespaces ignored), netq in a tuple, in its status and at the
 * presence level, every field optional, build -> parse round trips with
 * escaping, -ENOSPC at every short size, and malformed or hostile
 * documents (wrong namespace, bad values, too many tuples, DOCTYPE
 * bombs, deep nesting, truncation).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/pidf.h"

#define STR_EQ(s, lit) do { if (!sip_str_eq((s), (lit))) \
	fail_msg("got '%.*s', want '%s'", (int)(s).len, (s).p ? (s).p : "", (lit)); } while (0)

static char scratch[8192];
static struct pidf_doc d;

static int parse(const char *doc, struct pidf_doc *out)
{
	return pidf_parse(doc, strlen(doc), scratch, sizeof(scratch), out);
}

/* RFC 3863 s.4 */
static const char rfc3863_ex[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\n"
	"    xmlns:im=\"urn:ietf:params:xml:ns:pidf:im\"\n"
	"    xmlns:myex=\"http://id.example.com/presence/\"\n"
	"    entity=\"pres:someone@example.com\">\n"
	"  <tuple id=\"bs35r9\">\n"
	"    <status>\n"
	"      <basic>open</basic>\n"
	"      <im:im>busy</im:im>\n"
	"      <myex:location>home</myex:location>\n"
	"    </status>\n"
	"    <contact priority=\"0.8\">im:someone@mobilecarrier.net</contact>\n"
	"    <note xml:lang=\"en\">Don't Disturb Please!</note>\n"
	"    <note xml:lang=\"fr\">Ne derangez pas, s'il vous plait</note>\n"
	"    <timestamp>2001-10-27T16:49:29Z</timestamp>\n"
	"  </tuple>\n"
	"  <tuple id=\"eg92n8\">\n"
	"    <status>\n"
	"      <basic>open</basic>\n"
	"    </status>\n"
	"    <contact priority=\"1.0\">mailto:someone@example.com</contact>\n"
	"  </tuple>\n"
	"  <note>I'll be in Tokyo next week</note>\n"
	"</presence>\n";

static void t_rfc3863_example(void **s)
{
	(void)s;
	assert_int_equal(parse(rfc3863_ex, &d), 0);
	STR_EQ(d.entity, "pres:someone@example.com");
	assert_int_equal(d.ntuples, 2);
	STR_EQ(d.tuples[0].id, "bs35r9");
	assert_int_equal(d.tuples[0].basic, PIDF_BASIC_OPEN);
	STR_EQ(d.tuples[0].contact, "im:someone@mobilecarrier.net");
	STR_EQ(d.tuples[0].priority, "0.8");
	STR_EQ(d.tuples[0].note, "Don't Disturb Please!");
	STR_EQ(d.tuples[0].timestamp, "2001-10-27T16:49:29Z");
	assert_false(d.tuples[0].netq.present);
	STR_EQ(d.tuples[1].id, "eg92n8");
	STR_EQ(d.tuples[1].priority, "1.0");
	assert_false(sip_str_present(d.tuples[1].timestamp));
	STR_EQ(d.note, "I'll be in Tokyo next week");
	assert_false(d.netq.present);
}

/* What a dataline handset publishes: one tuple with its figures. */
static const char handset_ex[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\n"
	"    xmlns:dl=\"urn:dataline:params:xml:ns:pidf:netq\"\n"
	"    entity=\"sip:+8613800138000@dataline.local\">\n"
	"  <tuple id=\"hs-a1\">\n"
	"    <status><basic>open</basic></status>\n"
	"    <dl:netq>\n"
	"      <dl:link>up</dl:link>\n"
	"      <dl:rate-kbps probed=\"true\">2400</dl:rate-kbps>\n"
	"      <dl:rtt-ms>85</dl:rtt-ms>\n"
	"      <dl:loss-ppm>1200</dl:loss-ppm>\n"
	"      <dl:age-s>4</dl:age-s>\n"
	"    </dl:netq>\n"
	"    <contact>sip:+8613800138000@10.0.0.2:5060</contact>\n"
	"    <timestamp>2026-12-05T12:00:00Z</timestamp>\n"
	"  </tuple>\n"
	"</presence>\n";

static void t_netq(void **s)
{
	const struct pidf_netq *q;
	(void)s;
	assert_int_equal(parse(handset_ex, &d), 0);
	q = &d.tuples[0].netq;
	assert_true(q->present);
	assert_int_equal(q->have, PIDF_NETQ_LINK | PIDF_NETQ_RATE | PIDF_NETQ_PROBED |
				  PIDF_NETQ_RTT | PIDF_NETQ_LOSS | PIDF_NETQ_AGE);
	assert_int_equal(q->link, PIDF_LINK_UP);
	assert_int_equal(q->rate_kbps, 2400);
	assert_true(q->probed);
	assert_int_equal(q->rtt_ms, 85);
	assert_int_equal(q->loss_ppm, 1200);
	assert_int_equal(q->age_s, 4);

	/* any prefix, inside <status>, partial, unknown children ignored */
	assert_int_equal(parse("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'>"
		"<tuple id='t'><status><basic>closed</basic>"
		"<q:netq xmlns:q='urn:dataline:params:xml:ns:pidf:netq'>"
		"<q:link> down </q:link><q:jitter-ms>3</q:jitter-ms><x:y xmlns:x='urn:x'/>"
		"</q:netq></status></tuple></presence>", &d), 0);
	q = &d.tuples[0].netq;
	assert_int_equal(d.tuples[0].basic, PIDF_BASIC_CLOSED);
	assert_int_equal(q->have, PIDF_NETQ_LINK);
	assert_int_equal(q->link, PIDF_LINK_DOWN);

	/* presence-level aggregate, empty netq, probed="0" */
	assert_int_equal(parse("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'"
		" xmlns:dl='urn:dataline:params:xml:ns:pidf:netq'>"
		"<tuple id='t'><status/><dl:netq/></tuple>"
		"<dl:netq><dl:rate-kbps probed='0'>64</dl:rate-kbps></dl:netq></presence>", &d), 0);
	assert_true(d.tuples[0].netq.present);
	assert_int_equal(d.tuples[0].netq.have, 0);
	assert_true(d.netq.present);
	assert_int_equal(d.netq.have, PIDF_NETQ_RATE | PIDF_NETQ_PROBED);
	assert_false(d.netq.probed);
	assert_int_equal(d.netq.rate_kbps, 64);

	/* the same element names in another namespace mean nothing */
	assert_int_equal(parse("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'>"
		"<tuple id='t'><status/><netq><link>up</link></netq></tuple></presence>", &d), 0);
	assert_false(d.tuples[0].netq.present);
}

#define P(body) "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'" \
	" xmlns:dl='urn:dataline:params:xml:ns:pidf:netq'>" body "</presence>"
#define T(body) P("<tuple id='t'><status/>" body "</tuple>")

static const struct { const char *doc; int rc; const char *why; } bad[] = {
	{ "<presence xmlns='urn:ietf:params:xml:ns:pidf'/>", -EBADMSG, "no entity" },
	{ "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity=''/>", -EBADMSG, "empty entity" },
	{ "<presence xmlns='urn:ietf:params:xml:ns:pidf-x' entity='pres:a@b'/>", -EBADMSG, "wrong namespace" },
	{ "<presence entity='pres:a@b'/>", -EBADMSG, "no namespace" },
	{ "<imdn xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'/>", -EBADMSG, "wrong root" },
	{ P("<tuple><status/></tuple>"), -EBADMSG, "tuple without id" },
	{ P("<tuple id=''><status/></tuple>"), -EBADMSG, "empty id" },
	{ P("<tuple id='t'></tuple>"), -EBADMSG, "tuple without status" },
	{ P("<tuple id='t'><status/><status/></tuple>"), -EBADMSG, "two statuses" },
	{ P("<tuple id='t'><status/></tuple><tuple id='t'><status/></tuple>"), -EBADMSG, "same tuple id twice" },
	{ P("<tuple id='t'><status><basic>busy</basic></status></tuple>"), -EBADMSG, "bad basic" },
	{ P("<tuple id='t'><status><basic>open</basic><basic>open</basic></status></tuple>"), -EBADMSG, "two basics" },
	{ T("<contact>a</contact><contact>b</contact>"), -EBADMSG, "two contacts" },
	{ T("<timestamp>a</timestamp><timestamp>b</timestamp>"), -EBADMSG, "two timestamps" },
	{ T("<dl:netq><dl:link>sideways</dl:link></dl:netq>"), -EBADMSG, "bad link" },
	{ T("<dl:netq><dl:rtt-ms>-1</dl:rtt-ms></dl:netq>"), -EBADMSG, "negative" },
	{ T("<dl:netq><dl:rtt-ms>1.5</dl:rtt-ms></dl:netq>"), -EBADMSG, "fraction" },
	{ T("<dl:netq><dl:rtt-ms></dl:rtt-ms></dl:netq>"), -EBADMSG, "empty number" },
	{ T("<dl:netq><dl:rtt-ms>4294967296</dl:rtt-ms></dl:netq>"), -EBADMSG, "above uint32" },
	{ T("<dl:netq><dl:rtt-ms>000000000000000000000000000000000001</dl:rtt-ms></dl:netq>"), -EBADMSG, "too long" },
	{ T("<dl:netq><dl:loss-ppm>1000001</dl:loss-ppm></dl:netq>"), -EBADMSG, "loss above 100 %" },
	{ T("<dl:netq><dl:rate-kbps probed='yes'>1</dl:rate-kbps></dl:netq>"), -EBADMSG, "bad probed" },
	{ T("<dl:netq><dl:age-s>1</dl:age-s><dl:age-s>2</dl:age-s></dl:netq>"), -EBADMSG, "field twice" },
	{ T("<dl:netq/><dl:netq/>"), -EBADMSG, "netq twice" },
	{ T("<dl:netq><dl:rtt-ms><b/></dl:rtt-ms></dl:netq>"), -EBADMSG, "element in number" },
	{ P("<tuple id='1'><status/></tuple><tuple id='2'><status/></tuple><tuple id='3'><status/></tuple>"
	    "<tuple id='4'><status/></tuple><tuple id='5'><status/></tuple><tuple id='6'><status/></tuple>"
	    "<tuple id='7'><status/></tuple><tuple id='8'><status/></tuple><tuple id='9'><status/></tuple>"),
	  -E2BIG, "nine tuples" },
	{ "<!DOCTYPE presence [<!ENTITY a 'x'><!ENTITY b '&a;&a;&a;&a;&a;&a;'>]>"
	  "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='&b;'/>", -ENOTSUP, "entity bomb" },
	{ "<?xml version='1.0'?><!DOCTYPE p SYSTEM 'file:///etc/passwd'><presence/>", -ENOTSUP, "XXE" },
	{ T("<a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a>"),
	  -E2BIG, "deep nesting" },
	{ P("<tuple id='t'><status/></tuple>") "junk", -EBADMSG, "junk after root" },
	{ P("<tuple id='t'><status></tuple>"), -EBADMSG, "unbalanced" },
	{ "", -EBADMSG, "empty" },
};

static void t_malformed(void **s)
{
	(void)s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].doc, &d);
		if (rc != bad[i].rc)
			fail_msg("%s: rc %d, want %d", bad[i].why, rc, bad[i].rc);
	}
	for (size_t len = 0; len < strlen(handset_ex) - 1; len++)
		assert_int_not_equal(pidf_parse(handset_ex, len, scratch,
						sizeof(scratch), &d), 0);
	assert_int_equal(pidf_parse(handset_ex, strlen(handset_ex), scratch, 16, &d),
			 -ENOSPC);
}

/* field by field: padding bytes of a compound literal are unspecified */
static void netq_eq(const struct pidf_netq *a, const struct pidf_netq *b)
{
	assert_int_equal(a->present, b->present);
	assert_int_equal(a->have, b->have);
	assert_int_equal(a->link, b->link);
	assert_int_equal(a->rate_kbps, b->rate_kbps);
	assert_int_equal(a->probed, b->probed);
	assert_int_equal(a->rtt_ms, b->rtt_ms);
	assert_int_equal(a->loss_ppm, b->loss_ppm);
	assert_int_equal(a->age_s, b->age_s);
}

static void t_build(void **s)
{
	static struct pidf_doc in, r;
	char out[4096];
	size_t len, l2;
	(void)s;

	in.entity = SIP_STR_LIT("sip:+8613800138000@dataline.local");
	in.ntuples = 2;
	in.tuples[0] = (struct pidf_tuple){
		.id = SIP_STR_LIT("hs-a1"), .basic = PIDF_BASIC_OPEN,
		.contact = SIP_STR_LIT("sip:a@10.0.0.2;transport=udp"),
		.priority = SIP_STR_LIT("0.9"),
		.note = SIP_STR_LIT("on <LTE> & \"roaming\""),
		.timestamp = SIP_STR_LIT("2026-12-05T12:00:00Z"),
		.netq = { .present = 1, .have = PIDF_NETQ_LINK | PIDF_NETQ_RATE |
			  PIDF_NETQ_PROBED | PIDF_NETQ_RTT | PIDF_NETQ_LOSS | PIDF_NETQ_AGE,
			  .link = PIDF_LINK_UP, .rate_kbps = 4294967295u, .probed = 1,
			  .rtt_ms = 0, .loss_ppm = 1000000, .age_s = 4 },
	};
	in.tuples[1] = (struct pidf_tuple){ .id = SIP_STR_LIT("hs'b"),
		.netq = { .present = 1, .have = PIDF_NETQ_LINK, .link = PIDF_LINK_DOWN } };
	in.netq = (struct pidf_netq){ .present = 1, .have = PIDF_NETQ_RATE,
				      .rate_kbps = 64 };
	in.note = SIP_STR_LIT("aggregate");

	assert_int_equal(pidf_build(&in, out, sizeof(out), &len), 0);
	assert_int_equal(pidf_parse(out, len, scratch, sizeof(scratch), &r), 0);
	STR_EQ(r.entity, "sip:+8613800138000@dataline.local");
	assert_int_equal(r.ntuples, 2);
	STR_EQ(r.tuples[0].id, "hs-a1");
	assert_int_equal(r.tuples[0].basic, PIDF_BASIC_OPEN);
	STR_EQ(r.tuples[0].contact, "sip:a@10.0.0.2;transport=udp");
	STR_EQ(r.tuples[0].priority, "0.9");
	STR_EQ(r.tuples[0].note, "on <LTE> & \"roaming\"");
	STR_EQ(r.tuples[0].timestamp, "2026-12-05T12:00:00Z");
	netq_eq(&r.tuples[0].netq, &in.tuples[0].netq);
	STR_EQ(r.tuples[1].id, "hs'b");
	assert_int_equal(r.tuples[1].basic, PIDF_BASIC_NONE);
	netq_eq(&r.tuples[1].netq, &in.tuples[1].netq);
	netq_eq(&r.netq, &in.netq);
	STR_EQ(r.note, "aggregate");
	/* the document's own size is always enough scratch */
	assert_int_equal(pidf_parse(out, len, scratch, len, &r), 0);
	for (size_t cap = 0; cap < len; cap++)
		assert_int_equal(pidf_build(&in, out, cap, &l2), -ENOSPC);

	/* no netq anywhere: no dl namespace declared */
	in.ntuples = 1;
	in.tuples[0].netq.present = 0;
	in.netq.present = 0;
	assert_int_equal(pidf_build(&in, out, sizeof(out), &len), 0);
	assert_null(strstr(out, "xmlns:dl"));
	assert_int_equal(pidf_parse(out, len, scratch, sizeof(scratch), &r), 0);

	/* refused */
	in.tuples[0].netq = (struct pidf_netq){ .present = 1, .have = PIDF_NETQ_LOSS,
						.loss_ppm = 1000001 };
	assert_int_equal(pidf_build(&in, out, sizeof(out), &len), -EINVAL);
	in.tuples[0].netq = (struct pidf_netq){ 0 };
	in.tuples[0].id = SIP_STR_NULL;
	assert_int_equal(pidf_build(&in, out, sizeof(out), &len), -EINVAL);
	in.tuples[0].id = SIP_STR_LIT("x");
	in.tuples[0].note = SIP_STR_LIT("bell\x07");
	assert_int_equal(pidf_build(&in, out, sizeof(out), &len), -EINVAL);
	in.ntuples = PIDF_MAX_TUPLES + 1;
	assert_int_equal(pidf_build(&in, out, sizeof(out), &len), -EINVAL);
	in.ntuples = 0;
	in.entity = SIP_STR_NULL;
	assert_int_equal(pidf_build(&in, out, sizeof(out), &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rfc3863_example),
		cmocka_unit_test(t_netq),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
