/*
 * test_csync: the handset's contacts (include/dataline/csync.h).
 * Import: good vCard 3.0, 4.0 and 2.1 files (quoted-printable names, tel
 * URIs, national forms with the country code), a broken card among good
 * ones (reported with its line, the rest imported), numbers that are not
 * numbers, national numbers without a country code, duplicates, files
 * that are no vCard (binary garbage, plain text, empty), the cap, and a
 * re-import keeping the marks. Discovery: the request body, answers
 * (good, per-entry errors, garbage JSON, oversize, answers that do not fit
 * the request), state.json, country codes; the asynchronous job: its
 * callback on the loop's thread, a refused connection, and a cancel while
 * a server holds the connection unanswered (no callback, nothing stored);
 * a whole sync against a scripted HTTPS server (self-signed, pinned):
 * digest challenge (SHA-256 chosen over MD5, the response verified), the
 * nonce reused with nc counting up, renewed after stale=true, batches of
 * 1,000, and a 429 mid-sync (Retry-After reported, answered marks kept).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dataline/csync.h"
#include "dataline/sip.h"

#define PORT_REFUSED 28391	/* nothing listens here (our range) */
#define PORT_SILENT 28392	/* accepts and never answers */

struct fx {
	char dir[64], path[96];
	struct hstore *h;
	struct csync_problem p[32];	/* what/detail copied below */
	char detail[32][CSYNC_DETAIL_MAX];
	size_t np;
};

/* A fresh store in a directory of its own. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_csync.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, HSTORE_FILE);
	assert_int_equal(hstore_open(f->path, &f->h), 0);
	*state = f;
	return 0;
}

/* Closes the store and removes what a test may have left in its dir. */
static int teardown(void **state)
{
	static const char *const left[] = { HSTORE_FILE, HSTORE_FILE "-wal",
					    HSTORE_FILE "-shm", "state.json" };
	struct fx *f = *state;
	char p[128];

	hstore_close(f->h);
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, left[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void problem_cb(void *arg, const struct csync_problem *p)
{
	struct fx *f = arg;

	if (f->np == 32)
		return;
	f->p[f->np] = *p;
	snprintf(f->detail[f->np], CSYNC_DETAIL_MAX, "%s", p->detail);
	f->p[f->np].detail = f->detail[f->np];
	f->np++;
}

static int import(struct fx *f, const char *text, size_t len, const char *cc,
		  size_t cap, struct csync_import_result *res)
{
	struct csync_import_opts o = { .country_code = cc, .max_contacts = cap,
				       .problem = problem_cb, .arg = f };

	f->np = 0;
	memset(res, 0, sizeof(*res));
	return csync_import(f->h, text, len, &o, 1000, res);
}

/* The counts of an import, and one callback per problem. */
static void expect(struct fx *f, const struct csync_import_result *res,
		   size_t cards, size_t bad, size_t numbers, size_t problems)
{
	assert_int_equal(res->cards, cards);
	assert_int_equal(res->bad_cards, bad);
	assert_int_equal(res->numbers, numbers);
	assert_int_equal(res->problems, problems);
	assert_int_equal(f->np, problems);
}

/* The stored contact of NUMBER (-ENOENT if none). */
static int contact(struct fx *f, const char *number, char *name, size_t cap,
		   enum hstore_mark *mark)
{
	struct hstore_contact *v;
	size_t n;
	int r = -ENOENT;

	assert_int_equal(hstore_contacts_list(f->h, 0, 0, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].number, number) == 0) {
			if (name)
				snprintf(name, cap, "%s", v[i].name);
			if (mark)
				*mark = v[i].registered;
			r = 0;
		}
	hstore_contacts_free(v, n);
	return r;
}

static size_t count(struct fx *f)
{
	struct hstore_contact *v;
	size_t n;

	assert_int_equal(hstore_contacts_list(f->h, 0, 0, &v, &n), 0);
	hstore_contacts_free(v, n);
	return n;
}

static void assert_name(struct fx *f, const char *number, const char *want)
{
	char name[CSYNC_NAME_MAX];

	assert_int_equal(contact(f, number, name, sizeof(name), NULL), 0);
	assert_string_equal(name, want);
}

/* ------------------------------------------------------------- import */

static void test_import_good(void **state)
{
	struct fx *f = *state;
	struct csync_import_result res;
	/* vCard 3.0 (Google/iPhone), 4.0 (RFC 6350 tel URI), 2.1 (Android:
	 * bare params, quoted-printable name) */
	static const char vcf[] =
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Alt\r\nN:Alt;Anna;;;\r\n"
		"TEL;TYPE=CELL:+49 151 2345 6701\r\n"
		"item1.TEL;type=pref:(030) 123-4567\r\nEND:VCARD\r\n"
		"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ben\\, the builder\r\n"
		"TEL;VALUE=uri;TYPE=\"voice,home\":tel:+1-418-656-9254;ext=102\r\n"
		"END:VCARD\r\n"
		"BEGIN:VCARD\r\nVERSION:2.1\r\n"
		"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen\r\n"
		"TEL;CELL;PREF:0049 151 23456702\r\nEND:VCARD\r\n";

	assert_int_equal(import(f, vcf, sizeof(vcf) - 1, "49", 0, &res), 0);
	expect(f, &res, 3, 0, 4, 0);
	assert_int_equal(count(f), 4);
	assert_name(f, "+4915123456701", "Anna Alt");
	assert_name(f, "+49301234567", "Anna Alt");	/* national, CC 49 */
	assert_name(f, "+14186569254", "Ben, the builder");
	assert_name(f, "+4915123456702", "J\xc3\xbcrgen M\xc3\xbcller");
}

static void test_import_broken_among_good(void **state)
{
	struct fx *f = *state;
	struct csync_import_result res;
	static const char vcf[] =
		"BEGIN:VCARD\nVERSION:3.0\nFN:One\nTEL:+4915100000001\nEND:VCARD\n"
		"BEGIN:VCARD\nVERSION:3.0\nFN:Broken\nTEL:+4915100000002\n"	/* 6 */
		"BEGIN:VCARD\nVERSION:3.0\nFN:Two\nTEL:+4915100000003\nEND:VCARD\n"
		"BEGIN:VCARD\nVERSION:9.9\nFN:Future\nTEL:+4915100000004\nEND:VCARD\n"
		"BEGIN:VCARD\nVERSION:3.0\nFN;bad\"quote:x\nTEL:+4915100000005\nEND:VCARD\n"
		"BEGIN:VCARD\nVERSION:3.0\nFN:Three\nTEL:+4915100000006\nEND:VCARD\n";

	assert_int_equal(import(f, vcf, sizeof(vcf) - 1, "49", 0, &res), 0);
	expect(f, &res, 3, 3, 3, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(f->p[i].kind, CSYNC_P_CARD);
	assert_int_equal(f->p[0].card_line, 6);		/* no END:VCARD */
	assert_int_equal(f->p[1].card_line, 15);	/* VERSION:9.9 */
	assert_int_equal(f->p[1].line, 16);
	assert_int_equal(f->p[2].card_line, 20);	/* bad line */
	assert_int_equal(f->p[2].line, 22);
	assert_int_equal(contact(f, "+4915100000001", NULL, 0, NULL), 0);
	assert_int_equal(contact(f, "+4915100000003", NULL, 0, NULL), 0);
	assert_int_equal(contact(f, "+4915100000006", NULL, 0, NULL), 0);
	assert_int_equal(contact(f, "+4915100000002", NULL, 0, NULL), -ENOENT);
}

static void test_import_bad_numbers(void **state)
{
	struct fx *f = *state;
	struct csync_import_result res;
	static const char vcf[] =
		"BEGIN:VCARD\nVERSION:3.0\nFN:Odd\n"
		"TEL:call me maybe\n"		/* 4 */
		"TEL:*31#\n"			/* 5 */
		"TEL;VALUE=uri:sip:bob@example.org\n"
		"TEL:+49 123\n"			/* too short */
		"TEL:+49 151 2345678 9999 9999\n"	/* too long */
		"TEL:+49 151 23456703\n"	/* the one good one */
		"END:VCARD\n"
		"BEGIN:VCARD\nVERSION:3.0\nFN:Mail only\nEMAIL:a@b.c\nEND:VCARD\n";

	assert_int_equal(import(f, vcf, sizeof(vcf) - 1, "49", 0, &res), 0);
	expect(f, &res, 2, 0, 1, 6);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(f->p[i].kind, CSYNC_P_TEL_NOT_NUMBER);
		assert_int_equal(f->p[i].line, 4 + i);
		assert_int_equal(f->p[i].card_line, 1);
	}
	assert_string_equal(f->p[0].detail, "call me maybe");
	assert_string_equal(f->p[1].detail, "*31#");
	assert_int_equal(f->p[5].kind, CSYNC_P_NO_TEL);
	assert_int_equal(f->p[5].line, 11);
	assert_name(f, "+4915123456703", "Odd");
}

static void test_import_national(void **state)
{
	struct fx *f = *state;
	struct csync_import_result res;
	static const char vcf[] =
		"BEGIN:VCARD\nVERSION:3.0\nFN:Nat\nTEL:0151 2345 6704\n"
		"TEL:+44 (0)20 7946 0000\nEND:VCARD\n";

	/* without a country code: the national one is reported as such */
	assert_int_equal(import(f, vcf, sizeof(vcf) - 1, NULL, 0, &res), 0);
	expect(f, &res, 1, 0, 1, 1);
	assert_int_equal(f->p[0].kind, CSYNC_P_TEL_NATIONAL);
	assert_int_equal(f->p[0].line, 4);
	assert_string_equal(f->p[0].detail, "0151 2345 6704");
	assert_int_equal(contact(f, "+442079460000", NULL, 0, NULL), 0);
	/* "" is "none" too */
	assert_int_equal(import(f, vcf, sizeof(vcf) - 1, "", 0, &res), 0);
	assert_int_equal(f->p[0].kind, CSYNC_P_TEL_NATIONAL);
	/* with one: stored */
	assert_int_equal(import(f, vcf, sizeof(vcf) - 1, "49", 0, &res), 0);
	expect(f, &res, 1, 0, 2, 0);
	assert_int_equal(contact(f, "+4915123456704", NULL, 0, NULL), 0);
	/* a country code that is none */
	assert_int_equal(import(f, vcf, sizeof(vcf) - 1, "049", 0, &res), -EINVAL);
	assert_int_equal(import(f, vcf, sizeof(vcf) - 1, "abc", 0, &res), -EINVAL);
}

static void test_import_not_vcard(void **state)
{
	struct fx *f = *state;
	struct csync_import_result res;
	unsigned char garbage[4096];
	static const char text[] = "Name,Phone\nAnna,+4915123456701\n";
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(garbage); i++) {
		x = x * 1103515245u + 12345u;
		garbage[i] = (unsigned char)(x >> 16);
	}
	garbage[100] = 0;
	assert_int_equal(import(f, (const char *)garbage, sizeof(garbage), "49",
				0, &res), -EBADMSG);
	assert_int_equal(res.not_vcard, 1);
	assert_int_equal(res.numbers, 0);
	assert_int_equal(f->np, 1);
	assert_int_equal(f->p[0].kind, CSYNC_P_NOT_VCARD);
	assert_int_equal(import(f, text, sizeof(text) - 1, "49", 0, &res),
			 -EBADMSG);
	assert_int_equal(res.not_vcard, 1);
	assert_int_equal(import(f, "", 0, "49", 0, &res), -EBADMSG);
	assert_int_equal(count(f), 0);
}

static void test_import_cap_and_duplicates(void **state)
{
	struct fx *f = *state;
	struct csync_import_result res;
	char vcf[4096];
	size_t len = 0;

	for (int i = 0; i < 6; i++)
		len += (size_t)snprintf(vcf + len, sizeof(vcf) - len,
					"BEGIN:VCARD\nFN:C%d\nTEL:+49151000001%02d\n"
					"END:VCARD\n", i, i < 2 ? 0 : i);
	/* C0 and C1 share a number: one stored, C0's name */
	assert_int_equal(import(f, vcf, len, "49", 3, &res), 0);
	assert_int_equal(res.numbers, 3);
	assert_int_equal(res.duplicates, 1);
	assert_int_equal(res.capped, 1);
	assert_int_equal(f->np, 1);
	assert_int_equal(f->p[0].kind, CSYNC_P_CAP);
	assert_int_equal(f->p[0].card_line, 17);	/* the 5th card */
	assert_int_equal(count(f), 3);
	assert_name(f, "+4915100000100", "C0");
	assert_int_equal(contact(f, "+4915100000104", NULL, 0, NULL), -ENOENT);
	/* the default cap is CSYNC_MAX_CONTACTS; more than allowed: -EINVAL */
	assert_int_equal(import(f, vcf, len, "49", 0, &res), 0);
	assert_int_equal(res.numbers, 5);
	assert_int_equal(res.capped, 0);
	assert_int_equal(import(f, vcf, len, "49", 1000000, &res), -EINVAL);
}

static void test_import_keeps_marks(void **state)
{
	struct fx *f = *state;
	struct csync_import_result res;
	struct hstore_mark_set m = { "+4915100000201", HSTORE_MARK_YES };
	static const char a[] = "BEGIN:VCARD\nFN:Old\nTEL:+4915100000201\nEND:VCARD\n";
	static const char b[] = "BEGIN:VCARD\nFN:New\nTEL:+4915100000201\nEND:VCARD\n";
	enum hstore_mark mark;

	assert_int_equal(import(f, a, sizeof(a) - 1, NULL, 0, &res), 0);
	assert_int_equal(hstore_contacts_set_marks(f->h, &m, 1, 5, NULL), 0);
	assert_int_equal(import(f, b, sizeof(b) - 1, NULL, 0, &res), 0);
	assert_name(f, "+4915100000201", "New");
	assert_int_equal(contact(f, "+4915100000201", NULL, 0, &mark), 0);
	assert_int_equal(mark, HSTORE_MARK_YES);
}

static void test_import_name_bytes(void **state)
{
	struct fx *f = *state;
	struct csync_import_result res;
	char vcf[2048], want[CSYNC_NAME_MAX];
	size_t len;

	/* Latin-1 bytes (2.1 with CHARSET=ISO-8859-1) are no UTF-8: '?' */
	len = (size_t)snprintf(vcf, sizeof(vcf),
			       "BEGIN:VCARD\nVERSION:2.1\nFN:J\xfcrgen\n"
			       "TEL:+4915100000301\nEND:VCARD\n"
			       "BEGIN:VCARD\nFN:%0600d\nTEL:+4915100000302\n"
			       "END:VCARD\n", 7);
	assert_int_equal(import(f, vcf, len, NULL, 0, &res), 0);
	assert_int_equal(res.numbers, 2);
	assert_name(f, "+4915100000301", "J?rgen");
	memset(want, '0', CSYNC_NAME_MAX - 1);
	want[CSYNC_NAME_MAX - 1] = '\0';
	assert_name(f, "+4915100000302", want);	/* cut to the limit */
}

/* ----------------------------------------------------------- discovery */

static const char *const sent3[] = { "+4915100000001", "+4915100000002",
				     "+4915100000003" };

static void test_request_body(void **state)
{
	char *s;
	const char *bad[] = { "+4915100000001", "0151" };

	assert_int_equal(csync_request_body(sent3, 3, &s), 0);
	assert_string_equal(s, "{\"numbers\":[\"+4915100000001\","
			    "\"+4915100000002\",\"+4915100000003\"]}");
	free(s);
	assert_int_equal(csync_request_body(bad, 2, &s), -EINVAL);
	assert_int_equal(csync_request_body(sent3, CSYNC_BATCH + 1, &s), -EINVAL);
}

static int parse(const char *body, struct hstore_mark_set *m, size_t *nm,
		 struct csync_counts *c)
{
	return csync_parse_answer(body, strlen(body), sent3, 3, m, nm, c);
}

static void test_parse_answers(void **state)
{
	struct hstore_mark_set m[3];
	struct csync_counts c = { 0 };
	size_t nm = 99;
	static const char good[] =
		"{\"results\": ["
		"{\"input\":\"+4915100000001\",\"number\":\"+4915100000001\","
		" \"registered\":true,\"capabilities\":[\"text\",\"voice\"]},"
		"{\"input\":\"+4915100000002\",\"number\":\"+4915100000002\","
		" \"registered\":false,\"capabilities\":[]},"
		"{\"input\":\"+4915100000003\",\"number\":\"+4915100000003\","
		" \"registered\":true,\"capabilities\":[\"text\"]}],"
		" \"remaining_today\": 4996}";
	static const char entry_err[] =
		"{\"results\": ["
		"{\"input\":\"+4915100000001\",\"number\":\"+4915100000001\","
		" \"registered\":false,\"capabilities\":[]},"
		"{\"input\":\"+4915100000002\",\"error\":\"not a phone number\"},"
		"{\"input\":\"+4915100000003\",\"number\":\"+4915100000003\","
		" \"registered\":true,\"capabilities\":[\"text\"]}]}";

	assert_int_equal(parse(good, m, &nm, &c), 0);
	assert_int_equal(nm, 3);
	assert_ptr_equal(m[0].number, sent3[0]);
	assert_int_equal(m[0].registered, HSTORE_MARK_YES);
	assert_int_equal(m[1].registered, HSTORE_MARK_NO);
	assert_int_equal(m[2].registered, HSTORE_MARK_YES);
	assert_int_equal(c.registered, 2);
	assert_int_equal(c.not_registered, 1);
	assert_int_equal(c.remaining_today, 4996);

	assert_int_equal(parse(entry_err, m, &nm, &c), 0);
	assert_int_equal(nm, 2);		/* no mark for the error */
	assert_ptr_equal(m[1].number, sent3[2]);
	assert_int_equal(c.entry_errors, 1);
	assert_int_equal(c.registered, 3);	/* summed */
	assert_int_equal(c.remaining_today, -1);
}

static void test_parse_bad_answers(void **state)
{
	struct hstore_mark_set m[3] = { { "untouched", HSTORE_MARK_NO } };
	struct csync_counts c = { 0 };
	size_t nm = 99;
	char *big;
	static const char *const bad[] = {
		"", "garbage", "{\"results\": [", "[1,2,3]", "{}",
		"{\"results\": {}}",
		/* two results for three numbers */
		"{\"results\":[{\"input\":\"+4915100000001\",\"number\":"
		"\"+4915100000001\",\"registered\":true},{\"input\":"
		"\"+4915100000002\",\"number\":\"+4915100000002\","
		"\"registered\":true}]}",
		/* an input that is not what was sent (order swapped) */
		"{\"results\":[{\"input\":\"+4915100000002\",\"number\":"
		"\"+4915100000002\",\"registered\":true},{\"input\":"
		"\"+4915100000001\",\"number\":\"+4915100000001\","
		"\"registered\":true},{\"input\":\"+4915100000003\",\"number\":"
		"\"+4915100000003\",\"registered\":true}]}",
		/* registered not a boolean */
		"{\"results\":[{\"input\":\"+4915100000001\",\"number\":"
		"\"+4915100000001\",\"registered\":1},{\"input\":"
		"\"+4915100000002\",\"error\":\"x\"},{\"input\":"
		"\"+4915100000003\",\"error\":\"x\"}]}",
		/* neither registered nor error */
		"{\"results\":[{\"input\":\"+4915100000001\"},{\"input\":"
		"\"+4915100000002\",\"error\":\"x\"},{\"input\":"
		"\"+4915100000003\",\"error\":\"x\"}]}",
		/* a duplicate member */
		"{\"results\":[], \"results\":[]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], m, &nm, &c), -EBADMSG);
		assert_int_equal(nm, 99);
		assert_string_equal(m[0].number, "untouched");
		assert_int_equal(c.registered + c.not_registered +
				 c.entry_errors, 0);
	}
	big = malloc(CSYNC_RESP_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', CSYNC_RESP_MAX + 1);
	big[CSYNC_RESP_MAX + 1] = '\0';
	assert_int_equal(parse(big, m, &nm, &c), -E2BIG);
	free(big);
}

static void test_country_code(void **state)
{
	static const char *const t[][2] = {
		{ "+4915123456789", "49" }, { "+14155550100", "1" },
		{ "+79161234567", "7" }, { "+442079460000", "44" },
		{ "+8613800138000", "86" }, { "+35312345678", "353" },
		{ "+97150123456", "971" }, { "+2348012345678", "234" },
		{ "+2025550100", "20" },
	};
	char cc[4];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(csync_country_code(t[i][0], cc), 0);
		assert_string_equal(cc, t[i][1]);
	}
	assert_int_equal(csync_country_code("0151", cc), -EINVAL);
}

static void write_state(struct fx *f, const char *json)
{
	char p[128];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/state.json", f->dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(json, fp);
	fclose(fp);
}

static void test_account_load(void **state)
{
	struct fx *f = *state;
	struct csync_account a;

	assert_int_equal(csync_account_load(f->dir, &a), -ENOENT);
	write_state(f, "{\"server\":\"https://h:1\",\"trust\":{\"pin_sha256\":"
		    "\"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
		    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89\"},\"account\":"
		    "{\"number\":\"+4915100000001\",\"username\":\"u\","
		    "\"password\":\"p\"}}");
	assert_int_equal(csync_account_load(f->dir, &a), 0);
	assert_string_equal(a.server, "https://h:1");
	assert_string_equal(a.username, "u");
	assert_string_equal(a.country_code, "49");	/* the account's */
	assert_string_equal(a.pin, "abcdef0123456789abcdef0123456789"
				   "abcdef0123456789abcdef0123456789");
	assert_int_equal(a.tofu, 0);
	write_state(f, "{\"server\":\"https://h:1\",\"country_code\":\"44\","
		    "\"trust\":{\"tofu\":true},\"account\":{\"number\":"
		    "\"+4915100000001\",\"username\":\"u\",\"password\":\"p\"}}");
	assert_int_equal(csync_account_load(f->dir, &a), 0);
	assert_string_equal(a.country_code, "44");	/* the setting */
	assert_int_equal(a.tofu, 1);
	/* not provisioned yet (pending only), a bad setting, not JSON */
	write_state(f, "{\"server\":\"https://h:1\",\"pending\":{}}");
	assert_int_equal(csync_account_load(f->dir, &a), -EINVAL);
	write_state(f, "{\"server\":\"https://h:1\",\"country_code\":\"0\","
		    "\"account\":{\"number\":\"+4915100000001\",\"username\":"
		    "\"u\",\"password\":\"p\"}}");
	assert_int_equal(csync_account_load(f->dir, &a), -EINVAL);
	write_state(f, "not json");
	assert_int_equal(csync_account_load(f->dir, &a), -EINVAL);
}

/* ------------------------------------------------------- the async job */

struct waiter {
	struct event_base *base;
	pthread_t loop;
	int calls;
	int on_loop;
	struct csync_result res;
};

static void done_cb(void *arg, const struct csync_result *r)
{
	struct waiter *w = arg;

	w->calls++;
	w->on_loop = pthread_equal(pthread_self(), w->loop);
	w->res = *r;
	event_base_loopbreak(w->base);
}

static void account(struct csync_account *a, int port)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->server, sizeof(a->server), "https://127.0.0.1:%d", port);
	strcpy(a->number, "+4915100000001");
	strcpy(a->username, "u");
	strcpy(a->password, "p");
	a->tofu = 1;
}

static void add_contacts(struct fx *f)
{
	struct hstore_contact_put p[2] = { { "+4915100000401", "A", NULL },
					   { "+4915100000402", "B", NULL } };

	assert_int_equal(hstore_contacts_put(f->h, p, 2, 1), 0);
}

static void test_job_empty_and_refused(void **state)
{
	struct fx *f = *state;
	struct waiter w = { .loop = pthread_self() };
	struct csync_account a;
	struct csync_job *j;
	struct csync_result r;

	w.base = event_base_new();
	account(&a, PORT_REFUSED);
	/* nothing to ask: done, on the loop, no network */
	assert_int_equal(csync_sync_start(w.base, &a, f->h, done_cb, &w, &j), 0);
	assert_int_equal(w.calls, 0);		/* never from inside start */
	event_base_dispatch(w.base);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.on_loop, 1);
	assert_int_equal(w.res.err, 0);
	assert_int_equal(w.res.contacts, 0);
	/* nobody listening: -ECONNREFUSED, marks left unknown */
	add_contacts(f);
	assert_int_equal(csync_sync_start(w.base, &a, f->h, done_cb, &w, &j), 0);
	event_base_dispatch(w.base);
	assert_int_equal(w.calls, 2);
	assert_int_equal(w.on_loop, 1);
	assert_int_equal(w.res.err, -ECONNREFUSED);
	assert_int_equal(w.res.contacts, 2);
	assert_int_equal(w.res.batches, 0);
	assert_int_equal(csync_sync(&a, f->h, 2, &r), -ECONNREFUSED);
	/* not https */
	snprintf(a.server, sizeof(a.server), "http://127.0.0.1:%d", PORT_REFUSED);
	assert_int_equal(csync_sync(&a, f->h, 2, &r), -EPROTONOSUPPORT);
	event_base_free(w.base);
}

static void test_job_cancel(void **state)
{
	struct fx *f = *state;
	struct waiter w = { .loop = pthread_self() };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(PORT_SILENT) };
	struct csync_account a;
	struct csync_job *j;
	struct timeval tv = { 0, 300000 };
	enum hstore_mark mark;
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(ls >= 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	add_contacts(f);
	w.base = event_base_new();
	account(&a, PORT_SILENT);
	/* the TLS handshake hangs: the server never answers */
	assert_int_equal(csync_sync_start(w.base, &a, f->h, done_cb, &w, &j), 0);
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	assert_int_equal(w.calls, 0);
	csync_job_cancel(j);
	/* no callback after a cancel, the loop has nothing left of the job */
	tv.tv_usec = 200000;
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	assert_int_equal(w.calls, 0);
	assert_int_equal(contact(f, "+4915100000401", NULL, 0, &mark), 0);
	assert_int_equal(mark, HSTORE_MARK_UNKNOWN);
	event_base_free(w.base);
	close(ls);
	usleep(100000);	/* the worker lets go of the job */
}

/* ------------------------------------------- a scripted HTTPS server */

#define PORT_MOCK 28393		/* the mock discovery server */
#define MOCK_MAX 8

/* One connection's answer: STATUS with HEADERS, and for 200 a body made
 * from the request's numbers (every even one registered). */
struct mock_step {
	int status;
	const char *headers;	/* extra lines, each ending in \r\n */
	const char *body;	/* NULL: the 200 results */
};

struct mock {
	int ls;
	SSL_CTX *ctx;
	const struct mock_step *steps;
	size_t nsteps;
	char authz[MOCK_MAX][1024];	/* Authorization of each request */
	size_t nnumbers[MOCK_MAX];	/* numbers in each request */
	char pin[AGENT_PIN_LEN];	/* its certificate's */
};

/* A self-signed P-256 certificate for the mock. */
static SSL_CTX *mock_ctx(char pin[AGENT_PIN_LEN])
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned char md[32];
	unsigned int len;

	assert_non_null(k);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)"mock", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, k), 1);
	X509_digest(x, EVP_sha256(), md, &len);
	for (unsigned i = 0; i < 32; i++)
		snprintf(pin + 2 * i, 3, "%02x", md[i]);
	X509_free(x);
	EVP_PKEY_free(k);
	return ctx;
}

/* Reads one request (headers, then Content-Length bytes) into BUF. */
static size_t mock_read(SSL *ssl, char *buf, size_t cap)
{
	size_t len = 0, want = 0;
	char *end;

	for (;;) {
		int r = SSL_read(ssl, buf + len, (int)(cap - 1 - len));

		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end && !want) {
			char *cl = strcasestr(buf, "Content-Length:");

			want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (want && len >= want)
			break;
	}
	return len;
}

/* The 200 answer to the request body BODY. */
static char *mock_results(const char *body, size_t *nnum)
{
	json_t *req = json_loads(body, 0, NULL), *res = json_array(), *o;
	json_t *nums = json_object_get(req, "numbers"), *v;
	size_t i;
	char *s;

	json_array_foreach(nums, i, v) {
		json_array_append_new(res, json_pack("{s:O,s:O,s:b,s:[]}",
			"input", v, "number", v, "registered", i % 2 == 0,
			"capabilities"));
	}
	*nnum = json_array_size(nums);
	o = json_pack("{s:o,s:i}", "results", res, "remaining_today", 4000);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	json_decref(req);
	return s;
}

static void *mock_thread(void *arg)
{
	struct mock *m = arg;
	static char buf[256 * 1024];

	for (size_t i = 0; i < m->nsteps && i < MOCK_MAX; i++) {
		const struct mock_step *st = &m->steps[i];
		int fd = accept(m->ls, NULL, NULL);
		SSL *ssl = SSL_new(m->ctx);
		char *body = NULL, *a, head[512];
		size_t len;

		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			len = mock_read(ssl, buf, sizeof(buf));
			a = strcasestr(buf, "\r\nAuthorization: ");
			if (a)
				snprintf(m->authz[i], sizeof(m->authz[i]), "%.*s",
					 (int)strcspn(a + 17, "\r"), a + 17);
			if (st->status == 200 && strstr(buf, "\r\n\r\n"))
				body = mock_results(strstr(buf, "\r\n\r\n") + 4,
						    &m->nnumbers[i]);
			len = (size_t)snprintf(head, sizeof(head),
				"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
				"%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
				st->status, st->headers ? st->headers : "",
				strlen(body ? body : st->body ? st->body : ""));
			SSL_write(ssl, head, (int)len);
			SSL_write(ssl, body ? body : st->body ? st->body : "",
				  (int)strlen(body ? body : st->body ? st->body : ""));
			SSL_shutdown(ssl);
		}
		free(body);
		SSL_free(ssl);
		close(fd);
	}
	return NULL;
}

/* Digest checks of the mock's I-th request: nonce and nonce-count, and
 * the response right for the account's password. */
static void assert_authz(const struct mock *m, size_t i, const char *nonce,
			 const char *nc)
{
	struct sip_digest_credentials c;
	char ha1[SIP_DIGEST_HEX_MAX];

	assert_int_equal(sip_digest_credentials_decode(
		(struct sip_str){ m->authz[i], strlen(m->authz[i]) }, &c), 0);
	assert_true(sip_str_eq(c.nonce, nonce));
	assert_true(sip_str_eq(c.nc, nc));
	assert_true(sip_str_eq(c.uri, CSYNC_PATH));
	assert_int_equal(c.alg, SIP_DIGEST_SHA256);
	assert_int_equal(sip_digest_ha1(c.alg, "u", "mock.realm", "p", ha1), 0);
	assert_int_equal(sip_digest_verify(&c, (struct sip_str){ "POST", 4 },
					   ha1), 0);
}

#define CHAL(nonce, extra) "WWW-Authenticate: Digest realm=\"mock.realm\", " \
	"nonce=\"" nonce "\", algorithm=MD5, qop=\"auth\"\r\n"               \
	"WWW-Authenticate: Digest realm=\"mock.realm\", nonce=\"" nonce      \
	"\", algorithm=SHA-256, qop=\"auth\"" extra "\r\n"

/* 2,500 numbers against the script: challenge, batch 1 (nc 1), batch 2
 * refused as stale, answered with the new nonce (nc 1 again), batch 3
 * 429. The two answered batches' marks are stored, the 429 reported. */
static void test_sync_digest_batches_429(void **state)
{
	static const struct mock_step steps[] = {
		{ 401, CHAL("n1", ""), "{\"error\":\"unauthorized\"}" },
		{ 200, NULL, NULL },
		{ 401, CHAL("n2", ", stale=true"), "{\"error\":\"unauthorized\"}" },
		{ 200, NULL, NULL },
		{ 429, "Retry-After: 120\r\n",
		  "{\"error\":\"rate_limited\",\"retry_after\":120}" },
	};
	struct fx *f = *state;
	struct mock m = { .steps = steps, .nsteps = 5 };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(PORT_MOCK) };
	struct hstore_contact_put p[2500];
	char nums[2500][E164_MAX];
	struct csync_account a;
	struct csync_result r;
	enum hstore_mark mark;
	pthread_t t;
	int one = 1;

	for (size_t i = 0; i < 2500; i++) {
		snprintf(nums[i], E164_MAX, "+4940%07zu", i);
		p[i] = (struct hstore_contact_put){ nums[i], "x", NULL };
	}
	assert_int_equal(hstore_contacts_put(f->h, p, 2500, 1), 0);
	m.ctx = mock_ctx(m.pin);
	m.ls = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(m.ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(m.ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(m.ls, 8), 0);
	assert_int_equal(pthread_create(&t, NULL, mock_thread, &m), 0);
	account(&a, PORT_MOCK);
	strcpy(a.pin, m.pin);	/* pinned: the mock's own certificate */

	assert_int_equal(csync_sync(&a, f->h, 50, &r), -EAGAIN);
	pthread_join(t, NULL);
	close(m.ls);
	SSL_CTX_free(m.ctx);
	assert_int_equal(r.http_status, 429);
	assert_string_equal(r.error, "rate_limited");
	assert_int_equal(r.retry_after, 120);
	assert_int_equal(r.contacts, 2500);
	assert_int_equal(r.batches, 2);
	assert_int_equal(r.asked, 2000);
	assert_int_equal(r.counts.registered, 1000);
	assert_int_equal(r.counts.not_registered, 1000);
	assert_int_equal(r.counts.remaining_today, 4000);
	assert_int_equal(r.marks_changed, 2000);
	assert_string_equal(r.pin_seen, m.pin);
	assert_string_equal(m.authz[0], "");	/* the first goes without */
	assert_authz(&m, 1, "n1", "00000001");
	assert_authz(&m, 2, "n1", "00000002");	/* the nonce reused */
	assert_authz(&m, 3, "n2", "00000001");	/* renewed after stale */
	assert_authz(&m, 4, "n2", "00000002");
	assert_int_equal(m.nnumbers[1], 1000);
	assert_int_equal(m.nnumbers[3], 1000);
	assert_int_equal(contact(f, nums[0], NULL, 0, &mark), 0);
	assert_int_equal(mark, HSTORE_MARK_YES);
	assert_int_equal(contact(f, nums[1], NULL, 0, &mark), 0);
	assert_int_equal(mark, HSTORE_MARK_NO);
	assert_int_equal(contact(f, nums[2499], NULL, 0, &mark), 0);
	assert_int_equal(mark, HSTORE_MARK_UNKNOWN);	/* never answered */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_broken_among_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_bad_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_national, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_not_vcard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_cap_and_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_keeps_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_name_bytes, setup, teardown),
		cmocka_unit_test(test_request_body),
		cmocka_unit_test(test_parse_answers),
		cmocka_unit_test(test_parse_bad_answers),
		cmocka_unit_test(test_country_code),
		cmocka_unit_test_setup_teardown(test_account_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_empty_and_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_digest_batches_429, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
