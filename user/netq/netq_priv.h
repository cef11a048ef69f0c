/*
 * netq_priv: libnetq internals shared by the files of user/netq/ (not installed).
 */
#ifndef DATALINE_NETQ_PRIV_H
#define DATALINE_NETQ_PRIV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <dataline/netq.h>

#define NETQ_MAP_IFACES "netq_ifaces"
#define NETQ_MAP_IFMAP  "netq_ifmap"
#define NETQ_MAP_PROBE  "netq_probe"
#define NETQ_MAP_CTL    "netq_ctl"
#define NETQ_MAP_SK     "netq_sk"
#define NETQ_LINK_TCP_PROBE   "link_tcp_probe"
#define NETQ_LINK_TCP_RETRANS "link_tcp_retrans"
#define NETQ_LINK_XMIT        "link_xmit"
#define NETQ_TC_HANDLE 0x4e51  /* "NQ": our clsact filters */
#define NETQ_TC_PRIO   1
/* The windows of the figures (fill_slot() and netq_decide() share them). */
#define NETQ_RATE_WIN_NS   1000000000ull  /* rx_bps/tx_bps: last second */
#define NETQ_LOSS_WIN_NS  10000000000ull  /* loss_pct: last 10 s */
#define NETQ_LOSS_MIN_SEGS 50             /* fewer segments: no loss figure */
#define NETQ_TCP_FRESH_NS 30000000000ull  /* srtt older than this: stale */

struct nl_sock;
struct nl_cache;
struct nl_cache_mngr;

/* Link state of one slot, refreshed by netlink events (netq_link.c). */
struct netq_lstate {
	int up;
	int default_route;
	enum netq_link_kind kind;
	uint32_t speed_mbps;
};

struct netq {
	int fd_ifaces, fd_ifmap, fd_probe, fd_ctl;  /* owned map fds */
	struct netq_iface *ifaces;       /* owned mmap, NETQ_MAX_IFACES */
	struct netq_ifmap *ifmap;        /* owned mmap */
	struct netq_probe_ts *probe;     /* owned mmap, NETQ_PROBE_MAX */
	struct netq_ctl *ctl;            /* owned mmap, one element */
	size_t sz_ifaces, sz_ifmap, sz_probe, sz_ctl;
	uint32_t my_netns;               /* netns inode of this process */
	/* link state (NETQ_OPEN_LINKSTATE), owned */
	struct nl_cache_mngr *mngr;
	struct nl_cache *links, *routes;
	int have_lstate;
	struct netq_lstate lstate[NETQ_MAX_IFACES];
};

static inline uint64_t netq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint32_t netq_netns_ino(void);
int netq_map_mmap(int fd, size_t value_size, uint32_t n, void **out,
		  size_t *len);
/* Slot of ifindex in this process's netns, or -ENOENT. */
int netq_slot_find(const struct netq *q, uint32_t ifindex);
/* netq_pins.c: the pin dir (see there); the loader in netq_attach.c */
extern int netq_verbose;
int netq_libbpf_print(enum libbpf_print_level lvl, const char *fmt,
		      va_list ap);
int netq_mkdir_p(const char *dir);
int netq_lock_dir(const char *dir);
void netq_pin_path(char *buf, size_t len, const char *dir, const char *name);
int netq_pinned_fd(const char *dir, const char *name);
int netq_l2_hlen_of(const char *ifname);
void netq_wait_progs_gone(void);
void netq_update_ifbits(const char *dir);
void netq_slot_release(const char *dir, uint32_t slot, uint32_t ifindex,
		       uint32_t mode, int same_ns);
void netq_unpin_all(const char *dir);
int netq_slot_read(int fd_ifaces, int fd_ifmap, uint32_t slot,
		   struct netq_ifmap *m, uint32_t *mode);
int netq_slot_record(int fd_ifaces, uint32_t slot, struct netq_ifmap *m);
int netq_slot_clear(int fd_ifaces, int fd_ifmap, uint32_t slot);
int netq_slot_alive(const char *dir, uint32_t slot,
		    const struct netq_ifmap *m, uint32_t mode);
int netq_clean_locked(const char *dir);
/* netq_link.c */
int netq_lstate_open(struct netq *q);
void netq_lstate_close(struct netq *q);
void netq_lstate_refresh(struct netq *q);
void netq_link_probe_static(const char *ifname, struct netq_lstate *ls);
/* How far a fallback got: a later check failing means a better link
 * (netq_decide_many() and netq_decide() pick the furthest). */
static inline int netq_reason_progress(enum netq_reason r)
{
	switch (r) {
	case NETQ_R_OK:        return 9;
	case NETQ_R_LOSS_HIGH: return 6;
	case NETQ_R_RTT_HIGH:  return 5;
	case NETQ_R_RATE_LOW:  return 4;
	case NETQ_R_NO_RATE:   return 3;
	case NETQ_R_NO_ROUTE:  return 2;
	case NETQ_R_LINK_DOWN: return 1;
	default:               return 0;
	}
}

/* netq_snapshot_all() and netq_decide() at a given time (CLOCK_MONOTONIC
 * ns; for netq_decide_at, 0 = read the clock when first needed), so that
 * a test can compare the two on the same maps at the same moment. */
int netq_snapshot_all_at(const struct netq *q, uint64_t now,
			 struct netq_snapshot *out, int max);
int netq_decide_at(const struct netq *q, enum netq_service svc,
		   const struct netq_thresholds *t, uint64_t now,
		   struct netq_decision *out);
/* Delta of a stream's counters over [now - win, now] (netq_live.c). */
void netq_stream_delta(const struct netq_stream *s, uint64_t now,
		       uint64_t win, uint64_t d[3]);

#endif
