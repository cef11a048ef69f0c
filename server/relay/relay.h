/*
 * relay: the server's media relay (issue 9: media anchored at the server
 * so that handsets behind NAT can talk). A session joins two legs, A (the
 * caller) and B (the callee); each leg gets an RTP port (even) and its
 * RTCP port (+1) on the relay's address (RFC 3550 s.11, RFC 3605), both
 * bound whatever the SDP says; RTCP to a leg goes muxed on its RTP port
 * only as the two SDPs negotiated rtcp-mux (RFC 5761 s.5.1.1). A
 * packet that reaches leg X's port is forwarded, byte for byte, from leg
 * Y's matching port to Y's peer: SSRC, sequence numbers, payload types
 * and SRTP (RFC 3711) are never touched, so end-to-end encryption passes
 * through.
 *
 * Latching (NAT): a leg's peer is first the address its SDP gave; the
 * first packet from the leg's allowed IP (the device's signalling
 * address) fixes the peer to where it really comes from; after that a
 * packet from any other address is a stranger's and is dropped (counted).
 *
 * The relay runs on its own thread with io_uring (multishot recvmsg over
 * a provided-buffer ring, sends from the same buffers); callers on other
 * threads (the SIP workers) open, update and close sessions through a
 * command queue, and hear the end of a session (closed, or no packet for
 * the media timeout) through a callback on the relay thread. Each
 * direction's state is one compact entry (struct relay_dir), so that an
 * in-kernel fast path can take established sessions over later.
 */
#ifndef DATALINE_RELAY_H
#define DATALINE_RELAY_H

#include <netinet/in.h>
#include <stdint.h>

struct relay_config {
	const char *addr;        /* IPv4 address to bind, e.g. "127.0.0.1" */
	uint16_t port_min;       /* even ports from here ... */
	uint16_t port_max;       /* ... to here (inclusive) */
	uint32_t max_sessions;   /* 0 -> 1024 */
	uint32_t timeout_s;      /* no packet in either direction: end; 0 -> 60 */
};

/* One leg as the signalling knows it. */
struct relay_leg_params {
	struct sockaddr_in sdp;     /* RTP address from the SDP (port 0: unknown) */
	struct in_addr allowed;     /* only this IP may latch (INADDR_ANY: any) */
	int rtcp_mux;               /* RFC 5761: its SDP has a=rtcp-mux */
	uint16_t rtcp_port;         /* RFC 3605 a=rtcp port (0: RTP port + 1) */
	int answer;                 /* 1: the SDP answers the other leg's
				     * offer, 0: an offer (RFC 3264) */
};

/* One direction: packets that reach leg `from`'s ports. */
struct relay_dir {
	uint64_t packets, bytes;
	uint64_t strangers;         /* dropped: not from the latched peer */
	uint64_t no_peer;           /* dropped: the other side has no address yet */
	uint64_t lost;              /* RTP sequence gaps (RFC 3550 A.3) */
	uint64_t last_ns;           /* CLOCK_MONOTONIC of the last packet */
};

struct relay_stats {
	struct relay_dir dir[2];    /* [0]: from A (to B), [1]: from B (to A) */
	struct sockaddr_in peer[2]; /* latched (or SDP) RTP address of A, B */
	int latched[2];
};

enum relay_end { RELAY_END_CLOSED = 0, RELAY_END_TIMEOUT = 1, RELAY_END_FREED = 2 };
/* On the relay thread, once per session. */
typedef void (*relay_end_fn)(void *arg, uint64_t id, enum relay_end why,
			     const struct relay_stats *st);

struct relay;

int relay_new(const struct relay_config *cfg, struct relay **out);
/* Ends every session (RELAY_END_FREED), stops the thread. */
void relay_free(struct relay *r);

/* Any thread. Binds the four ports and hands them to the relay thread.
 * PORTS gets A's and B's RTP ports. -ENOSPC: no session or port free. */
int relay_open(struct relay *r, const struct relay_leg_params *a,
	       const struct relay_leg_params *b, relay_end_fn end, void *arg,
	       uint64_t *id, uint16_t ports[2]);
/* Any thread: the answer's SDP for LEG (0 A, 1 B). -ENOENT unknown id. */
int relay_update(struct relay *r, uint64_t id, int leg,
		 const struct relay_leg_params *p);
/* Any thread: ends the session (its END callback runs on the relay thread). */
int relay_close(struct relay *r, uint64_t id);
/* Any thread: a snapshot of the counters. -ENOENT unknown id. */
int relay_stats_get(struct relay *r, uint64_t id, struct relay_stats *out);
/* Sessions open now. */
uint32_t relay_sessions(struct relay *r);

#endif
