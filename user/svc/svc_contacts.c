/*
 * svc_contacts: the address book in the handset service (patent claim 3:
 * the contacts registered with dataline are marked, and the marks are
 * refreshed on a schedule). Import reads a vCard file's bytes into the
 * store (user/csync, per-entry problems); a sync asks the server's
 * /v1/contacts/discover over HTTPS which numbers are registered
 * (csync_sync_start: on a thread, its answer back on the loop) and sets
 * the marks. The daemon syncs after it first registers, then every
 * contacts_sync_s seconds; a 429 is retried after its Retry-After. One
 * sync at a time: a D-Bus SyncContacts during a sync waits for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "dataline/csync.h"
#include "dataline/log.h"
#include "svc_priv.h"

static void sync_timer_cb(evutil_socket_t fd, short what, void *arg);

static void sync_arm(struct svc *s, uint32_t secs)
{
	struct timeval tv = { .tv_sec = secs };

	if (!s->sync_ev)
		s->sync_ev = evtimer_new(s->base, sync_timer_cb, s);
	if (s->sync_ev)
		evtimer_add(s->sync_ev, &tv);
}

static void sync_done(void *arg, const struct csync_result *r)
{
	struct svc *s = arg;
	int n = s->nwait;

	s->sync_job = NULL;
	s->nwait = 0;
	if (r->err)
		log_warn("svc: contacts sync failed: %s (HTTP %d%s%s)", strerror(-r->err),
			 r->http_status, r->error[0] ? ", " : "", r->error);
	else
		log_info("svc: contacts synced: %zu asked, %zu registered, %zu marks "
			 "changed", r->asked, r->counts.registered, r->marks_changed);
	if (!r->err && r->marks_changed)
		svc_bus_contacts_changed(s, (uint32_t)r->marks_changed);
	if (s->contacts_sync_s)
		sync_arm(s, r->err == -EAGAIN && r->retry_after ? r->retry_after
			 : r->err ? (s->contacts_sync_s < 300 ? s->contacts_sync_s : 300)
			 : s->contacts_sync_s);
	for (int i = 0; i < n; i++)
		s->wait[i].done(s->wait[i].arg, r);
}

int svc_contacts_sync(struct svc *s, svc_sync_done done, void *arg)
{
	struct csync_account a;
	int r;

	if (done) {
		if (s->nwait == SVC_SYNC_MAX_WAIT)
			return -EBUSY;
		s->wait[s->nwait++] = (struct svc_sync_waiter){ done, arg };
	}
	if (s->sync_job)
		return 0;   /* joins the sync running */
	r = csync_account_load(s->state_dir, &a);
	if (r == 0)
		r = csync_sync_start(s->base, &a, s->hs, sync_done, s, &s->sync_job);
	if (r < 0) {
		log_warn("svc: contacts sync not started: %s", strerror(-r));
		if (done)
			s->nwait--;
		return r;
	}
	return 0;
}

static void sync_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;

	(void)fd;
	(void)what;
	if (svc_contacts_sync(s, NULL, NULL) < 0 && s->contacts_sync_s)
		sync_arm(s, s->contacts_sync_s < 300 ? s->contacts_sync_s : 300);
}

/* First registration: a sync now, then on the schedule. */
void svc_contacts_registered(struct svc *s)
{
	if (s->synced_once || !s->contacts_sync_s)
		return;
	s->synced_once = 1;
	sync_arm(s, 0);
}

int svc_contacts_import(struct svc *s, const void *buf, size_t len,
			svc_problem_fn fn, void *arg, struct svc_import *out)
{
	struct csync_import_opts o = { .country_code = s->cc[0] ? s->cc : NULL,
				       .problem = (csync_problem_cb)fn, .arg = arg };
	struct csync_import_result res;
	int r = csync_import(s->hs, buf, len, &o, time(NULL), &res);

	if (r == -EBADMSG && res.not_vcard)
		r = 0;  /* an answer, not a failure: "not a vCard file" */
	if (r < 0)
		return r;
	out->cards = res.cards;
	out->bad_cards = res.bad_cards;
	out->numbers = res.numbers;
	out->problems = res.problems;
	out->not_vcard = res.not_vcard;
	log_info("svc: contacts import: %zu numbers from %zu cards, %zu problems",
		 res.numbers, res.cards, res.problems);
	if (res.numbers)
		svc_bus_contacts_changed(s, (uint32_t)res.numbers);
	return 0;
}

void svc_contacts_stop(struct svc *s)
{
	struct csync_result r = { .err = -ECANCELED };
	int n = s->nwait;

	if (s->sync_job)
		csync_job_cancel(s->sync_job);
	s->sync_job = NULL;
	s->nwait = 0;
	for (int i = 0; i < n; i++)   /* callers waiting hear the end */
		s->wait[i].done(s->wait[i].arg, &r);
	if (s->sync_ev)
		event_free(s->sync_ev);
	s->sync_ev = NULL;
}
