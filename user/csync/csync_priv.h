/*
 * csync_priv: private parts of user/csync: the worker's HTTPS client
 * (csync_http.c) and the error body reader (csync_parse.c).
 */
#ifndef DATALINE_CSYNC_PRIV_H
#define DATALINE_CSYNC_PRIV_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dataline/csync.h"

#define CSYNC_HDR_MAX 8192		/* bytes of an answer's headers */
#define CSYNC_CHAL_MAX 1024		/* a WWW-Authenticate value kept */

/* One answer. */
struct csync_reply {
	int status;			/* 0 when there was none */
	char *body;			/* owned, len bytes + NUL; may be NULL */
	size_t len;
	uint32_t retry_after;		/* Retry-After seconds, 0 if none */
	char chal[CSYNC_CHAL_MAX];	/* 401: the best Digest challenge
					 * (SHA-256 over MD5), "" if none */
};

/*
 * The worker's client: one TLS connection per request (the server closes
 * every one), on the worker's private event_base, answering the digest
 * challenge with the account's credentials (nonce kept, nc counting up).
 */
struct csync_http {
	struct event_base *base;	/* owned, the worker's */
	struct event *cancel_ev;	/* owned: readable CANCEL_FD stops it */
	SSL_CTX *ctx;			/* owned */
	struct agent_trust trust;	/* ctx's verify callback points here;
					 * its strings are a's */
	const struct csync_account *a;	/* borrowed */
	char host[256];
	char path[512];			/* URL path + CSYNC_PATH */
	char hostport[300];
	int port;
	char chal[CSYNC_CHAL_MAX];	/* the challenge in use, "" none */
	uint32_t nc;			/* its last nonce-count */
	int cancelled;
	char pin[AGENT_PIN_LEN];	/* the last server certificate seen */
};

/* CANCEL_FD (may be -1): its becoming readable aborts the requests. */
int csync_http_init(struct csync_http *c, const struct csync_account *a,
		    int cancel_fd);
void csync_http_fini(struct csync_http *c);
/*
 * POSTs BODY to the discovery path, answering a 401 once per challenge
 * (and again after stale=true). 0 and *REP (any HTTP answer, free with
 * csync_reply_free); -ECANCELED, -EPROTO (TLS), -EMSGSIZE (answer too
 * big), -ECONNREFUSED / -ETIMEDOUT (no answer), -ENOMEM.
 */
int csync_http_discover(struct csync_http *c, const char *body,
			struct csync_reply *rep);
void csync_reply_free(struct csync_reply *rep);

/* The "error" member of an answer's JSON into OUT ("" if none). */
void csync_parse_error(const char *body, size_t len, char *out, size_t cap);

#endif
