/*
 * sms_impl: what the SMS queue (sms.c) and its two gateways (sms_spool.c,
 * sms_http.c) share. Private to server/sms/.
 */
#ifndef DATALINE_SERVER_SMS_IMPL_H
#define DATALINE_SERVER_SMS_IMPL_H

#include <stdint.h>

#include "sms.h"

struct evdns_base;
struct evhttp_connection;
struct event;

enum sms_kind { SMS_SPOOL, SMS_HTTP };

struct sms_gateway {
	struct event_base *base;        /* borrowed */
	struct store *st;               /* borrowed; used from base's thread */
	enum sms_kind kind;
	char *spool_path;               /* owned (spool) */
	char *url_tmpl;                 /* owned (http): "http://..." */
	char *host;                     /* owned (http) */
	int port;
	struct evdns_base *dns;         /* owned, NULL for IP literals */
	struct evhttp_connection *conn; /* owned (http), kept alive */
	struct event *timer;            /* owned: retries and deferred pumps */
	int64_t inflight_id;            /* http request outstanding, or -1 */
	int inflight_attempts;
	char inflight_err[128];         /* error seen by the error callback */
	int backoff_base, backoff_max, timeout;
	int pumping;                    /* guards sms_pump() re-entry */
};

/* Records the outcome of one attempt: error NULL = the gateway took it. */
void sms_delivered(struct sms_gateway *gw, int64_t id, int attempts,
		   const char *error);
/* Asks for sms_pump() from the event loop (not from inside a callback). */
void sms_kick(struct sms_gateway *gw);

/* spool: appends and fsyncs; 0 or -errno, with a message in err. */
int sms_spool_write(const char *path, const char *to, const char *text,
		    char *err, size_t errcap);

/* http: parses the template, sets up the connection. */
int sms_http_init(struct sms_gateway *gw, const char *tmpl);
void sms_http_fini(struct sms_gateway *gw);
/* Starts one GET; the outcome arrives through sms_delivered(). */
int sms_http_start(struct sms_gateway *gw, int64_t id, int attempts,
		   const char *to, const char *text);

#endif
