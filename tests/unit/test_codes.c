/*
 * test_codes: the pure parts of the provisioning API: one-time code
 * generation (format, uniform first digit), HMAC hashing (a known vector),
 * checking (right/wrong/malformed/expired/too many tries, and their order),
 * the resend limits, and the SIP credentials with their HA1 values
 * (RFC 2617 s.3.5 MD5 vector; SHA-256 vector computed independently).
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/http/client.h"
#include "../../server/http/code.h"
#include "../../server/http/creds.h"

static void test_generate_format_and_spread(void **state)
{
	int first[10] = { 0 };
	char c[CODE_DIGITS + 1];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(code_generate(c), 0);
		assert_int_equal(strlen(c), 6);
		for (int j = 0; j < 6; j++)
			assert_true(isdigit((unsigned char)c[j]));
		first[c[0] - '0']++;
	}
	/* expected 2000 each (sd ~42): a biased or constant generator fails */
	for (int d = 0; d < 10; d++) {
		assert_in_range(first[d], 1600, 2400);
	}
}

static void test_hash_vector(void **state)
{
	static const uint8_t want[32] = {
		0x23, 0x83, 0xf9, 0x85, 0xea, 0x6a, 0xe7, 0x04, 0x16, 0x06, 0xfb,
		0x8b, 0x2a, 0xb6, 0x4d, 0x4f, 0x45, 0x25, 0x8e, 0x81, 0x2c, 0x3b,
		0x63, 0x2c, 0x4d, 0xf5, 0x7c, 0x77, 0x9e, 0xc8, 0xdb, 0xaa,
	};
	uint8_t salt[16], h[32];

	(void)state;
	for (int i = 0; i < 16; i++)
		salt[i] = (uint8_t)i;
	assert_int_equal(code_hash(salt, "123456", 6, h), 0);
	assert_memory_equal(h, want, 32);
}

static void test_check(void **state)
{
	struct store_code c, c2;
	char code[CODE_DIGITS + 1], wrong[CODE_DIGITS + 1];

	(void)state;
	assert_int_equal(code_new("+8613800138000", 1000, 600, &c, code), 0);
	assert_string_equal(c.number, "+8613800138000");
	assert_int_equal(c.created, 1000);
	assert_int_equal(c.expires_at, 1600);
	assert_int_equal(c.tries, 0);
	snprintf(wrong, sizeof(wrong), "%06u", (unsigned)(atoi(code) + 1) % 1000000u);

	assert_int_equal(code_check(&c, code, 6, 1000, 5), CODE_OK);
	assert_int_equal(code_check(&c, code, 6, 1599, 5), CODE_OK);
	assert_int_equal(code_check(&c, wrong, 6, 1000, 5), CODE_INVALID);
	assert_int_equal(code_check(&c, code, 5, 1000, 5), CODE_INVALID);
	assert_int_equal(code_check(&c, "12345a", 6, 1000, 5), CODE_INVALID);
	assert_int_equal(code_check(&c, "", 0, 1000, 5), CODE_INVALID);
	assert_int_equal(code_check(&c, NULL, 6, 1000, 5), CODE_INVALID);
	/* expiry is exclusive: at expires_at the code is dead */
	assert_int_equal(code_check(&c, code, 6, 1600, 5), CODE_EXPIRED);
	assert_int_equal(code_check(&c, wrong, 6, 1600, 5), CODE_EXPIRED);
	/* spent tries win over everything, even the right code */
	c.tries = 5;
	assert_int_equal(code_check(&c, code, 6, 1000, 5), CODE_TOO_MANY_TRIES);
	assert_int_equal(code_check(&c, code, 6, 2000, 5), CODE_TOO_MANY_TRIES);
	c.tries = 4;
	assert_int_equal(code_check(&c, code, 6, 1000, 5), CODE_OK);

	/* two codes for one number have different salts and hashes */
	assert_int_equal(code_new("+8613800138000", 1000, 600, &c2, wrong), 0);
	assert_memory_not_equal(c.salt, c2.salt, sizeof(c.salt));
	assert_int_equal(code_check(&c2, code, 6, 1000, 5),
			 strcmp(code, wrong) == 0 ? CODE_OK : CODE_INVALID);

	assert_int_equal(code_new(NULL, 0, 600, &c, code), -EINVAL);
	assert_int_equal(code_new("+8613800138000", 0, 0, &c, code), -EINVAL);
}

static void test_rate_limits(void **state)
{
	struct code_limits lim = { 60, { [CODE_W_NUMBER_HOUR] = 5,
					 [CODE_W_CLIENT_HOUR] = 20,
					 [CODE_W_NUMBER_CLIENT_HOUR] = 3,
					 [CODE_W_NUMBER_DAY] = 10 } };
	struct code_history h = { .last_sent = -1 };
	enum code_window which;
	int64_t ra = -1;

	(void)state;
	code_limits_share(&lim);
	assert_int_equal(lim.max[CODE_W_NUMBER_CLIENT_DAY], 5);
	/* nothing sent yet */
	assert_int_equal(code_rate_check(&lim, 1000, &h, &ra, &which), 0);
	assert_int_equal(ra, -1);
	/* resend interval: 59 s after the last code, 1 s to wait */
	h = (struct code_history){ .last_sent = 1000, .sent = { 1, 1, 1, 1, 1 } };
	assert_int_equal(code_rate_check(&lim, 1059, &h, &ra, &which), -EAGAIN);
	assert_int_equal(ra, 1);
	assert_int_equal(which, CODE_W__N);
	assert_int_equal(code_rate_check(&lim, 1010, &h, &ra, NULL), -EAGAIN);
	assert_int_equal(ra, 50);
	assert_int_equal(code_rate_check(&lim, 1060, &h, &ra, NULL), 0);
	/* per number per hour: the 5th send of the window happened at 2000;
	 * the oldest (at 1000) leaves the window at 4601 */
	h = (struct code_history){ .last_sent = 2000, .sent = { 4, 4, 2, 4, 2 } };
	assert_int_equal(code_rate_check(&lim, 3000, &h, &ra, NULL), 0);
	h.sent[CODE_W_NUMBER_HOUR] = 5;
	h.oldest[CODE_W_NUMBER_HOUR] = 1000;
	assert_int_equal(code_rate_check(&lim, 3000, &h, &ra, &which), -EAGAIN);
	assert_int_equal(ra, 1601);
	assert_int_equal(which, CODE_W_NUMBER_HOUR);
	assert_int_equal(code_rate_check(&lim, 4600, &h, &ra, NULL), -EAGAIN);
	assert_int_equal(ra, 1);
	/* the window and the interval: the longer wait wins */
	h.last_sent = 4590;
	assert_int_equal(code_rate_check(&lim, 4600, &h, &ra, NULL), -EAGAIN);
	assert_int_equal(ra, 50);
	/* per client per hour, whatever the number */
	h = (struct code_history){ .last_sent = -1 };
	h.sent[CODE_W_CLIENT_HOUR] = 20;
	h.oldest[CODE_W_CLIENT_HOUR] = 4000;
	assert_int_equal(code_rate_check(&lim, 5000, &h, &ra, &which), -EAGAIN);
	assert_int_equal(ra, 2601);
	assert_int_equal(which, CODE_W_CLIENT_HOUR);
	/* per number per day runs 24 h */
	h = (struct code_history){ .last_sent = -1 };
	h.sent[CODE_W_NUMBER_DAY] = 10;
	h.oldest[CODE_W_NUMBER_DAY] = 4000;
	assert_int_equal(code_rate_check(&lim, 5000, &h, &ra, &which), -EAGAIN);
	assert_int_equal(ra, 4000 + 86400 + 1 - 5000);
	assert_int_equal(which, CODE_W_NUMBER_DAY);
	/* stale data (oldest already out of the window) still waits >= 1 s */
	h.oldest[CODE_W_NUMBER_DAY] = 0;
	assert_int_equal(code_rate_check(&lim, 100000, &h, &ra, NULL), -EAGAIN);
	assert_int_equal(ra, 1);
	/* a cap of 1 a day still leaves one client one code */
	lim.max[CODE_W_NUMBER_DAY] = 1;
	code_limits_share(&lim);
	assert_int_equal(lim.max[CODE_W_NUMBER_CLIENT_DAY], 1);
}

/*
 * The lockout the limits exist to prevent: an attacker's prefix requests
 * codes for a victim's number as fast as the limits let it, for a whole
 * day; at every moment the victim (another prefix) can still get a code,
 * and the number never receives more than the daily cap.
 */
struct sim_send { int64_t t; int client; };

static void sim_history(const struct code_limits *lim, const struct sim_send *log,
			int n, int client, int64_t now, struct code_history *h)
{
	*h = (struct code_history){ .last_sent = -1 };
	for (int w = 0; w < CODE_W__N; w++) {
		for (int i = 0; i < n; i++)
			if (log[i].t >= now - code_windows[w].length &&
			    (!code_windows[w].by_client || log[i].client == client))
				h->sent[w]++;
		/* oldest: the (sent - max)-th in the window, as the store's */
		if (h->sent[w] >= (uint64_t)lim->max[w]) {
			uint64_t want = h->sent[w] - (uint64_t)lim->max[w], j = 0;

			for (int i = 0; i < n; i++) {
				if (log[i].t < now - code_windows[w].length ||
				    (code_windows[w].by_client && log[i].client != client))
					continue;
				if (j++ == want) {
					h->oldest[w] = log[i].t;
					break;
				}
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (log[i].client == client)
			h->last_sent = log[i].t;
}

static void test_no_lockout(void **state)
{
	struct code_limits lim = { 60, { [CODE_W_NUMBER_HOUR] = 5,
					 [CODE_W_CLIENT_HOUR] = 20,
					 [CODE_W_NUMBER_CLIENT_HOUR] = 3,
					 [CODE_W_NUMBER_DAY] = 10 } };
	static struct sim_send log[2000];
	struct code_history h;
	int n = 0, day_max = 0;
	int64_t ra;

	(void)state;
	code_limits_share(&lim);
	for (int64_t now = 0; now < 2 * 86400; now += 30) {
		int in_day = 0;

		sim_history(&lim, log, n, 1, now, &h);  /* attacker */
		if (code_rate_check(&lim, now, &h, &ra, NULL) == 0)
			log[n++] = (struct sim_send){ now, 1 };
		sim_history(&lim, log, n, 2, now, &h);  /* victim */
		assert_int_equal(code_rate_check(&lim, now, &h, &ra, NULL) == 0 ||
					 h.last_sent >= 0, 1);
		for (int i = 0; i < n; i++)
			in_day += log[i].t >= now - 86400;
		day_max = in_day > day_max ? in_day : day_max;
	}
	assert_true(n > 0);
	assert_true(day_max <= 5); /* the attacker got at most half the cap */
}

static void test_ha1_vectors(void **state)
{
	char m[STORE_HA1_MD5_LEN], s[STORE_HA1_SHA256_LEN];

	(void)state;
	/* RFC 2617 s.3.5 */
	assert_int_equal(creds_ha1("Mufasa", "testrealm@host.com",
				   "Circle Of Life", m, s), 0);
	assert_string_equal(m, "939e7578ed9e3c518a452acee763bce9");
	/* RFC 7616 s.3.9.1's user, SHA-256 of "Mufasa:http-auth@example.org:
	 * Circle of Life" (computed with Python's hashlib) */
	assert_int_equal(creds_ha1("Mufasa", "http-auth@example.org",
				   "Circle of Life", m, s), 0);
	assert_string_equal(s, "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232");
	assert_int_equal(creds_ha1(NULL, "r", "p", m, s), -EINVAL);
}

static void test_creds_new(void **state)
{
	struct creds a, b;
	char m[STORE_HA1_MD5_LEN], s[STORE_HA1_SHA256_LEN];

	(void)state;
	assert_int_equal(creds_new("+8613800138000", "dataline.local", 77, &a), 0);
	assert_int_equal(creds_new("+8613800138000", "dataline.local", 77, &b), 0);
	/* "<digits>-<8 hex>" */
	assert_int_equal(strlen(a.dev.username), 13 + 1 + 8);
	assert_memory_equal(a.dev.username, "8613800138000-", 14);
	for (int i = 14; i < 22; i++)
		assert_true(isxdigit((unsigned char)a.dev.username[i]));
	assert_string_equal(a.dev.number, "+8613800138000");
	assert_int_equal(a.dev.created, 77);
	assert_int_equal(strlen(a.password), CREDS_PASSWORD_LEN);
	for (int i = 0; i < CREDS_PASSWORD_LEN; i++)
		assert_true(isalnum((unsigned char)a.password[i]));
	assert_string_not_equal(a.password, b.password);
	assert_string_not_equal(a.dev.username, b.dev.username);
	/* the stored HA1s are those of the password handed out */
	assert_int_equal(creds_ha1(a.dev.username, "dataline.local", a.password, m, s), 0);
	assert_string_equal(a.dev.ha1_md5, m);
	assert_string_equal(a.dev.ha1_sha256, s);
	assert_int_equal(creds_new("8613800138000", "r", 0, &a), -EINVAL);
}

/* The key a client is counted under: its address masked to a prefix. */
static void test_client_prefix(void **state)
{
	static const struct {
		const char *addr;
		int v4, v6;
		const char *key; /* NULL: -EINVAL */
	} t[] = {
		{ "203.0.113.77", 24, 64, "203.0.113.0/24" },
		{ "203.0.113.200", 24, 64, "203.0.113.0/24" },
		{ "203.0.114.1", 24, 64, "203.0.114.0/24" },
		{ "127.0.0.2", 32, 64, "127.0.0.2/32" },
		{ "10.1.2.3", 20, 64, "10.1.0.0/20" },
		{ "2001:db8:1:2:aaaa::1", 24, 64, "2001:db8:1:2::/64" },
		{ "2001:db8:1:2:ffff:ffff:ffff:ffff", 24, 64, "2001:db8:1:2::/64" },
		{ "2001:db8:1:2::1", 24, 56, "2001:db8:1::/56" },
		{ "::ffff:198.51.100.9", 24, 64, "198.51.100.0/24" }, /* mapped */
		{ "::1", 24, 128, "::1/128" },
		{ "unknown", 24, 64, NULL },
		{ "1.2.3", 24, 64, NULL },
		{ "1.2.3.4", 33, 64, NULL },
		{ "::1", 24, 129, NULL },
	};
	char key[CLIENT_KEY_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = client_prefix(t[i].addr, t[i].v4, t[i].v6, key);

		if (!t[i].key) {
			assert_int_equal(rc, -EINVAL);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(key, t[i].key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_format_and_spread),
		cmocka_unit_test(test_hash_vector),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_rate_limits),
		cmocka_unit_test(test_no_lockout),
		cmocka_unit_test(test_ha1_vectors),
		cmocka_unit_test(test_creds_new),
		cmocka_unit_test(test_client_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
