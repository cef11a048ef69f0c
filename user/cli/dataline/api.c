/*
 * api: the provisioning API client (JSON over HTTPS, or plain HTTP to a
 * loopback server) on libevent's evhttp, with OpenSSL through
 * bufferevent_openssl. One request per call, on a private event_base; the
 * TLS trust policy (CA, pin or trust on first use) comes from agent_tls.
 */
#include <arpa/inet.h>
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

#include "cli.h"
#include "dataline/log.h"

struct api_call {
	struct evhttp_connection *conn; /* borrowed */
	int done, status;
	int tls_failed;                 /* the handshake failed */
	long retry_after;
	json_t *resp;                   /* owned until handed out */
	char pin[AGENT_PIN_LEN];
};

static int api_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* Records the server certificate's pin once the handshake is done (evhttp
 * may have reset the connection by the time the request completes). */
static void api_tls_info_cb(const SSL *ssl, int where, int ret)
{
	struct api_call *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if ((where & SSL_CB_HANDSHAKE_DONE) && c)
		agent_tls_peer_pin((SSL *)ssl, c->pin);
}

static void api_done_cb(struct evhttp_request *req, void *arg)
{
	struct api_call *c = arg;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
	struct evbuffer *in;
	const char *ra;
	unsigned long e;

	c->done = 1;
	if (!req || evhttp_request_get_response_code(req) == 0) {
		while (bev && (e = bufferevent_get_openssl_error(bev))) {
			const char *why = ERR_reason_error_string(e);

			c->tls_failed = 1;
			if (why)
				log_err("api: TLS: %s", why);
		}
		goto out;
	}
	c->status = evhttp_request_get_response_code(req);
	ra = evhttp_find_header(evhttp_request_get_input_headers(req), "Retry-After");
	c->retry_after = ra ? strtol(ra, NULL, 10) : 0;
	in = evhttp_request_get_input_buffer(req);
	if (evbuffer_get_length(in) > 0) {
		size_t len = evbuffer_get_length(in);
		const char *body = (const char *)evbuffer_pullup(in, -1);
		c->resp = json_loadb(body, len, 0, NULL);
	}
out:
	event_base_loopbreak(evhttp_connection_get_base(c->conn));
}

int cli_api_post(const char *base_url, const struct agent_trust *trust,
		 const char *path, json_t *body, int *status, json_t **resp,
		 char pin_seen[AGENT_PIN_LEN], long *retry_after)
{
	struct api_call call = { 0 };
	struct evhttp_uri *uri = NULL;
	struct event_base *base = NULL;
	struct bufferevent *bev = NULL;
	struct evhttp_request *req;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	const char *scheme, *host, *upath;
	char full[1024], hostport[300];
	char *text = NULL;
	int port, tls, r;

	uri = evhttp_uri_parse(base_url);
	if (!uri || !(scheme = evhttp_uri_get_scheme(uri)) ||
	    !(host = evhttp_uri_get_host(uri))) {
		log_err("api: bad server URL '%s'", base_url);
		r = -EINVAL;
		goto out;
	}
	tls = strcasecmp(scheme, "https") == 0;
	if (!tls && strcasecmp(scheme, "http") != 0) {
		log_err("api: unsupported scheme '%s' (https:// or http:// to loopback)", scheme);
		r = -EINVAL;
		goto out;
	}
	if (!tls && !api_is_loopback(host)) {
		log_err("api: plain http:// is only allowed to a loopback server; use https://");
		r = -EPERM;
		goto out;
	}
	port = evhttp_uri_get_port(uri);
	if (port < 0)
		port = tls ? 443 : 80;
	upath = evhttp_uri_get_path(uri);
	if (!upath)
		upath = "";
	snprintf(full, sizeof(full), "%.*s%s", (int)strcspn(upath, "?"), upath, path);
	if (strncmp(full, "//", 2) == 0)
		memmove(full, full + 1, strlen(full));
	snprintf(hostport, sizeof(hostport), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
		 host, port);

	base = event_base_new();
	if (!base) {
		r = -ENOMEM;
		goto out;
	}
	if (tls) {
		r = agent_tls_ctx_new(trust, &ctx);
		if (r < 0)
			goto out;
		SSL_CTX_set_app_data(ctx, &call);
		SSL_CTX_set_info_callback(ctx, api_tls_info_cb);
		ssl = SSL_new(ctx);
		if (!ssl || agent_tls_ssl_setup(ssl, host) < 0) {
			SSL_free(ssl);
			r = -ENOMEM;
			goto out;
		}
		bev = bufferevent_openssl_socket_new(base, -1, ssl,
						     BUFFEREVENT_SSL_CONNECTING,
						     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (!bev) {
			SSL_free(ssl);
			r = -ENOMEM;
			goto out;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	/* The connection takes ownership of BEV. */
	call.conn = evhttp_connection_base_bufferevent_new(base, NULL, bev, host,
							   (unsigned short)port);
	bev = NULL;
	if (!call.conn) {
		r = -ENOMEM;
		goto out;
	}
	evhttp_connection_set_timeout(call.conn, 20);
	req = evhttp_request_new(api_done_cb, &call);
	if (!req) {
		r = -ENOMEM;
		goto out;
	}
	text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		evhttp_request_free(req);
		r = -ENOMEM;
		goto out;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", hostport);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Accept",
			  "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	if (evhttp_make_request(call.conn, req, EVHTTP_REQ_POST, full) < 0) {
		r = -EIO;
		goto out;
	}
	log_debug("api: POST %s%s", base_url, path);
	event_base_dispatch(base);
	if (call.tls_failed) {
		log_err("api: TLS handshake with %s failed; trust the server with "
			"--ca FILE, --pin SHA256 or --insecure (trust on first use)", base_url);
		r = -EPROTO;
		goto out;
	}
	if (!call.done || call.status == 0) {
		log_err("api: no answer from %s", base_url);
		r = -ECONNREFUSED;
		goto out;
	}
	*status = call.status;
	*resp = call.resp;
	call.resp = NULL;
	if (pin_seen)
		memcpy(pin_seen, call.pin, AGENT_PIN_LEN);
	if (retry_after)
		*retry_after = call.retry_after;
	r = 0;
out:
	free(text);
	json_decref(call.resp);
	if (call.conn)
		evhttp_connection_free(call.conn);
	if (bev)
		bufferevent_free(bev);
	SSL_CTX_free(ctx);
	if (base)
		event_base_free(base);
	if (uri)
		evhttp_uri_free(uri);
	return r;
}
