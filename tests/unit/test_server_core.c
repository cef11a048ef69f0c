/*
 * test_server_core: dataline-server's configuration (defaults, config file,
 * flags over the file, bad values, --help), the digest nonce-count replay
 * tracker (RFC 7616 s.3.4.6) and the listener address parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "../../server/core/config.h"
#include "../../server/core/fdbudget.h"
#include "../../server/sip/sipd.h"
#include "dataline/log.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/test_server_core.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int run_args(struct config *c, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	char *a;

	argv[argc++] = "dataline-server";
	va_start(ap, c);
	while ((a = va_arg(ap, char *)) != NULL)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return config_from_args(c, argc, argv);
}

static void test_defaults(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(run_args(&c, NULL), 0);
	config_finish(&c);
	assert_string_equal(c.var_dir, "./var");
	assert_string_equal(c.domain, "dataline.local");
	assert_string_equal(c.sip_udp, "127.0.0.1:5060");
	assert_string_equal(c.sip_tcp, "127.0.0.1:5060");
	assert_string_equal(c.sip_tls, "127.0.0.1:5061");
	assert_string_equal(c.http, "127.0.0.1:8080");
	assert_string_equal(c.https, "127.0.0.1:8443");
	assert_string_equal(c.db, "./var/dataline.db");
	assert_string_equal(c.sms, "spool:./var/sms.spool");
	assert_true(c.workers >= 1);
	assert_int_equal(c.code_ttl, 600);
	assert_int_equal(c.code_max_tries, 5);
	assert_int_equal(c.code_resend_interval, 60);
	assert_int_equal(c.code_max_per_number_hour, 5);
	assert_int_equal(c.code_max_per_client_hour, 20);
	assert_int_equal(c.min_expires, 60);
	assert_int_equal(c.max_expires, 3600);
	assert_int_equal(c.default_expires, 3600);
	assert_int_equal(c.max_bindings_per_device, 5);
	assert_int_equal(c.max_tcp_conns, 18000);
	assert_int_equal(c.max_msg_size, 65535);
	assert_string_equal(c.digest_algorithms, "MD5");
}

/* The file sets values; flags given on the command line win over it,
 * wherever -c appears. */
static void test_file_then_flags(void **state)
{
	struct config c;
	char *path = write_tmp(
		"# a comment\n"
		"\n"
		"domain = example.org\n"
		"  min-expires=120  \n"
		"sip-udp = \"0.0.0.0:5070\"\n"
		"var-dir = /srv/dl\n"
		"max-expires = 7200\n");

	(void)state;
	assert_int_equal(run_args(&c, "--min-expires", "90", "-c", path,
				  "--sip-tls", "off", NULL), 0);
	config_finish(&c);
	assert_string_equal(c.domain, "example.org");
	assert_int_equal(c.min_expires, 90);
	assert_int_equal(c.max_expires, 7200);
	assert_string_equal(c.sip_udp, "0.0.0.0:5070");
	assert_string_equal(c.sip_tls, "off");
	assert_string_equal(c.db, "/srv/dl/dataline.db");
	assert_string_equal(c.config, path);
	unlink(path);
}

static void test_bad_input(void **state)
{
	struct config c;
	char *path;

	(void)state;
	log_set_level(LOG_LVL_ERROR + 0);
	assert_int_equal(run_args(&c, "--workers", "many", NULL), -EINVAL);
	assert_int_equal(run_args(&c, "--max-msg-size", "10", NULL), -EINVAL);
	assert_int_equal(run_args(&c, "--no-such-flag", "1", NULL), -EINVAL);
	assert_int_equal(run_args(&c, "stray", NULL), -EINVAL);
	assert_int_equal(run_args(&c, "--min-expires", "600", "--max-expires",
				  "60", NULL), -EINVAL);
	path = write_tmp("nonsense-key = 1\n");
	assert_int_equal(run_args(&c, "-c", path, NULL), -EINVAL);
	unlink(path);
	path = write_tmp("domain\n");
	assert_int_equal(run_args(&c, "--config", path, NULL), -EINVAL);
	unlink(path);
	assert_int_equal(run_args(&c, "-c", "/nonexistent/dl.conf", NULL),
			 -ENOENT);
}

static void test_help(void **state)
{
	struct config c;
	char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	size_t i;
	static const char *const flags[] = {
		"--config", "--var-dir", "--domain", "--sip-udp", "--sip-tcp",
		"--sip-tls", "--http", "--https", "--tls-cert", "--tls-key",
		"--db", "--sms", "--workers", "--log-level", "--log-file",
		"--code-ttl", "--code-max-tries", "--code-resend-interval",
		"--code-max-per-number-hour", "--code-max-per-client-hour",
		"--min-expires", "--max-expires", "--default-expires",
		"--max-bindings-per-device", "--max-tcp-conns",
		"--max-msg-size",
	};

	(void)state;
	assert_non_null(f);
	config_usage(f, "dataline-server");
	fclose(f);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		assert_non_null(strstr(buf, flags[i]));
	/* --help is answered with 1 (printed; the caller exits 0) */
	assert_int_equal(run_args(&c, "--help", NULL), 1);
}

static struct sip_str S(const char *s)
{
	return (struct sip_str){ s, strlen(s) };
}

static void test_nonce_count(void **state)
{
	struct auth_nc *t;
	const char *n1 = "0000000065000000aaaaaaaaaaaaaaaa0123456789abcdef0123456789abcdef";
	const char *n2 = "0000000065000000bbbbbbbbbbbbbbbb0123456789abcdef0123456789abcdef";

	(void)state;
	assert_int_equal(auth_nc_new(262144, &t), 0);
	assert_int_equal(auth_nc_check(t, S(n1), 1, 1000, 300), 0);
	assert_int_equal(auth_nc_check(t, S(n1), 1, 1000, 300), -EALREADY);
	assert_int_equal(auth_nc_check(t, S(n1), 2, 1001, 300), 0);
	assert_int_equal(auth_nc_check(t, S(n1), 2, 1001, 300), -EALREADY);
	assert_int_equal(auth_nc_check(t, S(n1), 1, 1001, 300), -EALREADY);
	assert_int_equal(auth_nc_check(t, S(n2), 1, 1001, 300), 0); /* own count */
	assert_int_equal(auth_nc_check(t, S(n1), 9, 1002, 300), 0); /* gaps ok */
	/* entries outlive their nonce (2*TTL), then are swept */
	assert_int_equal(auth_nc_check(t, S(n1), 9, 1500, 300), -EALREADY);
	assert_int_equal(auth_nc_check(t, S(n1), 1, 2000, 300), 0);
	auth_nc_free(t);
}

static void test_nonce_count_many(void **state)
{
	struct auth_nc *t;
	char n[65];
	int i;

	(void)state;
	assert_int_equal(auth_nc_new(262144, &t), 0);
	for (i = 0; i < 20000; i++) {
		snprintf(n, sizeof(n), "%032x%032x", i, 7);
		assert_int_equal(auth_nc_check(t, S(n), 1, 100, 300), 0);
	}
	for (i = 0; i < 20000; i += 13) {
		snprintf(n, sizeof(n), "%032x%032x", i, 7);
		assert_int_equal(auth_nc_check(t, S(n), 1, 100, 300), -EALREADY);
	}
	auth_nc_free(t);
}

/* An upper-cased copy of a used nonce is the same nonce: no second nc=1. */
static void test_nonce_count_canonical(void **state)
{
	struct auth_nc *t;
	const char *lo = "0000000065000000aaaaaaaaaaaaaaaa0123456789abcdef0123456789abcdef";
	const char *up = "0000000065000000AAAAAAAAAAAAAAAA0123456789ABCDEF0123456789ABCDEF";

	(void)state;
	assert_int_equal(auth_nc_new(262144, &t), 0);
	assert_int_equal(auth_nc_check(t, S(lo), 1, 1000, 300), 0);
	assert_int_equal(auth_nc_check(t, S(up), 1, 1000, 300), -EALREADY);
	assert_int_equal(auth_nc_check(t, S(up), 2, 1000, 300), 0);
	assert_int_equal(auth_nc_check(t, S(lo), 2, 1000, 300), -EALREADY);
	/* absurd counts are refused outright */
	assert_int_equal(auth_nc_check(t, S(lo), AUTH_NC_LIMIT + 1, 1000, 300),
			 -ERANGE);
	assert_int_equal(auth_nc_check(t, S(lo), 0, 1000, 300), -ERANGE);
	assert_int_equal(auth_nc_check(t, S(lo), AUTH_NC_LIMIT, 1000, 300), 0);
	auth_nc_free(t);
}

/* The table holds at most its bound; an evicted nonce is stale, never
 * accepted again from nc=1; nonces issued after the floor still work. */
static void test_nonce_count_bound(void **state)
{
	struct auth_nc *t;
	char n[65];
	int i, stale = 0;

	(void)state;
	assert_int_equal(auth_nc_new(64 * 16, &t), 0);
	for (i = 0; i < 20000; i++) {
		/* issue time i / 100, random part i */
		snprintf(n, sizeof(n), "%016x%016x%032x", i / 100, i, 7);
		assert_int_equal(auth_nc_check(t, S(n), 1, 100, 300), 0);
		assert_true(auth_nc_count(t) <= 64 * 16);
	}
	assert_true(auth_nc_count(t) >= 64 * 8);
	for (i = 0; i < 20000; i += 7) {
		int rc;
		snprintf(n, sizeof(n), "%016x%016x%032x", i / 100, i, 7);
		rc = auth_nc_check(t, S(n), 1, 100, 300);
		assert_true(rc == -EALREADY || rc == -ESTALE);
		stale += rc == -ESTALE;
	}
	assert_true(stale > 0);
	/* a nonce issued later than anything evicted is fresh */
	snprintf(n, sizeof(n), "%016x%016x%032x", 1000, 1, 7);
	assert_int_equal(auth_nc_check(t, S(n), 1, 100, 300), 0);
	auth_nc_free(t);
}

static void test_hostport(void **state)
{
	union sipd_addr a;
	socklen_t len;
	char ip[64];
	uint16_t port;
	enum sip_digest_alg algs[2];
	int n;

	(void)state;
	assert_int_equal(sipd_parse_hostport("127.0.0.1:5060", &a, &len), 0);
	sipd_addr_str(&a, ip, sizeof(ip), &port);
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(port, 5060);
	assert_int_equal(sipd_parse_hostport("[::1]:5061", &a, &len), 0);
	sipd_addr_str(&a, ip, sizeof(ip), &port);
	assert_string_equal(ip, "::1");
	assert_int_equal(port, 5061);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(sipd_parse_hostport("*:5060", &a, &len), 0);
	sipd_addr_str(&a, ip, sizeof(ip), &port);
	assert_string_equal(ip, "0.0.0.0");
	assert_int_equal(sipd_parse_hostport("127.0.0.1", &a, &len), -EINVAL);
	assert_int_equal(sipd_parse_hostport("127.0.0.1:99999", &a, &len),
			 -EINVAL);
	assert_int_equal(sipd_parse_hostport("host.example:5060", &a, &len),
			 -EINVAL);
	assert_int_equal(sipd_parse_hostport("[::1:5060", &a, &len), -EINVAL);

	assert_int_equal(sipd_parse_algs("SHA-256,MD5", algs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(algs[0], SIP_DIGEST_SHA256);
	assert_int_equal(algs[1], SIP_DIGEST_MD5);
	assert_int_equal(sipd_parse_algs("md5", algs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(algs[0], SIP_DIGEST_MD5);
	assert_int_equal(sipd_parse_algs("MD5,MD5", algs, &n), -EINVAL);
	assert_int_equal(sipd_parse_algs("SHA-512", algs, &n), -EINVAL);
	assert_int_equal(sipd_parse_algs("", algs, &n), -EINVAL);
}

/* The descriptor budget: what fits stays, what does not shrinks in
 * proportion, and nothing goes over the limit minus the reserve. */
static void test_fdbudget_split(void **state)
{
	static const struct {
		long limit, reserve;
		int listeners, http, sip;
		int want_http, want_sip, clamped;
	} t[] = {
		{ 1048576, 96, 2, 1000, 18000, 1000, 18000, 0 },
		{ 20096, 96, 2, 1000, 18000, 1000, 18000, 0 }, /* exactly fits */
		{ 256, 96, 2, 1000, 18000, 8, 144, 1 },        /* ulimit -n 256 */
		{ 1024, 96, 2, 1000, 18000, 46, 836, 1 },      /* Debian default */
		{ 1024, 96, 0, 1000, 18000, 1000, 928, 1 },    /* no HTTP */
		{ 200, 96, 2, 10, 10000, 1, 102, 1 },          /* HTTP keeps 1 */
	};
	struct fdbudget b;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(fdbudget_split(t[i].limit, t[i].reserve,
						t[i].listeners, t[i].http,
						t[i].sip, &b), 0);
		assert_int_equal(b.http_conns, t[i].want_http);
		assert_int_equal(b.sip_conns, t[i].want_sip);
		assert_int_equal(b.clamped, t[i].clamped);
		if (b.clamped)
			assert_true((long)t[i].listeners * b.http_conns +
					    b.sip_conns <= t[i].limit - t[i].reserve);
	}
	memset(&b, 0x55, sizeof(b));
	assert_int_equal(fdbudget_split(90, 96, 2, 10, 10, &b), -ENOSPC);
	assert_int_equal(b.clamped, 0x55555555);
	assert_int_equal(fdbudget_split(1024, 96, 2, 0, 10, &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_then_flags),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_nonce_count),
		cmocka_unit_test(test_nonce_count_many),
		cmocka_unit_test(test_nonce_count_canonical),
		cmocka_unit_test(test_nonce_count_bound),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_fdbudget_split),
	};
	return cmocka_run_group_tests_name("server_core", tests, NULL, NULL);
}
