/*
 * test_agent: the pure parts of the handset's registration agent and modem
 * module: refresh scheduling, the RFC 5626 s.4.5 backoff, the server URIs
 * from provisioning, certificate pins, the code in a dataline SMS and
 * ModemManager's SMS timestamps. Table-driven, malformed inputs included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "dataline/agent.h"
#include "dataline/modem.h"

static void test_refresh_delay(void **state)
{
	static const struct { uint32_t granted, want; } t[] = {
		{ 3600, 3000 }, { 1201, 601 }, { 1200, 600 }, { 600, 300 },
		{ 60, 30 }, { 3, 1 }, { 2, 1 }, { 1, 1 }, { 0, 1 },
		{ 86400, 85800 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t d = agent_refresh_delay(t[i].granted);
		assert_int_equal(d, t[i].want);
		/* always before expiry (for anything longer than 1 s) */
		if (t[i].granted > 1)
			assert_true(d < t[i].granted);
	}
}

static void test_backoff_delay(void **state)
{
	/* RFC 5626 s.4.5: min(max, base * 2^n), then 50..100% */
	static const struct { uint32_t base, max; unsigned n; uint32_t lo, hi; } t[] = {
		{ 30, 1800, 1, 30, 60 },
		{ 30, 1800, 2, 60, 120 },
		{ 30, 1800, 5, 480, 960 },
		{ 30, 1800, 6, 900, 1800 },
		{ 30, 1800, 40, 900, 1800 },    /* no overflow, capped */
		{ 0, 0, 1, 30, 60 },            /* defaults */
		{ 1, 4, 1, 1, 2 },
		{ 1, 4, 10, 2, 4 },
		{ 90, 1800, 0, 45, 90 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t lo = agent_backoff_delay(t[i].base, t[i].max, t[i].n, 0);
		uint32_t hi = agent_backoff_delay(t[i].base, t[i].max, t[i].n, UINT32_MAX);
		uint32_t mid = agent_backoff_delay(t[i].base, t[i].max, t[i].n, 1u << 31);
		assert_int_equal(lo, t[i].lo);
		assert_in_range(hi, t[i].hi - 1, t[i].hi);
		assert_in_range(mid, lo, hi);
	}
	assert_int_equal(agent_backoff_delay(1, 1, 0, 0), 1); /* never 0 */
}

static void test_server_uri(void **state)
{
	static const struct {
		const char *uri; int ok; enum agent_transport tp;
		const char *host; uint16_t port;
	} t[] = {
		{ "sip:127.0.0.1:5060;transport=udp", 1, AGENT_TP_UDP, "127.0.0.1", 5060 },
		{ "sip:127.0.0.1:5060;transport=tcp", 1, AGENT_TP_TCP, "127.0.0.1", 5060 },
		{ "sips:127.0.0.1:5061;transport=tls", 1, AGENT_TP_TLS, "127.0.0.1", 5061 },
		{ "sip:127.0.0.1:24061;transport=TLS", 1, AGENT_TP_TLS, "127.0.0.1", 24061 },
		{ "sip:sip.example.net", 1, AGENT_TP_UDP, "sip.example.net", 5060 },
		{ "sips:sip.example.net", 1, AGENT_TP_TLS, "sip.example.net", 5061 },
		{ "sip:[::1]:5070;lr;transport=tcp", 1, AGENT_TP_TCP, "::1", 5070 },
		{ "SIP:host;transport=tcp", 1, AGENT_TP_TCP, "host", 5060 },
		{ "sips:host;transport=udp", 0, 0, NULL, 0 },  /* sips needs TLS */
		{ "sip:host:0", 0, 0, NULL, 0 },
		{ "sip:host:65536", 0, 0, NULL, 0 },
		{ "sip:host:12x", 0, 0, NULL, 0 },
		{ "sip:user@host", 0, 0, NULL, 0 },
		{ "sip:[::1:5060", 0, 0, NULL, 0 },
		{ "sip:", 0, 0, NULL, 0 },
		{ "http://host", 0, 0, NULL, 0 },
		{ "sip:host;transport=sctp", 0, 0, NULL, 0 },
		{ "", 0, 0, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum agent_transport tp = 99;
		char host[64] = "untouched";
		uint16_t port = 7;
		int r = agent_parse_server_uri(t[i].uri, &tp, host, sizeof(host), &port);
		if (!t[i].ok) {
			assert_int_equal(r, -EINVAL);
			assert_string_equal(host, "untouched");
			assert_int_equal(port, 7);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(tp, t[i].tp);
		assert_string_equal(host, t[i].host);
		assert_int_equal(port, t[i].port);
	}
	char small[4];
	enum agent_transport tp;
	uint16_t port;
	assert_int_equal(agent_parse_server_uri("sip:longhost", &tp, small, sizeof(small), &port),
			 -EINVAL);
}

static void test_pin_normalize(void **state)
{
	char out[AGENT_PIN_LEN];
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	assert_int_equal(agent_pin_normalize(hex, out), 0);
	assert_string_equal(out, hex);
	assert_int_equal(agent_pin_normalize(
		"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
		"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF", out), 0);
	assert_string_equal(out, hex);
	strcpy(out, "same");
	assert_int_equal(agent_pin_normalize("0123", out), -EINVAL);
	assert_int_equal(agent_pin_normalize(
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefaa", out), -EINVAL);
	assert_int_equal(agent_pin_normalize(
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", out), -EINVAL);
	assert_int_equal(agent_pin_normalize(NULL, out), -EINVAL);
	assert_string_equal(out, "same");
}

static void test_transport_names(void **state)
{
	enum agent_transport tp;

	assert_int_equal(agent_transport_parse("UDP", &tp), 0);
	assert_int_equal(tp, AGENT_TP_UDP);
	assert_int_equal(agent_transport_parse("tls", &tp), 0);
	assert_string_equal(agent_transport_name(tp), "tls");
	assert_int_equal(agent_transport_parse("tcp", &tp), 0);
	assert_string_equal(agent_transport_name(tp), "tcp");
	assert_int_equal(agent_transport_parse("ws", &tp), -EINVAL);
	assert_int_equal(agent_transport_parse(NULL, &tp), -EINVAL);
	assert_string_equal(agent_state_name(AGENT_REGISTERED), "registered");
}

static void test_sms_code(void **state)
{
	static const struct { const char *text; const char *code; } t[] = {
		{ "Your dataline code is 123456", "123456" },
		{ "Your dataline code is 000000", "000000" },
		{ "your DATALINE code is 654321.", "654321" },
		{ "Hi! Your dataline code is 987654\nDo not share it.", "987654" },
		{ "Your dataline code is 12345", NULL },        /* too short */
		{ "Your dataline code is 1234567", NULL },      /* too long */
		{ "Your dataline code is 12a456", NULL },
		{ "Your bank code is 123456", NULL },
		{ "dataline code is", NULL },
		{ "", NULL },
		{ "x dataline code is 11 then dataline code is 222222", "222222" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char code[MODEM_CODE_LEN + 1] = "keep";
		int r = modem_parse_code(t[i].text, strlen(t[i].text), code);
		if (t[i].code) {
			assert_int_equal(r, 0);
			assert_string_equal(code, t[i].code);
		} else {
			assert_int_equal(r, -ENOENT);
			assert_string_equal(code, "keep");
		}
	}
	/* the length bounds the scan, the text need not be NUL-terminated */
	char code[MODEM_CODE_LEN + 1];
	const char buf[] = "Your dataline code is 1234567";
	assert_int_equal(modem_parse_code(buf, sizeof(buf) - 2, code), 0);
	assert_string_equal(code, "123456");
	assert_int_equal(modem_parse_code(NULL, 0, code), -ENOENT);
}

static void test_sms_timestamp(void **state)
{
	static const struct { const char *ts; int ok; int64_t want; } t[] = {
		{ "2026-11-26T11:00:00Z", 1, 1795690800 },
		{ "2026-11-26T11:00:00+00:00", 1, 1795690800 },
		{ "2026-11-26T19:00:00+08:00", 1, 1795690800 },
		{ "2026-11-26T19:00:00+08", 1, 1795690800 },     /* ModemManager */
		{ "2026-11-26T19:00:00+0800", 1, 1795690800 },
		{ "2026-11-26T06:00:00-05:00", 1, 1795690800 },
		{ "2026-11-26T11:00:00.250Z", 1, 1795690800 },
		{ "2026-11-26T11:00:00", 1, 1795690800 },         /* no zone: UTC */
		{ "1970-01-01T00:00:00Z", 1, 0 },
		{ "2026-13-01T00:00:00Z", 0, 0 },
		{ "2026-11-26 11:00", 0, 0 },
		{ "2026-11-26T25:00:00Z", 0, 0 },
		{ "2026-11-26T11:00:00+8", 0, 0 },
		{ "2026-11-26T11:00:00Zjunk", 0, 0 },
		{ "26-11-26T11:00:00Z", 0, 0 },
		{ "", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t v = -7;
		int r = modem_parse_timestamp(t[i].ts, &v);
		if (t[i].ok) {
			assert_int_equal(r, 0);
			assert_int_equal(v, t[i].want);
		} else {
			assert_int_equal(r, -EINVAL);
			assert_int_equal(v, -7);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refresh_delay),
		cmocka_unit_test(test_backoff_delay),
		cmocka_unit_test(test_server_uri),
		cmocka_unit_test(test_pin_normalize),
		cmocka_unit_test(test_transport_names),
		cmocka_unit_test(test_sms_code),
		cmocka_unit_test(test_sms_timestamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
