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

/* A fresh pending code for number: new code (into code_out), new salt,
 * hash, created = now, expires_at = now + ttl, tries = 0. 0 or -errno. */
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

/* The resend limits count codes over a sliding window of this length. */
#define CODE_WINDOW 3600

struct code_limits {
	int resend_interval;     /* seconds between two codes to one number */
	int max_per_number_hour; /* codes sent to one number per window */
	int max_per_client_hour; /* codes requested by one client address */
};

/* What the send log says about one request (server/store send_log). */
struct code_history {
	int64_t last_sent;        /* last code sent to the number; < 0: never */
	uint64_t sent_number;     /* codes to the number in the window */
	uint64_t sent_client;     /* codes requested by the client in it */
	/* When sent_number (sent_client) is at its limit: the time of the
	   send whose leaving the window makes room for one more, i.e. the
	   (sent - limit)-th oldest in the window. Unused below the limit. */
	int64_t number_oldest, client_oldest;
};

/*
 * Decides whether a new code may be sent at `now`. Returns 0, or -EAGAIN
 * with *retry_after set to the seconds until it would be allowed (>= 1):
 * the longest of the resend interval and the hourly windows. A send at t
 * counts while t >= now - CODE_WINDOW.
 */
int code_rate_check(const struct code_limits *lim, int64_t now,
		    const struct code_history *h, int64_t *retry_after);

#endif
