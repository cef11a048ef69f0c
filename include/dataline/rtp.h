/*
 * rtp: RTP and RTCP packets (RFC 3550, the RFC 3551 profile), the RTP
 * header extensions of RFC 8285, RTP/RTCP/STUN/DTLS demultiplexing on one
 * port (RFC 5761 s.4, RFC 7983), and the receiver statistics of RFC 3550
 * appendix A (extended sequence numbers, loss, interarrival jitter) and
 * s.6.4.1 (round-trip time from LSR/DLSR), as pure functions.
 *
 * Parsing is allocation-free: headers are decoded into small structs whose
 * byte fields (payload, extension, SDES text, ...) point into the caller's
 * buffer. Only the clear parts are read, so SRTP and SRTCP (RFC 3711) parse
 * too: with RTP_PARSE_SRTP the padding bit is not acted on (the padding
 * count is in the encrypted payload) and the payload runs to the end, auth
 * tag included; for SRTCP only the first packet's header and SSRC are
 * clear (rtcp_peek), the rest and the trailer are not interpreted.
 *
 * All functions return 0 or -errno (-EBADMSG malformed, -ENOSPC does not
 * fit, -EINVAL bad arguments) and write output parameters only on success.
 */
#ifndef DATALINE_RTP_H
#define DATALINE_RTP_H

#include <stddef.h>
#include <stdint.h>

#define RTP_VERSION 2
#define RTP_HDR_MIN 12
#define RTP_MAX_CSRC 15

/* ------------------------------------------------------------- RTP */

struct rtp_hdr {
	uint8_t padding;	/* P bit */
	uint8_t extension;	/* X bit */
	uint8_t cc;		/* CSRC count */
	uint8_t marker;
	uint8_t pt;		/* 0..127 */
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint32_t csrc[RTP_MAX_CSRC];
	uint16_t ext_profile;	/* 0xBEDE, 0x100X, or another profile */
	const uint8_t *ext;	/* extension data (ext_len bytes, a multiple
				 * of 4), NULL if X is clear */
	size_t ext_len;
	size_t hdr_len;		/* fixed header + CSRCs + extension */
	const uint8_t *payload;	/* into the packet */
	size_t payload_len;	/* padding excluded (not for SRTP) */
	uint8_t pad_len;	/* padding bytes (count byte included) */
};

/* Flags of rtp_parse. */
#define RTP_PARSE_SRTP 1u	/* the payload is encrypted: do not read
				 * the padding count, payload = the rest */

/* Parses an RTP packet. -EBADMSG: shorter than its header, version not 2,
 * extension longer than the packet, padding count 0 or beyond the
 * payload. */
int rtp_parse(const void *buf, size_t len, struct rtp_hdr *h, unsigned flags);

/*
 * Writes h's header (V=2, P from pad_len != 0, X from ext != NULL, CC from
 * cc), then plen payload bytes, then pad_len padding bytes (the last one
 * the count) into out. h->ext_len must be a multiple of 4 (the caller pads
 * extension elements). *outlen is the packet size.
 */
int rtp_build(const struct rtp_hdr *h, const void *payload, size_t plen,
	      void *out, size_t cap, size_t *outlen);

/* One RFC 8285 header extension element. */
struct rtp_ext_elem {
	uint8_t id;		/* 1..14 one-byte form, 1..255 two-byte */
	uint8_t len;		/* data bytes */
	const uint8_t *data;
};

/*
 * Walks the elements of h's extension if it is in an RFC 8285 form
 * (0xBEDE one-byte, 0x100X two-byte). *off starts at 0. 0 and *e for the
 * next element; -ENOENT at the end (padding skipped, one-byte ID 15 ends
 * the walk); -EBADMSG an element beyond the extension; -ENOTSUP another
 * profile (the data is then only h->ext, opaque).
 */
int rtp_ext_next(const struct rtp_hdr *h, size_t *off, struct rtp_ext_elem *e);

/* ------------------------------------------------ sequence arithmetic */

/* Signed distance a - b on the 16-bit circle (-32768..32767). */
static inline int32_t rtp_seq_diff(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b);
}

/* a comes before b on the circle (RFC 3550 s.A.1's modular compare). */
static inline int rtp_seq_lt(uint16_t a, uint16_t b)
{
	return rtp_seq_diff(a, b) < 0;
}

/* The 32-bit RTP timestamp difference a - b, signed. */
static inline int32_t rtp_ts_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

/*
 * Per-source receiver state of RFC 3550 A.1 (validation with probation,
 * sequence cycles), A.3 (loss) and A.8 (jitter).
 */
#define RTP_MIN_SEQUENTIAL 2
#define RTP_MAX_DROPOUT 3000
#define RTP_MAX_MISORDER 100

struct rtp_source {
	uint16_t max_seq;	/* highest seq. number seen */
	uint32_t cycles;	/* shifted count of seq. number cycles */
	uint32_t base_seq;	/* base seq number */
	uint32_t bad_seq;	/* last 'bad' seq number + 1 */
	uint32_t probation;	/* sequ. packets till source is valid */
	uint32_t received;	/* packets received */
	uint32_t expected_prior;	/* packet expected at last interval */
	uint32_t received_prior;	/* packet received at last interval */
	uint32_t transit;	/* relative trans time for prev pkt */
	uint32_t jitter;	/* estimated jitter, scaled by 16 */
	int have_transit;
};

/* A.1 init_seq after the first packet seq of a new source (probation
 * RTP_MIN_SEQUENTIAL). */
void rtp_source_init(struct rtp_source *s, uint16_t seq);
/* A.1 update_seq: 1 if the packet counts (source valid, in sequence or
 * within the dropout/misorder windows), 0 if not. */
int rtp_source_update(struct rtp_source *s, uint16_t seq);
/* The extended highest sequence number received (cycles + max_seq). */
uint32_t rtp_source_ext_max(const struct rtp_source *s);
/*
 * A.3: the cumulative number lost (clamped to the 24-bit signed range of
 * a report block) and the fraction lost since the previous call (8-bit
 * fixed point); advances the interval.
 */
void rtp_source_loss(struct rtp_source *s, int32_t *cumulative,
		     uint8_t *fraction);
/*
 * A.8: feeds one packet's arrival time (in RTP timestamp units, any
 * origin) and its RTP timestamp into the jitter estimate; returns the
 * current estimate in timestamp units (what a report block carries).
 */
uint32_t rtp_source_jitter(struct rtp_source *s, uint32_t arrival,
			   uint32_t rtp_ts);

/* --------------------------------------------------- demultiplexing */

enum rtp_kind {
	RTP_KIND_OTHER = 0,
	RTP_KIND_RTP,
	RTP_KIND_RTCP,		/* RFC 5761 s.4: PT field 64..95 */
	RTP_KIND_STUN,		/* RFC 7983: first byte 0..3 */
	RTP_KIND_DTLS,		/* first byte 20..63 */
};

/* Classifies a datagram on a muxed port by its first two bytes. */
enum rtp_kind rtp_classify(const void *buf, size_t len);

/* ------------------------------------------------------------- RTCP */

enum rtcp_type {
	RTCP_SR = 200,
	RTCP_RR = 201,
	RTCP_SDES = 202,
	RTCP_BYE = 203,
	RTCP_APP = 204,
	RTCP_RTPFB = 205,	/* RFC 4585 */
	RTCP_PSFB = 206,
	RTCP_XR = 207,		/* RFC 3611 */
};

#define RTCP_HDR_LEN 4
#define RTCP_MAX_REPORTS 31

/* One packet of a compound RTCP packet. */
struct rtcp_pkt {
	uint8_t padding;	/* P bit */
	uint8_t count;		/* RC / SC / subtype (5 bits) */
	uint8_t pt;
	const uint8_t *data;	/* the whole packet (header included) */
	size_t len;		/* (length field + 1) * 4 */
};

/*
 * The next packet of a compound RTCP packet at *off (start at 0). 0 and
 * *p; -ENOENT at the end; -EBADMSG if the version is not 2 or the length
 * field runs past len. Any packet type is returned (unknown ones are
 * skipped by their length by the caller simply calling again).
 */
int rtcp_next(const void *buf, size_t len, size_t *off, struct rtcp_pkt *p);

/*
 * RFC 3550 A.2 validity check of a whole compound packet: version 2
 * everywhere, the first packet SR or RR (unless RTCP_ALLOW_REDUCED,
 * RFC 5506), padding only on the last one, lengths adding up to len.
 */
#define RTCP_ALLOW_REDUCED 1u
int rtcp_check(const void *buf, size_t len, unsigned flags);

/* The first packet's type and sender SSRC, the part of an SRTCP packet
 * that is in the clear (RFC 3711 s.3.4). -EBADMSG if under 8 bytes or not
 * version 2. */
int rtcp_peek(const void *buf, size_t len, uint8_t *pt, uint32_t *ssrc);

/* A report block (RFC 3550 s.6.4.1). */
struct rtcp_report {
	uint32_t ssrc;		/* the source reported on */
	uint8_t fraction;	/* fraction lost, /256 */
	int32_t lost;		/* cumulative lost, 24-bit signed */
	uint32_t ext_max;	/* extended highest sequence number */
	uint32_t jitter;	/* in timestamp units */
	uint32_t lsr;		/* middle 32 bits of the last SR's NTP time */
	uint32_t dlsr;		/* delay since it, 1/65536 s */
};

/* An SR (with sender info) or an RR. */
struct rtcp_rpt {
	int is_sr;
	uint32_t ssrc;		/* the sender of this packet */
	uint32_t ntp_sec, ntp_frac;	/* SR only */
	uint32_t rtp_ts;	/* SR only */
	uint32_t pkt_count, octet_count;	/* SR only */
	uint8_t nreports;
	struct rtcp_report reports[RTCP_MAX_REPORTS];
	const uint8_t *ext;	/* profile-specific extension, NULL if none */
	size_t ext_len;
};

/* Decodes an SR or RR packet (-EBADMSG if p is neither or too short for
 * its report count). */
int rtcp_rpt_parse(const struct rtcp_pkt *p, struct rtcp_rpt *r);

enum rtcp_sdes_type {
	RTCP_SDES_END = 0,
	RTCP_SDES_CNAME = 1,
	RTCP_SDES_NAME = 2,
	RTCP_SDES_EMAIL = 3,
	RTCP_SDES_PHONE = 4,
	RTCP_SDES_LOC = 5,
	RTCP_SDES_TOOL = 6,
	RTCP_SDES_NOTE = 7,
	RTCP_SDES_PRIV = 8,
};

struct rtcp_sdes_item {
	uint32_t ssrc;		/* of the chunk it is in */
	uint8_t type;
	uint8_t len;
	const uint8_t *text;
};

/* The position of a walk over an SDES packet: zero it to start. */
struct rtcp_sdes_iter {
	size_t chunk;		/* offset of the current chunk, 0 at start */
	size_t off;		/* offset of the next item */
	unsigned nchunk;	/* chunks done */
};

/*
 * Walks the items of an SDES packet, one step each call (constant time).
 * 0 and *item; -ENOENT after the last chunk; -EBADMSG if an item or a
 * chunk runs past the packet or there are fewer chunks than its count
 * says.
 */
int rtcp_sdes_next(const struct rtcp_pkt *p, struct rtcp_sdes_iter *it,
		   struct rtcp_sdes_item *item);

/* The CNAME of ssrc (any chunk when ssrc_any) in an SDES packet;
 * -ENOENT if none. */
int rtcp_sdes_cname(const struct rtcp_pkt *p, int ssrc_any, uint32_t ssrc,
		    struct rtcp_sdes_item *it);

struct rtcp_bye {
	uint8_t nssrc;
	uint32_t ssrc[31];
	const uint8_t *reason;	/* NULL if none */
	uint8_t reason_len;
};

int rtcp_bye_parse(const struct rtcp_pkt *p, struct rtcp_bye *b);

struct rtcp_app {
	uint8_t subtype;
	uint32_t ssrc;
	char name[4];		/* not NUL-terminated */
	const uint8_t *data;	/* application data (a multiple of 4) */
	size_t data_len;
};

int rtcp_app_parse(const struct rtcp_pkt *p, struct rtcp_app *a);

/*
 * Builders: each appends one packet at *off in out (cap bytes) and
 * advances *off, so a compound packet is a sequence of calls (SR or RR
 * first, RFC 3550 s.6.1). -ENOSPC leaves *off unchanged.
 */
int rtcp_build_rpt(const struct rtcp_rpt *r, void *out, size_t cap,
		   size_t *off);
int rtcp_build_sdes_cname(uint32_t ssrc, const char *cname, void *out,
			  size_t cap, size_t *off);
int rtcp_build_bye(const uint32_t *ssrc, size_t n, const char *reason,
		   void *out, size_t cap, size_t *off);

/* ------------------------------------------------------- timing */

/* The middle 32 bits of a 64-bit NTP timestamp (LSR's form). */
static inline uint32_t rtcp_ntp_mid(uint32_t sec, uint32_t frac)
{
	return (sec << 16) | (frac >> 16);
}

/*
 * Round-trip time (RFC 3550 s.6.4.1): arrival is the middle 32 bits of
 * the NTP time the report block arrived at; lsr and dlsr from the block.
 * *rtt in 1/65536 s. -ENODATA if lsr is 0 (no SR received yet), -ERANGE
 * if arrival - lsr < dlsr (clocks or fields inconsistent).
 */
int rtcp_rtt(uint32_t arrival, uint32_t lsr, uint32_t dlsr, uint32_t *rtt);

#endif /* DATALINE_RTP_H */
