/*
 * csync_http: the sync worker's HTTPS client for POST /v1/contacts/discover
 * (docs/protocol.md "Contact discovery"). libevent's evhttp over
 * bufferevent_openssl on the worker's own event_base, so each call may
 * simply run that base until its answer: the daemon's loop is another
 * thread's. TLS trust is the account's (CA file, pinned SHA-256, or trust
 * on first use; agent_tls). HTTPS only: the body is the address book.
 *
 * Authentication is HTTP Digest (RFC 7616) with the device's SIP
 * credentials: the first request goes without, the 401's best challenge
 * (SHA-256 over MD5, qop=auth) is answered, and later requests reuse that
 * nonce with the nonce-count going up until the server says stale=true or
 * refuses it; then the new challenge is answered once more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "csync_priv.h"
#include "dataline/log.h"
#include "dataline/sip.h"

/* One request in flight. */
struct http_req {
	struct csync_http *c;		/* borrowed */
	struct evhttp_connection *conn;	/* borrowed (the caller frees it) */
	struct csync_reply *rep;	/* the caller's */
	int err;			/* set by the error callback */
	int done;
};

static void http_cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct csync_http *c = arg;

	c->cancelled = 1;
	event_base_loopbreak(c->base);
}

/* Notes the server certificate's fingerprint as soon as it is known. */
static void http_ssl_info_cb(const SSL *ssl, int where, int ret)
{
	struct csync_http *c = SSL_get_app_data(ssl);

	if (c && (where & SSL_CB_HANDSHAKE_DONE))
		agent_tls_peer_pin((SSL *)ssl, c->pin);
}

int csync_http_init(struct csync_http *c, const struct csync_account *a,
		    int cancel_fd)
{
	struct evhttp_uri *u = evhttp_uri_parse(a->server);
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	size_t pl;
	int r = -EINVAL;

	memset(c, 0, sizeof(*c));
	c->a = a;
	if (!scheme || !host || !host[0] || strlen(host) >= sizeof(c->host)) {
		log_err("csync: bad server URL '%s'", a->server);
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0) {
		log_err("csync: discovery is HTTPS only, not '%s'", a->server);
		r = -EPROTONOSUPPORT;
		goto out;
	}
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 443;
	path = path ? path : "";
	pl = strlen(path);
	while (pl && path[pl - 1] == '/')
		pl--;
	snprintf(c->path, sizeof(c->path), "%.*s%s", (int)pl, path, CSYNC_PATH);
	snprintf(c->hostport, sizeof(c->hostport),
		 strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, c->port);
	c->base = event_base_new();
	if (!c->base) {
		r = -ENOMEM;
		goto out;
	}
	if (cancel_fd >= 0) {
		c->cancel_ev = event_new(c->base, cancel_fd, EV_READ | EV_PERSIST,
					 http_cancel_cb, c);
		if (!c->cancel_ev || event_add(c->cancel_ev, NULL) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	c->trust.ca_file = a->ca_file[0] ? a->ca_file : NULL;
	c->trust.pin_sha256 = a->pin[0] ? a->pin : NULL;
	c->trust.tofu = a->tofu;
	r = agent_tls_ctx_new(&c->trust, &c->ctx);
out:
	if (u)
		evhttp_uri_free(u);
	if (r < 0)
		csync_http_fini(c);
	return r;
}

void csync_http_fini(struct csync_http *c)
{
	if (c->cancel_ev)
		event_free(c->cancel_ev);
	SSL_CTX_free(c->ctx);
	if (c->base)
		event_base_free(c->base);
	c->cancel_ev = NULL;
	c->ctx = NULL;
	c->base = NULL;
}

void csync_reply_free(struct csync_reply *rep)
{
	free(rep->body);
	rep->body = NULL;
}

static void http_error_cb(enum evhttp_request_error e, void *arg)
{
	struct http_req *q = arg;

	q->err = e == EVREQ_HTTP_TIMEOUT ? -ETIMEDOUT :
		 e == EVREQ_HTTP_DATA_TOO_LONG ? -EMSGSIZE :
		 e == EVREQ_HTTP_INVALID_HEADER ? -EPROTO : -ECONNREFUSED;
}

/* Score of a challenge: SHA-256 before MD5, qop=auth required. */
static int http_chal_score(const char *v)
{
	struct sip_digest_challenge ch;

	if (sip_digest_challenge_decode((struct sip_str){ v, strlen(v) }, &ch) ||
	    !ch.qop_auth)
		return 0;
	return ch.alg == SIP_DIGEST_SHA256 ? 2 : ch.alg == SIP_DIGEST_MD5;
}

/* Status, Retry-After, the best challenge and the body of an answer. */
static int http_take(struct evhttp_request *req, struct csync_reply *rep)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ra = evhttp_find_header(h, "Retry-After");
	struct evkeyval *kv;
	size_t len = evbuffer_get_length(in);
	int best = 0;

	rep->status = evhttp_request_get_response_code(req);
	rep->retry_after = ra ? (uint32_t)strtoul(ra, NULL, 10) : 0;
	for (kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
		int s;

		if (strcasecmp(kv->key, "WWW-Authenticate") != 0 ||
		    strlen(kv->value) >= sizeof(rep->chal))
			continue;
		s = http_chal_score(kv->value);
		if (s > best) {
			best = s;
			snprintf(rep->chal, sizeof(rep->chal), "%s", kv->value);
		}
	}
	if (len > CSYNC_RESP_MAX)
		return -EMSGSIZE;
	rep->body = malloc(len + 1);
	if (!rep->body)
		return -ENOMEM;
	evbuffer_remove(in, rep->body, len);
	rep->body[len] = '\0';
	rep->len = len;
	return 0;
}

static void http_done_cb(struct evhttp_request *req, void *arg)
{
	struct http_req *q = arg;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(q->conn);
	unsigned long e;

	q->done = 1;
	if (req && evhttp_request_get_response_code(req) > 0) {
		int r = http_take(req, q->rep);

		if (r < 0)
			q->err = r;
	} else {
		while (bev && (e = bufferevent_get_openssl_error(bev))) {
			const char *why = ERR_reason_error_string(e);

			/* a socket error (connect refused, reset) comes as
			 * a bare SSL_get_error() code, SSL_ERROR_SYSCALL,
			 * or as an OpenSSL "system" error: no TLS problem */
			if (ERR_GET_LIB(e) == 0 || ERR_SYSTEM_ERROR(e))
				continue;
			if (why)
				log_err("csync: TLS with %s: %s", q->c->hostport,
					why);
			q->err = -EPROTO;
		}
		if (!q->err)
			q->err = -ECONNREFUSED;
	}
	event_base_loopbreak(q->c->base);
}

/* The Authorization value answering C->chal for the next nonce-count. */
static int http_authz(struct csync_http *c, char *out, size_t cap)
{
	struct sip_digest_challenge ch;
	struct sip_buf b;
	char buf[2048];
	const char *pfx = "Authorization: ";
	size_t len;
	int r;

	r = sip_digest_challenge_decode((struct sip_str){ c->chal,
							  strlen(c->chal) }, &ch);
	if (r)
		return r;
	sip_buf_init(&b, buf, sizeof(buf));
	r = sip_digest_authorization_add(&b, NULL, &ch, c->a->username,
					 c->a->password, NULL, "POST", c->path,
					 NULL, ++c->nc);
	if (!r)
		r = sip_buf_finish(&b, &len);
	if (r)
		return r;
	/* the SIP builder writes a header line: keep the value */
	if (len < strlen(pfx) + 2 || len - strlen(pfx) - 2 >= cap)
		return -ENOSPC;
	memcpy(out, buf + strlen(pfx), len - strlen(pfx) - 2);
	out[len - strlen(pfx) - 2] = '\0';
	return 0;
}

/* One POST (with credentials when AUTHZ is not NULL). */
static int http_post(struct csync_http *c, const char *body, const char *authz,
		     struct csync_reply *rep)
{
	struct http_req q = { .c = c, .rep = rep };
	struct evhttp_request *req;
	struct evkeyvalq *oh;
	struct bufferevent *bev;
	SSL *ssl;

	memset(rep, 0, sizeof(*rep));
	if (c->cancelled)
		return -ECANCELED;
	ssl = SSL_new(c->ctx);
	if (!ssl)
		return -ENOMEM;
	SSL_set_app_data(ssl, c);
	SSL_set_info_callback(ssl, http_ssl_info_cb);
	if (agent_tls_ssl_setup(ssl, c->host) < 0) {
		SSL_free(ssl);
		return -EINVAL;
	}
	bev = bufferevent_openssl_socket_new(c->base, -1, ssl,
					     BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE |
					     BEV_OPT_DEFER_CALLBACKS);
	if (!bev) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	/* the connection owns BEV from here */
	q.conn = evhttp_connection_base_bufferevent_new(c->base, NULL, bev,
							c->host,
							(unsigned short)c->port);
	if (!q.conn) {
		bufferevent_free(bev);
		return -ENOMEM;
	}
	evhttp_connection_set_timeout(q.conn, CSYNC_TIMEOUT_S);
	evhttp_connection_set_max_body_size(q.conn, CSYNC_RESP_MAX);
	evhttp_connection_set_max_headers_size(q.conn, CSYNC_HDR_MAX);
	req = evhttp_request_new(http_done_cb, &q);
	if (!req) {
		evhttp_connection_free(q.conn);
		return -ENOMEM;
	}
	evhttp_request_set_error_cb(req, http_error_cb);
	oh = evhttp_request_get_output_headers(req);
	evhttp_add_header(oh, "Host", c->hostport);
	evhttp_add_header(oh, "Content-Type", "application/json");
	evhttp_add_header(oh, "Accept", "application/json");
	evhttp_add_header(oh, "Connection", "close");
	if (authz)
		evhttp_add_header(oh, "Authorization", authz);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	if (evhttp_make_request(q.conn, req, EVHTTP_REQ_POST, c->path) < 0) {
		evhttp_connection_free(q.conn);
		return -EIO;
	}
	event_base_dispatch(c->base);
	evhttp_connection_free(q.conn);	/* cancels a request still open */
	if (!q.done || c->cancelled) {
		csync_reply_free(rep);
		return -ECANCELED;
	}
	if (q.err)
		csync_reply_free(rep);
	return q.err;
}

int csync_http_discover(struct csync_http *c, const char *body,
			struct csync_reply *rep)
{
	char authz[2048];
	int r;

	/* at most twice: with the challenge we hold (or none yet), then,
	 * after a 401, once with the challenge that 401 brought */
	for (int attempt = 0;; attempt++) {
		if (c->chal[0] && (r = http_authz(c, authz, sizeof(authz))) < 0) {
			log_err("csync: cannot answer the server's challenge "
				"(%s)", strerror(-r));
			c->chal[0] = '\0';
			return -EPROTO;
		}
		r = http_post(c, body, c->chal[0] ? authz : NULL, rep);
		/* a 401 right after a fresh challenge: wrong credentials
		 * (the 401 goes back as it is); a nonce we held refused
		 * (stale, or its counts used up) is renewed */
		if (r < 0 || rep->status != 401 || !rep->chal[0] || attempt)
			return r;
		memcpy(c->chal, rep->chal, sizeof(c->chal));
		c->nc = 0;
		csync_reply_free(rep);
	}
}
