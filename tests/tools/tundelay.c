/* tundelay: a user-space packet delay line on a TUN device, for tests.
 *
 * netem (and fq, needed for EDT delays) are not built into the kernels we
 * test on, so a fixed delay is added in user space instead. In a middle
 * namespace, policy routing sends every forwarded IPv4 packet into the TUN
 * device; this program reads each packet, holds it --delay-ms, and writes
 * it back, so it re-enters the stack (iif tun) and is routed on to its
 * destination. Every pass through the middle namespace adds the delay, so
 * a round trip A -> B -> A gets twice the delay. scripts/netns.sh sets up the
 * routes. Packets keep their order; if the queue is full they are dropped.
 * No RFC (IPv4 packets are forwarded untouched).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "tool_netns.h"

#define QLEN 16384
#define PKTMAX 2048

struct slot {
	long long due_ns;
	int len;
	unsigned char data[PKTMAX];
};

static const char usage[] =
"usage: tundelay [--netns NAME] [--dev NAME] --delay-ms MS\n"
"Creates TUN device NAME (default dly0) and delays every packet written to\n"
"it by MS milliseconds before handing it back to the stack. Runs until killed.\n"
"EXAMPLE\n"
"  tundelay --netns n2rtt-m --dev dly0 --delay-ms 10 &\n";

static volatile sig_atomic_t stop;
static void on_signal(int s) { stop = s; }

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int tun_open(const char *dev)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"netns", required_argument, 0, 'n'}, {"dev", required_argument, 0, 'd'},
		{"delay-ms", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'},
		{0}};
	const char *netns = NULL, *dev = "dly0";
	long long delay_ns = -1, dropped = 0;
	struct slot *q;
	unsigned head = 0, tail = 0; /* q[head..tail) are waiting */
	int c, fd, err;

	while ((c = getopt_long(argc, argv, "n:d:m:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': netns = optarg; break;
		case 'd': dev = optarg; break;
		case 'm': delay_ns = (long long)(atof(optarg) * 1e6); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (delay_ns < 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (netns && (err = enter_netns(netns))) {
		fprintf(stderr, "tundelay: netns %s: %s\n", netns, strerror(-err));
		return 1;
	}
	fd = tun_open(dev);
	if (fd < 0) {
		fprintf(stderr, "tundelay: %s: %s\n", dev, strerror(-fd));
		return 1;
	}
	q = calloc(QLEN, sizeof(*q));
	if (!q)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct timespec to = {.tv_sec = 1}, *top = &to;
		long long t = now_ns();

		/* Hand back everything that is due, oldest first. */
		while (head != tail && q[head % QLEN].due_ns <= t) {
			struct slot *s = &q[head % QLEN];
			if (write(fd, s->data, s->len) < 0 && errno == EAGAIN)
				break;
			head++;
		}
		if (head != tail) {
			long long wait = q[head % QLEN].due_ns - t;
			if (wait < 0)
				wait = 0;
			to.tv_sec = wait / 1000000000LL;
			to.tv_nsec = wait % 1000000000LL;
		}
		if (ppoll(&p, 1, top, NULL) <= 0)
			continue;
		for (;;) {
			struct slot *s = &q[tail % QLEN];
			ssize_t r;
			if (tail - head >= QLEN) {
				unsigned char junk[PKTMAX];
				if (read(fd, junk, sizeof(junk)) < 0)
					break;
				dropped++;
				continue;
			}
			r = read(fd, s->data, PKTMAX);
			if (r <= 0)
				break;
			s->len = (int)r;
			s->due_ns = now_ns() + delay_ns;
			tail++;
		}
	}
	fprintf(stderr, "tundelay: stopped, %lld dropped (queue full)\n", dropped);
	free(q);
	close(fd);
	return 0;
}
