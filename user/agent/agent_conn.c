/*
 * agent_conn: the UA core's transport to the server (RFC 3261 s.18):
 *   UDP - one connected socket (so only the registrar's datagrams reach
 *         us and ICMP errors surface as ECONNREFUSED), one datagram per
 *         message;
 *   TCP, TLS - a libevent bufferevent (bufferevent_openssl for TLS, with
 *         the trust policy of agent_tls); the byte stream is cut into
 *         messages and RFC 5626 keep-alive CRLFs by lib/sip's sip_frame.
 * After connecting, the local address of the socket becomes our Via
 * sent-by and Contact host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "agent_priv.h"
#include "dataline/log.h"

static int agent_conn_resolve(struct agent *a)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char port[8];
	int r;

	hints.ai_socktype = a->cfg.transport == AGENT_TP_UDP ? SOCK_DGRAM : SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", a->cfg.port);
	r = getaddrinfo(a->host, port, &hints, &res);
	if (r != 0) {
		log_err("agent: cannot resolve %s: %s", a->host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	memcpy(&a->peer, res->ai_addr, res->ai_addrlen);
	a->peer_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int agent_conn_learn_local(struct agent *a, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(a->local, sizeof(a->local), "[%s]", ip);
		a->local_port = ntohs(s6->sin6_port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(a->local, sizeof(a->local), "%s", ip);
		a->local_port = ntohs(s4->sin_port);
	}
	return 0;
}

static void agent_udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	static __thread char buf[65536];
	struct agent *a = arg;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* ICMP port unreachable etc. on the connected socket */
			agent_on_conn_lost(a, strerror(errno));
			return;
		}
		if (n == 0)
			continue;
		agent_on_message(a, buf, (size_t)n, 0);
		if (!a->udp_ev)
			return; /* the handler closed us */
	}
}

/* Cuts the stream into messages, pings and pongs. */
static void agent_bev_read_cb(struct bufferevent *bev, void *arg)
{
	struct agent *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct sip_frame fr;
	size_t len;
	int r;

	while ((len = evbuffer_get_length(in)) > 0) {
		const char *p = (const char *)evbuffer_pullup(in, -1);

		r = sip_frame(p, len, AGENT_MSG_MAX * 8, &fr);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			agent_on_conn_lost(a, "unframeable data from the registrar");
			return;
		}
		if (fr.kind == SIP_FRAME_MSG) {
			agent_on_message(a, p, fr.len, 1);
			if (a->bev != bev)
				return; /* the handler closed the connection */
		} else if (fr.kind == SIP_FRAME_PING) {
			bufferevent_write(bev, "\r\n", 2);
		} else {
			agent_on_pong(a);
		}
		evbuffer_drain(in, fr.len);
	}
}

static void agent_bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct agent *a = arg;
	int err = EVUTIL_SOCKET_ERROR();
	const char *tls_why = NULL;
	char why[160];
	unsigned long e;

	if (what & BEV_EVENT_CONNECTED) {
		if (agent_conn_learn_local(a, bufferevent_getfd(bev)) < 0) {
			agent_on_conn_lost(a, "getsockname failed");
			return;
		}
		agent_on_connected(a);
		return;
	}
	if (a->cfg.transport == AGENT_TP_TLS &&
	    (e = bufferevent_get_openssl_error(bev)) != 0)
		tls_why = ERR_reason_error_string(e);
	if (tls_why)
		snprintf(why, sizeof(why), "TLS: %s", tls_why);
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "closed by the registrar");
	else if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timeout");
	else
		snprintf(why, sizeof(why), "%s", err ? evutil_socket_error_to_string(err) :
			 "connection error");
	agent_on_conn_lost(a, why);
}

static int agent_conn_open_udp(struct agent *a)
{
	int fd, r;

	fd = socket(a->peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a->peer, a->peer_len) < 0 ||
	    agent_conn_learn_local(a, fd) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	a->udp_ev = event_new(a->base, fd, EV_READ | EV_PERSIST, agent_udp_read_cb, a);
	if (!a->udp_ev || event_add(a->udp_ev, NULL) < 0) {
		close(fd);
		return -ENOMEM;
	}
	a->fd = fd;
	agent_on_connected(a);
	return 0;
}

static int agent_conn_open_stream(struct agent *a)
{
	SSL *ssl;

	if (a->cfg.transport == AGENT_TP_TLS) {
		if (!a->ssl_ctx) {
			int r = agent_tls_ctx_new(&a->cfg.trust, &a->ssl_ctx);
			if (r < 0)
				return r;
		}
		ssl = SSL_new(a->ssl_ctx);
		if (!ssl)
			return -ENOMEM;
		if (agent_tls_ssl_setup(ssl, a->host) < 0) {
			SSL_free(ssl);
			return -EINVAL;
		}
		a->bev = bufferevent_openssl_socket_new(a->base, -1, ssl,
							BUFFEREVENT_SSL_CONNECTING,
							BEV_OPT_CLOSE_ON_FREE);
		if (!a->bev) {
			SSL_free(ssl);
			return -ENOMEM;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(a->bev, 1);
	} else {
		a->bev = bufferevent_socket_new(a->base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (!a->bev)
			return -ENOMEM;
	}
	bufferevent_setcb(a->bev, agent_bev_read_cb, NULL, agent_bev_event_cb, a);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(a->bev, (struct sockaddr *)&a->peer,
				       (int)a->peer_len) < 0) {
		bufferevent_free(a->bev);
		a->bev = NULL;
		return -ECONNREFUSED;
	}
	return 0;
}

int agent_conn_open(struct agent *a)
{
	int r;

	agent_conn_close(a);
	r = agent_conn_resolve(a);
	if (r < 0)
		return r;
	if (a->cfg.transport == AGENT_TP_UDP)
		return agent_conn_open_udp(a);
	agent_set_state(a, AGENT_CONNECTING);
	return agent_conn_open_stream(a);
}

/* The flow is gone: the REGISTER in flight is dropped (agent.c decides
 * what follows), every other client request ends with 503. */
void agent_conn_close(struct agent *a)
{
	agent_reg_abort(a);
	if (a->udp_ev) {
		event_free(a->udp_ev);
		a->udp_ev = NULL;
	}
	if (a->fd >= 0) {
		close(a->fd);
		a->fd = -1;
	}
	if (a->bev) {
		/* frees the socket and, for TLS, the SSL (close_notify sent) */
		bufferevent_free(a->bev);
		a->bev = NULL;
	}
	agent_core_flow_down(a);
}

int agent_conn_is_open(const struct agent *a)
{
	return a->fd >= 0 || a->bev != NULL;
}

int agent_conn_send(struct agent *a, const char *buf, size_t len)
{
	if (a->fd >= 0) {
		if (send(a->fd, buf, len, MSG_DONTWAIT) < 0)
			return -errno;
		return 0;
	}
	if (a->bev)
		return bufferevent_write(a->bev, buf, len) < 0 ? -EIO : 0;
	return -ENOTCONN;
}
