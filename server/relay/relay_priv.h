/*
 * relay_priv: what relay.c (sessions, ports, the API) and relay_loop.c
 * (the io_uring thread) share. See relay.h and relay.c's header.
 */
#ifndef DATALINE_RELAY_PRIV_H
#define DATALINE_RELAY_PRIV_H

#include <liburing.h>
#include <pthread.h>

#include "relay.h"

#define RL_NBUF 1024            /* provided buffers */
#define RL_BUFSZ 2048           /* a datagram + the recvmsg header */
#define RL_BGID 7
#define RL_CMDS 256

enum { K_RECV = 0, K_SEND = 1, K_EFD = 2, K_CANCEL = 3 };

struct rl_leg {
	int fd[2];                  /* RTP, RTCP (both, whatever rtcp-mux) */
	uint16_t port;
	struct sockaddr_in peer[2]; /* where packets TO this leg go */
	int latched[2];
	struct in_addr allowed;
	int rtcp_mux;               /* its latest SDP had a=rtcp-mux */
	/* RTP sequence tracking for loss (RFC 3550 A.3, simplified) */
	int seq_init;
	uint16_t max_seq;
};

struct rl_sess {
	int used, closing;
	uint16_t gen;
	uint64_t id;
	relay_end_fn end;
	void *arg;
	struct rl_leg leg[2];
	int answerer;               /* the leg whose SDP came last (rl_mux) */
	struct relay_dir dir[2];
	uint64_t born_ns;
};

struct rl_cmd { int arm; uint32_t idx; int fds[4]; };

struct relay {
	struct relay_config cfg;
	struct in_addr addr;
	pthread_t th;
	int th_up;
	struct io_uring ring;
	int disabled;               /* created R_DISABLED: rl_main enables it */
	struct io_uring_buf_ring *br;
	size_t br_len;
	unsigned char *bufs;
	struct msghdr rmsg;         /* template for the multishot receives */
	struct msghdr smsg[RL_NBUF];
	struct iovec siov[RL_NBUF];
	int efd;
	uint64_t efd_val;
	pthread_mutex_t mu;
	struct rl_sess *s;
	uint32_t nsess, open;
	uint64_t next_id;
	uint16_t next_port;
	struct rl_cmd cmds[RL_CMDS];
	int ncmds;
	int stop;
	/* sessions marked closing by relay_close() and not yet swept: while
	 * any, the loop sweeps at once instead of every 100 ms, so that a
	 * closed call's ports come back at the call rate, not at 32 sessions
	 * per sweep (320/s: the call bench ran out of ports at 450 calls/s) */
	uint32_t closes;
};

uint64_t rl_now(void);
/* relay_loop.c */
int rl_ring(struct relay *r);
void *rl_main(void *arg);
void rl_wake(struct relay *r);
int rl_cmd_push(struct relay *r, const struct rl_cmd *c);
void rl_snapshot(const struct rl_sess *s, struct relay_stats *st);

#endif
