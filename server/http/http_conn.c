/*
 * http_conn: what stands between the kernel's accept queue and evhttp on
 * the API's listeners: connection caps, absolute deadlines and the
 * accept-error back-off (docs/decisions.md, "HTTP API hardening").
 *
 * libevent 2.1.12 has no per-request hook (evhttp_set_newreqcb came in
 * 2.2) and its timeout is renewed by every byte read, so a client that
 * dribbles a header line every few seconds is never timed out. What 2.1
 * does give is the bufferevent callback: every accepted connection asks
 * us for its bufferevent (socket or TLS). We make it and keep:
 *  - a reference of our own (bufferevent_incref). When evhttp frees the
 *    connection, whatever the reason, the bufferevent's callbacks are
 *    cleared at once but its memory and socket stay until we let go; a
 *    sweep every HTTP_SWEEP_MS notices the cleared callbacks, drops our
 *    reference (which closes the socket) and counts the connection gone.
 *    Until then nothing we touch can be freed under us.
 *  - a callback on its input evbuffer, which sees every byte read
 *    (plaintext, above TLS), so it sees the blank line ending the headers.
 *  - its socket, which we shutdown() to end a connection. evhttp then
 *    reads EOF and frees the connection itself; we never free anything
 *    evhttp owns.
 * (A pass-through filter bufferevent would tell us of the free directly,
 * but evhttp closes once the filter's output is empty, before the socket
 * has written the reply: replies were lost. See docs/decisions.md.)
 *
 * One request per connection: every reply carries "Connection: close", so
 * a connection's deadlines are its request's deadlines. Provisioning is
 * two requests per phone, keep-alive buys nothing there.
 *
 * Per listener, at max_conns the listener is disabled (the kernel backlog
 * holds the next clients, no descriptor is spent) and enabled again when a
 * connection goes. Per client prefix, a connection over the cap is shut
 * down at once. The peer address is not known when the bufferevent is
 * asked for, so admission runs from a zero timer on the next loop turn.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../core/metrics.h"
#include "dataline/log.h"
#include "http_impl.h"

#define HTTP_ACCEPT_PAUSE_MS 200
#define HTTP_SWEEP_MS 100

enum http_conn_state {
	HTTP_CONN_NEW,     /* accepted; admission runs on the next loop turn */
	HTTP_CONN_HEADERS, /* admitted: request line and headers, by deadline */
	HTTP_CONN_BODY,    /* headers complete: body, handler, reply */
	HTTP_CONN_CLOSING, /* shut down by us; evhttp frees it on the EOF */
};

struct http_conn {
	struct http_listener *lst; /* borrowed; NULL once the listener is gone */
	struct bufferevent *bev;   /* one reference ours, one evhttp's */
	struct event *timer;       /* owned: admission, then the deadlines */
	enum http_conn_state state;
	struct timespec started;   /* CLOCK_MONOTONIC at accept */
	char key[CLIENT_KEY_MAX];  /* client prefix; "" until admitted */
	int line_len;              /* bytes in the current header line */
	int seen_line;             /* a non-empty line (request line) seen */
	int headers_done;          /* the blank line after the headers seen */
	struct evbuffer_cb_entry *in_cb; /* owned by the input evbuffer */
	struct http_conn *prev, *next;
};

/* evconnlistener's error callback gets evhttp's argument, not ours, so
 * the listeners are found by their evconnlistener. Main thread only. */
static struct http_listener *http_listeners;

static const char *http_conn_state_name(enum http_conn_state s)
{
	switch (s) {
	case HTTP_CONN_NEW: return "new";
	case HTTP_CONN_HEADERS: return "headers";
	case HTTP_CONN_BODY: return "body";
	case HTTP_CONN_CLOSING: return "closing";
	}
	return "?";
}

/* The one place a connection's state changes. */
static void http_conn_set_state(struct http_conn *c, enum http_conn_state s)
{
	log_debug("http: conn %p %s -> %s", (void *)c,
		  http_conn_state_name(c->state), http_conn_state_name(s));
	c->state = s;
}

static void http_listener_update(struct http_listener *l)
{
	int want = !l->backoff && l->n_conns < l->api->cfg.max_conns;

	if (!l->lev || want == l->enabled)
		return;
	if (want)
		evconnlistener_enable(l->lev);
	else
		evconnlistener_disable(l->lev);
	l->enabled = want;
}

/* 1 while evhttp still holds the connection: bufferevent_free() clears
 * the callbacks at once, the memory stays while we hold our reference. */
static int http_conn_alive(struct http_conn *c)
{
	bufferevent_event_cb ev = NULL;

	bufferevent_getcb(c->bev, NULL, NULL, &ev, NULL);
	return ev != NULL && bufferevent_getfd(c->bev) >= 0;
}

static void http_conn_close(struct http_conn *c)
{
	if (c->state == HTTP_CONN_CLOSING)
		return;
	http_conn_set_state(c, HTTP_CONN_CLOSING);
	if (http_conn_alive(c))
		shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
}

static void http_conn_arm(struct http_conn *c, int deadline_s)
{
	struct timespec now;
	int64_t left_ms;
	struct timeval tv;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left_ms = (int64_t)deadline_s * 1000 -
		  ((int64_t)(now.tv_sec - c->started.tv_sec) * 1000 +
		   (now.tv_nsec - c->started.tv_nsec) / 1000000);
	if (left_ms < 0)
		left_ms = 0;
	tv.tv_sec = left_ms / 1000;
	tv.tv_usec = (left_ms % 1000) * 1000;
	event_add(c->timer, &tv);
}

static int http_conn_count_key(const struct http_api *api, const char *key)
{
	int n = 0;

	for (int i = 0; i < HTTP_MAX_LISTENERS; i++)
		for (struct http_conn *c = api->lst[i] ? api->lst[i]->conns : NULL;
		     c; c = c->next)
			if (c->state != HTTP_CONN_CLOSING && c->key[0] &&
			    strcmp(c->key, key) == 0 && http_conn_alive(c))
				n++;
	return n;
}

static void http_conn_admit(struct http_conn *c)
{
	const struct http_api_config *cfg = &c->lst->api->cfg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "";
	char key[CLIENT_KEY_MAX];
	const void *a = NULL;

	if (!http_conn_alive(c) ||
	    getpeername(bufferevent_getfd(c->bev), (struct sockaddr *)&ss,
			&len) != 0) {
		http_conn_close(c);
		return;
	}
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (a)
		inet_ntop(ss.ss_family, a, addr, sizeof(addr));
	client_prefix(addr, cfg->client_prefix_v4, cfg->client_prefix_v6, key);
	if (http_conn_count_key(c->lst->api, key) >= cfg->max_conns_per_client) {
		metrics_inc(METRICS_HTTP_CONNS_REFUSED);
		log_debug("http: %s over %d connections, closed", key,
			  cfg->max_conns_per_client);
		http_conn_close(c);
		return;
	}
	memcpy(c->key, key, sizeof(key));
	if (c->headers_done) {
		http_conn_set_state(c, HTTP_CONN_BODY);
		http_conn_arm(c, cfg->request_timeout);
	} else {
		http_conn_set_state(c, HTTP_CONN_HEADERS);
		http_conn_arm(c, cfg->header_timeout);
	}
}

static void http_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->lst)
		return;
	switch (c->state) {
	case HTTP_CONN_NEW:
		http_conn_admit(c);
		return;
	case HTTP_CONN_HEADERS:
	case HTTP_CONN_BODY:
		metrics_inc(METRICS_HTTP_DEADLINE_CLOSED);
		log_info("http: %s connection from %s closed at the %s deadline",
			 c->lst->name, c->key,
			 c->state == HTTP_CONN_HEADERS ? "header" : "request");
		http_conn_close(c);
		return;
	case HTTP_CONN_CLOSING:
		return;
	}
}

/* Notes the blank line that ends the headers (LF or CRLF endings); from
 * then on the request deadline runs instead of the header deadline. */
static void http_conn_scan(struct http_conn *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !c->headers_done; i++) {
		if (p[i] != '\n') {
			if (p[i] != '\r')
				c->line_len++;
			continue;
		}
		c->headers_done = c->line_len == 0 && c->seen_line;
		c->seen_line |= c->line_len > 0;
		c->line_len = 0;
	}
	if (c->headers_done && c->state == HTTP_CONN_HEADERS) {
		http_conn_set_state(c, HTTP_CONN_BODY);
		http_conn_arm(c, c->lst->api->cfg.request_timeout);
	}
}

/* The input evbuffer's callback: runs as bytes are appended. */
static void http_conn_input_cb(struct evbuffer *buf,
			       const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;
	size_t len = evbuffer_get_length(buf);
	size_t left = info->n_added;
	struct evbuffer_ptr pos;
	struct evbuffer_iovec v;

	if (!c->lst || c->headers_done || left == 0 || left > len ||
	    evbuffer_ptr_set(buf, &pos, len - left, EVBUFFER_PTR_SET))
		return;
	/* the new bytes are the buffer's tail, in one chunk or several */
	while (left > 0 && !c->headers_done &&
	       evbuffer_peek(buf, (ev_ssize_t)left, &pos, &v, 1) >= 1 &&
	       v.iov_len > 0) {
		size_t n = v.iov_len < left ? v.iov_len : left;

		http_conn_scan(c, v.iov_base, n);
		left -= n;
		if (evbuffer_ptr_set(buf, &pos, n, EVBUFFER_PTR_ADD))
			break;
	}
}

static void http_conn_unlink(struct http_conn *c)
{
	struct http_listener *l = c->lst;

	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->lst = NULL;
	l->n_conns--;
}

/* Lets go of a connection evhttp is done with (or that the listener
 * outlives no more): our reference was the last, the socket closes. */
static void http_conn_release(struct http_conn *c)
{
	if (c->lst)
		http_conn_unlink(c);
	if (c->timer)
		event_free(c->timer);
	if (c->in_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	bufferevent_decref(c->bev);
	free(c);
}

static void http_listener_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;
	struct http_conn *c, *next;
	int before = l->n_conns;

	(void)fd;
	(void)what;
	for (c = l->conns; c; c = next) {
		next = c->next;
		if (!http_conn_alive(c))
			http_conn_release(c);
	}
	if (l->n_conns != before)
		http_listener_update(l);
}

static struct bufferevent *http_conn_new_bev(struct http_listener *l,
					     struct event_base *base)
{
	struct bufferevent *bev;
	SSL *ssl;

	if (!l->tls)
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	ssl = SSL_new(l->api->ssl_ctx);
	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
					     BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/*
 * evhttp's bufferevent callback, once per accepted connection. On failure
 * it returns NULL and evhttp makes a plain socket bufferevent itself; on
 * the HTTPS listener that connection then fails the TLS handshake the
 * client starts, so nothing is served in the clear. Such a connection is
 * not counted (out of memory only).
 */
static struct bufferevent *http_conn_bevcb(struct event_base *base, void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct http_listener *l = arg;
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->timer = evtimer_new(base, http_conn_timer_cb, c);
	c->bev = c->timer ? http_conn_new_bev(l, base) : NULL;
	c->in_cb = c->bev ? evbuffer_add_cb(bufferevent_get_input(c->bev),
					    http_conn_input_cb, c)
			  : NULL;
	if (!c->in_cb) {
		if (c->bev)
			bufferevent_free(c->bev);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return NULL;
	}
	bufferevent_incref(c->bev);
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	c->lst = l;
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
	event_add(c->timer, &now);
	http_listener_update(l);
	return c->bev;
}

static void http_listener_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;

	(void)fd;
	(void)what;
	l->backoff = 0;
	http_listener_update(l);
}

/* Out of descriptors, accept() fails while the socket stays readable:
 * without this, evhttp's listener spins and logs every failure. */
static void http_listener_error_cb(struct evconnlistener *lev, void *arg)
{
	static const struct timeval pause = { 0, HTTP_ACCEPT_PAUSE_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	struct http_listener *l;
	time_t now = time(NULL);

	(void)arg;
	for (l = http_listeners; l && l->lev != lev; l = l->next_listener)
		;
	if (!l)
		return;
	metrics_inc(METRICS_HTTP_ACCEPT_ERRORS);
	if (now != l->last_log) {
		log_warn("http: accept on the %s listener failed: %s; pausing "
			 "%d ms (%lu more since the last message)", l->name,
			 strerror(err), HTTP_ACCEPT_PAUSE_MS, l->suppressed);
		l->last_log = now;
		l->suppressed = 0;
	} else {
		l->suppressed++;
	}
	l->backoff = 1;
	http_listener_update(l);
	event_add(l->retry, &pause);
}

int http_listener_attach(struct http_listener *l,
			 struct evhttp_bound_socket *bound)
{
	l->lev = evhttp_bound_socket_get_listener(bound);
	static const struct timeval sweep = { 0, HTTP_SWEEP_MS * 1000 };

	l->retry = evtimer_new(l->api->base, http_listener_retry_cb, l);
	l->sweep = event_new(l->api->base, -1, EV_PERSIST,
			     http_listener_sweep_cb, l);
	if (!l->lev || !l->retry || !l->sweep || event_add(l->sweep, &sweep))
		return -ENOMEM;
	l->enabled = 1;
	evconnlistener_set_error_cb(l->lev, http_listener_error_cb);
	evhttp_set_bevcb(l->h, http_conn_bevcb, l);
	l->next_listener = http_listeners;
	http_listeners = l;
	return 0;
}

void http_listener_free(struct http_listener *l)
{
	struct http_listener **pp;

	if (!l)
		return;
	for (pp = &http_listeners; *pp; pp = &(*pp)->next_listener)
		if (*pp == l) {
			*pp = l->next_listener;
			break;
		}
	/* evhttp_free frees its connections (clearing their callbacks);
	 * then our references go */
	if (l->h)
		evhttp_free(l->h);
	while (l->conns)
		http_conn_release(l->conns);
	if (l->sweep)
		event_free(l->sweep);
	if (l->retry)
		event_free(l->retry);
	free(l);
}
