/*
 * discover_limit: per-account request bucket and daily distinct-number
 * count for contact discovery; see discover_limit.h for the rules.
 *
 * Layout: accounts in a chained hash table (they are authenticated
 * numbers, so their count is bounded by provisioning, not by strangers);
 * each account's counted numbers in an open-addressing set of 64-bit
 * hashes (0 marks an empty slot, so no hash is ever 0), grown by doubling
 * at half full and never past twice the daily cap. So an account that
 * looked up its whole cap holds about 16-32 bytes per number.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "discover_limit.h"

#define DLIMIT_KEY_LEN 16
#define DLIMIT_ACCOUNT_MAX 24   /* "+" and 15 digits fit */
#define DLIMIT_BUCKETS0 64
#define DLIMIT_SET0 16

struct dlim_acct {
	struct dlim_acct *next;      /* hash chain */
	uint64_t hash;               /* of account */
	char account[DLIMIT_ACCOUNT_MAX];
	double tokens;               /* request tokens at tok_ms */
	int64_t tok_ms;
	int64_t win_start_ms;        /* window start; valid while n > 0 */
	size_t n;                    /* hashes counted in the window */
	size_t cap;                  /* slots in set (power of 2), 0: none */
	uint64_t *set;               /* owned */
};

struct dlimit {
	struct dlimit_config cfg;
	uint8_t key[DLIMIT_KEY_LEN];
	struct dlim_acct **buckets;  /* owned */
	size_t nbuckets, naccounts;
	size_t entries;              /* sum of every account's n */
};

static uint64_t dlim_str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

int dlimit_new(const struct dlimit_config *cfg, struct dlimit **out)
{
	struct dlimit *d;

	if (!cfg || cfg->burst < 1 || cfg->per_hour < 1 ||
	    cfg->max_numbers_day < 1 ||
	    cfg->track_max < (size_t)cfg->max_numbers_day)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	d->nbuckets = DLIMIT_BUCKETS0;
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	if (!d->buckets) {
		free(d);
		return -ENOMEM;
	}
	if (RAND_bytes(d->key, sizeof(d->key)) != 1) {
		dlimit_free(d);
		return -EIO;
	}
	*out = d;
	return 0;
}

static void dlim_acct_free(struct dlim_acct *a)
{
	free(a->set);
	free(a);
}

void dlimit_free(struct dlimit *d)
{
	if (!d)
		return;
	for (size_t b = 0; b < d->nbuckets; b++) {
		struct dlim_acct *a = d->buckets[b], *next;

		for (; a; a = next) {
			next = a->next;
			dlim_acct_free(a);
		}
	}
	free(d->buckets);
	OPENSSL_cleanse(d->key, sizeof(d->key));
	free(d);
}

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed PRF made for short
 * inputs, about 20 times cheaper here than OpenSSL's one-shot HMAC(),
 * which allocated and fetched a digest per number and was a quarter of
 * the server's time in the discovery bench.
 */
#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3)                                        \
	do {                                                             \
		v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0;               \
		v0 = SIP_ROTL(v0, 32);                                   \
		v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;               \
		v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;               \
		v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2;               \
		v2 = SIP_ROTL(v2, 32);                                   \
	} while (0)

static uint64_t dlim_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t dlimit_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = dlim_le64(key), k1 = dlim_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, full = len & ~(size_t)7;

	for (i = 0; i < full; i += 8) {
		m = dlim_le64(in + i);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; j < (len & 7); j++)
		b |= (uint64_t)in[full + j] << (8 * j);
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (i = 0; i < 4; i++)
		SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t dlimit_hash(const struct dlimit *d, const char *number)
{
	uint64_t h = dlimit_siphash(d->key, number, strlen(number));

	return h ? h : 1;
}

static void dlim_grow_table(struct dlimit *d)
{
	size_t n = d->nbuckets * 2;
	struct dlim_acct **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* longer chains, still correct */
	for (size_t b = 0; b < d->nbuckets; b++) {
		struct dlim_acct *a = d->buckets[b], *next;

		for (; a; a = next) {
			next = a->next;
			a->next = nb[a->hash & (n - 1)];
			nb[a->hash & (n - 1)] = a;
		}
	}
	free(d->buckets);
	d->buckets = nb;
	d->nbuckets = n;
}

static struct dlim_acct *dlim_get(struct dlimit *d, const char *account,
				  int64_t now_ms)
{
	uint64_t h = dlim_str_hash(account);
	struct dlim_acct *a;

	for (a = d->buckets[h & (d->nbuckets - 1)]; a; a = a->next)
		if (a->hash == h && strcmp(a->account, account) == 0)
			return a;
	if (strlen(account) >= DLIMIT_ACCOUNT_MAX)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->hash = h;
	strcpy(a->account, account);
	a->tokens = d->cfg.burst;
	a->tok_ms = now_ms;
	a->next = d->buckets[h & (d->nbuckets - 1)];
	d->buckets[h & (d->nbuckets - 1)] = a;
	if (++d->naccounts > d->nbuckets * 2)
		dlim_grow_table(d);
	return a;
}

/* Ends A's window if it is over: its hashes go. */
static void dlim_window(struct dlimit *d, struct dlim_acct *a, int64_t now_ms)
{
	if (a->n && now_ms - a->win_start_ms >= DLIMIT_WINDOW_MS) {
		d->entries -= a->n;
		a->n = 0;
		free(a->set);
		a->set = NULL;
		a->cap = 0;
	}
}

static void dlim_refill(const struct dlimit *d, struct dlim_acct *a,
			int64_t now_ms)
{
	double per_ms = d->cfg.per_hour / 3600000.0;

	if (now_ms > a->tok_ms)
		a->tokens += (double)(now_ms - a->tok_ms) * per_ms;
	if (a->tokens > d->cfg.burst)
		a->tokens = d->cfg.burst;
	a->tok_ms = now_ms > a->tok_ms ? now_ms : a->tok_ms;
}

int dlimit_take_request(struct dlimit *d, const char *account, int64_t now_ms,
			int *retry_after_s)
{
	struct dlim_acct *a = dlim_get(d, account, now_ms);
	double per_ms = d->cfg.per_hour / 3600000.0, wait_ms;

	if (!a)
		return -ENOMEM;
	dlim_refill(d, a, now_ms);
	if (a->tokens >= 1.0) {
		a->tokens -= 1.0;
		return 0;
	}
	wait_ms = (1.0 - a->tokens) / per_ms;
	*retry_after_s = (int)((wait_ms + 999.0) / 1000.0);
	if (*retry_after_s < 1)
		*retry_after_s = 1;
	return -EAGAIN;
}

static int dlim_set_has(const struct dlim_acct *a, uint64_t h)
{
	size_t m = a->cap - 1;

	if (!a->cap)
		return 0;
	for (size_t i = h & m;; i = (i + 1) & m) {
		if (a->set[i] == h)
			return 1;
		if (!a->set[i])
			return 0;
	}
}

static void dlim_set_put(uint64_t *set, size_t cap, uint64_t h)
{
	size_t m = cap - 1, i;

	for (i = h & m; set[i] && set[i] != h; i = (i + 1) & m)
		;
	set[i] = h;
}

/* Room for N more hashes at most half full; 0 or -ENOMEM (unchanged). */
static int dlim_set_reserve(struct dlim_acct *a, size_t more)
{
	size_t want = a->n + more, cap = a->cap ? a->cap : DLIMIT_SET0;
	uint64_t *ns;

	while (want * 2 > cap)
		cap *= 2;
	if (cap == a->cap)
		return 0;
	ns = calloc(cap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap; i++)
		if (a->set[i])
			dlim_set_put(ns, cap, a->set[i]);
	free(a->set);
	a->set = ns;
	a->cap = cap;
	return 0;
}

static int dlim_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Earliest end of any account's window, for Retry-After when full. */
static int dlim_first_window_end_s(const struct dlimit *d, int64_t now_ms)
{
	int64_t best = now_ms + DLIMIT_WINDOW_MS;

	for (size_t b = 0; b < d->nbuckets; b++)
		for (const struct dlim_acct *a = d->buckets[b]; a; a = a->next)
			if (a->n && a->win_start_ms + DLIMIT_WINDOW_MS < best)
				best = a->win_start_ms + DLIMIT_WINDOW_MS;
	return (int)((best - now_ms) / 1000) + 1;
}

int dlimit_count(struct dlimit *d, const char *account, uint64_t *h, size_t n,
		 int64_t now_ms, size_t *new_out, int *retry_after_s)
{
	struct dlim_acct *a = dlim_get(d, account, now_ms);
	size_t fresh = 0, u = 0;

	if (!a)
		return -ENOMEM;
	dlim_window(d, a, now_ms);
	/* distinct within the request, then not yet in the window */
	qsort(h, n, sizeof(*h), dlim_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || h[i] != h[i - 1])
			h[u++] = h[i];
	for (size_t i = 0; i < u; i++)
		fresh += !dlim_set_has(a, h[i]);
	if (new_out)
		*new_out = fresh;
	if (!fresh)
		return 0;
	if (a->n + fresh > (size_t)d->cfg.max_numbers_day) {
		*retry_after_s = a->n ? (int)((a->win_start_ms + DLIMIT_WINDOW_MS -
					       now_ms) / 1000) + 1
				      : (int)(DLIMIT_WINDOW_MS / 1000);
		return -EDQUOT;
	}
	if (d->entries + fresh > d->cfg.track_max) {
		dlimit_gc(d, now_ms);
		if (d->entries + fresh > d->cfg.track_max) {
			*retry_after_s = dlim_first_window_end_s(d, now_ms);
			return -ENOSPC;
		}
	}
	if (dlim_set_reserve(a, fresh))
		return -ENOMEM;
	if (!a->n)
		a->win_start_ms = now_ms;
	for (size_t i = 0; i < u; i++)
		if (!dlim_set_has(a, h[i])) {
			dlim_set_put(a->set, a->cap, h[i]);
			a->n++;
		}
	d->entries += fresh;
	return 0;
}

size_t dlimit_remaining(struct dlimit *d, const char *account, int64_t now_ms)
{
	uint64_t h = dlim_str_hash(account);
	size_t cap = (size_t)d->cfg.max_numbers_day;

	for (struct dlim_acct *a = d->buckets[h & (d->nbuckets - 1)]; a;
	     a = a->next)
		if (a->hash == h && strcmp(a->account, account) == 0) {
			dlim_window(d, a, now_ms);
			return a->n < cap ? cap - a->n : 0;
		}
	return cap;
}

void dlimit_gc(struct dlimit *d, int64_t now_ms)
{
	for (size_t b = 0; b < d->nbuckets; b++) {
		struct dlim_acct **pp = &d->buckets[b], *a;

		while ((a = *pp)) {
			dlim_window(d, a, now_ms);
			dlim_refill(d, a, now_ms);
			if (!a->n && a->tokens >= d->cfg.burst) {
				*pp = a->next;
				d->naccounts--;
				dlim_acct_free(a);
				continue;
			}
			pp = &a->next;
		}
	}
}

size_t dlimit_entries(const struct dlimit *d)
{
	return d->entries;
}

size_t dlimit_accounts(const struct dlimit *d)
{
	return d->naccounts;
}
