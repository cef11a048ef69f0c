/*
 * commit: the durable-commit step under the replies (group commit).
 *
 * A handler that changes durable state opens the write transaction
 * (sipd_write_begin), writes through the worker's store connection, and
 * ends its part (sipd_write_end); while one read batch runs (a UDP read
 * burst, or what one stream read delivered), every handler's writes share
 * that transaction, and every reply the batch produces is held here, in
 * order, until it has committed: a 200 never precedes its durable change.
 * A failed commit drops the held replies (their clients retransmit).
 *
 * What else must follow a transaction (the registrar's in-memory bindings)
 * hangs on hooks (sipd_commit_hook), not on calls from here, so this file
 * knows nothing of what the handlers keep.
 *
 * Writers of all workers queue on one mutex (sh->write_lock) instead of on
 * SQLite's sleeping busy handler.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"
#include "../store/store.h"
#include "dataline/log.h"

/* A reply held until the batch's transaction commits. */
struct sipd_pending {
	struct sipd_pending *next;
	uint64_t t0_us;              /* REGISTER arrival, 0 for others */
	struct sip_tx *tx;           /* borrowed from the table, or NULL */
	struct sipd_peer peer;
	union sipd_addr dest;
	int status;
	size_t len;
	char buf[];
};

int sipd_commit_hold(struct sipd *w, struct sip_tx *tx,
		     const struct sipd_peer *peer, const union sipd_addr *dest,
		     int status, const char *buf, size_t len, uint64_t t0_us)
{
	struct sipd_pending *p = malloc(sizeof(*p) + len);

	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->t0_us = t0_us;
	p->tx = tx;
	p->peer = *peer;
	p->dest = *dest;
	p->status = status;
	p->len = len;
	memcpy(p->buf, buf, len);
	*w->pend_tail = p;
	w->pend_tail = &p->next;
	return 0;
}

void sipd_batch_begin(struct sipd *w)
{
	w->batching = 1;
}

static void pending_flush(struct sipd *w, int send)
{
	struct sipd_pending *p = w->pend, *n;

	for (; p; p = n) {
		n = p->next;
		if (send)
			sipd_reply_out(w, p->tx, &p->peer, &p->dest, p->status,
				       p->buf, p->len, p->t0_us);
		/* a tx whose answer is dropped must not absorb the
		 * client's retransmission, which gets a fresh try */
		else
			sip_tx_free(p->tx);
		free(p);
	}
	w->pend = NULL;
	w->pend_tail = &w->pend;
}

static void hooks_begin(struct sipd_shared *sh)
{
	int i;

	for (i = 0; i < sh->nhooks; i++)
		if (sh->hooks[i].begin)
			sh->hooks[i].begin(sh->hooks[i].arg);
}

static void hooks_end(struct sipd *w, int ok)
{
	int i;

	for (i = 0; i < w->sh->nhooks; i++)
		if (w->sh->hooks[i].end)
			w->sh->hooks[i].end(w->sh->hooks[i].arg, ok, w->store);
}

int sipd_commit_hook_add(struct sipd_shared *sh,
			 const struct sipd_commit_hook *h)
{
	if (sh->nhooks == SIPD_MAX_HOOKS)
		return -ENOSPC;
	sh->hooks[sh->nhooks++] = *h;
	return 0;
}

int sipd_write_begin(struct sipd *w)
{
	int err;

	if (w->txn_open)
		return 0;
	pthread_mutex_lock(&w->sh->write_lock);
	err = store_begin(w->store);
	if (err) {
		pthread_mutex_unlock(&w->sh->write_lock);
		return err;
	}
	w->txn_open = 1;
	hooks_begin(w->sh);
	return 0;
}

static int write_commit(struct sipd *w)
{
	int err;

	if (!w->txn_open)
		return 0;
	err = store_commit(w->store);
	if (err)
		store_rollback(w->store);
	hooks_end(w, err == 0);
	w->txn_open = 0;
	pthread_mutex_unlock(&w->sh->write_lock);
	if (err)
		log_err("sip: commit failed (%d); dropping replies", err);
	pending_flush(w, err == 0);
	return err;
}

int sipd_write_end(struct sipd *w)
{
	return w->batching ? 0 : write_commit(w);
}

void sipd_write_abort(struct sipd *w)
{
	if (w->txn_open) {
		store_rollback(w->store);
		hooks_end(w, 0);
		w->txn_open = 0;
		pthread_mutex_unlock(&w->sh->write_lock);
	}
	pending_flush(w, 0);
}

void sipd_batch_end(struct sipd *w)
{
	w->batching = 0;
	write_commit(w);
}
