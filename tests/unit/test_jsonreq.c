/*
 * test_jsonreq: the strict request-object reader against a table of valid
 * and malformed bodies, with jansson (a full JSON parser) as the referee
 * for every case where both must agree; then the field semantics: escapes
 * and surrogate pairs, non-string values, duplicates, buffer sizes, depth,
 * and buffers left untouched on failure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "dataline/jsonreq.h"

static const struct {
	const char *text;
	int ok;
	size_t len; /* 0: strlen(text) */
} table[] = {
	{ "{}", 1, 0 },
	{ " {\"number\":\"+8613800138000\"} \n", 1, 0 },
	{ "{\"number\":\"+1\",\"code\":\"123456\",\"x\":[1,2.5,-3e10,true,false,null,{\"a\":{}}]}", 1, 0 },
	{ "{\"a\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 1, 0 },
	{ "{\"a\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}", 1, 0 },
	{ "{\"a\":0}", 1, 0 },
	{ "{\"a\":-0.0e-0}", 1, 0 },
	{ "{\"a\":[]}", 1, 0 },
	{ "", 0, 0 },
	{ " ", 0, 0 },
	{ "[]", 0, 0 },              /* not an object */
	{ "\"x\"", 0, 0 },
	{ "{", 0, 0 },
	{ "{\"number\":", 0, 0 },
	{ "{\"number\":\"+1\"", 0, 0 },
	{ "{\"number\":\"+1\",}", 0, 0 },
	{ "{,}", 0, 0 },
	{ "{\"a\" \"b\"}", 0, 0 },
	{ "{a:1}", 0, 0 },
	{ "{'a':1}", 0, 0 },
	{ "{\"a\":01}", 0, 0 },
	{ "{\"a\":1.}", 0, 0 },
	{ "{\"a\":.5}", 0, 0 },
	{ "{\"a\":+1}", 0, 0 },
	{ "{\"a\":1e}", 0, 0 },
	{ "{\"a\":tru}", 0, 0 },
	{ "{\"a\":True}", 0, 0 },
	{ "{\"a\":[1,]}", 0, 0 },
	{ "{\"a\":[1 2]}", 0, 0 },
	{ "{\"a\":\"\x01\"}", 0, 0 },        /* raw control character */
	{ "{\"a\":\"\\x\"}", 0, 0 },          /* unknown escape */
	{ "{\"a\":\"\\u12\"}", 0, 0 },
	{ "{\"a\":\"\\ud83d\"}", 0, 0 },      /* lone high surrogate */
	{ "{\"a\":\"\\ude00\"}", 0, 0 },      /* lone low surrogate */
	{ "{\"a\":\"\\u0000\"}", 0, 0 },
	{ "{\"a\":\"\xc3\"}", 0, 0 },         /* truncated UTF-8 */
	{ "{\"a\":\"\xc0\xaf\"}", 0, 0 },     /* overlong */
	{ "{\"a\":\"\xed\xa0\x80\"}", 0, 0 }, /* UTF-8 surrogate */
	{ "{\"a\":\"\xf4\x90\x80\x80\"}", 0, 0 }, /* above U+10FFFF */
	{ "{\"a\":\"\xff\"}", 0, 0 },
	{ "{} {}", 0, 0 },
	{ "{}x", 0, 0 },
	{ "{\"a\":1}\0", 0, 8 },      /* a NUL after the object */
};

static void test_table_agrees_with_jansson(void **state)
{
	char number[32], code[16];

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t len = table[i].len ? table[i].len : strlen(table[i].text);
		struct jsonreq_field f[2] = {
			{ "number", number, sizeof(number), 0, 0 },
			{ "code", code, sizeof(code), 0, 0 },
		};
		json_t *ref = json_loadb(table[i].text, len, JSON_REJECT_DUPLICATES, NULL);
		int ref_ok = ref && json_is_object(ref);
		int rc = jsonreq_parse(table[i].text, len, f, 2);

		json_decref(ref);
		if ((rc == 0) != table[i].ok || ref_ok != table[i].ok)
			fail_msg("case %zu '%s': jsonreq %d, jansson %d, want %d", i,
				 table[i].text, rc, ref_ok, table[i].ok);
	}
}

static void test_fields(void **state)
{
	const char *t = "{\"code\":\"12\\u0033456\",\"n\":1,\"number\":\"+86 138\",\"z\":{\"number\":5}}";
	char number[32], code[16], n[8];
	struct jsonreq_field f[3] = {
		{ "number", number, sizeof(number), 0, 0 },
		{ "code", code, sizeof(code), 0, 0 },
		{ "n", n, sizeof(n), 0, 0 },
	};

	(void)state;
	assert_int_equal(jsonreq_parse(t, strlen(t), f, 3), 0);
	assert_int_equal(f[0].found, JSONREQ_STRING);
	assert_string_equal(number, "+86 138"); /* the nested "number" is not it */
	assert_int_equal(f[0].len, 7);
	assert_int_equal(f[1].found, JSONREQ_STRING);
	assert_string_equal(code, "123456");
	assert_int_equal(f[2].found, JSONREQ_NOT_STRING);

	/* surrogate pair to UTF-8 */
	t = "{\"number\":\"\\ud83d\\ude00\\u00e9\"}";
	assert_int_equal(jsonreq_parse(t, strlen(t), f, 1), 0);
	assert_string_equal(number, "\xf0\x9f\x98\x80\xc3\xa9");
	assert_int_equal(f[0].len, 6);

	/* missing */
	t = "{\"other\":\"x\"}";
	assert_int_equal(jsonreq_parse(t, strlen(t), f, 2), 0);
	assert_int_equal(f[0].found, JSONREQ_MISSING);
	assert_int_equal(f[1].found, JSONREQ_MISSING);
}

static void test_refusals_leave_buffers(void **state)
{
	char number[8], code[16];
	struct jsonreq_field f[2] = {
		{ "number", number, sizeof(number), JSONREQ_MISSING, 0 },
		{ "code", code, sizeof(code), JSONREQ_MISSING, 0 },
	};
	const char *t;
	char deep[200];

	(void)state;
	memset(number, 'X', sizeof(number));
	/* a wanted member twice */
	t = "{\"number\":\"+1\",\"number\":\"+2\"}";
	assert_int_equal(jsonreq_parse(t, strlen(t), f, 2), -EINVAL);
	/* too long for its buffer: 8 bytes incl. NUL holds 7 */
	t = "{\"number\":\"1234567\"}";
	assert_int_equal(jsonreq_parse(t, strlen(t), f, 1), 0);
	assert_string_equal(number, "1234567");
	memset(number, 'X', sizeof(number));
	f[0].found = JSONREQ_MISSING;
	t = "{\"number\":\"12345678\"}";
	assert_int_equal(jsonreq_parse(t, strlen(t), f, 1), -E2BIG);
	/* valid start, broken end: nothing written */
	t = "{\"number\":\"+1\",\"code\":\"1\",";
	assert_int_equal(jsonreq_parse(t, strlen(t), f, 2), -EINVAL);
	for (size_t i = 0; i < sizeof(number); i++)
		assert_int_equal(number[i], 'X');
	assert_int_equal(f[0].found, JSONREQ_MISSING);

	/* nesting: 31 levels inside the object pass, 32 do not */
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"a\":");
	for (int i = 0; i < 31; i++)
		strcat(deep, "[");
	for (int i = 0; i < 31; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	assert_int_equal(jsonreq_parse(deep, strlen(deep), f, 2), 0);
	strcpy(deep, "{\"a\":");
	for (int i = 0; i < 32; i++)
		strcat(deep, "[");
	for (int i = 0; i < 32; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	assert_int_equal(jsonreq_parse(deep, strlen(deep), f, 2), -EINVAL);

	assert_int_equal(jsonreq_parse(NULL, 0, f, 2), -EINVAL);
}

/* ------------------------------------------------ jsonreq_array */

struct arr_seen {
	size_t n;
	enum jsonreq_found kind[8];
	char s[8][16];
	int stop_at;   /* return -EINTR from this index, -1 never */
};

static int arr_cb(void *arg, size_t index, enum jsonreq_found kind,
		  const char *s, size_t len)
{
	struct arr_seen *a = arg;

	assert_int_equal(index, a->n);
	assert_int_equal(strlen(s), len);
	if (a->n < 8) {
		a->kind[a->n] = kind;
		snprintf(a->s[a->n], sizeof(a->s[0]), "%s", s);
	}
	a->n++;
	return (int)index == a->stop_at ? -EINTR : 0;
}

static void test_array(void **state)
{
	static const struct {
		const char *text;
		int rc;
		size_t n;       /* callbacks made */
	} t[] = {
		{ "{\"numbers\":[]}", 0, 0 },
		{ "{\"numbers\":[\"+49 30\",42,\"a\\u00e9\",null,{\"x\":[1]}]}", 0, 5 },
		{ " {\"other\":[1,2],\"numbers\":[\"x\"],\"z\":{}} ", 0, 1 },
		{ "{\"numbers\":[\"0123456789abcdefXYZ\"]}", 0, 1 }, /* too long */
		{ "{\"numbers\":[1,2,3,4]}", -E2BIG, 0 },  /* max 3 */
		{ "{\"numbers\":\"+4930\"}", -EINVAL, 0 }, /* not an array */
		{ "{\"numbers\":[\"a\"],\"numbers\":[]}", -EINVAL, 0 },
		{ "{\"number\":[\"a\"]}", -ENOENT, 0 },
		{ "{\"numbers\":[\"a\",]}", -EINVAL, 0 },  /* trailing comma */
		{ "{\"numbers\":[\"a\"]", -EINVAL, 0 },   /* unterminated */
		{ "{\"numbers\":[\"a\"]} x", -EINVAL, 0 },
		{ "[\"numbers\"]", -EINVAL, 0 },
		{ "{\"numbers\":[\"\\u0000\"]}", -EINVAL, 0 },
		{ "{\"numbers\":[\"\xff\"]}", -EINVAL, 0 },  /* bad UTF-8 */
		{ "{\"numbers\":[\"a\"],\"b\":tru}", -EINVAL, 0 }, /* late error:
						no callback made before it */
		{ "", -EINVAL, 0 },
	};
	char buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct arr_seen a = { .stop_at = -1 };
		size_t count = 99;
		int rc = jsonreq_array(t[i].text, strlen(t[i].text), "numbers",
				       buf, sizeof(buf), 3 + (i == 1) * 2,
				       arr_cb, &a, &count);

		assert_int_equal(rc, t[i].rc);
		assert_int_equal(a.n, t[i].n);
		if (rc == 0)
			assert_int_equal(count, t[i].n);
		else
			assert_int_equal(count, 99);
	}
	{
		const char *s = "{\"numbers\":[\"+49 30\",42,\"a\\u00e9\",null,"
				"\"0123456789abcdefXYZ\"]}";
		struct arr_seen a = { .stop_at = -1 };

		assert_int_equal(jsonreq_array(s, strlen(s), "numbers", buf,
					       sizeof(buf), 1000, arr_cb, &a,
					       NULL), 0);
		assert_int_equal(a.n, 5);
		assert_int_equal(a.kind[0], JSONREQ_STRING);
		assert_string_equal(a.s[0], "+49 30");
		assert_int_equal(a.kind[1], JSONREQ_NOT_STRING);
		assert_string_equal(a.s[1], "");
		assert_int_equal(a.kind[2], JSONREQ_STRING);
		assert_string_equal(a.s[2], "a\xc3\xa9");
		assert_int_equal(a.kind[3], JSONREQ_NOT_STRING);
		assert_int_equal(a.kind[4], JSONREQ_TOO_LONG);
		assert_string_equal(a.s[4], "");
		/* the callback's error stops the walk and is returned */
		a = (struct arr_seen){ .stop_at = 1 };
		assert_int_equal(jsonreq_array(s, strlen(s), "numbers", buf,
					       sizeof(buf), 1000, arr_cb, &a,
					       NULL), -EINTR);
		assert_int_equal(a.n, 2);
	}
	/* exactly the limit passes; only len bytes are read */
	assert_int_equal(jsonreq_array("{\"numbers\":[1,2,3]}XX", 19, "numbers",
				       buf, sizeof(buf), 3, arr_cb,
				       &(struct arr_seen){ .stop_at = -1 },
				       NULL), 0);
	assert_int_equal(jsonreq_array(NULL, 0, "numbers", buf, sizeof(buf), 3,
				       arr_cb, NULL, NULL), -EINVAL);
	assert_int_equal(jsonreq_array("{}", 2, "numbers", buf, 0, 3, arr_cb,
				       NULL, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_table_agrees_with_jansson),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_refusals_leave_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
