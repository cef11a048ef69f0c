/*
 * test_hostport: the one host:port parser (lib/util/hostport.c),
 * table-driven: each form with and without the flags that allow it, the
 * junk it must refuse (ports 0, 65536 and letters, stray brackets, empty
 * hosts, spaces, NULs), the length bound, and the numeric address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataline/hostport.h"

#define OPT HOSTPORT_PORT_OPTIONAL
#define ANY HOSTPORT_WILDCARD
#define V6 HOSTPORT_BARE_V6

static const struct {
	const char *in;
	unsigned flags;
	const char *host;  /* NULL: -EINVAL */
	unsigned port;
	int wildcard, bracketed;
} cases[] = {
	{ "127.0.0.1:5060", 0, "127.0.0.1", 5060, 0, 0 },
	{ "host.example:8443", 0, "host.example", 8443, 0, 0 },
	{ "[::1]:5061", 0, "::1", 5061, 0, 1 },
	{ "[fe80::1%eth0]:5060", 0, "fe80::1%eth0", 5060, 0, 1 },
	{ "h:1", 0, "h", 1, 0, 0 },
	{ "h:65535", 0, "h", 65535, 0, 0 },
	/* the default port */
	{ "host", OPT, "host", 5060, 0, 0 },
	{ "[::1]", OPT, "::1", 5060, 0, 1 },
	{ "host", 0, NULL, 0, 0, 0 },
	{ "[::1]", 0, NULL, 0, 0, 0 },
	/* wildcards */
	{ "*:5060", ANY, "", 5060, 1, 0 },
	{ ":5060", ANY, "", 5060, 1, 0 },
	{ "*:5060", 0, NULL, 0, 0, 0 },
	{ ":5060", 0, NULL, 0, 0, 0 },
	{ "*", ANY | OPT, NULL, 0, 0, 0 },   /* a wildcard needs its port */
	{ "**:5060", ANY, "**", 5060, 0, 0 },
	/* unbracketed IPv6: only on request, split at the last colon */
	{ "::1:5060", V6, "::1", 5060, 0, 0 },
	{ "::1:5060", 0, NULL, 0, 0, 0 },
	{ "a:b:5060", 0, NULL, 0, 0, 0 },
	/* ports */
	{ "h:0", 0, NULL, 0, 0, 0 },
	{ "h:65536", 0, NULL, 0, 0, 0 },
	{ "h:99999", 0, NULL, 0, 0, 0 },
	{ "h:123456", 0, NULL, 0, 0, 0 },
	{ "h:", 0, NULL, 0, 0, 0 },
	{ "h:", OPT, NULL, 0, 0, 0 },
	{ "h:12x", 0, NULL, 0, 0, 0 },
	{ "h:x", 0, NULL, 0, 0, 0 },
	{ "h:+80", 0, NULL, 0, 0, 0 },
	{ "h:-1", 0, NULL, 0, 0, 0 },
	{ "h: 80", 0, NULL, 0, 0, 0 },
	{ "h:80 ", 0, NULL, 0, 0, 0 },
	/* brackets */
	{ "[::1:5060", 0, NULL, 0, 0, 0 },
	{ "[::1:5060", V6 | OPT, NULL, 0, 0, 0 },
	{ "::1]:5060", V6, NULL, 0, 0, 0 },
	{ "[::1]5060", 0, NULL, 0, 0, 0 },
	{ "[::1]:", 0, NULL, 0, 0, 0 },
	{ "[]:5060", ANY, NULL, 0, 0, 0 },
	{ "[host]:5060", 0, NULL, 0, 0, 0 }, /* not an IPv6 literal */
	{ "[[::1]]:5060", 0, NULL, 0, 0, 0 },
	{ "[::1]:50:60", 0, NULL, 0, 0, 0 },
	/* hosts */
	{ "", OPT | ANY, NULL, 0, 0, 0 },
	{ " h:80", 0, NULL, 0, 0, 0 },
	{ "h h:80", 0, NULL, 0, 0, 0 },
	{ "h\t:80", 0, NULL, 0, 0, 0 },
	{ "h\x7f:80", 0, NULL, 0, 0, 0 },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hostport hp = { .port = 7 };
		int r = hostport_parse(cases[i].in, strlen(cases[i].in),
				       cases[i].flags, 5060, &hp);

		if (!cases[i].host) {
			assert_int_equal(r, -EINVAL);
			assert_int_equal(hp.port, 7); /* untouched */
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(hp.host_len, strlen(cases[i].host));
		assert_memory_equal(hp.host, cases[i].host, hp.host_len);
		assert_int_equal(hp.port, cases[i].port);
		assert_int_equal(hp.wildcard, cases[i].wildcard);
		assert_int_equal(hp.bracketed, cases[i].bracketed);
	}
}

/* Only LEN bytes are read: a slice inside a longer string, a NUL inside. */
static void test_slice(void **state)
{
	struct hostport hp;
	char host[8] = "xxxxxxx";

	(void)state;
	assert_int_equal(hostport_parse("h:5060;transport=tcp", 6, 0, 0, &hp), 0);
	assert_int_equal(hp.port, 5060);
	assert_int_equal(hostport_parse("h:50\0" "60", 7, 0, 0, &hp), -EINVAL);
	assert_int_equal(hostport_parse(NULL, 3, 0, 0, &hp), -EINVAL);
	assert_int_equal(hostport_parse("h", 1, OPT, 0, &hp), -EINVAL);
	/* the copy is bounded */
	assert_int_equal(hostport_parse("longhost:1", 10, 0, 0, &hp), 0);
	assert_int_equal(hostport_host(&hp, host, 8), -EINVAL);
	assert_string_equal(host, "xxxxxxx");
	{
		char big[9];

		assert_int_equal(hostport_host(&hp, big, sizeof(big)), 0);
		assert_string_equal(big, "longhost");
	}
	assert_int_equal(hostport_parse("shorter:1", 9, 0, 0, &hp), 0);
	assert_int_equal(hostport_host(&hp, host, sizeof(host)), 0);
	assert_string_equal(host, "shorter");
}

static void test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct hostport hp;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(hostport_parse("127.0.0.1:5060", 14, 0, 0, &hp), 0);
	assert_int_equal(hostport_sockaddr(&hp, &ss, &len), 0);
	assert_int_equal(len, sizeof(*sin));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 5060);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);

	assert_int_equal(hostport_parse("[::1]:5061", 10, 0, 0, &hp), 0);
	assert_int_equal(hostport_sockaddr(&hp, &ss, &len), 0);
	assert_int_equal(len, sizeof(*sin6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 5061);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));

	assert_int_equal(hostport_parse("::1:5062", 8, V6, 0, &hp), 0);
	assert_int_equal(hostport_sockaddr(&hp, &ss, &len), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 5062);

	assert_int_equal(hostport_parse("*:5060", 6, ANY, 0, &hp), 0);
	assert_int_equal(hostport_sockaddr(&hp, &ss, &len), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));

	/* numeric only: no DNS, and a bracketed IPv4 is no IPv6 literal */
	len = 3;
	assert_int_equal(hostport_parse("localhost:5060", 14, 0, 0, &hp), 0);
	assert_int_equal(hostport_sockaddr(&hp, &ss, &len), -EINVAL);
	assert_int_equal(hostport_parse("[1.2.3.4:]:5060", 15, 0, 0, &hp), 0);
	assert_int_equal(hostport_sockaddr(&hp, &ss, &len), -EINVAL);
	assert_int_equal(hostport_parse("300.1.1.1:5060", 14, 0, 0, &hp), 0);
	assert_int_equal(hostport_sockaddr(&hp, &ss, &len), -EINVAL);
	assert_int_equal(len, 3); /* untouched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_slice),
		cmocka_unit_test(test_sockaddr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
