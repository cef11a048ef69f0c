/*
 * msgsink: a SIP device that registers (RFC 3261 s.10, digest s.22: the
 * 401 or 407 answered with MD5/SHA-256, qop=auth) over UDP and then
 * answers every request it gets with 200 (MESSAGE, RFC 3428; OPTIONS
 * keep-alives), counting the MESSAGEs and timing them: a body carrying
 * "ts=SECONDS USECONDS" (tests/sipp/message_auth.xml stamps it with the
 * wall clock just before the authenticated MESSAGE leaves SIPp) gives the
 * latency from the sender's request to this receipt (same machine, same
 * CLOCK_REALTIME). For tests/bench/server_delivery.sh.
 *
 * usage: msgsink -s SERVER_IP:PORT -l LOCAL_IP:PORT -n +NUMBER -u USER
 *                -p PASS [-d DOMAIN] [-e EXPIRES]
 * Prints "registered" once the REGISTER got its 200 (exit 2 if it does
 * not within 10 s). Then, on SIGUSR1, one line of the MESSAGEs got since
 * the last report and starts counting afresh:
 *   count=N dup=D stamped=S secs=T rate=R p50_us=A p90_us=B p99_us=C max_us=M
 *   first=WALL last=WALL
 * (secs: first to last receipt, first/last their wall-clock times, so
 * that several sinks can be summed; rate = N / secs; dup: a MESSAGE whose
 * Call-ID+CSeq is the one just before it, i.e. a retransmission), and the
 * same on SIGTERM or SIGINT before it exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sipt.h"

#define MAX_SAMPLES (4u << 20)

static volatile sig_atomic_t want_report, want_exit;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		want_report = 1;
	else
		want_exit = 1;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct hdr_acc {
	char *out;
	size_t cap, len;
	const char *name;
	int add_tag;
};

static void put_hdr(const char *val, void *arg)
{
	struct hdr_acc *a = arg;
	int n = snprintf(a->out + a->len, a->cap - a->len, "%s: %s%s\r\n",
			 a->name, val,
			 a->add_tag && !strstr(val, ";tag=") ? ";tag=msgsink" : "");

	if (n > 0 && (size_t)n < a->cap - a->len)
		a->len += (size_t)n;
}

/* The 200 answering request REQ into OUT; its length. */
static size_t answer(const char *req, char *out, size_t cap)
{
	struct hdr_acc a = { out, cap, 0, NULL, 0 };

	a.len = (size_t)snprintf(out, cap, "SIP/2.0 200 OK\r\n");
	a.name = "Via";
	sipt_headers(req, "Via", "v", put_hdr, &a);
	a.name = "From";
	sipt_headers(req, "From", "f", put_hdr, &a);
	a.name = "To";
	a.add_tag = 1;
	sipt_headers(req, "To", "t", put_hdr, &a);
	a.add_tag = 0;
	a.name = "Call-ID";
	sipt_headers(req, "Call-ID", "i", put_hdr, &a);
	a.name = "CSeq";
	sipt_headers(req, "CSeq", NULL, put_hdr, &a);
	a.len += (size_t)snprintf(out + a.len, cap - a.len,
				  "Content-Length: 0\r\n\r\n");
	return a.len < cap ? a.len : cap;
}

struct stats {
	unsigned long count, dup, stamped;
	double first, last, wfirst, wlast;
	unsigned *lat_us;
	unsigned long n;
};

static int cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static void report(struct stats *s)
{
	double secs = s->count > 1 ? s->last - s->first : 0;
	unsigned p50 = 0, p90 = 0, p99 = 0, mx = 0;

	if (s->n) {
		qsort(s->lat_us, s->n, sizeof(unsigned), cmp_u);
		p50 = s->lat_us[(s->n - 1) * 50 / 100];
		p90 = s->lat_us[(s->n - 1) * 90 / 100];
		p99 = s->lat_us[(s->n - 1) * 99 / 100];
		mx = s->lat_us[s->n - 1];
	}
	printf("count=%lu dup=%lu stamped=%lu secs=%.3f rate=%.0f p50_us=%u "
	       "p90_us=%u p99_us=%u max_us=%u first=%.6f last=%.6f\n",
	       s->count, s->dup, s->stamped, secs,
	       secs > 0 ? (double)(s->count - 1) / secs : 0, p50, p90, p99, mx,
	       s->count ? s->wfirst : 0, s->count ? s->wlast : 0);
	fflush(stdout);
	s->count = s->dup = s->stamped = s->n = 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: msgsink -s SERVER_IP:PORT -l LOCAL_IP:PORT "
			"-n +NUMBER -u USER -p PASS [-d DOMAIN] [-e EXPIRES]\n");
	exit(1);
}

static void get_hdr_cb(const char *val, void *arg)
{
	snprintf(arg, 256, "%s", val);
}

int main(int argc, char **argv)
{
	const char *server = NULL, *local = NULL, *number = NULL, *user = NULL,
		   *pass = NULL, *domain = "dataline.local";
	int expires = 3600, opt, fd, registered = 0, cseq = 1;
	struct sockaddr_in srv, me;
	char lip[64], callid[40], tag[20], ruri[300], auth[2200] = "";
	char req[4096], buf[65536], out[8192], last_key[512] = "";
	double reg_deadline, next_send = 0;
	struct stats st = { 0 };
	struct sigaction sa = { .sa_handler = on_sig };

	while ((opt = getopt(argc, argv, "s:l:n:u:p:d:e:")) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'l': local = optarg; break;
		case 'n': number = optarg; break;
		case 'u': user = optarg; break;
		case 'p': pass = optarg; break;
		case 'd': domain = optarg; break;
		case 'e': expires = atoi(optarg); break;
		default: usage();
		}
	}
	if (!server || !local || !number || !user || !pass ||
	    sipt_parse_v4(server, &srv, NULL, 0) ||
	    sipt_parse_v4(local, &me, lip, sizeof(lip)))
		usage();
	st.lat_us = malloc(MAX_SAMPLES * sizeof(unsigned));
	if (!st.lat_us)
		return 1;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	int rcvbuf = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me))) {
		perror("msgsink: bind");
		return 1;
	}
	sipt_rand_hex(callid, 16);
	sipt_rand_hex(tag, 8);
	snprintf(ruri, sizeof(ruri), "sip:%s", domain);
	reg_deadline = mono() + 10;

	while (!want_exit) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (!registered && mono() > reg_deadline) {
			fprintf(stderr, "msgsink: no 200 to REGISTER in 10 s\n");
			return 2;
		}
		if (!registered && mono() >= next_send) {
			int len = snprintf(req, sizeof(req),
				"REGISTER %s SIP/2.0\r\n"
				"Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s%d;rport\r\n"
				"Max-Forwards: 70\r\n"
				"From: <sip:%s@%s>;tag=%s\r\n"
				"To: <sip:%s@%s>\r\n"
				"Call-ID: %s\r\n"
				"CSeq: %d REGISTER\r\n"
				"Contact: <sip:%s@%s:%d;transport=udp>\r\n"
				"%s"
				"Expires: %d\r\n"
				"User-Agent: msgsink\r\n"
				"Content-Length: 0\r\n\r\n",
				ruri, lip, ntohs(me.sin_port), callid, cseq,
				number, domain, tag, number, domain, callid,
				cseq, number, lip, ntohs(me.sin_port), auth,
				expires);
			sendto(fd, req, (size_t)len, 0, (struct sockaddr *)&srv,
			       sizeof(srv));
			next_send = mono() + 0.5;
		}
		if (want_report) {
			want_report = 0;
			report(&st);
		}
		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf) - 1, 0,
			     (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		int status = sipt_status(buf);
		if (status >= 0) {
			if (registered)
				continue;
			if (status == 401 || status == 407) {
				struct sipt_chal_list l = { .n = 0 };
				char val[2048];
				if (status == 401)
					sipt_challenges(buf, &l);
				else
					sipt_headers(buf, "Proxy-Authenticate",
						     NULL, sipt_chal_cb, &l);
				if (!l.n || sipt_authorization(&l.c[0], user,
						pass, "REGISTER", ruri, 1, val,
						sizeof(val))) {
					fprintf(stderr, "msgsink: cannot answer "
						"the challenge\n");
					return 2;
				}
				snprintf(auth, sizeof(auth), "%s: %s\r\n",
					 status == 401 ? "Authorization"
						       : "Proxy-Authorization",
					 val);
				cseq++;
				next_send = 0;
			} else if (status == 200) {
				registered = 1;
				printf("registered\n");
				fflush(stdout);
			} else if (status >= 300) {
				fprintf(stderr, "msgsink: REGISTER got %d\n",
					status);
				return 2;
			}
			continue;
		}
		/* a request: answer 200 */
		size_t alen = answer(buf, out, sizeof(out));
		sendto(fd, out, alen, 0, (struct sockaddr *)&from, fl);
		if (strncmp(buf, "MESSAGE ", 8))
			continue;
		char cid[256] = "", cs[256] = "", key[512];
		sipt_headers(buf, "Call-ID", "i", get_hdr_cb, cid);
		sipt_headers(buf, "CSeq", NULL, get_hdr_cb, cs);
		snprintf(key, sizeof(key), "%s|%s", cid, cs);
		if (!strcmp(key, last_key)) {
			st.dup++;
			continue;
		}
		snprintf(last_key, sizeof(last_key), "%s", key);
		double now = mono(), wnow = wall();
		if (!st.count) {
			st.first = now;
			st.wfirst = wnow;
		}
		st.last = now;
		st.wlast = wnow;
		st.count++;
		const char *body = strstr(buf, "\r\n\r\n");
		const char *ts = body ? strstr(body, "ts=") : NULL;
		if (ts) {
			char *end;
			double s = strtod(ts + 3, &end);
			double us = strtod(end, NULL);
			double lat = wnow - (s + us / 1e6);
			if (s > 0 && lat >= 0 && st.n < MAX_SAMPLES) {
				st.lat_us[st.n++] = (unsigned)(lat * 1e6);
				st.stamped++;
			}
		}
	}
	report(&st);
	return 0;
}
