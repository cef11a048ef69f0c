/*
 * fdbudget: the descriptor budget (fdbudget.h).
 */
#include <errno.h>
#include <sys/resource.h>

#include "fdbudget.h"

int fdbudget_split(long limit, long reserve, int http_listeners,
		   int http_conns, int sip_conns, struct fdbudget *b)
{
	long avail = limit - reserve;
	long http = (long)http_listeners * http_conns;
	struct fdbudget r = { .limit = limit, .reserve = reserve,
			      .http_conns = http_conns, .sip_conns = sip_conns };

	if (http_listeners < 0 || http_conns < 1 || sip_conns < 1)
		return -EINVAL;
	if (avail < http_listeners + 1)
		return -ENOSPC;
	if (http + sip_conns > avail) {
		/* in proportion to what was asked; 128-bit-free: both
		 * factors are below 2^31 and avail below 2^31 here */
		long h = http_listeners ? avail * http / (http + sip_conns) : 0;

		r.http_conns = http_listeners ? (int)(h / http_listeners) : http_conns;
		if (r.http_conns < 1)
			r.http_conns = 1;
		r.sip_conns = (int)(avail - (long)http_listeners *
				    (http_listeners ? r.http_conns : 0));
		if (r.sip_conns > sip_conns)
			r.sip_conns = sip_conns;
		r.clamped = 1;
	}
	*b = r;
	return 0;
}

int fdbudget_setup(int workers, int http_listeners, int http_conns,
		   int sip_conns, struct fdbudget *b)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		/* the budget is a long; a huge hard limit buys nothing */
		if (want == RLIM_INFINITY || want > (1u << 20))
			want = 1u << 20;
		if (want > rl.rlim_cur) {
			rl.rlim_cur = want;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0 &&
			    getrlimit(RLIMIT_NOFILE, &rl) != 0)
				return -errno;
		}
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20))
		rl.rlim_cur = 1u << 20;
	return fdbudget_split((long)rl.rlim_cur,
			      FDBUDGET_RESERVE_BASE +
				      (long)FDBUDGET_RESERVE_PER_WORKER * workers,
			      http_listeners, http_conns, sip_conns, b);
}
