/*
 * reflector: who may use the server's netq probe reflector and how much
 * (the echo side of `dataline-netq probe`, docs/netq.md "Active probe";
 * the socket is server/sip/probe.c). Pure bookkeeping, no I/O.
 *
 * Who: a source IP that passed SIP digest authentication (any method,
 * REGISTER included) within ALLOW_S seconds. Digest nonces are bound to
 * the source IP (lib/sip/nonce.c), so an authenticated request proves a
 * dataline device sits at that address; the probe packets carry no
 * credentials of their own (struct netq_probe_hdr has no room for them,
 * and the handset's prober is not changed).
 * How much: a token bucket per IP, REFLECTOR_BURST packets deep, refilled
 * at REFLECTOR_RATE packets a second: one default probe (35 packets)
 * passes whole, a flood gets REFLECTOR_RATE echoes a second.
 * Bounded: at most MAX addresses; the oldest-seen entry of a full shard
 * makes room.
 */
#ifndef DATALINE_SERVER_REFLECTOR_H
#define DATALINE_SERVER_REFLECTOR_H

#include <stddef.h>
#include <stdint.h>

#define REFLECTOR_BURST 128
#define REFLECTOR_RATE 2

struct reflector;

int reflector_new(size_t max, uint32_t allow_s, struct reflector **out);
void reflector_free(struct reflector *r);
/* IP (4 or 16 bytes) authenticated at NOW_MS. */
void reflector_allow(struct reflector *r, const uint8_t *ip, size_t iplen,
		     uint64_t now_ms);
/* 1 if one packet from IP may be echoed at NOW_MS (it is counted), 0 if
 * not (unknown, stale, or over its rate). */
int reflector_admit(struct reflector *r, const uint8_t *ip, size_t iplen,
		    uint64_t now_ms);
/* Addresses tracked. */
size_t reflector_count(struct reflector *r);

#endif
