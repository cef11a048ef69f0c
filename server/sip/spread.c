/*
 * spread: one busy UDP source over every worker.
 *
 * SO_REUSEPORT hashes a datagram to a worker by its addresses, so all the
 * traffic of one source (an edge proxy, a trunk, a load generator, a NAT
 * in front of a whole office) lands on one worker and one core, whatever
 * the others do. So the worker that reads a datagram hands it to the
 * worker a hash of its Call-ID names: every message of one call or
 * registration (and every retransmission, which the transaction layer
 * must see on the same worker) goes to the same worker, and many Call-IDs
 * spread evenly. Finding the Call-ID is a scan of the line starts, far
 * cheaper than the parse and the digest the receiving worker then does.
 *
 * Datagrams for another worker are gathered per worker during one read
 * burst and handed over as one batch through that worker's mailbox, where
 * their answers leave in one sendmmsg, as a burst read there would. STUN keep-alives and datagrams without a Call-ID stay where they
 * were read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"
#include "../core/config.h"
#include "../core/mailbox.h"
#include "../core/metrics.h"
#include "dataline/hmap.h"

#define SPREAD_MAX 64                 /* datagrams per batch */
#define SPREAD_BYTES (128 * 1024)     /* their bytes */

struct spread_batch {
	struct sipd *dst;
	unsigned n;
	size_t used;
	struct {
		struct sipd_peer peer;
		size_t off, len;
	} d[SPREAD_MAX];
	char data[SPREAD_BYTES];
};

int spread_target(const struct sipd *w, const char *buf, size_t len)
{
	const char *v;
	size_t vlen;
	int n = w->sh->nworkers;

	if (n < 2 || !w->sh->cfg->udp_spread ||
	    sip_scan_call_id(buf, len, &v, &vlen))
		return w->id;
	return (int)(hmap_hash(v, vlen) % (uint64_t)n);
}

/* On the receiving worker: the batch is one burst. */
static void spread_run(void *arg)
{
	struct spread_batch *b = arg;
	struct sipd *w = b->dst;
	unsigned i;

	if (sipd_closing(w)) {
		free(b);
		return;
	}
	udp_burst_begin(w);
	for (i = 0; i < b->n; i++)
		sipd_input(w, &b->d[i].peer, b->data + b->d[i].off,
			   b->d[i].len);
	udp_burst_end(w);
	free(b);
}

int spread_add(struct sipd *w, int to, const struct sipd_peer *peer,
	       const char *buf, size_t len)
{
	struct spread_batch *b = w->spread[to];

	if (len + 1 > SPREAD_BYTES)
		return -EMSGSIZE;
	if (b && (b->n == SPREAD_MAX || b->used + len + 1 > SPREAD_BYTES)) {
		spread_flush(w);
		b = NULL;
	}
	if (!b) {
		b = malloc(sizeof(*b));
		if (!b)
			return -ENOMEM;
		b->dst = w->sh->workers[to];
		b->n = 0;
		b->used = 0;
		w->spread[to] = b;
	}
	b->d[b->n].peer = *peer;
	b->d[b->n].off = b->used;
	b->d[b->n].len = len;
	memcpy(b->data + b->used, buf, len);
	b->data[b->used + len] = '\0';
	b->used += len + 1;
	b->n++;
	return 0;
}

void spread_flush(struct sipd *w)
{
	int i;

	for (i = 0; i < w->sh->nworkers; i++) {
		struct spread_batch *b = w->spread[i];
		unsigned n;

		if (!b)
			continue;
		w->spread[i] = NULL;
		n = b->n; /* once posted, b is the other worker's */
		if (mailbox_post(b->dst->mb, spread_run, b)) {
			/* like datagrams lost in the network: the clients
			 * retransmit */
			metrics_add(METRICS_MAILBOX_FULL, n);
			free(b);
		} else {
			metrics_add(METRICS_UDP_SPREAD, n);
		}
	}
}
