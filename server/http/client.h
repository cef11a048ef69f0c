/*
 * client: the key under which the HTTP API counts a client for its
 * connection caps and rate limits: the client's address masked to a
 * prefix (IPv4 /24 and IPv6 /64 by default), printed as "ADDR/BITS".
 * Counting exact addresses lets one host with a /64 (or a few addresses
 * in a /24) get a fresh budget per address; a prefix does not. The cost
 * is carrier-grade NAT: many phones behind one IPv4 /24 share one budget
 * (docs/decisions.md, docs/operations.md). Pure, no allocation.
 */
#ifndef DATALINE_SERVER_CLIENT_H
#define DATALINE_SERVER_CLIENT_H

#include <stddef.h>

/* Room for "ffff:...:ffff/128" and the NUL. */
#define CLIENT_KEY_MAX 64

/*
 * Writes ADDR (a numeric IPv4 or IPv6 address; an IPv4-mapped IPv6
 * address counts as IPv4) masked to V4_BITS (0..32) or V6_BITS (0..128)
 * into OUT as "ADDR/BITS". 0, or -EINVAL for anything else (OUT then
 * holds ADDR as given, truncated, so callers can still count it).
 */
int client_prefix(const char *addr, int v4_bits, int v6_bits,
		  char out[CLIENT_KEY_MAX]);

#endif
