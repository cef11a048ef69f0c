/*
 * presence: what the server knows of each device's network (RFC 3903
 * publications of RFC 3863 PIDF with dataline's netq element), kept in
 * memory, and the aggregate per number that watchers (RFC 3856) and the
 * call gate read. Independent of SIP: the SIP side (server/sip/publish.c,
 * subscribe.c) authenticates, parses and calls in here. Private to server/.
 *
 * What is kept: ONE entry per device (digest username), under its number:
 * the latest figures (struct pidf_netq of its tuple), its <basic>, the
 * entity tag of the publication and when it expires. A new publication
 * from a device without SIP-If-Match replaces the device's entry (a device
 * publishes one presence). Entries exist only for devices the caller has
 * authenticated; their total is bounded (presence_new's MAX). Nothing is
 * written to disk: a restart forgets every publication, and handsets
 * re-publish within their refresh interval.
 *
 * Locking: 64 shards by the hash of the number, so every device of one
 * number is in one shard and an aggregate is read under one lock. Every
 * function is thread-safe. Times are CLOCK_MONOTONIC milliseconds given by
 * the caller (tests drive the clock).
 */
#ifndef DATALINE_SERVER_PRESENCE_H
#define DATALINE_SERVER_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/pidf.h"

#define PRESENCE_ETAG_LEN 17      /* 16 hex digits + NUL */
#define PRESENCE_NUMBER_MAX 24
#define PRESENCE_DEVICE_MAX 64

struct presence;

/* One device's publication (a copy). */
struct presence_dev {
	char device[PRESENCE_DEVICE_MAX];   /* digest username */
	char etag[PRESENCE_ETAG_LEN];
	enum pidf_basic basic;              /* as published */
	struct pidf_netq netq;              /* as published */
	uint64_t published_ms;              /* when it arrived */
	uint64_t expires_ms;
};

/* The aggregate of a number: what the call gate reads. */
struct presence_view {
	unsigned ndevices;                  /* devices with a live publication */
	char device[PRESENCE_DEVICE_MAX];   /* the best of them */
	struct pidf_netq netq;              /* its figures */
	uint32_t age_s;                     /* how old they are now: the
					       published age-s plus the time
					       since the publication */
	uint64_t published_ms;
};

/* A store of at most MAX publications (all numbers). 0 or -errno. */
int presence_new(size_t max, struct presence **out);
void presence_free(struct presence *p);

/*
 * A publication by DEVICE of NUMBER (both already authenticated).
 *   IF_MATCH NULL: an initial publication; NQ (and BASIC) required.
 *   IF_MATCH set: must be the device's current entity tag, else -ENOENT
 *     (412); NQ NULL refreshes the expiry only, NQ set modifies.
 *   EXPIRES_S 0: removes the publication (IF_MATCH required).
 * On success a fresh entity tag goes to ETAG (RFC 3903 s.6: every
 * successful PUBLISH gets a new one; empty after a removal).
 * -EINVAL bad arguments, -ENOENT unknown etag, -ENOSPC store full,
 * -ENOMEM. *CHANGED (optional) is 1 when the number's figures changed
 * (not for a plain refresh).
 */
int presence_publish(struct presence *p, const char *number,
		     const char *device, const char *if_match,
		     const struct pidf_netq *nq, enum pidf_basic basic,
		     uint32_t expires_s, uint64_t now_ms,
		     char etag[PRESENCE_ETAG_LEN], int *changed);

/*
 * The call gate's question: how good is NUMBER's best device's network
 * now? Best = link not down, then the highest rate, then the lowest RTT,
 * then the newest. 0 and *OUT, or -ENOENT when no device of NUMBER has a
 * live publication.
 */
int presence_figures(struct presence *p, const char *number, uint64_t now_ms,
		     struct presence_view *out);

/* The live publications of NUMBER (at most CAP, oldest device order not
 * guaranteed) into OUT; *N how many. 0 or -EINVAL. */
int presence_list(struct presence *p, const char *number, uint64_t now_ms,
		  struct presence_dev *out, size_t cap, size_t *n);

/* Drops publications expired at NOW_MS, then calls CB (no lock held)
 * once per number that lost one. Returns how many were dropped. */
typedef void (*presence_expired_fn)(void *arg, const char *number);
size_t presence_expire(struct presence *p, uint64_t now_ms,
		       presence_expired_fn cb, void *arg);

/*
 * DEVICE of NUMBER went offline (no usable binding left, docs/presence.md
 * "When a device goes offline"): its publication is dropped. ETAG, if not
 * NULL, must be the publication's current entity tag (a publication made
 * or modified since the caller looked is kept). 0 when one was dropped,
 * -ENOENT when there was none (or ETAG differs), -EINVAL.
 */
int presence_drop(struct presence *p, const char *number, const char *device,
		  const char *etag);

/* Publications held. */
size_t presence_count(struct presence *p);

#endif
