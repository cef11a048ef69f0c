/*
 * stream: SIP over TCP and TLS (RFC 3261 s.18.3 framing by Content-Length,
 * RFC 5626 s.3.5.1 CRLF keep-alive: "\r\n\r\n" is answered with "\r\n").
 *
 * Every connection is a bufferevent (plain or OpenSSL) that owns its
 * socket, plus ~100 bytes of ours. Nothing is preallocated per connection:
 * evbuffers grow with what actually arrives, and SSL_MODE_RELEASE_BUFFERS
 * frees TLS record buffers while idle, to keep an idle registered TLS
 * connection small (issue 3: < 16 KiB each with 10,000 held).
 *
 * Bounds: the read high-watermark caps what one connection can make us
 * hold at --max-msg-size (+ a little), a bigger message gets 513 and the
 * connection is closed; a message once started must be complete within
 * --msg-timeout seconds (slowloris: the deadline is absolute, not renewed
 * by each trickled byte); a silent connection is closed after
 * --tcp-idle-timeout; at most --max-tcp-conns connections in all workers,
 * and --max-tcp-conns-per-client of them from one client (connlimit.c);
 * when a peer does not read its responses (output over OUT_HIGH) we stop
 * reading its requests until the output drains below OUT_LOW.
 *
 * A connection that has not carried a digest-authenticated request lives
 * at most --tcp-unauth-timeout from accept, however it keeps itself busy
 * (OPTIONS, CRLF pings, challenges): a stranger cannot hold descriptors
 * for --tcp-idle-timeout at a time. The registrar calls stream_trust()
 * when a request on it authenticates; only then do the idle timeout and
 * keep-alives keep it open.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "sipd.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "dataline/log.h"

#define OUT_HIGH (256 * 1024)
#define OUT_LOW (64 * 1024)

/* A connection's life. Changed only through conn_set_state(). */
enum conn_state {
	CONN_HANDSHAKE, /* TLS handshake running; --msg-timeout to finish it */
	CONN_IDLE,      /* no partial message held; --tcp-idle-timeout runs */
	CONN_PARTIAL,   /* part of a message held; its absolute deadline runs */
	CONN_CLOSING,   /* flushing the last bytes out, then freed */
};

static const char *const conn_state_names[] = {
	"handshake", "idle", "partial", "closing",
};

struct stream_conn {
	struct stream_conn *prev, *next; /* the worker's list */
	struct sipd *w;                  /* borrowed */
	struct bufferevent *bev;         /* owned; owns the socket (and SSL) */
	struct sipd_peer peer;           /* peer.conn points back here */
	uint64_t deadline_ms;            /* end of the handshake / message */
	uint64_t unauth_deadline_ms;     /* end of life unless trusted; 0 once
					    a request authenticated */
	enum conn_state state;
	unsigned paused : 1;             /* reading stopped for backpressure */
};

static void conn_free(struct stream_conn *c);
static void read_cb(struct bufferevent *bev, void *arg);
static void conn_trim(struct stream_conn *c);

static void set_read_timeout(struct stream_conn *c, uint64_t ms)
{
	struct timeval tv;
	struct timeval wt = { c->w->sh->cfg->tcp_idle_timeout, 0 };
	uint64_t now;

	if (c->unauth_deadline_ms) {
		now = sipd_now_ms();
		if (now + ms > c->unauth_deadline_ms)
			ms = c->unauth_deadline_ms > now
				     ? c->unauth_deadline_ms - now : 1;
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, &tv, &wt);
}

void stream_trust(struct stream_conn *c)
{
	c->unauth_deadline_ms = 0;
}

/* An untrusted connection past --tcp-unauth-timeout, within SLACK_MS
 * (a timer may fire a little before our millisecond clock says it is
 * due): counted. */
static int conn_expired(struct stream_conn *c, uint64_t slack_ms)
{
	if (!c->unauth_deadline_ms ||
	    sipd_now_ms() + slack_ms < c->unauth_deadline_ms)
		return 0;
	metrics_inc(METRICS_TCP_UNAUTH_CLOSED);
	log_debug("sip: closing a connection not authenticated in %d s",
		  c->w->sh->cfg->tcp_unauth_timeout);
	return 1;
}

/* The one place a connection changes state: checks the move, arms the
 * timeout that belongs to the new state. */
static void conn_set_state(struct stream_conn *c, enum conn_state st)
{
	const struct config *cfg = c->w->sh->cfg;
	static const unsigned char allowed[4][4] = {
		/* to:        HS IDLE PART CLOSING    from: */
		[CONN_HANDSHAKE] = { 0, 1, 0, 1 },
		[CONN_IDLE]      = { 0, 1, 1, 1 },
		[CONN_PARTIAL]   = { 0, 1, 1, 1 },
		[CONN_CLOSING]   = { 0, 0, 0, 1 },
	};

	if (!allowed[c->state][st]) {
		log_warn("sip: conn %p: bad state move %s -> %s", (void *)c,
			 conn_state_names[c->state], conn_state_names[st]);
		return;
	}
	if (c->state != st)
		log_debug("sip: conn %p: %s -> %s", (void *)c,
			  conn_state_names[c->state], conn_state_names[st]);
	switch (st) {
	case CONN_HANDSHAKE:
		break;
	case CONN_IDLE:
		set_read_timeout(c, (uint64_t)cfg->tcp_idle_timeout * 1000);
		break;
	case CONN_PARTIAL:
		if (c->state != CONN_PARTIAL)
			c->deadline_ms = sipd_now_ms() +
					 (uint64_t)cfg->msg_timeout * 1000;
		break;
	case CONN_CLOSING:
		bufferevent_disable(c->bev, EV_READ);
		break;
	}
	c->state = st;
}

int stream_send(struct stream_conn *c, const char *buf, size_t len)
{
	if (c->state == CONN_CLOSING || c->state == CONN_HANDSHAKE)
		return -ENOTCONN;
	if (bufferevent_write(c->bev, buf, len) != 0)
		return -ENOMEM;
	return 0;
}

static int stream_ops_send(struct sipd *w, const struct sipd_peer *peer,
			   const union sipd_addr *dest, const char *buf,
			   size_t len)
{
	(void)w;
	(void)dest;
	return peer->conn ? stream_send(peer->conn, buf, len) : -ENOTCONN;
}

const struct sipd_tp_ops sipd_tcp_ops = { "tcp", 1, stream_ops_send };
const struct sipd_tp_ops sipd_tls_ops = { "tls", 1, stream_ops_send };

/* Connection ids: unique in the process, never reused, so a binding can
 * name its flow without a pointer that may dangle. */
static atomic_uint_fast64_t stream_next_id = 1;

/*
 * A device whose link is cut sends no FIN: the kernel finds out by TCP
 * keep-alive probes (after KA s of silence, then every KA/3 s, 3 tries)
 * and, when data is waiting (a request to the device), by
 * TCP_USER_TIMEOUT. Either way the connection errors, conn_free() runs,
 * and the flow is dead within about twice the keep-alive interval
 * (flow.c).
 */
static void stream_keepalive(int fd, int ka)
{
	int one = 1, intvl = ka / 3 > 0 ? ka / 3 : 1, cnt = 3;
	unsigned int uto = (unsigned int)(ka + intvl * cnt) * 1000;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka, sizeof(ka));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
}

int stream_local_addr(struct stream_conn *c, union sipd_addr *out)
{
	socklen_t len = sizeof(*out);

	if (getsockname(bufferevent_getfd(c->bev), &out->sa, &len) < 0)
		return -errno;
	return 0;
}

struct stream_conn *stream_find(struct sipd *w, uint64_t id)
{
	struct stream_conn *c;

	for (c = w->conns; c; c = c->next)
		if (c->peer.conn_id == id)
			return c->state == CONN_CLOSING ? NULL : c;
	return NULL;
}

static void close_after_flush(struct stream_conn *c)
{
	conn_set_state(c, CONN_CLOSING);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c);
	/* else write_cb frees it once the output is empty */
}

/* Frames and handles what arrived; returns 1 when the connection must be
 * closed (after the replies to what it read are out). */
static int read_frames(struct bufferevent *bev, struct stream_conn *c)
{
	struct sipd *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t max = (size_t)w->sh->cfg->max_msg_size;

	while (c->state != CONN_CLOSING) {
		size_t len = evbuffer_get_length(in);
		struct sip_frame fr;
		char *p;
		int rc;

		if (!len) {
			conn_set_state(c, CONN_IDLE);
			break;
		}
		p = (char *)evbuffer_pullup(in, -1);
		if (!p)
			break;
		rc = sip_frame(p, len, max, &fr);
		if (rc == -EAGAIN) {
			uint64_t now = sipd_now_ms();
			conn_set_state(c, CONN_PARTIAL);
			if (now >= c->deadline_ms) {
				log_info("sip: closing a connection that sent "
					 "no complete message in %d s",
					 w->sh->cfg->msg_timeout);
				return 1;
			}
			set_read_timeout(c, c->deadline_ms - now);
			break;
		}
		if (rc == -EMSGSIZE) {
			log_info("sip: message over %zu bytes on a stream: 513",
				 max);
			sipd_too_large(w, &c->peer, p, len);
			return 1;
		}
		if (rc) {
			/* no usable Content-Length: answer 400 if we can (the
			 * parser says why), then close, as the stream cannot
			 * be resynchronised */
			const char *end = memmem(p, len, "\r\n\r\n", 4);
			metrics_inc(METRICS_SIP_PARSE_ERRORS);
			if (end)
				sipd_input(w, &c->peer, p,
					   (size_t)(end - p) + 4);
			return 1;
		}
		if (fr.kind == SIP_FRAME_PING) {
			struct sipd_flow f;

			bufferevent_write(bev, "\r\n", 2);
			sipd_flow_of(w, &c->peer, &f);
			flow_seen(w->sh->flows, &f, sipd_now_ms());
			metrics_inc(METRICS_KEEPALIVES);
		} else if (fr.kind == SIP_FRAME_MSG) {
			/* NUL after the frame is not needed by the parser,
			 * which takes a length */
			sipd_input(w, &c->peer, p, fr.len);
		}
		evbuffer_drain(in, fr.len);
		if (c->state == CONN_PARTIAL)
			conn_set_state(c, CONN_IDLE); /* next deadline anew */
	}
	if (c->state != CONN_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > OUT_HIGH) {
		/* backpressure: the peer is not reading its responses */
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW, 0);
		c->paused = 1;
	}
	return 0;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct stream_conn *c = arg;
	int close_it;

	close_it = read_frames(bev, c);
	if (!close_it && c->state != CONN_CLOSING)
		close_it = conn_expired(c, 0);
	if (close_it)
		close_after_flush(c);
	else
		conn_trim(c);
}

/* An idle TLS connection gives its record buffers back (they come back
 * on the next record); fails harmlessly while a record is half done. */
static void conn_trim(struct stream_conn *c)
{
	SSL *ssl;

	if (c->peer.tp != SIPD_TLS || c->state != CONN_IDLE)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)))
		return;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl)
		(void)SSL_free_buffers(ssl);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct stream_conn *c = arg;

	if (c->state == CONN_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	if (c->paused) {
		c->paused = 0;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(bev, EV_READ);
		read_cb(bev, c); /* what waited in the input buffer */
		return;
	}
	conn_trim(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct stream_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_HANDSHAKE)
			conn_set_state(c, CONN_IDLE);
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		metrics_inc(METRICS_TLS_HANDSHAKE_FAIL);
		log_debug("sip: tls handshake failed (%s)",
			  what & BEV_EVENT_TIMEOUT ? "timeout" : "error");
	} else if ((what & BEV_EVENT_TIMEOUT) && conn_expired(c, 20)) {
		/* counted and logged */
	} else if (what & BEV_EVENT_TIMEOUT) {
		log_debug("sip: closing %s connection (%s timeout)",
			  c->peer.tp == SIPD_TLS ? "tls" : "tcp",
			  conn_state_names[c->state]);
	}
	ERR_clear_error();
	conn_free(c);
}

static void conn_free(struct stream_conn *c)
{
	struct sipd *w = c->w;
	struct sipd_flow f;

	/* the bindings made over it can no longer be reached */
	sipd_flow_of(w, &c->peer, &f);
	flow_closed(w->sh->flows, &f);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	connlimit_release(w->sh->cl, &c->peer.addr);
	atomic_fetch_sub(&w->sh->stream_conns, 1);
	metrics_gauge_add(c->peer.tp == SIPD_TLS ? METRICS_CONNECTIONS_TLS
						 : METRICS_CONNECTIONS_TCP, -1);
	free(c);
}

static void accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct sipd *w = arg;
	enum sipd_tp tp = lst == w->tls_lst ? SIPD_TLS : SIPD_TCP;
	const struct config *cfg = w->sh->cfg;
	struct stream_conn *c;
	union sipd_addr from;
	SSL *ssl = NULL;
	int one = 1;

	memset(&from, 0, sizeof(from));
	if ((size_t)salen <= sizeof(from))
		memcpy(&from, sa, (size_t)salen);
	if (atomic_fetch_add(&w->sh->stream_conns, 1) >= cfg->max_tcp_conns) {
		atomic_fetch_sub(&w->sh->stream_conns, 1);
		metrics_inc(METRICS_TCP_REFUSED);
		evutil_closesocket(fd);
		return;
	}
	if (connlimit_acquire(w->sh->cl, &from)) {
		atomic_fetch_sub(&w->sh->stream_conns, 1);
		metrics_inc(METRICS_TCP_REFUSED_CLIENT);
		evutil_closesocket(fd);
		return;
	}
	/* answers are written whole; do not hold them back for ACKs */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	stream_keepalive(fd, cfg->keepalive_interval);
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->w = w;
	c->peer.tp = tp;
	c->peer.ops = tp == SIPD_TLS ? &sipd_tls_ops : &sipd_tcp_ops;
	c->peer.conn = c;
	c->peer.conn_id = atomic_fetch_add(&stream_next_id, 1);
	c->peer.addr = from;
	c->peer.addrlen = (size_t)salen <= sizeof(from) ? (socklen_t)salen : 0;
	c->unauth_deadline_ms = sipd_now_ms() +
				(uint64_t)cfg->tcp_unauth_timeout * 1000;
	/* the initial state is set here; every later change goes through
	 * conn_set_state() */
	if (tp == SIPD_TLS) {
		ssl = SSL_new(w->sh->ssl_ctx);
		if (!ssl)
			goto fail;
		c->bev = bufferevent_openssl_socket_new(
			w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
			BEV_OPT_CLOSE_ON_FREE);
		if (c->bev)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		c->state = CONN_HANDSHAKE;
	} else {
		c->bev = bufferevent_socket_new(w->base, fd,
						BEV_OPT_CLOSE_ON_FREE);
		c->state = CONN_IDLE;
	}
	if (!c->bev)
		goto fail;
	/* the input never holds more than one max-size message + slack */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
				 (size_t)cfg->max_msg_size + 4096);
	/* libevent reserves this much input space per read and keeps the
	 * chain even when the read brings nothing: 16 KiB by default, per
	 * idle TLS connection; SIP messages are mostly < 2 KiB */
	bufferevent_set_max_single_read(c->bev, 2048);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	if (c->state == CONN_HANDSHAKE)
		set_read_timeout(c, (uint64_t)cfg->msg_timeout * 1000);
	else
		set_read_timeout(c, (uint64_t)cfg->tcp_idle_timeout * 1000);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	metrics_gauge_add(tp == SIPD_TLS ? METRICS_CONNECTIONS_TLS
					 : METRICS_CONNECTIONS_TCP, 1);
	return;
fail:
	connlimit_release(w->sh->cl, &from);
	atomic_fetch_sub(&w->sh->stream_conns, 1);
	if (c && c->bev) {
		bufferevent_free(c->bev); /* closes fd, frees ssl */
	} else {
		if (ssl)
			SSL_free(ssl);
		evutil_closesocket(fd);
	}
	free(c);
	log_warn("sip: out of memory accepting a connection");
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

/* accept() failed (EMFILE...): pause the listener briefly, or it spins. */
static void accept_error_cb(struct evconnlistener *lst, void *arg)
{
	struct sipd *w = arg;
	struct timeval tv = { 0, 200 * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	log_warn("sip: accept: %s; pausing 200 ms",
		 evutil_socket_error_to_string(e));
	evconnlistener_disable(lst);
	event_base_once(w->base, -1, EV_TIMEOUT, resume_cb, lst, &tv);
}

int stream_listen(struct sipd *w, enum sipd_tp tp, const char *hostport)
{
	union sipd_addr a;
	socklen_t alen;
	struct evconnlistener *l;
	int err;

	err = sipd_parse_hostport(hostport, &a, &alen);
	if (err) {
		log_err("sip: bad %s address '%s'",
			tp == SIPD_TLS ? "--sip-tls" : "--sip-tcp", hostport);
		return err;
	}
	if (tp == SIPD_TLS && !w->sh->ssl_ctx)
		return -EINVAL;
	l = evconnlistener_new_bind(w->base, accept_cb, w,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
				    LEV_OPT_REUSEABLE_PORT |
				    LEV_OPT_CLOSE_ON_EXEC,
				    1024, &a.sa, (int)alen);
	if (!l) {
		err = -errno ? -errno : -EADDRINUSE;
		log_err("sip: listen %s %s: %s", tp == SIPD_TLS ? "tls" : "tcp",
			hostport, strerror(errno));
		return err;
	}
	evconnlistener_set_error_cb(l, accept_error_cb);
	if (tp == SIPD_TLS)
		w->tls_lst = l;
	else
		w->tcp_lst = l;
	return 0;
}

void stream_close_all(struct sipd *w)
{
	if (w->tcp_lst)
		evconnlistener_free(w->tcp_lst);
	if (w->tls_lst)
		evconnlistener_free(w->tls_lst);
	w->tcp_lst = w->tls_lst = NULL;
	while (w->conns)
		conn_free(w->conns);
}
