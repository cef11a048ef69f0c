/*
 * request: the requests the server originates towards a device's flow
 * (RFC 3261 s.8.1.1: Request-URI, To, From, Call-ID, CSeq, Max-Forwards,
 * Via), and the OPTIONS keep-alive ping of UDP flows whose devices send
 * none of their own (flow.c).
 *
 * The Via sent-by is the local address the request leaves from, so that
 * the device can answer there even when the server listens on a wildcard
 * address: the stream's own socket name (another worker's stream: the
 * listener's, every worker's shares it), or for UDP the bound address, or,
 * when that is a wildcard, the address the kernel routes towards the
 * device (a connected UDP socket's name; no packet is sent). ";rport"
 * asks the device to answer to the source port (RFC 3581).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "sipd.h"
#include "../core/config.h"
#include "dataline/log.h"

int sipd_local_addr(struct sipd *w, const struct sipd_flow *f,
		    union sipd_addr *out)
{
	socklen_t len = sizeof(*out);
	struct evconnlistener *lst;
	struct stream_conn *c;
	int fd, err = 0, sfd = w->udp_fd;

	if (f->tp != SIPD_UDP) {
		c = stream_find(w, f->conn_id);
		if (c)
			return stream_local_addr(c, out);
		/* Another worker's connection (a call forked from here): it
		 * was accepted on that transport's address, which every
		 * worker's listener shares (SO_REUSEPORT). */
		lst = f->tp == SIPD_TLS ? w->tls_lst : w->tcp_lst;
		if (!lst || f->worker == w->id)
			return -ENOTCONN;
		sfd = evconnlistener_get_fd(lst);
	}
	if (getsockname(sfd, &out->sa, &len) < 0)
		return -errno;
	if ((out->sa.sa_family == AF_INET &&
	     out->sin.sin_addr.s_addr != htonl(INADDR_ANY)) ||
	    (out->sa.sa_family == AF_INET6 &&
	     !IN6_IS_ADDR_UNSPECIFIED(&out->sin6.sin6_addr)))
		return 0;
	/* wildcard: ask the routing table */
	uint16_t port = out->sa.sa_family == AF_INET6 ? out->sin6.sin6_port
						      : out->sin.sin_port;
	fd = socket(f->addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	len = sizeof(*out);
	if (connect(fd, &f->addr.sa, f->addr.sa.sa_family == AF_INET6 ?
			sizeof(f->addr.sin6) : sizeof(f->addr.sin)) < 0 ||
	    getsockname(fd, &out->sa, &len) < 0)
		err = -errno;
	close(fd);
	if (out->sa.sa_family == AF_INET6)
		out->sin6.sin6_port = port;
	else
		out->sin.sin_port = port;
	return err;
}

int sipd_request_begin(struct sipd *w, const struct sipd_flow *f,
		       struct sip_buf *b, const struct sipd_request *rq,
		       char *branch, size_t bcap)
{
	struct sip_req_params p;
	union sipd_addr la;
	char ip[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN + 4];
	uint16_t port;
	int err;

	err = sipd_local_addr(w, f, &la);
	if (err)
		return err;
	err = sipd_branch_for(w, branch, bcap);
	if (err)
		return err;
	sipd_addr_str(&la, ip, sizeof(ip), &port);
	if (la.sa.sa_family == AF_INET6)
		snprintf(host, sizeof(host), "[%s]", ip);
	else
		snprintf(host, sizeof(host), "%s", ip);
	memset(&p, 0, sizeof(p));
	p.method = rq->method;
	p.ruri = rq->ruri;
	p.transport = f->tp == SIPD_UDP ? "UDP" : f->tp == SIPD_TCP ? "TCP"
								    : "TLS";
	p.via_host = host;
	p.via_port = port;
	p.branch = branch;
	p.rport = 1;
	p.from = rq->from;
	p.from_tag = rq->from_tag;
	p.to = rq->to;
	p.to_tag = rq->to_tag;
	p.call_id = rq->call_id;
	p.cseq = rq->cseq;
	sip_buf_init(b, w->txbuf, w->txcap);
	sip_req_begin(b, &p);
	sip_buf_hdr(b, "User-Agent", "dataline-server");
	return 0;
}

/* ------------------------------------------------------------ pings */

struct ping_ctx {
	struct sipd *w;
	struct sipd_flow f;
};

static void ping_done(void *arg, int status, const struct sip_msg *m)
{
	struct ping_ctx *c = arg;

	(void)m;
	/* any answer but our own timeout shows the device is there */
	flow_ping_result(c->w->sh->flows, &c->f, status != 408,
			 sipd_now_ms());
	free(c);
}

void sipd_ping_flow(void *arg, const struct sipd_flow *f)
{
	struct sipd *w = arg;
	const struct config *cfg = w->sh->cfg;
	char ruri[INET6_ADDRSTRLEN + 16], ip[INET6_ADDRSTRLEN], from[300];
	char tag[17], cid[33], branch[64];
	struct sipd_request rq;
	struct ping_ctx *c;
	struct sip_buf b;
	uint16_t port;
	size_t len;

	sipd_addr_str(&f->addr, ip, sizeof(ip), &port);
	snprintf(ruri, sizeof(ruri), f->addr.sa.sa_family == AF_INET6 ?
		 "sip:[%s]:%u" : "sip:%s:%u", ip, port);
	snprintf(from, sizeof(from), "sip:keepalive@%s", cfg->domain);
	sip_rand_hex(tag, sizeof(tag), 8);
	sip_rand_hex(cid, sizeof(cid), 16);
	rq = (struct sipd_request){ .method = "OPTIONS", .ruri = ruri,
				    .from = from, .from_tag = tag, .to = ruri,
				    .call_id = cid, .cseq = 1 };
	c = malloc(sizeof(*c));
	if (!c)
		goto fail;
	c->w = w;
	c->f = *f;
	if (sipd_request_begin(w, f, &b, &rq, branch, sizeof(branch)) ||
	    sip_msg_end(&b, NULL, NULL, 0, &len) ||
	    sipd_txc_send(w, f, "OPTIONS", branch, b.p, len, ping_done, c)) {
		free(c);
		goto fail;
	}
	return;
fail:
	flow_ping_result(w->sh->flows, f, 0, sipd_now_ms());
}
