/*
 * tlsload: many concurrent SIP-over-TLS clients in one process, for the
 * TLS storm test and the memory-per-connection benchmark.
 * RFC 3261 s.26 / RFC 5630 (SIP over TLS), s.22 + RFC 8760 (digest).
 *
 *   tlsload storm -s IP:PORT -n 200 -r 5      N handshakes at once, R rounds;
 *                                             each client then sends OPTIONS
 *                                             and needs its 200
 *   tlsload hold -s IP:PORT -n 5000 --users FILE
 *                                             opens N connections (a window
 *                                             of --window in flight), each
 *                                             REGISTERs with digest, then all
 *                                             stay open, idle, until stdin
 *                                             reaches EOF or SIGTERM
 *
 * One thread, non-blocking sockets, epoll, one small state machine per
 * connection (enum cstate, changed only in set_state()). The USERS file is
 * the SIPp injection file (tests/sipp/users.csv format):
 *   NUMBER;[authentication username=USER password=PASS]
 * connection i registers as user (offset + i / per-user).
 * Prints "round R ok=N failed=M" (storm) or "held ok=N failed=M" (hold).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sipt.h"

enum cstate {
	C_CONNECT,    /* non-blocking connect() in flight */
	C_HANDSHAKE,  /* SSL_connect() wants more */
	C_WAIT1,      /* first request sent, waiting for 200 (OPTIONS) or 401 */
	C_WAIT2,      /* authenticated REGISTER sent, waiting for 200 */
	C_DONE,       /* finished: idle (hold) or about to be closed (storm) */
	C_FAILED,
};

struct user { char number[32], name[96], pass[96]; };

struct conn {
	int fd;
	SSL *ssl;             /* owned */
	enum cstate st;
	int idx;
	char *rbuf;           /* owned while a response is awaited */
	size_t rlen;
	char *pending;        /* owned: bytes SSL_write must still send */
	size_t plen;
};

static struct {
	int hold, n, rounds, window, per_user, offset, timeout_s;
	struct sockaddr_in sa;
	const char *domain;
	struct user *users;
	int nusers;
	SSL_CTX *ctx;
	int ep;
	int active, ok, failed;
	volatile sig_atomic_t stop;
} g = { .n = 200, .rounds = 1, .window = 100, .per_user = 10,
	.timeout_s = 60, .domain = "dataline.local" };

#define RBUF_SZ 65536

static void set_state(struct conn *c, enum cstate st)
{
	if (c->st == st)
		return;
	if (st == C_DONE || st == C_FAILED) {
		g.active--;
		if (st == C_DONE)
			g.ok++;
		else
			g.failed++;
		free(c->rbuf);
		c->rbuf = NULL;
		free(c->pending);
		c->pending = NULL;
		epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
	}
	c->st = st;
}

static void want(struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Writes the pending request; 1 when all of it went out. */
static int flush_out(struct conn *c)
{
	int n = SSL_write(c->ssl, c->pending, (int)c->plen);

	if (n <= 0) {
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			want(c, e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN);
			return 0;
		}
		set_state(c, C_FAILED);
		return 0;
	}
	free(c->pending);
	c->pending = NULL;
	want(c, EPOLLIN);
	return 1;
}

static void send_req(struct conn *c, const char *method, const char *auth)
{
	const struct user *u = g.nusers ?
		&g.users[(g.offset + c->idx / g.per_user) % g.nusers] : NULL;
	const char *num = u ? u->number : "+10000000000";
	struct sockaddr_in la;
	socklen_t ll = sizeof(la);
	char branch[33], *m = malloc(4096);
	int n;

	getsockname(c->fd, (struct sockaddr *)&la, &ll);
	sipt_rand_hex(branch, 16);
	n = snprintf(m, 4096,
		     "%s sip:%s SIP/2.0\r\n"
		     "Via: SIP/2.0/TLS 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=t%d\r\n"
		     "To: <sip:%s@%s>\r\n"
		     "Call-ID: tlsload-%d-%d-%d\r\n"
		     "CSeq: %d %s\r\n",
		     method, g.domain, ntohs(la.sin_port), branch, num, g.domain,
		     c->idx, num, g.domain, (int)getpid(), c->idx,
		     ntohs(la.sin_port), auth ? 2 : 1, method);
	if (!strcmp(method, "REGISTER"))
		n += snprintf(m + n, 4096 - (size_t)n,
			      "Contact: <sip:%s@127.0.0.1:%d;transport=tls>\r\n"
			      "Expires: 3600\r\n", num, ntohs(la.sin_port));
	if (auth)
		n += snprintf(m + n, 4096 - (size_t)n, "Authorization: %s\r\n", auth);
	n += snprintf(m + n, 4096 - (size_t)n, "Content-Length: 0\r\n\r\n");
	free(c->pending);
	c->pending = m;
	c->plen = (size_t)n;
	if (!c->rbuf)
		c->rbuf = malloc(RBUF_SZ);
	c->rlen = 0;
	flush_out(c);
}

static void on_response(struct conn *c, const char *msg)
{
	int st = sipt_status(msg);

	if (st < 200)
		return;
	if (c->st == C_WAIT1 && st == 401 && g.hold) {
		struct sipt_chal_list l;
		const struct sipt_chal *ch = NULL;
		const struct user *u = &g.users[(g.offset + c->idx / g.per_user) % g.nusers];
		char uri[200], auth[2048];

		sipt_challenges(msg, &l);
		for (int i = 0; i < l.n && !ch; i++)  /* MD5 like most phones */
			if (!strcasecmp(l.c[i].algorithm, "MD5"))
				ch = &l.c[i];
		snprintf(uri, sizeof(uri), "sip:%s", g.domain);
		if (!ch || sipt_authorization(ch, u->name, u->pass, "REGISTER",
					      uri, 1, auth, sizeof(auth))) {
			set_state(c, C_FAILED);
			return;
		}
		set_state(c, C_WAIT2);
		send_req(c, "REGISTER", auth);
		return;
	}
	if (st == 200)
		set_state(c, C_DONE);
	else {
		if (g.failed < 5)
			fprintf(stderr, "tlsload: conn %d got %d\n", c->idx, st);
		set_state(c, C_FAILED);
	}
}

static void on_event(struct conn *c, uint32_t ev)
{
	int r;

	if (c->st == C_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			set_state(c, C_FAILED);
			return;
		}
		set_state(c, C_HANDSHAKE);
	}
	if (c->st == C_HANDSHAKE) {
		r = SSL_connect(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				want(c, EPOLLIN);
			else if (e == SSL_ERROR_WANT_WRITE)
				want(c, EPOLLOUT);
			else
				set_state(c, C_FAILED);
			return;
		}
		set_state(c, C_WAIT1);
		send_req(c, g.hold ? "REGISTER" : "OPTIONS", NULL);
		return;
	}
	if (c->pending) {
		flush_out(c);
		return;
	}
	while (c->st == C_WAIT1 || c->st == C_WAIT2) {
		r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(RBUF_SZ - 1 - c->rlen));
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return;
			set_state(c, C_FAILED);
			return;
		}
		c->rlen += (size_t)r;
		c->rbuf[c->rlen] = '\0';
		size_t ml;
		while ((c->st == C_WAIT1 || c->st == C_WAIT2) &&
		       (ml = sipt_msg_len(c->rbuf, c->rlen))) {
			char save = c->rbuf[ml];
			enum cstate before = c->st;
			c->rbuf[ml] = '\0';
			on_response(c, c->rbuf);
			if (!c->rbuf || c->st != before)
				break;
			c->rbuf[ml] = save;
			memmove(c->rbuf, c->rbuf + ml, c->rlen - ml + 1);
			c->rlen -= ml;
		}
		if (c->rlen >= RBUF_SZ - 1) {
			set_state(c, C_FAILED);
			return;
		}
	}
}

static int open_conn(struct conn *c, int idx)
{
	struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };

	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->st = C_CONNECT;
	g.active++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		c->fd = -1;
		c->st = C_FAILED;
		g.active--;
		g.failed++;
		return -errno;
	}
	if (connect(c->fd, (struct sockaddr *)&g.sa, sizeof(g.sa)) &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		c->st = C_FAILED;
		g.active--;
		g.failed++;
		return -errno;
	}
	c->ssl = SSL_new(g.ctx);
	SSL_set_fd(c->ssl, c->fd);
	epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &e);
	return 0;
}

static void close_conn(struct conn *c)
{
	if (c->fd < 0)
		return;
	if (c->ssl) {
		if (c->st == C_DONE)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->st != C_DONE && c->st != C_FAILED)
		epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
	free(c->rbuf);
	free(c->pending);
	close(c->fd);
	c->fd = -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until every connection finished, or the timeout. Opens
 * new connections while fewer than WINDOW are in flight. */
static void run(struct conn *cs, int n, int window)
{
	struct epoll_event evs[256];
	double deadline = now_s() + g.timeout_s;
	int started = 0;

	while ((g.ok + g.failed < n) && !g.stop && now_s() < deadline) {
		while (started < n && g.active < window)
			open_conn(&cs[started], started), started++;
		int k = epoll_wait(g.ep, evs, 256, 200);
		for (int i = 0; i < k; i++)
			on_event(evs[i].data.ptr, evs[i].events);
	}
	for (int i = 0; i < started; i++)
		if (cs[i].st != C_DONE && cs[i].st != C_FAILED)
			set_state(&cs[i], C_FAILED);
	g.failed += n - started;
}

static int load_users(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int cap = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct user u;
		char *p, *q;
		if (!(p = strchr(line, ';')) || !strstr(line, "username="))
			continue;
		snprintf(u.number, sizeof(u.number), "%.*s", (int)(p - line), line);
		p = strstr(line, "username=") + 9;
		q = p + strcspn(p, " ]");
		snprintf(u.name, sizeof(u.name), "%.*s", (int)(q - p), p);
		if (!(p = strstr(line, "password=")))
			continue;
		p += 9;
		q = p + strcspn(p, " ]");
		snprintf(u.pass, sizeof(u.pass), "%.*s", (int)(q - p), p);
		if (g.nusers == cap) {
			cap = cap ? cap * 2 : 256;
			g.users = realloc(g.users, (size_t)cap * sizeof(*g.users));
		}
		g.users[g.nusers++] = u;
	}
	fclose(f);
	return g.nusers ? 0 : -ENOENT;
}

static void on_signal(int s)
{
	g.stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
"usage: tlsload storm|hold -s IP:PORT [options]\n"
"  -n N            connections (per round for storm) (200)\n"
"  -r R            storm rounds (1)\n"
"  -w W            hold: connections in flight at once (100)\n"
"  -U FILE         hold: users file (SIPp injection CSV)\n"
"  -P M            hold: connections per user (10)\n"
"  -o K            hold: first user to use (0)\n"
"  -d DOMAIN       (dataline.local)\n"
"  -T SECONDS      give up after (60 per round / for the whole hold)\n"
"EXAMPLES:\n"
"  tlsload storm -s 127.0.0.1:5061 -n 200 -r 5\n"
"  tlsload hold -s 127.0.0.1:5061 -n 5000 -U users.csv -P 10 < fifo\n");
}

int main(int argc, char **argv)
{
	const char *users = NULL;
	char server[64] = "";
	int o, rc = 0;

	if (argc < 2 || (strcmp(argv[1], "storm") && strcmp(argv[1], "hold"))) {
		usage();
		return 1;
	}
	g.hold = !strcmp(argv[1], "hold");
	optind = 2;
	while ((o = getopt(argc, argv, "s:n:r:w:U:P:o:d:T:h")) != -1) {
		switch (o) {
		case 's': snprintf(server, sizeof(server), "%s", optarg); break;
		case 'n': g.n = atoi(optarg); break;
		case 'r': g.rounds = atoi(optarg); break;
		case 'w': g.window = atoi(optarg); break;
		case 'U': users = optarg; break;
		case 'P': g.per_user = atoi(optarg); break;
		case 'o': g.offset = atoi(optarg); break;
		case 'd': g.domain = optarg; break;
		case 'T': g.timeout_s = atoi(optarg); break;
		default: usage(); return 1;
		}
	}
	if (sipt_parse_v4(server, &g.sa, NULL, 0) || g.n <= 0 ||
	    g.per_user <= 0 || (g.hold && !users)) {
		usage();
		return 1;
	}
	if (users && load_users(users)) {
		fprintf(stderr, "tlsload: no users in %s\n", users);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	g.ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(g.ctx, TLS1_2_VERSION);
	/* A client holding thousands of idle connections keeps no buffers. */
	SSL_CTX_set_mode(g.ctx, SSL_MODE_RELEASE_BUFFERS);
	g.ep = epoll_create1(0);
	struct conn *cs = calloc((size_t)g.n, sizeof(*cs));

	if (!g.hold) {
		for (int r = 1; r <= g.rounds && !g.stop; r++) {
			g.ok = g.failed = g.active = 0;
			run(cs, g.n, g.n);
			printf("round %d ok=%d failed=%d\n", r, g.ok, g.failed);
			fflush(stdout);
			if (g.failed)
				rc = 2;
			for (int i = 0; i < g.n; i++)
				close_conn(&cs[i]);
		}
	} else {
		run(cs, g.n, g.window);
		printf("held ok=%d failed=%d\n", g.ok, g.failed);
		fflush(stdout);
		if (g.failed)
			rc = 2;
		/* Hold until stdin closes or a signal. */
		char b[64];
		while (!g.stop && read(0, b, sizeof(b)) > 0)
			;
		for (int i = 0; i < g.n; i++)
			close_conn(&cs[i]);
	}
	free(cs);
	free(g.users);
	SSL_CTX_free(g.ctx);
	close(g.ep);
	return rc;
}
