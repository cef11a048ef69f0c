/*
 * hpres: the handset's presence on the daemon's event loop (issue 8,
 * patent steps C2/C3). Three jobs:
 *
 *   probe    netq_probe() to the server's reflector every probe interval
 *            and right after registering when the newest result (ours or
 *            one in netq's maps) is older than that. netq_probe blocks
 *            for up to its timeout, so it runs on a thread of its own
 *            (one at a time); the thread
 *            writes the result into h->job and signals an eventfd, and the
 *            loop joins it. Before each probe the rolling-hour budget
 *            (hpres_rules.c) is asked with the probe's full cost; after
 *            it, what it really spent is charged (the full cost when it
 *            failed: an upper bound), so the last hour never holds more
 *            than the budget.
 *   read     the figures from libnetq (pinned maps + link-state events)
 *            when netq is attached, else from our probe alone (logged once:
 *            the documented fallback); every HPRES_TICK_S, at a link event
 *            and after a probe.
 *   publish  through the agent's RFC 3903 publication: when registered,
 *            every publish interval, and on a material change (at most
 *            one per HPRES_MIN_GAP_S, except link and netq presence
 *            changes, which go at once).
 *
 * Numbers and why: docs/presence.md ("The handset's side").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <event2/event.h>

#include "dataline/hpres.h"
#include "dataline/log.h"

#define HPRES_NETQ_RETRY_MS 60000  /* netq_open() retried this often */
#define HPRES_DOC_MAX 2048
#define HPRES_SCHED_SLACK_MS 5000  /* a probe's time, beyond the interval */

/*
 * The probe's job, shared by the loop and the probe thread: the thread
 * fills r and rc, signals efd and lets go; the loop reads them after the
 * join. Freed (with efd) by whichever lets go last, so hpres_free() need
 * not wait for a probe still running: it detaches the thread instead.
 */
struct hpres_job {
	int refs;                      /* atomic: the loop + a running thread */
	char hostport[256];
	char pin_dir[512];             /* o.pin_dir points here (or NULL) */
	struct netq_probe_opts o;
	struct netq_probe_result r;
	int rc;
	int efd;                       /* owned: signalled when done */
};

struct hpres {
	struct event_base *base;       /* borrowed */
	struct agent *a;               /* borrowed */
	struct agent_pub *pub;         /* owned */
	struct hpres_config cfg;       /* strings below are our copies */
	char *probe, *pin_dir, *entity, *tuple_id;

	struct netq *q;                /* owned; NULL: not attached */
	int netq_logged;               /* the fallback was logged */
	uint64_t netq_retry_ms;
	struct event *ls_ev;           /* owned: netq link-state fd */

	struct event *tick_ev;         /* owned: periodic read */
	struct event *probe_ev;        /* owned: next probe */
	struct event *gap_ev;          /* owned: a change waiting for the gap */
	struct event *sched_ev;        /* owned: scheduled re-publish */
	struct event *done_ev;         /* owned: job->efd readable */
	struct hpres_job *job;         /* shared with the thread (refs) */
	pthread_t thr;
	int running;                   /* a probe thread exists */

	struct hpres_budget budget;
	uint64_t cost;                 /* one probe's full cost */
	int deferring;                 /* a deferral was logged */
	struct netq_probe_result last; /* our last good probe */
	uint64_t last_ms;              /* its time; 0 none */
	uint64_t probes, failed, deferred;

	struct pidf_netq published;    /* figures last handed to the pub */
	uint64_t published_ms;         /* 0: nothing published yet */
	int last_pub_status, pub_in_place;
	int registered, stopped, started;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void timer_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* ------------------------------------------------------------ figures */

static void ls_cb(evutil_socket_t fd, short what, void *arg);

static void hpres_netq_try(struct hpres *h)
{
	int r, fd;

	if (h->q || h->cfg.no_netq)
		return;
	h->netq_retry_ms = now_ms() + HPRES_NETQ_RETRY_MS;
	r = netq_open(h->pin_dir, NETQ_OPEN_LINKSTATE, &h->q);
	if (r < 0 && netq_open(h->pin_dir, 0, &h->q) == 0)
		log_warn("hpres: netq link-state events unavailable (%s)", strerror(-r));
	if (!h->q) {
		if (!h->netq_logged)
			log_info("hpres: netq not attached (pins %s: %s): the figures "
				 "come from the probe alone", h->pin_dir ? h->pin_dir :
				 "default", strerror(-r));
		h->netq_logged = 1;
		return;
	}
	log_info("hpres: reading the figures from netq (pins %s)",
		 h->pin_dir ? h->pin_dir : "default");
	fd = netq_linkstate_fd(h->q);
	if (fd >= 0) {
		h->ls_ev = event_new(h->base, fd, EV_READ | EV_PERSIST, ls_cb, h);
		if (h->ls_ev)
			event_add(h->ls_ev, NULL);
	}
}

static void hpres_current(const struct hpres *h, struct pidf_netq *out)
{
	struct netq_snapshot s[NETQ_MAX_IFACES];
	uint64_t now = now_ms();
	int n = 0;

	if (h->q) {
		n = netq_snapshot_all(h->q, s, NETQ_MAX_IFACES);
		if (n < 0)
			n = 0;
	}
	hpres_figures(h->q ? s : NULL, n, h->last_ms ? &h->last : NULL,
		      h->last_ms ? now - h->last_ms : 0, out);
}

/* Age of the newest probe result: ours, or one in netq's maps (another
 * prober's, e.g. `dataline-netq probe --every`); UINT64_MAX if none. */
static uint64_t hpres_probe_age_ms(const struct hpres *h)
{
	struct netq_snapshot s[NETQ_MAX_IFACES];
	uint64_t age = h->last_ms ? now_ms() - h->last_ms : UINT64_MAX;
	int n = h->q ? netq_snapshot_all(h->q, s, NETQ_MAX_IFACES) : 0;

	for (int i = 0; i < n; i++)
		if (s[i].have_probe && s[i].probe_recv && s[i].probe_age_ms < age)
			age = s[i].probe_age_ms;
	return age;
}

/* ------------------------------------------------------------ publish */

static int hpres_doc(struct hpres *h, const struct pidf_netq *f, char *out,
		     size_t cap, size_t *len)
{
	struct pidf_doc d;
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;

	memset(&d, 0, sizeof(d));
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	d.entity = (struct sip_str){ h->entity, strlen(h->entity) };
	d.ntuples = 1;
	d.tuples[0].id = (struct sip_str){ h->tuple_id, strlen(h->tuple_id) };
	d.tuples[0].basic = PIDF_BASIC_OPEN;
	d.tuples[0].netq = *f;
	d.tuples[0].timestamp = (struct sip_str){ ts, strlen(ts) };
	return pidf_build(&d, out, cap, len);
}

static void hpres_publish(struct hpres *h, const struct pidf_netq *f,
			  const char *why)
{
	char doc[HPRES_DOC_MAX];
	size_t len;
	int r;

	if (h->stopped || !h->registered)
		return;
	r = hpres_doc(h, f, doc, sizeof(doc), &len);
	if (r == 0)
		r = agent_pub_set(h->pub, doc, len);
	if (r < 0) {
		log_warn("hpres: cannot publish: %s", strerror(-r));
		return;
	}
	h->published = *f;
	h->published_ms = now_ms();
	evtimer_del(h->gap_ev);
	evtimer_del(h->sched_ev);
	/* the next probe normally re-publishes first (done_cb); this one
	 * covers probes deferred or off */
	timer_ms(h->sched_ev, (uint64_t)h->cfg.publish_interval_s * 1000 +
		 HPRES_SCHED_SLACK_MS);
	log_info("hpres: publishing (%s): link %s, rate %s%u kbit/s%s, rtt %s%u ms, "
		 "loss %s%u ppm, age %u s", why,
		 !(f->have & PIDF_NETQ_LINK) ? "?" : f->link == PIDF_LINK_UP ? "up" : "down",
		 f->have & PIDF_NETQ_RATE ? "" : "?", f->rate_kbps,
		 f->have & PIDF_NETQ_RATE && f->probed ? " (probed)" : "",
		 f->have & PIDF_NETQ_RTT ? "" : "?", f->rtt_ms,
		 f->have & PIDF_NETQ_LOSS ? "" : "?", f->loss_ppm, f->age_s);
}

/* Publishes the current figures if nothing is published yet, FORCE is
 * set, or they changed materially (gap permitting). */
static void hpres_evaluate(struct hpres *h, int force, const char *why)
{
	struct pidf_netq cur;
	unsigned chg;
	uint64_t now = now_ms(), gap = (uint64_t)HPRES_MIN_GAP_S * 1000;

	if (h->stopped || !h->registered)
		return;
	hpres_current(h, &cur);
	if (!h->published_ms || force) {
		hpres_publish(h, &cur, why);
		return;
	}
	chg = hpres_material_change(&h->published, &cur);
	if (!chg)
		return;
	if (!(chg & (HPRES_CHG_LINK | HPRES_CHG_NETQ)) && now < h->published_ms + gap) {
		if (!evtimer_pending(h->gap_ev, NULL))
			timer_ms(h->gap_ev, h->published_ms + gap - now);
		return;
	}
	hpres_publish(h, &cur, chg & HPRES_CHG_LINK ? "link changed" :
			       chg & HPRES_CHG_RATE ? "rate changed" :
			       chg & HPRES_CHG_RTT ? "rtt changed" :
			       chg & HPRES_CHG_LOSS ? "loss changed" : "netq changed");
}

static void gap_cb(evutil_socket_t fd, short what, void *arg)
{
	hpres_evaluate(arg, 0, "change");
}

static void sched_cb(evutil_socket_t fd, short what, void *arg)
{
	hpres_evaluate(arg, 1, "schedule");
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hpres *h = arg;

	if (!h->q && !h->cfg.no_netq && now_ms() >= h->netq_retry_ms)
		hpres_netq_try(h);
	hpres_evaluate(h, 0, "change");
}

static void ls_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hpres *h = arg;

	if (netq_linkstate_update(h->q) < 0)
		log_warn("hpres: netq link-state update failed");
	hpres_evaluate(h, 0, "link event");
}

static void pub_cb(void *arg, int status, int published)
{
	struct hpres *h = arg;

	h->last_pub_status = status;
	h->pub_in_place = published;
}

/* ------------------------------------------------------------ probe */

static void job_put(struct hpres_job *j)
{
	if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		if (j->efd >= 0)
			close(j->efd);
		free(j);
	}
}

static void *probe_thread(void *arg)
{
	struct hpres_job *j = arg;
	uint64_t one = 1;

	j->rc = netq_probe(j->hostport, &j->o, &j->r);
	if (write(j->efd, &one, sizeof(one)) != sizeof(one))
		log_warn("hpres: cannot signal the probe's end");
	job_put(j);
	return NULL;
}

static void probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hpres *h = arg;
	uint64_t wait, now = now_ms();
	int r;

	if (h->stopped || !h->registered || h->running || !h->probe)
		return;         /* registering arms it again */
	r = hpres_budget_wait(&h->budget, now, h->cost, &wait);
	if (r == 0 && wait) {
		h->deferred++;
		if (!h->deferring)
			log_info("hpres: probe deferred %llu s: %llu of %llu bytes "
				 "spent in the last hour", (unsigned long long)(wait + 999) / 1000,
				 (unsigned long long)hpres_budget_spent(&h->budget, now),
				 (unsigned long long)h->budget.limit);
		h->deferring = 1;
		timer_ms(h->probe_ev, wait);
		return;
	}
	h->deferring = 0;
	h->job->o.no_bpf = !h->q;
	__atomic_add_fetch(&h->job->refs, 1, __ATOMIC_ACQ_REL);
	r = pthread_create(&h->thr, NULL, probe_thread, h->job);
	if (r) {
		__atomic_sub_fetch(&h->job->refs, 1, __ATOMIC_ACQ_REL);
		log_warn("hpres: no probe thread: %s", strerror(r));
		timer_ms(h->probe_ev, (uint64_t)h->cfg.probe_interval_s * 1000);
		return;
	}
	h->running = 1;
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hpres *h = arg;
	struct hpres_job *j = h->job;
	uint64_t v, now = now_ms();

	if (read(fd, &v, sizeof(v)) != sizeof(v) || !h->running)
		return;
	pthread_join(h->thr, NULL);
	h->running = 0;
	h->probes++;
	hpres_budget_charge(&h->budget, now, j->rc == 0 ? j->r.bytes : h->cost);
	if (j->rc == 0) {
		h->last = j->r;
		h->last_ms = now;
		log_info("hpres: probe to %s: %u kbit/s, rtt %u us, %u/%u echoed, "
			 "%llu bytes (%llu of %llu this hour)", h->probe, j->r.kbps,
			 j->r.rtt_us, j->r.recv, j->r.sent, (unsigned long long)j->r.bytes,
			 (unsigned long long)hpres_budget_spent(&h->budget, now),
			 (unsigned long long)h->budget.limit);
	} else {
		h->failed++;
		log_info("hpres: probe to %s failed: %s (%llu bytes counted)", h->probe,
			 strerror(-j->rc), (unsigned long long)h->cost);
	}
	if (!h->stopped)
		timer_ms(h->probe_ev, (uint64_t)h->cfg.probe_interval_s * 1000);
	/* the schedule: fresh figures re-published once the published ones
	 * are a publish interval old (a second of slack for timer skew) */
	hpres_evaluate(h, !h->published_ms || now + 1000 >= h->published_ms +
		       (uint64_t)h->cfg.publish_interval_s * 1000, "probe");
}

/* ------------------------------------------------------------ life */

void hpres_agent_state(struct hpres *h, enum agent_state st)
{
	uint64_t age, ival;

	if (!h || h->stopped)
		return;
	if (st != AGENT_REGISTERED) {
		if (st == AGENT_BACKOFF || st == AGENT_CONNECTING || st == AGENT_STOPPED)
			h->registered = 0;
		return;
	}
	if (h->registered)
		return;
	h->registered = 1;
	if (h->probe && !h->running) {
		age = hpres_probe_age_ms(h);
		ival = (uint64_t)h->cfg.probe_interval_s * 1000;
		if (age >= ival) {
			/* the probe's end publishes (see done_cb) */
			evtimer_del(h->probe_ev);
			probe_cb(-1, 0, h);
			if (h->running)
				return;
		} else if (!evtimer_pending(h->probe_ev, NULL)) {
			timer_ms(h->probe_ev, ival - age);
		}
	}
	hpres_evaluate(h, !h->published_ms, "registered");
}

static char *dup_or_null(const char *s, int *bad)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*bad = 1;
	return d;
}

int hpres_new(struct event_base *base, struct agent *a,
	      const struct hpres_config *cfg, struct hpres **out)
{
	struct agent_pub_config pc = { 0 };
	struct hpres *h;
	int r, bad = 0;

	if (!base || !a || !cfg || !cfg->entity || !out)
		return -EINVAL;
	if ((cfg->probe && (!cfg->probe[0] || !strchr(cfg->probe, ':') ||
			    strlen(cfg->probe) >= sizeof(h->job->hostport))) ||
	    (cfg->netq_pin_dir && strlen(cfg->netq_pin_dir) >= sizeof(h->job->pin_dir)))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->base = base;
	h->a = a;
	h->cfg = *cfg;
	h->job = calloc(1, sizeof(*h->job));
	if (!h->job) {
		free(h);
		return -ENOMEM;
	}
	h->job->refs = 1;
	h->job->efd = -1;
	if (!h->cfg.probe_interval_s)
		h->cfg.probe_interval_s = NETQ_PROBE_INTERVAL_S;
	if (!h->cfg.budget)
		h->cfg.budget = NETQ_PROBE_BUDGET;
	if (!h->cfg.publish_interval_s)
		h->cfg.publish_interval_s = h->cfg.probe_interval_s;
	h->probe = dup_or_null(cfg->probe, &bad);
	h->pin_dir = dup_or_null(cfg->netq_pin_dir, &bad);
	h->entity = dup_or_null(cfg->entity, &bad);
	h->tuple_id = dup_or_null(cfg->tuple_id ? cfg->tuple_id : "handset", &bad);
	r = -ENOMEM;
	if (bad)
		goto fail;
	h->job->o.count = cfg->probe_count;
	h->job->o.size = cfg->probe_size;
	if (h->pin_dir) {
		snprintf(h->job->pin_dir, sizeof(h->job->pin_dir), "%s", h->pin_dir);
		h->job->o.pin_dir = h->job->pin_dir;
	}
	h->cost = netq_probe_cost(&h->job->o);
	hpres_budget_init(&h->budget, h->cfg.budget);
	if (h->probe) {
		r = -E2BIG;
		if (h->cost > h->cfg.budget)
			goto fail;
		r = hpres_interval_check(h->cost, h->cfg.probe_interval_s, h->cfg.budget);
		if (r == -E2BIG && h->cfg.over_budget) {
			log_warn("hpres: probing every %u s asks for more than %llu bytes "
				 "an hour; the budget spaces the probes",
				 h->cfg.probe_interval_s, (unsigned long long)h->cfg.budget);
			r = 0;
		}
		if (r < 0)
			goto fail;
		snprintf(h->job->hostport, sizeof(h->job->hostport), "%s", h->probe);
	}
	r = -ENOMEM;
	h->job->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, h);
	h->probe_ev = evtimer_new(base, probe_cb, h);
	h->gap_ev = evtimer_new(base, gap_cb, h);
	h->sched_ev = evtimer_new(base, sched_cb, h);
	if (h->job->efd < 0 || !h->tick_ev || !h->probe_ev || !h->gap_ev || !h->sched_ev)
		goto fail;
	h->done_ev = event_new(base, h->job->efd, EV_READ | EV_PERSIST, done_cb, h);
	if (!h->done_ev)
		goto fail;
	pc.expires = cfg->expires;
	r = agent_pub_new(a, &pc, pub_cb, h, &h->pub);
	if (r < 0)
		goto fail;
	hpres_netq_try(h);
	*out = h;
	return 0;
fail:
	hpres_free(h);
	return r;
}

int hpres_start(struct hpres *h)
{
	struct timeval tv = { .tv_sec = HPRES_TICK_S };

	if (!h || h->started)
		return -EALREADY;
	h->started = 1;
	if (event_add(h->tick_ev, &tv) < 0 || event_add(h->done_ev, NULL) < 0)
		return -ENOMEM;
	log_info("hpres: %s%s, every %u s, %llu bytes a probe, budget %llu bytes/hour",
		 h->probe ? "probing " : "not probing (no reflector)",
		 h->probe ? h->probe : "", h->cfg.probe_interval_s,
		 (unsigned long long)h->cost, (unsigned long long)h->cfg.budget);
	if (agent_state(h->a) == AGENT_REGISTERED)
		hpres_agent_state(h, AGENT_REGISTERED);
	return 0;
}

void hpres_stop(struct hpres *h)
{
	if (!h || h->stopped)
		return;
	h->stopped = 1;
	evtimer_del(h->probe_ev);
	evtimer_del(h->gap_ev);
	evtimer_del(h->sched_ev);
	if (h->published_ms)
		agent_pub_remove(h->pub);
}

void hpres_free(struct hpres *h)
{
	struct event **evs[6];

	if (!h)
		return;
	evs[0] = &h->ls_ev;
	evs[1] = &h->tick_ev;
	evs[2] = &h->probe_ev;
	evs[3] = &h->gap_ev;
	evs[4] = &h->sched_ev;
	evs[5] = &h->done_ev;
	if (h->running)
		pthread_detach(h->thr);   /* it frees the job if last */
	agent_pub_free(h->pub);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (*evs[i])
			event_free(*evs[i]);
	job_put(h->job);
	if (h->q)
		netq_close(h->q);
	free(h->probe);
	free(h->pin_dir);
	free(h->entity);
	free(h->tuple_id);
	free(h);
}

void hpres_status(const struct hpres *h, struct hpres_status *out)
{
	struct hpres_budget b = h->budget;
	uint64_t now = now_ms();

	memset(out, 0, sizeof(*out));
	hpres_current(h, &out->netq);
	out->from_netq = h->q != NULL;
	out->published = h->pub_in_place;
	out->last_pub_status = h->last_pub_status;
	out->spent_hour = hpres_budget_spent(&b, now);
	out->budget = h->budget.limit;
	out->probes = h->probes;
	out->probes_failed = h->failed;
	out->probes_deferred = h->deferred;
	out->last_probe_age_ms = h->last_ms ? now - h->last_ms : UINT64_MAX;
	out->last_probe_kbps = h->last_ms ? h->last.kbps : 0;
	out->last_probe_rtt_us = h->last_ms ? h->last.rtt_us : 0;
}
