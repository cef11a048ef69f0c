// SPDX-License-Identifier: GPL-2.0
/*
 * netq.bpf.c: the kernel side of netq, dataline's network-quality module.
 *  - netq_tc_ingress / netq_tc_egress (tc or tcx, one load per interface,
 *    slot in rodata): bytes, packets and wire packets per direction into the
 *    mmap'ed array netq_ifaces, with epoch marks for one-read rates; and
 *    kernel timestamps of active-probe packets (netq_probe).
 *  - netq_tcp_probe / netq_tcp_retrans (tp_btf, or raw_tp as fallback):
 *    smoothed RTT, windowed minimum RTT, segs_out and retransmissions per
 *    interface of the socket's received route.
 *  - netq_xmit (tp_btf/net_dev_xmit): tx after the qdisc (stream txw), for
 *    a tx rate that a shaper's drops do not inflate.
 * No RFCs. Layouts: include/dataline/netq_maps.h; design: docs/netq.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include <dataline/netq_maps.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD
#define barrier() asm volatile("" ::: "memory")
#define READ_ONCE(x)     (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#define NETQ_STR_(x) #x
#define NETQ_STR(x) NETQ_STR_(x)

/* Load-time constants (set by the loader between open and load). */
const volatile __u32 netq_slot = 0;   /* this interface's slot */
const volatile __u32 netq_l2_hlen = 14; /* 0 for raw-IP (wwan, tun) */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NETQ_MAX_IFACES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct netq_iface);
} netq_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NETQ_MAX_IFACES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct netq_ifmap);
} netq_ifmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NETQ_PROBE_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct netq_probe_ts);
} netq_probe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct netq_ctl);
} netq_ctl SEC(".maps");

/* Per-socket totals seen last, to turn tcp_sock totals into deltas. */
struct netq_sk_prev {
	__u32 segs_out;
	__u32 total_retrans;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u64);
	__type(value, struct netq_sk_prev);
} netq_sk SEC(".maps");

/*
 * A new epoch began: the CPU that wins the compare-and-swap records the
 * cumulative counters and the precise time in the epoch's mark (seqlock
 * style, see netq_maps.h). Losers just count; a reader sees at most one
 * packet's difference.
 */
static __noinline void stream_mark(struct netq_stream *s, __u64 old, __u64 e)
{
	struct netq_mark *m;

	if (!s)
		return;
	if (__sync_val_compare_and_swap(&s->epoch, old, e) != old)
		return;
	m = &s->marks[e & (NETQ_NMARKS - 1)];
	WRITE_ONCE(m->seq, 2 * e + 1);
	barrier(); /* x86 TSO: stores stay in order */
	m->t_ns = bpf_ktime_get_ns();
	m->a = READ_ONCE(s->a);
	m->b = READ_ONCE(s->b);
	m->c = READ_ONCE(s->c);
	WRITE_ONCE(s->last_ns, m->t_ns);
	barrier(); /* x86 TSO: stores stay in order */
	WRITE_ONCE(m->seq, 2 * e + 2);
}

static __always_inline void stream_add(struct netq_stream *s, __u64 now,
				       __u64 a, __u64 b, __u64 c)
{
	__u64 e = now >> NETQ_EPOCH_SHIFT, old = READ_ONCE(s->epoch);

	if (e != old)
		stream_mark(s, old, e);
	__sync_fetch_and_add(&s->a, a);
	if (b)
		__sync_fetch_and_add(&s->b, b);
	if (c)
		__sync_fetch_and_add(&s->c, c);
}

/*
 * The per-packet path, measured with kernel.bpf_stats_enabled (see
 * docs/netq.md): two atomic adds (bytes, skbs) and an inlined jiffies load.
 * The time helpers cost ~14 ns per call here, so the clock is read only
 * when jiffies moved since the stream's last look (at most HZ times a
 * second); an epoch change is thus seen up to one jiffy late, and the mark
 * then holds the time and counters of that moment (still a consistent
 * pair). gso_segs lives in skb_shinfo (another cache line): read only for
 * skbs longer than any non-GSO frame at the usual MTU, and counted as the
 * extra wire packets (gso_segs - 1), so wire packets = b + c.
 */
static __always_inline void count_add(struct netq_stream *s, __u32 len,
				      struct __sk_buff *skb, struct sk_buff *kskb)
{
	__u64 j = bpf_jiffies64();

	if (j != READ_ONCE(s->last_j)) {
		/* tracing programs may not use the coarse clock; same base */
		__u64 now = skb ? bpf_ktime_get_coarse_ns() : bpf_ktime_get_ns();
		__u64 e = now >> NETQ_EPOCH_SHIFT, old = READ_ONCE(s->epoch);

		WRITE_ONCE(s->last_j, j);
		if (e != old)
			stream_mark(s, old, e);
	}
	__sync_fetch_and_add(&s->a, len);
	__sync_fetch_and_add(&s->b, 1);
	if (len > 1600) {
		__u32 segs = 0;

		if (skb)
			segs = skb->gso_segs;
		else if (kskb) {
			unsigned char *head = BPF_CORE_READ(kskb, head);
			__u32 end = BPF_CORE_READ(kskb, end);
			struct skb_shared_info *sh = (void *)(head + end);

			segs = BPF_CORE_READ(sh, gso_segs);
		}
		if (segs > 1)
			__sync_fetch_and_add(&s->c, segs - 1);
	}
}

/*
 * Probe recognition: only while the prober has set the stream's probe word
 * (a copy of netq_ctl.probe_train, see netq_maps.h), checked again here
 * against netq_ctl. Parses
 * [eth] / IPv4|IPv6 / UDP and the netq_probe_hdr, every read bounds-checked.
 */
static __always_inline struct netq_probe_hdr *probe_hdr(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	void *p = data;
	__u16 proto = skb->protocol;
	__u8 l4;

	if (netq_l2_hlen) {
		struct ethhdr *eth = p;

		if ((void *)(eth + 1) > end)
			return NULL;
		proto = eth->h_proto;
		p = eth + 1;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = p;

		if ((void *)(ip + 1) > end)
			return NULL;
		if (ip->ihl < 5)
			return NULL;
		l4 = ip->protocol;
		p = (void *)ip + ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = p;

		if ((void *)(ip6 + 1) > end)
			return NULL;
		l4 = ip6->nexthdr;
		p = ip6 + 1;
	} else {
		return NULL;
	}
	if (l4 != IPPROTO_UDP)
		return NULL;
	p = (void *)p + sizeof(struct udphdr);
	if (p + sizeof(struct netq_probe_hdr) > end)
		return NULL;
	return p;
}

/* Out of line: only probe packets reach it, and the per-packet code stays
 * a few cache lines of the program image. */
static __noinline void probe_check(struct __sk_buff *skb, int egress)
{
	struct netq_probe_hdr *h;
	struct netq_probe_ts *ts;
	struct netq_ctl *ctl;
	__u32 k = 0, idx, train;

	ctl = bpf_map_lookup_elem(&netq_ctl, &k);
	if (!ctl || !(train = READ_ONCE(ctl->probe_train)))
		return;
	h = probe_hdr(skb);
	if (!h || h->magic != NETQ_PROBE_MAGIC || h->train != train)
		return;
	if (h->dir != (egress ? NETQ_PROBE_REQ : NETQ_PROBE_REPLY))
		return;
	idx = h->idx;
	if (idx >= NETQ_PROBE_MAX)
		return;
	ts = bpf_map_lookup_elem(&netq_probe, &idx);
	if (!ts)
		return;
	if (egress) {
		ts->tx_ns = bpf_ktime_get_ns();
		ts->tx_len = skb->len;
		ts->tx_slot = netq_slot;
		WRITE_ONCE(ts->train, train);
	} else {
		ts->rx_ns = bpf_ktime_get_ns();
		ts->rx_len = skb->len;
		ts->rx_slot = netq_slot;
		WRITE_ONCE(ts->rx_train, train);
	}
}

/*
 * This interface's slot as an instruction immediate. The loader rewrites
 * the NETQ_SLOT_IMM of this one instruction to the slot before load
 * (netq_attach.c, patch_slot), so the per-packet path reads no .rodata:
 * on a VM whose TLB is flushed at every kernel entry (PTI without PCID,
 * see docs/netq.md "Per-packet cost") each distinct memory region a
 * program touches costs a page walk, ~20-40 ns. Left unpatched, the
 * lookup below fails its bounds check and the program counts nothing.
 */
static __always_inline __u32 tc_slot(void)
{
	__u64 s;

	asm volatile("%0 = " NETQ_STR(NETQ_SLOT_IMM) : "=r"(s));
	return s;
}

/*
 * The whole per-packet path touches one cache line of netq_ifaces (plus
 * jiffies and skb fields the stack has just used): counters, last_j and
 * the probe word all sit in the stream's first line.
 */
static __always_inline int tc_count(struct __sk_buff *skb, int egress)
{
	__u32 slot = tc_slot();
	struct netq_iface *st = bpf_map_lookup_elem(&netq_ifaces, &slot);
	struct netq_stream *s;

	if (!st)
		return -1;
	s = egress ? &st->tx : &st->rx;
	count_add(s, skb->len, skb, NULL);
	if (READ_ONCE(s->probe_train))
		probe_check(skb, egress);
	return -1; /* TC_ACT_UNSPEC == TCX_NEXT: let the stack go on */
}

SEC("tc")
int netq_tc_ingress(struct __sk_buff *skb)
{
	return tc_count(skb, 0);
}

SEC("tc")
int netq_tc_egress(struct __sk_buff *skb)
{
	return tc_count(skb, 1);
}

/* ------------------------------------------------------------- TCP */
/* (and the transmit tracepoint, which shares the slot search) */

/* Slot of (ifindex, netns); bounded loop over the small ifmap array. */
static __always_inline int slot_of(__u32 ifindex, __u32 ns)
{
	for (__u32 i = 0; i < NETQ_MAX_IFACES; i++) {
		__u32 k = i;
		struct netq_ifmap *m = bpf_map_lookup_elem(&netq_ifmap, &k);

		if (m && m->ifindex == ifindex && m->netns_ino == ns)
			return i;
	}
	return -1;
}

/* Cheap filter before the slot search: some slot has this ifindex & 255. */
static __always_inline int watched(__u32 ifindex)
{
	struct netq_ctl *ctl;
	__u32 k = 0;

	ctl = bpf_map_lookup_elem(&netq_ctl, &k);
	return ctl && (ctl->ifbits[(ifindex >> 6) & 3] & (1ull << (ifindex & 63)));
}

static __always_inline void min_rtt_update(struct netq_iface *st, __u64 now,
					   __u32 rtt)
{
	__u64 e = now >> 33;
	__u32 b = e & 3;

	/* races between CPUs only lose a sample; documented, harmless */
	if (st->min_rtt_epoch[b] != e) {
		st->min_rtt_epoch[b] = e;
		st->min_rtt_us[b] = rtt;
	} else if (rtt < st->min_rtt_us[b] || !st->min_rtt_us[b]) {
		st->min_rtt_us[b] = rtt;
	}
}

static __always_inline void tcp_update(struct sock *sk, int with_rtt)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct netq_sk_prev *prev, init;
	struct netq_iface *st;
	__u32 ifindex, ns, segs, retr, srtt;
	__u64 key = (__u64)(long)sk, now;
	__u32 slot;
	int s;

	ifindex = BPF_CORE_READ(sk, sk_rx_dst_ifindex);
	if (!ifindex || !watched(ifindex))
		return;
	ns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	s = slot_of(ifindex, ns);
	if (s < 0)
		return;
	slot = s;
	st = bpf_map_lookup_elem(&netq_ifaces, &slot);
	if (!st)
		return;
	segs = BPF_CORE_READ(tp, segs_out);
	retr = BPF_CORE_READ(tp, total_retrans);
	now = bpf_ktime_get_ns();

	prev = bpf_map_lookup_elem(&netq_sk, &key);
	if (!prev) {
		/* first sight: history before attach is not ours to count */
		init.segs_out = segs;
		init.total_retrans = retr;
		bpf_map_update_elem(&netq_sk, &key, &init, BPF_ANY);
		stream_add(&st->tcp, now, 0, 0, with_rtt);
	} else {
		__u32 ds = segs - prev->segs_out, dr = retr - prev->total_retrans;

		prev->segs_out = segs;
		prev->total_retrans = retr;
		stream_add(&st->tcp, now, ds, dr, with_rtt);
	}
	if (with_rtt) {
		srtt = BPF_CORE_READ(tp, srtt_us) >> 3;
		if (srtt) {
			WRITE_ONCE(st->srtt_us, srtt);
			WRITE_ONCE(st->srtt_ns_at, now);
			min_rtt_update(st, now, srtt);
		}
	}
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(netq_tcp_probe, struct sock *sk, const struct sk_buff *skb)
{
	tcp_update(sk, 1);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(netq_tcp_retrans, const struct sock *sk, const struct sk_buff *skb)
{
	tcp_update((struct sock *)sk, 0);
	return 0;
}

/* Fallbacks for kernels without tp_btf (the loader picks one pair). */
SEC("raw_tp/tcp_probe")
int netq_tcp_probe_raw(struct bpf_raw_tracepoint_args *ctx)
{
	tcp_update((struct sock *)ctx->args[0], 1);
	return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int netq_tcp_retrans_raw(struct bpf_raw_tracepoint_args *ctx)
{
	tcp_update((struct sock *)ctx->args[0], 0);
	return 0;
}

/*
 * tx after the qdisc (stream txw): the driver accepted the skb (rc ==
 * NETDEV_TX_OK). The tx rate comes from here, so a shaper's drops do not
 * count as sent; the tx totals come from tc egress, which never misses a
 * packet (this tracepoint, as measured under load, misses about 1 in 10^3
 * GSO skbs that `ip -s link` counts; see docs/netq.md).
 * Fires for every interface of the host, so it first tests one bit of
 * netq_ctl.ifbits (ifindex & 255) before the slot search.
 */
SEC("tp_btf/net_dev_xmit")
int BPF_PROG(netq_xmit, struct sk_buff *skb, int rc, struct net_device *dev,
	     unsigned int skb_len)
{
	struct netq_iface *st;
	__u32 ifindex, ns, slot;
	int s;

	if (rc)
		return 0;
	ifindex = dev->ifindex;
	if (!watched(ifindex))
		return 0;
	ns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	s = slot_of(ifindex, ns);
	if (s < 0)
		return 0;
	slot = s;
	st = bpf_map_lookup_elem(&netq_ifaces, &slot);
	if (st)
		count_add(&st->txw, skb_len, NULL, skb);
	return 0;
}
