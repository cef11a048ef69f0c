/*
 * sms_impl: what the SMS pump (sms.c), its mailbox from the queue's writer
 * thread (sms_mailbox.c) and its two gateways (sms_spool.c, sms_http.c)
 * share. Private to server/sms/.
 */
#ifndef DATALINE_SERVER_SMS_IMPL_H
#define DATALINE_SERVER_SMS_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../queue/queue.h"
#include "sms.h"

struct evdns_base;
struct evhttp_connection;
struct event;

enum sms_kind { SMS_SPOOL, SMS_HTTP };

/* One SMS as the pump holds it between queue_due() and its outcome. */
struct sms_item {
	int64_t id, created;
	int attempts;
	char *to, *text; /* owned */
};

/* What a queue callback posts to the gateway's loop. */
enum sms_msg_kind {
	SMS_MSG_STORED,   /* queue_put done: cb/arg, err */
	SMS_MSG_DUE,      /* queue_due done: items, next_at */
	SMS_MSG_EXPIRED,  /* queue_expire done: items */
	SMS_MSG_ACKED,    /* queue_ack done: id, err */
	SMS_MSG_DEFERRED, /* queue_defer done: id, attempts, next_at */
};

struct sms_msg {
	struct sms_msg *next;           /* mailbox list */
	enum sms_msg_kind kind;
	struct sms_gateway *gw;         /* borrowed */
	int err, attempts;
	int64_t id, next_at;
	sms_stored_cb cb;               /* STORED */
	void *arg;
	char note[64];                  /* STORED: the number, for the log */
	int inline_sent;                /* STORED: the spool took it at once,
					   nothing was queued */
	size_t n;
	struct sms_item *items;         /* owned (DUE, EXPIRED) */
};

/*
 * The pump's state, changed only on the base's thread:
 *   IDLE      nothing asked; a kick or the timer starts a scan
 *   SCANNING  queue_expire + queue_due submitted, waiting for DUE
 *   SENDING   handing the batch to the gateway (http: one at a time);
 *             outcomes are submitted as ack/defer, then back to IDLE and
 *             a new scan (the writer runs calls in order, so the scan
 *             sees them)
 */
enum sms_state { SMS_IDLE, SMS_SCANNING, SMS_SENDING };

struct sms_gateway {
	struct event_base *base;        /* borrowed */
	struct queue *q;                /* borrowed */
	enum sms_kind kind;
	enum sms_state state;
	int again;                      /* a kick arrived while busy */
	struct sms_item batch[8];       /* SENDING: owned copies */
	int nbatch, next;               /* items in batch, next to hand over */

	/* mailbox: filled on the writer thread, drained on base's */
	pthread_mutex_t mb_lock;
	pthread_cond_t mb_idle;         /* outstanding reached 0 */
	struct sms_msg *mb_head, **mb_tail; /* owned messages */
	int outstanding;                /* queue calls without their msg yet */
	int efd;                        /* owned eventfd: "mail arrived" */
	struct event *mb_ev;            /* owned */

	char *spool_path;               /* owned (spool) */
	char *url_tmpl;                 /* owned (http): "http://..." */
	char *host;                     /* owned (http) */
	int port;
	struct evdns_base *dns;         /* owned, NULL for IP literals */
	struct evhttp_connection *conn; /* owned (http), kept alive */
	struct event *timer;            /* owned: retries (next due time) */
	struct event *kick_ev;          /* owned: a pump asked from a callback */
	int64_t inflight_id;            /* http request outstanding, or -1 */
	int inflight_attempts;
	char inflight_err[128];         /* error seen by the error callback */
	int backoff_base, backoff_max, timeout;
};

/* Records the outcome of one attempt: error NULL = the gateway took it. */
void sms_delivered(struct sms_gateway *gw, int64_t id, int attempts,
		   const char *error);
/* Asks for the pump to run from the event loop (not from a callback). */
void sms_kick(struct sms_gateway *gw);

/* mailbox (sms_mailbox.c) */
int sms_mailbox_init(struct sms_gateway *gw);
/* Waits for outstanding queue calls, frees undelivered messages
 * (STORED ones get their cb with -ECANCELED). */
void sms_mailbox_fini(struct sms_gateway *gw);
/* A new message for a queue call about to be submitted (outstanding + 1);
 * sms_msg_cancel() if the submission failed. */
struct sms_msg *sms_msg_new(struct sms_gateway *gw, enum sms_msg_kind kind);
void sms_msg_cancel(struct sms_msg *m);
/* The queue callback for every call: copies the result into the message
 * and posts it (writer thread). */
void sms_msg_post_cb(void *arg, const struct queue_result *res);
/* Handles one message on the base's thread (sms.c). */
void sms_msg_handle(struct sms_gateway *gw, struct sms_msg *m);
void sms_msg_free(struct sms_msg *m);
void sms_items_free(struct sms_item *items, size_t n);

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
