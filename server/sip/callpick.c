/*
 * callpick: the pure pieces of the call proxy. Which final response a
 * forking proxy sends upstream (RFC 3261 s.16.7 step 6), and the
 * X-Dataline-Net header a handset adds to its OPTIONS answers with its
 * current network figures (docs/calls.md). No I/O, no allocation.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "call.h"

/* Rank within the same class: lower is better. 401/407 carry challenges
 * the caller may not be able to answer for every branch, 503 means "this
 * server", not "the callee": both only when nothing else of the class
 * came (s.16.7 step 6 lets the proxy choose within a class). */
static int class_rank(int s)
{
	return s == 401 || s == 407 || s == 503 ? 1 : 0;
}

int call_pick_better(int cur, int nw)
{
	int cc = cur / 100, nc = nw / 100;

	if (nw < 200 || nw > 699)
		return 0;
	if (!cur)
		return 1;
	if (cc == 2)
		return 0;           /* a 2xx is never replaced */
	if (nc == 2)
		return 1;
	if (cc == 6)
		return 0;           /* the first 6xx stays */
	if (nc == 6)
		return 1;
	if (nc != cc)
		return nc < cc;
	return class_rank(nw) < class_rank(cur);
}

int call_pick_upstream(int status)
{
	return status == 503 ? 500 : status;
}

static int net_uint(const char *p, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!n || n > 10)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EBADMSG;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EBADMSG;
	*out = (uint32_t)v;
	return 0;
}

int call_net_parse(const char *v, size_t len, struct call_net *out)
{
	static const struct {
		const char *name;
		unsigned bit;
		size_t off;
	} keys[] = {
		{ "rate", CALL_NET_RATE, offsetof(struct call_net, rate_kbps) },
		{ "rtt", CALL_NET_RTT, offsetof(struct call_net, rtt_ms) },
		{ "loss", CALL_NET_LOSS, offsetof(struct call_net, loss_ppm) },
		{ "age", CALL_NET_AGE, offsetof(struct call_net, age_s) },
	};
	struct call_net n;
	size_t i = 0, k;

	if (!v || !out)
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	while (i < len) {
		size_t s = i, eq = 0, e;
		uint32_t val;

		while (i < len && v[i] != ';')
			i++;
		e = i++;
		/* trim blanks around the parameter */
		while (s < e && (v[s] == ' ' || v[s] == '\t'))
			s++;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (s == e)
			return -EBADMSG;    /* empty parameter: ";;" */
		for (eq = s; eq < e && v[eq] != '='; eq++)
			;
		if (eq == e || eq == s)
			return -EBADMSG;    /* every parameter has a value */
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strlen(keys[k].name) == eq - s &&
			    !strncasecmp(v + s, keys[k].name, eq - s))
				break;
		if (k == sizeof(keys) / sizeof(keys[0]))
			continue;          /* a later version's parameter */
		if (n.have & keys[k].bit ||
		    net_uint(v + eq + 1, e - eq - 1, &val))
			return -EBADMSG;
		memcpy((char *)&n + keys[k].off, &val, sizeof(val));
		n.have |= keys[k].bit;
	}
	if (!(n.have & CALL_NET_RATE))
		return -EBADMSG;
	*out = n;
	return 0;
}
