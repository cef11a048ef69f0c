/*
 * stun: the STUN subset SIP keep-alives need (RFC 5389 Binding, as used
 * by RFC 5626 s.4.4.2 "outbound" keep-alives over UDP): telling a STUN
 * datagram from a SIP one on the shared port, parsing and answering a
 * Binding request with XOR-MAPPED-ADDRESS and FINGERPRINT (RFC 5389
 * s.15.2, s.15.5), and the other direction -- a Binding request for the
 * server's own keep-alives towards UDP clients and the parse of its
 * success response. RFC 5769 is the test suite.
 *
 * No MESSAGE-INTEGRITY, USERNAME or long/short-term credentials: RFC 5626
 * s.4.4.2 keep-alives are sent without them (the Binding only reflects
 * the source address; nothing is authorised by it). A request that
 * carries MESSAGE-INTEGRITY is still parsed (has_integrity says so) but
 * the HMAC is not checked; the response is built without it.
 *
 * Pure and allocation-free: bytes in, structs out; all functions return 0
 * or -errno (-EBADMSG malformed, -ENOSPC the output does not fit, -EINVAL
 * bad arguments); output parameters are written only on success.
 */
#ifndef DATALINE_STUN_H
#define DATALINE_STUN_H

#include <stddef.h>
#include <stdint.h>

#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_HDR_LEN 20
#define STUN_TID_LEN 12
#define STUN_FINGERPRINT_XOR 0x5354554eu	/* "STUN" */
/* The largest message stun_parse accepts (UDP path MTU sized). */
#define STUN_MAX_MSG 1500

/* Message types (method | class bits), RFC 5389 s.6 */
#define STUN_BINDING_REQUEST	0x0001
#define STUN_BINDING_INDICATION	0x0011
#define STUN_BINDING_SUCCESS	0x0101
#define STUN_BINDING_ERROR	0x0111

/* Attribute types, RFC 5389 s.18.2 */
#define STUN_ATTR_MAPPED_ADDRESS	0x0001
#define STUN_ATTR_USERNAME		0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY	0x0008
#define STUN_ATTR_ERROR_CODE		0x0009
#define STUN_ATTR_UNKNOWN_ATTRIBUTES	0x000A
#define STUN_ATTR_XOR_MAPPED_ADDRESS	0x0020
#define STUN_ATTR_SOFTWARE		0x8022
#define STUN_ATTR_FINGERPRINT		0x8028

/* Address families as on the wire. */
#define STUN_AF_IPV4 0x01
#define STUN_AF_IPV6 0x02

struct stun_addr {
	uint8_t family;		/* STUN_AF_IPV4 or STUN_AF_IPV6 */
	uint16_t port;		/* host byte order */
	uint8_t ip[16];		/* network order; 4 bytes used for IPv4 */
};

#define STUN_MAX_UNKNOWN 4

struct stun_msg {
	uint16_t type;		/* e.g. STUN_BINDING_REQUEST */
	uint16_t length;	/* the header's message length (no header) */
	uint8_t tid[STUN_TID_LEN];
	int has_fingerprint;	/* present and verified */
	int has_integrity;	/* MESSAGE-INTEGRITY present (not checked) */
	int has_mapped;		/* XOR-MAPPED-ADDRESS (or, failing that,
				 * MAPPED-ADDRESS) decoded into mapped */
	struct stun_addr mapped;
	const uint8_t *software;	/* SOFTWARE value, borrowed from the
					 * input (NULL if absent) */
	uint16_t software_len;
	/* comprehension-required attributes (type < 0x8000) we do not know;
	 * a server answers a request that has any with 420 (RFC 5389
	 * s.7.3.1) -- or, for keep-alives, drops it */
	unsigned n_unknown;	/* may exceed STUN_MAX_UNKNOWN */
	uint16_t unknown[STUN_MAX_UNKNOWN];
};

/*
 * 1 if the datagram is a STUN message (RFC 5389 s.6, s.7.3: top two bits
 * 0, the magic cookie, a length field that is a multiple of 4 and matches
 * the datagram exactly), 0 otherwise (SIP, RFC 5626 CRLF, noise). RFC
 * 3489 messages without the cookie are not recognised.
 */
int stun_is_stun(const void *buf, size_t len);

/*
 * Parses one STUN message (the whole datagram). Attributes are walked
 * with bounds checks; FINGERPRINT, when present, must be the last
 * attribute and match (CRC-32 of the message before it XOR "STUN"); after
 * MESSAGE-INTEGRITY only FINGERPRINT may follow (RFC 5389 s.15.4).
 * -EBADMSG for anything malformed or a wrong fingerprint.
 */
int stun_parse(const void *buf, size_t len, struct stun_msg *out);

/* stun_parse that also requires a Binding request. */
int stun_binding_request_parse(const void *buf, size_t len,
			       struct stun_msg *out);

/*
 * Writes a Binding success response to the request with transaction id
 * tid, telling the peer its reflexive address (XOR-MAPPED-ADDRESS), with
 * SOFTWARE when software is non-NULL, and FINGERPRINT. *outlen = bytes.
 */
int stun_binding_response_build(const uint8_t tid[STUN_TID_LEN],
				const struct stun_addr *mapped,
				const char *software, void *out, size_t cap,
				size_t *outlen);

/* Writes a Binding request (no attributes but FINGERPRINT) with the
 * caller's random transaction id (RFC 5389 s.6: from a CSPRNG). */
int stun_binding_request_build(const uint8_t tid[STUN_TID_LEN], void *out,
			       size_t cap, size_t *outlen);

/*
 * Parses the answer to our Binding request: must be a Binding success
 * response with transaction id tid and an XOR-MAPPED-ADDRESS (or
 * MAPPED-ADDRESS); *mapped = our address as the peer saw it. -ENOENT if
 * the transaction id is not ours, -EBADMSG otherwise.
 */
int stun_binding_response_parse(const void *buf, size_t len,
				const uint8_t tid[STUN_TID_LEN],
				struct stun_addr *mapped);

/* CRC-32 (ISO-HDLC, the one of zlib and RFC 1952), used by FINGERPRINT. */
uint32_t stun_crc32(const void *buf, size_t len);

#endif
