/*
 * netq_maps: the map layouts shared by bpf/netq.bpf.c (kernel) and
 * user/netq/ (libnetq). Fixed-width __u32/__u64 fields only: no pointers,
 * no bool, no padding holes, so both sides (and bpftool, through BTF) agree.
 * Compiles with vmlinux.h in BPF and with <linux/types.h> in userspace.
 * No RFCs; see docs/netq.md for how the figures are computed.
 */
#ifndef DATALINE_NETQ_MAPS_H
#define DATALINE_NETQ_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NETQ_MAX_IFACES   32      /* monitored interfaces (slots) */
#define NETQ_EPOCH_SHIFT  27      /* one epoch = 2^27 ns = 134.2 ms */
#define NETQ_NMARKS       128     /* mark ring: 128 epochs = 17.2 s */
#define NETQ_PROBE_MAX    64      /* packets per probe train, at most */
#define NETQ_PROBE_MAGIC  0x514e4c44u /* "DLNQ" little-endian on the wire */
#define NETQ_PROBE_REQ    1       /* probe_hdr.dir: prober -> echo */
#define NETQ_PROBE_REPLY  2       /* probe_hdr.dir: echo -> prober */
/* Placeholder immediate of the tc programs' slot instruction (tc_slot() in
 * bpf/netq.bpf.c), replaced by the slot at load time. Below 2^31. */
#define NETQ_SLOT_IMM     0x5107a3d1

/*
 * Cumulative counters of one stream (rx, tx or tcp) and a ring of "marks".
 *
 * Per packet the tc program only adds to a and b (atomic adds: the array is
 * mmap'ed, per-CPU maps cannot be). When a packet is the first of a new
 * epoch (2^27 ns), the CPU that wins a compare-and-swap on `epoch` also
 * copies the cumulative counters and the precise time into
 * marks[epoch % NETQ_NMARKS]. A reader then gets "bytes in the last second"
 * from ONE read: (counter now - counter at a mark ~1 s ago) / (time between),
 * interpolating between the two marks around the window start. No second
 * sample, no per-packet write to a time bucket.
 *
 * Mark consistency: the writer sets `seq` odd, writes the fields, sets
 * `seq` even (= 2*epoch+2). A reader accepts a mark only if seq is even and
 * unchanged across its read and matches the epoch it looked for.
 */
struct netq_mark {
	__u64 seq;        /* 2*epoch+2 when complete, odd while being written */
	__u64 t_ns;       /* CLOCK_MONOTONIC ns of the first packet of the epoch */
	__u64 a;          /* cumulative a (bytes / segs_out) before that packet */
	__u64 b;          /* cumulative b (packets / retrans) */
	__u64 c;          /* cumulative c (wire packets, gso_segs) */
};

struct netq_stream {
	__u64 a;          /* rx/tx: bytes (skb->len);   tcp: segs_out */
	__u64 b;          /* rx/tx: packets (skbs);      tcp: retransmits */
	__u64 c;          /* rx/tx: extra wire packets of GSO/GRO skbs
	                   * (sum of gso_segs - 1; wire packets = b + c);
	                   * tcp: RTT samples */
	__u64 epoch;      /* epoch of the latest mark (CAS target) */
	__u64 last_ns;    /* time of the latest mark (first event of the
	                   * latest epoch; not updated per packet: cost) */
	__u64 last_j;     /* jiffies when the clock was last read (tc) */
	__u32 probe_train; /* rx/tx: copy of netq_ctl.probe_train, set by the
	                    * prober in every slot, so the tc path tests it
	                    * on the line it already writes (no netq_ctl
	                    * access per packet) */
	__u32 pad32;
	__u64 pad;        /* keep marks cache-line aligned */
	struct netq_mark marks[NETQ_NMARKS];
};

/*
 * One monitored interface (value of the mmap'ed array netq_ifaces, indexed
 * by the slot the loader assigned). The tc programs of that interface know
 * their slot as a load-time constant (rodata), so the per-packet path does
 * no lookup by ifindex at all.
 */
struct netq_iface {
	__u32 ifindex;        /* 0 = slot free */
	__u32 netns_ino;      /* inode of the network namespace */
	char  ifname[16];     /* at attach time (informative) */
	__u64 attach_ns;      /* CLOCK_MONOTONIC ns when attached */
	__u32 attach_mode;    /* 1 = tcx, 2 = clsact */
	__u32 srtt_us;        /* TCP: smoothed RTT of the latest sample (us) */
	__u64 srtt_ns_at;     /* CLOCK_MONOTONIC ns of that sample */
	__u32 min_rtt_us[4];  /* TCP: min RTT per 2^33 ns (8.6 s) bucket */
	__u64 min_rtt_epoch[4]; /* bucket epoch (ns >> 33) of each min */
	/* latest active probe, written by the prober (user space) */
	__u64 probe_seq;      /* odd while being written */
	__u64 probe_ns;       /* CLOCK_MONOTONIC ns when the result was written */
	__u32 probe_rtt_us;   /* min RTT over the train, kernel timestamps */
	__u32 probe_kbps;     /* capacity by dispersion (L2 bits), kbit/s */
	__u32 probe_sent;     /* packets sent in the train */
	__u32 probe_recv;     /* echoes received */
	__u64 probe_bytes;    /* L2 bytes of the train, both directions */
	__u32 flags;          /* NETQ_IF_TXW: txw is counted (xmit hook) */
	__u32 pad0;
	__u64 pad1[6];        /* streams start on a cache line (values of an
	                       * mmapable array start on a page), so a tc
	                       * program's per-packet fields share one line */
	struct netq_stream rx;   /* tc ingress */
	struct netq_stream tx;   /* tc egress: handed to the device, before
	                          * its qdisc (exact totals, offered load) */
	struct netq_stream tcp;
	struct netq_stream txw;  /* net_dev_xmit: taken by the driver, after
	                          * the qdisc (what a shaper let through) */
};
#define NETQ_IF_TXW 1u

/* netq_ifmap[slot]: small index for the TCP tracepoints (ifindex -> slot). */
struct netq_ifmap {
	__u32 ifindex;        /* 0 = free */
	__u32 netns_ino;
};

/*
 * Per-packet timestamps of the current probe train (array netq_probe,
 * indexed by packet number). tc egress fills tx_*, tc ingress rx_* when the
 * UDP payload starts with struct netq_probe_hdr of the same train.
 */
struct netq_probe_ts {
	__u32 train;          /* train id of tx_ns */
	__u32 rx_train;       /* train id of rx_ns */
	__u64 tx_ns;          /* bpf_ktime_get_ns() at tc egress */
	__u64 rx_ns;          /* bpf_ktime_get_ns() at tc ingress */
	__u32 tx_len;         /* skb->len (L2) at egress */
	__u32 rx_len;         /* skb->len (L2) at ingress */
	__u32 tx_slot;        /* interface slot that sent it */
	__u32 rx_slot;        /* interface slot that received the echo */
};

/* netq_ctl[0]: control word the prober sets while a train is in flight, so
 * the tc programs parse UDP payloads only then (one load otherwise); and
 * the ifindex filter of the transmit tracepoint (set by the loader). */
struct netq_ctl {
	__u32 probe_train;    /* train id being timed; 0 = no probe running */
	__u32 probe_count;    /* packets in that train */
	__u64 probe_start_ns; /* when the prober armed it */
	__u64 ifbits[4];      /* bit (ifindex & 255) set if some slot has that
	                       * ifindex: the xmit tracepoint's cheap filter */
};

/* UDP payload of a probe packet (network byte order not needed: only the
 * prober and the kernel on the same host read idx/train; the echo copies
 * the payload back unchanged except `dir`). */
struct netq_probe_hdr {
	__u32 magic;          /* NETQ_PROBE_MAGIC */
	__u32 train;          /* train id, never 0 */
	__u16 idx;            /* packet number in the train */
	__u16 count;          /* packets in the train */
	__u8  dir;            /* NETQ_PROBE_REQ / NETQ_PROBE_REPLY */
	__u8  flags;
	__u16 delay_ms;       /* informative: echo hold time */
};

/* The tc programs' per-packet fields (a, b, last_j, probe_train) share
 * the first cache line of their stream. */
_Static_assert(__builtin_offsetof(struct netq_iface, rx) % 64 == 0 &&
	       sizeof(struct netq_stream) % 64 == 0,
	       "netq streams start on a cache line");

#endif
