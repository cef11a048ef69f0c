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
 * instance, reg-id or q -- in the store and the cache together, inside the
 * write transaction. Writers of all workers queue on one mutex
 * (sh->write_lock) instead of on SQLite's sleeping busy handler, and
 * group-commit: the REGISTERs of one read batch share a transaction and
 * their 200s go out after its commit (dispatch.c).
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
#include "../core/metrics.h"
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

/* Starts the 200 and lists every current binding of the number. */
static void reg_ok_begin(struct sipd_reply *r, struct regcache *rc,
			 const struct reg_plan *p)
{
	const struct sip_msg *m = r->req;
	struct list_ctx l = { &r->b, p->now };
	const struct sip_hdr *h;

	sipd_reply_begin(r, 200, NULL);
	regcache_list(rc, p->dev->number, p->now, list_cb, &l);
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
	reg_ok_begin(r, rc, p);
	return 200;
}

/* Applies the bindings and builds the 200. Returns the status sent. */
static int reg_apply(struct sipd_reply *r, const struct store_device *dev,
		     struct reg_contact *cs, int n, int star)
{
	struct sipd *w = r->w;
	const struct sip_msg *m = r->req;
	struct store *st = w->store;
	struct regcache *rc = w->sh->rc;
	char call_id[256], received[96], ip[INET6_ADDRSTRLEN], path[1024];
	const char *tp = r->peer->ops->name;
	struct reg_plan p = { .dev = dev, .cs = cs, .n = n, .star = star };
	int64_t delta = 0;
	int i, err = 0, status;
	uint16_t port;

	if (sip_str_copy(m->call_id, call_id, sizeof(call_id))) {
		sipd_reply_simple(r, 400, "Call-ID Too Long");
		return 400;
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
	}
	else if (status)
		sipd_reply_simple(r, status, p.reason);
	if (status)
		return status;

	/* written path: the store and the cache change together inside the
	 * write transaction; the 200 waits for its commit */
	err = sipd_write_begin(w);
	if (err)
		goto fail;
	regcache_lock(rc);
	if (!regcache_loaded(rc) && (err = regcache_load(rc, st, p.now)))
		goto fail_locked;
	/* again: another worker may have changed them since */
	reg_plan_check(rc, w->sh->cfg, &p);
	if (p.status) {
		regcache_unlock(rc);
		goto refuse;
	}
	if (star) {
		/* only this device's bindings (docs/protocol.md) */
		delta -= (int64_t)regcache_count_device(rc, dev->number,
							  dev->username, p.now);
		err = store_binding_delete_all(st, dev->number, dev->username,
					       NULL);
		if (err)
			goto fail_locked;
		regcache_del_all(rc, dev->number, dev->username);
	}
	for (i = 0; i < n && !star; i++) {
		if (cs[i].expires == 0) {
			if (!cs[i].found || cs[i].foreign)
				continue;
			err = store_binding_delete(st, dev->number, cs[i].uri);
			if (err && err != -ENOENT)
				goto fail_locked;
			err = 0;
			regcache_del(rc, dev->number, cs[i].uri);
			if (cs[i].live)
				delta--;
			continue;
		}
		reg_contact_binding(&p, i);
		err = store_binding_upsert(st, &p.b);
		if (!err)
			err = regcache_put(rc, &p.b, 0);
		if (err)
			goto fail_locked;
		if (!cs[i].live)
			delta++;
	}
	reg_ok_begin(r, rc, &p);
	regcache_unlock(rc);
	reg_track_flow(r, &p);
	/* queued behind the commit when inside a batch (group commit) */
	sipd_reply_send(r);
	err = sipd_write_end(w);
	if (err)
		goto fail_logged;
	if (delta)
		metrics_gauge_add(METRICS_REGISTRATIONS, delta);
	if (delta)
		pres_bindings_changed(w, dev->number); /* watchers: open/closed */
	return 200;
refuse:
	/* nothing written by this request; the transaction stays open for
	 * the rest of the batch */
	if (sipd_write_end(w) == 0) {
		sipd_reply_simple(r, p.status, p.reason);
		return p.status;
	}
	goto fail_logged;
fail_locked:
	regcache_unlock(rc);
fail:
	log_err("sip: registrar store error %d", err);
	sipd_write_abort(w); /* also reloads the cache from the store */
fail_logged:
	/* the held replies of this batch were dropped with the transaction;
	 * UDP clients retransmit, stream clients get this 500 */
	sipd_reply_simple(r, 500, "Database Error");
	return 500;
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


/* The in-memory bindings follow the registrar's write transactions. */
static void reg_txn_begin(void *arg)
{
	regcache_txn_begin(arg);
}

static void reg_txn_end(void *arg, int ok, struct store *st)
{
	regcache_txn_end(arg, ok, st);
}

int reg_hooks_add(struct sipd_shared *sh)
{
	struct sipd_commit_hook h = { reg_txn_begin, reg_txn_end, sh->rc };

	return sipd_commit_hook_add(sh, &h);
}
