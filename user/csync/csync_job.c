/*
 * csync_job: one discovery sync (docs/protocol.md "Contact discovery"):
 * the stored numbers, least recently synced first, asked in batches of
 * CSYNC_BATCH; the answers become the contacts' marks.
 *
 * Threads: the job reads the store and, at the end, writes the marks on
 * the caller's (the daemon loop's) thread; only the HTTPS exchange runs on
 * a detached worker thread with its own event_base. The two share nothing
 * while the worker runs but the job's read-only inputs and its result,
 * which the loop reads only after the worker's byte on the notify pipe
 * (write/read order it). A cancel must not wait for the network, so the
 * job is reference counted: the loop's reference and the worker's, the
 * last one out frees it. docs/decisions.md "Contacts sync on a worker
 * thread".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "csync_priv.h"
#include "dataline/log.h"

struct csync_job {
	atomic_int refs;		/* the loop's + the worker's */
	struct csync_account a;		/* a copy; cleansed when freed */
	struct event_base *base;	/* borrowed: the caller's loop */
	struct event *done_ev;		/* owned, on base; loop thread only */
	struct hstore *h;		/* borrowed; loop thread only */
	csync_done_cb done;
	void *arg;
	int notify[2];			/* worker -> loop, -1 if unused */
	int cancel[2];			/* loop -> worker, -1 if unused */
	char (*nums)[E164_MAX];		/* owned: the numbers to ask */
	const char **ptrs;		/* owned: nums[i] */
	size_t n;
	struct hstore_mark_set *marks;	/* owned, n entries, into nums */
	size_t nmarks;
	struct csync_result res;	/* the worker's until it notified */
};

static void job_free(struct csync_job *j)
{
	for (int i = 0; i < 2; i++) {
		if (j->notify[i] >= 0)
			close(j->notify[i]);
		if (j->cancel[i] >= 0)
			close(j->cancel[i]);
	}
	OPENSSL_cleanse(&j->a, sizeof(j->a));
	free(j->nums);
	free(j->ptrs);
	free(j->marks);
	free(j);
}

static void job_unref(struct csync_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) == 1)
		job_free(j);
}

static int job_by_synced(const void *x, const void *y)
{
	const struct hstore_contact *a = x, *b = y;

	if (a->synced != b->synced)
		return a->synced < b->synced ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* A job holding the store's numbers, least recently synced first. */
static int job_new(const struct csync_account *a, struct hstore *h,
		   struct csync_job **out)
{
	struct csync_job *j = calloc(1, sizeof(*j));
	struct hstore_contact *v = NULL;
	size_t n = 0;
	int r;

	if (!j)
		return -ENOMEM;
	j->notify[0] = j->notify[1] = j->cancel[0] = j->cancel[1] = -1;
	atomic_init(&j->refs, 1);
	j->a = *a;
	j->h = h;
	r = hstore_contacts_list(h, 0, 0, &v, &n);
	if (r < 0)
		goto fail;
	if (n)
		qsort(v, n, sizeof(*v), job_by_synced);
	j->nums = calloc(n ? n : 1, sizeof(*j->nums));
	j->ptrs = calloc(n ? n : 1, sizeof(*j->ptrs));
	j->marks = calloc(n ? n : 1, sizeof(*j->marks));
	if (!j->nums || !j->ptrs || !j->marks) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(j->nums[i], v[i].number, E164_MAX);
		j->ptrs[i] = j->nums[i];
	}
	j->n = n;
	j->res.contacts = n;
	j->res.counts.remaining_today = -1;
	hstore_contacts_free(v, n);
	*out = j;
	return 0;
fail:
	hstore_contacts_free(v, n);
	job_free(j);
	return r;
}

/* What a non-200 answer means for the caller. */
static int job_status_err(int status)
{
	switch (status) {
	case 429: return -EAGAIN;	/* rate_limited, daily_limit */
	case 401: return -EACCES;	/* our credentials refused */
	case 403: return -EPERM;	/* e.g. https_required */
	case 413: return -E2BIG;
	default: return -EPROTO;
	}
}

/* One batch; 0 to go on, else the sync's error. */
static int job_batch(struct csync_job *j, struct csync_http *c, size_t off,
		     size_t k)
{
	struct csync_result *res = &j->res;
	struct csync_reply rep;
	char *body;
	size_t nm = 0;
	int r;

	r = csync_request_body(j->ptrs + off, k, &body);
	if (r < 0)
		return r;
	r = csync_http_discover(c, body, &rep);
	free(body);
	if (r < 0)
		return r;
	res->http_status = rep.status;
	if (rep.status == 200) {
		r = csync_parse_answer(rep.body, rep.len, j->ptrs + off, k,
				       j->marks + j->nmarks, &nm, &res->counts);
		if (r < 0) {
			log_err("csync: the server's answer does not fit the "
				"request (%s)", strerror(-r));
			r = -EPROTO;
		} else {
			j->nmarks += nm;
			res->batches++;
			res->asked += k;
		}
	} else {
		csync_parse_error(rep.body, rep.len, res->error,
				  sizeof(res->error));
		res->retry_after = rep.retry_after;
		r = job_status_err(rep.status);
		log_warn("csync: discovery answered %d %s%s", rep.status,
			 res->error, r == -EAGAIN ? " (retry later)" : "");
	}
	csync_reply_free(&rep);
	return r;
}

/* The network part: the worker's, or the caller's in csync_sync(). */
static void job_run(struct csync_job *j)
{
	struct csync_http c = { 0 };
	int r = 0;

	if (j->n)
		r = csync_http_init(&c, &j->a, j->cancel[0]);
	for (size_t off = 0; r == 0 && off < j->n; off += CSYNC_BATCH)
		r = job_batch(j, &c, off, j->n - off < CSYNC_BATCH ?
			      j->n - off : CSYNC_BATCH);
	if (j->n && c.base) {
		memcpy(j->res.pin_seen, c.pin, sizeof(c.pin));
		csync_http_fini(&c);
	}
	j->res.err = r;
}

static int job_cmp_contact(const void *key, const void *elem)
{
	return strcmp(key, ((const struct hstore_contact *)elem)->number);
}

static int job_cmp_number(const void *x, const void *y)
{
	return strcmp(((const struct hstore_contact *)x)->number,
		      ((const struct hstore_contact *)y)->number);
}

/* Stores the marks (loop thread); counts those that change. */
static void job_apply(struct csync_job *j, int64_t now)
{
	struct hstore_contact *v = NULL, *c;
	size_t n = 0, changed = 0;
	int r;

	if (!j->nmarks)
		return;
	r = hstore_contacts_list(j->h, 0, 0, &v, &n);
	if (r == 0 && n) {
		qsort(v, n, sizeof(*v), job_cmp_number);
		for (size_t i = 0; i < j->nmarks; i++) {
			c = bsearch(j->marks[i].number, v, n, sizeof(*v),
				    job_cmp_contact);
			changed += c && c->registered != j->marks[i].registered;
		}
	}
	if (r == 0)
		r = hstore_contacts_set_marks(j->h, j->marks, j->nmarks, now,
					      NULL);
	hstore_contacts_free(v, n);
	if (r < 0) {
		log_err("csync: cannot store the marks (%s)", strerror(-r));
		if (!j->res.err)
			j->res.err = r;
		return;
	}
	j->res.marks_changed = changed;
}

int csync_sync(const struct csync_account *a, struct hstore *h, int64_t now,
	       struct csync_result *r)
{
	struct csync_job *j;
	int err;

	memset(r, 0, sizeof(*r));
	if (!a || !h) {
		r->err = -EINVAL;
		return r->err;
	}
	err = job_new(a, h, &j);
	if (err < 0) {
		r->err = err;
		return err;
	}
	job_run(j);
	job_apply(j, now);
	*r = j->res;
	job_unref(j);
	return r->err;
}

static void *job_worker(void *arg)
{
	struct csync_job *j = arg;
	char x = 1;

	job_run(j);
	/* This thread's OpenSSL state (error queue, DRBG) is freed here, not
	 * by the thread-exit destructor: once the byte below is read the
	 * process may exit while this thread is still ending, and
	 * LeakSanitizer then saw that state leaked (handset_contacts, once
	 * in CI). */
	OPENSSL_thread_stop();
	/* hands the result over; the loop reads it after this byte */
	while (write(j->notify[1], &x, 1) < 0 && errno == EINTR)
		;
	job_unref(j);
	return NULL;
}

static void job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct csync_job *j = arg;
	char x;

	if (read(fd, &x, 1) != 1)
		return;
	event_free(j->done_ev);
	j->done_ev = NULL;
	job_apply(j, (int64_t)time(NULL));
	if (j->done)
		j->done(j->arg, &j->res);
	job_unref(j);
}

int csync_sync_start(struct event_base *base, const struct csync_account *a,
		     struct hstore *h, csync_done_cb done, void *arg,
		     struct csync_job **out)
{
	struct csync_job *j;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (!base || !a || !h || !out)
		return -EINVAL;
	r = job_new(a, h, &j);
	if (r < 0)
		return r;
	j->base = base;
	j->done = done;
	j->arg = arg;
	if (pipe2(j->notify, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(j->cancel, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	j->done_ev = event_new(base, j->notify[0], EV_READ | EV_PERSIST,
			       job_done_cb, j);
	if (!j->done_ev || event_add(j->done_ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	atomic_store(&j->refs, 2);
	if (pthread_attr_init(&attr) != 0) {
		r = -ENOMEM;
		goto fail_ref;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &attr, job_worker, j);
	pthread_attr_destroy(&attr);
	if (r < 0)
		goto fail_ref;
	*out = j;
	return 0;
fail_ref:
	atomic_store(&j->refs, 1);
fail:
	if (j->done_ev)
		event_free(j->done_ev);
	job_free(j);
	return r;
}

void csync_job_cancel(struct csync_job *j)
{
	char x = 1;

	if (!j)
		return;
	if (j->done_ev)
		event_free(j->done_ev);
	j->done_ev = NULL;
	/* the worker's base sees this at once; it stops and lets go */
	while (write(j->cancel[1], &x, 1) < 0 && errno == EINTR)
		;
	job_unref(j);
}
