/*
 * sip: the SIP core both ends speak (RFC 3261, RFC 3581 rport, RFC 5626
 * CRLF keep-alive framing, RFC 4475 torture-tested), plus HTTP Digest
 * authentication for SIP (RFC 3261 s.22, RFC 7616, RFC 8760 SHA-256).
 *
 * Parsing is zero-copy and allocation-free: every text field is a
 * `struct sip_str` slice (pointer + length) into the caller's buffer, which
 * must outlive the parsed message. A parsed message keeps a fixed-size index
 * of its header lines; per-header decoders (`sip_via_decode`, ...) turn one
 * value into a struct on demand. Comma-separated lists (Via, Contact,
 * Route, ...) are walked with `sip_list_next`, across all lines of a header.
 *
 * Building writes into a caller-provided buffer (`struct sip_buf`) with a
 * sticky error: once something does not fit, every later call is a no-op
 * and `sip_buf_finish` returns -ENOSPC.
 *
 * All functions return 0 or -errno; output parameters are written only on
 * success (the one documented exception is `struct sip_parse_error`, which
 * is written on failure).
 */
#ifndef DATALINE_SIP_H
#define DATALINE_SIP_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ slices */

/* A slice of the input buffer. Not NUL-terminated. p == NULL, len == 0
 * means "absent"; p != NULL, len == 0 means "present but empty". */
struct sip_str {
	const char *p;
	size_t len;
};

#define SIP_STR_NULL ((struct sip_str){ NULL, 0 })
#define SIP_STR_LIT(s) ((struct sip_str){ (s), sizeof(s) - 1 })

static inline int sip_str_present(struct sip_str s) { return s.p != NULL; }
/* Exact / case-insensitive comparison with a C string (1 = equal). */
int sip_str_eq(struct sip_str s, const char *c);
int sip_str_caseeq(struct sip_str s, const char *c);
/* Copies a slice into a NUL-terminated C string; -ENOSPC if it does not
 * fit (cap includes the NUL). */
int sip_str_copy(struct sip_str s, char *out, size_t cap);
/* Removes the surrounding quotes of a quoted-string (if any) and resolves
 * its backslash escapes into out (NUL-terminated). -EBADMSG if malformed,
 * -ENOSPC if it does not fit. */
int sip_str_unquote(struct sip_str s, char *out, size_t cap, size_t *outlen);
/* Decodes %HH escapes (URI user part etc.) into out (NUL-terminated; the
 * result may contain NUL bytes, *outlen tells the length). */
int sip_str_unescape(struct sip_str s, char *out, size_t cap, size_t *outlen);
/* Parses a decimal unsigned integer (LWS around it allowed) that must be
 * <= max. -EBADMSG if not a number, -ERANGE if above max. */
int sip_uint_decode(struct sip_str s, uint64_t max, uint64_t *out);

/* ------------------------------------------------------------ methods */

enum sip_method {
	SIP_METHOD_OTHER = 0,	/* any other token: see msg->method */
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_REGISTER,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_INFO,
	SIP_METHOD_PRACK,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_PUBLISH,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_REFER,
	SIP_METHOD_UPDATE,
};

/* Method names are case-sensitive (RFC 3261 s.7.1). */
enum sip_method sip_method_lookup(struct sip_str name);
const char *sip_method_name(enum sip_method m);	/* NULL for OTHER */

/* ------------------------------------------------------------ headers */

/* Headers the parser knows by name (long and compact forms are both
 * mapped, case-insensitively). Everything else is SIP_HDR_OTHER and can be
 * found with sip_msg_hdr_byname(). */
enum sip_hdr_id {
	SIP_HDR_OTHER = 0,
	SIP_HDR_ACCEPT,
	SIP_HDR_ACCEPT_ENCODING,
	SIP_HDR_ACCEPT_LANGUAGE,
	SIP_HDR_ALLOW,
	SIP_HDR_ALLOW_EVENTS,		/* u */
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_CALL_ID,		/* i */
	SIP_HDR_CONTACT,		/* m */
	SIP_HDR_CONTENT_DISPOSITION,
	SIP_HDR_CONTENT_ENCODING,	/* e */
	SIP_HDR_CONTENT_LENGTH,		/* l */
	SIP_HDR_CONTENT_TYPE,		/* c */
	SIP_HDR_CSEQ,
	SIP_HDR_DATE,
	SIP_HDR_EVENT,			/* o */
	SIP_HDR_EXPIRES,
	SIP_HDR_FROM,			/* f */
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_PATH,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_REFER_TO,		/* r */
	SIP_HDR_REFERRED_BY,		/* b */
	SIP_HDR_REQUIRE,
	SIP_HDR_RETRY_AFTER,
	SIP_HDR_ROUTE,
	SIP_HDR_SERVER,
	SIP_HDR_SUBJECT,		/* s */
	SIP_HDR_SUPPORTED,		/* k */
	SIP_HDR_TIMESTAMP,
	SIP_HDR_TO,			/* t */
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_USER_AGENT,
	SIP_HDR_VIA,			/* v */
	SIP_HDR_WARNING,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR__COUNT
};

enum sip_hdr_id sip_hdr_lookup(const char *name, size_t len);
const char *sip_hdr_name(enum sip_hdr_id id);	/* canonical long form */

/* One header line (with its folded continuation lines). */
struct sip_hdr {
	struct sip_str name;	/* as written (maybe compact, any case) */
	struct sip_str value;	/* trimmed of LWS at both ends; may contain
				 * folded CRLF+WS inside (decoders treat it as
				 * LWS). Present but empty for "Subject:". */
	uint16_t id;		/* enum sip_hdr_id */
	uint16_t next;		/* index+1 of the next line with the same id,
				 * 0 = last (OTHER headers are not chained) */
};

/* ------------------------------------------------------------ message */

/* Limits. A message with more header lines than SIP_MAX_HEADERS is
 * rejected (413-worthy, reported as -E2BIG). */
#define SIP_MAX_HEADERS 80
#define SIP_MAX_FORWARDS_MAX 255u
#define SIP_CSEQ_MAX 0x7fffffffu	/* RFC 3261 s.8.1.1.5: < 2**31 */

struct sip_uri {
	struct sip_str scheme;	/* "sip", "sips", "tel", or anything else */
	int is_sip;		/* 1 for sip:, 2 for sips:, 0 otherwise */
	struct sip_str user;	/* escaped as written (absent if no '@') */
	struct sip_str password;
	struct sip_str host;	/* IPv6 reference without the brackets */
	int host_is_ipv6;
	uint16_t port;		/* 0 = not given */
	struct sip_str params;	/* after the first ';' of the host part,
				 * without that ';' (absent if none) */
	struct sip_str headers;	/* after '?', without it */
	struct sip_str opaque;	/* non-sip schemes: everything after ':' */
};

/* name-addr / addr-spec (From, To, Contact, Route, Record-Route, ...). */
struct sip_nameaddr {
	struct sip_str display;	/* as written, quotes kept if quoted
				 * (absent if none); sip_str_unquote() it */
	struct sip_str uri_str;	/* the URI text (without < >) */
	struct sip_uri uri;
	struct sip_str params;	/* header params after the URI / '>',
				 * without the leading ';' */
	struct sip_str tag;	/* value of ;tag= (absent if none) */
};

struct sip_via {
	struct sip_str proto;	/* "SIP/2.0" (LWS around '/' removed: the
				 * name and version slices are separate) */
	struct sip_str proto_name;
	struct sip_str proto_version;
	struct sip_str transport;	/* "UDP", "TCP", "TLS", "SCTP", ... */
	struct sip_str host;	/* IPv6 without brackets */
	int host_is_ipv6;
	uint16_t port;		/* 0 = not given */
	struct sip_str params;	/* without the leading ';' */
	struct sip_str branch;
	struct sip_str received;
	struct sip_str maddr;
	int rport_present;	/* ";rport" or ";rport=N" */
	uint16_t rport;		/* 0 if given without value */
	int ttl;		/* -1 if absent */
};

struct sip_cseq {
	uint32_t num;
	struct sip_str method;
	enum sip_method method_id;
};

struct sip_contact {
	int star;		/* "Contact: *" */
	struct sip_nameaddr addr;	/* unset when star */
	int64_t expires;	/* ;expires= value, -1 if absent */
	struct sip_str q;	/* ;q= value as written, absent if none */
};

struct sip_msg {
	const char *buf;	/* start of the message (after any leading
				 * CRLFs skipped) -- borrowed, not owned */
	size_t len;		/* start line .. end of body */
	int is_request;
	/* request line */
	struct sip_str method;
	enum sip_method method_id;
	struct sip_str ruri_str;
	struct sip_uri ruri;
	/* status line */
	int status;		/* 100..699 */
	struct sip_str reason;	/* may be empty */
	/* headers */
	uint16_t nhdrs;
	uint16_t first[SIP_HDR__COUNT];	/* index+1 of first line per id */
	struct sip_hdr hdrs[SIP_MAX_HEADERS];
	/* decoded on parse (all validated) */
	struct sip_str call_id;
	struct sip_cseq cseq;
	struct sip_via via;	/* the top-most Via value */
	unsigned nvia;		/* number of Via values in all lines */
	struct sip_nameaddr from, to;
	int max_forwards;	/* -1 if absent */
	int64_t expires;	/* Expires header, -1 if absent */
	int has_content_length;
	uint32_t content_length;
	struct sip_str body;	/* exactly content_length bytes (or the rest
				 * of a datagram without Content-Length) */
};

/* Flags for sip_msg_parse. */
#define SIP_PARSE_STREAM 0x1	/* from TCP/TLS: Content-Length is mandatory
				 * and the buffer must hold exactly one
				 * message (use sip_frame first) */
#define SIP_PARSE_DGRAM  0x0	/* from UDP: no Content-Length = the body is
				 * the rest; body shorter than Content-Length
				 * = reject; bytes beyond it are ignored
				 * (RFC 3261 s.18.3); the datagram may end
				 * right after its last header line */

/* Why a message was rejected (written only on failure). */
struct sip_parse_error {
	int is_request;		/* 1: answer `status reason`, 0: drop. -1: no
				 * start line was recognised: drop. */
	int status;		/* 400, 505 (bad version), 413 (too many
				 * headers) -- meaningful when is_request */
	const char *reason;	/* static text for the reason phrase or the
				 * log, e.g. "Bad CSeq" */
	int can_reply;		/* 1 when the partial msg has the Via, From,
				 * To, Call-ID and CSeq lines needed to build
				 * a response with sip_resp_begin() */
};

/*
 * Parses one SIP message. On success fills *msg (which then points into
 * buf) and returns 0. Returns -EBADMSG for a malformed message, -E2BIG for
 * too many header lines, -EPROTONOSUPPORT for a SIP version other than 2.0
 * (answer 505), -EINVAL for bad arguments. On failure, if err != NULL it
 * tells what to answer; msg then holds the partial parse (header index and
 * raw values) so a 400 can be built when err->can_reply says so.
 * Leading CRLFs before the start line are skipped (RFC 3261 s.7.5).
 */
int sip_msg_parse(const char *buf, size_t len, unsigned flags,
		  struct sip_msg *msg, struct sip_parse_error *err);

/* Stream framing (TCP/TLS). */
enum sip_frame_kind {
	SIP_FRAME_MSG = 0,	/* a message of .len bytes */
	SIP_FRAME_PING,		/* "\r\n\r\n" keep-alive (RFC 5626 s.3.5.1):
				 * answer with a "\r\n" pong, consume .len */
	SIP_FRAME_CRLF,		/* a lone "\r\n" (pong, or noise between
				 * messages): consume .len, ignore */
};
struct sip_frame {
	enum sip_frame_kind kind;
	size_t len;
};
/*
 * Looks at the start of a stream buffer: 0 and *out when a complete frame
 * is there; -EAGAIN when more bytes are needed; -EMSGSIZE when the message
 * (head or head + Content-Length) would exceed max bytes; -EBADMSG when the
 * head has no usable Content-Length (missing, negative, not a number) --
 * the stream cannot be resynchronised then: answer 400 if you can and close.
 */
int sip_frame(const char *buf, size_t len, size_t max, struct sip_frame *out);

/* Header lookup in a parsed message. */
const struct sip_hdr *sip_msg_hdr(const struct sip_msg *m, enum sip_hdr_id id);
const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *m,
				       const struct sip_hdr *h);
/* First header with that (case-insensitive) name; compact forms of known
 * headers are matched too. */
const struct sip_hdr *sip_msg_hdr_byname(const struct sip_msg *m,
					 const char *name);
/* Number of header lines with that id. */
unsigned sip_msg_hdr_count(const struct sip_msg *m, enum sip_hdr_id id);

/*
 * Iterates the comma-separated values of every line of one header id
 * (Via, Contact, Route, Record-Route, Allow, Supported, Require, ...),
 * in order. Commas inside quoted strings and <...> do not split.
 *   struct sip_list_iter it; sip_list_init(&it, msg, SIP_HDR_CONTACT);
 *   while (sip_list_next(&it, &v) == 0) ...
 * sip_list_next returns 0 with the next value (trimmed), -ENOENT at the
 * end, -EBADMSG for an empty element or unbalanced quotes/brackets.
 */
struct sip_list_iter {
	const struct sip_msg *m;
	unsigned hdr;		/* index+1 of the current line, 0 = done */
	const char *pos;	/* next character to read within that line */
};
void sip_list_init(struct sip_list_iter *it, const struct sip_msg *m,
		   enum sip_hdr_id id);
int sip_list_next(struct sip_list_iter *it, struct sip_str *out);
/* The same over one raw value (a single header line's value). */
int sip_list_split(struct sip_str *rest, struct sip_str *out);

/* ------------------------------------------------------------ decoders */

/* Each returns 0, or -EBADMSG when the value is malformed. */
int sip_uri_decode(struct sip_str s, struct sip_uri *out);
int sip_nameaddr_decode(struct sip_str s, struct sip_nameaddr *out);
int sip_via_decode(struct sip_str s, struct sip_via *out);
int sip_cseq_decode(struct sip_str s, struct sip_cseq *out);
int sip_contact_decode(struct sip_str s, struct sip_contact *out);
/* A q-value (RFC 3261 s.25.1: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]),
 * no LWS, in thousandths ("0.5" = 500) in *out; -EBADMSG otherwise
 * ("nan", "1.5", "-0", ".5", "0.0001"). No floating point. */
int sip_qvalue_decode(struct sip_str s, int *out);
/* RFC 1123 date as SIP requires it (RFC 3261 s.20.17: "GMT" only). */
int sip_date_decode(struct sip_str s, int64_t *unix_time);
/*
 * Looks up a parameter in a ";"-separated params slice (as in
 * sip_uri.params, sip_via.params, sip_nameaddr.params), name compared
 * case-insensitively. 0 and *val (empty-but-present for a bare ";lr"),
 * or -ENOENT. val may be NULL.
 */
int sip_param_get(struct sip_str params, const char *name, struct sip_str *val);
/* Iterates params: 0 with name/value (value present but empty when there
 * is no '='; quoted values keep their quotes), -ENOENT at the end,
 * -EBADMSG on an empty or malformed param (";;", trailing ';', "a="). */
int sip_param_next(struct sip_str *rest, struct sip_str *name,
		   struct sip_str *val);
/* URI comparison per RFC 3261 s.19.1.4 for the parts a registrar needs:
 * scheme, user (escapes resolved, case-sensitive), host (case-insensitive)
 * and port. 1 = equal. */
int sip_uri_eq_aor(const struct sip_uri *a, const struct sip_uri *b);

/* ------------------------------------------------------------ builder */

struct sip_buf {
	char *p;		/* caller's memory -- borrowed */
	size_t size;
	size_t len;
	int err;		/* 0, or -ENOSPC once anything did not fit */
};

void sip_buf_init(struct sip_buf *b, char *mem, size_t size);
void sip_buf_add(struct sip_buf *b, const void *data, size_t len);
void sip_buf_adds(struct sip_buf *b, const char *s);
void sip_buf_addstr(struct sip_buf *b, struct sip_str s);
void sip_buf_printf(struct sip_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Adds "Name: value\r\n". */
void sip_buf_hdr(struct sip_buf *b, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 0 and *len = bytes written, or the sticky error (-ENOSPC). The buffer is
 * also NUL-terminated when room allows (not counted in len). */
int sip_buf_finish(struct sip_buf *b, size_t *len);

/* How the top Via of a response is rewritten (RFC 3261 s.18.2.1, RFC 3581):
 * received is added when non-NULL; an empty ";rport" gets the port. */
struct sip_via_fix {
	const char *received;	/* source IP as text, or NULL */
	uint16_t rport;		/* source port (used only if the request had
				 * ";rport") */
};

/*
 * Starts a response to a parsed request: status line, every Via line (the
 * top one rewritten per fix when non-NULL), From, To (with ";tag=to_tag"
 * appended when non-NULL and the request's To has no tag), Call-ID, CSeq.
 * Add more headers with sip_buf_hdr(), then call sip_msg_end().
 * reason NULL = the standard phrase (sip_reason_phrase()).
 */
void sip_resp_begin(struct sip_buf *b, const struct sip_msg *req, int status,
		    const char *reason, const char *to_tag,
		    const struct sip_via_fix *fix);
const char *sip_reason_phrase(int status);

/* A request (REGISTER, OPTIONS, ...). Strings are C strings. */
struct sip_req_params {
	const char *method;	/* "REGISTER" */
	const char *ruri;	/* "sip:dataline.local" */
	const char *transport;	/* Via transport: "UDP", "TCP", "TLS" */
	const char *via_host;	/* sent-by host (IPv6 in brackets) */
	uint16_t via_port;	/* 0 = leave out */
	const char *branch;	/* must start with "z9hG4bK" */
	int rport;		/* add ";rport" (RFC 3581) */
	const char *from;	/* URI, e.g. "sip:+86...@dataline.local" */
	const char *from_display;	/* NULL = none; quoted by the builder */
	const char *from_tag;
	const char *to;		/* URI */
	const char *to_tag;	/* NULL for out-of-dialog requests */
	const char *call_id;
	uint32_t cseq;
	int max_forwards;	/* 0 = default 70 */
};
void sip_req_begin(struct sip_buf *b, const struct sip_req_params *p);
/* Ends the head: adds Content-Type (if ctype non-NULL and body_len > 0),
 * Content-Length, the empty line and the body. Returns sip_buf_finish(). */
int sip_msg_end(struct sip_buf *b, const char *ctype, const void *body,
		size_t body_len, size_t *out_len);

/*
 * The value of the first Call-ID header ("Call-ID:" or compact "i:") of
 * the message in BUF, found by scanning line starts up to the end of the
 * head, without a parse: *V and *VLEN point into BUF. 0, or -ENOENT (none
 * found, an empty value, or a folded line).
 */
int sip_scan_call_id(const char *buf, size_t len, const char **v,
		     size_t *vlen);

/* Random tokens from the OpenSSL CSPRNG: `nbytes` random bytes as
 * lowercase hex (out needs 2*nbytes+1). Branches get the "z9hG4bK" magic
 * cookie (out needs 7+2*nbytes+1). */
int sip_rand_hex(char *out, size_t cap, size_t nbytes);
int sip_branch_new(char *out, size_t cap);

/* ------------------------------------------------------------ digest */

enum sip_digest_alg {
	SIP_DIGEST_ALG_UNKNOWN = 0,
	SIP_DIGEST_MD5,		/* "MD5", also when algorithm= is absent */
	SIP_DIGEST_SHA256,	/* "SHA-256" (RFC 8760) */
};
#define SIP_DIGEST_HEX_MAX 65	/* SHA-256 hex + NUL */

/* WWW-Authenticate / Proxy-Authenticate: Digest ... */
struct sip_digest_challenge {
	struct sip_str realm, nonce, opaque, domain;	/* inside the quotes,
							 * escapes unresolved */
	struct sip_str algorithm;	/* as written; absent = MD5 */
	enum sip_digest_alg alg;	/* UNKNOWN for e.g. "MD5-sess" */
	struct sip_str qop;	/* the raw quoted qop list */
	int qop_auth;		/* "auth" offered */
	int qop_auth_int;
	int stale;		/* stale=true */
};

/* Authorization / Proxy-Authorization: Digest ... */
struct sip_digest_credentials {
	struct sip_str username, realm, nonce, uri, response, cnonce, opaque;
	struct sip_str algorithm;
	enum sip_digest_alg alg;
	struct sip_str qop;	/* "auth" (absent: RFC 2069 style) */
	struct sip_str nc;	/* 8 hex digits as written */
	uint32_t nc_value;
};

/*
 * Decoders of the header value (scheme + params; params in any order,
 * quoted strings with escapes, LWS anywhere allowed). -EPROTONOSUPPORT if
 * the scheme is not Digest, -EBADMSG if malformed or a required param
 * (realm, nonce; + username, uri, response for credentials; + cnonce, nc
 * when qop is present) is missing or duplicated.
 */
int sip_digest_challenge_decode(struct sip_str s,
				struct sip_digest_challenge *out);
int sip_digest_credentials_decode(struct sip_str s,
				  struct sip_digest_credentials *out);

/* Hex of H(user:realm:password) in the chosen algorithm. */
int sip_digest_ha1(enum sip_digest_alg alg, const char *user,
		   const char *realm, const char *password,
		   char out[SIP_DIGEST_HEX_MAX]);
/*
 * Hex of the response: H(HA1:nonce:nc:cnonce:qop:HA2) with qop, else
 * H(HA1:nonce:HA2); HA2 = H(method:uri). qop NULL = RFC 2069 style.
 */
int sip_digest_response(enum sip_digest_alg alg, const char *ha1_hex,
			const char *nonce, const char *nc, const char *cnonce,
			const char *qop, const char *method, const char *uri,
			char out[SIP_DIGEST_HEX_MAX]);

/*
 * Server side: checks parsed credentials against the stored HA1 (hex, of
 * the algorithm c->alg) for a request with this method. Recomputes the
 * response from the values as sent and compares in constant time.
 * 0 = the response is right; -EACCES = wrong; -EBADMSG = malformed or
 * unsupported parameters (e.g. qop other than auth). Nonce freshness and
 * nonce-count replay checks are the caller's (see sip_nonce_*).
 */
int sip_digest_verify(const struct sip_digest_credentials *c,
		      struct sip_str method, const char *ha1_hex);

/*
 * Stateless nonces: hex(issued_be64 | 8 random bytes |
 * HMAC-SHA256(key, time|random|addr)[0..15]) = 64 lowercase hex chars. A
 * server keeps only its key (32 random bytes, per process or shared by
 * workers). ADDR/ADDR_LEN: the client's source IP (4 or 16 bytes, not the
 * port; NULL/0 for none); a nonce verifies only with the address it was
 * made for. issued_be64 = seconds << 20 | an issue counter, so the first
 * 8 bytes order nonces by issue. sip_nonce_check: 0 = genuine and younger than ttl seconds
 * (issued time in *issued if non-NULL); -ESTALE = genuine but too old
 * (challenge again with stale=true); -EINVAL = not ours, another
 * address's, not lowercase hex, or garbled.
 */
#define SIP_NONCE_LEN 64
#define SIP_NONCE_KEY_LEN 32
int sip_nonce_key_new(uint8_t key[SIP_NONCE_KEY_LEN]);
int sip_nonce_make(const uint8_t key[SIP_NONCE_KEY_LEN], uint64_t now,
		   const void *addr, size_t addr_len, char out[SIP_NONCE_LEN + 1]);
int sip_nonce_check(const uint8_t key[SIP_NONCE_KEY_LEN], struct sip_str nonce,
		    uint64_t now, uint64_t ttl, const void *addr,
		    size_t addr_len, uint64_t *issued);

/* Adds a "hdr_name: Digest realm=..., nonce=..., algorithm=..., qop="auth"
 * [, stale=true][, opaque=...]" line (hdr_name: "WWW-Authenticate" or
 * "Proxy-Authenticate"). opaque may be NULL. */
void sip_digest_challenge_add(struct sip_buf *b, const char *hdr_name,
			      enum sip_digest_alg alg, const char *realm,
			      const char *nonce, int stale, const char *opaque);
/* The same challenge's value alone ("Digest realm=..., ..."; no name, no
 * CRLF), for other protocols' headers (the HTTP API's WWW-Authenticate,
 * RFC 7616 s.3.3). */
void sip_digest_challenge_value(struct sip_buf *b, enum sip_digest_alg alg,
				const char *realm, const char *nonce, int stale,
				const char *opaque);

/*
 * Client side: picks the best challenge among the message's
 * WWW-Authenticate (or, for 407, Proxy-Authenticate) lines: SHA-256 over
 * MD5, qop=auth preferred. -ENOENT if none is usable.
 */
int sip_digest_challenge_pick(const struct sip_msg *resp,
			      struct sip_digest_challenge *out);
/*
 * Client side: adds the "Authorization: Digest ..." (or
 * "Proxy-Authorization" when hdr_name says so) line answering ch, for the
 * request method/uri, with the password (or, when password is NULL, a
 * known ha1_hex). cnonce NULL = generate one. nc is the nonce-count for
 * this nonce (1, 2, ...). Returns 0, -EINVAL (unsupported challenge),
 * -ENOSPC (the buffer's sticky error is also set).
 */
int sip_digest_authorization_add(struct sip_buf *b, const char *hdr_name,
				 const struct sip_digest_challenge *ch,
				 const char *user, const char *password,
				 const char *ha1_hex, const char *method,
				 const char *uri, const char *cnonce,
				 uint32_t nc);

/* Constant-time equality of two byte strings of the same length
 * (1 = equal; different lengths are unequal without timing on content). */
int sip_ct_eq(const void *a, size_t alen, const void *b, size_t blen);

#endif
