/*
 * discover_limit: what keeps contact discovery (POST /v1/contacts/discover,
 * docs/protocol.md "Contact discovery") from enumerating the number space,
 * per account (an account is a number; its devices share the budget):
 *  - a token bucket of requests: BURST at once, PER_HOUR refilled evenly;
 *  - a cap on the DISTINCT numbers looked up in a 24-hour window that
 *    starts with the account's first counted lookup. A number already
 *    counted in the window is free to look up again, so a handset's
 *    periodic re-sync of the same address book costs nothing.
 * What is kept of a looked-up number is a 64-bit keyed hash (SipHash-2-4
 * under a key drawn at start and never stored), in memory only, dropped
 * when the window ends. A restart forgets all of it: every account starts
 * a fresh window (docs/decisions.md says why that is acceptable).
 * Bounded: at most TRACK_MAX hashes over all accounts; past that, lookups
 * that would add hashes are refused (fail closed), not counted for free.
 * Single-threaded: the HTTP API's loop owns it. Times are milliseconds.
 */
#ifndef DATALINE_SERVER_DISCOVER_LIMIT_H
#define DATALINE_SERVER_DISCOVER_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#define DLIMIT_WINDOW_MS (24 * 3600 * 1000LL)

struct dlimit;

struct dlimit_config {
	int burst;             /* requests at once, >= 1 */
	int per_hour;          /* requests refilled per hour, >= 1 */
	int max_numbers_day;   /* distinct numbers per window, >= 1 */
	size_t track_max;      /* hashes kept, all accounts, >= max_numbers_day */
};

/* 0 or -EINVAL (a bound out of range) / -ENOMEM / -EIO (no random key). */
int dlimit_new(const struct dlimit_config *cfg, struct dlimit **out);
void dlimit_free(struct dlimit *d);

/* SipHash-2-4 of DATA under KEY (exposed for its test vectors). */
uint64_t dlimit_siphash(const uint8_t key[16], const void *data, size_t len);

/* The keyed hash under which NUMBER (a normalised E.164 string) is
 * counted; never 0. */
uint64_t dlimit_hash(const struct dlimit *d, const char *number);

/*
 * Takes one request token of ACCOUNT: 0, or -EAGAIN with *retry_after_s
 * (>= 1) until the next token. -ENOMEM when the account cannot be added.
 */
int dlimit_take_request(struct dlimit *d, const char *account, int64_t now_ms,
			int *retry_after_s);

/*
 * Counts the hashes H[0..N) (any order, duplicates allowed; H is sorted
 * in place) against ACCOUNT's window. All or nothing: 0 when every new
 * one fits under the cap (all recorded); -EDQUOT when they would take the
 * account over max_numbers_day, -ENOSPC when the tracker is full, both
 * with nothing recorded and *retry_after_s until a window ends; -ENOMEM.
 * *new_out (may be NULL) gets how many were not yet counted.
 */
int dlimit_count(struct dlimit *d, const char *account, uint64_t *h, size_t n,
		 int64_t now_ms, size_t *new_out, int *retry_after_s);

/* How many new distinct numbers ACCOUNT may still look up in its window. */
size_t dlimit_remaining(struct dlimit *d, const char *account, int64_t now_ms);

/* Drops accounts whose window ended and whose bucket is full again. */
void dlimit_gc(struct dlimit *d, int64_t now_ms);

/* Hashes held over all accounts / accounts held (tests, /metrics). */
size_t dlimit_entries(const struct dlimit *d);
size_t dlimit_accounts(const struct dlimit *d);

#endif
