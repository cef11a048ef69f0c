/*
 * hpres: the handset's presence (issue 8, patent steps C2/C3). Keeps the
 * handset's network figures fresh and published: probes the path to the
 * server's reflector in the background (netq_probe on a thread, within a
 * data budget per rolling hour), reads the figures from libnetq when netq
 * is attached (else from its own probe result alone), and PUBLISHes them
 * (RFC 3903, PIDF RFC 3863 with the dl:netq element of docs/presence.md)
 * through the agent's publication: on registering, on a schedule, and when
 * they change materially. Runs on the caller's libevent event_base; the
 * loop never blocks. Design and numbers: docs/presence.md ("The handset's
 * side"), docs/decisions.md.
 *
 * Functions return 0 or -errno; output parameters are set on success.
 */
#ifndef DATALINE_HPRES_H
#define DATALINE_HPRES_H

#include <stdint.h>

#include "dataline/agent.h"
#include "dataline/netq.h"
#include "dataline/pidf.h"

struct event_base;

/* The reflector port is the server's SIP port + this (docs/presence.md). */
#define HPRES_PROBE_PORT_OFFSET 10
/* Figures read from netq this often (memory reads) to see changes. */
#define HPRES_TICK_S 5
/* A change is published at most this often (the rest waits for it). */
#define HPRES_MIN_GAP_S 10

struct hpres_config {
	const char *probe;          /* reflector "HOST:PORT"; NULL: no probing */
	uint32_t probe_interval_s;  /* 0 -> NETQ_PROBE_INTERVAL_S */
	uint64_t budget;            /* probe bytes per rolling hour, 0 ->
				     * NETQ_PROBE_BUDGET */
	int over_budget;            /* accept an interval whose cost exceeds
				     * the budget; probes are then spaced by
				     * the budget, which still holds */
	uint16_t probe_count;       /* train packets, 0 -> netq's default */
	uint16_t probe_size;        /* payload bytes, 0 -> netq's default */
	const char *netq_pin_dir;   /* netq's pins; NULL: env or default */
	int no_netq;                /* do not read netq (probe alone) */
	uint32_t publish_interval_s;/* figures re-published this often,
				     * 0 -> the probe interval */
	uint32_t expires;           /* PUBLISH Expires, 0 -> 3600 */
	const char *entity;         /* "sip:+8613...@domain" */
	const char *tuple_id;       /* NULL -> "handset" */
};

/* What the handset knows now (for D-Bus Status and OPTIONS answers). */
struct hpres_status {
	struct pidf_netq netq;      /* current figures (age up to now) */
	int from_netq;              /* 1: libnetq attached and read */
	int published;              /* a publication is in place */
	int last_pub_status;        /* last PUBLISH's final status, 0 none */
	uint64_t spent_hour;        /* probe bytes in the last hour */
	uint64_t budget;            /* the budget those count against */
	uint64_t probes, probes_failed, probes_deferred;
	uint64_t last_probe_age_ms; /* UINT64_MAX: no probe yet */
	uint32_t last_probe_kbps, last_probe_rtt_us;
};

struct hpres;

/*
 * Checks CFG (-E2BIG: the interval's probes cost more than the budget and
 * over_budget is not set; -EINVAL: a bad probe address, no entity), makes
 * the agent's publication and opens netq. Nothing runs before
 * hpres_start(). CFG's strings are copied. Free it before the agent.
 */
int hpres_new(struct event_base *base, struct agent *a,
	      const struct hpres_config *cfg, struct hpres **out);
/* Starts the timers; probing and publishing begin once registered. */
int hpres_start(struct hpres *h);
/* Feeds the agent's state changes (the daemon's agent state callback). */
void hpres_agent_state(struct hpres *h, enum agent_state st);
/* Removes the publication (Expires: 0) and stops probing. */
void hpres_stop(struct hpres *h);
/* Frees everything; a probe still running on its thread is left to end
 * on its own (detached; it frees what it shares). Never blocks. */
void hpres_free(struct hpres *h);
void hpres_status(const struct hpres *h, struct hpres_status *out);

/* ---------------------------------------------------------- pure parts */

/* Probe bytes per rolling hour: a ring of (time, bytes) spends. */
#define HPRES_BUDGET_SLOTS 64
#define HPRES_HOUR_MS 3600000ull
struct hpres_budget {
	uint64_t limit;
	unsigned n, head;           /* entries, oldest at head */
	struct { uint64_t t_ms, bytes; } e[HPRES_BUDGET_SLOTS];
};
void hpres_budget_init(struct hpres_budget *b, uint64_t limit);
/* Bytes spent in (now - 1 h, now]; drops older entries. */
uint64_t hpres_budget_spent(struct hpres_budget *b, uint64_t now_ms);
/* 0 if COST can be spent now without the last hour exceeding the limit,
 * else the ms until enough has aged out (*wait_ms). -E2BIG: COST alone is
 * over the limit. */
int hpres_budget_wait(struct hpres_budget *b, uint64_t now_ms, uint64_t cost,
		      uint64_t *wait_ms);
/* Records BYTES spent at NOW_MS (a full ring adds to the newest entry,
 * which only makes the count age out later: never under the truth). */
void hpres_budget_charge(struct hpres_budget *b, uint64_t now_ms, uint64_t bytes);
/* Probes per hour at INTERVAL_S (ceil(3600 / interval)) times COST over
 * LIMIT -> -E2BIG; a zero interval -> -EINVAL. */
int hpres_interval_check(uint64_t cost, uint32_t interval_s, uint64_t limit);

/*
 * Material change between the figures published (OLD) and now (NEW):
 * 0 if none, else a HPRES_CHG_* bit set. Link up/down, a figure appearing
 * or disappearing, the rate by 25 % or more, the RTT by 50 % and at least
 * HPRES_RTT_MIN_DELTA_MS, the loss by HPRES_LOSS_DELTA_PPM. Whether the
 * rate came from a probe and the age are not changes by themselves.
 */
#define HPRES_CHG_LINK 0x01
#define HPRES_CHG_RATE 0x02
#define HPRES_CHG_RTT  0x04
#define HPRES_CHG_LOSS 0x08
#define HPRES_CHG_NETQ 0x10    /* the element itself came or went */
#define HPRES_RTT_MIN_DELTA_MS 10
#define HPRES_LOSS_DELTA_PPM 10000   /* 1 % */
unsigned hpres_material_change(const struct pidf_netq *old,
			       const struct pidf_netq *new_);

/*
 * The figures to publish. From netq's snapshots (N >= 0; NULL/0 when netq
 * is not attached: then from PROBE alone, or an empty element if PROBE is
 * NULL): the interface netq's voice decision picks, its link (up = carrier
 * and a default route), the rate the decision uses (when a fresh probe or
 * traffic of at least NETQ_VOICE_MIN_KBPS backs it), RTT, loss, and the
 * probe's age when the figures came from it. PROBE (may be NULL) is our
 * own last probe, PROBE_AGE_MS old: used for the rate and RTT when netq
 * has none (its maps record only probes leaving a monitored interface).
 */
void hpres_figures(const struct netq_snapshot *s, int n,
		   const struct netq_probe_result *probe, uint64_t probe_age_ms,
		   struct pidf_netq *out);

#endif
