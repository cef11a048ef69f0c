/*
 * msgload: an open-loop load generator for texts that keeps up with
 * 10,000/s on a 2-CPU machine where SIPp (one process, one socket) does
 * not (docs/bench.md, "Open loop"). Each call is exactly what
 * tests/sipp/message_auth.xml does: MESSAGE (RFC 3428), its 407 challenge,
 * the MESSAGE again with Proxy-Authorization (RFC 3261 s.22.3, MD5 or
 * SHA-256, qop=auth, nc=1: a new challenge per call), and its final
 * answer. New calls start at a fixed rate whatever the answers (open
 * loop); unanswered requests are retransmitted as RFC 3261 timer E says
 * (500 ms doubling to 4 s) and given up after timer F (32 s). One UDP
 * socket, so every packet has the same 4-tuple, as one SIPp process.
 *
 * usage: msgload -s SERVER_IP:PORT -l LOCAL_IP:PORT -f SENDERS.csv
 *                -r RATE -n CALLS [-d DOMAIN]
 * SENDERS.csv: SIPp's injection file for message_auth.xml (first line
 * "SEQUENTIAL", then "FROM;[authentication username=U password=P];TO").
 * Prints one line at the end:
 *   calls=N ok=N failed=N retrans=N secs=S rate=R p50_us=A p99_us=B max_us=M
 * where the response times are those of every transaction (the first
 * request to its challenge, the authenticated one to its final answer, as
 * SIPp's -trace_rtt), taken from the first send of the request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sipt.h"

#define T1 0.5
#define T2 4.0
#define TF 32.0

struct acct { char from[32], user[128], pass[128], to[32]; };

struct call {
	double t0;          /* first send of the current request */
	double next;        /* next retransmission */
	double iv;          /* current interval */
	int stage;          /* 0 not started, 1 first sent, 2 auth sent, 3 done */
	int ok;
	unsigned short len;
	char *msg;          /* current request, for retransmissions */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load_accts(const char *path, struct acct **out)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0, cap = 0;
	struct acct *v = NULL;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct acct a = { 0 };

		if (sscanf(line, "%31[^;];[authentication username=%127s password=%127[^]]];%31[^;\r\n]",
			   a.from, a.user, a.pass, a.to) != 4)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = realloc(v, (size_t)cap * sizeof(*v));
			if (!v)
				return -1;
		}
		v[n++] = a;
	}
	fclose(f);
	*out = v;
	return n;
}

static int cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static const char *g_domain = "dataline.local";
static char g_lip[64];
static int g_lport;

/* Builds call I's request (CSEQ 1 plain, 2 with AUTH) into a new buffer. */
static char *build(int i, const struct acct *a, int cseq, const char *auth,
		   unsigned short *len)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf),
			 "MESSAGE sip:%s@%s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-ml%d-%d;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:%s@%s>;tag=ml%d\r\n"
			 "To: <sip:%s@%s>\r\n"
			 "Call-ID: ml-%d@msgload\r\n"
			 "CSeq: %d MESSAGE\r\n"
			 "%s%s%s"
			 "Content-Type: text/plain\r\n"
			 "Content-Length: 15\r\n\r\n"
			 "hello from load",
			 a->to, g_domain, g_lip, g_lport, i, cseq, a->from, g_domain,
			 i, a->to, g_domain, i, cseq,
			 auth ? "Proxy-Authorization: " : "", auth ? auth : "",
			 auth ? "\r\n" : "");
	char *m;

	if (n <= 0 || (size_t)n >= sizeof(buf) || !(m = malloc((size_t)n)))
		return NULL;
	memcpy(m, buf, (size_t)n);
	*len = (unsigned short)n;
	return m;
}

static void hdr_copy(const char *val, void *arg)
{
	snprintf(arg, 128, "%s", val);
}

int main(int argc, char **argv)
{
	const char *server = NULL, *local = NULL, *file = NULL;
	long rate = 0, ncalls = 0, started = 0, done = 0, okc = 0, failed = 0,
	     retrans = 0, lo = 0, nlat = 0;
	struct sockaddr_in srv, me;
	struct acct *accts;
	struct call *calls;
	unsigned *lat;
	double t0, tend = 0, last_scan = 0;
	char buf[65536];
	int opt, fd, na;

	while ((opt = getopt(argc, argv, "s:l:f:r:n:d:")) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'l': local = optarg; break;
		case 'f': file = optarg; break;
		case 'r': rate = atol(optarg); break;
		case 'n': ncalls = atol(optarg); break;
		case 'd': g_domain = optarg; break;
		default: goto usage;
		}
	}
	if (!server || !local || !file || rate <= 0 || ncalls <= 0 ||
	    sipt_parse_v4(server, &srv, NULL, 0) ||
	    sipt_parse_v4(local, &me, g_lip, sizeof(g_lip)))
		goto usage;
	g_lport = ntohs(me.sin_port);
	na = load_accts(file, &accts);
	if (na <= 0) {
		fprintf(stderr, "msgload: no accounts in %s\n", file);
		return 1;
	}
	calls = calloc((size_t)ncalls, sizeof(*calls));
	lat = calloc((size_t)ncalls * 2, sizeof(*lat));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int bufsz = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (!calls || !lat || fd < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) ||
	    connect(fd, (struct sockaddr *)&srv, sizeof(srv))) {
		perror("msgload");
		return 1;
	}
	t0 = mono();
	while (done < ncalls) {
		double now = mono();
		long due = (long)((now - t0) * (double)rate);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		/* new calls, at the offered rate */
		for (; started < ncalls && started < due; started++) {
			struct call *c = &calls[started];

			c->msg = build((int)started, &accts[started % na], 1, NULL, &c->len);
			if (!c->msg) {
				c->stage = 3;
				done++;
				failed++;
				continue;
			}
			c->t0 = now;
			c->iv = T1;
			c->next = now + T1;
			c->stage = 1;
			if (send(fd, c->msg, c->len, 0) < 0 && errno != EAGAIN)
				perror("msgload: send");
		}
		/* retransmissions and timer F, every 10 ms */
		if (now - last_scan >= 0.01) {
			last_scan = now;
			while (lo < started && calls[lo].stage == 3)
				lo++;
			for (long i = lo; i < started; i++) {
				struct call *c = &calls[i];

				if (c->stage == 3 || c->next > now)
					continue;
				if (now - c->t0 >= TF) {
					c->stage = 3;
					done++;
					failed++;
					free(c->msg);
					c->msg = NULL;
					continue;
				}
				send(fd, c->msg, c->len, 0);
				retrans++;
				c->iv = c->iv * 2 > T2 ? T2 : c->iv * 2;
				c->next = now + c->iv;
			}
		}
		if (poll(&p, 1, 1) <= 0)
			continue;
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
			char cid[128] = "", cseq[128] = "";
			struct call *c;
			int st;
			long i;

			if (n <= 0)
				break;
			buf[n] = '\0';
			now = mono();
			st = sipt_status(buf);
			sipt_headers(buf, "Call-ID", "i", hdr_copy, cid);
			sipt_headers(buf, "CSeq", NULL, hdr_copy, cseq);
			if (st < 200 || sscanf(cid, "ml-%ld@", &i) != 1 || i < 0 ||
			    i >= started)
				continue;
			c = &calls[i];
			if ((c->stage == 1 && atoi(cseq) != 1) ||
			    (c->stage == 2 && atoi(cseq) != 2) || c->stage == 3)
				continue; /* a late answer to an earlier request */
			lat[nlat++] = (unsigned)((now - c->t0) * 1e6);
			if (c->stage == 1 && st == 407) {
				struct sipt_chal_list l = { .n = 0 };
				const struct acct *a = &accts[i % na];
				char uri[300], auth[2200];

				sipt_headers(buf, "Proxy-Authenticate", NULL, sipt_chal_cb, &l);
				snprintf(uri, sizeof(uri), "sip:%s@%s", a->to, g_domain);
				free(c->msg);
				c->msg = NULL;
				if (l.n < 1 || sipt_authorization(&l.c[0], a->user, a->pass,
								  "MESSAGE", uri, 1, auth,
								  sizeof(auth)) ||
				    !(c->msg = build((int)i, a, 2, auth, &c->len))) {
					c->stage = 3;
					done++;
					failed++;
					continue;
				}
				c->stage = 2;
				c->t0 = now;
				c->iv = T1;
				c->next = now + T1;
				send(fd, c->msg, c->len, 0);
				continue;
			}
			c->stage = 3;
			done++;
			if (st >= 200 && st < 300)
				okc++;
			else
				failed++;
			free(c->msg);
			c->msg = NULL;
			tend = now;
		}
	}
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_u);
	printf("calls=%ld ok=%ld failed=%ld retrans=%ld secs=%.3f rate=%.0f "
	       "p50_us=%u p99_us=%u max_us=%u\n", ncalls, okc, failed, retrans,
	       tend - t0, tend > t0 ? (double)okc / (tend - t0) : 0,
	       nlat ? lat[(nlat - 1) * 50 / 100] : 0,
	       nlat ? lat[(nlat - 1) * 99 / 100] : 0, nlat ? lat[nlat - 1] : 0);
	return 0;
usage:
	fprintf(stderr, "usage: msgload -s SERVER_IP:PORT -l LOCAL_IP:PORT -f SENDERS.csv "
			"-r RATE -n CALLS [-d DOMAIN]\n");
	return 1;
}
