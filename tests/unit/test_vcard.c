/*
 * test_vcard: the vCard reader (RFC 2425/2426 vCard 3.0, RFC 6350 vCard
 * 4.0, vCard 2.1) on exports shaped like Google Contacts', an iPhone's
 * (item1. groups), Android's own (2.1, quoted-printable) and the
 * RFC 6350 s.8 example; folds, CRLF and LF, BOM, empty files; broken
 * cards among good ones (each reported with its line, the rest read);
 * the limits; parameters, structured values, escapes and TEL -> E.164.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/vcard.h"

#define STR_EQ(s, lit) do { if (!sip_str_eq((s), (lit))) \
	fail_msg("got '%.*s', want '%s'", (int)(s).len, (s).p ? (s).p : "", (lit)); } while (0)

/* What one vcard_next() gave: the card, or the error of a skipped one. */
struct step {
	int rc;
	struct vcard c;
	struct vcard_err e;
};

/* Runs vcard_next() over s until -ENOENT; returns the number of steps. */
static int walk(const char *s, size_t len, struct step *st, int max)
{
	struct vcard_iter it;
	int n = 0;

	vcard_iter_init(&it, s, len);
	for (;;) {
		size_t before = it.off;
		int rc = vcard_next(&it, &st[n].c, &st[n].e);
		if (rc == -ENOENT)
			return n;
		assert_true(it.off > before);
		assert_true(n < max);
		st[n++].rc = rc;
	}
}

/* A file of n good cards, all read. */
static void walk_good(const char *text, struct step *st, int n)
{
	assert_int_equal(walk(text, strlen(text), st, n), n);
	for (int i = 0; i < n; i++)
		assert_int_equal(st[i].rc, 0);
}

static void decoded(struct sip_str raw, int qp, const char *want)
{
	char buf[512];
	size_t n;

	assert_int_equal(vcard_decode(raw, qp, buf, sizeof(buf), &n), 0);
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void e164(const struct vcard_prop *tel, const char *cc, const char *want)
{
	char out[E164_MAX];

	if (!want) {
		assert_int_equal(vcard_tel_e164(tel, cc, out), -EINVAL);
		return;
	}
	assert_int_equal(vcard_tel_e164(tel, cc, out), 0);
	assert_string_equal(out, want);
}

/*
 * Walks the lines of card c: the first property called name into *p
 * (fails if there is none); returns how many lines the card has.
 */
static int find_prop(const struct vcard *c, const char *name,
		     struct vcard_prop *p)
{
	struct vcard_iter it;
	struct vcard_prop q;
	int n = 0, found = 0;

	vcard_props_init(&it, c);
	while (vcard_prop_next(&it, &q) == 0) {
		n++;
		if (!found && sip_str_caseeq(q.name, name))
			*p = q, found = 1;
	}
	assert_true(found);
	assert_true(it.off == c->body.len);
	return n;
}

/* Google Contacts "Export > vCard" (3.0, CRLF) */
static const char google[] =
	"BEGIN:VCARD\r\n"
	"VERSION:3.0\r\n"
	"FN:Anna Schmidt\r\n"
	"N:Schmidt;Anna;;;\r\n"
	"EMAIL;TYPE=INTERNET;TYPE=HOME:anna@example.com\r\n"
	"TEL;TYPE=CELL:+49 151 23456789\r\n"
	"TEL;TYPE=HOME:030 1234567\r\n"
	"ADR;TYPE=HOME:;;Hauptstr. 1;Berlin;;10115;Germany\r\n"
	"item1.URL:http\\://example.com/anna\r\n"
	"item1.X-ABLabel:\r\n"
	"CATEGORIES:myContacts\r\n"
	"END:VCARD\r\n"
	"BEGIN:VCARD\r\n"
	"VERSION:3.0\r\n"
	"FN:Bob\r\n"
	"N:;Bob;;;\r\n"
	"TEL;TYPE=WORK:+1 415-555-0100\r\n"
	"CATEGORIES:myContacts,Starred in Android\r\n"
	"END:VCARD\r\n";

static void t_google(void **s)
{
	struct step st[4];
	struct sip_str f;
	(void)s;
	walk_good(google, st, 2);
	assert_int_equal(st[0].c.line, 1);
	assert_int_equal(st[0].c.version, VCARD_VERSION_30);
	decoded(st[0].c.fn.value, 0, "Anna Schmidt");
	assert_int_equal(vcard_field(st[0].c.n.value, 0, &f), 0);
	STR_EQ(f, "Schmidt");
	assert_int_equal(vcard_field(st[0].c.n.value, 1, &f), 0);
	STR_EQ(f, "Anna");
	assert_int_equal(st[0].c.ntel, 2);
	assert_int_equal(st[0].c.tel[0].line, 6);
	assert_true(vcard_has_type(&st[0].c.tel[0], "cell"));
	assert_false(vcard_has_type(&st[0].c.tel[0], "home"));
	e164(&st[0].c.tel[0], "49", "+4915123456789");
	e164(&st[0].c.tel[1], "49", "+49301234567");
	assert_true(st[0].c.raw.p == google);
	assert_true(st[0].c.raw.p + st[0].c.raw.len == st[1].c.raw.p);
	assert_int_equal(st[1].c.line, 13);
	decoded(st[1].c.fn.value, 0, "Bob");
	e164(&st[1].c.tel[0], "49", "+14155550100");
}

/* An iPhone's "Share Contact" / iCloud export: 3.0, item groups,
 * lower-case type values, escapes, a folded PHOTO. */
static const char apple[] =
	"BEGIN:VCARD\r\n"
	"VERSION:3.0\r\n"
	"PRODID:-//Apple Inc.//iPhone OS 17.1//EN\r\n"
	"N:Appleseed;Johnny;;;\r\n"
	"FN:Johnny Appleseed\r\n"
	"ORG:Example Inc.;\r\n"
	"item1.TEL;type=pref:+1 (408) 555-0101\r\n"
	"item1.X-ABLabel:_$!<Other>!$_\r\n"
	"TEL;type=CELL;type=VOICE:(415) 555-0102\r\n"
	"item2.EMAIL;type=INTERNET;type=pref:johnny@example.com\r\n"
	"item3.ADR;type=HOME;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;United States\r\n"
	"NOTE:Line one\\nLine two\\, with comma\\; and semicolon \\\\ backslash\r\n"
	"PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgID\r\n"
	" AwMDBAYEBAQEBAgGBgUGBwkIBwcHBwgJCgwKCQoLCgsICAsOCwsMDA0NDQ0KCw8QDw0QDA0\r\n"
	" NDf/Z\r\n"
	"END:VCARD\r\n";

static void t_apple(void **s)
{
	struct step st[2];
	struct vcard_prop p;
	(void)s;
	walk_good(apple, st, 1);
	assert_int_equal(st[0].c.ntel, 2);
	STR_EQ(st[0].c.tel[0].group, "item1");
	STR_EQ(st[0].c.tel[0].params, "type=pref");
	assert_true(vcard_has_type(&st[0].c.tel[0], "PREF"));
	assert_true(vcard_has_type(&st[0].c.tel[1], "voice"));
	e164(&st[0].c.tel[0], "49", "+14085550101");
	e164(&st[0].c.tel[1], "1", "+14155550102");
	/* every line again, with the folded PHOTO as one */
	assert_int_equal(find_prop(&st[0].c, "note", &p), 12);
	assert_int_equal(p.line, 12);
	decoded(p.value, 0, "Line one\nLine two, with comma; and "
			    "semicolon \\ backslash");
	find_prop(&st[0].c, "PHOTO", &p);
	assert_int_equal(p.line, 13);
	decoded(p.value, 0, "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgID"
		"AwMDBAYEBAQEBAgGBgUGBwkIBwcHBwgJCgwKCQoLCgsICAsOCwsMDA0NDQ0KCw8QDw0QDA0"
		"NDf/Z");
}

/* RFC 6350 s.8, as printed (with its two folds) */
static const char rfc6350[] =
	"BEGIN:VCARD\r\n"
	"VERSION:4.0\r\n"
	"FN:Simon Perreault\r\n"
	"N:Perreault;Simon;;;ing. jr,M.Sc.\r\n"
	"BDAY:--0203\r\n"
	"ANNIVERSARY:20090808T1430-0500\r\n"
	"GENDER:M\r\n"
	"LANG;PREF=1:fr\r\n"
	"LANG;PREF=2:en\r\n"
	"ORG;TYPE=work:Viagenie\r\n"
	"ADR;TYPE=work:;Suite D2-630;2875 Laurier;\r\n"
	" Quebec;QC;G1V 2M2;Canada\r\n"
	"TEL;VALUE=uri;TYPE=\"work,voice\";PREF=1:tel:+1-418-656-9254;ext=102\r\n"
	"TEL;VALUE=uri;TYPE=\"work,cell,voice,video,text\":tel:+1-418-262-6501\r\n"
	"EMAIL;TYPE=work:simon.perreault@viagenie.ca\r\n"
	"GEO;TYPE=work:geo:46.772673,-71.282945\r\n"
	"KEY;TYPE=work;VALUE=uri:\r\n"
	" http://www.viagenie.ca/simon.perreault/simon.asc\r\n"
	"TZ:-0500\r\n"
	"URL;TYPE=home:http://nomis80.org\r\n"
	"END:VCARD\r\n";

static void t_rfc6350(void **s)
{
	struct step st[2];
	struct vcard_prop p;
	struct sip_str v, f;
	(void)s;
	walk_good(rfc6350, st, 1);
	assert_int_equal(st[0].c.version, VCARD_VERSION_40);
	assert_int_equal(vcard_field(st[0].c.n.value, 4, &f), 0);
	STR_EQ(f, "ing. jr,M.Sc.");
	assert_int_equal(vcard_field(st[0].c.n.value, 5, &f), -ENOENT);
	assert_int_equal(st[0].c.ntel, 2);
	assert_int_equal(st[0].c.tel[0].line, 13);
	assert_int_equal(st[0].c.tel[1].line, 14);
	assert_int_equal(vcard_param_find(&st[0].c.tel[0], "pref", &v), 0);
	STR_EQ(v, "1");
	assert_int_equal(vcard_param_find(&st[0].c.tel[0], "value", &v), 0);
	STR_EQ(v, "uri");
	assert_int_equal(vcard_param_find(&st[0].c.tel[1], "pref", &v), -ENOENT);
	assert_true(vcard_has_type(&st[0].c.tel[0], "voice"));
	assert_true(vcard_has_type(&st[0].c.tel[1], "CELL"));
	assert_false(vcard_has_type(&st[0].c.tel[0], "cell"));
	e164(&st[0].c.tel[0], NULL, "+14186569254");
	e164(&st[0].c.tel[1], NULL, "+14182626501");
	assert_int_equal(find_prop(&st[0].c, "ADR", &p), 17);
	assert_int_equal(p.line, 11);
	decoded(p.value, 0, ";Suite D2-630;2875 Laurier;Quebec;QC;G1V 2M2;Canada");
	assert_int_equal(vcard_field(p.value, 3, &f), 0);
	decoded(f, 0, "Quebec");
	find_prop(&st[0].c, "KEY", &p);
	decoded(p.value, 0, "http://www.viagenie.ca/simon.perreault/simon.asc");
	find_prop(&st[0].c, "TZ", &p);
	assert_int_equal(p.line, 19);
}

/* Android Contacts' own export: 2.1, bare parameters, quoted-printable
 * UTF-8 with soft line breaks, LF line ends. */
static const char android21[] =
	"BEGIN:VCARD\n"
	"VERSION:2.1\n"
	"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=96zt=C3=BCrk;Ay=C5=9Fe;;;\n"
	"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Ay=C5=9Fe =C3=96zt=C3=BCrk\n"
	"TEL;CELL:+90 532 123 45 67\n"
	"TEL;HOME;PREF:0212 555 12 34\n"
	"NOTE;ENCODING=QUOTED-PRINTABLE:first=0Asecond =3D two=\n"
	"third\n"
	"END:VCARD\n"
	"BEGIN:VCARD\n"
	"VERSION:2.1\n"
	"TEL;X-Mobil;QUOTED-PRINTABLE:=2B49 151 2345678=\n"
	"END:VCARD\n";

static void t_android21(void **s)
{
	struct step st[3];
	struct vcard_prop p;
	struct sip_str f;
	(void)s;
	walk_good(android21, st, 2);
	assert_int_equal(st[0].c.version, VCARD_VERSION_21);
	assert_true(st[0].c.fn.qp);
	decoded(st[0].c.fn.value, 1, "Ay\xC5\x9F" "e \xC3\x96zt\xC3\xBCrk");
	assert_int_equal(vcard_field(st[0].c.n.value, 1, &f), 0);
	decoded(f, 1, "Ay\xC5\x9F" "e");
	assert_true(vcard_has_type(&st[0].c.tel[0], "cell"));
	assert_true(vcard_has_type(&st[0].c.tel[1], "pref"));
	e164(&st[0].c.tel[0], "90", "+905321234567");
	e164(&st[0].c.tel[1], "90", "+902125551234");
	assert_int_equal(find_prop(&st[0].c, "NOTE", &p), 6);
	assert_int_equal(p.line, 7);
	decoded(p.value, 1, "first\nsecond = twothird");
	/* a stray '=' at the end does not swallow END:VCARD */
	assert_int_equal(st[1].rc, 0);
	assert_int_equal(st[1].c.line, 10);
	e164(&st[1].c.tel[0], NULL, "+491512345678");
}

/* LF only, folds with a tab and with a space, a BOM, names in any case */
static void t_folds_bom_case(void **s)
{
	static const char lf[] =
		"\xEF\xBB\xBF" "begin:vcard\n"
		"version:3.0\n"
		"fn:Jo\n"
		"\thn\n"
		"Tel;Type=\"cell\":+49 151\n"
		" 2345678\n"
		"TEL\n"
		" ;TYPE=home\n"
		" :0301234567\n"
		"End:VCard";	/* no line end at the end of the file */
	struct step st[2];
	(void)s;
	assert_int_equal(walk(lf, strlen(lf), st, 2), 1);
	assert_int_equal(st[0].rc, 0);
	assert_int_equal(st[0].c.line, 1);
	decoded(st[0].c.fn.value, 0, "John");
	assert_int_equal(st[0].c.ntel, 2);
	assert_int_equal(st[0].c.tel[1].line, 7);
	assert_true(vcard_has_type(&st[0].c.tel[0], "CELL"));
	assert_true(vcard_has_type(&st[0].c.tel[1], "home"));
	e164(&st[0].c.tel[0], NULL, "+491512345678");
	e164(&st[0].c.tel[1], "49", "+49301234567");
	assert_true(st[0].c.raw.p == lf + 3);
	assert_int_equal(st[0].c.raw.len, strlen(lf) - 3);
	assert_int_equal(st[0].c.version, VCARD_VERSION_30);
}

static void t_empty(void **s)
{
	struct vcard_iter it;
	struct vcard c;
	struct vcard_err e;
	static const char *const none[] = { "", "\xEF\xBB\xBF", "\r\n\r\n",
					    "\n \n\t\n", "\xEF\xBB\xBF\n" };
	(void)s;
	for (unsigned i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		vcard_iter_init(&it, none[i], strlen(none[i]));
		assert_int_equal(vcard_next(&it, &c, &e), -ENOENT);
		assert_int_equal(vcard_next(&it, &c, &e), -ENOENT);
	}
	vcard_iter_init(&it, NULL, 0);
	assert_int_equal(vcard_next(&it, &c, &e), -ENOENT);
	assert_int_equal(vcard_next(&it, NULL, &e), -EINVAL);
}

#define GOOD(fn) "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" fn "\r\nTEL:+4930123456\r\nEND:VCARD\r\n"

/* Broken entries between good cards: each is reported with its line and
 * skipped, and every good card is still read. */
static void t_broken(void **s)
{
	static const char f[] =
		GOOD("One")				/* 1-5 */
		"BEGIN:VCARD\r\n"			/* 6 */
		"VERSION:3.0\r\n"
		"FN:Broken\r\n"
		"this is not a property\r\n"		/* 9 */
		"TEL:+4930999999\r\n"
		"END:VCARD\r\n"				/* 11 */
		GOOD("Two")				/* 12-16 */
		"BEGIN:VCARD\r\n"			/* 17: no END */
		"FN:No end\r\n"
		GOOD("Three")				/* 19-23 */
		"FN:no begin\r\n"			/* 24 */
		"TEL:+4930888888\r\n"
		"END:VCARD\r\n"
		"\r\n"
		"BEGIN:VCARD\r\nVERSION:5.0\r\nEND:VCARD\r\n"	/* 28 */
		"BEGIN:VCARD\r\nN;TYPE=\"x:Y\r\nEND:VCARD\r\n"	/* 31 */
		"BEGIN:VCARD\r\nTEL;:1\r\nEND:VCARD\r\n"	/* 34 */
		"BEGIN:VCARD\r\n.TEL:1\r\nEND:VCARD\r\n"	/* 37 */
		GOOD("Four")				/* 40-44 */
		"BEGIN:VCARD\r\n"			/* 45: to the end */
		"FN:Last\r\n";
	struct step st[16];
	static const struct {
		int rc;
		uint32_t line, card_line;
		const char *fn;
	} want[] = {
		{ 0, 1, 0, "One" },
		{ -EBADMSG, 9, 6, NULL },
		{ 0, 12, 0, "Two" },
		{ -EBADMSG, 17, 17, NULL },
		{ 0, 19, 0, "Three" },
		{ -EBADMSG, 24, 0, NULL },
		{ -EBADMSG, 29, 28, NULL },
		{ -EBADMSG, 32, 31, NULL },
		{ -EBADMSG, 35, 34, NULL },
		{ -EBADMSG, 38, 37, NULL },
		{ 0, 40, 0, "Four" },
		{ -EBADMSG, 45, 45, NULL },
	};
	int n;
	(void)s;
	n = walk(f, strlen(f), st, 16);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (int i = 0; i < n; i++) {
		assert_int_equal(st[i].rc, want[i].rc);
		if (want[i].rc) {
			assert_int_equal(st[i].e.line, want[i].line);
			assert_int_equal(st[i].e.card_line, want[i].card_line);
			assert_non_null(st[i].e.what);
		} else {
			assert_int_equal(st[i].c.line, want[i].line);
			decoded(st[i].c.fn.value, 0, want[i].fn);
		}
	}
	assert_string_equal(st[3].e.what, "no END:VCARD");
	assert_string_equal(st[5].e.what, "text outside a vCard");
	assert_string_equal(st[6].e.what, "unsupported VERSION");
}

/* Two exports concatenated, each with its BOM; the first card of the
 * second one follows a card without END. */
static void t_concat(void **s)
{
	static const char f[] =
		"\xEF\xBB\xBF" GOOD("A")
		"\xEF\xBB\xBF" GOOD("B")
		"BEGIN:VCARD\r\nFN:cut\r\n"		/* 11 */
		"\xEF\xBB\xBF" GOOD("C");		/* 13 */
	struct step st[5];
	(void)s;
	assert_int_equal(walk(f, sizeof(f) - 1, st, 5), 4);
	assert_int_equal(st[0].rc, 0);
	assert_int_equal(st[1].rc, 0);
	assert_int_equal(st[1].c.line, 6);
	decoded(st[1].c.fn.value, 0, "B");
	assert_int_equal(st[2].rc, -EBADMSG);
	assert_int_equal(st[2].e.line, 11);
	assert_int_equal(st[3].rc, 0);
	assert_int_equal(st[3].c.line, 13);
	decoded(st[3].c.fn.value, 0, "C");
}

/* A NUL byte, a missing VERSION, more than VCARD_MAX_TEL numbers */
static void t_nul_version_tels(void **s)
{
	static const char nul[] = "BEGIN:VCARD\nFN:a\0b\nEND:VCARD\n" GOOD("Ok");
	char many[2048];
	struct step st[4];
	size_t n;
	(void)s;
	assert_int_equal(walk(nul, sizeof(nul) - 1, st, 4), 2);
	assert_int_equal(st[0].rc, -EBADMSG);
	assert_int_equal(st[0].e.line, 2);
	assert_string_equal(st[0].e.what, "NUL byte");
	assert_int_equal(st[1].rc, 0);

	n = (size_t)snprintf(many, sizeof(many), "BEGIN:VCARD\nFN:Many\n");
	for (int i = 0; i < VCARD_MAX_TEL + 4; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n,
				      "TEL:+49301234%03d\n", i);
	n += (size_t)snprintf(many + n, sizeof(many) - n, "END:VCARD\n");
	assert_int_equal(walk(many, n, st, 4), 1);
	assert_int_equal(st[0].rc, 0);
	assert_int_equal(st[0].c.version, VCARD_VERSION_NONE);
	assert_int_equal(st[0].c.ntel, VCARD_MAX_TEL);
	assert_int_equal(st[0].c.ntel_dropped, 4);
	e164(&st[0].c.tel[15], NULL, "+49301234015");
}

/* Lines and cards over the limits are skipped; the next card is read. */
static void t_limits(void **s)
{
	size_t cap = VCARD_MAX_CARD + 4096, n;
	char *b = malloc(cap);
	struct step st[4];
	(void)s;
	assert_non_null(b);

	/* a physical line one byte too long */
	n = (size_t)sprintf(b, "BEGIN:VCARD\nNOTE:");
	memset(b + n, 'x', VCARD_MAX_LINE - 4), n += VCARD_MAX_LINE - 4;
	n += (size_t)sprintf(b + n, "\nEND:VCARD\n" GOOD("After"));
	assert_int_equal(walk(b, n, st, 4), 2);
	assert_int_equal(st[0].rc, -E2BIG);
	assert_int_equal(st[0].e.line, 2);
	assert_int_equal(st[1].rc, 0);
	assert_int_equal(st[1].c.line, 4);

	/* exactly VCARD_MAX_LINE is fine */
	n = (size_t)sprintf(b, "BEGIN:VCARD\nNOTE:");
	memset(b + n, 'x', VCARD_MAX_LINE - 5), n += VCARD_MAX_LINE - 5;
	n += (size_t)sprintf(b + n, "\nEND:VCARD\n");
	assert_int_equal(walk(b, n, st, 4), 1);
	assert_int_equal(st[0].rc, 0);

	/* folded lines over VCARD_MAX_LOGICAL */
	n = (size_t)sprintf(b, "BEGIN:VCARD\nPHOTO:");
	while (n < VCARD_MAX_LOGICAL + 100)
		n += (size_t)sprintf(b + n, "%.74s\n ", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx");
	n += (size_t)sprintf(b + n, "xx\nEND:VCARD\n" GOOD("After"));
	assert_int_equal(walk(b, n, st, 4), 2);
	assert_int_equal(st[0].rc, -E2BIG);
	assert_int_equal(st[0].e.line, 2);
	assert_int_equal(st[1].rc, 0);

	/* a card over VCARD_MAX_CARD */
	n = (size_t)sprintf(b, "BEGIN:VCARD\n");
	while (n < VCARD_MAX_CARD)
		n += (size_t)sprintf(b + n, "NOTE:%0999d\n", 0);
	n += (size_t)sprintf(b + n, "END:VCARD\n" GOOD("After"));
	assert_int_equal(walk(b, n, st, 4), 2);
	assert_int_equal(st[0].rc, -E2BIG);
	assert_string_equal(st[0].e.what, "card too large");
	assert_int_equal(st[1].rc, 0);
	free(b);
}

static void t_params(void **s)
{
	static const struct {
		const char *params;
		int n;		/* parameters, or -EBADMSG */
	} cases[] = {
		{ "TYPE=cell", 1 },
		{ "TYPE=cell,voice;PREF=1", 2 },
		{ "CELL;PREF", 2 },
		{ "TYPE=\"a;b:c\";X=y", 2 },
		{ "LABEL=\"unterminated", -EBADMSG },
		{ "=x", -EBADMSG },
		{ "TYPE=cell;", -EBADMSG },
		{ "TYPE=cell;;X", -EBADMSG },
		{ "TY PE=x", -EBADMSG },
	};
	(void)s;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sip_str ps = { cases[i].params, strlen(cases[i].params) };
		struct sip_str n, v;
		size_t off = 0;
		int k = 0, rc;
		while ((rc = vcard_param_next(ps, &off, &n, &v)) == 0)
			k++;
		if (cases[i].n < 0)
			assert_int_equal(rc, cases[i].n);
		else
			assert_int_equal(k, cases[i].n), assert_int_equal(rc, -ENOENT);
	}
}

static void t_decode(void **s)
{
	static const struct {
		const char *raw;
		int qp;
		const char *want;
	} cases[] = {
		{ "a\\nb\\Nc", 0, "a\nb\nc" },
		{ "a\\,b\\;c\\:d\\\\e", 0, "a,b;c:d\\e" },
		{ "C:\\temp\\x", 0, "C:\\temp\\x" },	/* other escapes stay */
		{ "trailing\\", 0, "trailing\\" },
		{ "fold\r\n ed\n\tx", 0, "foldedx" },
		{ "esc\\\r\n ,aped", 0, "esc,aped" },
		{ "=41=42=\r\nC=4", 1, "ABC=4" },
		{ "=41=42", 0, "=41=42" },
		{ "=ZZ=", 1, "=ZZ" },	/* a last '=' is a soft break */
		{ "", 0, "" },
	};
	char small[4];
	size_t n;
	(void)s;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sip_str r = { cases[i].raw, strlen(cases[i].raw) };
		decoded(r, cases[i].qp, cases[i].want);
	}
	assert_int_equal(vcard_decode(SIP_STR_LIT("abcd"), 0, small, 4, &n), -ENOSPC);
	assert_int_equal(vcard_decode(SIP_STR_LIT("abc"), 0, small, 4, &n), 0);
	assert_int_equal(vcard_decode(SIP_STR_LIT("abc"), 0, small, 0, &n), -ENOSPC);
}

static void t_field(void **s)
{
	struct sip_str f;
	struct sip_str n = SIP_STR_LIT("M\\;ller;Hans\\\\;;Dr.;");
	(void)s;
	assert_int_equal(vcard_field(n, 0, &f), 0);
	STR_EQ(f, "M\\;ller");
	assert_int_equal(vcard_field(n, 1, &f), 0);
	STR_EQ(f, "Hans\\\\");
	assert_int_equal(vcard_field(n, 2, &f), 0);
	STR_EQ(f, "");
	assert_int_equal(vcard_field(n, 3, &f), 0);
	STR_EQ(f, "Dr.");
	assert_int_equal(vcard_field(n, 4, &f), 0);
	STR_EQ(f, "");
	assert_int_equal(vcard_field(n, 5, &f), -ENOENT);
	assert_int_equal(vcard_field(SIP_STR_NULL, 0, &f), -ENOENT);
	assert_int_equal(vcard_field(SIP_STR_LIT("x"), 0, &f), 0);
	STR_EQ(f, "x");
}

static void t_tel_e164(void **s)
{
	static const struct {
		const char *value;
		const char *cc;
		const char *want;	/* NULL: -EINVAL */
	} cases[] = {
		{ "0151 2345678", "49", "+491512345678" },
		{ "tel:+1-555-0100", "49", "+15550100" },
		{ "TEL:+1-555-0100;ext=7", NULL, "+15550100" },
		{ "+44 (0)20 7946 0000", NULL, "+442079460000" },
		{ "0044 20 7946 0000", NULL, "+442079460000" },
		{ "  +49 (30) 123456  ", NULL, "+4930123456" },
		{ "+49\xC2\xA0" "151\xC2\xA0" "2345678", NULL, "+491512345678" },
		{ "(415) 555-0100", "1", "+14155550100" },
		{ "0151 2345678", NULL, NULL },		/* national, no cc */
		{ "*31#", "49", NULL },
		{ "555-1234,,567", "1", NULL },
		{ "sip:alice@example.com", "49", NULL },
		{ "call me", "49", NULL },
		{ "", "49", NULL },
		{ "+49 12", NULL, NULL },
		{ "+49 1234567890123456", NULL, NULL },
		{ "0123456789012345678901234567890123456789012345678901234567890123456789",
		  "49", NULL },
	};
	(void)s;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vcard_prop t = { 0 };
		t.value = (struct sip_str){ cases[i].value, strlen(cases[i].value) };
		e164(&t, cases[i].cc, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_google),
		cmocka_unit_test(t_apple),
		cmocka_unit_test(t_rfc6350),
		cmocka_unit_test(t_android21),
		cmocka_unit_test(t_folds_bom_case),
		cmocka_unit_test(t_empty),
		cmocka_unit_test(t_broken),
		cmocka_unit_test(t_concat),
		cmocka_unit_test(t_nul_version_tels),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_params),
		cmocka_unit_test(t_decode),
		cmocka_unit_test(t_field),
		cmocka_unit_test(t_tel_e164),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
