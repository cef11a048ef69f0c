/*
 * test_call: the pure pieces of the call proxy (server/sip/callpick.c):
 * which final response a forking proxy sends upstream (RFC 3261 s.16.7
 * step 6: 6xx first, a 2xx is never replaced, then the lowest class, and
 * 401/407/503 below the rest of their class; 503 goes up as 500), and the
 * X-Dataline-Net header parser (docs/calls.md), malformed values included.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/sip/call.h"

/* Each row: the finals in arrival order and the one that must win. */
static const struct {
	int in[6];
	int want;
} pick_rows[] = {
	{ { 486 }, 486 },
	{ { 486, 404 }, 486 },            /* same class: the first stays */
	{ { 486, 302 }, 302 },            /* the lowest class */
	{ { 500, 486 }, 486 },
	{ { 486, 603 }, 603 },            /* 6xx beats 4xx */
	{ { 603, 200 }, 200 },            /* a 2xx always goes */
	{ { 200, 603 }, 200 },            /* and is never replaced */
	{ { 603, 302 }, 603 },            /* the first 6xx stays */
	{ { 603, 600 }, 603 },
	{ { 408, 408, 480 }, 408 },
	{ { 407, 486 }, 486 },            /* a challenge ranks low */
	{ { 503, 500 }, 500 },
	{ { 401, 407 }, 401 },
	{ { 503, 408 }, 408 },
	{ { 180, 486 }, 486 },            /* not a final: ignored */
	{ { 486, 700 }, 486 },            /* out of range: ignored */
};

static void test_pick(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(pick_rows) / sizeof(pick_rows[0]); i++) {
		int best = 0;

		for (k = 0; k < 6 && pick_rows[i].in[k]; k++)
			if (call_pick_better(best, pick_rows[i].in[k]))
				best = pick_rows[i].in[k];
		if (best != pick_rows[i].want)
			fail_msg("row %zu: got %d, want %d", i, best,
				 pick_rows[i].want);
	}
	assert_int_equal(call_pick_upstream(503), 500);
	assert_int_equal(call_pick_upstream(486), 486);
	assert_int_equal(call_pick_upstream(200), 200);
}

static const struct {
	const char *v;
	int err;
	uint32_t rate, rtt, loss, age;
	unsigned have;
} net_rows[] = {
	{ "rate=900;rtt=40;loss=1000", 0, 900, 40, 1000, 0,
	  CALL_NET_RATE | CALL_NET_RTT | CALL_NET_LOSS },
	{ "rate=20", 0, 20, 0, 0, 0, CALL_NET_RATE },
	{ " rate = 5 ", -EBADMSG, 0, 0, 0, 0, 0 }, /* blanks inside a pair */
	{ "RATE=7; rtt=1 ;age=3", 0, 7, 1, 0, 3,
	  CALL_NET_RATE | CALL_NET_RTT | CALL_NET_AGE },
	{ "rate=1;future=x", 0, 1, 0, 0, 0, CALL_NET_RATE },
	{ "rate=4294967295", 0, 4294967295u, 0, 0, 0, CALL_NET_RATE },
	{ "rate=4294967296", -EBADMSG, 0, 0, 0, 0, 0 },
	{ "rtt=40;loss=0", -EBADMSG, 0, 0, 0, 0, 0 },     /* no rate */
	{ "", -EBADMSG, 0, 0, 0, 0, 0 },
	{ "rate=", -EBADMSG, 0, 0, 0, 0, 0 },
	{ "rate=-1", -EBADMSG, 0, 0, 0, 0, 0 },
	{ "rate=1x", -EBADMSG, 0, 0, 0, 0, 0 },
	{ "rate=1;;rtt=2", -EBADMSG, 0, 0, 0, 0, 0 },
	{ "rate=1;rate=2", -EBADMSG, 0, 0, 0, 0, 0 },     /* twice */
	{ "rate", -EBADMSG, 0, 0, 0, 0, 0 },
	{ "=5", -EBADMSG, 0, 0, 0, 0, 0 },
	{ "rate=00000000001", -EBADMSG, 0, 0, 0, 0, 0 },  /* 11 digits */
};

static void test_net_parse(void **state)
{
	struct call_net n;
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(net_rows) / sizeof(net_rows[0]); i++) {
		memset(&n, 0xa5, sizeof(n));
		err = call_net_parse(net_rows[i].v, strlen(net_rows[i].v), &n);
		if (err != net_rows[i].err)
			fail_msg("row %zu (%s): err %d", i, net_rows[i].v, err);
		if (err) {
			/* output untouched on failure */
			assert_int_equal(n.rate_kbps, 0xa5a5a5a5u);
			continue;
		}
		assert_int_equal(n.rate_kbps, net_rows[i].rate);
		assert_int_equal(n.rtt_ms, net_rows[i].rtt);
		assert_int_equal(n.loss_ppm, net_rows[i].loss);
		assert_int_equal(n.age_s, net_rows[i].age);
		assert_int_equal(n.have, net_rows[i].have);
	}
	/* (pointer, length): the bytes after LEN are not read */
	assert_int_equal(call_net_parse("rate=12;rtt=x", 7, &n), 0);
	assert_int_equal(n.rate_kbps, 12);
	assert_int_equal(call_net_parse(NULL, 0, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_net_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
