/*
 * test_carrier: the carrier fallback for texts (patent step C22) without a
 * modem: modem_sms_check on good and malformed numbers and texts (length
 * bound, UTF-8 overlongs, surrogates, truncated sequences), the backend
 * names, the log backend's line format (JSON, one line whatever the text
 * holds, a text that reads back unchanged), its file (appended, mode 0600,
 * nothing written for a refused text, an error for a missing parent
 * directory), and the modem backend's error when the system bus has no
 * ModemManager. ModemManager itself (Create, Send, the failures) is tested
 * against the mock in tests/integration/handset_modem.sh.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataline/carrier.h"
#include "dataline/log.h"
#include "dataline/modem.h"

static void test_sms_check(void **state)
{
	static const struct {
		const char *number, *text;
		int r;
	} t[] = {
		{ "+8613900000000", "hello", 0 },
		{ "10086", "short code", 0 },
		{ "+12345678901234567890", "20 digits", 0 },
		{ "+123456789012345678901", "21 digits", -EINVAL },
		{ "", "x", -EINVAL },
		{ "+", "x", -EINVAL },
		{ "++1", "x", -EINVAL },
		{ "+86 139", "x", -EINVAL },
		{ "+86-139", "x", -EINVAL },
		{ "1+86", "x", -EINVAL },
		{ "+8613900000000", "", -EINVAL },
		{ "+1", "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80", 0 },
		{ "+1", "lone continuation \x80", -EINVAL },
		{ "+1", "truncated \xe4\xbd", -EINVAL },
		{ "+1", "overlong \xc0\xaf", -EINVAL },
		{ "+1", "overlong \xe0\x80\xaf", -EINVAL },
		{ "+1", "surrogate \xed\xa0\x80", -EINVAL },
		{ "+1", "past U+10FFFF \xf4\x90\x80\x80", -EINVAL },
		{ "+1", "bad byte \xff", -EINVAL },
		{ "+1", "line\nbreak\ttab", 0 },
		{ NULL, "x", -EINVAL },
		{ "+1", NULL, -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = modem_sms_check(t[i].number, t[i].text);

		if (r != t[i].r)
			fail_msg("case %zu (%s): %d, want %d", i,
				 t[i].number ? t[i].number : "NULL", r, t[i].r);
	}
}

static void test_sms_check_length(void **state)
{
	char *text = malloc(MODEM_SMS_TEXT_MAX + 2);

	(void)state;
	assert_non_null(text);
	memset(text, 'a', MODEM_SMS_TEXT_MAX);
	text[MODEM_SMS_TEXT_MAX] = '\0';
	assert_int_equal(modem_sms_check("+1", text), 0);
	text[MODEM_SMS_TEXT_MAX] = 'a';
	text[MODEM_SMS_TEXT_MAX + 1] = '\0';
	assert_int_equal(modem_sms_check("+1", text), -EMSGSIZE);
	/* the bound is in bytes: a two-byte character may end it, but not
	 * half of one */
	memcpy(text + MODEM_SMS_TEXT_MAX - 2, "\xc3\xa9", 3);
	assert_int_equal(modem_sms_check("+1", text), 0);
	text[MODEM_SMS_TEXT_MAX - 2] = 'a';
	text[MODEM_SMS_TEXT_MAX - 1] = '\xc3';
	assert_int_equal(modem_sms_check("+1", text), -EINVAL);
	free(text);
}

static void test_backend_names(void **state)
{
	enum carrier_backend b;

	(void)state;
	assert_int_equal(carrier_backend_parse("modem", &b), 0);
	assert_int_equal(b, CARRIER_MODEM);
	assert_int_equal(carrier_backend_parse("log", &b), 0);
	assert_int_equal(b, CARRIER_LOG);
	assert_string_equal(carrier_backend_name(CARRIER_LOG), "log");
	assert_string_equal(carrier_backend_name(CARRIER_MODEM), "modem");
	assert_int_equal(carrier_backend_parse("Modem", &b), -EINVAL);
	assert_int_equal(carrier_backend_parse("", &b), -EINVAL);
	assert_int_equal(carrier_backend_parse(NULL, &b), -EINVAL);
	assert_string_equal(carrier_backend_name((enum carrier_backend)7), "?");
}

static void test_log_format(void **state)
{
	const char *text = "two\nlines, \"quoted\" \\ \x01 \xe4\xbd\xa0";
	char buf[256];
	size_t len;
	json_t *o;

	(void)state;
	/* 2026-11-26T10:00:00Z */
	assert_int_equal(carrier_log_format(1795687200, "+8613900000000", "hi",
					    buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "{\"time\":\"2026-11-26T10:00:00Z\","
			    "\"number\":\"+8613900000000\",\"text\":\"hi\"}\n");
	assert_int_equal(len, strlen(buf));

	assert_int_equal(carrier_log_format(0, "+1", text, buf, sizeof(buf), &len), 0);
	assert_null(memchr(buf, '\n', len - 1));
	assert_int_equal(buf[len - 1], '\n');
	o = json_loads(buf, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "text")), text);
	json_decref(o);

	assert_int_equal(carrier_log_format(0, "+1", "hello", buf, 20, &len), -ENOSPC);
	assert_int_equal(carrier_log_format(0, "+1", "bad \xff", buf, sizeof(buf), &len), -EINVAL);
}

/* Reads STATE_DIR/carrier-sms.log into a malloc'd string. */
static char *read_log(const char *dir, mode_t *mode)
{
	char path[512], *s;
	struct stat st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, CARRIER_LOG_FILE);
	if (stat(path, &st) != 0)
		return NULL;
	*mode = st.st_mode & 07777;
	f = fopen(path, "r");
	assert_non_null(f);
	s = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(s);
	n = fread(s, 1, (size_t)st.st_size, f);
	assert_int_equal(n, (size_t)st.st_size);
	fclose(f);
	return s;
}

static void test_log_backend(void **state)
{
	char tmpl[] = "/tmp/test_carrier.XXXXXX", dir[600], ref[CARRIER_REF_MAX];
	char *base = mkdtemp(tmpl), *log, *long_text;
	struct carrier c = { .backend = CARRIER_LOG };
	mode_t mode = 0;

	(void)state;
	assert_non_null(base);
	/* the state directory is created if missing (0700), not its parent */
	snprintf(dir, sizeof(dir), "%s/st", base);
	c.state_dir = dir;
	assert_int_equal(carrier_sms_send(&c, "+8613900000000", "first\ntext", ref), 0);
	assert_int_equal(carrier_sms_send(&c, "10086", "second", NULL), 0);
	assert_non_null(strstr(ref, "/st/" CARRIER_LOG_FILE));
	log = read_log(dir, &mode);
	assert_non_null(log);
	assert_int_equal(mode, 0600);
	assert_non_null(strstr(log, "\"number\":\"+8613900000000\",\"text\":\"first\\ntext\"}\n{"));
	assert_non_null(strstr(log, "\"number\":\"10086\",\"text\":\"second\"}\n"));
	free(log);

	/* refused texts leave the file as it was */
	long_text = calloc(1, MODEM_SMS_TEXT_MAX + 2);
	assert_non_null(long_text);
	memset(long_text, 'a', MODEM_SMS_TEXT_MAX + 1);
	assert_int_equal(carrier_sms_send(&c, "+1", long_text, NULL), -EMSGSIZE);
	assert_int_equal(carrier_sms_send(&c, "+1 2", "x", NULL), -EINVAL);
	log = read_log(dir, &mode);
	assert_non_null(log);
	assert_null(strstr(log, "aaaa"));
	assert_null(strstr(log, "+1 2"));
	free(log);
	free(long_text);

	snprintf(dir, sizeof(dir), "%s/missing/st", base);
	assert_int_equal(carrier_sms_send(&c, "+1", "x", NULL), -ENOENT);
	c.state_dir = NULL;
	assert_int_equal(carrier_sms_send(&c, "+1", "x", NULL), -EINVAL);

	snprintf(dir, sizeof(dir), "%s/st/%s", base, CARRIER_LOG_FILE);
	unlink(dir);
	snprintf(dir, sizeof(dir), "%s/st", base);
	rmdir(dir);
	rmdir(base);
}

/* The call fallback's log backend: one JSON line a call, bad numbers
 * refused before anything is written. */
static void test_log_call(void **state)
{
	char tmpl[] = "/tmp/test_carrier.XXXXXX", path[600], ref[CARRIER_REF_MAX];
	char *base = mkdtemp(tmpl), buf[512];
	struct carrier c = { .backend = CARRIER_LOG, .state_dir = base };
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(base);
	assert_int_equal(carrier_call_start(&c, "+8613900000009", ref), 0);
	assert_int_equal(carrier_call_start(&c, "+86 139", NULL), -EINVAL);
	assert_int_equal(carrier_call_start(&c, "", NULL), -EINVAL);
	assert_int_equal(carrier_call_start(&c, "123456789012345678901", NULL), -EINVAL);
	snprintf(path, sizeof(path), "%s/%s", base, CARRIER_CALL_LOG_FILE);
	assert_string_equal(ref, path);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"number\":\"+8613900000009\",\"call\":\"voice\"}\n"));
	assert_null(strchr(strchr(buf, '\n') + 1, '\n')); /* one line */
	unlink(path);
	rmdir(base);
	c.backend = CARRIER_MODEM;
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/test_carrier_bus", 1);
	strcpy(ref, "untouched");
	assert_true(carrier_call_start(&c, "+8613900000009", ref) < 0);
	assert_string_equal(ref, "untouched");
}

static void test_modem_backend_without_bus(void **state)
{
	const struct carrier c = { .backend = CARRIER_MODEM };
	char ref[CARRIER_REF_MAX] = "untouched";

	(void)state;
	/* nothing listens there: no ModemManager, hence no SMS and no ref */
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/test_carrier_bus", 1);
	assert_true(carrier_sms_send(&c, "+8613900000000", "hi", ref) < 0);
	assert_string_equal(ref, "untouched");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sms_check),
		cmocka_unit_test(test_sms_check_length),
		cmocka_unit_test(test_backend_names),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_log_backend),
		cmocka_unit_test(test_modem_backend_without_bus),
		cmocka_unit_test(test_log_call),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
