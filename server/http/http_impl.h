/*
 * http_impl: what the HTTP API's files share: the server object, the
 * JSON reply helpers (http_api.c) and the registration handlers
 * (http_reg.c). Private to server/http/.
 */
#ifndef DATALINE_SERVER_HTTP_IMPL_H
#define DATALINE_SERVER_HTTP_IMPL_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "client.h"
#include "dataline/sip.h"
#include "http_api.h"

struct evhttp;
struct evhttp_bound_socket;
struct evconnlistener;
struct http_conn;
struct evhttp_request;
struct event;
struct store;
struct sms_gateway;
struct auth_nc;
struct dlimit;

#define HTTP_MAX_SIP_URIS 3
#define HTTP_MAX_LISTENERS 2

/* One evhttp listener with its connection accounting (http_conn.c). */
struct http_listener {
	struct http_api *api;        /* borrowed: the owner */
	struct evhttp *h;            /* owned */
	struct evconnlistener *lev;  /* borrowed: h's bound socket owns it */
	const char *name;            /* "http" or "https" (static) */
	int tls;
	int n_conns;                 /* accepted, not yet freed by evhttp */
	int backoff;                 /* an accept-error pause is running */
	int enabled;                 /* what lev was last told */
	struct event *retry;         /* owned: ends the accept-error pause */
	struct event *sweep;         /* owned: releases closed connections */
	time_t last_log;             /* accept errors are logged once a second */
	unsigned long suppressed;    /* ... and counted in between */
	struct http_conn *conns;     /* owned: connections not yet released */
	struct http_listener *next_listener; /* http_conn.c's registry */
};

struct http_api {
	struct event_base *base;     /* borrowed */
	struct http_api_config cfg;  /* copy; its strings are not used after
					start, except those copied below */
	char *domain;                /* owned */
	char *sip_uris[HTTP_MAX_SIP_URIS]; /* owned */
	int n_sip_uris;
	/* owned: [0] plain HTTP (loopback), [1] HTTPS; either may be NULL */
	struct http_listener *lst[HTTP_MAX_LISTENERS];
	SSL_CTX *ssl_ctx;            /* own reference (SSL_CTX_up_ref) */
	struct store *st;            /* owned: this thread's connection */
	struct sms_gateway *sms;     /* owned */
	struct queue *queue;         /* borrowed: cfg.queue or own_queue */
	struct queue *own_queue;     /* owned when cfg.queue was NULL */
	struct event *gc_timer;      /* owned: expired codes and send log */
	/* contact discovery's digest auth and limits (discover.c) */
	uint8_t nonce_key[SIP_NONCE_KEY_LEN]; /* this API's own, random */
	struct auth_nc *nc;          /* owned: nonce-count replay tracker */
	enum sip_digest_alg algs[2]; /* offered, in challenge order */
	int nalgs;
	struct dlimit *dlim;         /* owned: per-account limits */
};

/* Sends BODY (stolen, may be NULL) as JSON with STATUS and counts it
 * under ROUTE in dataline_http_requests_total. */
void http_reply_json(struct evhttp_request *req, const char *route,
		     int status, json_t *body);
/* {"error": code, "message": msg}, plus the fields of EXTRA (stolen). */
void http_reply_error(struct evhttp_request *req, const char *route,
		      int status, const char *code, const char *msg,
		      json_t *extra);

/* The client's address, for the per-client resend limit. */
void http_client_addr(struct evhttp_request *req, char *buf, size_t cap);

void http_reg_request(struct http_api *api, struct evhttp_request *req);
void http_reg_verify(struct http_api *api, struct evhttp_request *req);
/* POST /v1/contacts/discover (discover.c) */
#define ROUTE_DISCOVER "/v1/contacts/discover"
#define DISCOVER_MAX_NUMBERS 1000
/* Its body bound, above the API's max_body: 1000 numbers in national
 * form with separators fit in about 30 KiB. It is evhttp's own hard
 * limit, which refuses a larger Content-Length before reading the body. */
#define DISCOVER_MAX_BODY (64 * 1024)
void http_discover(struct http_api *api, struct evhttp_request *req);

/* Recounts dataline_accounts / dataline_devices from the store. */
void http_reg_update_gauges(struct http_api *api);

/* Parses "host:port" / "[v6]:port" into host (cap bytes) and port. */
/* 1 if every address HOST resolves to is a loopback address. */
int http_host_is_loopback(const char *host);

/* Takes over L->h's accepting (caps, deadlines, accept errors) once
 * BOUND is listening. 0 or -ENOMEM. */
int http_listener_attach(struct http_listener *l,
			 struct evhttp_bound_socket *bound);
/* Frees L, its evhttp and all of its connections. */
void http_listener_free(struct http_listener *l);

#endif
