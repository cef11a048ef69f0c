/*
 * netq_probe: the active probe and its echo reflector. A train of UDP
 * packets goes to the echo endpoint back to back; the tc programs stamp
 * each one at egress and each echo at ingress (bpf_ktime_get_ns), which
 * gives the RTT without user-space scheduling noise and, from the spacing
 * of the echoes once the bottleneck's queue has built up (packet
 * dispersion), the capacity of the path even when it is otherwise idle.
 * No RFCs (UDP, RFC 768; the payload is our own netq_probe_hdr).
 *
 * Shapers with a token bucket (tbf) let the first `burst` bytes through at
 * line rate, so the head of the train says nothing about the rate; see
 * estimate() for how the dispersion is read despite that.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include "dataline/hostport.h"
#include "netq_priv.h"

#define L2_OVERHEAD (14 + 8)  /* eth + UDP; IP header added per family */

/* HP: "HOST:PORT", "[V6]:PORT", ":PORT" or "*:PORT" (any address); an
 * empty HP is 0.0.0.0:DEFPORT when DEFPORT is not 0. HOST may be a name. */
static int parse_hostport(const char *hp, uint16_t defport,
			  struct addrinfo **res, int passive)
{
	struct addrinfo hints;
	struct hostport p = { .wildcard = 1, .port = defport };
	char host[256], port[8];
	int err;

	if (hp && *hp) {
		if (hostport_parse(hp, strlen(hp),
				   HOSTPORT_WILDCARD | HOSTPORT_BARE_V6, 0, &p) ||
		    hostport_host(&p, host, sizeof(host)))
			return -EINVAL;
	} else if (!defport) {
		return -EINVAL;
	}
	if (p.wildcard)
		snprintf(host, sizeof(host), "0.0.0.0");
	snprintf(port, sizeof(port), "%u", (unsigned)p.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	err = getaddrinfo(host, port, &hints, res);
	return err ? -EHOSTUNREACH : 0;
}

struct pkt_t {
	uint64_t tx, rx;   /* ns, same clock */
	uint32_t len;      /* L2 bytes of the echo */
	int ok;
};

static int by_rx(const void *a, const void *b)
{
	const struct pkt_t *x = a, *y = b;

	return x->rx < y->rx ? -1 : x->rx > y->rx;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* min RTT and dispersion capacity over the received packets (see top). */
static void estimate(struct pkt_t *p, int n, uint32_t *rtt_us, uint32_t *kbps)
{
	struct pkt_t v[NETQ_PROBE_MAX];
	uint64_t dmin = UINT64_MAX, g[NETQ_PROBE_MAX], med;
	int m = 0, i, w, n_g;

	for (i = 0; i < n; i++)
		if (p[i].ok)
			v[m++] = p[i];
	*rtt_us = 0;
	*kbps = 0;
	if (!m)
		return;
	qsort(v, m, sizeof(v[0]), by_rx);
	for (i = 0; i < m; i++)
		if (v[i].rx - v[i].tx < dmin)
			dmin = v[i].rx - v[i].tx;
	*rtt_us = (uint32_t)((dmin + 500) / 1000);
	if (m < 4)
		return;
	/*
	 * Dispersion, made robust to the two things that distort it: a token
	 * bucket's burst (the head of the train passes at line rate) and
	 * hold-ups of the reflector or of our softirq on a busy host (a long
	 * gap, then echoes bunched at line rate).
	 * 1. G = the bottleneck's per-packet time: the LARGEST arrival gap
	 *    that many gaps agree on (within +-25 %, at least a quarter of
	 *    them). Burst and bunches agree on small gaps; a hold-up is one
	 *    large gap nobody agrees with.
	 * 2. The rate over every window of w consecutive echoes whose gaps
	 *    are all >= G/2 (the bottleneck was busy throughout); the median
	 *    window wins, so a hold-up inside a window matters little.
	 */
	for (i = 0, n_g = 0; i + 1 < m; i++)
		g[n_g++] = v[i + 1].rx - v[i].rx;
	qsort(g, n_g, sizeof(g[0]), cmp_u64);
	med = 0;
	for (i = n_g - 1; i >= 0; i--) {
		int j, agree = 0;

		for (j = 0; j < n_g; j++)
			if (g[j] * 4 >= g[i] * 3 && g[j] * 4 <= g[i] * 5)
				agree++;
		if (agree >= 3 && agree * 4 >= n_g) {
			med = g[i];
			break;
		}
	}
	if (!med)
		med = g[n_g / 2];
	w = m / 4 < 8 ? m / 4 : 8;
	if (w < 3)
		w = 3;
	n_g = 0;
	for (i = 0; i + w <= m; i++) {
		uint64_t span = v[i + w - 1].rx - v[i].rx, bytes = 0;
		int j, busy = 1;

		for (j = i + 1; j < i + w; j++) {
			bytes += v[j].len;
			if ((v[j].rx - v[j - 1].rx) * 2 < med)
				busy = 0;
		}
		if (busy && span)
			g[n_g++] = bytes * 8ull * 1000000ull / span;
	}
	if (getenv("NETQ_PROBE_DEBUG"))
		for (i = 0; i < m; i++)
			fprintf(stderr, "probe %2d rx %9llu d %7llu len %u\n", i,
				(unsigned long long)(v[i].rx - v[0].rx),
				(unsigned long long)(v[i].rx - v[i].tx),
				v[i].len);
	if (!n_g) { /* no window was busy throughout: G alone */
		if (med)
			*kbps = (uint32_t)(v[m - 1].len * 8ull * 1000000ull / med);
		return;
	}
	qsort(g, n_g, sizeof(g[0]), cmp_u64);
	*kbps = (uint32_t)g[n_g / 2];
}

static uint32_t new_train(void)
{
	uint32_t t = 0;

	while (!t)
		if (getrandom(&t, sizeof(t), 0) != sizeof(t))
			t = (uint32_t)netq_now_ns() ^ (uint32_t)getpid();
	return t;
}

/*
 * Sets (train) or clears (0) the probe word of every slot's rx and tx
 * stream: the tc programs test that word, on the cache line they write
 * per packet anyway, instead of reading netq_ctl for every packet
 * (docs/netq.md, "Per-packet cost"). netq_ctl.probe_train stays the
 * authority: the tc program checks it too once a word is set. Armed after
 * netq_ctl and cleared before it.
 */
static void probe_arm(struct netq *q, uint32_t train)
{
	uint32_t i;

	for (i = 0; i < NETQ_MAX_IFACES; i++) {
		__atomic_store_n(&q->ifaces[i].rx.probe_train, train,
				 __ATOMIC_RELEASE);
		__atomic_store_n(&q->ifaces[i].tx.probe_train, train,
				 __ATOMIC_RELEASE);
	}
}

static void store_result(struct netq *q, uint32_t slot,
			 const struct netq_probe_result *r)
{
	struct netq_iface *st = &q->ifaces[slot];

	__atomic_add_fetch(&st->probe_seq, 1, __ATOMIC_RELEASE);
	st->probe_rtt_us = r->rtt_us;
	st->probe_kbps = r->kbps;
	st->probe_sent = r->sent;
	st->probe_recv = r->recv;
	st->probe_bytes = r->bytes;
	st->probe_ns = netq_now_ns();
	__atomic_add_fetch(&st->probe_seq, 1, __ATOMIC_RELEASE);
}

uint64_t netq_probe_cost(const struct netq_probe_opts *o)
{
	uint64_t count = o && o->count ? o->count : NETQ_PROBE_DEFAULT_COUNT;
	uint64_t size = o && o->size ? o->size : NETQ_PROBE_DEFAULT_SIZE;

	return 2 * (count * (size + 20 + L2_OVERHEAD) +
		    NETQ_PROBE_RTT_PKTS * (64 + 20 + L2_OVERHEAD));
}

/* Receives echoes of `train` into pk[] until pk[lo..hi) are all in or
 * the deadline passes. Returns the number received in [lo, hi). */
static int collect(int fd, uint32_t train, struct pkt_t *pk, int lo, int hi,
		   uint32_t iphdr, uint64_t deadline)
{
	uint8_t rbuf[2048] __attribute__((aligned(8)));
	struct netq_probe_hdr *h = (struct netq_probe_hdr *)rbuf;
	int got = 0, i;
	uint64_t now;
	ssize_t n;

	for (i = lo; i < hi; i++)
		got += pk[i].ok;
	while (got < hi - lo && (now = netq_now_ns()) < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		while ((n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT)) >= 0) {
			now = netq_now_ns();
			if (n < (ssize_t)sizeof(*h) ||
			    h->magic != NETQ_PROBE_MAGIC || h->train != train ||
			    h->dir != NETQ_PROBE_REPLY ||
			    h->idx >= NETQ_PROBE_MAX || pk[h->idx].ok)
				continue;
			pk[h->idx].rx = now;
			pk[h->idx].len = (uint32_t)n + iphdr + L2_OVERHEAD;
			pk[h->idx].ok = 1;
			if (h->idx >= lo && h->idx < hi)
				got++;
		}
	}
	return got;
}

/*
 * A train, then NETQ_PROBE_RTT_PKTS small packets one at a time. In the
 * back-to-back train each packet queues behind the previous ones at the
 * reflector, so only the first could show the bare RTT, and it pays the
 * reflector's wake-up. The trailing packets find it awake (it spins a few
 * ms after each packet) and idle: the probe RTT is the minimum over all.
 */
int netq_probe(const char *hostport, const struct netq_probe_opts *o,
	       struct netq_probe_result *out)
{
	struct netq_probe_opts d = { .count = NETQ_PROBE_DEFAULT_COUNT,
				     .size = NETQ_PROBE_DEFAULT_SIZE,
				     .timeout_ms = 2000 };
	struct pkt_t pk[NETQ_PROBE_MAX];
	struct addrinfo *ai = NULL;
	struct netq_probe_result r;
	struct netq *q = NULL;
	struct netq_probe_hdr *h;
	uint8_t buf[2048] __attribute__((aligned(8)));
	uint64_t deadline, dmin = UINT64_MAX;
	uint32_t train, slot = 0, iphdr, small = 64;
	int fd = -1, err, i, have_slot = 0, total;

	if (o) {
		d.pin_dir = o->pin_dir;
		d.no_bpf = o->no_bpf;
		if (o->count)
			d.count = o->count;
		if (o->size)
			d.size = o->size;
		if (o->timeout_ms)
			d.timeout_ms = o->timeout_ms;
	}
	if (d.count < 2 || d.count > NETQ_PROBE_MAX - NETQ_PROBE_RTT_PKTS ||
	    d.size < sizeof(struct netq_probe_hdr) || d.size > 1472 || !out)
		return -EINVAL;
	total = d.count + NETQ_PROBE_RTT_PKTS;
	err = parse_hostport(hostport, 0, &ai, 0);
	if (err)
		return err;
	iphdr = ai->ai_family == AF_INET6 ? 40 : 20;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		err = -errno;
		goto out;
	}
	memset(&r, 0, sizeof(r));
	memset(pk, 0, sizeof(pk));
	if (!d.no_bpf && netq_open(d.pin_dir, 0, &q) == 0)
		memset(q->probe, 0, sizeof(struct netq_probe_ts) *
		       NETQ_PROBE_MAX);
	train = new_train();
	if (q) {
		q->ctl->probe_count = total;
		q->ctl->probe_start_ns = netq_now_ns();
		__atomic_store_n(&q->ctl->probe_train, train, __ATOMIC_RELEASE);
		probe_arm(q, train);
	}

	memset(buf, 0, sizeof(buf));
	h = (struct netq_probe_hdr *)buf;
	h->magic = NETQ_PROBE_MAGIC;
	h->train = train;
	h->count = d.count;
	h->dir = NETQ_PROBE_REQ;
	for (i = 0; i < d.count; i++) {
		h->idx = i;
		pk[i].tx = netq_now_ns();
		if (send(fd, buf, d.size, 0) == (ssize_t)d.size)
			r.sent++;
	}
	deadline = netq_now_ns() + (uint64_t)d.timeout_ms * 1000000ull;
	r.recv = collect(fd, train, pk, 0, d.count, iphdr, deadline);
	if (r.recv) {
		h->flags = 1; /* RTT packet */
		for (i = d.count; i < total; i++) {
			h->idx = i;
			pk[i].tx = netq_now_ns();
			if (send(fd, buf, small, 0) != (ssize_t)small)
				continue;
			collect(fd, train, pk, i, i + 1, iphdr,
				netq_now_ns() + (uint64_t)d.timeout_ms *
				1000000ull / 4);
		}
	}
	if (q) {
		int kern = 0, want = 0;

		probe_arm(q, 0);
		__atomic_store_n(&q->ctl->probe_train, 0, __ATOMIC_RELEASE);
		for (i = 0; i < total; i++) {
			const struct netq_probe_ts *ts = &q->probe[i];

			if (ts->train == train && !have_slot) {
				slot = ts->tx_slot;
				have_slot = 1;
			}
			want += pk[i].ok;
			if (pk[i].ok && ts->train == train &&
			    ts->rx_train == train)
				kern++;
		}
		/* kernel stamps only if every echo has both; otherwise (the
		 * reply came in on an interface we do not watch) user stamps
		 * for all, so the train is timed at one place */
		r.kernel_ts = kern > 0 && kern == want;
		for (i = 0; r.kernel_ts && i < total; i++) {
			if (!pk[i].ok)
				continue;
			pk[i].tx = q->probe[i].tx_ns;
			pk[i].rx = q->probe[i].rx_ns;
			pk[i].len = q->probe[i].rx_len;
		}
	}
	if (!r.recv) {
		err = -ETIMEDOUT;
		goto out;
	}
	estimate(pk, d.count, &r.rtt_us, &r.kbps);
	for (i = 0; i < total; i++)
		if (pk[i].ok && pk[i].rx > pk[i].tx && pk[i].rx - pk[i].tx < dmin)
			dmin = pk[i].rx - pk[i].tx;
	if (dmin != UINT64_MAX)
		r.rtt_us = (uint32_t)((dmin + 500) / 1000);
	r.bytes = (uint64_t)(r.sent + r.recv) * (d.size + iphdr + L2_OVERHEAD) +
		  2ull * NETQ_PROBE_RTT_PKTS * (small + iphdr + L2_OVERHEAD);
	if (q && have_slot && slot < NETQ_MAX_IFACES) {
		r.ifindex = q->ifaces[slot].ifindex;
		store_result(q, slot, &r);
	}
	*out = r;
	err = 0;
out:
	if (q)
		netq_close(q);
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	return err;
}

/* ------------------------------------------------------------- echo */

struct held {
	uint64_t due;
	struct sockaddr_storage from;
	socklen_t flen;
	uint16_t len;
	uint8_t data[1500] __attribute__((aligned(8))); /* cast to the hdr */
};

#define HOLD_MAX 1024  /* replies held at once (delay * rate bound) */
/* After a packet, keep polling without sleeping this long: a train's
 * packets then find the reflector awake, and the probe's RTT does not
 * include a wake-up (ping is answered by the kernel, never sleeps). */
#define SPIN_NS 3000000ull

int netq_echo_open(const char *addrport, int *fd_out)
{
	struct addrinfo *ai = NULL;
	int fd, err, one = 1;

	err = parse_hostport(addrport, 7010, &ai, 1);
	if (err)
		return err;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		err = -errno;
		close(fd);
		goto out;
	}
	*fd_out = fd;
	err = 0;
out:
	freeaddrinfo(ai);
	return err;
}

int netq_echo_serve(int fd, uint32_t delay_ms, volatile int *stop)
{
	struct held *q;
	unsigned head = 0, cnt = 0;
	uint64_t last_rx = 0;

	q = calloc(HOLD_MAX, sizeof(*q));
	if (!q)
		return -ENOMEM;
	while (!stop || !*stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = netq_now_ns();
		int ms = 200, spin = now - last_rx < SPIN_NS;

		/* send what is due, in arrival order (keeps the dispersion) */
		while (cnt && q[head].due <= now) {
			struct held *h = &q[head];

			sendto(fd, h->data, h->len, 0,
			       (struct sockaddr *)&h->from, h->flen);
			head = (head + 1) % HOLD_MAX;
			cnt--;
		}
		if (cnt) {
			uint64_t w = q[head].due - now;

			ms = (int)(w / 1000000);
			if (ms > 200)
				ms = 200;
		}
		/* sub-ms waits: spin on poll(0) for precise hold times */
		if (poll(&pfd, 1, (cnt && ms == 0) || spin ? 0 : ms) <= 0)
			continue;
		last_rx = netq_now_ns();
		for (;;) {
			struct held *h;
			struct netq_probe_hdr *ph;
			ssize_t n;

			if (cnt == HOLD_MAX)
				break;
			h = &q[(head + cnt) % HOLD_MAX];
			h->flen = sizeof(h->from);
			n = recvfrom(fd, h->data, sizeof(h->data), MSG_DONTWAIT,
				     (struct sockaddr *)&h->from, &h->flen);
			if (n < 0)
				break;
			ph = (struct netq_probe_hdr *)h->data;
			if (n < (ssize_t)sizeof(*ph) ||
			    ph->magic != NETQ_PROBE_MAGIC ||
			    ph->dir != NETQ_PROBE_REQ)
				continue; /* not ours: no reply at all */
			ph->dir = NETQ_PROBE_REPLY;
			ph->delay_ms = (uint16_t)delay_ms;
			h->len = (uint16_t)n;
			if (!delay_ms) {
				sendto(fd, h->data, h->len, 0,
				       (struct sockaddr *)&h->from, h->flen);
				continue;
			}
			h->due = netq_now_ns() + (uint64_t)delay_ms * 1000000ull;
			cnt++;
		}
	}
	free(q);
	return 0;
}

int netq_echo_run(const char *addrport, uint32_t delay_ms,
		  volatile int *stop)
{
	int fd, err;

	err = netq_echo_open(addrport, &fd);
	if (err)
		return err;
	err = netq_echo_serve(fd, delay_ms, stop);
	close(fd);
	return err;
}
