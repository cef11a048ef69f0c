/* tgen: traffic generator and sink for the netq tests and benchmarks.
 * UDP (RFC 768) and TCP (RFC 9293) over IPv4 sockets; no protocol of its
 * own. A sender either saturates (blocks on the socket buffer, so a shaped
 * link sets the pace) or paces itself to --kbps; it stops after --seconds
 * or --count packets/writes and prints what it sent; a sink prints what it
 * received. Lines printed are "key value" pairs that shell tests can parse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sipt.h"

static const char usage[] =
"usage: tgen udp-send ADDR:PORT [--seconds S] [--count N] [--size BYTES] [--kbps R] [--sndbuf B]\n"
"       tgen udp-sink ADDR:PORT [--seconds S] [--idle-ms MS]\n"
"       tgen tcp-send ADDR:PORT [--seconds S] [--size BYTES] [--kbps R]\n"
"       tgen tcp-sink ADDR:PORT [--seconds S]\n"
"Senders saturate unless --kbps is given. --size is the UDP payload or the TCP\n"
"write size. A UDP sink stops after --seconds, or --idle-ms with no packet once\n"
"one has arrived. A TCP sink accepts one connection and reads until EOF.\n"
"Output: 'packets N', 'bytes N', 'seconds F' lines.\n"
"EXAMPLES\n"
"  tgen udp-sink 198.18.0.2:21000 --seconds 5 &\n"
"  tgen udp-send 198.18.0.2:21000 --seconds 4 --size 1400\n"
"  tgen tcp-send 198.18.0.2:21001 --seconds 10 --kbps 2000\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = {.tv_sec = (time_t)t,
			      .tv_nsec = (long)((t - (time_t)t) * 1e9)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	return sipt_parse_v4(s, sa, NULL, 0);
}

struct opts {
	double seconds, kbps;
	long count, size, sndbuf, idle_ms;
};

static void report(long pkts, long long bytes, double secs)
{
	printf("packets %ld\nbytes %lld\nseconds %.3f\n", pkts, bytes, secs);
	if (secs > 0)
		printf("kbps %.1f\n", bytes * 8 / secs / 1000);
}

static int udp_send(const struct sockaddr_in *dst, const struct opts *o)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char *buf = calloc(1, o->size);
	long n = 0;
	long long bytes = 0;
	double t0 = now_s(), t;

	if (fd < 0 || !buf || connect(fd, (const struct sockaddr *)dst, sizeof(*dst)))
		return perror("tgen udp-send"), 1;
	if (o->sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof(o->sndbuf));
	while ((t = now_s()) - t0 < o->seconds && (!o->count || n < o->count)) {
		if (o->kbps > 0)
			sleep_until(t0 + bytes * 8 / (o->kbps * 1000));
		memcpy(buf, &n, sizeof(n) < (size_t)o->size ? sizeof(n) : (size_t)o->size);
		if (send(fd, buf, o->size, 0) < 0) {
			if (errno == ENOBUFS || errno == ECONNREFUSED || errno == EINTR)
				continue;
			perror("tgen send");
			break;
		}
		n++;
		bytes += o->size;
	}
	report(n, bytes, now_s() - t0);
	close(fd);
	free(buf);
	return 0;
}

static int udp_sink(const struct sockaddr_in *at, const struct opts *o)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	static char buf[65536];
	long n = 0;
	long long bytes = 0;
	double t0 = now_s(), first = 0, last = 0;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (const struct sockaddr *)at, sizeof(*at)))
		return perror("tgen udp-sink"), 1;
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double t = now_s();
		if (t - t0 >= o->seconds || (n && t - last > o->idle_ms / 1000.0))
			break;
		if (poll(&p, 1, 20) <= 0)
			continue;
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0)
			continue;
		last = now_s();
		if (!n)
			first = last;
		n++;
		bytes += r;
	}
	report(n, bytes, n > 1 ? last - first : 0);
	close(fd);
	return 0;
}

static int tcp_send(const struct sockaddr_in *dst, const struct opts *o)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *buf = calloc(1, o->size);
	long n = 0;
	long long bytes = 0;
	double t0, t;

	if (fd < 0 || !buf || connect(fd, (const struct sockaddr *)dst, sizeof(*dst)))
		return perror("tgen tcp-send"), 1;
	t0 = now_s();
	while ((t = now_s()) - t0 < o->seconds) {
		if (o->kbps > 0)
			sleep_until(t0 + bytes * 8 / (o->kbps * 1000));
		ssize_t w = write(fd, buf, o->size);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("tgen write");
			break;
		}
		n++;
		bytes += w;
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, o->size) > 0)
		;
	report(n, bytes, now_s() - t0);
	close(fd);
	free(buf);
	return 0;
}

static int tcp_sink(const struct sockaddr_in *at, const struct opts *o)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd, one = 1;
	static char buf[65536];
	long long bytes = 0;
	double t0;
	ssize_t r;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (const struct sockaddr *)at, sizeof(*at)) ||
	    listen(lfd, 1))
		return perror("tgen tcp-sink"), 1;
	printf("listening\n");
	fflush(stdout);
	alarm((unsigned)o->seconds + 1);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return perror("tgen accept"), 1;
	t0 = now_s();
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		bytes += r;
	report(0, bytes, now_s() - t0);
	close(fd);
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"seconds", required_argument, 0, 's'}, {"count", required_argument, 0, 'c'},
		{"size", required_argument, 0, 'z'}, {"kbps", required_argument, 0, 'k'},
		{"sndbuf", required_argument, 0, 'b'}, {"idle-ms", required_argument, 0, 'i'},
		{"help", no_argument, 0, 'h'}, {0}};
	struct opts o = {.seconds = 5, .size = 1400, .idle_ms = 500};
	struct sockaddr_in sa;
	const char *mode;
	int c;

	/* GNU getopt permutes: options may come before or after the operands. */
	while ((c = getopt_long(argc, argv, "s:c:z:k:b:i:h", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.seconds = atof(optarg); break;
		case 'c': o.count = atol(optarg); break;
		case 'z': o.size = atol(optarg); break;
		case 'k': o.kbps = atof(optarg); break;
		case 'b': o.sndbuf = atol(optarg); break;
		case 'i': o.idle_ms = atol(optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (argc - optind != 2 || parse_addr(argv[optind + 1], &sa) || o.size < 1 ||
	    o.size > (1 << 20)) {
		fputs(usage, stderr);
		return 2;
	}
	if (o.count)
		o.seconds = 1e9;
	mode = argv[optind];
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(mode, "udp-send"))
		return udp_send(&sa, &o);
	if (!strcmp(mode, "udp-sink"))
		return udp_sink(&sa, &o);
	if (!strcmp(mode, "tcp-send"))
		return tcp_send(&sa, &o);
	if (!strcmp(mode, "tcp-sink"))
		return tcp_sink(&sa, &o);
	fputs(usage, stderr);
	return 2;
}
