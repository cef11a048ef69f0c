/*
 * subscribe: SUBSCRIBE and NOTIFY for the presence event package (RFC
 * 6665, RFC 3856): a dataline user watches a number's reachability and
 * network figures (the privacy rule: docs/presence.md).
 *
 * SUBSCRIBE, each step answering at most once:
 *   Event other than presence              -> 489 + Allow-Events
 *   no or wrong Proxy-Authorization        -> 407 (authn.c)
 *   Request-URI user not an E.164 number   -> 404
 *   0 < Expires < --presence-min-expires   -> 423 + Min-Expires
 *   Accept without application/pidf+xml    -> 406
 *   in a dialog (To tag): unknown dialog   -> 481; otherwise refresh or,
 *     with Expires: 0, end it (200, then NOTIFY terminated;reason=timeout)
 *   no Contact                             -> 400
 *   the watcher's or the server's cap      -> 503 + Retry-After
 *   then 200 (To tag, Contact, Expires) and at once a NOTIFY (RFC 6665
 *   s.4.2.1). Expires: 0 on a new SUBSCRIBE is a fetch: one NOTIFY with
 *   Subscription-State terminated;reason=timeout, nothing kept.
 *
 * The subscription is a dialog without a route set: the NOTIFYs go over
 * the flow (struct sipd_flow) the SUBSCRIBE came on, from the worker that
 * owns it; Request-URI = the subscriber's Contact, From = the SUBSCRIBE's
 * To with our tag, To = its From with its tag, our own CSeq. A NOTIFY
 * answered 481, 408 (or no answer: timer F), or 430 (flow gone) ends the
 * subscription silently (RFC 6665 s.4.2.2).
 *
 * The NOTIFYs themselves (when, body, fan-out over workers): notify.c.
 *
 * State is in memory only: a restart drops every subscription, and the
 * subscribers' refreshes (481 then a new SUBSCRIBE) rebuild them.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "presence_sip.h"
#include "regcache.h"
#include "../core/config.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "../presence/presence.h"
#include "../store/store.h"
#include "dataline/hmap.h"
#include "dataline/log.h"
#include "dataline/pidf.h"

/* ------------------------------------------------------------ table */

static int subtab_new(size_t max, size_t per_watcher, struct subtab **out)
{
	struct subtab *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	if (hmap_init(&t->by_num, 64) || hmap_init(&t->by_tag, 64) ||
	    hmap_init(&t->by_watcher, 64)) {
		hmap_destroy(&t->by_num);
		hmap_destroy(&t->by_tag);
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->max = max;
	t->per_watcher = per_watcher;
	t->next_id = 1;
	*out = t;
	return 0;
}

static void subtab_free(struct subtab *t)
{
	struct hmap_iter it;
	struct hmap_node *n;

	if (!t)
		return;
	hmap_for_each(&t->by_tag, it, n) {
		struct sub *s = HMAP_ENTRY(n, struct sub, by_tag);
		hmap_remove(&t->by_tag, n);
		free(s);
	}
	hmap_for_each(&t->by_watcher, it, n) {
		hmap_remove(&t->by_watcher, n);
		free(HMAP_ENTRY(n, struct wcount, node));
	}
	hmap_destroy(&t->by_num);
	hmap_destroy(&t->by_tag);
	hmap_destroy(&t->by_watcher);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct wcount *wcount_find(struct subtab *t, const char *watcher)
{
	struct hmap_node *n;
	uint64_t h = hmap_hash_str(watcher);

	hmap_for_each_hash(&t->by_watcher, n, h) {
		struct wcount *c = HMAP_ENTRY(n, struct wcount, node);
		if (!strcmp(c->watcher, watcher))
			return c;
	}
	return NULL;
}

/* Lock held. */
static struct sub *sub_by_tag(struct subtab *t, const char *tag,
			      struct sip_str call_id)
{
	struct hmap_node *n;
	uint64_t h = hmap_hash_str(tag);

	hmap_for_each_hash(&t->by_tag, n, h) {
		struct sub *s = HMAP_ENTRY(n, struct sub, by_tag);
		if (!strcmp(s->our_tag, tag) && sip_str_eq(call_id, s->call_id))
			return s;
	}
	return NULL;
}

/* Lock held: unlinks and frees S. */
void sub_drop(struct subtab *t, struct sub *s)
{
	struct wcount *c = wcount_find(t, s->watcher);

	if (c && --c->n == 0) {
		hmap_remove(&t->by_watcher, &c->node);
		free(c);
	}
	hmap_remove(&t->by_num, &s->by_num);
	hmap_remove(&t->by_tag, &s->by_tag);
	free(s);
	metrics_gauge_add(METRICS_PRESENCE_SUBSCRIPTIONS, -1);
}

/* Lock held: links S (its id set here). -EUSERS / -ENOSPC at the caps. */
static int sub_add(struct subtab *t, struct sub *s)
{
	struct wcount *c = wcount_find(t, s->watcher);

	if (hmap_count(&t->by_tag) >= t->max)
		return -ENOSPC;
	if (c && c->n >= t->per_watcher)
		return -EUSERS;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		strcpy(c->watcher, s->watcher);
		hmap_insert(&t->by_watcher, &c->node,
			    hmap_hash_str(c->watcher));
	}
	c->n++;
	s->id = t->next_id++;
	hmap_insert(&t->by_num, &s->by_num, hmap_hash_str(s->number));
	hmap_insert(&t->by_tag, &s->by_tag, hmap_hash_str(s->our_tag));
	metrics_gauge_add(METRICS_PRESENCE_SUBSCRIPTIONS, 1);
	return 0;
}

void sub_drop_id(struct subtab *t, uint64_t id, const char *tag)
{
	struct hmap_node *n;
	uint64_t h = hmap_hash_str(tag);

	pthread_mutex_lock(&t->lock);
	hmap_for_each_hash(&t->by_tag, n, h) {
		struct sub *s = HMAP_ENTRY(n, struct sub, by_tag);
		if (s->id == id) {
			sub_drop(t, s);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------ SUBSCRIBE */

static int accepts_pidf(const struct sip_msg *m)
{
	struct sip_list_iter it;
	struct sip_str v;

	if (!sip_msg_hdr(m, SIP_HDR_ACCEPT))
		return 1; /* RFC 3856 s.6.7: PIDF is the default */
	sip_list_init(&it, m, SIP_HDR_ACCEPT);
	while (sip_list_next(&it, &v) == 0) {
		size_t i;
		for (i = 0; i < v.len && v.p[i] != ';' && v.p[i] != ' '; i++)
			;
		v.len = i;
		if (sip_str_caseeq(v, PIDF_CONTENT_TYPE) ||
		    sip_str_caseeq(v, "application/*") ||
		    sip_str_caseeq(v, "*/*"))
			return 1;
	}
	return 0;
}

/* The server's Contact: the address the subscriber reached (its R-URI's
 * host and port), which the flow leads back to anyway. */
static void our_contact(const struct sipd_reply *r, const char *number,
			char *out, size_t cap)
{
	const struct sip_uri *u = &r->req->ruri;
	const char *tp = r->peer->tp == SIPD_UDP ? "" : r->peer->tp ==
			 SIPD_TCP ? ";transport=tcp" : ";transport=tls";

	if (u->port)
		snprintf(out, cap, "sip:%s@%s%.*s%s:%u%s", number,
			 u->host_is_ipv6 ? "[" : "", (int)u->host.len, u->host.p,
			 u->host_is_ipv6 ? "]" : "", u->port, tp);
	else
		snprintf(out, cap, "sip:%s@%s%.*s%s%s", number,
			 u->host_is_ipv6 ? "[" : "", (int)u->host.len, u->host.p,
			 u->host_is_ipv6 ? "]" : "", tp);
}

/* An in-dialog SUBSCRIBE: refresh or end (Expires 0). */
static void subscribe_refresh(struct sipd_reply *r, uint32_t expires,
			      const char *watcher)
{
	struct subtab *t = r->w->sh->subs;
	char tag[20], state[64], body[PRES_MAX_BODY];
	struct sub snap, *s;
	size_t blen;
	uint64_t now = sipd_now_ms();

	if (sip_str_copy(r->req->to.tag, tag, sizeof(tag))) {
		sipd_reply_simple(r, 481, NULL);
		return;
	}
	pthread_mutex_lock(&t->lock);
	s = sub_by_tag(t, tag, r->req->call_id);
	if (s && strcmp(s->watcher, watcher))
		s = NULL; /* another device's dialog: not ours to touch */
	if (s) {
		/* the refresh's flow is the live one (a stream may have been
		 * reopened): NOTIFYs follow it */
		sipd_flow_of(r->w, r->peer, &s->flow);
		s->expires_ms = now + (uint64_t)expires * 1000;
		s->cseq++;
		snap = *s;
		if (!expires)
			sub_drop(t, s);
	}
	pthread_mutex_unlock(&t->lock);
	if (!s) {
		sipd_reply_simple(r, 481, NULL);
		return;
	}
	sipd_reply_begin(r, 200, NULL);
	sip_buf_hdr(&r->b, "Expires", "%u", expires);
	sip_buf_hdr(&r->b, "Contact", "<%s>", snap.our_uri);
	sipd_reply_send(r);
	/* RFC 6665 s.4.2.1.1: a NOTIFY follows every accepted SUBSCRIBE */
	if (pres_body(r->w, snap.number, body, sizeof(body), &blen))
		return;
	if (!expires) {
		notify_send(r->w, &snap, "terminated;reason=timeout", 1, body,
			    blen);
		return;
	}
	state_active(state, sizeof(state), snap.expires_ms, now);
	notify_send(r->w, &snap, state, 0, body, blen);
}

void pres_subscribe_handle(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct subtab *t = r->w->sh->subs;
	struct store_device dev;
	struct sip_contact ct;
	struct sip_list_iter it;
	struct sip_str v;
	char num[E164_MAX], state[64], body[PRES_MAX_BODY];
	struct sub *s, snap;
	uint32_t expires;
	size_t blen;
	int err;

	if (pres_event_check(r))
		return;
	if (sipd_authenticate(r, 1, &dev))
		return;
	if (pres_number_of(&m->ruri, num)) {
		sipd_reply_simple(r, 404, "Not A Number");
		return;
	}
	if (pres_expires(r, &expires))
		return;
	if (!accepts_pidf(m)) {
		sipd_reply_begin(r, 406, NULL);
		sip_buf_hdr(&r->b, "Accept", PIDF_CONTENT_TYPE);
		sipd_reply_send(r);
		return;
	}
	if (sip_str_present(m->to.tag)) {
		subscribe_refresh(r, expires, dev.username);
		return;
	}
	sip_list_init(&it, m, SIP_HDR_CONTACT);
	if (sip_list_next(&it, &v) || sip_contact_decode(v, &ct) || ct.star) {
		sipd_reply_simple(r, 400, "Missing Contact");
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		sipd_reply_simple(r, 500, NULL);
		return;
	}
	memcpy(s->number, num, sizeof(num));
	snprintf(s->watcher, sizeof(s->watcher), "%s", dev.username);
	if (sip_str_copy(m->call_id, s->call_id, sizeof(s->call_id)) ||
	    sip_str_copy(m->from.uri_str, s->peer_uri, sizeof(s->peer_uri)) ||
	    sip_str_copy(m->from.tag, s->peer_tag, sizeof(s->peer_tag)) ||
	    sip_str_copy(ct.addr.uri_str, s->target, sizeof(s->target))) {
		free(s);
		sipd_reply_simple(r, 400, "Dialog Identifiers Too Long");
		return;
	}
	sip_rand_hex(r->to_tag, sizeof(r->to_tag), 8);
	memcpy(s->our_tag, r->to_tag, 17);
	our_contact(r, num, s->our_uri, sizeof(s->our_uri));
	s->expires_ms = sipd_now_ms() + (uint64_t)expires * 1000;
	sipd_flow_of(r->w, r->peer, &s->flow);
	s->cseq = 1;
	err = 0;
	snap = *s;
	if (expires) {
		pthread_mutex_lock(&t->lock);
		err = sub_add(t, s);
		snap = *s; /* with its id; S may go once the lock is released */
		pthread_mutex_unlock(&t->lock);
	} else {
		free(s); /* a fetch keeps nothing */
	}
	if (err) {
		free(s);
		sipd_reply_begin(r, 503, err == -EUSERS ? "Too Many Subscriptions"
					     : "Subscription Table Full");
		sip_buf_hdr(&r->b, "Retry-After", "300");
		sipd_reply_send(r);
		return;
	}
	sipd_reply_begin(r, 200, NULL);
	sip_buf_hdr(&r->b, "Expires", "%u", expires);
	sip_buf_hdr(&r->b, "Contact", "<%s>", snap.our_uri);
	sipd_reply_send(r);
	/* the first NOTIFY at once (RFC 6665 s.4.2.1) */
	if (pres_body(r->w, num, body, sizeof(body), &blen))
		return;
	if (!expires) {
		notify_send(r->w, &snap, "terminated;reason=timeout", 1, body,
			    blen);
		return;
	}
	state_active(state, sizeof(state), snap.expires_ms, sipd_now_ms());
	notify_send(r->w, &snap, state, 0, body, blen);
}

/* ------------------------------------------------------------ timers */

static void expired_cb(void *arg, const char *number)
{
	pres_changed(arg, number);
}

/* W's subscriptions past their expiry: NOTIFY terminated;reason=timeout
 * (RFC 6665 s.4.2.2), then gone. */
static void subs_expire(struct sipd *w, uint64_t now)
{
	struct subtab *t = w->sh->subs;
	struct sub_snaps a = { NULL, 0, 0 };
	struct hmap_iter it;
	struct hmap_node *n;
	size_t i;
	char body[PRES_MAX_BODY];
	size_t blen;

	pthread_mutex_lock(&t->lock);
	hmap_for_each(&t->by_tag, it, n) {
		struct sub *s = HMAP_ENTRY(n, struct sub, by_tag);
		if (s->flow.worker != w->id || s->expires_ms > now)
			continue;
		if (snap_push(&a, s))
			break;
		sub_drop(t, s);
	}
	pthread_mutex_unlock(&t->lock);
	for (i = 0; i < a.n; i++)
		if (pres_body(w, a.v[i].number, body, sizeof(body), &blen) == 0)
			notify_send(w, &a.v[i], "terminated;reason=timeout", 1,
				    body, blen);
	free(a.v);
}

void pres_tick(struct sipd *w)
{
	uint64_t now = sipd_now_ms();

	if (w->id == 0 &&
	    presence_expire(w->sh->pres, now, expired_cb, w) > 0)
		metrics_gauge_set(METRICS_PRESENCE_PUBLICATIONS,
				  (int64_t)presence_count(w->sh->pres));
	subs_expire(w, now);
}

static void pres_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pres_tick(arg);
}

int pres_shared_init(struct sipd_shared *sh)
{
	const struct config *cfg = sh->cfg;
	int err;

	err = presence_new((size_t)cfg->presence_max_publications, &sh->pres);
	if (err)
		return err;
	err = subtab_new((size_t)cfg->presence_max_subscriptions,
			 (size_t)cfg->presence_max_subs_per_watcher, &sh->subs);
	if (err) {
		presence_free(sh->pres);
		sh->pres = NULL;
		return err;
	}
	pres_offline_init(sh);
	return 0;
}

void pres_shared_fini(struct sipd_shared *sh)
{
	subtab_free(sh->subs);
	sh->subs = NULL;
	presence_free(sh->pres);
	sh->pres = NULL;
}

int pres_worker_init(struct sipd *w)
{
	struct timeval tv = { 1, 0 };

	w->pres_timer = event_new(w->base, -1, EV_PERSIST, pres_timer_cb, w);
	if (!w->pres_timer)
		return -ENOMEM;
	event_add(w->pres_timer, &tv);
	return w->id == 0 ? probe_open(w) : 0;
}

void pres_worker_fini(struct sipd *w)
{
	probe_close(w);
	if (w->pres_timer)
		event_free(w->pres_timer);
	w->pres_timer = NULL;
}
