/*
 * code: the one-time registration codes of the provisioning API, as pure
 * functions over `struct store_code` (server/store/store.h): generation
 * from a CSPRNG without modulo bias, salted HMAC-SHA-256 hashing, a
 * constant-time check with expiry and a try limit, and the resend limits.
 * Nothing here touches the store or the clock; callers pass `now`.
 */
#ifndef DATALINE_SERVER_CODE_H
#define DATALINE_SERVER_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "../store/store.h"

#define CODE_DIGITS 6

/* Writes CODE_DIGITS random decimal digits and a NUL into out. Uses
 * RAND_bytes with rejection sampling. 0 or -EIO (RNG failure). */
int code_generate(char out[CODE_DIGITS + 1]);

/* HMAC-SHA-256 keyed with salt over the code's digits. 0 or -EIO. */
int code_hash(const uint8_t salt[STORE_CODE_SALT_LEN], const char *code,
	      size_t len, uint8_t out[STORE_CODE_HASH_LEN]);

/* A fresh registration session for number: new random session id (128
 * bits, hex), new code (into code_out), new salt, hash, created = now,
 * expires_at = now + ttl, tries = 0. 0 or -errno. */
int code_new(const char *number, int64_t now, int ttl,
	     struct store_code *out, char code_out[CODE_DIGITS + 1]);

enum code_verdict {
	CODE_OK,
	CODE_INVALID,        /* wrong (or malformed) code: counts as a try */
	CODE_EXPIRED,
	CODE_TOO_MANY_TRIES, /* max_tries wrong attempts already made */
};

/*
 * Checks a submitted code against the pending one. The order matters:
 * exhausted tries and expiry are refused before the code is looked at, so
 * a guess made after either carries no information. The comparison of
 * the hashes is constant-time (CRYPTO_memcmp).
 */
enum code_verdict code_check(const struct store_code *pending,
			     const char *code, size_t len, int64_t now,
			     int max_tries);

/*
 * The send limits. Each counts the codes sent over a sliding window, by
 * number, by client (the requester's address prefix, server/http/client.h)
 * or by both. Why these (docs/decisions.md, "HTTP API hardening"): per
 * client, so one prefix cannot spray SMS at many numbers;
 * per number and client, so one prefix cannot use up a number's budget
 * and lock its owner out; per number, hourly and daily across all
 * clients, so a phone never gets more than a few SMS however many
 * prefixes ask.
 */
enum code_window {
	CODE_W_NUMBER_HOUR,        /* the number, all clients, 1 h */
	CODE_W_CLIENT_HOUR,        /* the client, all numbers, 1 h */
	CODE_W_NUMBER_CLIENT_HOUR, /* the number for this client, 1 h */
	CODE_W_NUMBER_DAY,         /* the number, all clients, 24 h */
	CODE_W_NUMBER_CLIENT_DAY,  /* the number for this client, 24 h */
	CODE_W__N
};

/* What a window counts by and how long it is (seconds). */
struct code_window_info {
	int by_number, by_client;
	int64_t length;
};
extern const struct code_window_info code_windows[CODE_W__N];

/* The hourly windows' length (kept for callers that only need that). */
#define CODE_WINDOW 3600

struct code_limits {
	int resend_interval;    /* s between two codes to a number for a client */
	int max[CODE_W__N];     /* codes allowed per window */
};

/* Fills lim->max[CODE_W_NUMBER_CLIENT_DAY]: one client's share of a
 * number's daily cap is half of it (at least 1), strictly below the cap
 * whenever the cap is 2 or more, so one prefix alone can never use up
 * what the owner needs. */
void code_limits_share(struct code_limits *lim);

/* What the send log says about one request (server/store send_log). */
struct code_history {
	int64_t last_sent;        /* last code to the number for this client;
				     < 0: never */
	uint64_t sent[CODE_W__N]; /* codes in each window */
	/* When sent[w] is at its limit: the time of the send whose leaving
	   the window makes room for one more, i.e. the (sent - limit)-th
	   oldest in the window. Unused below the limit. */
	int64_t oldest[CODE_W__N];
};

/*
 * Decides whether a new code may be sent at `now`. Returns 0, or -EAGAIN
 * with *retry_after set to the seconds until it would be allowed (>= 1):
 * the longest of the resend interval and the full windows; *which (may be
 * NULL) gets the window that waits longest, or CODE_W__N for the resend
 * interval. A send at t counts while t >= now - length.
 */
int code_rate_check(const struct code_limits *lim, int64_t now,
		    const struct code_history *h, int64_t *retry_after,
		    enum code_window *which);

#endif
