/*
 * sms: sending the one-time codes by SMS through a gateway, durably.
 *
 * Every SMS is first written to the store's SMS queue, then handed to the
 * gateway; it leaves the queue only when the gateway has accepted it. A
 * failure (I/O error, HTTP error status, timeout) is logged, counted
 * (dataline_sms_failures_total) and retried with exponential backoff; a
 * restart resends whatever is still queued. Delivery is therefore
 * at-least-once: a crash between the gateway's acceptance and the queue
 * update resends that one SMS.
 *
 * Gateways (the --sms SPEC):
 *   spool:PATH          appends "<ISO-8601 UTC>\t<to>\t<text>\n" to PATH and
 *                       fsyncs it (the embedded default, for operators and
 *                       tests; tabs and newlines in the text become spaces)
 *   http:URL-TEMPLATE   a Kannel-compatible sendsms GET; %to and %text in
 *                       the template are replaced URL-encoded; any 2xx
 *                       status is acceptance. Plain http:// only.
 *
 * Runs on one event_base and uses the store connection it is given from
 * that base's thread only.
 */
#ifndef DATALINE_SERVER_SMS_H
#define DATALINE_SERVER_SMS_H

#include <stddef.h>

struct event_base;
struct store;
struct sms_gateway;

/* SPEC NULL means spool:VAR_DIR/sms.spool. Returns 0 or -errno (-EINVAL
 * for a malformed spec, -ENOTSUP for https:// templates). Resends what
 * the queue already holds. */
int sms_gateway_new(struct event_base *base, struct store *st,
		    const char *spec, const char *var_dir,
		    struct sms_gateway **out);
/* Frees the gateway; an SMS in flight stays queued for the next start. */
void sms_gateway_free(struct sms_gateway *gw);

/* Queues one SMS durably and starts delivering it (the spool gateway
 * writes it before returning). 0 or -errno if it could not be queued. */
int sms_send(struct sms_gateway *gw, const char *to, const char *text);

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
