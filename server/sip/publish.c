/*
 * publish: PUBLISH of presence (RFC 3903) carrying PIDF (RFC 3863) with
 * dataline's netq element (docs/presence.md): a device tells the server
 * how good its network is.
 *
 * The order, each step answering at most once:
 *   Event other than presence            -> 489 + Allow-Events
 *   no or wrong Proxy-Authorization      -> 407 (authn.c)
 *   Request-URI / To not the device's own number -> 403
 *   0 < Expires < --presence-min-expires -> 423 + Min-Expires
 *   body over PRES_MAX_BODY              -> 413
 *   body not application/pidf+xml        -> 415 + Accept
 *   PIDF that does not parse             -> 400
 *   no body and no SIP-If-Match          -> 400 (nothing to refresh)
 *   the device has no usable binding (not registered, or only over
 *   dead flows; offline.c), unless a removal -> 403 "Not Registered"
 *   SIP-If-Match not the device's etag   -> 412
 *   store full                           -> 503 + Retry-After
 *   then 200 with SIP-ETag and Expires; a removal (Expires: 0) 200 with
 *   Expires: 0. A change (not a plain refresh) NOTIFYs the watchers.
 *   The publication lives while the device stays online: offline.c drops
 *   it when its last usable binding goes.
 *
 * The figures kept are those of the document's first tuple that carries a
 * <dl:netq>, else the presence-level one; <basic> is the first tuple's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "presence_sip.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../presence/presence.h"
#include "../store/store.h"
#include "dataline/log.h"
#include "dataline/pidf.h"

int pres_number_of(const struct sip_uri *u, char out[E164_MAX])
{
	char user[64];
	size_t n;

	if (!sip_str_present(u->user) ||
	    sip_str_unescape(u->user, user, sizeof(user), &n) ||
	    memchr(user, '\0', n))
		return -EINVAL;
	/* "+8613..." or "8613..." (registrar.c accepts both) */
	if (user[0] != '+') {
		char plus[sizeof(user) + 1];
		plus[0] = '+';
		memcpy(plus + 1, user, n + 1);
		return e164_normalize(plus, n + 1, out);
	}
	return e164_normalize(user, n, out);
}

int pres_event_check(struct sipd_reply *r)
{
	const struct sip_hdr *h = sip_msg_hdr(r->req, SIP_HDR_EVENT);
	struct sip_str v;
	size_t i;

	if (h) {
		v = h->value;
		for (i = 0; i < v.len && v.p[i] != ';' && v.p[i] != ' ' &&
			    v.p[i] != '\t'; i++)
			;
		v.len = i;
		if (sip_str_caseeq(v, "presence"))
			return 0;
	}
	sipd_reply_begin(r, 489, NULL);
	sip_buf_hdr(&r->b, "Allow-Events", "presence");
	sipd_reply_send(r);
	return -1;
}

int pres_expires(struct sipd_reply *r, uint32_t *out)
{
	const struct config *cfg = r->w->sh->cfg;
	int64_t e = r->req->expires;

	if (e < 0)
		e = PRES_DEFAULT_EXPIRES;
	if (e > 0 && e < cfg->presence_min_expires) {
		sipd_reply_begin(r, 423, NULL);
		sip_buf_hdr(&r->b, "Min-Expires", "%d",
			    cfg->presence_min_expires);
		sipd_reply_send(r);
		return -1;
	}
	if (e > cfg->presence_max_expires)
		e = cfg->presence_max_expires;
	*out = (uint32_t)e;
	return 0;
}

/* The figures a document carries (see the top). */
static void pick_figures(const struct pidf_doc *d, struct pidf_netq *nq,
			 enum pidf_basic *basic)
{
	unsigned i;

	memset(nq, 0, sizeof(*nq));
	*basic = d->ntuples ? d->tuples[0].basic : PIDF_BASIC_NONE;
	for (i = 0; i < d->ntuples; i++) {
		if (d->tuples[i].netq.present) {
			*nq = d->tuples[i].netq;
			*basic = d->tuples[i].basic;
			return;
		}
	}
	if (d->netq.present)
		*nq = d->netq;
}

static int ctype_is_pidf(const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
	struct sip_str v;
	size_t i;

	if (!h)
		return 0;
	v = h->value;
	for (i = 0; i < v.len && v.p[i] != ';' && v.p[i] != ' ' &&
		    v.p[i] != '\t'; i++)
		;
	v.len = i;
	return sip_str_caseeq(v, PIDF_CONTENT_TYPE);
}

void pres_publish_handle(struct sipd_reply *r)
{
	const struct sip_msg *m = r->req;
	struct store_device dev;
	char num[E164_MAX], ifm[PRESENCE_ETAG_LEN + 1], etag[PRESENCE_ETAG_LEN];
	char scratch[PRES_MAX_BODY];
	const struct sip_hdr *h;
	struct pidf_doc doc;
	struct pidf_netq nq;
	enum pidf_basic basic = PIDF_BASIC_NONE;
	uint32_t expires;
	int have_body = m->body.len > 0, changed = 0, err;

	if (pres_event_check(r))
		return;
	if (sipd_authenticate(r, 1, &dev))
		return;
	if (pres_number_of(&m->ruri, num) || strcmp(num, dev.number) ||
	    (sip_str_present(m->to.uri.user) &&
	     (pres_number_of(&m->to.uri, num) || strcmp(num, dev.number)))) {
		sipd_reply_simple(r, 403, "Not Your Presentity");
		return;
	}
	if (pres_expires(r, &expires))
		return;
	if (m->body.len > PRES_MAX_BODY) {
		sipd_reply_simple(r, 413, NULL);
		return;
	}
	if (have_body && !ctype_is_pidf(m)) {
		sipd_reply_begin(r, 415, NULL);
		sip_buf_hdr(&r->b, "Accept", PIDF_CONTENT_TYPE);
		sipd_reply_send(r);
		return;
	}
	if (have_body) {
		err = pidf_parse(m->body.p, m->body.len, scratch,
				 sizeof(scratch), &doc);
		if (err) {
			sipd_reply_simple(r, 400, "Bad PIDF");
			return;
		}
		pick_figures(&doc, &nq, &basic);
	}
	h = sip_msg_hdr_byname(m, "SIP-If-Match");
	if (h && sip_str_copy(h->value, ifm, sizeof(ifm))) {
		sipd_reply_simple(r, 412, NULL); /* too long to be ours */
		return;
	}
	if (!h && !have_body) {
		sipd_reply_simple(r, 400, "Missing Body");
		return;
	}
	if (!h && !expires) {
		sipd_reply_simple(r, 400, "Removal Needs SIP-If-Match");
		return;
	}
	/* presence follows reachability (offline.c): a device with no
	 * usable binding has no presence to publish (a removal is fine) */
	if (expires && !pres_device_online(r->w->sh, dev.number, dev.username)) {
		sipd_reply_simple(r, 403, "Not Registered");
		return;
	}
	err = presence_publish(r->w->sh->pres, dev.number, dev.username,
			       h ? ifm : NULL, have_body ? &nq : NULL, basic,
			       expires, sipd_now_ms(), etag, &changed);
	if (err == -ENOENT) {
		sipd_reply_simple(r, 412, NULL);
		return;
	}
	if (err == -ENOSPC) {
		sipd_reply_begin(r, 503, "Presence Store Full");
		sip_buf_hdr(&r->b, "Retry-After", "60");
		sipd_reply_send(r);
		return;
	}
	if (err) {
		sipd_reply_simple(r, 500, NULL);
		return;
	}
	metrics_gauge_set(METRICS_PRESENCE_PUBLICATIONS,
			  (int64_t)presence_count(r->w->sh->pres));
	sipd_reply_begin(r, 200, NULL);
	if (etag[0])
		sip_buf_hdr(&r->b, "SIP-ETag", "%s", etag);
	sip_buf_hdr(&r->b, "Expires", "%u", expires);
	sipd_reply_send(r);
	if (changed)
		pres_changed(r->w, dev.number);
}
