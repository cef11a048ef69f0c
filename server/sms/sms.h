/*
 * sms: sending the one-time codes by SMS through a gateway, durably.
 *
 * An SMS for the http gateway is first written to the durable queue's
 * "sms" channel (server/queue/queue.h, issue 7), then handed to the
 * gateway; it leaves the queue only when the gateway has accepted it. The
 * spool gateway is tried at once (an fsynced append is delivery) and
 * only an SMS it failed to write is queued. A failure (I/O error,
 * HTTP error status, timeout) is logged, counted
 * (dataline_sms_failures_total) and retried with exponential backoff; a
 * restart resends whatever is still queued; an SMS still failing a day
 * after it was queued expires (logged, dataline_sms_dropped_total).
 * Delivery is therefore at-least-once: a crash between the gateway's
 * acceptance and the queue update resends that one SMS.
 *
 * No SQL runs on the gateway's event loop: queue calls complete on the
 * queue's writer thread, which posts their results to the gateway's
 * mailbox (an eventfd watched by the loop); the loop acts on them.
 *
 * Gateways (the --sms SPEC):
 *   spool:PATH          appends "<ISO-8601 UTC>\t<to>\t<text>\n" to PATH and
 *                       fsyncs it (the embedded default, for operators and
 *                       tests; tabs and newlines in the text become spaces)
 *   http:URL-TEMPLATE   a Kannel-compatible sendsms GET; %to and %text in
 *                       the template are replaced URL-encoded; any 2xx
 *                       status is acceptance. Plain http:// only.
 *
 * Runs on one event_base; every call below from that base's thread.
 */
#ifndef DATALINE_SERVER_SMS_H
#define DATALINE_SERVER_SMS_H

#include <stddef.h>

struct event_base;
struct queue;
struct store;
struct sms_gateway;

/* SPEC NULL means spool:VAR_DIR/sms.spool. Q is borrowed and must
 * outlive the gateway. Returns 0 or -errno (-EINVAL for a malformed spec,
 * -ENOTSUP for https:// templates). Resends what the queue already
 * holds. */
int sms_gateway_new(struct event_base *base, struct queue *q,
		    const char *spec, const char *var_dir,
		    struct sms_gateway **out);
/* Frees the gateway; an SMS in flight stays queued for the next start.
 * Waits for the queue calls it still has outstanding (milliseconds). */
void sms_gateway_free(struct sms_gateway *gw);

/* Sends one SMS durably. The spool gateway writes (and fsyncs) its line
 * before this returns, as it always did; only if that fails is the SMS
 * queued for retries. The http gateway queues it and starts delivering
 * it once it is on disk. 0 if written or if the queue took the request,
 * -errno if not (-EAGAIN: the queue's writer is saturated, try again). A
 * failure to store it later is logged. */
int sms_send(struct sms_gateway *gw, const char *to, const char *text);

/* The same, and cb(arg, err) runs on the gateway's base once the SMS is
 * on disk (err 0) or could not be stored (-errno). Not called when this
 * returns an error; called from sms_gateway_free() if the loop had not
 * handled it yet. */
typedef void (*sms_stored_cb)(void *arg, int err);
int sms_send_cb(struct sms_gateway *gw, const char *to, const char *text,
		sms_stored_cb cb, void *arg);

/* Start-up, before the gateway runs: moves the SMS an older version left
 * in the store (sms_legacy, store schema 3) into the queue, then drops
 * that table. Blocks until the queue has them on disk; a crash half-way
 * repeats it without duplicates (dedup key legacy:ID:CREATED:TO).
 * 0 or -errno (the table is then kept for the next start). */
int sms_migrate_legacy(struct store *st, struct queue *q);

/* Backoff between attempts: base * 2^(attempts-1), capped at max seconds
 * (defaults 1 and 300); the http request timeout (default 10 s). */
void sms_gateway_set_retry(struct sms_gateway *gw, int base_s, int max_s,
			   int timeout_s);

/* Pure helpers, exposed for tests. */
/* Substitutes %to and %text (URL-encoded) into TEMPLATE; malloc'd. */
int sms_http_expand(const char *tmpl, const char *to, const char *text,
		    char **out);
/* Formats one spool line (with '\n') into buf; -ENOSPC if too small. */
int sms_spool_format(char *buf, size_t cap, long long unix_time,
		     const char *to, const char *text, size_t *len_out);

#endif
