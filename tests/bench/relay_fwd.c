/*
 * relay_fwd: the media relay benchmark (issue 9): our io_uring relay
 * (server/relay) and rtpengine (userspace forwarding, its ng control
 * protocol: bencoded dicts over UDP) carry the same RTP traffic, run after
 * run in one process's life. N calls, each with a flow one way (A->B) or
 * both ways; packets of 100 bytes (an RTP header, RFC 3550, and 88 bytes:
 * the size of SRTP-protected Opus at 20 ms) sent with sendmmsg at a fixed
 * total rate (0: as fast as the generator can) from A's and B's sockets to
 * the relay, which forwards them to the other side's sockets. The payload
 * carries the flow, the run and the CLOCK_REALTIME send time; the sink
 * takes the kernel's receive timestamp (SO_TIMESTAMPNS, same clock, same
 * host), so the one-way delay is exact and excludes the sink's own
 * scheduling. Each rate is first run straight generator->sink ("direct"),
 * the baseline the relays' delays are compared with.
 *
 * Our relay runs in a child process (relay_new + relay_open per call, the
 * ports back through a pipe); rtpengine is a daemon the caller started
 * (its ng address and pid given). A relay's CPU time is utime+stime of
 * its process (/proc/PID/stat, all threads) over the run and the drain.
 *
 * Prints one line per contender and rate:
 *   run=NAME rate=R sent= recv= lost= sinkdrop= secs= cpu= pps_cpu=
 *   p50_us= p99_us= gencpu= rqwait_ms= stuck=
 * (stuck: flows that forward nothing in a short check right after the
 * run, i.e. a relay the overload left wedged; rqwait_ms: the time the
 * relay's threads were runnable but waited for a CPU, from schedstat)
 * Exit 2 (and a message) if a relay cannot be set up or forwards nothing
 * for some flow in the check before the runs: never a made-up figure.
 *
 * Each rate is run ROUNDS times, the contenders alternating in each round
 * (direct, ours, rtpengine), so that a burst of load from elsewhere on a
 * shared machine hits one round, not one contender.
 *
 * usage: relay_fwd [-n CALLS] [-d SECS] [-r "RATES"] [-R ROUNDS] [-1]
 *   [-s SOCKS] [-b BURST] [-g GENPORT] [-o PORTMIN:PORTMAX]
 *   [-e NGPORT -p RTPENGINE_PID] [-c RELAYCPU] [-C DRIVERCPU] [-P FIFOPRIO]
 * BURST: packets per sendmmsg when paced (4): the generator sleeps until
 * that many are due, so the relay sees small bursts, not a smooth stream.
 * RELAYCPU: our relay's child process (all its threads) is pinned to that
 * CPU; DRIVERCPU: this process (generator and sink) to that one. The
 * caller pins rtpengine the same way (taskset), so both relays get a CPU
 * of their own, as a production relay has.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../server/relay/relay.h"

#define PKT 100               /* RTP header + 88 bytes */
#define BATCH 64
#define HMAX 200000           /* delay histogram: 1 us buckets to 200 ms */
#define MAXF 8192
#define MAXS 64

static int ncalls = 200, nsock = 4, both = 1, nflows, burst = 4, rounds = 1;
static double secs = 5;
static uint16_t genport = 29301;
static int relay_cpu = -1, driver_cpu = -1; /* -c, -C: -1 not pinned */
static int relay_prio;                    /* -P: SCHED_FIFO priority, 0 none */
static int sfd[2 * MAXS];                 /* A sockets, then B sockets */
static int flow_call[MAXF], flow_dir[MAXF];
static uint16_t flow_seq[MAXF];
static uint32_t flow_ts[MAXF];

/* receiver state: written by the receiver thread, read after join */
static _Atomic int rx_stop;
static uint32_t rx_run;
static uint64_t rx_count, rx_flow[MAXF];
static uint32_t hist[HMAX];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "relay_fwd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static uint64_t clk(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct sockaddr_in lo(uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port),
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

/* Side SIDE's (0 A, 1 B) socket of call I. */
static int sock_of(int side, int i) { return side * nsock + i % nsock; }
static uint16_t port_of(int side, int i) { return (uint16_t)(genport + sock_of(side, i)); }

/* ------------------------------------------------------------ CPU time */

static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		die("%s: %s (did the relay die?)", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		die("%s: unreadable", path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Time the threads of PID spent runnable but waiting for a CPU, summed
 * (/proc/PID/task/TID/schedstat: on-CPU ns, run-queue wait ns, slices):
 * what a relay thread loses to other work on its CPU. */
static uint64_t proc_wait_ns(pid_t pid)
{
	char path[96];
	struct dirent *e;
	uint64_t sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		unsigned long long run, wait;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/schedstat", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu %llu", &run, &wait) == 2)
			sum += wait;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Drops counted by the kernel on the sink sockets (/proc/net/udp). */
static uint64_t sink_drops(void)
{
	char line[512];
	uint64_t sum = 0;
	FILE *f = fopen("/proc/net/udp", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned port;
		char *last;

		if (sscanf(line, " %*d: %*x:%x", &port) != 1)
			continue;
		if (port < genport || port >= genport + 2u * (unsigned)nsock)
			continue;
		last = strrchr(line, ' ');
		if (last)
			sum += strtoull(last + 1, NULL, 10);
	}
	fclose(f);
	return sum;
}

/* Pins process PID (0: this one), all its threads, to CPU; -1 leaves it. */
static void pin(pid_t pid, int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(pid, sizeof(set), &set))
		die("pin to CPU %d: %s", cpu, strerror(errno));
}

/* ------------------------------------------------------------ sockets */

static void sockets_open(void)
{
	int one = 1, big = 4 << 20;

	for (int i = 0; i < 2 * nsock; i++) {
		struct sockaddr_in sa = lo((uint16_t)(genport + i));

		sfd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sfd[i] < 0 || bind(sfd[i], (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("bind 127.0.0.1:%d: %s", genport + i, strerror(errno));
		setsockopt(sfd[i], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
		if (setsockopt(sfd[i], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
			setsockopt(sfd[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	/* flows in the order of their source socket, so that a batch of
	 * consecutive flows mostly shares one sendmmsg */
	nflows = 0;
	for (int s = 0; s < (both ? 2 : 1) * nsock; s++)
		for (int i = s % nsock; i < ncalls; i += nsock) {
			flow_call[nflows] = i;
			flow_dir[nflows++] = s / nsock;
		}
}

/* ------------------------------------------------------------ receiver */

static void rx_packet(const uint8_t *p, size_t len, uint64_t rx_ns)
{
	uint32_t f, run;
	uint64_t tx, d;

	if (len < 28)
		return;
	memcpy(&f, p + 12, 4);
	memcpy(&run, p + 16, 4);
	memcpy(&tx, p + 20, 8);
	if (run != rx_run || f >= (uint32_t)nflows)
		return;             /* a straggler of an earlier run */
	rx_count++;
	rx_flow[f]++;
	d = rx_ns > tx ? (rx_ns - tx) / 1000 : 0;
	hist[d < HMAX ? d : HMAX - 1]++;
}

static void rx_drain(int fd)
{
	static uint8_t buf[BATCH][256];
	static char ctl[BATCH][64];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];

	for (;;) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
			mm[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
							 .msg_control = ctl[i],
							 .msg_controllen = sizeof(ctl[i]) };
		}
		n = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct cmsghdr *c;
			uint64_t rx = 0;

			for (c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c; c = CMSG_NXTHDR(&mm[i].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					rx = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
				}
			if (!rx)
				rx = clk(CLOCK_REALTIME);
			rx_packet(buf[i], mm[i].msg_len, rx);
		}
		if (n < BATCH)
			return;
	}
}

/* The sink polls every 2 ms instead of waking for each packet: the
 * kernel stamped each packet as it was queued, so a late read does not
 * change its delay, and the sink leaves the CPUs to the relay and the
 * generator (2 CPUs here). */
static void *rx_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&rx_stop)) {
		struct timespec ts = { 0, 2000000 };

		for (int i = 0; i < 2 * nsock; i++)
			rx_drain(sfd[i]);
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < 2 * nsock; i++)
		rx_drain(sfd[i]);
	return NULL;
}

static uint32_t pct(uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total + 0.999999), cum = 0;

	for (uint32_t i = 0; i < HMAX; i++) {
		cum += hist[i];
		if (cum >= want && want)
			return i;
	}
	return HMAX;
}

/* ------------------------------------------------------------ generator */

struct run {
	const char *name;
	pid_t pid;                        /* the relay's process; 0 direct */
	struct sockaddr_in dst[MAXF];     /* where each flow is sent */
};

static void fill(uint8_t *p, int f, uint32_t run)
{
	uint32_t ssrc = htonl(0x10000u + (uint32_t)f), ts = htonl(flow_ts[f]);
	uint16_t seq = htons(flow_seq[f]);
	uint32_t fl = (uint32_t)f;

	p[0] = 0x80;
	p[1] = 111;               /* Opus's dynamic payload type */
	memcpy(p + 2, &seq, 2);
	memcpy(p + 4, &ts, 4);
	memcpy(p + 8, &ssrc, 4);
	memcpy(p + 12, &fl, 4);
	memcpy(p + 16, &run, 4);
	flow_seq[f]++;
	flow_ts[f] += 960;
}

/* Sends for DUR seconds at RATE packets/s (0: unpaced); returns the
 * packets the kernel accepted. */
static uint64_t gen(const struct run *r, uint32_t run, uint64_t rate, double dur,
		    uint64_t *sendfail)
{
	static uint8_t pk[BATCH][PKT];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	uint64_t t0 = clk(CLOCK_MONOTONIC), end = t0 + (uint64_t)(dur * 1e9);
	uint64_t sent = 0, tried = 0;
	int fi = 0;

	memset(pk, 0xa5, sizeof(pk));
	for (;;) {
		uint64_t now = clk(CLOCK_MONOTONIC), k = BATCH, tx;
		int n = 0, src, ret;

		if (now >= end)
			break;
		if (rate) {
			uint64_t due = (uint64_t)((double)(now - t0) * (double)rate / 1e9);

			if (due <= tried) {
				/* sleep until about `burst` packets are due */
				uint64_t at = t0 + (uint64_t)((double)(tried + burst) * 1e9 / (double)rate);
				struct timespec ts = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };

				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
				continue;
			}
			k = due - tried < BATCH ? due - tried : BATCH;
		}
		src = sock_of(flow_dir[fi], flow_call[fi]);
		while ((uint64_t)n < k && (n == 0 || sock_of(flow_dir[fi], flow_call[fi]) == src)) {
			fill(pk[n], fi, run);
			iov[n] = (struct iovec){ pk[n], PKT };
			mm[n].msg_hdr = (struct msghdr){ .msg_name = (void *)&r->dst[fi],
							 .msg_namelen = sizeof(r->dst[fi]),
							 .msg_iov = &iov[n], .msg_iovlen = 1 };
			n++;
			fi = (fi + 1) % nflows;
		}
		tx = clk(CLOCK_REALTIME);
		for (int i = 0; i < n; i++)
			memcpy(pk[i] + 20, &tx, 8);
		ret = sendmmsg(sfd[src], mm, (unsigned)n, 0);
		tried += (uint64_t)n;
		if (ret > 0)
			sent += (uint64_t)ret;
		*sendfail += (uint64_t)(n - (ret > 0 ? ret : 0));
	}
	return sent;
}

/* A short run at a low rate (20 packets per flow): the flows that got
 * nothing through. */
static int dead_flows(const struct run *r, int *first);

/* The sink for one run: counters cleared, a new run id, its thread. */
static void rx_begin(pthread_t *th)
{
	memset(hist, 0, sizeof(hist));
	memset(rx_flow, 0, sizeof(rx_flow));
	rx_count = 0;
	rx_run++;
	atomic_store(&rx_stop, 0);
	if (pthread_create(th, NULL, rx_main, NULL))
		die("thread: %s", strerror(errno));
}

/* After the generator: 0.3 s for what is still queued, then the sink stops. */
static void rx_end(pthread_t th)
{
	usleep(300000);
	atomic_store(&rx_stop, 1);
	pthread_join(th, NULL);
}

/* One measured run; prints its line, with the flows that forward nothing
 * in a check right after it (a relay wedged by the overload). */
static void measure(const struct run *r, uint64_t rate, double dur)
{
	static char out[512];
	uint64_t sent, fail = 0, drops0, drops, t0, w0 = 0, w1 = 0;
	double c0 = 0, c1 = 0, g0, g1, el;
	pthread_t th;
	int first;

	rx_begin(&th);
	usleep(20000);
	drops0 = sink_drops();
	if (r->pid) {
		c0 = proc_cpu(r->pid);
		w0 = proc_wait_ns(r->pid);
	}
	g0 = self_cpu();
	t0 = clk(CLOCK_MONOTONIC);
	sent = gen(r, rx_run, rate, dur, &fail);
	rx_end(th);
	el = (double)(clk(CLOCK_MONOTONIC) - t0) / 1e9;
	if (r->pid) {
		c1 = proc_cpu(r->pid);
		w1 = proc_wait_ns(r->pid);
	}
	g1 = self_cpu();
	drops = sink_drops() - drops0;
	snprintf(out, sizeof(out),
		 "run=%s rate=%" PRIu64 " sent=%" PRIu64 " recv=%" PRIu64 " lost=%" PRIu64
		 " sinkdrop=%" PRIu64 " sendfail=%" PRIu64 " secs=%.2f cpu=%.2f pps_cpu=%.0f"
		 " p50_us=%u p99_us=%u gencpu=%.2f rqwait_ms=%.1f",
		 r->name, rate, sent, rx_count, sent - rx_count, drops, fail, el, c1 - c0,
		 r->pid && c1 > c0 ? (double)rx_count / (c1 - c0) : 0.0,
		 pct(rx_count, 0.50), pct(rx_count, 0.99), g1 - g0, (double)(w1 - w0) / 1e6);
	printf("%s stuck=%d\n", out, dead_flows(r, &first));
	fflush(stdout);
}

static int dead_flows(const struct run *r, int *first)
{
	uint64_t fail = 0;
	pthread_t th;
	int dead = 0;

	rx_begin(&th);
	gen(r, rx_run, 20000, 20.0 * nflows / 20000, &fail);
	rx_end(th);
	*first = -1;
	for (int f = 0; f < nflows; f++)
		if (!rx_flow[f]) {
			if (*first < 0)
				*first = f;
			dead++;
		}
	return dead;
}

/* Before the runs: every session must forward, or there is nothing to
 * measure. */
static void check(const struct run *r)
{
	int first, dead = dead_flows(r, &first);

	if (dead)
		die("%s: %d of %d flows forward nothing (the first: call %d, %s):"
		    " sessions not set up", r->name, dead, nflows, flow_call[first],
		    flow_dir[first] ? "B->A" : "A->B");
	fprintf(stderr, "relay_fwd: %s: all %d flows forward\n", r->name, nflows);
}

/* ------------------------------------------------------------ our relay */

struct ours_msg { int32_t err; uint16_t ports[2]; };

/* The child: one relay, a session per call (A's and B's SDP addresses are
 * the generator's sockets), the ports written to WFD, then it runs until
 * RFD closes. */
static void ours_child(int rfd, int wfd, uint16_t pmin, uint16_t pmax)
{
	struct relay_config cfg = { .addr = "127.0.0.1", .port_min = pmin,
				    .port_max = pmax, .max_sessions = (uint32_t)ncalls,
				    .timeout_s = 3600 };
	struct relay *rel = NULL;
	int32_t err;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin(0, relay_cpu);          /* before relay_new: its thread inherits it */
	if (relay_prio) {
		struct sched_param sp = { .sched_priority = relay_prio };

		if (sched_setscheduler(0, SCHED_FIFO, &sp))
			die("SCHED_FIFO %d: %s", relay_prio, strerror(errno));
	}
	err = relay_new(&cfg, &rel);
	for (int i = 0; i < ncalls; i++) {
		struct relay_leg_params a = { .sdp = lo(port_of(0, i)) },
					b = { .sdp = lo(port_of(1, i)) };
		struct ours_msg m = { .err = err };
		uint64_t id;

		a.allowed.s_addr = b.allowed.s_addr = htonl(INADDR_LOOPBACK);
		if (!err)
			m.err = err = relay_open(rel, &a, &b, NULL, NULL, &id, m.ports);
		if (write(wfd, &m, sizeof(m)) != sizeof(m) || err)
			_exit(1);
	}
	close(wfd);
	while (read(rfd, &c, 1) > 0)
		;
	relay_free(rel);
	_exit(0);
}

static pid_t ours_start(struct run *r, uint16_t pmin, uint16_t pmax, int *ctl)
{
	int down[2], up[2];
	pid_t pid;

	if (pipe2(down, O_CLOEXEC) || pipe2(up, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		ours_child(down[0], up[1], pmin, pmax);
	}
	close(down[0]);
	close(up[1]);
	for (int i = 0; i < ncalls; i++) {
		struct ours_msg m;
		ssize_t n = read(up[0], &m, sizeof(m));

		if (n != sizeof(m))
			die("our relay: the child ended before session %d was open", i);
		if (m.err)
			die("our relay: session %d: %s", i, strerror(-m.err));
		/* leg A's port takes A->B, leg B's takes B->A */
		r->dst[2 * i] = lo(m.ports[0]);
		r->dst[2 * i + 1] = lo(m.ports[1]);
	}
	close(up[0]);
	*ctl = down[1];
	return pid;
}

/* ------------------------------------------------------------ rtpengine */

static int ng_fd;
static struct sockaddr_in ng_addr;

static size_t bstr(char *o, size_t cap, size_t at, const char *s)
{
	int n = snprintf(o + at, at < cap ? cap - at : 0, "%zu:%s", strlen(s), s);

	return at + (size_t)(n > 0 ? n : 0);
}

/* The string value of KEY in the top-level bencoded dict of D (a reply
 * after its cookie); lists, dicts and integers are skipped. */
static int bget(const char *d, const char *end, const char *key, char *out, size_t cap)
{
	int depth = 0, want_val = 0, is_key = 1;

	if (d >= end || *d != 'd')
		return -1;
	d++;
	while (d < end && *d != 'e') {
		if (*d >= '0' && *d <= '9') {
			char *colon;
			unsigned long n = strtoul(d, &colon, 10);
			const char *s = colon + 1;

			if (*colon != ':' || s + n > end)
				return -1;
			if (depth == 0 && !is_key && want_val) {
				size_t m = n < cap - 1 ? n : cap - 1;

				memcpy(out, s, m);
				out[m] = 0;
				return 0;
			}
			want_val = depth == 0 && is_key && strlen(key) == n && !memcmp(s, key, n);
			if (depth == 0)
				is_key = !is_key;
			d = s + n;
		} else if (*d == 'i') {
			d = memchr(d, 'e', (size_t)(end - d));
			if (!d)
				return -1;
			d++;
			if (depth == 0)
				is_key = !is_key, want_val = 0;
		} else if (*d == 'l' || *d == 'd') {
			/* a nested value: skip it whole */
			int lvl = 1;

			d++;
			while (d < end && lvl) {
				if (*d == 'l' || *d == 'd') {
					lvl++;
					d++;
				} else if (*d == 'e') {
					lvl--;
					d++;
				} else if (*d == 'i') {
					d = memchr(d, 'e', (size_t)(end - d));
					if (!d)
						return -1;
					d++;
				} else {
					char *colon;
					unsigned long n = strtoul(d, &colon, 10);

					if (*colon != ':')
						return -1;
					d = colon + 1 + n;
				}
			}
			if (depth == 0)
				is_key = !is_key, want_val = 0;
		} else {
			return -1;
		}
	}
	return -1;
}

/* One ng command; REPLY gets the reply's SDP (or nothing). */
static void ng(const char *cmd, int i, const char *sdp, char *reply, size_t cap)
{
	static char msg[4096], in[8192];
	char callid[32], cookie[32], v[256];
	size_t at;

	snprintf(callid, sizeof(callid), "bench-call-%d", i);
	snprintf(cookie, sizeof(cookie), "%d_%s", i, cmd);
	at = (size_t)snprintf(msg, sizeof(msg), "%s d", cookie);
	at = bstr(msg, sizeof(msg), at, "call-id");
	at = bstr(msg, sizeof(msg), at, callid);
	at = bstr(msg, sizeof(msg), at, "command");
	at = bstr(msg, sizeof(msg), at, cmd);
	at = bstr(msg, sizeof(msg), at, "from-tag");
	at = bstr(msg, sizeof(msg), at, "tag-a");
	if (strcmp(cmd, "offer")) {
		at = bstr(msg, sizeof(msg), at, "to-tag");
		at = bstr(msg, sizeof(msg), at, "tag-b");
	}
	if (sdp) {
		at = bstr(msg, sizeof(msg), at, "sdp");
		at = bstr(msg, sizeof(msg), at, sdp);
	}
	if (at + 2 > sizeof(msg))
		die("ng: message too long");
	msg[at++] = 'e';
	for (int tries = 0; tries < 3; tries++) {
		struct pollfd p = { .fd = ng_fd, .events = POLLIN };
		ssize_t n;

		if (sendto(ng_fd, msg, at, 0, (struct sockaddr *)&ng_addr, sizeof(ng_addr)) < 0)
			die("ng %s: %s", cmd, strerror(errno));
		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = recv(ng_fd, in, sizeof(in) - 1, 0);
		if (n <= 0)
			continue;
		in[n] = 0;
		if (strncmp(in, cookie, strlen(cookie)) || in[strlen(cookie)] != ' ')
			continue;           /* a late reply to an earlier try */
		if (bget(in + strlen(cookie) + 1, in + n, "result", v, sizeof(v)) || strcmp(v, "ok")) {
			char why[256] = "";

			bget(in + strlen(cookie) + 1, in + n, "error-reason", why, sizeof(why));
			die("rtpengine %s (call %d): result %s %s", cmd, i, v, why);
		}
		if (reply && bget(in + strlen(cookie) + 1, in + n, "sdp", reply, cap))
			die("rtpengine %s (call %d): no SDP in the reply", cmd, i);
		return;
	}
	die("rtpengine at 127.0.0.1:%d does not answer %s (call %d)", ntohs(ng_addr.sin_port), cmd, i);
}

static struct sockaddr_in sdp_media(const char *sdp, const char *cmd, int i)
{
	const char *c = strstr(sdp, "c=IN IP4 "), *m = strstr(sdp, "m=audio ");
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char ip[32] = "";

	if (!c || !m || sscanf(c + 9, "%31[0-9.]", ip) != 1 ||
	    inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		die("rtpengine %s (call %d): no address in its SDP", cmd, i);
	sa.sin_port = htons((uint16_t)atoi(m + 8));
	if (!sa.sin_port)
		die("rtpengine %s (call %d): no port in its SDP", cmd, i);
	return sa;
}

static void rtpe_setup(struct run *r, uint16_t ngport)
{
	static char sdp[1024], reply[4096];
	struct sockaddr_in me = lo((uint16_t)(genport - 1));

	ng_addr = lo(ngport);
	ng_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ng_fd < 0 || bind(ng_fd, (struct sockaddr *)&me, sizeof(me)))
		die("ng socket on 127.0.0.1:%d: %s", genport - 1, strerror(errno));
	for (int i = 0; i < ncalls; i++) {
		for (int side = 0; side < 2; side++) {
			snprintf(sdp, sizeof(sdp),
				 "v=0\r\no=- %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
				 "t=0 0\r\nm=audio %u RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
				 "a=sendrecv\r\n", i * 2 + side + 1, port_of(side, i));
			ng(side ? "answer" : "offer", i, sdp, reply, sizeof(reply));
			/* the offer's reply is what B sends to (B->A), the
			 * answer's what A sends to (A->B) */
			r->dst[2 * i + !side] = sdp_media(reply, side ? "answer" : "offer", i);
		}
	}
}

static void rtpe_teardown(void)
{
	for (int i = 0; i < ncalls; i++)
		ng("delete", i, NULL, NULL, 0);
}

/* ------------------------------------------------------------ main */

/* dst[] is per call (2i: A->B, 2i+1: B->A); flows are in socket order */
static void by_flow(struct run *r)
{
	static struct sockaddr_in tmp[MAXF];

	memcpy(tmp, r->dst, sizeof(tmp));
	for (int f = 0; f < nflows; f++)
		r->dst[f] = tmp[2 * flow_call[f] + flow_dir[f]];
}

static struct run direct = { .name = "direct" }, ours = { .name = "ours" },
		  rtpe = { .name = "rtpengine" };

int main(int argc, char **argv)
{
	const char *rates = "50000 100000 200000 0";
	unsigned pmin = 0, pmax = 0, ngport = 0;
	int opt, ctl = -1, status;
	pid_t rtpe_pid = 0;
	char *save, *tok, *rl;

	while ((opt = getopt(argc, argv, "n:d:r:R:1s:g:o:e:p:b:c:C:P:")) != -1) {
		switch (opt) {
		case 'n': ncalls = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'r': rates = optarg; break;
		case 'R': rounds = atoi(optarg); break;
		case '1': both = 0; break;
		case 's': nsock = atoi(optarg); break;
		case 'g': genport = (uint16_t)atoi(optarg); break;
		case 'o': sscanf(optarg, "%u:%u", &pmin, &pmax); break;
		case 'e': ngport = (unsigned)atoi(optarg); break;
		case 'p': rtpe_pid = atoi(optarg); break;
		case 'b': burst = atoi(optarg); break;
		case 'c': relay_cpu = atoi(optarg); break;
		case 'C': driver_cpu = atoi(optarg); break;
		case 'P': relay_prio = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n CALLS] [-d SECS] [-r \"RATES\"] [-R ROUNDS] [-1] [-s SOCKS]"
				" [-b BURST] [-g GENPORT] [-o PORTMIN:PORTMAX] [-e NGPORT -p PID]"
				" [-c RELAYCPU] [-C DRIVERCPU] [-P FIFOPRIO]\n", argv[0]);
			return 2;
		}
	}
	if (ncalls < 1 || nsock < 1 || nsock > MAXS || 2 * ncalls > MAXF || secs <= 0)
		die("bad arguments");
	if (rounds < 1)
		die("-R: at least 1");
	if (burst < 1 || burst > BATCH)
		die("-b: 1 to %d", BATCH);
	/* the generator's sleeps end on time, not up to 50 us late */
	prctl(PR_SET_TIMERSLACK, 1UL);
	if (nsock > ncalls)
		nsock = ncalls;
	if (ngport && !rtpe_pid)
		die("-e needs -p (rtpengine's pid, for its CPU time)");
	/* the relay's child first, before this process has threads or sockets */
	if (pmin)
		ours.pid = ours_start(&ours, (uint16_t)pmin, (uint16_t)pmax, &ctl);
	pin(0, driver_cpu);         /* the generator and the sink threads */
	sockets_open();
	for (int i = 0; i < ncalls; i++) {
		direct.dst[2 * i] = lo(port_of(1, i));
		direct.dst[2 * i + 1] = lo(port_of(0, i));
	}
	by_flow(&direct);
	if (pmin)
		by_flow(&ours);
	if (ngport) {
		rtpe.pid = rtpe_pid;
		proc_cpu(rtpe_pid);          /* it is there */
		rtpe_setup(&rtpe, (uint16_t)ngport);
		by_flow(&rtpe);
	}
	fprintf(stderr, "relay_fwd: %d calls, %s, %d flows, %d+%d sockets, %.1f s per run\n",
		ncalls, both ? "both ways" : "one way", nflows, nsock, both ? nsock : 0, secs);
	/* check every session, and warm up: 20 packets per flow */
	check(&direct);
	if (pmin)
		check(&ours);
	if (ngport)
		check(&rtpe);
	rl = strdup(rates);
	for (tok = strtok_r(rl, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
		uint64_t rate = strtoull(tok, NULL, 10);

		for (int k = 0; k < rounds; k++) {
			measure(&direct, rate, secs);
			if (pmin)
				measure(&ours, rate, secs);
			if (ngport)
				measure(&rtpe, rate, secs);
		}
	}
	free(rl);
	if (ngport)
		rtpe_teardown();
	if (pmin) {
		close(ctl);
		if (waitpid(ours.pid, &status, 0) != ours.pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			die("our relay's process ended badly (status %d)", status);
	}
	return 0;
}
