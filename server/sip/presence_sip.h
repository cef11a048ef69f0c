/*
 * presence_sip: what publish.c, subscribe.c and probe.c share (presence,
 * issue 7: RFC 3903 PUBLISH, RFC 6665/3856 SUBSCRIBE and NOTIFY, the
 * netq probe reflector). Private to server/sip/. The store itself is
 * server/presence/presence.h; the guarantees are in docs/presence.md.
 */
#ifndef DATALINE_SERVER_PRESENCE_SIP_H
#define DATALINE_SERVER_PRESENCE_SIP_H

#include "sipd.h"
#include "dataline/e164.h"

/* Largest PUBLISH body accepted (413 above): a PIDF of PIDF_MAX_TUPLES
 * tuples with figures fits in a quarter of it. */
#define PRES_MAX_BODY 8192
/* Default expiry of a publication or subscription without Expires. */
#define PRES_DEFAULT_EXPIRES 3600

/* The E.164 number a sip:/tel: URI's user part names, normalised into
 * OUT. 0 or -EINVAL. */
int pres_number_of(const struct sip_uri *u, char out[E164_MAX]);
/* 0 if R's Event is "presence" (params ignored); otherwise answers 489
 * Bad Event with Allow-Events and returns -1. */
int pres_event_check(struct sipd_reply *r);
/* The Expires R asks for, bounded: 0..max (a value above max is cut to
 * max; absent = PRES_DEFAULT_EXPIRES cut to max). Answers 423 with
 * Min-Expires and returns -1 for 0 < expires < min. */
int pres_expires(struct sipd_reply *r, uint32_t *out);

/* subscribe.c: NUMBER's presence changed: every watcher gets a NOTIFY,
 * each from the worker that owns its flow (posted to its mailbox). */
void pres_changed(struct sipd *w, const char *number);
/* subscribe.c: timers of worker W (expiries of publications on worker 0,
 * of W's own subscriptions on every worker). */
void pres_tick(struct sipd *w);

/* probe.c: the netq probe reflector on worker 0 (--probe-udp). */
int probe_open(struct sipd *w);
void probe_close(struct sipd *w);

#endif
