/*
 * test_xmltok: the XML pull tokenizer under IMDN and PIDF (XML 1.0,
 * Namespaces in XML 1.0). Each document is turned into a one-line trace
 * of its tokens and compared; hostile input (DOCTYPE and entity bombs,
 * XXE, deep nesting, namespace floods, unbalanced tags, bad references,
 * truncation) must fail with the documented error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/xmltok.h"

/* "<{ns}name a={ns}n=v>" "text" "</name>" per token, attrs decoded */
static int trace(const char *doc, char *out, size_t cap)
{
	struct xmltok t;
	struct xmltok_token tok;
	size_t n = 0;
	int rc;

	out[0] = 0;
	xmltok_init(&t, doc, strlen(doc));
	for (;;) {
		char dec[256];
		size_t dl;
		if ((rc = xmltok_next(&t, &tok)))
			return rc;
		switch (tok.type) {
		case XMLTOK_START: {
			struct sip_str rest = tok.attrs;
			struct xmltok_attr a;
			n += (size_t)snprintf(out + n, cap - n, "<{%.*s}%.*s",
				(int)tok.ns.len, tok.ns.p ? tok.ns.p : "",
				(int)tok.name.len, tok.name.p);
			while (xmltok_attr_next(&t, &rest, &a) == 0) {
				assert_int_equal(xmltok_decode(a.raw, 1, dec, sizeof(dec), &dl), 0);
				n += (size_t)snprintf(out + n, cap - n, " {%.*s}%.*s=%s",
					(int)a.ns.len, a.ns.p ? a.ns.p : "",
					(int)a.name.len, a.name.p, dec);
			}
			n += (size_t)snprintf(out + n, cap - n, ">");
			break;
		}
		case XMLTOK_END:
			n += (size_t)snprintf(out + n, cap - n, "</%.*s>",
					      (int)tok.name.len, tok.name.p);
			break;
		case XMLTOK_TEXT:
			if (tok.cdata)
				snprintf(dec, sizeof(dec), "%.*s", (int)tok.text.len, tok.text.p);
			else
				assert_int_equal(xmltok_decode(tok.text, 0, dec, sizeof(dec), &dl), 0);
			n += (size_t)snprintf(out + n, cap - n, "'%s'", dec);
			break;
		case XMLTOK_EOF:
			return 0;
		}
	}
}

static const struct { const char *doc, *want; } good[] = {
	{ "<a/>", "<{}a></a>" },
	{ "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>x</a>\n", "<{}a>'x'</a>" },
	{ "<a xmlns=\"urn:x\"><b/><c xmlns=\"\"/></a>", "<{urn:x}a><{urn:x}b></b><{}c></c></a>" },
	{ "<p:a xmlns:p='urn:p' p:x=\"1\" y='2'/>", "<{urn:p}a {urn:p}x=1 {}y=2></a>" },
	{ "<a xmlns:p=\"urn:1\"><p:b xmlns:p=\"urn:2\"/><p:c/></a>",
	  "<{}a><{urn:2}b></b><{urn:1}c></c></a>" },
	{ "<a>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x20AC;&#128512;</a>",
	  "<{}a>'<>&'\"AB\xe2\x82\xac\xf0\x9f\x98\x80'</a>" },
	{ "<a b=\"x&#10;y\tz\r\nw\"/>", "<{}a {}b=x\ny z w></a>" },
	{ "<a>1\r\n2\r3</a>", "<{}a>'1\n2\n3'</a>" },
	{ "<a><!-- c --><?pi data?>x<![CDATA[<&]]>y</a><!--t-->", "<{}a>'x''<&''y'</a>" },
	{ "<a xml:lang=\"en\"/>", "<{}a {http://www.w3.org/XML/1998/namespace}lang=en></a>" },
	{ "<a\n  b = 'v' ></a >", "<{}a {}b=v></a>" },
	{ "<\xc3\xa9l>t</\xc3\xa9l>", "<{}\xc3\xa9l>'t'</\xc3\xa9l>" },
};

static const struct { const char *doc; int rc; const char *why; } bad[] = {
	{ "", -EBADMSG, "empty" },
	{ "  ", -EBADMSG, "only space" },
	{ "<a>", -EBADMSG, "unclosed" },
	{ "<a></b>", -EBADMSG, "mismatch" },
	{ "<a><b></a></b>", -EBADMSG, "crossed" },
	{ "</a>", -EBADMSG, "end first" },
	{ "<a/><b/>", -EBADMSG, "two roots" },
	{ "<a/>x", -EBADMSG, "text after root" },
	{ "x<a/>", -EBADMSG, "text before root" },
	{ "<a>&foo;</a>", -EBADMSG, "undeclared entity" },
	{ "<a>&amp</a>", -EBADMSG, "unterminated ref" },
	{ "<a>&#0;</a>", -EBADMSG, "NUL ref" },
	{ "<a>&#xD800;</a>", -EBADMSG, "surrogate" },
	{ "<a>&#x110000;</a>", -EBADMSG, "beyond Unicode" },
	{ "<a>&#99999999999;</a>", -EBADMSG, "long ref" },
	{ "<a>&#;</a>", -EBADMSG, "empty ref" },
	{ "<a>a & b</a>", -EBADMSG, "bare &" },
	{ "<a>]]></a>", -EBADMSG, "]]> in text" },
	{ "<a>\x01</a>", -EBADMSG, "control char" },
	{ "<a b='<'/>", -EBADMSG, "< in attribute" },
	{ "<a b='1' b='2'/>", -EBADMSG, "duplicate attribute" },
	{ "<a b='1'c='2'/>", -EBADMSG, "no space between attributes" },
	{ "<a b=1/>", -EBADMSG, "unquoted" },
	{ "<a b='1/>", -EBADMSG, "unterminated value" },
	{ "<a b/>", -EBADMSG, "attribute without value" },
	{ "<p:a/>", -EBADMSG, "undeclared prefix" },
	{ "<a p:b='1'/>", -EBADMSG, "undeclared attribute prefix" },
	{ "<a xmlns:p=''/>", -EBADMSG, "undeclaring a prefix" },
	{ "<a xmlns:xml='urn:x'/>", -EBADMSG, "rebinding xml" },
	{ "<a xmlns:p='urn:&amp;'/>", -EBADMSG, "reference in namespace" },
	{ "<a:b:c/>", -EBADMSG, "two colons" },
	{ "<1a/>", -EBADMSG, "bad name" },
	{ "<a/ >", -EBADMSG, "bad empty tag" },
	{ "<a><!-- x -- y --></a>", -EBADMSG, "-- in comment" },
	{ "<a><!-- x </a>", -EBADMSG, "unterminated comment" },
	{ "<a><![CDATA[x</a>", -EBADMSG, "unterminated CDATA" },
	{ "<![CDATA[x]]><a/>", -EBADMSG, "CDATA outside root" },
	{ "<a/><?xml version='1.0'?>", -EBADMSG, "late XML declaration" },
	{ "<a><?XML x?></a>", -EBADMSG, "reserved PI name" },
	{ "<a><?pi x</a>", -EBADMSG, "unterminated PI" },
	{ "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", -ENOTSUP, "DOCTYPE" },
	{ "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
	  " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	  "]>\n<lolz>&lol2;</lolz>", -ENOTSUP, "billion laughs" },
	{ "<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
	  -ENOTSUP, "XXE" },
	{ "<a><!ENTITY x 'y'></a>", -ENOTSUP, "ENTITY inside" },
	{ "<a><!ELEMENT a ANY></a>", -ENOTSUP, "ELEMENT inside" },
};

static void t_good(void **s)
{
	char out[1024];
	(void)s;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = trace(good[i].doc, out, sizeof(out));
		if (rc || strcmp(out, good[i].want))
			fail_msg("case %zu: rc %d\n got  %s\n want %s", i, rc, out,
				 good[i].want);
	}
}

static void t_bad(void **s)
{
	char out[1024];
	(void)s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = trace(bad[i].doc, out, sizeof(out));
		if (rc != bad[i].rc)
			fail_msg("%s: rc %d, want %d", bad[i].why, rc, bad[i].rc);
	}
}

static void t_limits(void **s)
{
	char doc[4096], out[8192];
	size_t n = 0;
	(void)s;
	/* exactly XMLTOK_MAX_DEPTH levels are fine, one more is not */
	for (int i = 0; i < XMLTOK_MAX_DEPTH; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "<a>");
	for (int i = 0; i < XMLTOK_MAX_DEPTH; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "</a>");
	assert_int_equal(trace(doc, out, sizeof(out)), 0);
	n = 0;
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "<a>");
	assert_int_equal(trace(doc, out, sizeof(out)), -E2BIG);

	/* namespace declarations in scope */
	n = (size_t)snprintf(doc, sizeof(doc), "<a");
	for (int i = 0; i <= XMLTOK_MAX_NS; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, " xmlns:p%d='urn:%d'", i, i);
	snprintf(doc + n, sizeof(doc) - n, "/>");
	assert_int_equal(trace(doc, out, sizeof(out)), -E2BIG);
	/* ... which are released when their element closes */
	n = (size_t)snprintf(doc, sizeof(doc), "<r>");
	for (int i = 0; i < 3 * XMLTOK_MAX_NS; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "<x xmlns:p='urn:%d'/>", i);
	snprintf(doc + n, sizeof(doc) - n, "</r>");
	assert_int_equal(trace(doc, out, sizeof(out)), 0);

	/* attributes per element */
	n = (size_t)snprintf(doc, sizeof(doc), "<a");
	for (int i = 0; i <= XMLTOK_MAX_ATTRS; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, " a%d='x'", i);
	snprintf(doc + n, sizeof(doc) - n, "/>");
	assert_int_equal(trace(doc, out, sizeof(out)), -E2BIG);
}

static void t_helpers(void **s)
{
	static const char doc[] = "<r xmlns='urn:r' xmlns:q='urn:q'>"
		"<v q:k='1' k='2'> a &amp;<![CDATA[ b ]]> </v><w><x/>y</w><z/></r>";
	struct xmltok t;
	struct xmltok_token tok;
	struct sip_str v;
	char buf[64];
	(void)s;

	xmltok_init(&t, doc, strlen(doc));
	assert_int_equal(xmltok_next(&t, &tok), 0);
	assert_true(xmltok_is(&tok, "urn:r", "r"));
	assert_int_equal(xmltok_next(&t, &tok), 0);
	assert_true(xmltok_is(&tok, "urn:r", "v"));
	assert_int_equal(xmltok_attr_get(&t, &tok, "urn:q", "k", &v), 0);
	assert_true(sip_str_eq(v, "1"));
	assert_int_equal(xmltok_attr_get(&t, &tok, NULL, "k", &v), 0);
	assert_true(sip_str_eq(v, "2"));
	assert_int_equal(xmltok_attr_get(&t, &tok, "urn:r", "k", &v), -ENOENT);
	assert_int_equal(xmltok_text(&t, buf, sizeof(buf), &v), 0);
	assert_true(sip_str_eq(v, "a & b"));
	assert_int_equal(xmltok_next(&t, &tok), 0);	/* <w> */
	assert_int_equal(xmltok_skip(&t), 0);
	assert_int_equal(xmltok_next(&t, &tok), 0);
	assert_true(xmltok_is(&tok, "urn:r", "z"));
	assert_int_equal(xmltok_text(&t, buf, sizeof(buf), &v), 0);	/* empty */
	assert_int_equal(v.len, 0);
	assert_int_equal(xmltok_next(&t, &tok), 0);
	assert_int_equal(tok.type, XMLTOK_END);
	assert_int_equal(xmltok_next(&t, &tok), 0);
	assert_int_equal(tok.type, XMLTOK_EOF);

	/* text-only means text only; the error is sticky */
	xmltok_init(&t, "<a><b/></a>", 11);
	assert_int_equal(xmltok_next(&t, &tok), 0);
	assert_int_equal(xmltok_text(&t, buf, sizeof(buf), &v), -EBADMSG);
	/* decode into a short buffer */
	assert_int_equal(xmltok_decode(SIP_STR_LIT("abc&amp;"), 0, buf, 4, NULL), -ENOSPC);
	assert_int_equal(xmltok_decode(SIP_STR_LIT("abc&amp;"), 0, buf, 5, NULL), 0);
	assert_string_equal(buf, "abc&");
}

static void t_escape(void **s)
{
	static const char in[] = "a<b>&\"c'\t\r\nd\xc3\xa9";
	char mem[256], doc[600], dec[64];
	struct sip_buf b;
	struct xmltok t;
	struct xmltok_token tok;
	struct sip_str v;
	size_t n;
	(void)s;

	sip_buf_init(&b, mem, sizeof(mem));
	xmltok_escape(&b, in, strlen(in));
	assert_int_equal(sip_buf_finish(&b, &n), 0);
	assert_string_equal(mem, "a&lt;b&gt;&amp;&quot;c&apos;&#9;&#13;&#10;d\xc3\xa9");
	/* both as text and as an attribute it parses back unchanged */
	snprintf(doc, sizeof(doc), "<e a=\"%s\">%s</e>", mem, mem);
	xmltok_init(&t, doc, strlen(doc));
	assert_int_equal(xmltok_next(&t, &tok), 0);
	assert_int_equal(xmltok_attr_get(&t, &tok, NULL, "a", &v), 0);
	assert_int_equal(xmltok_decode(v, 1, dec, sizeof(dec), &n), 0);
	assert_string_equal(dec, in);
	assert_int_equal(xmltok_text(&t, dec, sizeof(dec), &v), 0);
	assert_int_equal(v.len, strlen(in));
	assert_memory_equal(v.p, in, v.len);

	sip_buf_init(&b, mem, sizeof(mem));
	xmltok_escape(&b, "a\x01", 2);
	assert_int_equal(sip_buf_finish(&b, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_good),
		cmocka_unit_test(t_bad),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_helpers),
		cmocka_unit_test(t_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
