/*
 * registrar: REGISTER (RFC 3261 s.10.3) with HTTP Digest (s.22, RFC 8760
 * SHA-256 and MD5, qop=auth, nonce-count replay detection per RFC 7616
 * s.3.4.6), Path (RFC 3327) and RFC 5626 +sip.instance/reg-id kept.
 *
 * The order, each step answering at most once:
 *   no credentials for our realm      -> 401, both challenges (SHA-256 first)
 *   algorithm/qop not offered, no qop -> 401 (fresh challenge), before
 *                                        the username is looked up
 *   unknown user / wrong response     -> 401 (fresh challenge)
 *   right response, old/foreign nonce -> 401 stale=true (client retries
 *                                        without asking its user)
 *   nonce-count not above the last    -> 401 (replay)
 *   To user is not the device's number-> 403
 *   bad Contact / "*" misuse          -> 400;  0 < expires < min -> 423
 *   bad q (RFC 3261 qvalue)           -> 400
 *   a Contact live for another device -> 403 (each device manages its own
 *                                        bindings; see reg_plan_check)
 *   more bindings than the device may -> 403 "Too Many Bindings"
 *   then the bindings change and 200 lists every current Contact of the
 *   number (all its devices) with its remaining expires.
 *
 * Where it reads: the bindings from memory (regcache.c, loaded from the
 * store at start, the rules in regcache.h) and the devices with their HA1
 * from devcache.c (read through to the store, an entry trusted 60 s), so
 * most REGISTERs read no SQLite at all.
 *
 * Durability (docs/protocol.md, "Durability of registrations"): the store
 * (SQLite, WAL, synchronous=NORMAL) is the durable copy. A commit there is
 * a write(2) into the WAL without fsync: it survives kill -9 of the server
 * but not a power cut just before a checkpoint; registrations are soft
 * state that clients refresh, so that is the promise. What is committed
 * before the 200 is sent: a new binding, a removal (expires=0, "*"), and
 * any change of a binding's device, transport, source address, Path,
 * instance, reg-id or q -- in the store and the cache together, by a job
 * of the registrar's writer thread (regflush.c; reg_job_run below), many
 * REGISTERs per transaction. The worker never commits: it submits the job
 * and answers when the job's done comes back through its mailbox (a
 * deferred reply, reply.c; over UDP the server transaction opened at
 * submit absorbs retransmissions meanwhile). A failed write answers 500
 * and a full writer queue 503, both with Retry-After, the cache as it was.
 *
 * Answered from memory with no transaction: a query (no Contact), a
 * refusal, and a refresh -- a live, committed binding re-registered by the
 * same device with the same routing data, so only its expiry, Call-ID and
 * CSeq change, while the expiry last written for it is at least
 * REGCACHE_SAFE_S away. A refresh only marks the cache entry dirty;
 * regflush.c writes it behind within REGCACHE_FLUSH_MS (and at SIGTERM). A
 * crash then loses at most that last second of refreshes, whose bindings
 * keep their written expiry (still REGCACHE_SAFE_S - 1 s or more away). A
 * refresh closer than that to its written expiry is committed before its
 * 200 like any other change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "sipd.h"
#include "regcache.h"
#include "../core/config.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "../core/writer.h"
#include "../store/store.h"
#include "dataline/log.h"

#define REG_MAX_CONTACTS 16
#define REG_URI_MAX 512


struct reg_contact {
	struct sip_contact ct;
	char uri[REG_URI_MAX];
	int64_t expires;
	int q;
	char instance[256];
	uint32_t reg_id;
	int found;         /* a binding with this URI exists (maybe expired) */
	int live;          /* ... and has not expired */
	int foreign;       /* expires=0 for another device's live binding:
			    * left alone */
};

/* Reads the Contact list. Returns the count, -1 after answering 400/423. */
static int reg_contacts(struct sipd_reply *r, struct reg_contact *cs,
			int *star)
{
	const struct config *cfg = r->w->sh->cfg;
	const struct sip_msg *m = r->req;
	struct sip_list_iter it;
	struct sip_str v;
	int n = 0, rc;

	*star = 0;
	sip_list_init(&it, m, SIP_HDR_CONTACT);
	while ((rc = sip_list_next(&it, &v)) == 0) {
		struct reg_contact *c = &cs[n];
		struct sip_str pv;

		if (n == REG_MAX_CONTACTS) {
			sipd_reply_simple(r, 403, "Too Many Bindings");
			return -1;
		}
		memset(c, 0, sizeof(*c));
		if (sip_contact_decode(v, &c->ct)) {
			sipd_reply_simple(r, 400, "Bad Contact");
			return -1;
		}
		if (c->ct.star) {
			*star = 1;
			n++;
			continue;
		}
		if (!c->ct.addr.uri.is_sip ||
		    sip_str_copy(c->ct.addr.uri_str, c->uri, sizeof(c->uri))) {
			sipd_reply_simple(r, 400, "Bad Contact URI");
			return -1;
		}
		c->expires = c->ct.expires >= 0 ? c->ct.expires
			     : m->expires >= 0 ? m->expires
			     : cfg->default_expires;
		c->q = 1000;
		if (sip_str_present(c->ct.q) &&
		    sip_qvalue_decode(c->ct.q, &c->q)) {
			sipd_reply_simple(r, 400, "Bad q Value (0 to 1, at most 3 decimals)");
			return -1;
		}
		if (sip_param_get(c->ct.addr.params, "+sip.instance", &pv) == 0)
			sip_str_copy(pv, c->instance, sizeof(c->instance));
		if (sip_param_get(c->ct.addr.params, "reg-id", &pv) == 0) {
			uint64_t id;
			if (sip_uint_decode(pv, UINT32_MAX, &id) == 0)
				c->reg_id = (uint32_t)id;
		}
		n++;
	}
	if (rc == -EBADMSG) {
		sipd_reply_simple(r, 400, "Bad Contact");
		return -1;
	}
	if (*star && (n != 1 || m->expires != 0)) {
		/* RFC 3261 10.2.2: "*" only alone and with Expires: 0 */
		sipd_reply_simple(r, 400, "Invalid Contact *");
		return -1;
	}
	for (rc = 0; rc < n && !*star; rc++) {
		if (cs[rc].expires > 0 && cs[rc].expires < cfg->min_expires) {
			sipd_reply_begin(r, 423, NULL);
			sip_buf_hdr(&r->b, "Min-Expires", "%d", cfg->min_expires);
			sipd_reply_send(r);
			return -1;
		}
		if (cs[rc].expires > cfg->max_expires)
			cs[rc].expires = cfg->max_expires;
	}
	return n;
}

struct list_ctx {
	struct sip_buf *b;
	int64_t now;
};

static int list_cb(const struct store_binding *bd, void *arg)
{
	struct list_ctx *l = arg;

	sip_buf_hdr(l->b, "Contact", "<%s>;expires=%lld", bd->contact,
		    (long long)(bd->expires_at - l->now));
	return 0;
}

static void path_join(const struct sip_msg *m, char *out, size_t cap)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_PATH);
	size_t n = 0;

	out[0] = '\0';
	for (; h && n < cap; h = sip_msg_hdr_next(m, h))
		n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? "," : "",
				      (int)h->value.len, h->value.p);
	if (n >= cap)
		out[0] = '\0';
}

/* What one REGISTER asks for, and what the registrar found. */
struct reg_plan {
	const struct store_device *dev;
	struct reg_contact *cs;
	int n, star;
	struct store_binding b;   /* the fields all its bindings share */
	int64_t now;
	int added;                /* contacts that become live bindings */
	int refresh;              /* only refreshes: write behind */
	int status;               /* refusal (500/403), or 0 */
	const char *reason;
	int outbound;             /* RFC 5626: Supported: outbound, reg-id */
};

/*
 * A refresh re-registers a live, committed binding of the same device with
 * the same routing data (transport, source address, Path, instance,
 * reg-id, q): only its expiry, Call-ID and CSeq change. It may be written
 * behind only while the expiry already written (durable_expires) is at
 * least REGCACHE_SAFE_S away: losing it in a crash then leaves the binding
 * as it was, alive for that long still (docs/protocol.md).
 */
static int reg_is_refresh(const struct regcache *rc, const struct rc_ent *e,
			  const struct store_binding *b, int64_t now)
{
	return e && e->expires_at > now && !regcache_uncommitted(rc, e) &&
	       e->durable_expires - now >= REGCACHE_SAFE_S &&
	       !strcmp(rc_str(e, RC_USERNAME), b->username) &&
	       !strcmp(rc_str(e, RC_TRANSPORT), b->transport) &&
	       !strcmp(rc_str(e, RC_RECEIVED), b->received) &&
	       !strcmp(rc_str(e, RC_PATH), b->path) &&
	       !strcmp(rc_str(e, RC_INSTANCE), b->instance) &&
	       e->reg_id == b->reg_id && e->q == b->q;
}

/*
 * Reads the cache (its lock held) for the plan: checks, then whether every
 * contact is a refresh.
 *
 * Each device manages its own bindings (docs/protocol.md). Bindings stay
 * keyed by (number, contact URI), as in the store, so a contact URI that
 * is live for another device of the number cannot be bound by this one:
 * registering it is refused (403), and expires=0 for it is left alone (the
 * 200 still lists it, so the client sees it was not removed). A binding
 * of another device that has expired may be taken over. Two devices of one
 * number that present the same Contact URI (the same private address
 * behind two NATs) therefore cannot both register it: the second is told
 * why and must use a distinct Contact (our handset puts its local port
 * in it; RFC 5626 clients differ by +sip.instance only, which we do not
 * key on). Keying by device would need a store migration; see
 * docs/decisions.md.
 */
static void reg_plan_check(struct regcache *rc, const struct config *cfg,
			   struct reg_plan *p)
{
	uint64_t cnt;
	int i;

	p->added = 0;
	p->refresh = !p->star;
	p->status = 0;
	for (i = 0; i < p->n && !p->star; i++) {
		struct reg_contact *c = &p->cs[i];
		const struct rc_ent *e = regcache_find(rc, p->dev->number, c->uri);

		c->foreign = 0;
		if (e && e->expires_at > p->now &&
		    strcmp(rc_str(e, RC_USERNAME), p->dev->username)) {
			if (c->expires) {
				p->status = 403;
				p->reason = "Contact Bound By Another Device";
				return;
			}
			c->foreign = 1;
			p->refresh = 0;
			continue;
		}
		if (e && !strcmp(rc_str(e, RC_CALL_ID), p->b.call_id) &&
		    p->b.cseq <= e->cseq) {
			/* RFC 3261 10.3 step 7: an old request, out of order */
			p->status = 500;
			p->reason = "Out Of Order CSeq";
			return;
		}
		c->found = e != NULL;
		c->live = e && e->expires_at > p->now;
		if (c->expires && !c->live)
			p->added++;
		p->b.q = c->q;
		p->b.instance = c->instance;
		p->b.reg_id = c->reg_id;
		if (!c->expires || !reg_is_refresh(rc, e, &p->b, p->now))
			p->refresh = 0;
	}
	if (p->added) {
		cnt = regcache_count_device(rc, p->dev->number,
					    p->dev->username, p->now);
		if (cnt + (uint64_t)p->added >
		    (uint64_t)cfg->max_bindings_per_device) {
			p->status = 403;
			p->reason = "Too Many Bindings";
		}
	}
}

/* Starts the 200 and lists every current binding of the number: from
 * the cache RC (its lock held), or when RC is NULL from LIST (LEN bytes of
 * NUL-terminated Contact values copied after a job's commit). */
static void reg_ok_begin(struct sipd_reply *r, struct regcache *rc,
			 const struct reg_plan *p, const char *list,
			 size_t len)
{
	const struct sip_msg *m = r->req;
	struct list_ctx l = { &r->b, p->now };
	const struct sip_hdr *h;
	size_t at;

	sipd_reply_begin(r, 200, NULL);
	if (rc)
		regcache_list(rc, p->dev->number, p->now, list_cb, &l);
	for (at = 0; !rc && at < len; at += strlen(list + at) + 1)
		sip_buf_hdr(&r->b, "Contact", "%s", list + at);
	for (h = sip_msg_hdr(m, SIP_HDR_PATH); h; h = sip_msg_hdr_next(m, h))
		sip_buf_hdr(&r->b, "Path", "%.*s", (int)h->value.len,
			    h->value.p);
	if (sip_msg_hdr(m, SIP_HDR_PATH))
		sip_buf_hdr(&r->b, "Supported", "path");
	if (p->outbound) {
		/* RFC 5626 s.6: the flow is ours to keep; the device sends a
		 * keep-alive at 80-100% of Flow-Timer (s.4.4.1) */
		sip_buf_hdr(&r->b, "Require", "outbound");
		sip_buf_hdr(&r->b, "Flow-Timer", "%d",
			    r->w->sh->cfg->keepalive_interval);
	}
}

/* RFC 5626 s.5: the UA asked for outbound (Supported: outbound, and a
 * Contact with +sip.instance and reg-id). */
static int reg_wants_outbound(const struct sip_msg *m,
			      const struct reg_contact *cs, int n)
{
	struct sip_list_iter it;
	struct sip_str v;
	int i, sup = 0;

	sip_list_init(&it, m, SIP_HDR_SUPPORTED);
	while (sip_list_next(&it, &v) == 0)
		if (sip_str_caseeq(v, "outbound"))
			sup = 1;
	for (i = 0; sup && i < n; i++)
		if (cs[i].reg_id && cs[i].instance[0])
			return 1;
	return 0;
}

/* Remembers the flow the bindings were made over (flow.c). */
static void reg_track_flow(struct sipd_reply *r, const struct reg_plan *p)
{
	struct sipd_flow f;
	int64_t until = 0;
	int i;

	for (i = 0; i < p->n && !p->star; i++)
		if (p->cs[i].expires > 0 && p->now + p->cs[i].expires > until)
			until = p->now + p->cs[i].expires;
	if (!until)
		return;
	sipd_flow_of(r->w, r->peer, &f);
	/* a device reachable anew takes what waited for it */
	if (flow_track(r->w->sh->flows, &f, until,
		       r->w->sh->cfg->keepalive_interval, p->outbound,
		       sipd_now_ms()) == 1 || p->added)
		deliver_kick(r->w->sh, p->dev->number);
	/* presence hears when this flow dies (offline.c) */
	flow_note_number(r->w->sh->flows, &f, p->dev->number);
}

static void reg_contact_binding(struct reg_plan *p, int i)
{
	p->b.contact = p->cs[i].uri;
	p->b.expires_at = p->now + p->cs[i].expires;
	p->b.q = p->cs[i].q;
	p->b.instance = p->cs[i].instance;
	p->b.reg_id = p->cs[i].reg_id;
}

/*
 * The fast path, cache lock held: a query (no Contact), a refusal, or
 * refreshes only, none of which waits for a commit. Returns the status to
 * answer (a 200 is built in r->b; the caller sends it once the lock is
 * released), or 0 when the request needs the write transaction.
 */
static int reg_apply_fast(struct sipd_reply *r, struct regcache *rc,
			  struct reg_plan *p)
{
	int i;

	if (!regcache_loaded(rc))
		return 0;
	reg_plan_check(rc, r->w->sh->cfg, p);
	if (p->status)
		return p->status;
	if (!p->refresh)
		return 0;
	for (i = 0; i < p->n; i++) {
		reg_contact_binding(p, i);
		if (regcache_put(rc, &p->b, 1)) {
			/* the contacts before it are refreshed already, so the
			 * written path would call this request out of order */
			log_err("sip: registrar out of memory");
			p->reason = "Out Of Memory";
			return 500;
		}
	}
	reg_ok_begin(r, rc, p, NULL, 0);
	return 200;
}

/*
 * The written path: a job of the registrar's writer (regflush.c). The
 * worker copies what the request asks for into the job and submits it;
 * on the writer thread, inside the batch's transaction, the job checks the
 * plan again against the cache (jobs before it may have changed the
 * bindings since), writes the rows and then puts the same change in the
 * cache, tagged uncommitted; after the batch's COMMIT its done() settles
 * the cache (or reloads it when the commit failed) and copies the number's
 * Contact list; once the batch's dones ran, each worker gets its jobs back
 * in one mailbox message and sends their answers as one UDP burst
 * (reg_jobs_reply), as the read burst did before. The worker never runs a
 * write.
 */
struct reg_job {
	struct reg_job *next;           /* in sh->regout, then a hand-back */
	struct sipd_shared *sh;         /* borrowed */
	struct sipd *w;                 /* borrowed: the worker that answers */
	struct sipd_deferred *d;        /* owned: the request, its UDP tx */
	struct store_device dev;
	struct reg_contact cs[REG_MAX_CONTACTS]; /* cs[i].ct unused: its
						    slices were the request's */
	struct reg_plan p;              /* points into this job */
	char call_id[256], received[96], path[1024];
	/* on the writer thread: */
	uint64_t txn;                   /* regcache job id, 0 if not begun */
	int touched;                    /* the cache was changed */
	int64_t delta;                  /* live bindings added - removed */
	int err;                        /* the write's outcome */
	char *list;                     /* owned: the 200's Contact values */
	size_t len, cap;
};

static void reg_job_free(struct reg_job *j)
{
	sipd_deferred_free(j->d);
	free(j->list);
	free(j);
}

/* Writer thread: the rows, then the cache. */
static int reg_job_run(void *arg, sqlite3 *db)
{
	struct reg_job *j = arg;
	struct reg_plan *p = &j->p;
	struct regcache *rc = j->sh->rc;
	struct store *st = j->sh->regst; /* over DB */
	const char *number = j->dev.number, *user = j->dev.username;
	int i, err = 0;

	(void)db;
	regcache_lock(rc);
	if (!regcache_loaded(rc) && (err = regcache_load(rc, st, p->now)))
		goto out;
	j->txn = regcache_txn_begin(rc);
	reg_plan_check(rc, j->sh->cfg, p);
	if (p->status)
		goto out; /* refused: nothing written */
	/* the store first, so that a failed write leaves the cache alone */
	if (p->star) /* only this device's bindings (docs/protocol.md) */
		err = store_binding_delete_all(st, number, user, NULL);
	for (i = 0; i < p->n && !p->star && !err; i++) {
		if (p->cs[i].expires == 0) {
			if (p->cs[i].found && !p->cs[i].foreign &&
			    (err = store_binding_delete(st, number,
							p->cs[i].uri)) == -ENOENT)
				err = 0;
			continue;
		}
		reg_contact_binding(p, i);
		err = store_binding_upsert(st, &p->b);
	}
	if (err)
		goto out;
	j->touched = 1;
	if (p->star) {
		j->delta -= (int64_t)regcache_count_device(rc, number, user,
							   p->now);
		regcache_del_all(rc, number, user);
	}
	for (i = 0; i < p->n && !p->star; i++) {
		if (p->cs[i].expires == 0) {
			if (!p->cs[i].found || p->cs[i].foreign)
				continue;
			regcache_del(rc, number, p->cs[i].uri);
			if (p->cs[i].live)
				j->delta--;
			continue;
		}
		reg_contact_binding(p, i);
		err = regcache_put(rc, &p->b, 0);
		if (err)
			goto out; /* its done() reloads the cache */
		if (!p->cs[i].live)
			j->delta++;
	}
out:
	regcache_unlock(rc);
	return err;
}

/* Writer thread, under the cache lock: one Contact value of the 200. */
static int reg_job_list_cb(const struct store_binding *bd, void *arg)
{
	struct reg_job *j = arg;
	size_t need = strlen(bd->contact) + 32;
	int n;

	if (j->len + need > j->cap) {
		size_t cap = (j->cap ? j->cap * 2 : 1024) + need;
		char *list = realloc(j->list, cap);

		if (!list)
			return -ENOMEM;
		j->list = list;
		j->cap = cap;
	}
	n = snprintf(j->list + j->len, j->cap - j->len, "<%s>;expires=%lld",
		     bd->contact, (long long)(bd->expires_at - j->p.now));
	j->len += (size_t)n + 1;
	return 0;
}

/* Writer thread, after the batch's COMMIT (in job order): the outcome
 * settles the cache, and the job waits for the batch's last done. */
static void reg_job_done(void *arg, int err)
{
	struct reg_job *j = arg;
	struct regcache *rc = j->sh->rc;

	j->err = err;
	if (j->txn) /* a failure that touched the cache reloads it */
		regcache_txn_end(rc, j->txn, !err || !j->touched,
				 j->sh->regst);
	if (!err && !j->p.status) {
		/* the bindings as committed (no later job has run yet); out
		 * of memory, the list is cut short */
		regcache_lock(rc);
		regcache_list(rc, j->dev.number, j->p.now, reg_job_list_cb, j);
		regcache_unlock(rc);
		if (j->delta)
			metrics_gauge_add(METRICS_REGISTRATIONS, j->delta);
	}
	j->next = j->sh->regout[j->w->id];
	j->sh->regout[j->w->id] = j;
}

/* On the worker: the answer to one job's REGISTER. */
static void reg_job_reply(struct reg_job *j)
{
	int ok = !j->err && !j->p.status;
	struct sipd_reply r;
	struct sip_msg m;

	if (ok && j->delta)
		pres_bindings_changed(j->w, j->dev.number); /* open/closed */
	if (sipd_deferred_open(j->d, &m, &r))
		return; /* the connection closed meanwhile */
	if (j->err) {
		log_err("sip: registrar write failed (%d)", j->err);
		sipd_reply_begin(&r, 500, "Database Error");
		sip_buf_hdr(&r.b, "Retry-After", "5");
		sipd_reply_send(&r);
	} else if (j->p.status) {
		sipd_reply_simple(&r, j->p.status, j->p.reason);
	} else {
		reg_ok_begin(&r, NULL, &j->p, j->list, j->len);
		reg_track_flow(&r, &j->p);
		sipd_reply_send(&r);
	}
}

/* On the worker: the answers of one batch (newest first in the list), in
 * job order, as one UDP burst (one sendmmsg). */
static void reg_jobs_reply(void *arg)
{
	struct reg_job *j = arg, *fifo = NULL, *n;
	struct sipd *w = j->w;
	int burst = !sipd_closing(w) && w->out;

	for (; j; j = n) {
		n = j->next;
		j->next = fifo;
		fifo = j;
	}
	if (burst)
		udp_burst_begin(w);
	for (j = fifo; j; j = n) {
		n = j->next;
		if (!sipd_closing(w))
			reg_job_reply(j);
		reg_job_free(j);
	}
	if (burst)
		udp_burst_end(w);
}

void reg_jobs_hand_back(void *arg)
{
	struct sipd_shared *sh = arg;
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < sh->nworkers; i++) {
		struct reg_job *j = sh->regout[i], *n;

		if (!j)
			continue;
		sh->regout[i] = NULL;
		while (mailbox_post(sh->workers[i]->mb, reg_jobs_reply, j) ==
		       -EAGAIN) {
			metrics_inc(METRICS_MAILBOX_FULL);
			if (atomic_load(&sh->stopping)) {
				/* the loops have stopped: no one answers */
				for (; j; j = n) {
					n = j->next;
					reg_job_free(j);
				}
				break;
			}
			/* the worker is swamped; the writer waits for it
			 * rather than lose answers whose changes are written */
			nanosleep(&ts, NULL);
		}
	}
}

/* Hands the written path to the registrar's writer; answers at once only
 * when it cannot (503 when its queue is full). */
static void reg_submit(struct sipd_reply *r, const struct reg_plan *p,
		       const char *call_id, const char *received,
		       const char *path)
{
	struct sipd *w = r->w;
	struct reg_job *j = calloc(1, sizeof(*j));
	int err;

	if (!j) {
		sipd_reply_simple(r, 500, "Out Of Memory");
		return;
	}
	j->sh = w->sh;
	j->w = w;
	j->dev = *p->dev;
	memcpy(j->cs, p->cs, (size_t)p->n * sizeof(j->cs[0]));
	snprintf(j->call_id, sizeof(j->call_id), "%s", call_id);
	snprintf(j->received, sizeof(j->received), "%s", received);
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->p = *p;
	j->p.dev = &j->dev;
	j->p.cs = j->cs;
	j->p.b.number = j->dev.number;
	j->p.b.username = j->dev.username;
	j->p.b.call_id = j->call_id;
	j->p.b.received = j->received;
	j->p.b.path = j->path;
	j->p.b.contact = "";
	j->p.b.instance = "";
	j->d = sipd_defer(r); /* UDP: a transaction absorbs resends */
	if (!j->d) {
		free(j);
		sipd_reply_simple(r, 500, "Out Of Memory");
		return;
	}
	err = writer_submit(w->sh->regw, reg_job_run, reg_job_done, j);
	if (!err)
		return;
	/* nothing changed: the cache is as it was; the tx goes with the
	 * job, so the client's retry is a fresh try */
	reg_job_free(j);
	log_warn("sip: registrar write not queued (%d)", err);
	sipd_reply_begin(r, 503, "Registrar Busy");
	sip_buf_hdr(&r->b, "Retry-After", "1");
	sipd_reply_send(r);
}

/* Answers what memory can answer; submits the rest. */
static void reg_apply(struct sipd_reply *r, const struct store_device *dev,
		      struct reg_contact *cs, int n, int star)
{
	struct sipd *w = r->w;
	const struct sip_msg *m = r->req;
	struct regcache *rc = w->sh->rc;
	char call_id[256], received[96], ip[INET6_ADDRSTRLEN], path[1024];
	const char *tp = r->peer->ops->name;
	struct reg_plan p = { .dev = dev, .cs = cs, .n = n, .star = star };
	int status;
	uint16_t port;

	if (sip_str_copy(m->call_id, call_id, sizeof(call_id))) {
		sipd_reply_simple(r, 400, "Call-ID Too Long");
		return;
	}
	sipd_addr_str(&r->peer->addr, ip, sizeof(ip), &port);
	snprintf(received, sizeof(received), "%s:%s:%u", tp, ip, port);
	path_join(m, path, sizeof(path));
	p.now = (int64_t)time(NULL);
	p.b = (struct store_binding){
		.number = dev->number, .username = dev->username,
		.contact = "", .call_id = call_id, .cseq = m->cseq.num,
		.transport = tp, .received = received, .path = path,
		.instance = "", .conn_id = r->peer->conn_id, .worker = w->id,
	};
	p.outbound = reg_wants_outbound(m, cs, n);

	regcache_lock(rc);
	status = reg_apply_fast(r, rc, &p);
	regcache_unlock(rc);
	if (status == 200) {
		reg_track_flow(r, &p);
		sipd_reply_send(r);
	} else if (status) {
		sipd_reply_simple(r, status, p.reason);
	} else {
		reg_submit(r, &p, call_id, received, path);
	}
}

void reg_handle(struct sipd_reply *r)
{
	struct reg_contact cs[REG_MAX_CONTACTS];
	struct store_device dev;
	int n, star;

	if (sipd_authenticate(r, 0, &dev) == 0) {
		if (!sipd_user_is_device(r->req->to.uri.user, &dev)) {
			metrics_auth_failure(METRICS_AUTH_WRONG_AOR);
			sipd_reply_simple(r, 403, "Not Your Number");
			return;
		}
		n = reg_contacts(r, cs, &star);
		if (n >= 0)
			reg_apply(r, &dev, cs, n, star);
	}
}


