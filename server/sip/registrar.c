/*
 * registrar: REGISTER (RFC 3261 s.10.3) with HTTP Digest (s.22, RFC 8760
 * SHA-256 and MD5, qop=auth, nonce-count replay detection per RFC 7616
 * s.3.4.6), Path (RFC 3327) and RFC 5626 +sip.instance/reg-id kept.
 *
 * The order, each step answering at most once:
 *   no credentials for our realm      -> 401, both challenges (SHA-256 first)
 *   unknown user / wrong response     -> 401 (fresh challenge)
 *   right response, old/foreign nonce -> 401 stale=true (client retries
 *                                        without asking its user)
 *   nonce-count not above the last    -> 401 (replay)
 *   To user is not the device's number-> 403
 *   bad Contact / "*" misuse          -> 400;  0 < expires < min -> 423
 *   more bindings than the device may -> 403 "Too Many Bindings"
 *   then the bindings change and 200 lists every current Contact of the
 *   number (all its devices) with its remaining expires.
 *
 * Durability: bindings live in the store (SQLite, WAL, synchronous=NORMAL)
 * and every REGISTER commits before its 200 is sent. A commit in WAL mode
 * with synchronous=NORMAL is a write(2) into the WAL without fsync, so it
 * survives kill -9 of the server (the kernel has the bytes) but not a power
 * cut in the last moments before a checkpoint; registrations are soft state
 * that clients refresh, so that is the promise we make (docs/protocol.md).
 * Writers from all workers queue on one mutex (sh->write_lock) instead of on
 * SQLite's sleeping busy handler, and group-commit: the REGISTERs of one
 * read batch share a transaction and their 200s go out after its commit
 * (dispatch.c), so one WAL write covers up to a batch of registrations.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "sipd.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../store/store.h"
#include "dataline/log.h"

#define REG_MAX_CONTACTS 16
#define REG_URI_MAX 512

static void reg_challenge(struct sipd_reply *r, int stale,
			  enum metrics_auth_reason why)
{
	const struct config *cfg = r->w->sh->cfg;
	char nonce[SIP_NONCE_LEN + 1];
	int i;

	metrics_auth_failure(why);
	if (sip_nonce_make(r->w->sh->nonce_key, (uint64_t)time(NULL), nonce)) {
		sipd_reply_simple(r, 500, "Nonce Failure");
		return;
	}
	sipd_reply_begin(r, 401, NULL);
	/* one nonce for both (RFC 8760 s.2.4), the preferred one first */
	for (i = 0; i < r->w->sh->nalgs; i++)
		sip_digest_challenge_add(&r->b, "WWW-Authenticate",
					 r->w->sh->algs[i], cfg->domain, nonce,
					 stale, NULL);
	sipd_reply_send(r);
}

/* Finds the Authorization line for our realm. 0, -ENOENT, -EBADMSG. */
static int reg_find_credentials(const struct sip_msg *m, const char *realm,
				struct sip_digest_credentials *out)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_AUTHORIZATION);
	int bad = 0;

	for (; h; h = sip_msg_hdr_next(m, h)) {
		struct sip_digest_credentials c;
		int rc = sip_digest_credentials_decode(h->value, &c);
		if (rc == -EBADMSG)
			bad = 1;
		if (rc)
			continue;
		if (sip_str_eq(c.realm, realm)) {
			*out = c;
			return 0;
		}
	}
	return bad ? -EBADMSG : -ENOENT;
}

/* The To user names the device's number ("+8613..." or "8613..."). */
static int reg_to_matches(const struct sip_msg *m, const char *number)
{
	char user[64];
	size_t n;

	if (!sip_str_present(m->to.uri.user) ||
	    sip_str_unescape(m->to.uri.user, user, sizeof(user), &n))
		return 0;
	if (n == strlen(number) && memcmp(user, number, n) == 0)
		return 1;
	return number[0] == '+' && n == strlen(number) - 1 &&
	       memcmp(user, number + 1, n) == 0;
}

/* Authenticates; answers and returns -1 on failure, 0 with *dev on success. */
static int reg_authenticate(struct sipd_reply *r, struct store_device *dev)
{
	struct sipd *w = r->w;
	const struct config *cfg = w->sh->cfg;
	const struct sip_msg *m = r->req;
	struct sip_digest_credentials c;
	char user[STORE_USERNAME_MAX];
	const char *ha1;
	uint64_t now = (uint64_t)time(NULL);
	int rc;

	rc = reg_find_credentials(m, cfg->domain, &c);
	if (rc == -ENOENT) {
		reg_challenge(r, 0, METRICS_AUTH_MISSING);
		return -1;
	}
	if (rc) {
		sipd_reply_simple(r, 400, "Bad Authorization");
		return -1;
	}
	if (sip_str_copy(c.username, user, sizeof(user)) ||
	    store_device_get(w->store, user, dev) != 0) {
		reg_challenge(r, 0, METRICS_AUTH_UNKNOWN_USER);
		return -1;
	}
	if (c.alg != w->sh->algs[0] &&
	    (w->sh->nalgs < 2 || c.alg != w->sh->algs[1]))
		ha1 = NULL; /* an algorithm we do not offer */
	else if (c.alg == SIP_DIGEST_MD5)
		ha1 = dev->ha1_md5;
	else
		ha1 = dev->ha1_sha256;
	if (!ha1) {
		sipd_reply_simple(r, 400, "Unsupported Digest Algorithm");
		return -1;
	}
	/* The digest uri is covered by the response hash; it is not required
	 * to equal the Request-URI byte for byte: real clients (SIPp among
	 * them) put the server's address there. Kamailio does not compare
	 * them either. */
	rc = sip_digest_verify(&c, m->method, ha1);
	if (rc == -EBADMSG) {
		sipd_reply_simple(r, 400, "Bad Authorization");
		return -1;
	}
	if (rc) {
		log_info("sip: REGISTER from %s: wrong digest response", user);
		reg_challenge(r, 0, METRICS_AUTH_BAD_PASSWORD);
		return -1;
	}
	/* the password was right: only the nonce may be at fault now */
	rc = sip_nonce_check(w->sh->nonce_key, c.nonce, now,
			     (uint64_t)cfg->nonce_ttl, NULL);
	if (rc) {
		reg_challenge(r, 1, METRICS_AUTH_STALE_NONCE);
		return -1;
	}
	rc = auth_nc_check(w->sh->nc, c.nonce,
			   sip_str_present(c.qop) ? c.nc_value : 1, now,
			   (uint64_t)cfg->nonce_ttl);
	if (rc) {
		log_info("sip: REGISTER from %s: nonce-count %u replayed",
			 user, c.nc_value);
		reg_challenge(r, 0, METRICS_AUTH_REPLAYED_NONCE);
		return -1;
	}
	if (!reg_to_matches(m, dev->number)) {
		metrics_auth_failure(METRICS_AUTH_WRONG_AOR);
		sipd_reply_simple(r, 403, "Not Your Number");
		return -1;
	}
	return 0;
}

struct reg_contact {
	struct sip_contact ct;
	char uri[REG_URI_MAX];
	int64_t expires;
	int q;
	char instance[256];
	uint32_t reg_id;
	int found;         /* a binding with this URI exists (maybe expired) */
	int live;          /* ... and has not expired */
};

static int parse_q(struct sip_str q)
{
	char b[8];
	double v;

	if (!sip_str_present(q) || sip_str_copy(q, b, sizeof(b)))
		return 1000;
	v = strtod(b, NULL);
	if (v < 0 || v > 1)
		return 1000;
	return (int)(v * 1000 + 0.5);
}

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
		c->q = parse_q(c->ct.q);
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

struct existing {
	int found;
	int live;
	char call_id[256];
	uint32_t cseq;
};

static int existing_cb(const struct store_binding *b, void *arg)
{
	struct existing *e = arg;

	e->found = 1;
	e->live = b->expires_at > (int64_t)time(NULL);
	snprintf(e->call_id, sizeof(e->call_id), "%s", b->call_id);
	e->cseq = b->cseq;
	return 0;
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

/* Applies the bindings and builds the 200. Returns the status sent. */
static int reg_apply(struct sipd_reply *r, const struct store_device *dev,
		     struct reg_contact *cs, int n, int star)
{
	struct sipd *w = r->w;
	const struct config *cfg = w->sh->cfg;
	const struct sip_msg *m = r->req;
	struct store *st = w->store;
	int64_t now = (int64_t)time(NULL);
	char call_id[256], received[96], ip[INET6_ADDRSTRLEN], path[1024];
	const char *tp = r->peer->tp == SIPD_UDP ? "udp" :
			 r->peer->tp == SIPD_TCP ? "tcp" : "tls";
	int64_t delta = 0;
	uint64_t cnt = 0, removed = 0;
	int i, added = 0, err = 0, status = 200;
	const char *reason = NULL;
	uint16_t port;
	const struct sip_hdr *h;

	if (sip_str_copy(m->call_id, call_id, sizeof(call_id))) {
		sipd_reply_simple(r, 400, "Call-ID Too Long");
		return 400;
	}
	sipd_addr_str(&r->peer->addr, ip, sizeof(ip), &port);
	snprintf(received, sizeof(received), "%s:%s:%u", tp, ip, port);
	path_join(m, path, sizeof(path));

	err = sipd_write_begin(w);
	if (err)
		goto fail;
	if (star) {
		err = store_binding_delete_all(st, dev->number, NULL, &removed);
		delta -= (int64_t)removed;
		goto list;
	}
	/* reads and checks first, so a refusal leaves nothing to undo */
	for (i = 0; i < n; i++) {
		struct existing e = { 0 };
		err = store_binding_get(st, dev->number, cs[i].uri, existing_cb,
					&e);
		if (err && err != -ENOENT)
			goto fail;
		err = 0;
		if (e.found && strcmp(e.call_id, call_id) == 0 &&
		    m->cseq.num <= e.cseq) {
			/* RFC 3261 10.3 step 7: an old request, out of order */
			status = 500;
			reason = "Out Of Order CSeq";
			goto refuse;
		}
		cs[i].found = e.found;
		cs[i].live = e.live;
		if (cs[i].expires && !e.live)
			added++;
	}
	if (added) {
		err = store_binding_count_device(st, dev->username, now, &cnt);
		if (err)
			goto fail;
		if (cnt + (uint64_t)added > (uint64_t)cfg->max_bindings_per_device) {
			status = 403;
			reason = "Too Many Bindings";
			goto refuse;
		}
	}
	for (i = 0; i < n; i++) {
		struct store_binding b;
		if (cs[i].expires == 0) {
			if (!cs[i].found)
				continue;
			err = store_binding_delete(st, dev->number, cs[i].uri);
			if (err && err != -ENOENT)
				goto fail;
			err = 0;
			if (cs[i].live)
				delta--;
			continue;
		}
		b = (struct store_binding){
			.number = dev->number, .username = dev->username,
			.contact = cs[i].uri, .call_id = call_id,
			.cseq = m->cseq.num, .expires_at = now + cs[i].expires,
			.q = cs[i].q, .transport = tp, .received = received,
			.path = path, .instance = cs[i].instance,
			.reg_id = cs[i].reg_id,
		};
		err = store_binding_upsert(st, &b);
		if (err)
			goto fail;
		if (!cs[i].live)
			delta++;
	}
list:
	if (err)
		goto fail;
	sipd_reply_begin(r, 200, NULL);
	{
		struct list_ctx l = { &r->b, now };
		err = store_binding_list(st, dev->number, now, list_cb, &l);
		if (err)
			goto fail;
	}
	for (h = sip_msg_hdr(m, SIP_HDR_PATH); h; h = sip_msg_hdr_next(m, h))
		sip_buf_hdr(&r->b, "Path", "%.*s", (int)h->value.len,
			    h->value.p);
	if (sip_msg_hdr(m, SIP_HDR_PATH))
		sip_buf_hdr(&r->b, "Supported", "path");
	/* queued behind the commit when inside a batch (group commit) */
	sipd_reply_send(r);
	err = sipd_write_end(w);
	if (err)
		goto fail_logged;
	if (delta)
		metrics_gauge_add(METRICS_REGISTRATIONS, delta);
	return 200;
refuse:
	/* nothing written by this request; the transaction stays open for
	 * the rest of the batch */
	if (sipd_write_end(w) == 0) {
		sipd_reply_simple(r, status, reason);
		return status;
	}
	goto fail_logged;
fail:
	log_err("sip: registrar store error %d", err);
	sipd_write_abort(w);
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

	if (reg_authenticate(r, &dev) == 0) {
		n = reg_contacts(r, cs, &star);
		if (n >= 0)
			reg_apply(r, &dev, cs, n, star);
	}
}

void reg_gc(struct sipd *w)
{
	int64_t now = (int64_t)time(NULL);
	uint64_t removed = 0, count = 0;

	if (sipd_write_begin(w))
		return;
	if (store_binding_expire(w->store, now, &removed) == 0 &&
	    store_binding_count(w->store, now, &count) == 0)
		metrics_gauge_set(METRICS_REGISTRATIONS, (int64_t)count);
	sipd_write_end(w);
	if (removed)
		log_debug("sip: %llu bindings expired",
			  (unsigned long long)removed);
}
