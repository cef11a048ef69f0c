/* netq_decide (benchmark): how long one voice decision takes, by where its
 * figures come from, measured side by side in one run on one interface:
 *   libnetq     netq_decide(): reads the mmap'ed BPF maps, no system call
 *   /proc/net/dev  pread + parse the interface's line, rate vs a sample >= 1 s old
 *   libnl       rtnl_link_get_kernel() (RTM_GETLINK) stats, same rate rule
 *   map lookup  bpf_map_lookup_elem() syscall on the same pinned netq_ifaces
 *               entry, rate from its epoch marks (as libnetq does from memory)
 * Every contender ends in the same netq_decide_snapshot() with the default
 * voice thresholds; link state (up, default route) comes from the libnetq
 * snapshot taken once at start, so only the counter source differs.
 * Each iteration is timed alone with clock_gettime(CLOCK_MONOTONIC); the
 * timer's own cost is printed as a row. Output: markdown table rows, the
 * ratio line, and (--cdf FILE) latency quantiles for gnuplot. No RFC.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <dataline/netq.h>

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h; clashes with net/if.h */
#endif

enum { C_TIMER, C_NETQ, C_PROC, C_NL, C_LOOKUP, C_N };
static const char *cname[C_N] = {
	"timer alone (floor)", "libnetq netq_decide (mmap)",
	"(a) /proc/net/dev parse", "(b) libnl rtnl_link_get_kernel",
	"(c) bpf_map_lookup_elem syscall"};

struct ctx {
	struct netq *q;
	struct netq_thresholds th;
	struct netq_snapshot base;   /* link state from libnetq, once */
	uint32_t ifindex, slot;
	char ifname[IF_NAMESIZE];
	int proc_fd, map_fd;
	struct nl_sock *nl;
	struct netq_iface *val;      /* lookup buffer (~16 kB) */
	/* previous sample for the poll-style contenders (a) and (b) */
	struct { uint64_t t, rx, tx, rx_bps, tx_bps; } ref[C_N];
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A poller's rate: over the interval since a reference sample at least 1 s
 * old; in between, the last computed rate is reused. */
static void poll_rate(struct ctx *c, int who, uint64_t t, uint64_t rx,
		      uint64_t tx, struct netq_snapshot *s)
{
	typeof(c->ref[0]) *r = &c->ref[who];

	if (!r->t) {
		r->t = t; r->rx = rx; r->tx = tx;
	} else if (t - r->t >= 1000000000ull) {
		r->rx_bps = (rx - r->rx) * 8 * 1000000000ull / (t - r->t);
		r->tx_bps = (tx - r->tx) * 8 * 1000000000ull / (t - r->t);
		r->t = t; r->rx = rx; r->tx = tx;
	}
	s->rx_bytes = rx;
	s->tx_bytes = tx;
	s->rx_bps = r->rx_bps;
	s->tx_bps = r->tx_bps;
}

static int decide_proc(struct ctx *c)
{
	char buf[8192], key[IF_NAMESIZE + 2], *p;
	unsigned long long v[16];
	struct netq_snapshot s = c->base;
	struct netq_decision d;
	ssize_t n = pread(c->proc_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	snprintf(key, sizeof(key), "%s:", c->ifname);
	for (p = buf; (p = strstr(p, key)); p++)
		if (p == buf || p[-1] == ' ' || p[-1] == '\n')
			break;
	if (!p || sscanf(p + strlen(key), "%llu %llu %llu %llu %llu %llu %llu %llu"
			 " %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			 &v[6], &v[7], &v[8], &v[9]) != 10)
		return -EIO;
	s.rx_packets = v[1];
	s.tx_packets = v[9];
	poll_rate(c, C_PROC, now_ns(), v[0], v[8], &s);
	netq_decide_snapshot(&s, NETQ_VOICE, &c->th, &d);
	return d.verdict;
}

static int decide_nl(struct ctx *c)
{
	struct rtnl_link *l = NULL;
	struct netq_snapshot s = c->base;
	struct netq_decision d;
	int err = rtnl_link_get_kernel(c->nl, (int)c->ifindex, NULL, &l);

	if (err < 0)
		return -EIO;
	s.up = (rtnl_link_get_flags(l) & IFF_LOWER_UP) && (rtnl_link_get_flags(l) & IFF_UP);
	s.rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
	s.tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
	poll_rate(c, C_NL, now_ns(), rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES),
		  rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES), &s);
	rtnl_link_put(l);
	netq_decide_snapshot(&s, NETQ_VOICE, &c->th, &d);
	return d.verdict;
}

/* Bits per second over about the last second, from the stream's epoch marks
 * (the same one-read method libnetq uses on the mmap'ed copy). */
static uint64_t mark_rate(const struct netq_stream *st, uint64_t t)
{
	uint64_t e = t >> NETQ_EPOCH_SHIFT, k;

	for (k = 7; k < 16 && k <= e; k++) {
		const struct netq_mark *m = &st->marks[(e - k) % NETQ_NMARKS];
		if (m->seq == 2 * (e - k) + 2 && t > m->t_ns)
			return (st->a - m->a) * 8 * 1000000000ull / (t - m->t_ns);
	}
	return 0;
}

static int decide_lookup(struct ctx *c)
{
	struct netq_snapshot s = c->base;
	struct netq_decision d;
	uint64_t t;

	if (bpf_map_lookup_elem(c->map_fd, &c->slot, c->val))
		return -errno;
	t = now_ns();
	s.rx_bytes = c->val->rx.a;
	s.tx_bytes = c->val->tx.a;
	s.rx_packets = c->val->rx.b;
	s.tx_packets = c->val->tx.b;
	s.rx_bps = mark_rate(&c->val->rx, t);
	s.tx_bps = mark_rate(&c->val->tx, t);
	netq_decide_snapshot(&s, NETQ_VOICE, &c->th, &d);
	return d.verdict;
}

static int decide_netq(struct ctx *c)
{
	struct netq_decision d;
	int err = netq_decide(c->q, NETQ_VOICE, &c->th, &d);
	return err ? err : (int)d.verdict;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int setup(struct ctx *c, const char *pin_dir)
{
	char path[512];
	uint32_t idx[NETQ_MAX_IFACES];
	int n, err, i;

	err = netq_open(pin_dir, NETQ_OPEN_LINKSTATE, &c->q);
	if (err)
		return fprintf(stderr, "netq_open: %s\n", strerror(-err)), err;
	c->ifindex = if_nametoindex(c->ifname);
	if (!c->ifindex)
		return fprintf(stderr, "no interface %s\n", c->ifname), -ENODEV;
	err = netq_snapshot_read(c->q, c->ifindex, &c->base);
	if (err)
		return fprintf(stderr, "%s not monitored: %s\n", c->ifname,
			       strerror(-err)), err;
	netq_thresholds_default(NETQ_VOICE, &c->th);
	/* The slot of the interface in the pinned array. */
	n = netq_ifaces(c->q, idx, NETQ_MAX_IFACES);
	snprintf(path, sizeof(path), "%s/netq_ifaces", pin_dir);
	c->map_fd = bpf_obj_get(path);
	c->val = calloc(1, sizeof(*c->val));
	if (c->map_fd < 0 || !c->val)
		return fprintf(stderr, "%s: %s\n", path, strerror(errno)), -errno;
	c->slot = NETQ_MAX_IFACES;
	for (i = 0; i < NETQ_MAX_IFACES && n > 0; i++) {
		uint32_t k = (uint32_t)i;
		if (!bpf_map_lookup_elem(c->map_fd, &k, c->val) &&
		    c->val->ifindex == c->ifindex) {
			c->slot = k;
			break;
		}
	}
	if (c->slot == NETQ_MAX_IFACES)
		return fprintf(stderr, "slot of %s not found\n", c->ifname), -ENOENT;
	c->proc_fd = open("/proc/net/dev", O_RDONLY | O_CLOEXEC);
	c->nl = nl_socket_alloc();
	if (c->proc_fd < 0 || !c->nl || nl_connect(c->nl, NETLINK_ROUTE) < 0)
		return fprintf(stderr, "proc/netlink setup failed\n"), -EIO;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"pin-dir", required_argument, 0, 'p'}, {"iface", required_argument, 0, 'i'},
		{"iters", required_argument, 0, 'n'}, {"slow-iters", required_argument, 0, 's'},
		{"cdf", required_argument, 0, 'c'}, {0}};
	const char *pin_dir = NULL, *cdf = NULL;
	long iters = 1000000, slow = 1000000;
	struct ctx c = {0};
	uint32_t *lat[C_N];
	long cnt[C_N], data[C_N], errs[C_N];
	int o, w;

	while ((o = getopt_long(argc, argv, "p:i:n:s:c:", lo, NULL)) != -1) {
		switch (o) {
		case 'p': pin_dir = optarg; break;
		case 'i': snprintf(c.ifname, sizeof(c.ifname), "%s", optarg); break;
		case 'n': iters = atol(optarg); break;
		case 's': slow = atol(optarg); break;
		case 'c': cdf = optarg; break;
		default:
			fprintf(stderr, "usage: netq_decide --pin-dir DIR --iface IF "
				"[--iters N] [--slow-iters N] [--cdf FILE]\n");
			return 2;
		}
	}
	if (!pin_dir || !c.ifname[0] || iters < 100 || slow < 100)
		return fprintf(stderr, "netq_decide: --pin-dir and --iface needed\n"), 2;
	if (setup(&c, pin_dir))
		return 1;
	/* Give the poll-style contenders a reference sample 1.1 s old, as a
	 * poller that has been running would have. */
	if (decide_proc(&c) < 0 || decide_nl(&c) < 0)
		return fprintf(stderr, "netq_decide: /proc/net/dev or libnl failed\n"), 1;
	usleep(1100000);
	/* Interleave the contenders in rounds of 1000 so that a burst of load
	 * from other users of the machine hits all of them alike. */
	for (w = 0; w < C_N; w++) {
		cnt[w] = (w == C_PROC || w == C_NL) ? slow : iters;
		lat[w] = calloc(cnt[w], sizeof(uint32_t));
		data[w] = errs[w] = 0;
		if (!lat[w])
			return 1;
	}
	for (long base = 0; base < iters || base < slow; base += 1000) {
		for (w = 0; w < C_N; w++) {
			for (long i = base; i < base + 1000 && i < cnt[w]; i++) {
				uint64_t t0 = now_ns();
				int v = 0;
				switch (w) {
				case C_TIMER: break;
				case C_NETQ: v = decide_netq(&c); break;
				case C_PROC: v = decide_proc(&c); break;
				case C_NL: v = decide_nl(&c); break;
				case C_LOOKUP: v = decide_lookup(&c); break;
				}
				lat[w][i] = (uint32_t)(now_ns() - t0);
				if (v < 0)
					errs[w]++;
				else if (v == NETQ_DATA)
					data[w]++;
			}
		}
	}
	double p50[C_N], p99[C_N];
	printf("| source of the figures | decisions | p50 ns | p99 ns | p99.9 ns | verdict data |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
	for (w = 0; w < C_N; w++) {
		qsort(lat[w], cnt[w], sizeof(uint32_t), cmp_u32);
		p50[w] = lat[w][cnt[w] / 2];
		p99[w] = lat[w][cnt[w] * 99 / 100];
		printf("| %s | %ld | %.0f | %.0f | %u | %s |\n", cname[w], cnt[w], p50[w],
		       p99[w], lat[w][cnt[w] * 999 / 1000],
		       w == C_TIMER ? "-" : errs[w] ? "errors" :
		       data[w] == cnt[w] ? "all" : data[w] ? "some" : "none");
	}
	double fast = p99[C_PROC] < p99[C_NL] ? p99[C_PROC] : p99[C_NL];
	double fast50 = p50[C_PROC] < p50[C_NL] ? p50[C_PROC] : p50[C_NL];
	printf("\nRATIO p99 %.1f p50 %.1f NETQ_P99 %.0f\n", fast / p99[C_NETQ],
	       fast50 / p50[C_NETQ], p99[C_NETQ]);
	if (cdf) {
		FILE *f = fopen(cdf, "w");
		if (!f)
			return 1;
		fprintf(f, "quantile");
		for (w = 0; w < C_N; w++)
			fprintf(f, " \"%s\"", cname[w]);
		fprintf(f, "\n");
		for (int k = 0; k <= 1000; k++) {
			double qq = k / 1000.0;
			fprintf(f, "%.4f", qq);
			for (w = 0; w < C_N; w++) {
				long i = (long)(qq * (cnt[w] - 1));
				fprintf(f, " %u", lat[w][i]);
			}
			fprintf(f, "\n");
		}
		fclose(f);
	}
	for (w = 0; w < C_N; w++)
		free(lat[w]);
	free(c.val);
	nl_socket_free(c.nl);
	close(c.proc_fd);
	close(c.map_fd);
	netq_close(c.q);
	return 0;
}
