/*
 * dataline-server: SIP registrar over UDP, TCP and TLS (RFC 3261, 3581,
 * 5626 keep-alive, digest per RFC 8760) and the HTTPS provisioning API that
 * turns a phone number + SMS code into SIP credentials (issue 3).
 *
 * Threads: the main thread runs one event_base with the signals and the
 * HTTP API; N worker threads (--workers, default one per CPU) each run
 * their own event_base with their own SO_REUSEPORT SIP sockets.
 * A writer thread owns the durable queue (--queue-db, server/queue/): SMS
 * codes now, texts later; no event loop waits on its disk.
 * Start-up: config -> log -> SIP ports free? -> var dir -> TLS context ->
 * durable queue -> store migration (old SMS rows moved into the queue) ->
 * shared SIP state -> HTTP API -> workers; shutdown (SIGTERM/SIGINT) tears
 * down in the reverse order. SIGHUP reopens the log file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/config.h"
#include "core/fdbudget.h"
#include "core/metrics.h"
#include "core/tls.h"
#include "core/worker.h"
#include "sip/sipd.h"
#include "http/http_api.h"
#include "queue/queue.h"
#include "sms/sms.h"
#include "store/store.h"
#include "dataline/log.h"

static struct config cfg;
static struct queue *queue; /* owned: the durable queue */

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	if (sig == SIGHUP) {
		if (log_reopen() == 0)
			log_info("log reopened");
		return;
	}
	log_info("signal %d: shutting down", (int)sig);
	event_base_loopbreak(base);
}

static int is_off(const char *s)
{
	return !s[0] || !strcmp(s, "off");
}

/* Fits --max-http-conns and --max-tcp-conns into the descriptor limit
 * (server/core/fdbudget.h); shrinks them with a warning if they do not. */
static int fd_budget(void)
{
	struct fdbudget b;
	int nhttp = !is_off(cfg.http) + !is_off(cfg.https);
	int err = fdbudget_setup(cfg.workers, nhttp, cfg.max_http_conns,
				 cfg.max_tcp_conns, &b);

	if (err) {
		log_err("descriptor budget: %s (raise ulimit -n)", strerror(-err));
		return err;
	}
	if (b.clamped)
		log_warn("descriptor budget: open-file limit %ld, %ld kept for "
			 "the process: max-http-conns %d -> %d per listener, "
			 "max-tcp-conns %d -> %d (raise ulimit -n to keep them)",
			 b.limit, b.reserve, cfg.max_http_conns, b.http_conns,
			 cfg.max_tcp_conns, b.sip_conns);
	else
		log_info("descriptor budget: open-file limit %ld: %d HTTP "
			 "connections per listener, %d SIP TCP/TLS, %ld kept",
			 b.limit, b.http_conns, b.sip_conns, b.reserve);
	cfg.max_http_conns = b.http_conns;
	cfg.max_tcp_conns = b.sip_conns;
	return 0;
}

/* Opens the durable queue (its writer thread starts here). */
static int queue_prepare(void)
{
	struct queue_config qc;
	int err;

	queue_config_defaults(&qc);
	qc.path = cfg.queue_db;
	qc.expiry_s = (int64_t)cfg.text_expiry_days * 86400;
	qc.max_per_recipient = cfg.queue_max_per_recipient;
	qc.max_body = (size_t)cfg.queue_max_body;
	err = queue_open(&qc, &queue);
	if (err)
		log_err("queue %s: %s", cfg.queue_db, strerror(-err));
	return err;
}

/* Migrates the schema once before anyone else opens the file, moves the
 * SMS an older version left queued in it into the durable queue, and sets
 * the gauges that describe what is already there. */
static int store_prepare(void)
{
	struct store *st;
	uint64_t n;
	int err = store_open(cfg.db, &st);

	if (err) {
		log_err("store %s: %s", cfg.db, strerror(-err));
		return err;
	}
	if (store_count_accounts(st, &n) == 0)
		metrics_gauge_set(METRICS_ACCOUNTS, (int64_t)n);
	if (store_count_devices(st, &n) == 0)
		metrics_gauge_set(METRICS_DEVICES, (int64_t)n);
	/* a failure keeps the old rows for the next start: not fatal */
	sms_migrate_legacy(st, queue);
	store_close(st);
	return 0;
}

/* The HTTP API committed a device: the SIP side may now text its number. */
static void device_added(void *arg, const char *number, const char *username)
{
	struct sipd_shared *sh = arg;

	numbers_add(sh->numbers, number, username);
}

int main(int argc, char **argv)
{
	struct event_base *base = NULL;
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	SSL_CTX *ssl_ctx = NULL;
	struct sipd_shared sh;
	struct http_api_config hc;
	struct http_api *api = NULL;
	struct worker *workers = NULL;
	struct sipd *sips = NULL, **sipp = NULL;
	enum log_level lvl;
	int i, nstarted = 0, err, shared = 0, rc = 1;

	err = config_from_args(&cfg, argc, argv);
	if (err)
		return err > 0 ? 0 : 2;
	config_finish(&cfg);
	if (log_parse_level(cfg.log_level, &lvl)) {
		fprintf(stderr, "bad --log-level '%s'\n", cfg.log_level);
		return 2;
	}
	log_set_level(lvl);
	if (cfg.log_file[0] && (err = log_open(cfg.log_file))) {
		fprintf(stderr, "log file %s: %s\n", cfg.log_file,
			strerror(-err));
		return 1;
	}
	if (sipd_check_ports(&cfg))
		goto out;
	if (mkdir(cfg.var_dir, 0750) != 0 && errno != EEXIST) {
		log_err("var dir %s: %s", cfg.var_dir, strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0) {
		log_err("libevent without pthreads");
		goto out;
	}
	if (!is_off(cfg.sip_tls) || !is_off(cfg.https)) {
		err = tls_server_ctx_new_for(cfg.tls_cert, cfg.tls_key,
					     cfg.var_dir, cfg.domain, &ssl_ctx);
		if (err) {
			log_err("tls: cannot set up the certificate (%s)",
				strerror(-err));
			goto out;
		}
	}
	if (queue_prepare() || store_prepare() || fd_budget())
		goto out;

	base = event_base_new();
	if (!base)
		goto out;
	ev_term = evsignal_new(base, SIGTERM, signal_cb, base);
	ev_int = evsignal_new(base, SIGINT, signal_cb, base);
	ev_hup = evsignal_new(base, SIGHUP, signal_cb, base);
	if (!ev_term || !ev_int || !ev_hup || evsignal_add(ev_term, NULL) ||
	    evsignal_add(ev_int, NULL) || evsignal_add(ev_hup, NULL))
		goto out;

	if (sipd_shared_init(&sh, &cfg, ssl_ctx))
		goto out;
	shared = 1;
	sh.queue = queue;

	http_api_config_defaults(&hc);
	hc.http_addr = cfg.http;
	hc.https_addr = cfg.https;
	hc.ssl_ctx = ssl_ctx;
	hc.db = cfg.db;
	hc.var_dir = cfg.var_dir;
	hc.sms = cfg.sms;
	hc.queue = queue;
	hc.on_device_added = device_added;
	hc.hook_arg = &sh;
	hc.domain = cfg.domain;
	hc.sip_udp = cfg.sip_udp;
	hc.sip_tcp = cfg.sip_tcp;
	hc.sip_tls = cfg.sip_tls;
	hc.code_ttl = cfg.code_ttl;
	hc.code_max_tries = cfg.code_max_tries;
	hc.code_resend_interval = cfg.code_resend_interval;
	hc.code_max_per_number_hour = cfg.code_max_per_number_hour;
	hc.code_max_per_client_hour = cfg.code_max_per_client_hour;
	hc.code_max_per_number_client_hour = cfg.code_max_per_number_client_hour;
	hc.sms_max_per_number_day = cfg.sms_max_per_number_day;
	hc.max_devices_per_number = cfg.max_devices_per_number;
	hc.max_conns = cfg.max_http_conns;
	hc.max_conns_per_client = cfg.max_http_conns_per_client;
	hc.header_timeout = cfg.http_header_timeout;
	hc.request_timeout = cfg.http_request_timeout;
	hc.client_prefix_v4 = cfg.client_prefix_v4;
	hc.client_prefix_v6 = cfg.client_prefix_v6;
	hc.metrics_on_https = cfg.metrics_on_https;
	hc.discover_on_http = cfg.discover_on_http;
	hc.discover_burst = cfg.discover_burst;
	hc.discover_per_hour = cfg.discover_per_hour;
	hc.discover_max_numbers_day = cfg.discover_max_numbers_day;
	hc.discover_track_max = cfg.discover_track_max;
	hc.default_country_code = cfg.default_country_code;
	hc.digest_algorithms = cfg.digest_algorithms;
	hc.nonce_ttl = cfg.nonce_ttl;
	/* the one thing of the SIP side the HTTP API reads: whether a
	 * number has a live binding (contact discovery's "voice") */
	hc.regcache = sh.rc;
	if (!is_off(cfg.http) || !is_off(cfg.https)) {
		err = http_api_start(base, &hc, &api);
		if (err) {
			log_err("http api: %s", strerror(-err));
			goto out;
		}
	}

	workers = calloc((size_t)cfg.workers, sizeof(*workers));
	sips = calloc((size_t)cfg.workers, sizeof(*sips));
	sipp = calloc((size_t)cfg.workers, sizeof(*sipp));
	if (!workers || !sips || !sipp)
		goto out;
	/* every worker's SIP side exists (and knows the others) before any
	 * loop runs, so a worker may hand work to any other from the start */
	for (i = 0; i < cfg.workers; i++)
		sipp[i] = &sips[i];
	sh.workers = sipp;
	sh.nworkers = cfg.workers;
	for (i = 0; i < cfg.workers; i++) {
		err = worker_init(&workers[i], i);
		if (!err) {
			err = sipd_init(&sips[i], &sh, i, workers[i].base,
					workers[i].mb);
			if (err)
				worker_fini(&workers[i]);
		}
		if (err) {
			log_err("worker %d: %s", i, strerror(-err));
			goto out;
		}
		nstarted++;
	}
	for (i = 0; i < cfg.workers; i++) {
		err = worker_run(&workers[i]);
		if (err) {
			log_err("worker %d: %s", i, strerror(-err));
			goto out;
		}
	}
	log_info("dataline-server up: domain %s, %d workers; sip udp %s, "
		 "tcp %s, tls %s; http %s, https %s; db %s; queue %s; sms %s",
		 cfg.domain, cfg.workers, cfg.sip_udp, cfg.sip_tcp,
		 cfg.sip_tls, cfg.http, cfg.https, cfg.db, cfg.queue_db, cfg.sms);

	event_base_dispatch(base);
	rc = 0;
out:
	/* reverse order of creation */
	for (i = nstarted - 1; i >= 0; i--)
		worker_stop(&workers[i]);
	for (i = nstarted - 1; i >= 0; i--) {
		sipd_fini(&sips[i]);
		worker_fini(&workers[i]);
	}
	free(sipp);
	free(sips);
	free(workers);
	if (api)
		http_api_free(api);
	if (shared)
		sipd_shared_fini(&sh);
	queue_close(queue); /* after its users; runs what they submitted */
	if (ev_hup)
		event_free(ev_hup);
	if (ev_int)
		event_free(ev_int);
	if (ev_term)
		event_free(ev_term);
	if (base)
		event_base_free(base);
	SSL_CTX_free(ssl_ctx);
	if (rc == 0)
		log_info("dataline-server stopped");
	log_close();
	return rc;
}
