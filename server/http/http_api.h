/*
 * http_api: the provisioning HTTP API of dataline-server (JSON over HTTPS,
 * and plain HTTP on loopback only), plus GET /healthz and GET /metrics.
 * Routes and bodies are in docs/protocol.md, "HTTP provisioning API".
 * Runs on libevent's evhttp in the thread of the event_base it is given;
 * it opens its own store connection and drives the SMS gateway (server/sms)
 * on that same base.
 */
#ifndef DATALINE_SERVER_HTTP_API_H
#define DATALINE_SERVER_HTTP_API_H

#include <openssl/ssl.h>
#include <stdint.h>

struct event_base;
struct http_api;
struct regcache;

struct queue;

struct http_api_config {
	const char *http_addr;    /* "127.0.0.1:8080"; NULL or "off": none.
				     Must be a loopback address (else -EPERM) */
	const char *https_addr;   /* "127.0.0.1:8443"; NULL or "off": none */
	SSL_CTX *ssl_ctx;         /* borrowed; required when https_addr set */
	const char *db;           /* store URI (see store_open) */
	const char *var_dir;      /* for the default SMS spool */
	const char *sms;          /* "spool:PATH" | "http:URL-TEMPLATE";
				     NULL: spool:VAR/sms.spool */
	struct queue *queue;      /* borrowed durable queue for the SMS;
				     NULL: the API opens VAR/queue.db itself
				     (and moves the store's old SMS rows) */
	const char *domain;       /* SIP domain = digest realm */
	/* The SIP listeners handed to devices ("127.0.0.1:5060"; NULL or
	   "off" when that transport is disabled). */
	const char *sip_udp, *sip_tcp, *sip_tls;
	int code_ttl;             /* seconds, default 600 */
	int code_max_tries;       /* default 5 */
	int code_resend_interval; /* seconds, default 60 */
	int code_max_per_number_hour; /* default 5 */
	int code_max_per_client_hour; /* default 20 */
	int code_max_per_number_client_hour; /* one client prefix, one number: 3 */
	int sms_max_per_number_day; /* all clients, default 10; one client
				       prefix gets at most half of it */
	int max_devices_per_number; /* default 10; more: 409 too_many_devices */
	int max_body;             /* bytes, default 4096 (larger: 413) */
	/* Connection limits (http_conn.c, docs/decisions.md). */
	int max_conns;            /* per listener, default 1000 */
	int max_conns_per_client; /* per client prefix, default 32 */
	int header_timeout;       /* s from accept to the end of the headers (10) */
	int request_timeout;      /* s from accept to the end of the reply (30) */
	int client_prefix_v4;     /* bits a client is counted by (24) */
	int client_prefix_v6;     /* (64) */
	int metrics_on_https;     /* serve /metrics on HTTPS too (0) */
	/* Called (on the HTTP thread) after a device's commit: the SIP side
	 * learns that its number now has an account. NULL: nobody. */
	void (*on_device_added)(void *arg, const char *number,
				const char *username);
	void *hook_arg;
	/* Contact discovery (discover.c, docs/protocol.md). */
	int discover_on_http;     /* also on the plain HTTP listener (0) */
	int discover_burst;       /* requests at once per account (10) */
	int discover_per_hour;    /* requests refilled per hour (60) */
	int discover_max_numbers_day; /* distinct numbers per account per
					 24 h window (5000) */
	int discover_track_max;   /* hashes kept, all accounts (1000000) */
	const char *default_country_code; /* for national forms; NULL: none */
	const char *digest_algorithms; /* offered, in order; NULL:
					  "SHA-256,MD5" */
	int nonce_ttl;            /* s a digest nonce stays fresh (300) */
	int nonce_nc_max;         /* nonces tracked for replay (65536) */
	struct regcache *regcache; /* borrowed: the registrar's live
				      bindings (locks inside); NULL: read
				      them from the store */
};

/* Fills *cfg with the defaults above (strings NULL). */
void http_api_config_defaults(struct http_api_config *cfg);

/*
 * Binds the listeners and starts serving on BASE. Returns 0 and *out, or
 * -errno: -EPERM plain HTTP on a non-loopback address, -EINVAL a bad
 * address or missing ssl_ctx, -EADDRINUSE etc. from bind, or the store's
 * error. Logs the reason.
 */
int http_api_start(struct event_base *base, const struct http_api_config *cfg,
		   struct http_api **out);
/* Stops listening and frees everything; call from BASE's thread. */
void http_api_free(struct http_api *api);

#endif
