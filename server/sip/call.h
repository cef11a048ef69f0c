/*
 * call: the server's side of voice calls (issue 9), private to
 * server/sip/: a stateful proxy core for INVITE (RFC 3261 s.16) that
 * forks to every registered device of the callee, the C3 gate (the
 * patent's threshold 2, docs/calls.md) and loose routing of in-dialog
 * requests through the server (RFC 3261 s.16.4, 16.12, RFC 3261 s.20.30
 * Record-Route with ;lr).
 *
 * Where a call lives: every message of a call (the caller's INVITE,
 * CANCEL, ACK, in-dialog requests from both sides, the devices'
 * responses) is handled on one worker, its *home*: a hash of the
 * Call-ID over the workers, the same hash spread.c uses, so over UDP the
 * kernel and spread.c already bring everything there. A message that
 * reaches another worker (a TCP/TLS connection owned elsewhere, or
 * --udp-spread 0) is copied to the home's mailbox. A message leaves over
 * a stream connection from that connection's owner (a copy posted to
 * it), over UDP from the home's own socket.
 *
 * Files: invite.c (new calls, forking, responses, CANCEL, timer C),
 * callroute.c (in-dialog routing, sending, hand-over to the home),
 * callpick.c (pure: which final answer wins, the X-Dataline-Net header),
 * callgate.c (C3 gate).
 */
#ifndef DATALINE_SERVER_CALL_H
#define DATALINE_SERVER_CALL_H

#include <stdint.h>

#include "sipd.h"
#include "dataline/e164.h"
#include "dataline/hmap.h"

/* Our branches (forks and in-dialog hops): "z9hG4bKdc-" + random. */
#define CALL_BRANCH_TAG "z9hG4bKdc-"
/* Record-Route/Route parameter that marks our own entry. */
#define CALL_RR_PARAM "dlc"
/* Devices one INVITE forks to. */
#define CALL_MAX_BRANCHES 8
/* How long an ended call stays to absorb retransmissions (64*T1). */
#define CALL_LINGER_MS 32000

/* A call's state, changed only by call_set_state() (invite.c). */
enum call_state {
	CALL_NEW = 0,      /* being set up (not counted yet) */
	CALL_TRYING,       /* 100 sent: at the gate or forked */
	CALL_RINGING,      /* a 180/183 passed back */
	CALL_ANSWERED,     /* a 2xx passed back: a dialog through us */
	CALL_ENDED,        /* a final non-2xx, a BYE, or timer C: lingers */
};

enum branch_state {
	BR_CALLING = 0,    /* INVITE sent */
	BR_PROCEEDING,     /* a provisional came back */
	BR_DONE,           /* final response (or CANCEL answered / gone) */
};

struct call_branch {
	char branch[48];
	char ruri[512];                  /* the binding's contact */
	struct sipd_flow f;              /* the device's flow */
	enum branch_state st;
	int status;                      /* its final status, 0 before */
	int cancelled;                   /* CANCEL sent */
	int cancel_pending;              /* CANCEL due once a 1xx comes */
	char hostport[80];               /* our Via sent-by towards it */
};

/* A device of the callee to fork to. */
struct call_target {
	struct sipd_flow f;
	char ruri[512];
	char device[64];
};

struct call {
	struct hmap_node node;           /* home's calls, hash of Call-ID */
	struct sipd *w;                  /* borrowed: the home worker */
	char call_id[256];
	char from_tag[128];              /* the caller's tag */
	char to_tag[128];                /* the answering device's, or "" */
	char our_tag[20];                /* To tag of our own finals */
	int final_sent;                  /* a final went up for the INVITE */
	struct call_gate *gate;          /* owned: an OPTIONS in flight */
	char *body_out;                  /* owned: the offer as forwarded
					    (relay), NULL: the caller's */
	size_t body_out_len;
	uint64_t relay_id;               /* its relay session, 0 none */
	uint16_t relay_port[2];          /* the relay's RTP ports: A, B */
	char caller[E164_MAX];           /* number of the caller */
	char callee[E164_MAX];
	uint32_t cseq;                   /* the INVITE's CSeq number */
	enum call_state st;
	/* the caller side: its flow and where UDP responses go */
	struct sipd_flow up;
	union sipd_addr up_dest;
	struct sip_tx *stx;              /* borrowed from w->tx: the UDP
					    INVITE server tx, until its final
					    response; NULL otherwise */
	char *invite;                    /* owned: the caller's INVITE */
	size_t invite_len;
	int nbr, answered;               /* answered: index of the 2xx branch */
	struct call_branch br[CALL_MAX_BRANCHES];
	int best;                        /* best final status so far, 0 none */
	char *best_resp;                 /* owned: that response, to forward */
	size_t best_len;
	struct event *timer;             /* owned: timer C, then the linger */
	uint64_t t0_ms;
};

/* The worker's calls (invite.c). */
struct sdp_desc;
struct call_home {
	struct hmap calls;               /* owned struct call */
	size_t n;
	struct sdp_desc *sdp;            /* owned: scratch for SDP (~31 KiB) */
};

/* ---- callpick.c (pure) ---- */
/* RFC 3261 s.16.7 step 6 ranks a final response: returns 1 when NEW is
 * a better answer to send upstream than CUR (0: none yet). 6xx beats
 * everything, then the lowest class; within a class the first stays,
 * except that 401/407 (which carry challenges) and 503 (s.16.7 step 6:
 * turned into 500) rank below the rest of their class. */
int call_pick_better(int cur, int nw);
/* The status sent upstream for a chosen final NEW (503 -> 500). */
int call_pick_upstream(int status);

/* X-Dataline-Net: rate=KBPS;rtt=MS;loss=PPM[;age=S] (docs/calls.md). */
struct call_net {
	uint32_t rate_kbps, rtt_ms, loss_ppm, age_s;
	unsigned have;                   /* CALL_NET_* */
};
#define CALL_NET_RATE 1u
#define CALL_NET_RTT 2u
#define CALL_NET_LOSS 4u
#define CALL_NET_AGE 8u
/* Parses the value (pointer, length). 0, or -EBADMSG (no rate, a value
 * not a number or over 2^32-1, an unknown parameter is skipped). */
int call_net_parse(const char *v, size_t len, struct call_net *out);

/* ---- invite.c ---- */
int call_init(struct sipd *w);
void call_fini(struct sipd *w);
/* INVITE without To tag: a new call (authenticates first). */
void call_invite_handle(struct sipd_reply *r);
/* CANCEL (RFC 3261 s.9.2, 16.10). */
void call_cancel_handle(struct sipd_reply *r);
/* A response whose top Via is ours (CALL_BRANCH_TAG): 1 when taken. */
int call_response_in(struct sipd *w, const struct sipd_peer *peer,
		     const struct sip_msg *m);
/* The call with CALL_ID on W (its home), or NULL. */
struct call *call_find(struct sipd *w, struct sip_str call_id);
void call_set_state(struct call *c, enum call_state st);
/* Ends C now (metrics), frees it after the linger. */
void call_end(struct call *c);

/* ---- callroute.c ---- */
/* The home worker of a Call-ID. */
int call_home_of(const struct sipd *w, struct sip_str call_id);
/* Hands message BUF (LEN) from PEER to worker TO; the home runs it
 * through sipd_input() again. AUTHED: a new INVITE already
 * authenticated by the receiving worker. */
void call_hand_over(struct sipd *w, int to, const struct sipd_peer *peer,
		    const char *buf, size_t len, int authed);
/* 1 while the message being handled was handed over authenticated. */
int call_handed_authed(void);
/* Sends BUF over flow F (UDP: to DEST, else F's address), from W or
 * from F's owner for a stream. 0 or -errno. */
int call_send(struct sipd *w, const struct sipd_flow *f,
	      const union sipd_addr *dest, const char *buf, size_t len);
/* In-dialog requests (To tag, or ACK for a 2xx): routed by Route. */
void call_route_handle(struct sipd_reply *r);
/* A response to a request we forwarded in a dialog: back the other
 * way. 1 when taken. */
int call_route_response(struct sipd *w, struct call *c,
			const struct sip_msg *m);
/* The response M without its top Via value into OUT. 0 or -ENOSPC. */
int call_strip_via(const struct sip_msg *m, char *out, size_t cap,
		   size_t *len);
/* What call_build_fwd() changes in a request it forwards. */
struct call_fwd_params {
	const char *ruri;                /* the Request-URI to send to */
	const char *hostport;            /* ours, for Via and Record-Route */
	enum sipd_tp tp;                 /* the transport it leaves over */
	const char *branch;
	int record_route;                /* add our Record-Route (;lr;dlc) */
	int drop_auth;                   /* remove Proxy-Authorization */
	const char *extra;               /* header lines to add, or NULL */
	const char *body;                /* a new body (NULL: M's own) */
	size_t body_len;
};
/* M forwarded (s.16.6) into B (W's transmit buffer): our Via on top, our
 * top Route removed, Max-Forwards less one. 0 or -ENOSPC. */
int call_build_fwd(struct sipd *w, const struct sip_msg *m,
		   const struct call_fwd_params *p, struct sip_buf *b,
		   size_t *len);
/* The flow request PEER came over (also once handed over). */
void call_peer_flow(const struct sipd *w, const struct sipd_peer *peer,
		    struct sipd_flow *f);
/* A response of ours to R (on the home, no transaction). */
int call_reply_req(struct sipd_reply *r, int status, const char *reason);
/* The local host:port towards flow F, for Via and Record-Route. */
int call_local_hostport(struct sipd *w, const struct sipd_flow *f,
			char *out, size_t cap);

/* ---- callgate.c ---- */
/* The C3 gate for C's callee before forking: 0 to go on (figures good,
 * or none and the policy allows); -1 after answering 488 + Warning 370
 * itself; 1 when it asked the device with OPTIONS (figures missing or
 * older than --call-figures-max-age): it forks or refuses later. */
int call_gate_check(struct call *c);
/* invite.c: fork C to its devices (after the gate). */
void call_fork(struct call *c);
/* The callee's devices with a usable binding (at most MAX). */
int call_targets(struct sipd_shared *sh, const char *number,
		 struct call_target *out, int max);
/* Forgets C's OPTIONS in flight (its answer will find no call). */
void call_gate_detach(struct call *c);
/* Sends a response of our own upstream for C (status, reason, extra
 * header lines "Name: value\r\n" or NULL). */
void call_reply_up(struct call *c, int status, const char *reason,
		   const char *extra);

/* ---- callmedia.c: the relay (docs/calls.md) ---- */
/* At server start / stop (sipd_shared_init/fini). */
int call_relay_start(struct sipd_shared *sh);
void call_relay_stop(struct sipd_shared *sh);
/* The INVITE's offer: a relay session, c->body_out the rewritten offer.
 * 0 to go on; -1 after answering (488 Malformed SDP, 503). */
int call_media_offer(struct call *c, const struct sip_msg *m);
/* Ends C's relay session (if any). */
void call_media_close(struct call *c);
/* SDP in M (a response: an answer) from leg FROM (0 caller, 1 callee;
 * signalling address SIG): the relay follows it and *OUT (malloc'd) is M
 * rewritten for the other side (without our top Via when DROP_VIA). 0,
 * -ENOENT (no SDP or no session: send M as it is), -EBADMSG, -errno.
 * call_media_sdp: the same for a body alone, an offer unless ANSWER. */
int call_media_msg(struct call *c, int from, const struct sip_msg *m,
		   const union sipd_addr *sig, int drop_via, char **out,
		   size_t *olen);
int call_media_sdp(struct call *c, int from, int answer, const char *body,
		   size_t len, const union sipd_addr *sig, char **out,
		   size_t *outlen);
int call_replace_body(const struct sip_msg *m, int drop_via, const char *body,
		      size_t blen, char **out, size_t *olen);

#endif
