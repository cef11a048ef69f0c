/*
 * ratelimit: token buckets keyed by a short string (a sender's number, an
 * account), shared by threads. RATE tokens a second, BURST at most; a key
 * idle long enough to be full again is forgotten, and at most MAX keys are
 * held (a new key over the cap evicts the shard's idlest one, which can
 * only let that key through early, never lock anyone out).
 */
#ifndef DATALINE_SERVER_RATELIMIT_H
#define DATALINE_SERVER_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

int ratelimit_new(double rate, double burst, size_t max,
		  struct ratelimit **out);
void ratelimit_free(struct ratelimit *rl);
/* Takes one token for KEY at NOW_MS: 0, or the milliseconds until one is
 * there (the caller answers "retry after"). */
uint64_t ratelimit_take(struct ratelimit *rl, const char *key,
			uint64_t now_ms);

#endif
