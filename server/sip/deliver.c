/*
 * deliver: texts and delivery reports out of the durable queue to every
 * device of their recipient (RFC 3428 MESSAGE, over each device's flow).
 *
 * Where the state lives: each number has a home worker (a hash of the
 * number over the workers), whose loop alone keeps that number's delivery
 * state (dl_num: one lane per device and channel). A kick (a device
 * registered, a retry come due) is posted to the home; reads and
 * acknowledgements go to the queue's writer thread and come back through
 * the home's mailbox; a MESSAGE leaves from the worker that owns the
 * device's flow (its mailbox), and the device's answer comes back to the
 * home the same way.
 *
 * Order and once-only: a lane has at most one text in flight and sends
 * in id order, so a device gets its texts in the order they were stored.
 * A text leaves a device's lane only on that device's 2xx (queue_ack);
 * the item leaves the queue when every device of the number has it. A
 * device that does not answer (timeout, flow gone, 5xx, 480/486) is tried
 * again with back-off while it stays registered (queue_defer); a device
 * that refuses for good (other 4xx, 6xx) is not tried again, and the
 * sender gets a "failed" report when it asked for one (negative-delivery).
 * Duplicates happen only when a 2xx was lost (the device gets the same
 * text again, with the same imdn.Message-ID, and drops it).
 *
 * Reading and cutting through. A lane that does not know what waits for
 * its device asks the queue for "the oldest items this device has not
 * acknowledged" (never "ids after the last one": rows are the truth,
 * docs/messaging.md). Once such a read comes back short (everything
 * pending was in it), the lane is *live*: it knows the whole backlog, and
 * every later text for the number reaches it straight from memory. Texts
 * are stored through deliver_put(), whose queue hook posts each new row
 * to the number's home from the writer thread the moment it is inserted,
 * before its transaction commits (the "fresh" item, with its id and the
 * writer's sequence number); after the commit a second post says
 * "committed" (or, if the commit failed, "revoked"). A live lane sends a
 * fresh text at once, so an online device gets it while its row is
 * being fsynced instead of after the fsync and a read; its
 * acknowledgement waits for the "committed" (an item is never acked, and
 * so never deleted, before it exists). Why this keeps the order and loses
 * nothing: the writer runs calls one at a time and numbers them (seq); a
 * read numbered S sees every row inserted by a call numbered below S and
 * none above, and both the fresh posts and the read's answer leave the
 * writer thread in that order, so when a read comes back the lane drops
 * the fresh items below S (the read has them) and keeps those above it,
 * which follow the read's items. A lane stops being live (and reads
 * again) whenever it may have missed something: its device went
 * offline or failed a delivery, its memory list overflowed, a fresh item
 * could not be copied, or a commit failed. A lane never reads while it
 * holds acknowledgements that wait for their commit: acks are submitted
 * before the next read, so that read sees them.
 *
 * What cutting through costs: a text can reach the device before its 202
 * leaves; if the server dies in between, the sender (no 202) sends it
 * again and the device gets it twice, with the same Message-ID: the
 * duplicate docs/messaging.md already allows for a delivery in flight at
 * a crash. A text refused by the queue (full, duplicate) is never
 * inserted, so never cut through; only a failed COMMIT (a disk error)
 * can refuse a text the device already has.
 *
 * Worker 0 also sweeps: every DL_SWEEP_MS it asks the queue for items due
 * (new ones, and retries whose back-off ran out) and kicks their numbers,
 * and once a minute it expires old items, sending "failed" reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "sipd.h"
#include "regcache.h"
#include "../core/config.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "../queue/queue.h"
#include "../store/store.h"
#include "dataline/cpim.h"
#include "dataline/hmap.h"
#include "dataline/imdn.h"
#include "dataline/log.h"

#define DL_MAX_DEV 16           /* devices of one number served */
#define DL_NCHAN 2              /* lanes per device: texts, reports */
#define DL_SWEEP_MS 2000
#define DL_EXPIRE_EVERY 30      /* sweeps between expiry runs */
#define DL_DUE_LIMIT 256
#define DL_RETRY_BASE_S 2
#define DL_RETRY_MAX_S 300
#define DL_OFFLINE_BASE_S 30    /* nobody reachable: look again later */
#define DL_FETCH 128            /* items one read returns at most ... */
#define DL_FETCH_MIN 16         /* ... and while the worker holds more
				 * than DL_HELD_SOFT bytes of read items */
#define DL_HELD_SOFT (16u << 20)
#define DL_MEMQ 256             /* fresh items a live lane holds */
#define DL_KEEP_LIVE_MS 60000   /* an idle live number is kept this long */

static const int dl_chan[DL_NCHAN] = { QUEUE_REPORT, QUEUE_TEXT };

static int dl_chan_index(int channel)
{
	return channel == QUEUE_REPORT ? 0 : 1;
}

struct dl_job;

/* A list of jobs, oldest first (home only). */
struct dl_list {
	struct dl_job *head, *last;
	int n;
};

struct dl_lane {
	int waiting;              /* a read or a defer is in flight */
	int again;                /* kicked while busy: read again after */
	int live;                 /* q plus the fresh items still to come
				     are everything pending (see above) */
	uint64_t hold_until_ms;   /* backing off after a failure */
	struct dl_job *inflight;  /* borrowed: out at the flow's owner */
	int64_t inflight_id;
	int inflight_committed;   /* 1 yes, 0 not yet, -1 revoked */
	struct dl_list q;         /* owned: to send, in id order */
	struct dl_list acked;     /* owned: answered before their commit */
};

struct dl_target {
	char username[STORE_USERNAME_MAX];
	struct dl_lane lane[DL_NCHAN];
};

struct dl_num {
	struct hmap_node node;
	char number[STORE_NUMBER_MAX];
	uint64_t last_ms;         /* last fresh item or answer */
	int ntargets;
	struct dl_target t[DL_MAX_DEV];
};

/* Per worker (w->dl). */
struct dl_home {
	struct hmap nums;
	struct event *tick;       /* owned: holds ending, and worker 0's
				     sweeps */
	unsigned sweeps;
};

static int dl_home_of(const struct sipd_shared *sh, const char *number)
{
	int n = sh->nworkers > 0 ? sh->nworkers : 1;

	return (int)(hmap_hash_str(number) % (uint64_t)n);
}

/* Posts FN(ARG) to worker I, waiting out a full mailbox (ARG carries
 * state that must not be lost: a delivery result or a queue answer). */
static void dl_post(struct sipd_shared *sh, int i, mailbox_fn fn, void *arg)
{
	while (mailbox_post(sh->workers[i]->mb, fn, arg) == -EAGAIN &&
	       !atomic_load(&sh->stopping)) {
		struct timespec ts = { 0, 1000000 };
		metrics_inc(METRICS_MAILBOX_FULL);
		nanosleep(&ts, NULL);
	}
}

static int dl_num_eq(const struct hmap_node *n, const void *key)
{
	return !strcmp(HMAP_ENTRY(n, struct dl_num, node)->number, key);
}

static struct dl_num *dl_num_get(struct sipd *w, const char *number)
{
	uint64_t h = hmap_hash_str(number);
	struct dl_num *d;

	if (!w->dl || sipd_closing(w))
		return NULL; /* shutting down: the rows stay for next time */
	d = HMAP_ENTRY(hmap_find(&w->dl->nums, h, dl_num_eq, number),
		       struct dl_num, node);
	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->number, sizeof(d->number), "%s", number);
	hmap_insert(&w->dl->nums, &d->node, h);
	return d;
}

/* The devices of the number now (new ones get lanes; known ones keep
 * theirs). */
static void dl_targets_refresh(struct sipd *w, struct dl_num *d)
{
	char devs[DL_MAX_DEV][STORE_USERNAME_MAX];
	int n = numbers_devices(w->sh->numbers, d->number, devs, DL_MAX_DEV);
	int i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < d->ntargets; k++)
			if (!strcmp(d->t[k].username, devs[i]))
				break;
		if (k == d->ntargets && d->ntargets < DL_MAX_DEV) {
			memset(&d->t[k], 0, sizeof(d->t[k]));
			strcpy(d->t[k].username, devs[i]);
			d->ntargets++;
		}
	}
}

/* ------------------------------------------------------------ finding a
 * device's flow */

struct dl_find {
	struct sipd_shared *sh;
	const char *username;
	int found;
	struct sipd_flow f;
	char contact[512];
};

static int dl_find_cb(const struct store_binding *b, void *arg)
{
	struct dl_find *fd = arg;

	if (fd->found || strcmp(b->username, fd->username))
		return 0;
	if (sipd_flow_usable(fd->sh, b, &fd->f))
		return 0;
	snprintf(fd->contact, sizeof(fd->contact), "%s", b->contact);
	fd->found = 1;
	return 0;
}

/* The newest binding of USERNAME whose flow is not known dead. */
static int dl_find_flow(struct sipd_shared *sh, const char *number,
			const char *username, struct dl_find *fd)
{
	memset(fd, 0, sizeof(*fd));
	fd->sh = sh;
	fd->username = username;
	regcache_lock(sh->rc);
	regcache_list(sh->rc, number, (int64_t)time(NULL), dl_find_cb, fd);
	regcache_unlock(sh->rc);
	return fd->found ? 0 : -ENOENT;
}

/* ------------------------------------------------------------ one send */

/* A text on its way: from the home to the flow's owner and back. */
struct dl_job {
	struct dl_job *next;               /* home only: in a lane's list */
	struct sipd *home;
	char number[STORE_NUMBER_MAX];
	int ti, ci;                        /* target and lane */
	int64_t id;
	uint64_t seq;                      /* fresh: its put's seq; read: 0 */
	int committed;                     /* home only, while listed */
	struct sipd_flow f;
	char contact[512];
	char from[STORE_NUMBER_MAX];       /* the sender's number */
	char ctype[128];
	int status;                        /* the device's answer */
	int refused_report;                /* send a failed report on refusal */
	int delivered_report;              /* unwrapped: report its delivery */
	int unwrapped;                     /* CPIM envelope taken off (415) */
	size_t held;                       /* bytes counted in home->dl_held */
	char mid[128];                     /* imdn.Message-ID, "" if none */
	size_t len;
	char body[];
};

static void dl_list_push(struct dl_list *l, struct dl_job *j)
{
	j->next = NULL;
	if (l->last)
		l->last->next = j;
	else
		l->head = j;
	l->last = j;
	l->n++;
}

static struct dl_job *dl_list_pop(struct dl_list *l)
{
	struct dl_job *j = l->head;

	if (j) {
		l->head = j->next;
		if (!l->head)
			l->last = NULL;
		l->n--;
		j->next = NULL;
	}
	return j;
}

/* Takes the job with ID out of L; NULL if none. */
static struct dl_job *dl_list_take(struct dl_list *l, int64_t id)
{
	struct dl_job **pp, *prev = NULL;

	for (pp = &l->head; *pp; prev = *pp, pp = &(*pp)->next) {
		struct dl_job *j = *pp;

		if (j->id != id)
			continue;
		*pp = j->next;
		if (l->last == j)
			l->last = prev;
		l->n--;
		j->next = NULL;
		return j;
	}
	return NULL;
}

static struct dl_job *dl_list_find(struct dl_list *l, int64_t id)
{
	struct dl_job *j;

	for (j = l->head; j; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

/* Frees J and gives back what it counted against its home's read-ahead. */
static void dl_job_free(struct dl_job *j)
{
	if (j && j->held)
		atomic_fetch_sub(&j->home->dl_held, j->held);
	free(j);
}

static void dl_list_clear(struct dl_list *l)
{
	struct dl_job *j;

	while ((j = dl_list_pop(l)))
		dl_job_free(j);
}

/* A job for target TI, lane CI of D from a stored item's fields. */
static struct dl_job *dl_job_new(struct sipd *home, const char *number,
				 int ti, int ci, int64_t id, const char *owner,
				 const char *meta_s, const void *body,
				 size_t len)
{
	struct dl_job *j = calloc(1, sizeof(*j) + len);
	const char *disp;
	unsigned want = 0;
	json_t *meta;

	if (!j)
		return NULL;
	j->home = home;
	snprintf(j->number, sizeof(j->number), "%s", number);
	j->ti = ti;
	j->ci = ci;
	j->id = id;
	meta = json_loads(meta_s && meta_s[0] ? meta_s : "{}", 0, NULL);
	snprintf(j->from, sizeof(j->from), "%s",
		 json_string_value(json_object_get(meta, "from")) ?: owner);
	snprintf(j->ctype, sizeof(j->ctype), "%s",
		 json_string_value(json_object_get(meta, "ct")) ?: "text/plain");
	snprintf(j->mid, sizeof(j->mid), "%s",
		 json_string_value(json_object_get(meta, "mid")) ?: "");
	disp = json_string_value(json_object_get(meta, "disp"));
	if (disp)
		imdn_disposition_decode((struct sip_str){ disp, strlen(disp) },
					&want);
	j->refused_report = !!(want & IMDN_WANT_NEGATIVE_DELIVERY);
	j->delivered_report = !!(want & IMDN_WANT_POSITIVE_DELIVERY);
	json_decref(meta);
	j->len = len;
	if (len)
		memcpy(j->body, body, len);
	return j;
}

static void dl_lane_next(struct sipd *w, struct dl_num *d, int ti, int ci);
static void dl_lane_pump(struct sipd *w, struct dl_num *d, int ti, int ci);
static void dl_result(void *arg);

static void dl_sent(void *arg, int status, const struct sip_msg *m)
{
	struct dl_job *j = arg;

	(void)m;
	j->status = status;
	dl_post(j->home->sh, j->home->id, dl_result, j);
}

/* On the flow's owner: the MESSAGE leaves over the device's flow. */
static void dl_send(void *arg)
{
	struct dl_job *j = arg;
	struct sipd *w = j->home->sh->workers[j->f.worker];
	const struct config *cfg = w->sh->cfg;
	char from[300], to[300], tag[17], cid[33], branch[64];
	struct sipd_request rq;
	struct sip_buf b;
	size_t len;
	int err;

	if (sipd_closing(w)) {
		dl_job_free(j);
		return;
	}

	snprintf(from, sizeof(from), "sip:%s@%s", j->from, cfg->domain);
	snprintf(to, sizeof(to), "sip:%s@%s", j->number, cfg->domain);
	sip_rand_hex(tag, sizeof(tag), 8);
	sip_rand_hex(cid, sizeof(cid), 16);
	rq = (struct sipd_request){ .method = "MESSAGE", .ruri = j->contact,
				    .from = from, .from_tag = tag, .to = to,
				    .call_id = cid, .cseq = 1 };
	log_debug("deliver: item %lld for %s (lane %d/%d): home worker %d, "
		  "sent by flow owner %d", (long long)j->id, j->number, j->ti,
		  j->ci, j->home->id, w->id);
	err = sipd_request_begin(w, &j->f, &b, &rq, branch, sizeof(branch));
	if (!err)
		err = sip_msg_end(&b, j->ctype, j->body, j->len, &len);
	if (!err)
		err = sipd_txc_send(w, &j->f, "MESSAGE", branch, b.p, len,
				    dl_sent, j);
	if (err)
		dl_sent(j, err == -ENOTCONN ? 430 : 503, NULL);
}

/* ------------------------------------------------------------ the lane */

/* The next job goes out when nothing is in flight; an empty lane that
 * was kicked meanwhile reads. */
static void dl_lane_pump(struct sipd *w, struct dl_num *d, int ti, int ci)
{
	struct dl_lane *l = &d->t[ti].lane[ci];
	struct dl_find fd;
	struct dl_job *j;

	if (l->inflight || l->waiting)
		return;
	if (!l->q.head) {
		if (l->again && !l->acked.head) {
			l->again = 0;
			dl_lane_next(w, d, ti, ci);
		}
		return;
	}
	if (l->hold_until_ms > sipd_now_ms())
		return;
	if (dl_find_flow(w->sh, d->number, d->t[ti].username, &fd)) {
		/* offline: its texts wait in the rows for its next REGISTER */
		dl_list_clear(&l->q);
		l->live = 0;
		return;
	}
	j = dl_list_pop(&l->q);
	j->f = fd.f;
	snprintf(j->contact, sizeof(j->contact), "%s", fd.contact);
	l->inflight = j;
	l->inflight_id = j->id;
	l->inflight_committed = j->committed;
	if (!j->committed)
		metrics_inc(METRICS_TEXTS_CUT_THROUGH);
	dl_post(w->sh, j->f.worker, dl_send, j);
}

/* ------------------------------------------------------------ queue
 * answers (writer thread -> home) */

struct dl_qres {
	struct sipd *home;
	char number[STORE_NUMBER_MAX];
	int ti, ci;
	int kind;                 /* DLQ_PENDING, DLQ_DEFERRED, DLQ_KICK */
	int err;
	uint64_t seq;
	int64_t next_at;
	struct dl_job *jobs[DL_FETCH]; /* PENDING: the items read, as jobs */
	int njobs;
	int limit;                /* PENDING: items asked for */
};
enum { DLQ_PENDING, DLQ_DEFERRED, DLQ_KICK };

/* On the home: a read came back (see the top: drop the fresh items it
 * covers, keep the later ones behind its items, live if it was short). */
static void dl_read_home(struct dl_lane *l, struct dl_qres *q)
{
	struct dl_list keep = { 0 }, out = { 0 };
	struct dl_job *j;
	int i, complete = !q->err && q->njobs < q->limit;

	while ((j = dl_list_pop(&l->q))) {
		if (complete && j->seq > q->seq)
			dl_list_push(&keep, j);
		else
			dl_job_free(j); /* in the read, or read again later */
	}
	for (i = 0; i < q->njobs; i++) {
		q->jobs[i]->committed = 1;
		dl_list_push(&out, q->jobs[i]);
	}
	q->njobs = 0;
	while ((j = dl_list_pop(&keep)))
		dl_list_push(&out, j);
	l->q = out;
	l->live = complete;
	if (q->err)
		l->hold_until_ms = sipd_now_ms() + 1000;
	else if (!complete)
		l->again = 1; /* more rows than one read: read after these */
}

static void dl_qres_home(void *arg)
{
	struct dl_qres *q = arg;
	struct sipd *w = q->home;
	struct dl_num *d = dl_num_get(w, q->number);
	struct dl_lane *l;
	int i;

	if (!d || q->ti >= d->ntargets)
		goto out;
	l = &d->t[q->ti].lane[q->ci];
	switch (q->kind) {
	case DLQ_PENDING:
		l->waiting = 0;
		dl_read_home(l, q);
		dl_lane_pump(w, d, q->ti, q->ci);
		break;
	case DLQ_DEFERRED:
		l->waiting = 0;
		dl_list_clear(&l->q); /* fresh items meanwhile: in the rows */
		l->live = 0;
		l->hold_until_ms = sipd_now_ms() +
			(q->next_at > (int64_t)time(NULL) ?
			 (uint64_t)(q->next_at - (int64_t)time(NULL)) * 1000 : 1000);
		if (l->again) {
			/* the device came back meanwhile: try at once */
			l->again = 0;
			l->hold_until_ms = 0;
			dl_lane_next(w, d, q->ti, q->ci);
		}
		break;
	}
out:
	for (i = 0; i < q->njobs; i++)
		dl_job_free(q->jobs[i]);
	free(q);
}

static struct dl_qres *dl_qres_new(struct sipd *w, const char *number,
				   int ti, int ci, int kind)
{
	struct dl_qres *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->home = w;
	snprintf(q->number, sizeof(q->number), "%s", number);
	q->ti = ti;
	q->ci = ci;
	q->kind = kind;
	return q;
}

/* On the writer thread: the items read become jobs (the flow is looked up
 * when each is sent). */
static void dl_pending_done(void *arg, const struct queue_result *res)
{
	struct dl_qres *q = arg;
	size_t k;

	q->err = res->err;
	q->seq = res->seq;
	for (k = 0; !res->err && k < res->n && k < DL_FETCH; k++) {
		const struct queue_item *it = &res->items[k];
		struct dl_job *j = dl_job_new(q->home, q->number, q->ti, q->ci,
					      it->id, it->owner, it->meta,
					      it->body, it->body_len);
		if (!j) {
			q->err = -ENOMEM;
			break;
		}
		j->held = sizeof(*j) + j->len;
		atomic_fetch_add(&q->home->dl_held, j->held);
		q->jobs[q->njobs++] = j;
	}
	dl_post(q->home->sh, q->home->id, dl_qres_home, q);
}

static void dl_qres_done(void *arg, const struct queue_result *res)
{
	struct dl_qres *q = arg;

	q->err = res->err;
	q->next_at = res->next_at;
	dl_post(q->home->sh, q->home->id, dl_qres_home, q);
}

/* Asks the queue for the lane's oldest unacknowledged items, when the
 * device is reachable and the lane has nothing else going. */
static void dl_lane_next(struct sipd *w, struct dl_num *d, int ti, int ci)
{
	struct dl_lane *l = &d->t[ti].lane[ci];
	struct dl_find fd;
	struct dl_qres *q;

	if (l->waiting || l->inflight || l->q.head || l->acked.head) {
		l->again = 1;
		return;
	}
	if (l->hold_until_ms > sipd_now_ms())
		return;
	if (dl_find_flow(w->sh, d->number, d->t[ti].username, &fd))
		return; /* offline: its texts wait for its next REGISTER */
	q = dl_qres_new(w, d->number, ti, ci, DLQ_PENDING);
	if (!q)
		return;
	l->waiting = 1;
	l->again = 0;
	l->live = 0;
	l->hold_until_ms = 0;
	q->limit = atomic_load(&w->dl_held) < DL_HELD_SOFT ? DL_FETCH : DL_FETCH_MIN;
	if (queue_pending(w->sh->queue, dl_chan[ci], d->number,
			  d->t[ti].username, (int64_t)time(NULL), q->limit,
			  dl_pending_done, q)) {
		l->waiting = 0;
		free(q);
	}
}

/* ------------------------------------------------------------ reports */

/* A delivery report (RFC 5438, STATUS failed or delivered) for the text
 * J, from the recipient's address to its sender, through the report
 * channel. */
static void dl_report(struct sipd *w, const struct dl_job *j,
		      enum imdn_status status)
{
	const struct config *cfg = w->sh->cfg;
	char from[300], to[300], mid[33], now[32], body[2048], cpimb[4096];
	char dedup[300], meta[512];
	struct cpim_params cp;
	struct queue_put put;
	struct imdn n;
	time_t t = time(NULL);
	struct tm tm;
	size_t blen, clen;

	if (!j->mid[0])
		return;
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(from, sizeof(from), "<sip:%s@%s>", j->number, cfg->domain);
	snprintf(to, sizeof(to), "<sip:%s@%s>", j->from, cfg->domain);
	sip_rand_hex(mid, sizeof(mid), 16);
	memset(&n, 0, sizeof(n));
	n.message_id = (struct sip_str){ j->mid, strlen(j->mid) };
	n.datetime = (struct sip_str){ now, strlen(now) };
	n.recipient_uri = (struct sip_str){ from + 1, strlen(from) - 2 };
	n.kind = IMDN_DELIVERY;
	n.status = status;
	if (imdn_build(&n, body, sizeof(body), &blen))
		return;
	memset(&cp, 0, sizeof(cp));
	cp.from = from;
	cp.to = to;
	cp.datetime = now;
	cp.message_id = mid;
	cp.content_type = IMDN_CONTENT_TYPE;
	cp.body = body;
	cp.body_len = blen;
	if (cpim_build(&cp, cpimb, sizeof(cpimb), &clen))
		return;
	snprintf(dedup, sizeof(dedup), "%s|%s|%s", imdn_status_name(status),
		 j->from, j->mid);
	snprintf(meta, sizeof(meta), "{\"from\":\"%s\",\"ct\":\"message/cpim\"}",
		 j->number);
	memset(&put, 0, sizeof(put));
	put.channel = QUEUE_REPORT;
	put.recipient = j->from;
	put.dedup = dedup;
	put.owner = "";
	put.meta = meta;
	put.body = cpimb;
	put.body_len = clen;
	put.expires_at = (int64_t)time(NULL) +
			 (int64_t)cfg->text_expiry_days * 86400;
	deliver_put(w->sh, &put, NULL, NULL);
}

/* ------------------------------------------------------------ results */

static int dl_retryable(int status)
{
	return status == 408 || status == 430 || status == 480 ||
	       status == 486 || (status >= 500 && status < 600);
}

/*
 * A device that answered 415 to a message/cpim text (baresip takes
 * text/plain only) gets its content instead, once: J's body becomes the
 * CPIM content when that is text/plain. 0, or -ENOTSUP (nothing to
 * unwrap; the 415 then stands).
 */
static int dl_unwrap(struct dl_job *j)
{
	struct cpim_msg c;
	char ct[sizeof(j->ctype)];

	if (j->unwrapped || strncasecmp(j->ctype, "message/cpim", 12) != 0 ||
	    cpim_parse(j->body, j->len, &c) < 0 ||
	    sip_str_copy(c.content_type, ct, sizeof(ct)) < 0 ||
	    strncasecmp(ct, "text/plain", 10) != 0)
		return -ENOTSUP;
	memmove(j->body, c.body.p, c.body.len);
	j->len = c.body.len;
	snprintf(j->ctype, sizeof(j->ctype), "%s", ct);
	j->unwrapped = 1;
	j->status = 0;
	return 0;
}

static void dl_free_done(void *arg, const struct queue_result *res)
{
	(void)res;
	(void)arg;
}

/* J is done for its device: the queue is told, not waited for (the
 * writer runs jobs in order, so the lane's next read already sees it). */
static void dl_ack(struct sipd *w, struct dl_num *d, const struct dl_job *j)
{
	const char *targets[DL_MAX_DEV + 1];
	int i;

	for (i = 0; i < d->ntargets; i++)
		targets[i] = d->t[i].username;
	targets[d->ntargets] = NULL;
	queue_ack(w->sh->queue, j->id, d->t[j->ti].username, targets,
		  dl_free_done, NULL);
}

/* On the home: what the device answered. */
static void dl_result(void *arg)
{
	struct dl_job *j = arg;
	struct sipd *w = j->home;
	struct dl_num *d = dl_num_get(w, j->number);
	struct dl_lane *l;
	struct dl_qres *q;
	int committed, ti = j->ti, ci = j->ci; /* j may be freed below */

	if (!d || ti >= d->ntargets) {
		dl_job_free(j);
		return;
	}
	l = &d->t[ti].lane[ci];
	committed = l->inflight == j ? l->inflight_committed : 1;
	if (l->inflight == j)
		l->inflight = NULL;
	d->last_ms = sipd_now_ms();
	if (committed < 0) {
		dl_job_free(j); /* its commit failed: the sender was refused */
	} else if (j->status == 415 && dl_unwrap(j) == 0) {
		log_info("sip: a device of %s takes no CPIM: the text again as %s",
			 j->number, j->ctype);
		l->inflight = j;
		dl_post(w->sh, j->f.worker, dl_send, j);
		return;
	} else if (dl_retryable(j->status)) {
		metrics_inc(METRICS_TEXTS_RETRIED);
		dl_list_clear(&l->q);
		l->live = 0;
		q = dl_qres_new(w, j->number, j->ti, j->ci, DLQ_DEFERRED);
		if (q && !queue_defer(w->sh->queue, j->id, d->t[j->ti].username,
				      (int64_t)time(NULL), DL_RETRY_BASE_S,
				      DL_RETRY_MAX_S, "no answer",
				      dl_qres_done, q))
			l->waiting = 1;
		else
			free(q);
		dl_job_free(j);
		return;
	} else {
		if (j->status >= 200 && j->status < 300) {
			metrics_inc(METRICS_TEXTS_DELIVERED);
			/* a device without CPIM sends no IMDN: the server
			 * reports what it saw, the device's 2xx */
			if (j->unwrapped && j->delivered_report)
				dl_report(w, j, IMDN_DELIVERED);
		} else {
			/* refused for good: done for this device */
			metrics_inc(METRICS_TEXTS_REFUSED);
			log_info("sip: a device of %s refused a text (%d)",
				 j->number, j->status);
			if (j->refused_report)
				dl_report(w, j, IMDN_FAILED);
		}
		if (committed) {
			dl_ack(w, d, j);
			dl_job_free(j);
		} else {
			dl_list_push(&l->acked, j); /* acked on its commit */
		}
	}
	dl_lane_pump(w, d, ti, ci);
}

/* ------------------------------------------------------------ kicks */

static void dl_kick_home(struct sipd *w, const char *number, int force)
{
	struct dl_num *d = dl_num_get(w, number);
	int ti, ci;

	if (!d)
		return;
	dl_targets_refresh(w, d);
	for (ti = 0; ti < d->ntargets; ti++)
		for (ci = 0; ci < DL_NCHAN; ci++) {
			struct dl_lane *l = &d->t[ti].lane[ci];

			if (force)
				l->hold_until_ms = 0;
			if (l->live)
				dl_lane_pump(w, d, ti, ci);
			else
				dl_lane_next(w, d, ti, ci);
		}
}

static void dl_kick_cb(void *arg)
{
	struct dl_qres *q = arg;

	dl_kick_home(q->home, q->number, 1);
	free(q);
}

void deliver_kick(struct sipd_shared *sh, const char *number)
{
	int home = dl_home_of(sh, number);
	struct dl_qres *q;

	if (!sh->queue || !sh->workers)
		return;
	q = dl_qres_new(sh->workers[home], number, 0, 0, DLQ_KICK);
	if (q && mailbox_post(sh->workers[home]->mb, dl_kick_cb, q)) {
		metrics_inc(METRICS_MAILBOX_FULL);
		free(q); /* a hint only: the sweep finds it again */
	}
}

/* ------------------------------------------------------------ storing
 * (writer thread -> home) */

/* One deliver_put() in flight. */
struct dl_put {
	struct sipd_shared *sh;
	char number[STORE_NUMBER_MAX];
	int ci;
	int stored;               /* the row went in (on_stored ran) */
	int lost;                 /* ...but its fresh copy could not be made */
	int64_t id;
	struct dl_fresh *notice;  /* owned until posted: the commit's news,
				     allocated up front so it cannot fail */
	queue_cb cb;
	void *arg;
};

/* A new row, copied out of the writer's transaction for its home. */
struct dl_fresh {
	struct sipd *home;
	char number[STORE_NUMBER_MAX];
	int ci;
	int64_t id;
	uint64_t seq;
	int err;                  /* committed notice: the commit's outcome */
	int lost;                 /* committed notice: no fresh copy came */
	char *owner, *meta;       /* point into data */
	size_t len;
	char data[];              /* body, then owner and meta */
};

static void dl_fresh_home(void *arg);
static void dl_commit_home(void *arg);

static void dl_put_stored(void *arg, const struct queue_put *p, int64_t id,
			  uint64_t seq)
{
	struct dl_put *dp = arg;
	size_t ol = strlen(p->owner ? p->owner : "") + 1;
	size_t ml = strlen(p->meta ? p->meta : "") + 1;
	struct dl_fresh *f = malloc(sizeof(*f) + p->body_len + ol + ml);
	int home = dl_home_of(dp->sh, dp->number);

	dp->stored = 1;
	dp->id = id;
	if (!f) {
		dp->lost = 1; /* its home reads the row after the commit */
		return;
	}
	f->home = dp->sh->workers[home];
	snprintf(f->number, sizeof(f->number), "%s", dp->number);
	f->ci = dp->ci;
	f->id = id;
	f->seq = seq;
	f->err = f->lost = 0;
	f->len = p->body_len;
	if (p->body_len)
		memcpy(f->data, p->body, p->body_len);
	f->owner = f->data + p->body_len;
	memcpy(f->owner, p->owner ? p->owner : "", ol);
	f->meta = f->owner + ol;
	memcpy(f->meta, p->meta ? p->meta : "", ml);
	dl_post(dp->sh, home, dl_fresh_home, f);
}

static void dl_put_done(void *arg, const struct queue_result *res)
{
	struct dl_put *dp = arg;
	int home = dl_home_of(dp->sh, dp->number);
	struct dl_fresh *f;

	if (dp->stored) {
		f = dp->notice;
		dp->notice = NULL;
		f->home = dp->sh->workers[home];
		snprintf(f->number, sizeof(f->number), "%s", dp->number);
		f->ci = dp->ci;
		f->id = dp->id;
		f->err = res->err;
		f->lost = dp->lost;
		dl_post(dp->sh, home, dl_commit_home, f);
	}
	if (dp->cb)
		dp->cb(dp->arg, res);
	free(dp->notice);
	free(dp);
}

int deliver_put(struct sipd_shared *sh, const struct queue_put *put,
		queue_cb cb, void *arg)
{
	struct queue_put p = *put;
	struct dl_put *dp;
	int err;

	if (!sh->queue || !sh->workers)
		return -ENOTSUP;
	if (put->channel != QUEUE_TEXT && put->channel != QUEUE_REPORT)
		return -EINVAL;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->notice = calloc(1, sizeof(*dp->notice));
	if (!dp->notice) {
		free(dp);
		return -ENOMEM;
	}
	dp->sh = sh;
	snprintf(dp->number, sizeof(dp->number), "%s", put->recipient);
	dp->ci = dl_chan_index(put->channel);
	dp->cb = cb;
	dp->arg = arg;
	p.on_stored = dl_put_stored;
	p.stored_arg = dp;
	err = queue_put(sh->queue, &p, dl_put_done, dp);
	if (err) {
		free(dp->notice);
		free(dp);
	}
	return err;
}

/* The number F is about, with its devices now; NULL (F freed) when
 * shutting down. */
static struct dl_num *dl_fresh_num(struct dl_fresh *f)
{
	struct dl_num *d = dl_num_get(f->home, f->number);

	if (!d) {
		free(f);
		return NULL;
	}
	dl_targets_refresh(f->home, d);
	return d;
}

/* On the home: a row is going in. Lanes that know their backlog (live),
 * and lanes whose read is out (the read's answer sorts it), keep it. */
static void dl_fresh_home(void *arg)
{
	struct dl_fresh *f = arg;
	struct sipd *w = f->home;
	struct dl_num *d = dl_fresh_num(f);
	int ti;

	if (!d)
		return;
	d->last_ms = sipd_now_ms();
	for (ti = 0; ti < d->ntargets; ti++) {
		struct dl_lane *l = &d->t[ti].lane[f->ci];
		struct dl_job *j;

		if (!l->live && !l->waiting)
			dl_lane_next(w, d, ti, f->ci); /* a read starts */
		if (!l->live && !l->waiting)
			continue; /* read from the rows later */
		if (l->live && l->q.n >= DL_MEMQ) {
			l->live = 0;
			l->again = 1;
			continue;
		}
		j = dl_job_new(w, d->number, ti, f->ci, f->id, f->owner,
			       f->meta, f->data, f->len);
		if (!j) {
			l->live = 0;
			l->again = 1;
			continue;
		}
		j->seq = f->seq;
		dl_list_push(&l->q, j);
		dl_lane_pump(w, d, ti, f->ci);
	}
	free(f);
}

/* On the home: a row's commit came back; held acks go out, a failed
 * commit takes the item back. */
static void dl_commit_home(void *arg)
{
	struct dl_fresh *f = arg;
	struct sipd *w = f->home;
	struct dl_num *d = dl_fresh_num(f);
	int ti;

	if (!d)
		return;
	for (ti = 0; ti < d->ntargets; ti++) {
		struct dl_lane *l = &d->t[ti].lane[f->ci];
		struct dl_job *j;
		int found = 0;

		if (l->inflight && l->inflight_id == f->id) {
			l->inflight_committed = f->err ? -1 : 1;
			found = 1;
		} else if ((j = dl_list_find(&l->q, f->id))) {
			j->committed = 1;
			found = 1;
			if (f->err)
				dl_job_free(dl_list_take(&l->q, f->id));
		} else if ((j = dl_list_take(&l->acked, f->id))) {
			if (!f->err)
				dl_ack(w, d, j);
			dl_job_free(j);
			found = 1;
		}
		if (f->err || f->lost) {
			/* ids may be handed out again, or a row was missed:
			 * this lane no longer knows its backlog */
			l->live = 0;
			l->again = 1;
		} else if (!found && !l->live) {
			dl_lane_next(w, d, ti, f->ci);
		}
		dl_lane_pump(w, d, ti, f->ci);
	}
	free(f);
}

/* ------------------------------------------------------------ sweeps */

/* One due item, looked at by its number's home. */
struct dl_due {
	struct sipd *home;
	char number[STORE_NUMBER_MAX];
	char target[STORE_USERNAME_MAX];
	int64_t id;
};

static void dl_defer_done(void *arg, const struct queue_result *res)
{
	(void)arg;
	(void)res;
}

/*
 * On the home: a due item whose device (or, item-level, every device) is
 * unreachable is put off (the sweep would otherwise find it again every
 * time and crowd out the rest); its device's next REGISTER kicks the
 * number anyway. Otherwise the number is kicked.
 */
static void dl_due_home(void *arg)
{
	struct dl_due *u = arg;
	struct sipd *w = u->home;
	char devs[DL_MAX_DEV][STORE_USERNAME_MAX];
	struct dl_find fd;
	int i, n, reachable = 0;

	if (sipd_closing(w)) {
		free(u);
		return;
	}
	if (u->target[0]) {
		reachable = dl_find_flow(w->sh, u->number, u->target, &fd) == 0;
	} else {
		n = numbers_devices(w->sh->numbers, u->number, devs, DL_MAX_DEV);
		for (i = 0; i < n && !reachable; i++)
			reachable = dl_find_flow(w->sh, u->number, devs[i],
						 &fd) == 0;
	}
	if (reachable)
		dl_kick_home(w, u->number, 1);
	else
		queue_defer(w->sh->queue, u->id, u->target, (int64_t)time(NULL),
			    DL_OFFLINE_BASE_S, DL_RETRY_MAX_S, "unreachable",
			    dl_defer_done, NULL);
	free(u);
}

static void dl_due_done(void *arg, const struct queue_result *res)
{
	struct sipd_shared *sh = arg;
	struct dl_due *u;
	size_t i;

	for (i = 0; !res->err && i < res->n; i++) {
		const struct queue_item *it = &res->items[i];

		u = calloc(1, sizeof(*u));
		if (!u)
			continue;
		u->home = sh->workers[dl_home_of(sh, it->recipient)];
		snprintf(u->number, sizeof(u->number), "%s", it->recipient);
		snprintf(u->target, sizeof(u->target), "%s",
			 it->target ? it->target : "");
		u->id = it->id;
		dl_post(sh, u->home->id, dl_due_home, u);
	}
}

static void dl_expire_done(void *arg, const struct queue_result *res)
{
	struct sipd *w = arg;
	size_t i;

	for (i = 0; !res->err && i < res->n; i++) {
		const struct queue_item *it = &res->items[i];
		struct dl_job *j;
		json_t *meta;
		const char *disp, *mid;
		unsigned want = 0;

		metrics_inc(METRICS_TEXTS_EXPIRED);
		if (it->channel != QUEUE_TEXT)
			continue;
		meta = json_loads(it->meta ? it->meta : "{}", 0, NULL);
		disp = json_string_value(json_object_get(meta, "disp"));
		mid = json_string_value(json_object_get(meta, "mid"));
		if (disp)
			imdn_disposition_decode((struct sip_str){ disp,
								 strlen(disp) },
						&want);
		j = calloc(1, sizeof(*j));
		if (j && mid && (want & IMDN_WANT_NEGATIVE_DELIVERY)) {
			snprintf(j->number, sizeof(j->number), "%s",
				 it->recipient);
			snprintf(j->from, sizeof(j->from), "%s", it->owner);
			snprintf(j->mid, sizeof(j->mid), "%s", mid);
			j->refused_report = 1;
			if (j->refused_report)
				dl_report(w, j, IMDN_FAILED);
		}
		dl_job_free(j);
		json_decref(meta);
	}
}

static void dl_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sipd *w = arg;
	struct hmap_iter it;
	struct hmap_node *n;
	uint64_t now = sipd_now_ms();
	int ti, ci;

	(void)fd;
	(void)what;
	/* lanes whose back-off ran out; idle numbers are forgotten (live
	 * ones after DL_KEEP_LIVE_MS: their next text needs no read) */
	hmap_for_each(&w->dl->nums, it, n) {
		struct dl_num *d = HMAP_ENTRY(n, struct dl_num, node);
		int busy = 0, live = 0;

		for (ti = 0; ti < d->ntargets; ti++)
			for (ci = 0; ci < DL_NCHAN; ci++) {
				struct dl_lane *l = &d->t[ti].lane[ci];
				if (l->hold_until_ms && l->hold_until_ms <= now &&
				    !l->waiting) {
					l->hold_until_ms = 0;
					if (l->live)
						dl_lane_pump(w, d, ti, ci);
					else
						dl_lane_next(w, d, ti, ci);
				}
				busy |= l->waiting || l->hold_until_ms ||
					l->inflight || l->q.head ||
					l->acked.head;
				live |= l->live;
			}
		if (!busy && (!live || now - d->last_ms > DL_KEEP_LIVE_MS)) {
			hmap_remove(&w->dl->nums, n);
			free(d);
		}
	}
	if (w->id != 0)
		return;
	queue_due(w->sh->queue, QUEUE_TEXT, (int64_t)time(NULL), DL_DUE_LIMIT,
		  dl_due_done, w->sh);
	queue_due(w->sh->queue, QUEUE_REPORT, (int64_t)time(NULL),
		  DL_DUE_LIMIT, dl_due_done, w->sh);
	if (++w->dl->sweeps % DL_EXPIRE_EVERY == 0)
		queue_expire(w->sh->queue, 0, (int64_t)time(NULL), DL_DUE_LIMIT,
			     dl_expire_done, w);
}

int deliver_init(struct sipd *w)
{
	struct timeval tv = { DL_SWEEP_MS / 1000, (DL_SWEEP_MS % 1000) * 1000 };

	w->dl = calloc(1, sizeof(*w->dl));
	if (!w->dl || hmap_init(&w->dl->nums, 64))
		return -ENOMEM;
	if (!w->sh->queue)
		return 0; /* no durable queue (unit tests): no texts */
	w->dl->tick = event_new(w->base, -1, EV_PERSIST, dl_tick_cb, w);
	if (!w->dl->tick || event_add(w->dl->tick, &tv))
		return -ENOMEM;
	return 0;
}

void deliver_fini(struct sipd *w)
{
	struct hmap_iter it;
	struct hmap_node *n;

	if (!w->dl)
		return;
	if (w->dl->tick)
		event_free(w->dl->tick);
	hmap_for_each(&w->dl->nums, it, n) {
		struct dl_num *d = HMAP_ENTRY(n, struct dl_num, node);
		int ti, ci;

		hmap_remove(&w->dl->nums, n);
		for (ti = 0; ti < d->ntargets; ti++)
			for (ci = 0; ci < DL_NCHAN; ci++) {
				/* inflight jobs belong to the send path */
				dl_list_clear(&d->t[ti].lane[ci].q);
				dl_list_clear(&d->t[ti].lane[ci].acked);
			}
		free(d);
	}
	hmap_destroy(&w->dl->nums);
	free(w->dl);
	w->dl = NULL;
}
