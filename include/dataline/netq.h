/*
 * netq: libnetq, the handset's network-quality module (user side of
 * bpf/netq.bpf.c). It attaches the tc/tcx programs, opens the pinned,
 * memory-mapped maps from any process, turns them into per-interface
 * snapshots, runs the active probe and the echo reflector, follows link
 * state through libnl-route, and makes the voice/text decision.
 * No RFCs; design, map layouts and thresholds are in docs/netq.md.
 *
 * All functions return 0 or -errno; output parameters are set on success.
 */
#ifndef DATALINE_NETQ_H
#define DATALINE_NETQ_H

#include <stdint.h>
#include <stddef.h>
#include <dataline/netq_maps.h>

#define NETQ_DEFAULT_PIN_DIR "/sys/fs/bpf/dataline"
#define NETQ_PIN_ENV         "DATALINE_PIN_DIR"

/* ---------------------------------------------------------- snapshot */
enum netq_link_kind {
	NETQ_KIND_UNKNOWN = 0,
	NETQ_KIND_ETHERNET,
	NETQ_KIND_WIFI,
	NETQ_KIND_WWAN,
	NETQ_KIND_OTHER,
};

/*
 * Everything a decision looks at for one interface. Filled by
 * netq_snapshot_read() from the maps and the link-state cache, or by
 * anyone else (a benchmark from /proc/net/dev, a unit test by hand).
 * A figure that is not known is 0 with its have_* flag 0.
 */
struct netq_snapshot {
	char     ifname[16];
	uint32_t ifindex;
	/* link state (netlink) */
	int      up;              /* carrier up (IFF_LOWER_UP and admin up) */
	int      default_route;   /* a default route (v4 or v6) uses it */
	enum netq_link_kind kind;
	uint32_t speed_mbps;      /* nominal, from the driver; 0 = unknown */
	/* counters (tc ingress/egress), totals since attach; tx counts what
	 * was handed to the device (before its qdisc) */
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t rx_wire_packets, tx_wire_packets;  /* gso_segs */
	/* rates over the last second, one read; tx after the qdisc when the
	 * net_dev_xmit hook is attached (it is on kernels with tp_btf) */
	uint64_t rx_bps, tx_bps;
	uint64_t age_ms;          /* since the last packet either way */
	/* TCP */
	int      have_tcp;        /* an RTT sample in the last 30 s */
	uint32_t srtt_us, min_rtt_us;
	uint64_t retrans, segs_out;          /* totals */
	int      have_loss;       /* enough segments in the loss window */
	double   loss_pct;        /* retrans / segs_out over the last 10 s */
	/* active probe */
	int      have_probe;      /* a probe result exists */
	uint32_t probe_rtt_us, probe_kbps;
	uint32_t probe_sent, probe_recv;
	uint64_t probe_age_ms;
	uint32_t attach_mode;     /* enum netq_attach_mode; 0 if not from maps */
};

/* ---------------------------------------------------------- decision */
enum netq_service { NETQ_TEXT = 0, NETQ_VOICE = 1 };
enum netq_verdict { NETQ_DATA = 0, NETQ_FALLBACK = 1 };

enum netq_reason {
	NETQ_R_OK = 0,            /* all checks passed */
	NETQ_R_NO_INTERFACE,      /* nothing monitored / no snapshot */
	NETQ_R_LINK_DOWN,         /* carrier down */
	NETQ_R_NO_ROUTE,          /* no default route over the interface */
	NETQ_R_NO_RATE,           /* no fresh probe, traffic < min: rate unknown */
	NETQ_R_RATE_LOW,          /* own rate/capacity below min_kbps */
	NETQ_R_RTT_HIGH,          /* RTT above max_rtt_ms */
	NETQ_R_LOSS_HIGH,         /* loss above max_loss_pct */
};

struct netq_thresholds {
	uint32_t min_kbps;        /* voice: threshold 1 (C2) */
	uint32_t max_rtt_ms;      /* voice: 0 = not checked */
	double   max_loss_pct;    /* voice: < 0 = not checked */
	uint32_t probe_max_age_s; /* a probe older than this is ignored */
};

/* Defaults (why: docs/netq.md): voice = Opus 24-32 kbit/s + RTP/UDP/IP
 * overhead ~16 kbit/s + SRTP, doubled for headroom -> 100 kbit/s; RTT 300 ms
 * (ITU-T G.114: 150 ms one way); loss 5 % (Opus PLC/FEC limit). */
#define NETQ_VOICE_MIN_KBPS      100
#define NETQ_VOICE_MAX_RTT_MS    300
#define NETQ_VOICE_MAX_LOSS_PCT  5.0
#define NETQ_PROBE_MAX_AGE_S     900

void netq_thresholds_default(enum netq_service svc, struct netq_thresholds *t);

struct netq_decision {
	enum netq_verdict verdict;
	enum netq_reason  reason;
	uint32_t ifindex;         /* interface the verdict is about */
	char     ifname[16];
	uint64_t rate_kbps;       /* the rate figure used (max of traffic, probe) */
	int      rate_from_probe; /* 1 if the probe's capacity was the figure */
	uint32_t rtt_us;          /* the RTT used (TCP srtt or probe); 0 = none */
	double   loss_pct;        /* the loss used; < 0 = none */
};

const char *netq_reason_str(enum netq_reason r);
const char *netq_verdict_str(enum netq_verdict v);
const char *netq_kind_str(enum netq_link_kind k);

/*
 * The decision on one snapshot: pure, no I/O, no allocation. Text: up and
 * default route. Voice: that, and rate >= min_kbps, rtt <= max, loss <= max.
 * "Rate" is max(traffic now in either direction, the fresh probe's
 * capacity): traffic proves at least that much; on an idle link the probe
 * is the only evidence (no fresh probe and traffic < min -> NETQ_R_NO_RATE).
 * Returns 0, or -EINVAL on NULL arguments.
 */
int netq_decide_snapshot(const struct netq_snapshot *s, enum netq_service svc,
			 const struct netq_thresholds *t,
			 struct netq_decision *out);

/* Over several interfaces: the first with DATA wins (default-route ones
 * first); else FALLBACK with the reason of the best candidate. n == 0 gives
 * FALLBACK/NETQ_R_NO_INTERFACE. */
int netq_decide_many(const struct netq_snapshot *s, size_t n,
		     enum netq_service svc, const struct netq_thresholds *t,
		     struct netq_decision *out);

/* ---------------------------------------------------------- reader */
struct netq;  /* opaque: pinned maps mmap'ed + link-state cache */

/*
 * Opens the pinned maps in pin_dir (NULL: $DATALINE_PIN_DIR or
 * NETQ_DEFAULT_PIN_DIR) and mmaps them read-write (the prober writes its
 * result). -ENOENT: not attached. -EPERM/-EACCES: no BPF permission.
 * With NETQ_OPEN_LINKSTATE a libnl cache manager follows link and route
 * events (see netq_linkstate_fd / netq_linkstate_update).
 */
#define NETQ_OPEN_LINKSTATE 1u
int  netq_open(const char *pin_dir, unsigned flags, struct netq **out);
void netq_close(struct netq *q);

/* Slots in use, as interface indexes (<= NETQ_MAX_IFACES). Returns count. */
int netq_ifaces(const struct netq *q, uint32_t *ifindex, int max);

/* One interface by index; -ENOENT if not monitored. Memory reads plus the
 * cached link state; no system call (clock_gettime is vDSO). */
int netq_snapshot_read(const struct netq *q, uint32_t ifindex,
		       struct netq_snapshot *out);
/* All monitored interfaces; returns the count filled. */
int netq_snapshot_all(const struct netq *q, struct netq_snapshot *out, int max);

/* The decision over all monitored interfaces, from memory: exactly what
 * netq_snapshot_all() + netq_decide_many() (default-route ones first) give,
 * but reading only what the verdict needs (~50 ns; docs/netq.md, "Costs"). */
int netq_decide(const struct netq *q, enum netq_service svc,
		const struct netq_thresholds *t, struct netq_decision *out);

/* Link-state events: poll this fd for POLLIN, then call update. Returns
 * -ENOTCONN if opened without NETQ_OPEN_LINKSTATE. */
int netq_linkstate_fd(const struct netq *q);
int netq_linkstate_update(struct netq *q);

/* ---------------------------------------------------------- loader */
/* attach/detach/clean: one at a time per process (they use static scratch
 * buffers); across processes an flock on the pin dir serializes them. */
struct netq_attach_opts {
	const char *pin_dir;      /* NULL: env or default */
	int verbose;              /* libbpf debug output */
	int force_clsact;         /* skip tcx (testing the fallback) */
};
enum netq_attach_mode { NETQ_MODE_TCX = 1, NETQ_MODE_CLSACT = 2 };

/* Resolves the pin dir (NULL -> env -> default) into buf. */
const char *netq_pin_dir(const char *pin_dir, char *buf, size_t len);

/* Mounts bpffs on /sys/fs/bpf if nothing is mounted there; 1 if it did,
 * 0 if already mounted, -errno. -ENOTDIR-like -EXDEV if pin_dir is not on
 * a bpffs. */
int netq_bpffs_ensure(const char *pin_dir);

/* Attaches ingress+egress programs to one interface of the current network
 * namespace (idempotent: already attached -> 0 with *mode_out set). Loads
 * the TCP tracepoint programs once per pin dir. -ENODEV: no such interface;
 * -ENOSPC: all slots used; -EPERM: no BPF permission. */
int netq_attach(const struct netq_attach_opts *o, const char *ifname,
		enum netq_attach_mode *mode_out);
/* 1 if ifname (this netns) has a live attachment in the pin dir, 0 if
 * not, -ENODEV if there is no such interface. */
int netq_attached(const char *pin_dir, const char *ifname);

/* Detaches one interface (ifname NULL: everything, and removes the pins).
 * -ENOENT if it was not attached (nothing attached, for NULL); leftovers of
 * a crashed run are removed all the same. */
int netq_detach(const struct netq_attach_opts *o, const char *ifname);

/* Removes pins of a crashed run: links whose interface is gone, maps with
 * no program attached. Returns the number of objects removed. */
int netq_clean_stale(const struct netq_attach_opts *o);

/* Interfaces of the default routes (v4 and v6) in this namespace. */
int netq_default_ifaces(char names[][16], int max);

/* ---------------------------------------------------------- probe/echo */
struct netq_probe_opts {
	const char *pin_dir;      /* maps to record into; NULL: env/default */
	uint16_t count;           /* train packets, default 32, at most
	                           * NETQ_PROBE_MAX - NETQ_PROBE_RTT_PKTS */
	uint16_t size;            /* UDP payload bytes, default 1000 */
	uint32_t timeout_ms;      /* wait for echoes, default 2000 */
	int      no_bpf;          /* user-space timestamps only */
};
struct netq_probe_result {
	uint32_t ifindex;         /* egress interface (0 if no BPF) */
	uint32_t rtt_us;          /* min RTT over the train */
	uint32_t kbps;            /* capacity by dispersion of the train tail */
	uint32_t sent, recv;
	uint64_t bytes;           /* L2 bytes both ways (data cost) */
	int      kernel_ts;       /* 1: tc timestamps, 0: user-space ones */
};
#define NETQ_PROBE_DEFAULT_COUNT 32
#define NETQ_PROBE_DEFAULT_SIZE  1000
/* Small packets sent one at a time after the train, for the RTT. */
#define NETQ_PROBE_RTT_PKTS 3
/* Default background probing interval: 32 x 1042 B L2 each way + 3 x 106 B
 * each way = 67.3 kB per probe; 12 per hour = 808 kB/h <= 1 MB/h
 * (docs/netq.md). */
#define NETQ_PROBE_INTERVAL_S 300
#define NETQ_PROBE_BUDGET     1000000u /* bytes per hour of probing */

/* Bytes one probe with these options puts on the link, both ways (L2,
 * IPv4): what `probe --every` checks against NETQ_PROBE_BUDGET. */
uint64_t netq_probe_cost(const struct netq_probe_opts *o);

/* Runs one train to host:port ("1.2.3.4:5", "[::1]:5", "name:5") and, if
 * the maps are open, stores the result in the egress interface's slot.
 * -ETIMEDOUT: no echo came back. */
int netq_probe(const char *hostport, const struct netq_probe_opts *o,
	       struct netq_probe_result *out);

/* The reflector: answers probe packets on addr:port (NULL -> "0.0.0.0:7010")
 * until *stop becomes nonzero, holding each reply delay_ms. Only packets
 * with the probe magic are answered, with the same size (no amplification). */
int netq_echo_run(const char *addrport, uint32_t delay_ms,
		  volatile int *stop);
/* The same in two steps: bind (so a caller can say "listening"), serve. */
int netq_echo_open(const char *addrport, int *fd_out);
int netq_echo_serve(int fd, uint32_t delay_ms, volatile int *stop);

#endif
