/*
 * sipd: one worker's SIP side -- its sockets (SO_REUSEPORT, so every worker
 * binds the same addresses and the kernel spreads the peers), its
 * transaction table and timer, its store connection; plus the state all
 * workers share (sipd_shared) and address helpers. RFC 3261 s.18.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "sipd.h"
#include "call.h"
#include "regcache.h"
#include "../presence/reflector.h"
#include "dataline/hostport.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../core/ratelimit.h"
#include "../store/store.h"
#include "dataline/log.h"


uint64_t sipd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t sipd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

size_t sipd_addr_ip(const union sipd_addr *a, const uint8_t **ip)
{
	if (a->sa.sa_family == AF_INET6) {
		*ip = a->sin6.sin6_addr.s6_addr;
		return 16;
	}
	if (a->sa.sa_family == AF_INET) {
		*ip = (const uint8_t *)&a->sin.sin_addr;
		return 4;
	}
	*ip = NULL;
	return 0;
}


extern const struct sip_tx_ops sipd_tx_ops;

/* "ADDR:PORT", "[V6]:PORT", "*:PORT" or ":PORT": numeric, no DNS. */
int sipd_parse_hostport(const char *s, union sipd_addr *out, socklen_t *len)
{
	struct sockaddr_storage ss;
	struct hostport hp;
	socklen_t n;

	if (!s || hostport_parse(s, strlen(s),
				 HOSTPORT_WILDCARD | HOSTPORT_BARE_V6, 0, &hp) ||
	    hostport_sockaddr(&hp, &ss, &n) || n > sizeof(*out))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(out, &ss, n);
	*len = n;
	return 0;
}

void sipd_flow_of(const struct sipd *w, const struct sipd_peer *peer,
		  struct sipd_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->tp = peer->tp;
	f->worker = w->id;
	f->conn_id = peer->conn_id;
	f->addr = peer->addr;
}

void sipd_addr_str(const union sipd_addr *a, char *ip, size_t iplen,
		   uint16_t *port)
{
	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->sin6.sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(a->sin6.sin6_port);
	} else {
		inet_ntop(AF_INET, &a->sin.sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(a->sin.sin_port);
	}
}

static int is_off(const char *s)
{
	return !s[0] || !strcmp(s, "off");
}

/* "SHA-256,MD5" -> the algorithms in that order (no repeats). */
int sipd_parse_algs(const char *list, enum sip_digest_alg *algs, int *n)
{
	char buf[64], *tok, *save = NULL;
	int k = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		enum sip_digest_alg a;
		if (!strcasecmp(tok, "SHA-256"))
			a = SIP_DIGEST_SHA256;
		else if (!strcasecmp(tok, "MD5"))
			a = SIP_DIGEST_MD5;
		else
			return -EINVAL;
		if (k == 2 || (k == 1 && algs[0] == a))
			return -EINVAL;
		algs[k++] = a;
	}
	if (!k)
		return -EINVAL;
	*n = k;
	return 0;
}

/* Numbers and devices into memory (numbers.c), once, before any loop. */
static int shared_load_numbers(struct sipd_shared *sh)
{
	struct store *st;
	int err = store_open(sh->cfg->db, &st);

	if (err)
		return err;
	err = numbers_load(sh->numbers, st);
	store_close(st);
	if (err)
		log_err("sip: loading the numbers: %s", strerror(-err));
	return err;
}

int sipd_shared_init(struct sipd_shared *sh, const struct config *cfg,
		     SSL_CTX *ssl_ctx)
{
	int err;

	memset(sh, 0, sizeof(*sh));
	sh->cfg = cfg;
	sh->ssl_ctx = ssl_ctx;
	err = sipd_parse_algs(cfg->digest_algorithms, sh->algs, &sh->nalgs);
	if (err) {
		log_err("sip: bad --digest-algorithms '%s' (SHA-256, MD5)",
			cfg->digest_algorithms);
		return err;
	}
	err = sip_nonce_key_new(sh->nonce_key);
	if (err)
		return err;
	err = auth_nc_new((size_t)cfg->nonce_nc_max, &sh->nc);
	if (err)
		return err;
	err = regcache_new(&sh->rc);
	if (!err)
		err = devcache_new(&sh->dc);
	if (err) {
		regcache_free(sh->rc);
		sh->rc = NULL;
		auth_nc_free(sh->nc);
		sh->nc = NULL;
		return err;
	}
	atomic_init(&sh->stream_conns, 0);
	sipd_dispatch_init();
	err = connlimit_new(cfg->max_tcp_conns_per_client, &sh->cl);
	if (!err)
		err = flowtab_new(&sh->flows);
	if (!err)
		err = numbers_new(&sh->numbers);
	if (!err)
		err = ratelimit_new(cfg->text_rate, cfg->text_burst, 1 << 20,
				    &sh->text_rl);
	if (!err)
		err = shared_load_numbers(sh);
	if (!err)
		err = pres_shared_init(sh);
	if (!err && !is_off(cfg->probe_udp))
		err = reflector_new((size_t)cfg->presence_max_publications,
				    (uint32_t)cfg->max_expires, &sh->refl);
	if (!err)
		err = call_relay_start(sh);
	if (err)
		sipd_shared_fini(sh);
	return err;
}

void sipd_shared_fini(struct sipd_shared *sh)
{
	call_relay_stop(sh);
	auth_nc_free(sh->nc);
	sh->nc = NULL;
	regcache_free(sh->rc);
	sh->rc = NULL;
	devcache_free(sh->dc);
	sh->dc = NULL;
	connlimit_free(sh->cl);
	sh->cl = NULL;
	flowtab_free(sh->flows);
	sh->flows = NULL;
	numbers_free(sh->numbers);
	sh->numbers = NULL;
	ratelimit_free(sh->text_rl);
	sh->text_rl = NULL;
	pres_shared_fini(sh);
	reflector_free(sh->refl);
	sh->refl = NULL;
}

/*
 * Workers bind with SO_REUSEPORT, which would also let a SECOND server of
 * the same user bind the same ports and silently take half the traffic.
 * So first try a bind without SO_REUSEPORT: it fails with EADDRINUSE if
 * anything holds the port, and the server refuses to start.
 */
static int probe_port(int type, const char *what, const char *hostport)
{
	union sipd_addr a;
	socklen_t alen;
	int fd, err = 0, one = 1;

	if (sipd_parse_hostport(hostport, &a, &alen)) {
		log_err("sip: bad %s address '%s'", what, hostport);
		return -EINVAL;
	}
	fd = socket(a.sa.sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* TCP: SO_REUSEADDR passes over TIME_WAIT leftovers of a previous
	 * run but still fails on a live listener */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &a.sa, alen) < 0) {
		err = -errno;
		log_err("sip: %s %s: %s (another server running?)", what,
			hostport, strerror(errno));
	}
	close(fd);
	return err;
}

int sipd_check_ports(const struct config *cfg)
{
	int err = 0;

	if (!is_off(cfg->sip_udp))
		err = probe_port(SOCK_DGRAM, "--sip-udp", cfg->sip_udp);
	if (!err && !is_off(cfg->sip_tcp))
		err = probe_port(SOCK_STREAM, "--sip-tcp", cfg->sip_tcp);
	if (!err && !is_off(cfg->sip_tls))
		err = probe_port(SOCK_STREAM, "--sip-tls", cfg->sip_tls);
	return err;
}

/* Each worker sweeps its share of the flows once a second and pings the
 * UDP devices due a server keep-alive (flow.c, ping.c). */
static void flow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sipd *w = arg;
	size_t dead;

	(void)fd;
	(void)what;
	dead = flow_sweep(w->sh->flows, w->id, w->sh->nworkers > 0 ?
			  w->sh->nworkers : 1, sipd_now_ms(),
			  (int64_t)time(NULL), sipd_ping_flow, w);
	if (dead)
		metrics_add(METRICS_FLOWS_DEAD, dead);
}

/*
 * The transaction budget (lib/sip/tx_budget.c), split evenly over the
 * workers: SO_REUSEPORT hashes a client to one worker, so a flood from one
 * address fills one worker's share only. A matching key over 1 KiB (an
 * RFC 2543 key holds the whole top Via) or an answer over 32 KiB is not
 * kept: such a request is answered statelessly.
 */
#define SIPD_TX_MAX_KEY 1024
#define SIPD_TX_MAX_MSG (32 * 1024)

static void sipd_tx_limits(struct sip_tx_table *tx, const struct config *cfg)
{
	size_t n = cfg->workers > 0 ? (size_t)cfg->workers : 1;
	struct sip_tx_limits lim = {
		.max_entries = (size_t)cfg->sip_tx_max / n + 1,
		.max_bytes = (size_t)cfg->sip_tx_max_kb * 1024 / n + 1,
		.max_key = SIPD_TX_MAX_KEY,
		.max_msg = SIPD_TX_MAX_MSG,
	};

	sip_tx_table_set_limits(tx, &lim);
}

/* store_on_commit: a commit on a worker's loop (none expected). */
static void sipd_commit_seen(void *arg)
{
	(void)arg;
	metrics_inc(METRICS_WORKER_COMMITS);
}

int sipd_init(struct sipd *w, struct sipd_shared *sh, int id,
	      struct event_base *base, struct mailbox *mb)
{
	const struct config *cfg = sh->cfg;
	int err;

	memset(w, 0, sizeof(*w));
	w->sh = sh;
	w->id = id;
	w->base = base;
	w->mb = mb;
	w->udp_fd = -1;
	w->rnd_used = sizeof(w->rnd); /* drawn on first use */
	w->rxcap = (size_t)cfg->max_msg_size + 1;
	/* untouched pages of the later slots cost no memory until a burst
	 * fills them */
	w->rxbuf = malloc(SIPD_UDP_RECV_BATCH * (w->rxcap + 1));
	w->txcap = 65536;
	w->txbuf = malloc(w->txcap);
	if (!w->rxbuf || !w->txbuf) {
		err = -ENOMEM;
		goto fail;
	}
	err = store_open(cfg->db, &w->store);
	if (err) {
		log_err("sip: worker %d: store %s: %s", id, cfg->db,
			strerror(-err));
		goto fail;
	}
	err = sip_tx_table_new(&sipd_tx_ops, w, NULL, &w->tx);
	/* requests to devices in a table of their own: strangers' budget
	 * (sipd_tx_limits) never evicts them, and the server-transaction
	 * gauge counts only server transactions */
	if (!err)
		err = sip_tx_table_new(&sipd_tx_ops, w, NULL, &w->txc);
	if (err)
		goto fail;
	err = deliver_init(w);
	if (err)
		goto fail;
	w->spread = calloc((size_t)(sh->nworkers > 0 ? sh->nworkers : 1),
			   sizeof(*w->spread));
	if (!w->spread) {
		err = -ENOMEM;
		goto fail;
	}
	sipd_tx_limits(w->tx, cfg);
	if (!is_off(cfg->sip_udp) && (err = udp_open(w, cfg->sip_udp)))
		goto fail;
	if (!is_off(cfg->sip_tcp) &&
	    (err = stream_listen(w, SIPD_TCP, cfg->sip_tcp)))
		goto fail;
	if (!is_off(cfg->sip_tls) &&
	    (err = stream_listen(w, SIPD_TLS, cfg->sip_tls)))
		goto fail;
	{
		struct timeval tv = { 1, 0 };
		w->flow_timer = event_new(base, -1, EV_PERSIST, flow_cb, w);
		if (!w->flow_timer) {
			err = -ENOMEM;
			goto fail;
		}
		event_add(w->flow_timer, &tv);
	}
	/* checkpoints are the housekeeping thread's (regflush.c) */
	store_autocheckpoint(w->store, 0);
	/* the worker only reads (devices); every write is a writer
	 * thread's: a commit here is a bug the metric shows */
	store_on_commit(w->store, sipd_commit_seen, w);
	err = pres_worker_init(w);
	if (!err)
		err = call_init(w);
	if (err)
		goto fail;
	return 0;
fail:
	sipd_fini(w);
	return err;
}

/* Tears down in reverse order of sipd_init. */
void sipd_fini(struct sipd *w)
{
	call_fini(w);
	pres_worker_fini(w);
	if (w->flow_timer)
		event_free(w->flow_timer);
	w->flow_timer = NULL;
	deliver_fini(w);
	if (w->spread && w->sh) {
		int i;
		for (i = 0; i < w->sh->nworkers; i++)
			free(w->spread[i]);
	}
	free(w->spread);
	w->spread = NULL;
	stream_close_all(w);
	udp_close(w);
	if (w->tx_timer)
		event_free(w->tx_timer);
	w->tx_timer = NULL;
	sipd_txc_abort_all(w);
	if (w->tx)
		metrics_gauge_add(METRICS_SIP_TRANSACTIONS,
				  -(int64_t)w->tx_seen.count);
	sip_tx_table_free(w->tx);
	w->tx = NULL;
	sip_tx_table_free(w->txc);
	w->txc = NULL;
	if (w->store)
		store_close(w->store);
	w->store = NULL;
	free(w->txbuf);
	free(w->rxbuf);
	w->txbuf = w->rxbuf = NULL;
}
