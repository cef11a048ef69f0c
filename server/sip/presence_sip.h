/*
 * presence_sip: what publish.c, subscribe.c and probe.c share (presence,
 * issue 7: RFC 3903 PUBLISH, RFC 6665/3856 SUBSCRIBE and NOTIFY, the
 * netq probe reflector). Private to server/sip/. The store itself is
 * server/presence/presence.h; the guarantees are in docs/presence.md.
 */
#ifndef DATALINE_SERVER_PRESENCE_SIP_H
#define DATALINE_SERVER_PRESENCE_SIP_H

#include "sipd.h"
#include "../presence/presence.h"
#include "dataline/e164.h"
#include "dataline/hmap.h"

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
/* notify.c: the same from a thread that is not a worker, or for a change
 * not tied to one: every worker's NOTIFYs are posted to its mailbox. */
void pres_changed_all(struct sipd_shared *sh, const char *number);
/* notify.c: 1 if NUMBER has a subscription. */
int pres_watched(struct sipd_shared *sh, const char *number);

/* offline.c: the devices of NUMBER with a usable binding (unexpired, its
 * flow not known dead), at most MAX into OUT, each once. Returns how many,
 * or -EAGAIN while the bindings are not loaded (reachability unknown). */
int pres_online_devices(struct sipd_shared *sh, const char *number,
			char (*out)[PRESENCE_DEVICE_MAX], int max);
/* offline.c: 1 if DEVICE of NUMBER has a usable binding (or the bindings
 * are not loaded yet), else 0. */
int pres_device_online(struct sipd_shared *sh, const char *number,
		       const char *device);
/* offline.c: lets the flow table tell presence of dying flows. */
void pres_offline_init(struct sipd_shared *sh);

/* subscribe.c: timers of worker W (expiries of publications on worker 0,
 * of W's own subscriptions on every worker). */
void pres_tick(struct sipd *w);

/* probe.c: the netq probe reflector on worker 0 (--probe-udp). */
int probe_open(struct sipd *w);
void probe_close(struct sipd *w);

/* ---- subscribe.c / notify.c: subscriptions (RFC 6665 dialogs) ---- */
#define SUB_URI_MAX 256
#define SUB_TAG_MAX 64
#define SUB_CALLID_MAX 128

/* One subscription: a dialog (RFC 6665 s.4.1.2) and where its NOTIFYs go.
 * Owned by the table, in both its maps. */
struct sub {
	struct hmap_node by_num;          /* subtab.by_num, hash of number */
	struct hmap_node by_tag;          /* subtab.by_tag, hash of our tag */
	uint64_t id;
	char number[E164_MAX];            /* watched */
	char watcher[PRESENCE_DEVICE_MAX]; /* the subscribing device */
	char call_id[SUB_CALLID_MAX];
	char our_uri[SUB_URI_MAX];        /* SUBSCRIBE's To: NOTIFY's From */
	char our_tag[20];
	char peer_uri[SUB_URI_MAX];       /* SUBSCRIBE's From: NOTIFY's To */
	char peer_tag[SUB_TAG_MAX];
	char target[SUB_URI_MAX];         /* its Contact: NOTIFY's R-URI */
	uint32_t cseq;                    /* our last NOTIFY's */
	uint64_t expires_ms;
	struct sipd_flow flow;
};

/* Subscriptions one watcher device holds (its cap). */
struct wcount {
	struct hmap_node node;            /* by hash of the watcher */
	char watcher[PRESENCE_DEVICE_MAX];
	unsigned n;
};

/* Every subscription of the server, under one lock (subscribe.c). */
struct subtab {
	pthread_mutex_t lock;
	struct hmap by_num, by_tag, by_watcher; /* owned subs / wcounts */
	uint64_t next_id;
	size_t max, per_watcher;
};

/* Copies of subscriptions taken under the lock, to NOTIFY outside it. */
struct sub_snaps {
	struct sub *v;
	size_t n, cap;
};

/* subscribe.c: (lock held) unlinks and frees S. */
void sub_drop(struct subtab *t, struct sub *s);
/* subscribe.c: takes the lock; drops the subscription ID (tag TAG). */
void sub_drop_id(struct subtab *t, uint64_t id, const char *tag);
/* notify.c: NUMBER's PIDF document (docs/presence.md) into OUT. */
int pres_body(struct sipd *w, const char *number, char *out, size_t cap,
	      size_t *len);
/* notify.c: one NOTIFY for the copy S from W (which owns S->flow); STATE
 * is the Subscription-State value; FINAL: the subscription is gone. */
void notify_send(struct sipd *w, const struct sub *s, const char *state,
		 int final, const char *body, size_t blen);
/* notify.c: appends a copy of S, its CSeq advanced (lock held). */
int snap_push(struct sub_snaps *a, struct sub *s);
/* notify.c: "active;expires=N" for a subscription ending at EXPIRES_MS. */
void state_active(char *out, size_t cap, uint64_t expires_ms, uint64_t now);

#endif
