/*
 * sdp: session descriptions (RFC 8866, which obsoletes RFC 4566) as used in
 * offer/answer (RFC 3264): a parser, a builder for the handset's offers and
 * answers, the relay's in-place rewrite of addresses and ports, and small
 * offer/answer helpers. Attributes decoded: rtpmap, fmtp, ptime, maxptime,
 * sendrecv/sendonly/recvonly/inactive, rtcp (RFC 3605), rtcp-mux
 * (RFC 5761), crypto (RFC 4568 SDES); every other one is kept generically.
 *
 * Parsing is allocation-free: the description is decoded into a fixed-size
 * `struct sdp_desc` of `struct sip_str` slices into the caller's buffer,
 * which must outlive it. Lines are `x=value`, ending in CRLF or LF (the last
 * line may lack its terminator); the type letters must come in the order of
 * RFC 8866 s.5, and one not in it, a bare CR, a control character, an empty
 * line or a field that does not fit its grammar is -EBADMSG. More than
 * SDP_MAX_MEDIA m= sections, SDP_MAX_FMTS formats in one, SDP_MAX_ATTRS
 * a= lines in all, SDP_MAX_BW b= lines in one section or SDP_MAX_CRYPTO
 * crypto lines in one media section is -E2BIG. See docs/media.md.
 *
 * All functions return 0 or -errno and write output parameters only on
 * success (sdp_parse zeroes its output on failure: it is filled in place).
 */
#ifndef DATALINE_SDP_H
#define DATALINE_SDP_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/sip.h"

#define SDP_MAX_MEDIA 8		/* m= sections */
#define SDP_MAX_FMTS 32		/* formats on one m= line */
#define SDP_MAX_ATTRS 128	/* a= lines, session and media together */
#define SDP_MAX_BW 4		/* b= lines per section */
#define SDP_MAX_CRYPTO 8	/* a=crypto lines per media section */
#define SDP_MAX_LEN 65535u	/* largest description accepted */

enum sdp_proto {
	SDP_PROTO_OTHER = 0,	/* see media->proto_s */
	SDP_PROTO_RTP_AVP,	/* RTP/AVP   (RFC 3551) */
	SDP_PROTO_RTP_SAVP,	/* RTP/SAVP  (RFC 3711) */
	SDP_PROTO_RTP_AVPF,	/* RTP/AVPF  (RFC 4585) */
	SDP_PROTO_RTP_SAVPF,	/* RTP/SAVPF (RFC 5124) */
};

enum sdp_dir {
	SDP_DIR_SENDRECV = 0,	/* the default (RFC 8866 s.6.7) */
	SDP_DIR_SENDONLY,
	SDP_DIR_RECVONLY,
	SDP_DIR_INACTIVE,
};

/* c= (and the address part of o=): "nettype addrtype address". */
struct sdp_conn {
	struct sip_str nettype;	/* "IN" */
	struct sip_str addrtype;	/* "IP4" / "IP6" */
	struct sip_str addr;	/* without any /ttl/count suffix */
	struct sip_str suffix;	/* "/127/3" as written, absent if none */
};

struct sdp_origin {
	struct sip_str username;
	struct sip_str sess_id;		/* digits */
	struct sip_str sess_version;	/* digits */
	struct sdp_conn conn;		/* suffix always absent */
};

struct sdp_bw {
	struct sip_str type;	/* "AS", "CT", "TIAS", ... */
	uint32_t value;
};

/* One a= line. value is absent for a property attribute ("a=rtcp-mux"),
 * present (maybe empty) after a ':'. */
struct sdp_attr {
	struct sip_str name;
	struct sip_str value;
};

/* One format of an m= line with its rtpmap and fmtp, when given. */
struct sdp_fmt {
	struct sip_str id;	/* as written on the m= line */
	int pt;			/* 0..127 for RTP protos, else -1 */
	struct sip_str encoding;	/* rtpmap encoding name, absent if none */
	uint32_t clock;		/* rtpmap clock rate, 0 if none */
	uint16_t channels;	/* rtpmap encoding params, 1 if absent */
	struct sip_str fmtp;	/* the parameters after "a=fmtp:PT ",
				 * absent if none */
};

/* a=crypto (RFC 4568 s.9.1): "tag suite key-params [session-params]".
 * The key params are kept as written ("inline:KEY|2^20|1:4;inline:..."),
 * and the first inline's parts are split out for the common case. */
struct sdp_crypto {
	uint32_t tag;		/* 1..999999999 */
	struct sip_str suite;	/* "AEAD_AES_128_GCM", ... */
	struct sip_str key_params;	/* all key params */
	struct sip_str key;	/* first inline: base64 key||salt */
	struct sip_str lifetime;	/* first inline: "2^20", absent if none */
	struct sip_str mki;	/* first inline: "1:4", absent if none */
	struct sip_str session_params;	/* rest of the line, absent if none */
};

struct sdp_media {
	struct sip_str line;	/* the whole m= value */
	struct sip_str type;	/* "audio", "video", ... */
	uint16_t port;
	struct sip_str port_s;	/* the port digits (what sdp_rewrite replaces) */
	uint16_t nports;	/* "/2" on the port, else 1 */
	enum sdp_proto proto;
	struct sip_str proto_s;
	uint16_t nfmts;
	struct sdp_fmt fmts[SDP_MAX_FMTS];
	struct sip_str info;	/* i=, absent if none */
	int has_conn;
	struct sdp_conn conn;	/* media-level c= */
	struct sip_str conn_line;	/* the whole c= value */
	uint16_t nbw;
	struct sdp_bw bw[SDP_MAX_BW];
	uint16_t attr_first, nattrs;	/* its a= lines in desc->attrs */
	/* decoded attributes */
	enum sdp_dir dir;	/* its own, else the session's */
	uint32_t ptime, maxptime;	/* ms, 0 if absent */
	int rtcp_mux;
	int has_rtcp;		/* a=rtcp (RFC 3605) */
	uint16_t rtcp_port;
	struct sip_str rtcp_port_s;
	int rtcp_has_conn;
	struct sdp_conn rtcp_conn;	/* address part of a=rtcp, if any */
	uint16_t ncrypto;
	struct sdp_crypto crypto[SDP_MAX_CRYPTO];
};

struct sdp_desc {
	struct sdp_origin origin;
	struct sip_str name;	/* s= */
	struct sip_str info;	/* i= */
	struct sip_str uri;	/* u= */
	int has_conn;
	struct sdp_conn conn;	/* session-level c= */
	struct sip_str conn_line;
	uint16_t nbw;
	struct sdp_bw bw[SDP_MAX_BW];
	uint16_t ntimes;	/* t= lines (at least one) */
	uint64_t start, stop;	/* of the first t= */
	enum sdp_dir dir;	/* session-level direction attribute */
	uint16_t nattrs;	/* all a= lines; session ones first */
	uint16_t nsess_attrs;
	struct sdp_attr attrs[SDP_MAX_ATTRS];
	uint16_t nmedia;
	struct sdp_media media[SDP_MAX_MEDIA];
};

/*
 * Parses len bytes at buf. 0 and *out; -EBADMSG malformed, -E2BIG over a
 * limit, -EINVAL bad arguments (NULL, or len above SDP_MAX_LEN).
 * Media c= is required where no session c= is given (RFC 8866 s.5.7),
 * except in m= sections with port 0.
 */
int sdp_parse(const char *buf, size_t len, struct sdp_desc *out);

/* The connection that applies to media i (its own, else the session's);
 * NULL if none. */
const struct sdp_conn *sdp_media_conn(const struct sdp_desc *d, unsigned i);

/* The first attribute called name (case-sensitive, RFC 8866 s.5.13) in
 * media i's section, or in the session section when i is SDP_SESSION;
 * after prev if prev is not NULL. NULL if none. */
#define SDP_SESSION (~0u)
const struct sdp_attr *sdp_attr_find(const struct sdp_desc *d, unsigned i,
				     const char *name,
				     const struct sdp_attr *prev);

const char *sdp_dir_name(enum sdp_dir dir);

/* --------------------------------------------------- offer/answer helpers */

/*
 * The format of m whose encoding name is name (case-insensitive) at clock
 * rate clock (0: any) and, if channels is not 0, with that many channels.
 * Static payload types without an rtpmap (RFC 3551 table 4: 0 PCMU, 3 GSM,
 * 4 G723, 8 PCMA, 9 G722, 18 G729 ...) are matched by their RFC 3551
 * names. NULL if none.
 */
const struct sdp_fmt *sdp_codec_find(const struct sdp_media *m,
				     const char *name, uint32_t clock,
				     uint16_t channels);

/* The encoding name and clock rate of f: its rtpmap, else the RFC 3551
 * static assignment. -ENOENT when neither is known. */
int sdp_fmt_codec(const struct sdp_fmt *f, const char **name,
		  size_t *name_len, uint32_t *clock);

struct sdp_codec_pref {
	const char *name;	/* "opus", "PCMU", ... */
	uint32_t clock;		/* 0: any */
	uint16_t channels;	/* 0: any */
};

/*
 * The first of the local preferences (in their order, so the answerer's
 * preference wins) that the offered media m also has. *fmt is that format
 * of m (its payload type is the one to answer with, RFC 3264 s.6.1), and
 * *pref the preference's index. -ENOENT if nothing is common.
 */
int sdp_codec_pick(const struct sdp_media *m,
		   const struct sdp_codec_pref *prefs, size_t nprefs,
		   const struct sdp_fmt **fmt, size_t *pref);

/* The direction to answer with (RFC 3264 s.6.1): sendonly -> recvonly,
 * recvonly -> sendonly, inactive -> inactive, sendrecv -> what we want. */
enum sdp_dir sdp_dir_answer(enum sdp_dir offered, enum sdp_dir wanted);

/* ------------------------------------------------------------- rewrite */

/*
 * What sdp_rewrite replaces. addr: the relay's address (IPv4 or IPv6
 * text; addrtype follows from it), written into every c= line (session and
 * media, without any multicast suffix) and into a=rtcp lines that carry an
 * address. port[i]: the new port of media i, or -1 to keep it; rtcp_port[i]
 * the new a=rtcp port, or -1 for port[i] + 1. Nothing else changes: every
 * other byte, line ending, order and attribute is copied as it was.
 */
struct sdp_rewrite_spec {
	const char *addr;		/* NULL keeps the addresses */
	int32_t port[SDP_MAX_MEDIA];
	int32_t rtcp_port[SDP_MAX_MEDIA];
};

/* Initialises spec to "change nothing". */
void sdp_rewrite_spec_init(struct sdp_rewrite_spec *spec);

/*
 * Writes into out (cap bytes) the description d parsed from buf/len, with
 * spec applied. -ENOSPC if it does not fit, -EINVAL bad arguments (an
 * address with a space, CR or LF, a port above 65535, a media index
 * beyond d->nmedia with a port set).
 */
int sdp_rewrite(const char *buf, size_t len, const struct sdp_desc *d,
		const struct sdp_rewrite_spec *spec, char *out, size_t cap,
		size_t *outlen);

/* ------------------------------------------------------------- builder */

struct sdp_build_fmt {
	uint8_t pt;
	const char *encoding;	/* NULL: no rtpmap (static types) */
	uint32_t clock;
	uint16_t channels;	/* 0 or 1: not written */
	const char *fmtp;	/* NULL: no fmtp */
};

struct sdp_build_crypto {
	uint32_t tag;
	const char *suite;
	const char *key_params;	/* "inline:..." */
};

struct sdp_build_media {
	const char *type;	/* "audio" */
	uint16_t port;
	enum sdp_proto proto;	/* not OTHER */
	size_t nfmts;
	const struct sdp_build_fmt *fmts;
	uint32_t ptime, maxptime;	/* 0: not written */
	enum sdp_dir dir;	/* always written */
	int rtcp_mux;
	int32_t rtcp_port;	/* -1: no a=rtcp */
	size_t ncrypto;
	const struct sdp_build_crypto *crypto;
};

struct sdp_build_params {
	const char *username;	/* NULL: "-" */
	uint64_t sess_id, sess_version;
	const char *addr;	/* o= and session c= address (IP4 or IP6) */
	const char *name;	/* NULL: "-" */
	size_t nmedia;
	const struct sdp_build_media *media;
};

/*
 * Writes a description (CRLF lines: v, o, s, c, t=0 0, then per media m,
 * a=rtpmap/fmtp per format, ptime, maxptime, direction, rtcp, rtcp-mux,
 * crypto) into out. -ENOSPC if it does not fit, -EINVAL for missing or
 * malformed fields (text with CR, LF or NUL, a token with a space, no
 * formats). The result always parses with sdp_parse.
 */
int sdp_build(const struct sdp_build_params *p, char *out, size_t cap,
	      size_t *outlen);

#endif /* DATALINE_SDP_H */
