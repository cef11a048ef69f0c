/*
 * offline: presence follows reachability (RFC 3856 s.6.6 "basic status";
 * RFC 5626 s.5.2 flow failure). A device is online while it has a usable
 * binding: unexpired, over a flow not known dead. When it goes offline --
 * its last binding removed (REGISTER Expires: 0 or "*"), expired (the
 * registrar's gc), or its flow found dead (stream closed, UDP keep-alives
 * lost: flow.c) -- its publication is dropped and the number's watchers
 * get a NOTIFY without it (one closed tuple when no device is left). Why,
 * and the delays: docs/presence.md, "When a device goes offline".
 *
 * Who calls: the registrar's worker (pres_bindings_changed, at once after
 * the REGISTER's write), the housekeeping thread (pres_lost_flush, after
 * each gc), and whatever thread saw a flow die or come back (flow_cb,
 * through flowtab_watch). None of them owns the watchers' flows, so only
 * the registrar's worker NOTIFYs its own; everything else is posted to the
 * owners' mailboxes (notify.c). No lock is held across calls into
 * presence, the bindings (regcache) and the flows: each is copied out
 * under its own lock first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "presence_sip.h"
#include "regcache.h"
#include "../core/metrics.h"
#include "../presence/presence.h"
#include "../store/store.h"
#include "dataline/log.h"
#include "dataline/pidf.h"

/* Bindings looked at per number (a number's devices are few). */
#define OFFLINE_MAX_BINDINGS 64

struct bind_copy {
	char device[PRESENCE_DEVICE_MAX];
	struct sipd_flow f;
	int bad;                           /* no flow could be made */
};

struct bind_acc {
	struct bind_copy v[OFFLINE_MAX_BINDINGS];
	int n;
};

static int bind_cb(const struct store_binding *b, void *arg)
{
	struct bind_acc *a = arg;
	struct bind_copy *c;

	if (a->n >= OFFLINE_MAX_BINDINGS ||
	    strlen(b->username) >= PRESENCE_DEVICE_MAX)
		return 0;
	c = &a->v[a->n++];
	strcpy(c->device, b->username);
	c->bad = sipd_flow_of_binding(b, &c->f) != 0;
	return 0;
}

int pres_online_devices(struct sipd_shared *sh, const char *number,
			char (*out)[PRESENCE_DEVICE_MAX], int max)
{
	struct bind_acc *a = malloc(sizeof(*a));
	int i, j, n = 0, loaded;

	if (!a)
		return -ENOMEM;
	a->n = 0;
	regcache_lock(sh->rc);
	loaded = regcache_loaded(sh->rc);
	if (loaded)
		regcache_list(sh->rc, number, (int64_t)time(NULL), bind_cb, a);
	regcache_unlock(sh->rc);
	if (!loaded) {
		free(a);
		return -EAGAIN;
	}
	/* flows after the cache lock is released: no nesting */
	for (i = 0; i < a->n && n < max; i++) {
		const struct bind_copy *c = &a->v[i];

		if (c->bad || flow_state(sh->flows, &c->f, NULL) == FLOW_DEAD)
			continue;
		for (j = 0; j < n && strcmp(out[j], c->device); j++)
			;
		if (j == n)
			strcpy(out[n++], c->device);
	}
	free(a);
	return n;
}

int pres_device_online(struct sipd_shared *sh, const char *number,
		       const char *device)
{
	char (*on)[PRESENCE_DEVICE_MAX] = malloc(PIDF_MAX_TUPLES * sizeof(*on));
	int n, i, found = 0;

	if (!on)
		return 1; /* unknown: do not refuse for our own shortage */
	n = pres_online_devices(sh, number, on, PIDF_MAX_TUPLES);
	if (n < 0)
		found = 1;
	for (i = 0; i < n && !found; i++)
		found = !strcmp(on[i], device);
	/* more devices than PIDF_MAX_TUPLES: ask for this one alone */
	if (!found && n == PIDF_MAX_TUPLES) {
		char (*all)[PRESENCE_DEVICE_MAX] =
			malloc(OFFLINE_MAX_BINDINGS * sizeof(*all));
		if (!all) {
			free(on);
			return 1;
		}
		n = pres_online_devices(sh, number, all, OFFLINE_MAX_BINDINGS);
		for (i = 0; i < n && !found; i++)
			found = !strcmp(all[i], device);
		free(all);
	}
	free(on);
	return found;
}

/*
 * Drops the publications of NUMBER's devices that have no usable binding
 * left. Returns 1 if NUMBER's watchers should hear (it is watched, or a
 * publication went), else 0.
 */
static int offline_check(struct sipd_shared *sh, const char *number)
{
	struct presence_dev pubs[PIDF_MAX_TUPLES];
	char (*on)[PRESENCE_DEVICE_MAX] = NULL;
	size_t np = 0, i;
	int n = 0, j, dropped = 0;

	if (presence_list(sh->pres, number, sipd_now_ms(), pubs,
			  PIDF_MAX_TUPLES, &np) || !np)
		return pres_watched(sh, number);
	on = malloc(OFFLINE_MAX_BINDINGS * sizeof(*on));
	if (!on)
		return pres_watched(sh, number);
	n = pres_online_devices(sh, number, on, OFFLINE_MAX_BINDINGS);
	for (i = 0; n >= 0 && i < np; i++) {
		for (j = 0; j < n && strcmp(on[j], pubs[i].device); j++)
			;
		if (j < n)
			continue;
		/* only the publication we looked at: a newer one was made
		 * by a device online again */
		if (presence_drop(sh->pres, number, pubs[i].device,
				  pubs[i].etag) == 0)
			dropped++;
	}
	free(on);
	if (dropped)
		log_debug("presence: %s: %d publication(s) of devices gone "
			  "offline dropped", number, dropped);
	if (dropped) {
		metrics_gauge_set(METRICS_PRESENCE_PUBLICATIONS,
				  (int64_t)presence_count(sh->pres));
		return 1;
	}
	return pres_watched(sh, number);
}

void pres_bindings_changed(struct sipd *w, const char *number)
{
	if (!w->sh->pres || atomic_load(&w->sh->closing))
		return;
	if (offline_check(w->sh, number))
		pres_changed(w, number);
}

/* From a thread that owns no watcher (or not all of them). */
static void offline_changed(struct sipd_shared *sh, const char *number)
{
	if (!sh->pres || atomic_load(&sh->closing))
		return;
	if (offline_check(sh, number))
		pres_changed_all(sh, number);
}

/* flowtab_watch: a flow NUMBER registered over died or came back. */
static void flow_cb(void *arg, const char *number)
{
	offline_changed(arg, number);
}

void pres_offline_init(struct sipd_shared *sh)
{
	flowtab_watch(sh->flows, flow_cb, sh);
}

void pres_lost_add(void *arg, const char *number)
{
	struct pres_lost *l = arg;

	if (strlen(number) >= sizeof(*l->v))
		return;
	/* bindings of one number tend to come one after another */
	if (l->n && !strcmp(l->v[l->n - 1], number))
		return;
	if (l->n == l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 16;
		char (*nv)[24] = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return; /* that number's watchers hear at its next change */
		l->v = nv;
		l->cap = nc;
	}
	strcpy(l->v[l->n++], number);
}

static int lost_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

void pres_lost_flush(struct sipd_shared *sh, struct pres_lost *l)
{
	size_t i;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), lost_cmp);
	for (i = 0; i < l->n; i++)
		if (!i || strcmp(l->v[i], l->v[i - 1]))
			offline_changed(sh, l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
