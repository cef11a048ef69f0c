/*
 * sipcli: a scriptable SIP client for the server's system tests.
 * RFC 3261 (REGISTER, OPTIONS; UDP with timer-E style retransmission,
 * TCP and TLS framed by Content-Length), RFC 3261 s.22 + RFC 8760 digest
 * (MD5, SHA-256, qop=auth, nonce-count), RFC 5626 CRLF keep-alive.
 *
 * It runs ACTIONs in order over ONE connection (one Call-ID, CSeq going
 * up), and prints one line per action that tests grep:
 *   register status=200 challenge=401 algs=SHA-256,MD5 used=SHA-256 contacts=1
 *   replay status=401 fresh_challenge=yes stale=no
 * followed by "  contact: <...>" lines for every Contact of a 200.
 * Exit status: 0 when every action got an answer, 2 on timeout or I/O
 * error, 1 on bad usage. It never asserts: the test scripts do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sipt.h"

enum tp { TP_UDP, TP_TCP, TP_TLS };

struct cli {
	enum tp tp;
	const char *host;
	int port;
	const char *domain, *number, *user, *pass, *alg, *cafile, *cuser;
	int expires, timeout_ms;
	int fd;
	SSL_CTX *ctx;          /* owned, NULL unless TLS */
	SSL *ssl;              /* owned, NULL unless TLS */
	char lip[INET_ADDRSTRLEN];
	int lport;
	char callid[40], tag[20];
	unsigned cseq;
	char last_auth[2048];  /* Authorization of the last accepted request */
	char rbuf[262144];     /* stream receive buffer */
	size_t rlen;
	char msg[262144];      /* the last response */
};

static const char *tp_name(enum tp t, int upper)
{
	static const char *n[2][3] = { { "udp", "tcp", "tls" },
				       { "UDP", "TCP", "TLS" } };
	return n[upper][t];
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, ms < 0 ? 0 : ms);
}

static int cli_connect(struct cli *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(c->port) };
	socklen_t sl = sizeof(sa);
	int type = c->tp == TP_UDP ? SOCK_DGRAM : SOCK_STREAM;

	if (inet_pton(AF_INET, c->host, &sa.sin_addr) != 1)
		return -EINVAL;
	c->fd = socket(AF_INET, type, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	getsockname(c->fd, (struct sockaddr *)&sa, &sl);
	inet_ntop(AF_INET, &sa.sin_addr, c->lip, sizeof(c->lip));
	c->lport = ntohs(sa.sin_port);
	if (c->tp != TP_TLS)
		return 0;
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (c->cafile) {
		/* Trust exactly the server's (self-signed) certificate: the
		 * chain must verify; the name is not checked (127.0.0.1). */
		if (SSL_CTX_load_verify_locations(c->ctx, c->cafile, NULL) != 1)
			return -EINVAL;
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	struct timeval tv = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (SSL_connect(c->ssl) != 1) {
		fprintf(stderr, "sipcli: TLS handshake failed\n");
		ERR_print_errors_fp(stderr);
		return -EPROTO;
	}
	printf("tls version=%s verified=%s\n", SSL_get_version(c->ssl),
	       c->cafile ? "yes" : "no");
	return 0;
}

static int cli_send(struct cli *c, const char *buf, size_t len)
{
	ssize_t n;

	if (c->tp == TP_TLS)
		return SSL_write(c->ssl, buf, (int)len) == (int)len ? 0 : -EIO;
	n = send(c->fd, buf, len, MSG_NOSIGNAL);
	return n == (ssize_t)len ? 0 : -errno;
}

/* Reads from the stream into rbuf; 0 on data, -ETIMEDOUT, -EPIPE on EOF. */
static int cli_fill(struct cli *c, int ms)
{
	ssize_t n;

	if (c->rlen == sizeof(c->rbuf))
		return -ENOBUFS;
	if (c->tp == TP_TLS && SSL_pending(c->ssl) == 0 &&
	    wait_fd(c->fd, POLLIN, ms) <= 0)
		return -ETIMEDOUT;
	if (c->tp == TP_TCP && wait_fd(c->fd, POLLIN, ms) <= 0)
		return -ETIMEDOUT;
	if (c->tp == TP_TLS)
		n = SSL_read(c->ssl, c->rbuf + c->rlen,
			     (int)(sizeof(c->rbuf) - c->rlen));
	else
		n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
	if (n <= 0)
		return -EPIPE;
	c->rlen += (size_t)n;
	return 0;
}

/* Next message (response) into c->msg; keep-alive CRLFs are skipped. */
static int cli_recv(struct cli *c, int ms)
{
	long deadline = now_ms() + ms;

	if (c->tp == TP_UDP) {
		if (wait_fd(c->fd, POLLIN, ms) <= 0)
			return -ETIMEDOUT;
		ssize_t n = recv(c->fd, c->msg, sizeof(c->msg) - 1, 0);
		if (n < 0)
			return -errno;
		c->msg[n] = '\0';
		return 0;
	}
	for (;;) {
		size_t skip = 0, ml;

		while (skip + 1 < c->rlen && c->rbuf[skip] == '\r' &&
		       c->rbuf[skip + 1] == '\n')
			skip += 2;
		memmove(c->rbuf, c->rbuf + skip, c->rlen - skip);
		c->rlen -= skip;
		ml = sipt_msg_len(c->rbuf, c->rlen);
		if (ml) {
			if (ml >= sizeof(c->msg))
				return -EMSGSIZE;
			memcpy(c->msg, c->rbuf, ml);
			c->msg[ml] = '\0';
			memmove(c->rbuf, c->rbuf + ml, c->rlen - ml);
			c->rlen -= ml;
			return 0;
		}
		int err = cli_fill(c, (int)(deadline - now_ms()));
		if (err)
			return err;
	}
}

/* One non-INVITE transaction: send REQ, return the final status (the
 * response is in c->msg). Over UDP, retransmit from 500 ms doubling to
 * 4 s (RFC 3261 timer E), until the timeout. */
static int cli_transact(struct cli *c, const char *req, unsigned cseq)
{
	long deadline = now_ms() + c->timeout_ms;
	int rto = 500, err;
	char want[32];

	snprintf(want, sizeof(want), "%u ", cseq);
	if ((err = cli_send(c, req, strlen(req))))
		return err;
	for (;;) {
		long left = deadline - now_ms();
		int ms = c->tp == TP_UDP && rto < left ? rto : (int)left;

		if (left <= 0)
			return -ETIMEDOUT;
		err = cli_recv(c, ms);
		if (err == -ETIMEDOUT && c->tp == TP_UDP && now_ms() < deadline) {
			if ((err = cli_send(c, req, strlen(req))))
				return err;
			rto = rto * 2 > 4000 ? 4000 : rto * 2;
			continue;
		}
		if (err)
			return err;
		int st = sipt_status(c->msg);
		const char *cs = strcasestr(c->msg, "\r\nCSeq:");
		if (st < 200 || !cs)
			continue;
		cs += 7;
		while (*cs == ' ')
			cs++;
		if (strncmp(cs, want, strlen(want)))
			continue; /* a stray answer to an earlier request */
		return st;
	}
}

static void build_req(struct cli *c, char *out, size_t sz, const char *method,
		      int contact, int expires, const char *auth)
{
	char branch[33];
	int n;

	sipt_rand_hex(branch, 16);
	c->cseq++;
	n = snprintf(out, sz,
		     "%s sip:%s SIP/2.0\r\n"
		     "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%s;rport\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=%s\r\n"
		     "To: <sip:%s@%s>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: %u %s\r\n"
		     "User-Agent: dataline-sipcli\r\n",
		     method, c->domain, tp_name(c->tp, 1), c->lip, c->lport,
		     branch, c->number, c->domain, c->tag, c->number, c->domain,
		     c->callid, c->cseq, method);
	if (contact == 2)
		n += snprintf(out + n, sz - (size_t)n, "Contact: *\r\n");
	else if (contact)
		n += snprintf(out + n, sz - (size_t)n,
			      "Contact: <sip:%s@%s:%d;transport=%s>\r\n",
			      c->cuser ? c->cuser : c->number, c->lip, c->lport,
			      tp_name(c->tp, 0));
	if (expires >= 0)
		n += snprintf(out + n, sz - (size_t)n, "Expires: %d\r\n", expires);
	if (auth)
		n += snprintf(out + n, sz - (size_t)n, "Authorization: %s\r\n",
			      auth);
	snprintf(out + n, sz - (size_t)n, "Content-Length: 0\r\n\r\n");
}

static void print_contact(const char *one, void *arg)
{
	printf("  contact: %s\n", one);
}

static void print_algs(const struct sipt_chal_list *l)
{
	printf(" algs=");
	for (int i = 0; i < l->n; i++)
		printf("%s%s", i ? "," : "", l->c[i].algorithm);
	if (l->n == 0)
		printf("none");
}

/* REGISTER: unauthenticated first, then answer the chosen challenge.
 * contact=0 makes a query (RFC 3261 10.2.3), 2 sends "Contact: *" (with
 * Expires: 0, removes every binding of this device: 10.2.2 and
 * docs/protocol.md), expires -1 sends none. */
static int do_register(struct cli *c, const char *name, const char *pass,
		       int contact, int expires)
{
	char req[4096], auth[2048], uri[300];
	struct sipt_chal_list l;
	const struct sipt_chal *ch = NULL;
	unsigned cseq;
	int st;

	build_req(c, req, sizeof(req), "REGISTER", contact, expires, NULL);
	cseq = c->cseq;
	st = cli_transact(c, req, cseq);
	if (st < 0)
		goto io_err;
	printf("%s", name);
	if (st != 401) {
		printf(" status=%d challenge=none contacts=%d\n", st,
		       sipt_count_contacts(c->msg, NULL, NULL));
		return 0;
	}
	sipt_challenges(c->msg, &l);
	for (int i = 0; i < l.n && !ch; i++)
		if (!strcmp(c->alg, "first") ||
		    !strcasecmp(c->alg, l.c[i].algorithm))
			ch = &l.c[i];
	if (!ch) {
		printf(" status=401 challenge=401");
		print_algs(&l);
		printf(" used=none\n");
		return 0;
	}
	snprintf(uri, sizeof(uri), "sip:%s", c->domain);
	if (sipt_authorization(ch, c->user, pass, "REGISTER", uri, 1, auth,
			       sizeof(auth)))
		return -EINVAL;
	build_req(c, req, sizeof(req), "REGISTER", contact, expires, auth);
	st = cli_transact(c, req, c->cseq);
	if (st < 0) {
		printf("\n");
		goto io_err;
	}
	printf(" status=%d challenge=401", st);
	print_algs(&l);
	printf(" used=%s", ch->algorithm);
	if (st == 200) {
		snprintf(c->last_auth, sizeof(c->last_auth), "%s", auth);
		printf(" contacts=%d\n", sipt_count_contacts(c->msg, NULL, NULL));
		sipt_count_contacts(c->msg, print_contact, NULL);
	} else if (st == 401) {
		struct sipt_chal_list again;
		sipt_challenges(c->msg, &again);
		printf(" fresh_challenge=%s\n", again.n ? "yes" : "no");
	} else {
		printf("\n");
	}
	return 0;
io_err:
	printf("%s status=%s\n", name, st == -ETIMEDOUT ? "timeout" : "error");
	return st;
}

/* Resends the last accepted Authorization unchanged (same nonce, nc,
 * cnonce and response): a replay the server must refuse (401 with a
 * fresh challenge). */
static int do_replay(struct cli *c)
{
	char req[4096];
	struct sipt_chal_list l;
	int st;

	if (!c->last_auth[0]) {
		printf("replay status=error (no earlier accepted REGISTER)\n");
		return -EINVAL;
	}
	build_req(c, req, sizeof(req), "REGISTER", 1, c->expires, c->last_auth);
	st = cli_transact(c, req, c->cseq);
	if (st < 0) {
		printf("replay status=%s\n", st == -ETIMEDOUT ? "timeout" : "error");
		return st;
	}
	sipt_challenges(c->msg, &l);
	printf("replay status=%d fresh_challenge=%s stale=%s\n", st,
	       l.n ? "yes" : "no", l.n && l.c[0].stale ? "yes" : "no");
	return 0;
}

static int do_options(struct cli *c)
{
	char req[4096];
	int st;

	build_req(c, req, sizeof(req), "OPTIONS", 0, -1, NULL);
	st = cli_transact(c, req, c->cseq);
	if (st < 0) {
		printf("options status=%s\n", st == -ETIMEDOUT ? "timeout" : "error");
		return st;
	}
	printf("options status=%d\n", st);
	return 0;
}

/* RFC 5626 4.4.1: a double-CRLF ping is answered by a single CRLF. */
static int do_crlf(struct cli *c)
{
	long deadline = now_ms() + c->timeout_ms;

	if (c->tp == TP_UDP || cli_send(c, "\r\n\r\n", 4)) {
		printf("crlf status=error\n");
		return -EINVAL;
	}
	while (c->rlen < 2) {
		if (cli_fill(c, (int)(deadline - now_ms()))) {
			printf("crlf status=timeout\n");
			return -ETIMEDOUT;
		}
	}
	int pong = c->rbuf[0] == '\r' && c->rbuf[1] == '\n';
	memmove(c->rbuf, c->rbuf + 2, c->rlen - 2);
	c->rlen -= 2;
	printf("crlf status=%s\n", pong ? "pong" : "garbage");
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
"usage: sipcli [options] ACTION...\n"
"  -t, --transport udp|tcp|tls   (udp)\n"
"  -s, --server IP:PORT          the registrar\n"
"  -d, --domain NAME             domain of the AOR and Request-URI\n"
"  -n, --number E164             user part of the AOR (To/From)\n"
"  -u, --user NAME -p, --pass PW digest credentials\n"
"  -a, --alg first|MD5|SHA-256   challenge to answer (first offered)\n"
"  -e, --expires S               (600)\n"
"  -C, --contact-user NAME       user part of the Contact (the number)\n"
"      --ca FILE                 verify the TLS server with this cert\n"
"  -T, --timeout MS              per transaction (8000)\n"
"ACTIONs, run in order over one connection:\n"
"  register   REGISTER, answer the digest challenge\n"
"  badpass    the same with a wrong password\n"
"  replay     resend the last accepted Authorization unchanged\n"
"  query      authenticated REGISTER without Contact (lists bindings)\n"
"  unregister authenticated REGISTER with Expires: 0\n"
"  unregister-all  the same with Contact: * (removes this device's bindings)\n"
"  options    OPTIONS (no authentication)\n"
"  crlf       RFC 5626 keep-alive ping (TCP/TLS)\n"
"  pause      wait one second (the connection stays open)\n"
"EXAMPLES:\n"
"  sipcli -t tls -s 127.0.0.1:5061 -d dataline.local -n +8613800138000 \\\n"
"         -u 8613800138000-ab12cd34 -p SECRET register replay unregister\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "transport", 1, 0, 't' }, { "server", 1, 0, 's' },
		{ "domain", 1, 0, 'd' }, { "number", 1, 0, 'n' },
		{ "user", 1, 0, 'u' }, { "pass", 1, 0, 'p' },
		{ "alg", 1, 0, 'a' }, { "expires", 1, 0, 'e' },
		{ "contact-user", 1, 0, 'C' }, { "ca", 1, 0, 'A' },
		{ "timeout", 1, 0, 'T' }, { "help", 0, 0, 'h' }, { 0 }
	};
	static struct cli c = { .domain = "dataline.local", .alg = "first",
				.expires = 600, .timeout_ms = 8000, .fd = -1 };
	char server[64] = "", host[64], badpw[256];
	struct sockaddr_in sa;
	int o, rc = 0;

	while ((o = getopt_long(argc, argv, "t:s:d:n:u:p:a:e:C:T:h", lo, NULL)) != -1) {
		switch (o) {
		case 't':
			c.tp = !strcmp(optarg, "tls") ? TP_TLS :
			       !strcmp(optarg, "tcp") ? TP_TCP : TP_UDP;
			break;
		case 's': snprintf(server, sizeof(server), "%s", optarg); break;
		case 'd': c.domain = optarg; break;
		case 'n': c.number = optarg; break;
		case 'u': c.user = optarg; break;
		case 'p': c.pass = optarg; break;
		case 'a': c.alg = optarg; break;
		case 'e': c.expires = atoi(optarg); break;
		case 'C': c.cuser = optarg; break;
		case 'A': c.cafile = optarg; break;
		case 'T': c.timeout_ms = atoi(optarg); break;
		default: usage(); return o == 'h' ? 0 : 1;
		}
	}
	if (sipt_parse_v4(server, &sa, host, sizeof(host)) || optind >= argc ||
	    !c.number) {
		usage();
		return 1;
	}
	c.host = host;
	c.port = ntohs(sa.sin_port);
	if (!c.user)
		c.user = c.number;
	if (!c.pass)
		c.pass = "";
	snprintf(badpw, sizeof(badpw), "%s-wrong", c.pass);
	sipt_rand_hex(c.callid, 16);
	sipt_rand_hex(c.tag, 8);
	c.cseq = 1000;
	if (cli_connect(&c)) {
		printf("connect status=error\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		const char *a = argv[i];
		int err;

		if (!strcmp(a, "register"))
			err = do_register(&c, a, c.pass, 1, c.expires);
		else if (!strcmp(a, "badpass"))
			err = do_register(&c, a, badpw, 1, c.expires);
		else if (!strcmp(a, "query"))
			err = do_register(&c, a, c.pass, 0, -1);
		else if (!strcmp(a, "unregister"))
			err = do_register(&c, a, c.pass, 1, 0);
		else if (!strcmp(a, "unregister-all"))
			err = do_register(&c, a, c.pass, 2, 0);
		else if (!strcmp(a, "replay"))
			err = do_replay(&c);
		else if (!strcmp(a, "options"))
			err = do_options(&c);
		else if (!strcmp(a, "crlf"))
			err = do_crlf(&c);
		else if (!strcmp(a, "pause"))
			err = usleep(1000 * 1000) ? -errno : 0;
		else {
			fprintf(stderr, "sipcli: unknown action %s\n", a);
			return 1;
		}
		fflush(stdout);
		if (err) {
			rc = 2;
			break;
		}
	}
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	SSL_CTX_free(c.ctx);
	close(c.fd);
	return rc;
}
