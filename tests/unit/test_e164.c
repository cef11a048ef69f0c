/*
 * test_e164: E.164 normalisation and validation, table-driven, with the
 * edges (8 and 15 digits, leading 0, separators, embedded NUL).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/e164.h"

static const struct {
	const char *in;
	const char *out; /* NULL: rejected */
} cases[] = {
	{ "+8613800138000", "+8613800138000" },
	{ "+86 138 0013 8000", "+8613800138000" },
	{ "+1 (415) 555-0100", "+14155550100" },
	{ "+49.151.1234.5678", "+4915112345678" },
	{ "+12345678", "+12345678" },                 /* 8 digits */
	{ "+123456789012345", "+123456789012345" },   /* 15 digits */
	{ "+1234567", NULL },                         /* 7 digits */
	{ "+1234567890123456", NULL },                /* 16 digits */
	{ "+0123456789", NULL },                      /* leading 0 */
	{ "+ 0123456789", NULL },                     /* leading 0 after sep */
	{ "8613800138000", NULL },                    /* no + */
	{ "008613800138000", NULL },
	{ " +8613800138000", NULL },
	{ "+86138001380a0", NULL },
	{ "++8613800138000", NULL },
	{ "+", NULL },
	{ "", NULL },
	{ "+86-138-0013-8000-", "+8613800138000" },
	{ "+８613800138000", NULL },                  /* fullwidth digit */
	{ "+861380013800\t", NULL },
	/* "(0)" after the country code is the trunk prefix: dropped */
	{ "+86(0)13900000001", "+8613900000001" },
	{ "+86 (0) 139 0000 0001", "+8613900000001" },
	{ "+44 (0)20 7946 0000", "+442079460000" },
	{ "+(0)4420794600", NULL },                   /* before any digit */
	{ "+44(0)(0)2079460000", "+4402079460000" },  /* only once */
	{ "+44(00)2079460000", "+44002079460000" },   /* not "(0)": digits */
	{ "+44(0", NULL },                            /* too short anyway */
	{ "+44(0)a2079460000", NULL },
};

static void test_normalize_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[E164_MAX];
		int rc;

		memset(out, 'X', sizeof(out));
		rc = e164_normalize(cases[i].in, strlen(cases[i].in), out);
		if (cases[i].out) {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].out);
			assert_true(e164_is_valid(out));
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_int_equal(out[0], 'X'); /* untouched on failure */
		}
	}
}

static void test_length_is_respected(void **state)
{
	const char buf[] = "+8613800138000\0" "999";
	char out[E164_MAX];

	(void)state;
	/* only len bytes are read: a prefix is parsed on its own */
	assert_int_equal(e164_normalize(buf, 9, out), 0);
	assert_string_equal(out, "+86138001");
	/* an embedded NUL inside len is not a digit */
	assert_int_equal(e164_normalize(buf, sizeof(buf) - 1, out), -EINVAL);
	assert_int_equal(e164_normalize(NULL, 0, out), -EINVAL);
}

static void test_is_valid(void **state)
{
	(void)state;
	assert_true(e164_is_valid("+8613800138000"));
	assert_false(e164_is_valid("+86 13800138000"));
	assert_false(e164_is_valid("8613800138000"));
	assert_false(e164_is_valid("+0613800138000"));
	assert_false(e164_is_valid("+1234567"));
	assert_false(e164_is_valid("+1234567890123456"));
	assert_false(e164_is_valid(NULL));
	assert_false(e164_is_valid("+"));
}

/* Address-book forms with a default country code (contact discovery). */
static const struct {
	const char *in, *cc;
	const char *out; /* NULL: rejected */
} national[] = {
	{ "030 1234567", "49", "+49301234567" },         /* trunk 0 dropped */
	{ "(030) 123-4567", "49", "+49301234567" },
	{ "0151 1234 5678", "49", "+4915112345678" },
	{ "0049 151 1234 5678", "49", "+4915112345678" }, /* 00 = + */
	{ "0086 138 0013 8000", "49", "+8613800138000" },
	{ "0086 138 0013 8000", NULL, "+8613800138000" }, /* 00 needs no CC */
	{ "+86 138 0013 8000", "49", "+8613800138000" },  /* + as before */
	{ " +86 138 0013 8000", "49", "+8613800138000" }, /* lead separator */
	{ "+44 (0)20 7946 0000", "49", "+442079460000" },
	{ "(415) 555-0100", "1", "+14155550100" },        /* NANP: no trunk 0 */
	{ "030 1234567", NULL, NULL },                    /* no CC configured */
	{ "030 1234567", "", NULL },
	{ "030 1234567", "0", NULL },                     /* not a CC */
	{ "030 1234567", "4912", NULL },                  /* 4 digits */
	{ "030 1234567", "4a", NULL },
	{ "0301234567890123", "49", NULL },               /* too long */
	{ "0123", "49", NULL },                           /* too short */
	{ "000 49 30 1234567", "49", NULL },              /* 000: +0... */
	{ "abc", "49", NULL },
	{ "", "49", NULL },
	{ "0", "49", NULL },
	{ "00", "49", NULL },
	{ "030 12345x7", "49", NULL },
	{ "+", "49", NULL },
};

static void test_normalize_national(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(national) / sizeof(national[0]); i++) {
		char out[E164_MAX];
		int rc;

		memset(out, 'X', sizeof(out));
		rc = e164_normalize_national(national[i].in,
					     strlen(national[i].in),
					     national[i].cc, out);
		if (national[i].out) {
			assert_int_equal(rc, 0);
			assert_string_equal(out, national[i].out);
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_int_equal(out[0], 'X');
		}
	}
	assert_int_equal(e164_normalize_national(NULL, 0, "49", NULL), -EINVAL);
	assert_true(e164_country_code_valid("1"));
	assert_true(e164_country_code_valid("886"));
	assert_false(e164_country_code_valid(NULL));
	assert_false(e164_country_code_valid("+49"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_national),
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_length_is_respected),
		cmocka_unit_test(test_is_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
