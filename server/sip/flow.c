/*
 * flow: the flows devices registered over, and whether each is alive
 * (RFC 5626 s.4.4 keep-alives, s.5.2 flow failure). Shared by all workers.
 *
 * A flow is what the server needs to reach a device again: the transport,
 * the worker that owns it, the connection id (TCP/TLS) and the address
 * (UDP: where the device's requests came from, its NAT mapping). The
 * registrar tracks the flow of every binding it makes; every message and
 * keep-alive that arrives on a tracked flow marks it seen.
 *
 * Dead means: the stream connection closed (the kernel's TCP keep-alive
 * and user timeout close one whose link is cut, stream.c), or a UDP flow
 * stayed silent longer than its keep-alive interval plus grace. A UDP
 * device that does not send keep-alives of its own (no RFC 5626 outbound)
 * is pinged by the server with OPTIONS at that interval (flow_sweep; any
 * answer, even an error, shows the device is there); one that does gets
 * Flow-Timer in its 200 and is left to keep the flow up itself. A dead
 * flow's bindings are not used until the device sends again; they expire
 * as usual.
 *
 * Presence (docs/presence.md, "When a device goes offline"): a flow
 * remembers the numbers whose devices registered over it (the last
 * FLOW_NUMBERS), and the watcher set with flowtab_watch() hears of each
 * of them when the flow dies (closed, or found silent by the sweep) or
 * comes back (a message on a dead flow), outside the shard lock.
 *
 * Entries are made only by authenticated REGISTERs (strangers cannot fill
 * the table) and removed once past the last expiry registered over them.
 * Sharded by hash, one mutex per shard; the hot path (flow_seen on each
 * message) is one lookup under one shard's lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipd.h"
#include "../store/store.h"
#include "../core/metrics.h"
#include "dataline/log.h"
#include "dataline/e164.h"
#include "dataline/hmap.h"

#define FLOW_SHARDS 16
/* a UDP flow with server pings is dead after this many unanswered ones */
#define FLOW_PINGS_LOST 2

struct flow_key {
	uint8_t tp;
	uint8_t family;
	uint16_t port;
	uint8_t ip[16];
	uint64_t conn_id;
};

struct flow_ent {
	struct hmap_node node;
	struct flow_key key;
	struct sipd_flow f;
	uint64_t seen_ms;          /* last message or keep-alive */
	uint64_t ping_ms;          /* last server ping sent (0: none) */
	int64_t expires_at;        /* latest binding expiry over it, s */
	uint32_t ka_ms;            /* keep-alive interval */
	unsigned outbound : 1;     /* the device keeps it up (RFC 5626) */
	unsigned dead : 1;
	unsigned pinging : 1;      /* a ping is in flight */
	/* numbers registered over it, newest first ("" = unused) */
	char numbers[FLOW_NUMBERS][E164_MAX];
};

/* A copy of an entry's numbers, to report once the lock is released. */
struct flow_nums {
	char n[FLOW_NUMBERS][E164_MAX];
};

struct flow_shard {
	pthread_mutex_t lock;
	struct hmap map;
};

struct flowtab {
	struct flow_shard shard[FLOW_SHARDS];
	flow_reach_fn reach;       /* flowtab_watch(), or NULL */
	void *reach_arg;
};

/* Tells the watcher of each number in N (no lock held). */
static void flow_report(struct flowtab *t, const struct flow_nums *n)
{
	int i;

	for (i = 0; t->reach && i < FLOW_NUMBERS && n->n[i][0]; i++)
		t->reach(t->reach_arg, n->n[i]);
}

int sipd_flow_of_binding(const struct store_binding *b, struct sipd_flow *f)
{
	const char *hp = strchr(b->received, ':');
	socklen_t alen;

	memset(f, 0, sizeof(*f));
	f->tp = !strcmp(b->transport, "tls") ? SIPD_TLS
		: !strcmp(b->transport, "tcp") ? SIPD_TCP : SIPD_UDP;
	if (!hp || sipd_parse_hostport(hp + 1, &f->addr, &alen))
		return -EINVAL;
	f->conn_id = b->conn_id;
	f->worker = b->worker;
	return 0;
}

int sipd_flow_usable(struct sipd_shared *sh, const struct store_binding *b,
		     struct sipd_flow *out)
{
	struct sipd_flow f;
	int st;

	if (sipd_flow_of_binding(b, &f))
		return -EINVAL;
	st = flow_state(sh->flows, &f, out);
	if (st == FLOW_DEAD)
		return -ENOTCONN;
	if (st == FLOW_UNKNOWN)
		*out = f;
	if (out->worker < 0 || out->worker >= sh->nworkers)
		out->worker = 0;
	return 0;
}

void flowtab_watch(struct flowtab *t, flow_reach_fn fn, void *arg)
{
	t->reach = fn;
	t->reach_arg = arg;
}

static void flow_key_of(const struct sipd_flow *f, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->tp = (uint8_t)f->tp;
	k->family = (uint8_t)f->addr.sa.sa_family;
	if (f->addr.sa.sa_family == AF_INET6) {
		memcpy(k->ip, &f->addr.sin6.sin6_addr, 16);
		k->port = f->addr.sin6.sin6_port;
	} else {
		memcpy(k->ip, &f->addr.sin.sin_addr, 4);
		k->port = f->addr.sin.sin_port;
	}
	k->conn_id = f->conn_id;
}

static struct flow_ent *flow_lookup(struct flowtab *t,
				    const struct sipd_flow *f,
				    struct flow_shard **sh)
{
	struct flow_key k;
	struct hmap_node *n;
	uint64_t h;

	flow_key_of(f, &k);
	h = hmap_hash(&k, sizeof(k));
	*sh = &t->shard[h % FLOW_SHARDS];
	pthread_mutex_lock(&(*sh)->lock);
	hmap_for_each_hash(&(*sh)->map, n, h) {
		struct flow_ent *e = HMAP_ENTRY(n, struct flow_ent, node);
		if (!memcmp(&e->key, &k, sizeof(k)))
			return e;
	}
	return NULL;
}

int flowtab_new(struct flowtab **out)
{
	struct flowtab *t = calloc(1, sizeof(*t));
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < FLOW_SHARDS; i++) {
		pthread_mutex_init(&t->shard[i].lock, NULL);
		if (hmap_init(&t->shard[i].map, 64)) {
			while (i--)
				hmap_destroy(&t->shard[i].map);
			free(t);
			return -ENOMEM;
		}
	}
	*out = t;
	return 0;
}

void flowtab_free(struct flowtab *t)
{
	struct hmap_iter it;
	struct hmap_node *n;
	int i;

	if (!t)
		return;
	for (i = 0; i < FLOW_SHARDS; i++) {
		hmap_for_each(&t->shard[i].map, it, n) {
			hmap_remove(&t->shard[i].map, n);
			free(HMAP_ENTRY(n, struct flow_ent, node));
		}
		hmap_destroy(&t->shard[i].map);
		pthread_mutex_destroy(&t->shard[i].lock);
	}
	free(t);
}

int flow_track(struct flowtab *t, const struct sipd_flow *f,
	       int64_t expires_at, int ka_s, int outbound, uint64_t now_ms)
{
	struct flow_shard *sh;
	struct flow_ent *e = flow_lookup(t, f, &sh);
	int fresh = !e || e->dead;
	struct flow_nums back = { { { 0 } } };

	if (e && e->dead)
		memcpy(back.n, e->numbers, sizeof(back.n));
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			pthread_mutex_unlock(&sh->lock);
			return -ENOMEM;
		}
		flow_key_of(f, &e->key);
		hmap_insert(&sh->map, &e->node,
			    hmap_hash(&e->key, sizeof(e->key)));
	}
	e->f = *f;
	e->seen_ms = now_ms;
	e->dead = 0;
	e->ka_ms = (uint32_t)ka_s * 1000;
	e->outbound = outbound ? 1 : 0;
	if (expires_at > e->expires_at || expires_at == 0)
		e->expires_at = expires_at;
	pthread_mutex_unlock(&sh->lock);
	flow_report(t, &back);
	return fresh;
}

int flow_note_number(struct flowtab *t, const struct sipd_flow *f,
		     const char *number)
{
	struct flow_shard *sh;
	struct flow_ent *e = flow_lookup(t, f, &sh);
	int i, err = -ENOENT;

	if (e && strlen(number) < E164_MAX) {
		for (i = 0; i < FLOW_NUMBERS - 1 && e->numbers[i][0] &&
			    strcmp(e->numbers[i], number); i++)
			;
		/* move it (or the oldest's slot) to the front */
		memmove(e->numbers[1], e->numbers[0],
			(size_t)i * sizeof(e->numbers[0]));
		strcpy(e->numbers[0], number);
		err = 0;
	}
	pthread_mutex_unlock(&sh->lock);
	return err;
}

void flow_seen(struct flowtab *t, const struct sipd_flow *f, uint64_t now_ms)
{
	struct flow_shard *sh;
	struct flow_ent *e = flow_lookup(t, f, &sh);
	struct flow_nums back = { { { 0 } } };

	if (e) {
		if (e->dead)
			memcpy(back.n, e->numbers, sizeof(back.n));
		e->seen_ms = now_ms;
		e->dead = 0;
		/* the owner may have moved (a NAT rebinding lands the same
		 * address on another worker only if the socket set changed) */
		e->f.worker = f->worker;
	}
	pthread_mutex_unlock(&sh->lock);
	flow_report(t, &back);
}

void flow_closed(struct flowtab *t, const struct sipd_flow *f)
{
	struct flow_shard *sh;
	struct flow_ent *e = flow_lookup(t, f, &sh);
	struct flow_nums gone = { { { 0 } } };

	if (e) {
		memcpy(gone.n, e->numbers, sizeof(gone.n));
		hmap_remove(&sh->map, &e->node);
		free(e);
		metrics_inc(METRICS_FLOWS_DEAD);
		log_info("sip: a %s flow closed: dead",
			 f->tp == SIPD_TLS ? "TLS" : "TCP");
	}
	pthread_mutex_unlock(&sh->lock);
	flow_report(t, &gone);
}

int flow_state(struct flowtab *t, const struct sipd_flow *f,
	       struct sipd_flow *owner)
{
	struct flow_shard *sh;
	struct flow_ent *e = flow_lookup(t, f, &sh);
	int rc;

	if (!e)
		rc = f->tp == SIPD_UDP ? FLOW_UNKNOWN : FLOW_DEAD;
	else
		rc = e->dead ? FLOW_DEAD : FLOW_ALIVE;
	if (e && owner)
		*owner = e->f;
	pthread_mutex_unlock(&sh->lock);
	return rc;
}

void flow_ping_result(struct flowtab *t, const struct sipd_flow *f,
		      int answered, uint64_t now_ms)
{
	struct flow_shard *sh;
	struct flow_ent *e = flow_lookup(t, f, &sh);
	struct flow_nums back = { { { 0 } } };

	if (e) {
		e->pinging = 0;
		if (answered) {
			if (e->dead)
				memcpy(back.n, e->numbers, sizeof(back.n));
			e->seen_ms = now_ms;
			e->dead = 0;
		}
	}
	pthread_mutex_unlock(&sh->lock);
	flow_report(t, &back);
}

size_t flow_sweep(struct flowtab *t, int worker, int nworkers,
		  uint64_t now_ms, int64_t now_s, flow_ping_fn ping, void *arg)
{
	struct sipd_flow due[64];
	struct flow_nums *gone = NULL;
	size_t ndue = 0, dead = 0, ngone = 0, i;
	struct hmap_iter it;
	struct hmap_node *n;
	int s;

	/* each worker sweeps its share of the shards */
	for (s = worker; s < FLOW_SHARDS; s += nworkers) {
		struct flow_shard *sh = &t->shard[s];

		pthread_mutex_lock(&sh->lock);
		hmap_for_each(&sh->map, it, n) {
			struct flow_ent *e = HMAP_ENTRY(n, struct flow_ent, node);
			/* NOW_MS was read before the lock: another worker
			 * may have seen the flow since, at a later time */
			uint64_t silent = now_ms > e->seen_ms ?
						  now_ms - e->seen_ms : 0;

			if (e->expires_at && e->expires_at < now_s) {
				hmap_remove(&sh->map, n);
				free(e);
				continue;
			}
			if (e->dead || !e->ka_ms || e->f.tp != SIPD_UDP)
				continue;
			/* outbound: the device pings at 80-100% of Flow-Timer
			 * (RFC 5626 s.4.4.1); server pings: FLOW_PINGS_LOST
			 * intervals without an answer */
			if (silent > (uint64_t)e->ka_ms *
					     (e->outbound ? 1 : FLOW_PINGS_LOST) +
					     e->ka_ms / 2) {
				e->dead = 1;
				dead++;
				if (e->numbers[0][0] && t->reach) {
					struct flow_nums *ng = realloc(gone,
						(ngone + 1) * sizeof(*gone));
					if (ng) {
						gone = ng;
						memcpy(gone[ngone++].n, e->numbers,
						       sizeof(gone->n));
					}
				}
				log_info("sip: a UDP flow went silent for %llu ms "
					 "(keep-alive interval %u ms): dead",
					 (unsigned long long)silent, e->ka_ms);
				continue;
			}
			if (!e->outbound && !e->pinging && ndue < 64 &&
			    silent >= e->ka_ms &&
			    now_ms - e->ping_ms >= e->ka_ms) {
				e->pinging = 1;
				e->ping_ms = now_ms;
				due[ndue++] = e->f;
			}
		}
		pthread_mutex_unlock(&sh->lock);
	}
	for (i = 0; i < ndue; i++)
		ping(arg, &due[i]);
	for (i = 0; i < ngone; i++)
		flow_report(t, &gone[i]);
	free(gone);
	return dead;
}
