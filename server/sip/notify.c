/*
 * notify: the NOTIFYs of presence subscriptions (RFC 6665 s.4.2.2, RFC
 * 3856 s.6.6): what they carry, when they go, and from which worker.
 *
 * When: on SUBSCRIBE; when the watched number's presence changes (a
 * PUBLISH with figures, a removal, a publication expiring, a REGISTER
 * that adds or removes a binding, a binding expiring, a flow dying or
 * coming back: offline.c); at the subscription's end (timeout). Body:
 * PIDF over the number's devices, one tuple per device that has a usable
 * binding (unexpired, its flow not dead) or a publication (its id a hash
 * of the device, never its username), <basic> open while it has a usable
 * binding, and the device's netq figures with
 * age-s brought up to now; the presence-level <dl:netq> is the best
 * device's (presence_figures()). A number with no device: one closed tuple.
 *
 *
 * Fan-out: a change on any worker posts one job per other worker
 * (pres_changed); each worker NOTIFYs the subscriptions whose flow it
 * owns, from copies taken under the table lock, so no connection is
 * written by two threads and no lock is held while sending.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "presence_sip.h"
#include "../core/config.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "../presence/presence.h"
#include "../store/store.h"
#include "dataline/hmap.h"
#include "dataline/log.h"
#include "dataline/pidf.h"

/* ------------------------------------------------------------ body */

/* A tuple id for a device that does not reveal its username. */
static void tuple_id(const char *device, char *out, size_t cap)
{
	snprintf(out, cap, "d%016" PRIx64, hmap_hash_str(device));
}

/* NUMBER's PIDF document into OUT. 0 or -errno. */
int pres_body(struct sipd *w, const char *number, char *out,
		     size_t cap, size_t *len)
{
	struct sipd_shared *sh = w->sh;
	struct presence_dev pubs[PIDF_MAX_TUPLES];
	char ids[PIDF_MAX_TUPLES][24], entity[300];
	struct presence_view view;
	char online[PIDF_MAX_TUPLES][PRESENCE_DEVICE_MAX];
	struct pidf_doc d;
	uint64_t now = sipd_now_ms();
	size_t np = 0, i, j, nb;
	unsigned k = 0;
	int no;

	/* devices with a usable binding (a live flow): offline.c */
	no = pres_online_devices(sh, number, online, PIDF_MAX_TUPLES);
	nb = no > 0 ? (size_t)no : 0;
	presence_list(sh->pres, number, now, pubs, PIDF_MAX_TUPLES, &np);

	memset(&d, 0, sizeof(d));
	snprintf(entity, sizeof(entity), "sip:%s@%s", number, sh->cfg->domain);
	d.entity.p = entity;
	d.entity.len = strlen(entity);
	for (i = 0; i < np && k < PIDF_MAX_TUPLES; i++, k++) {
		struct pidf_tuple *t = &d.tuples[k];
		int bound = 0;
		uint64_t age;

		for (j = 0; j < nb; j++)
			if (!strcmp(online[j], pubs[i].device))
				bound = 1;
		tuple_id(pubs[i].device, ids[k], sizeof(ids[k]));
		t->id.p = ids[k];
		t->id.len = strlen(ids[k]);
		/* reachable = a usable binding, whatever it published */
		t->basic = bound ? PIDF_BASIC_OPEN : PIDF_BASIC_CLOSED;
		t->netq = pubs[i].netq;
		t->netq.present = 1;
		age = (now - pubs[i].published_ms) / 1000 +
		      (t->netq.have & PIDF_NETQ_AGE ? t->netq.age_s : 0);
		t->netq.age_s = age > UINT32_MAX ? UINT32_MAX : (uint32_t)age;
		t->netq.have |= PIDF_NETQ_AGE;
	}
	for (j = 0; j < nb && k < PIDF_MAX_TUPLES; j++) {
		int published = 0;

		for (i = 0; i < np; i++)
			if (!strcmp(online[j], pubs[i].device))
				published = 1;
		if (published)
			continue;
		tuple_id(online[j], ids[k], sizeof(ids[k]));
		d.tuples[k].id.p = ids[k];
		d.tuples[k].id.len = strlen(ids[k]);
		d.tuples[k].basic = PIDF_BASIC_OPEN;
		k++;
	}
	if (!k) {
		d.tuples[0].id = SIP_STR_LIT("none");
		d.tuples[0].basic = PIDF_BASIC_CLOSED;
		k = 1;
	}
	d.ntuples = k;
	if (presence_figures(sh->pres, number, now, &view) == 0) {
		d.netq = view.netq;
		d.netq.present = 1;
		d.netq.age_s = view.age_s;
		d.netq.have |= PIDF_NETQ_AGE;
	}
	return pidf_build(&d, out, cap, len);
}

/* ------------------------------------------------------------ NOTIFY */

struct notify_ctx {
	struct sipd *w;
	uint64_t id;
	char tag[20];
	int final;           /* the subscription ends with this NOTIFY */
};

static void notify_done(void *arg, int status, const struct sip_msg *m)
{
	struct notify_ctx *c = arg;

	(void)m;
	if (!c->final && (status == 481 || status == 408 || status == 430)) {
		log_debug("presence: NOTIFY answered %d; subscription ends",
			  status);
		sub_drop_id(c->w->sh->subs, c->id, c->tag);
	}
	free(c);
}

/*
 * Sends one NOTIFY for the snapshot S from W (which owns S->flow). STATE
 * is "active;expires=N" or "terminated;reason=...". FINAL: nothing to
 * drop afterwards (already gone).
 */
void notify_send(struct sipd *w, const struct sub *s, const char *state,
			int final, const char *body, size_t blen)
{
	struct sipd_request rq;
	struct notify_ctx *c;
	struct sip_buf b;
	char branch[64];
	size_t len;
	int err;

	rq = (struct sipd_request){ .method = "NOTIFY", .ruri = s->target,
				    .from = s->our_uri, .from_tag = s->our_tag,
				    .to = s->peer_uri,
				    .to_tag = s->peer_tag[0] ? s->peer_tag
							     : NULL,
				    .call_id = s->call_id, .cseq = s->cseq };
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->w = w;
	c->id = s->id;
	c->final = final;
	memcpy(c->tag, s->our_tag, sizeof(c->tag));
	err = sipd_request_begin(w, &s->flow, &b, &rq, branch, sizeof(branch));
	if (!err) {
		sip_buf_hdr(&b, "Event", "presence");
		sip_buf_hdr(&b, "Subscription-State", "%s", state);
		sip_buf_hdr(&b, "Contact", "<%s>", s->our_uri);
		err = sip_msg_end(&b, PIDF_CONTENT_TYPE, body, blen, &len);
	}
	if (!err)
		err = sipd_txc_send(w, &s->flow, "NOTIFY", branch, b.p, len,
				    notify_done, c);
	if (err) {
		log_debug("presence: NOTIFY not sent (%s)", strerror(-err));
		if (!final)
			sub_drop_id(w->sh->subs, s->id, s->our_tag);
		free(c);
		return;
	}
	metrics_inc(METRICS_PRESENCE_NOTIFIES);
}


/* Appends a copy of S, its CSeq advanced for the NOTIFY about to go
 * (lock held). 0 or -ENOMEM. */
int snap_push(struct sub_snaps *a, struct sub *s)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? 2 * a->cap : 16;
		struct sub *nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->cap = nc;
	}
	s->cseq++;
	a->v[a->n++] = *s;
	return 0;
}

void state_active(char *out, size_t cap, uint64_t expires_ms,
			 uint64_t now)
{
	snprintf(out, cap, "active;expires=%" PRIu64,
		 expires_ms > now ? (expires_ms - now + 999) / 1000 : 0);
}

/* NOTIFYs to every subscription of NUMBER that W's flows carry. */
static void notify_local(struct sipd *w, const char *number)
{
	struct subtab *t = w->sh->subs;
	struct sub_snaps a = { NULL, 0, 0 };
	struct hmap_node *n;
	char body[PRES_MAX_BODY], state[64];
	size_t blen, i;
	uint64_t h = hmap_hash_str(number), now = sipd_now_ms();

	if (pres_body(w, number, body, sizeof(body), &blen))
		return;
	pthread_mutex_lock(&t->lock);
	hmap_for_each_hash(&t->by_num, n, h) {
		struct sub *s = HMAP_ENTRY(n, struct sub, by_num);
		if (strcmp(s->number, number) || s->flow.worker != w->id)
			continue;
		if (snap_push(&a, s))
			break;
	}
	pthread_mutex_unlock(&t->lock);
	for (i = 0; i < a.n; i++) {
		state_active(state, sizeof(state), a.v[i].expires_ms, now);
		notify_send(w, &a.v[i], state, 0, body, blen);
	}
	free(a.v);
}

struct notify_job {
	struct sipd *w;
	char number[E164_MAX];
};

static void notify_job_cb(void *arg)
{
	struct notify_job *j = arg;

	/* mailbox_free() runs what is left after sipd_fini(): nothing to
	 * send with then (its buffers are gone) */
	if (j->w->txbuf && !sipd_closing(j->w))
		notify_local(j->w, j->number);
	free(j);
}

/* Hands NUMBER's NOTIFYs to worker I (its mailbox). */
static void notify_post(struct sipd_shared *sh, int i, const char *number)
{
	struct notify_job *j = malloc(sizeof(*j));

	if (!j)
		return;
	j->w = sh->workers[i];
	snprintf(j->number, sizeof(j->number), "%s", number);
	if (mailbox_post(j->w->mb, notify_job_cb, j)) {
		metrics_inc(METRICS_MAILBOX_FULL);
		free(j);
	}
}

void pres_changed(struct sipd *w, const char *number)
{
	struct sipd_shared *sh = w->sh;
	int i;

	notify_local(w, number);
	for (i = 0; sh->workers && i < sh->nworkers; i++)
		if (i != w->id)
			notify_post(sh, i, number);
}

void pres_changed_all(struct sipd_shared *sh, const char *number)
{
	int i;

	for (i = 0; sh->workers && i < sh->nworkers; i++)
		notify_post(sh, i, number);
}

int pres_watched(struct sipd_shared *sh, const char *number)
{
	struct subtab *t = sh->subs;
	struct hmap_node *n;
	uint64_t h = hmap_hash_str(number);
	int watched = 0;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	hmap_for_each_hash(&t->by_num, n, h) {
		if (!strcmp(HMAP_ENTRY(n, struct sub, by_num)->number, number)) {
			watched = 1;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return watched;
}
