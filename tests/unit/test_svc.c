/*
 * test_svc: the handset service's pure rules (include/dataline/svc.h):
 * which SIP answers to a text are worth another attempt, the back-off
 * between attempts (and the server's Retry-After), and the UTF-8 check
 * that decides whether a body may travel as a D-Bus string. The service
 * itself (outbox pump, inbox, D-Bus, fallback) is tested end to end in
 * tests/integration/handset_texts*.sh and handset_fallback.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/svc.h"

static void test_retryable(void **state)
{
	static const struct { int status, retry; } t[] = {
		{ 0, 1 }, { 408, 1 }, { 429, 1 }, { 430, 1 }, { 480, 1 },
		{ 486, 1 }, { 500, 1 }, { 503, 1 }, { 504, 1 }, { 599, 1 },
		{ 400, 0 }, { 403, 0 }, { 404, 0 }, { 413, 0 }, { 415, 0 },
		{ 488, 0 }, { 603, 0 }, { 606, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(svc_status_retryable(t[i].status), t[i].retry);
}

static void test_retry_delay(void **state)
{
	(void)state;
	assert_int_equal(svc_retry_delay(0, 0), 2);
	assert_int_equal(svc_retry_delay(1, 0), 2);
	assert_int_equal(svc_retry_delay(2, 0), 4);
	assert_int_equal(svc_retry_delay(3, 0), 8);
	assert_int_equal(svc_retry_delay(8, 0), 256);
	assert_int_equal(svc_retry_delay(9, 0), 300);
	assert_int_equal(svc_retry_delay(1000, 0), 300);
	/* the server's Retry-After when longer, capped at an hour */
	assert_int_equal(svc_retry_delay(1, 60), 60);
	assert_int_equal(svc_retry_delay(9, 10), 300);
	assert_int_equal(svc_retry_delay(1, 100000), 3600);
}

static void test_utf8(void **state)
{
	static const struct { const char *s; size_t n; int ok; } t[] = {
		{ "hello", 5, 1 },
		{ "", 0, 1 },
		{ "\xe4\xbd\xa0\xe5\xa5\xbd", 6, 1 },          /* 你好 */
		{ "\xf0\x9f\x98\x80", 4, 1 },                  /* U+1F600 */
		{ "\xc3\xa9", 2, 1 },                          /* é */
		{ "a\0b", 3, 0 },                              /* NUL */
		{ "\xc0\xaf", 2, 0 },                          /* overlong / */
		{ "\xe0\x80\xaf", 3, 0 },                      /* overlong */
		{ "\xed\xa0\x80", 3, 0 },                      /* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },                  /* > U+10FFFF */
		{ "\xe4\xbd", 2, 0 },                          /* truncated */
		{ "\x80", 1, 0 },                              /* lone continuation */
		{ "\xff", 1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(svc_utf8_valid(t[i].s, t[i].n), t[i].ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests_name("svc", tests, NULL, NULL);
}
