/*
 * http_api: the provisioning API's server side on libevent's evhttp:
 * listeners (HTTPS through bufferevent_openssl; plain HTTP only on
 * loopback addresses), the route table, JSON replies, /healthz and
 * /metrics (Prometheus text format 0.0.4). HTTP/1.1 per RFC 9110/9112;
 * TLS per RFC 8446/5246 through server/core/tls.
 *
 * Every request ends in exactly one reply: the dispatcher answers 404,
 * 405 and 413 itself and every handler's paths end in http_reply_json()
 * or http_reply_error(), which also count the request in /metrics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "../core/metrics.h"
#include "../queue/queue.h"
#include "../sms/sms.h"
#include "../sip/sipd.h"
#include "../store/store.h"
#include "dataline/e164.h"
#include "dataline/hostport.h"
#include "dataline/log.h"
#include "discover_limit.h"
#include "http_impl.h"

/* evhttp's own hard limits, beyond which it drops/answers by itself; the
 * API's JSON 413 (cfg.max_body) is far below them. The discovery route's
 * bound is this one, so evhttp enforces it before reading the body. */
#define HTTP_HARD_MAX_BODY DISCOVER_MAX_BODY
#define HTTP_MAX_HEADERS (8 * 1024)
#define HTTP_TIMEOUT_S 15
#define HTTP_GC_INTERVAL_S 60
/* expired codes are kept this long so a late verify gets 410, not 404 */
#define HTTP_CODE_GRACE_S 3600

static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 410: return "Gone";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

static void http_send(struct evhttp_request *req, const char *route,
		      int status, const char *ctype, const char *body,
		      size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	/* one request per connection: its deadlines are the request's
	 * (http_conn.c) */
	evhttp_add_header(h, "Connection", "close");
	if (buf && body)
		evbuffer_add(buf, body, len);
	evhttp_send_reply(req, status, http_reason(status), buf);
	if (buf)
		evbuffer_free(buf);
	metrics_http_request(route, status);
}

void http_reply_json(struct evhttp_request *req, const char *route,
		     int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;

	if (body && !s) {
		json_decref(body);
		http_send(req, route, 500, "application/json",
			  "{\"error\":\"internal\"}", 20);
		return;
	}
	http_send(req, route, status, "application/json", s ? s : "",
		  s ? strlen(s) : 0);
	free(s);
	json_decref(body);
}

void http_reply_error(struct evhttp_request *req, const char *route,
		      int status, const char *code, const char *msg,
		      json_t *extra)
{
	json_t *o = json_pack("{s:s, s:s}", "error", code, "message", msg);

	if (o && extra)
		json_object_update(o, extra);
	json_decref(extra);
	http_reply_json(req, route, status, o);
}

void http_client_addr(struct evhttp_request *req, char *buf, size_t cap)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (c)
		evhttp_connection_get_peer(c, &addr, &port);
	snprintf(buf, cap, "%s", addr ? addr : "unknown");
}

/* ---------------------------------------------------------- routes */

static void http_healthz(struct http_api *api, struct evhttp_request *req)
{
	http_reply_json(req, "/healthz", 200, json_pack("{s:s}", "status", "ok"));
}

static void http_metrics(struct http_api *api, struct evhttp_request *req)
{
	char *text = NULL;
	size_t len = 0;

	if (metrics_render(&text, &len) != 0) {
		http_reply_error(req, "/metrics", 500, "internal",
				 "cannot render metrics", NULL);
		return;
	}
	http_send(req, "/metrics", 200, "text/plain; version=0.0.4", text, len);
	free(text);
}

struct http_route {
	const char *path;
	enum evhttp_cmd_type method;
	const char *allow;
	void (*handler)(struct http_api *api, struct evhttp_request *req);
	int max_body;   /* bytes; 0: the API's max_body */
};

static const struct http_route http_routes[] = {
	{ "/v1/registrations", EVHTTP_REQ_POST, "POST", http_reg_request, 0 },
	{ "/v1/registrations/verify", EVHTTP_REQ_POST, "POST", http_reg_verify, 0 },
	{ "/healthz", EVHTTP_REQ_GET, "GET", http_healthz, 0 },
	{ "/metrics", EVHTTP_REQ_GET, "GET", http_metrics, 0 },
	{ ROUTE_DISCOVER, EVHTTP_REQ_POST, "POST", http_discover,
	  DISCOVER_MAX_BODY },
};

/*
 * Request smuggling (RFC 9112 s.6.3): evhttp frames the body by the first
 * Content-Length and ignores any other, and lets Transfer-Encoding win
 * over Content-Length. A proxy in front may pick the other one, so a
 * request with Content-Length values that differ, or with both headers,
 * is refused and its connection closed (every reply closes it).
 */
static int http_framing_ambiguous(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *cl = NULL;
	struct evkeyval *kv;

	if (evhttp_find_header(h, "Transfer-Encoding") &&
	    evhttp_find_header(h, "Content-Length"))
		return 1;
	TAILQ_FOREACH(kv, h, next) {
		if (strcasecmp(kv->key, "Content-Length") != 0)
			continue;
		if (cl && strcmp(cl, kv->value) != 0)
			return 1;
		cl = kv->value;
	}
	return 0;
}

/* /metrics is for the operator: on the loopback HTTP listener, and on the
 * public HTTPS one only when --metrics-on-https says so. */
static int http_route_hidden(struct http_api *api, struct evhttp_request *req,
			     const struct http_route *r)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);

	return r->handler == http_metrics && !api->cfg.metrics_on_https &&
	       api->lst[1] && c && evhttp_connection_get_server(c) == api->lst[1]->h;
}

static void http_dispatch_cb(struct evhttp_request *req, void *arg)
{
	struct http_api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const struct http_route *r = NULL;
	size_t body;

	if (http_framing_ambiguous(req)) {
		metrics_inc(METRICS_HTTP_DUP_LENGTH);
		http_reply_error(req, "other", 400, "bad_framing",
				 "conflicting Content-Length/Transfer-Encoding",
				 NULL);
		return;
	}
	for (size_t i = 0; path && i < sizeof(http_routes) / sizeof(http_routes[0]); i++)
		if (strcmp(path, http_routes[i].path) == 0)
			r = &http_routes[i];
	if (r && http_route_hidden(api, req, r))
		r = NULL;
	if (!r) {
		http_reply_error(req, "other", 404, "not_found", "no such route", NULL);
		return;
	}
	if (evhttp_request_get_command(req) != r->method) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  r->allow);
		http_reply_error(req, r->path, 405, "method_not_allowed",
				 "method not allowed on this route", NULL);
		return;
	}
	body = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	if (body > (size_t)(r->max_body ? r->max_body : api->cfg.max_body)) {
		metrics_inc(METRICS_HTTP_BODY_TOO_LARGE);
		http_reply_error(req, r->path, 413, "body_too_large",
				 "request body too large", NULL);
		return;
	}
	r->handler(api, req);
}

/* ---------------------------------------------------------- listeners */

int http_host_is_loopback(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int loop = 1;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)ai->ai_addr;

			if ((ntohl(a->sin_addr.s_addr) >> 24) != 127)
				loop = 0;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)ai->ai_addr;

			if (!IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
				loop = 0;
		} else {
			loop = 0;
		}
	}
	freeaddrinfo(res);
	return loop;
}

static int http_listen(struct http_api *api, const char *spec, int tls,
		       struct http_listener **out)
{
	struct evhttp_bound_socket *bound;
	struct http_listener *l;
	struct hostport hp;
	char host[256];
	int port, err;

	/* a host and a port, IPv6 in brackets: evhttp resolves the host */
	err = hostport_parse(spec, strlen(spec), 0, 0, &hp);
	if (!err)
		err = hostport_host(&hp, host, sizeof(host));
	if (err) {
		log_err("http: bad address '%s' (want ADDR:PORT)", spec);
		return err;
	}
	port = hp.port;
	if (!tls && !http_host_is_loopback(host)) {
		log_err("http: refusing plain HTTP on non-loopback address %s; "
			"use --https for other addresses", spec);
		return -EPERM;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->h = evhttp_new(api->base))) {
		free(l);
		return -ENOMEM;
	}
	l->api = api;
	l->tls = tls;
	l->name = tls ? "https" : "http";
	evhttp_set_gencb(l->h, http_dispatch_cb, api);
	evhttp_set_timeout(l->h, HTTP_TIMEOUT_S);
	evhttp_set_max_body_size(l->h, HTTP_HARD_MAX_BODY);
	evhttp_set_max_headers_size(l->h, HTTP_MAX_HEADERS);
	/* every method reaches the dispatcher, which answers 405 itself */
	evhttp_set_allowed_methods(l->h, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
				   EVHTTP_REQ_PATCH);
	errno = 0;
	bound = evhttp_bind_socket_with_handle(l->h, host, (ev_uint16_t)port);
	if (!bound) {
		err = errno ? -errno : -EADDRNOTAVAIL;
		log_err("http: cannot listen on %s (%s): %s", spec, l->name,
			strerror(-err));
		http_listener_free(l);
		return err;
	}
	err = http_listener_attach(l, bound);
	if (err) {
		http_listener_free(l);
		return err;
	}
	log_info("http: %s listening on %s (at most %d connections, %d per "
		 "client /%d or /%d)", l->name, spec, api->cfg.max_conns,
		 api->cfg.max_conns_per_client, api->cfg.client_prefix_v4,
		 api->cfg.client_prefix_v6);
	*out = l;
	return 0;
}

static int http_enabled(const char *spec)
{
	return spec && *spec && strcmp(spec, "off") != 0;
}

/* The SIP URI handed to devices for one listener. A wildcard bind
 * address is replaced by the domain, which clients can resolve. */
static int http_add_sip_uri(struct http_api *api, const char *spec,
			    const char *scheme, const char *transport)
{
	char host[256], *uri;
	struct hostport hp;
	int port, v6;
	const char *h;

	if (!http_enabled(spec))
		return 0;
	/* what the SIP side accepts for the same option (sipd.c) */
	if (hostport_parse(spec, strlen(spec),
			   HOSTPORT_WILDCARD | HOSTPORT_BARE_V6, 0, &hp) ||
	    hostport_host(&hp, host, sizeof(host))) {
		log_err("http: bad SIP listener address '%s'", spec);
		return -EINVAL;
	}
	port = hp.port;
	h = hp.wildcard || strcmp(host, "0.0.0.0") == 0 ||
		    strcmp(host, "::") == 0 ? api->domain : host;
	v6 = strchr(h, ':') != NULL;
	if (asprintf(&uri, "%s:%s%s%s:%d;transport=%s", scheme, v6 ? "[" : "",
		     h, v6 ? "]" : "", port, transport) < 0)
		return -ENOMEM;
	api->sip_uris[api->n_sip_uris++] = uri;
	return 0;
}

static void http_gc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_api *api = arg;
	int64_t now = (int64_t)time(NULL);
	/* the send log is kept for the daily window */
	int err = store_codes_gc(api->st, now - HTTP_CODE_GRACE_S, now - 86400);

	if (err)
		log_warn("http: code cleanup failed: %s", strerror(-err));
	dlimit_gc(api->dlim, now * 1000);
}

/* Contact discovery's own state: nonce key, replay tracker, limits. */
static int http_discover_setup(struct http_api *api)
{
	const struct http_api_config *c = &api->cfg;
	struct dlimit_config dc = {
		.burst = c->discover_burst,
		.per_hour = c->discover_per_hour,
		.max_numbers_day = c->discover_max_numbers_day,
		.track_max = c->discover_track_max > 0
				     ? (size_t)c->discover_track_max : 0,
	};
	int err;

	if (c->default_country_code && *c->default_country_code &&
	    !e164_country_code_valid(c->default_country_code)) {
		log_err("http: --default-country-code wants 1-3 digits, not "
			"0-led ('%s')", c->default_country_code);
		return -EINVAL;
	}
	if (sipd_parse_algs(c->digest_algorithms ? c->digest_algorithms
						 : "SHA-256,MD5",
			    api->algs, &api->nalgs) ||
	    c->nonce_ttl <= 0 || c->nonce_nc_max <= 0) {
		log_err("http: bad digest settings for contact discovery");
		return -EINVAL;
	}
	err = dlimit_new(&dc, &api->dlim);
	if (err) {
		log_err("http: discovery limits: %s (burst, per-hour and the "
			"daily cap >= 1, track-max >= the daily cap)",
			strerror(-err));
		return err;
	}
	if (sip_nonce_key_new(api->nonce_key))
		return -EIO;
	return auth_nc_new((size_t)c->nonce_nc_max, &api->nc);
}

void http_api_config_defaults(struct http_api_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->code_ttl = 600;
	cfg->code_max_tries = 5;
	cfg->code_resend_interval = 60;
	cfg->code_max_per_number_hour = 5;
	cfg->code_max_per_client_hour = 20;
	cfg->code_max_per_number_client_hour = 3;
	cfg->sms_max_per_number_day = 10;
	cfg->max_devices_per_number = 10;
	cfg->max_body = 4096;
	cfg->max_conns = 1000;
	cfg->max_conns_per_client = 32;
	cfg->header_timeout = 10;
	cfg->request_timeout = 30;
	cfg->client_prefix_v4 = 24;
	cfg->client_prefix_v6 = 64;
	cfg->discover_burst = 10;
	cfg->discover_per_hour = 60;
	cfg->discover_max_numbers_day = 5000;
	cfg->discover_track_max = 1000000;
	cfg->nonce_ttl = 300;
	cfg->nonce_nc_max = 65536;
}

/* No queue given (tests/tools/dl_httpd): VAR/queue.db with the defaults,
 * and the SMS an older version left in the store moved into it. */
static int http_open_queue(struct http_api *api,
			   const struct http_api_config *cfg)
{
	struct queue_config qc;
	char path[512];
	int err;

	snprintf(path, sizeof(path), "%s/queue.db",
		 cfg->var_dir && *cfg->var_dir ? cfg->var_dir : ".");
	queue_config_defaults(&qc);
	qc.path = path;
	err = queue_open(&qc, &api->own_queue);
	if (err) {
		log_err("http: cannot open the queue %s: %s", path, strerror(-err));
		return err;
	}
	api->queue = api->own_queue;
	return sms_migrate_legacy(api->st, api->queue);
}

int http_api_start(struct event_base *base, const struct http_api_config *cfg,
		   struct http_api **out)
{
	struct timeval gc = { HTTP_GC_INTERVAL_S, 0 };
	struct http_api *api;
	char dbbuf[512];
	const char *db;
	int err;

	if (!base || !cfg || !out)
		return -EINVAL;
	if (http_enabled(cfg->https_addr) && !cfg->ssl_ctx) {
		log_err("http: --https needs a TLS context");
		return -EINVAL;
	}
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->base = base;
	api->cfg = *cfg;
	if (api->cfg.code_ttl <= 0 || api->cfg.code_max_tries <= 0 ||
	    api->cfg.code_resend_interval < 0 || api->cfg.max_body <= 0 ||
	    api->cfg.code_max_per_number_hour <= 0 ||
	    api->cfg.code_max_per_client_hour <= 0 ||
	    api->cfg.code_max_per_number_client_hour <= 0 ||
	    api->cfg.sms_max_per_number_day <= 0 ||
	    api->cfg.max_devices_per_number <= 0 || api->cfg.max_conns <= 0 ||
	    api->cfg.max_conns_per_client <= 0 || api->cfg.header_timeout <= 0 ||
	    api->cfg.request_timeout < api->cfg.header_timeout ||
	    api->cfg.client_prefix_v4 < 0 || api->cfg.client_prefix_v4 > 32 ||
	    api->cfg.client_prefix_v6 < 0 || api->cfg.client_prefix_v6 > 128) {
		log_err("http: code limits, connection limits and max body must "
			"be positive, request timeout >= header timeout, prefixes "
			"at most /32 and /128");
		err = -EINVAL;
		goto fail;
	}
	api->domain = strdup(cfg->domain && *cfg->domain ? cfg->domain
							 : "dataline.local");
	if (!api->domain) {
		err = -ENOMEM;
		goto fail;
	}
	if ((err = http_add_sip_uri(api, cfg->sip_udp, "sip", "udp")) ||
	    (err = http_add_sip_uri(api, cfg->sip_tcp, "sip", "tcp")) ||
	    (err = http_add_sip_uri(api, cfg->sip_tls, "sips", "tls")))
		goto fail;
	db = cfg->db;
	if (!db || !*db) {
		snprintf(dbbuf, sizeof(dbbuf), "%s/dataline.db",
			 cfg->var_dir && *cfg->var_dir ? cfg->var_dir : ".");
		db = dbbuf;
	}
	err = store_open(db, &api->st);
	if (err) {
		log_err("http: cannot open the store %s: %s", db, strerror(-err));
		goto fail;
	}
	http_reg_update_gauges(api);
	if ((err = http_discover_setup(api)))
		goto fail;
	api->queue = cfg->queue;
	if (!api->queue && (err = http_open_queue(api, cfg)))
		goto fail;
	err = sms_gateway_new(base, api->queue, cfg->sms, cfg->var_dir, &api->sms);
	if (err)
		goto fail;
	if (cfg->ssl_ctx) {
		SSL_CTX_up_ref(cfg->ssl_ctx);
		api->ssl_ctx = cfg->ssl_ctx;
	}
	if (http_enabled(cfg->http_addr) &&
	    (err = http_listen(api, cfg->http_addr, 0, &api->lst[0])))
		goto fail;
	if (http_enabled(cfg->https_addr) &&
	    (err = http_listen(api, cfg->https_addr, 1, &api->lst[1])))
		goto fail;
	api->gc_timer = event_new(base, -1, EV_PERSIST, http_gc_cb, api);
	if (!api->gc_timer) {
		err = -ENOMEM;
		goto fail;
	}
	event_add(api->gc_timer, &gc);
	*out = api;
	return 0;
fail:
	http_api_free(api);
	return err;
}

void http_api_free(struct http_api *api)
{
	if (!api)
		return;
	if (api->gc_timer)
		event_free(api->gc_timer);
	for (int i = 0; i < HTTP_MAX_LISTENERS; i++)
		http_listener_free(api->lst[i]);
	sms_gateway_free(api->sms);
	queue_close(api->own_queue);
	store_close(api->st);
	dlimit_free(api->dlim);
	if (api->nc)
		auth_nc_free(api->nc);
	OPENSSL_cleanse(api->nonce_key, sizeof(api->nonce_key));
	if (api->ssl_ctx)
		SSL_CTX_free(api->ssl_ctx);
	for (int i = 0; i < api->n_sip_uris; i++)
		free(api->sip_uris[i]);
	free(api->domain);
	free(api);
}
