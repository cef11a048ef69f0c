/*
 * cpim: the message/cpim wrapper of SIP MESSAGE bodies (RFC 3862), with
 * the IMDN headers of RFC 5438 s.5 (imdn.Message-ID,
 * imdn.Disposition-Notification) that request delivery and display
 * notifications.
 *
 * A message/cpim body is: CPIM message headers, an empty line, the MIME
 * headers of the encapsulated content (Content-Type required,
 * Content-Length optional), an empty line, the content. Header names may
 * carry a namespace prefix ("imdn.Message-ID") declared by an earlier
 * "NS: imdn <urn:ietf:params:imdn>" header (RFC 3862 s.3.4); the parser
 * resolves each header's prefix to its namespace URI so lookups do not
 * depend on the prefix a sender chose.
 *
 * Zero-copy and allocation-free like the SIP parser: every field is a
 * `struct sip_str` slice into the caller's buffer. Lines end in CRLF; a
 * bare CR or LF, a control character, a folded CPIM header line, a
 * missing empty line or a Content-Length larger than the content is
 * -EBADMSG; more than CPIM_MAX_HEADERS headers or CPIM_MAX_NS namespace
 * declarations is -E2BIG. All functions return 0 or -errno and write
 * output parameters only on success.
 *
 * Not done here: the backslash escapes of RFC 3862 s.2.3 stay in the
 * values as written, and Require (s.3.5, mandatory-to-recognise
 * headers) is returned like any other header for the caller to judge.
 */
#ifndef DATALINE_CPIM_H
#define DATALINE_CPIM_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/sip.h"

#define CPIM_MAX_HEADERS 32		/* CPIM message headers */
#define CPIM_MAX_MIME_HEADERS 16	/* headers of the encapsulated part */
#define CPIM_MAX_NS 8			/* NS declarations */
#define CPIM_MAX_CONTENT 65535u		/* largest Content-Length accepted */

/* The namespace of unprefixed header names (RFC 3862 s.3.4). */
#define CPIM_NS_BASE "urn:ietf:params:cpim-headers:"
/* RFC 5438 s.5 / s.12.1 */
#define CPIM_NS_IMDN "urn:ietf:params:imdn"

struct cpim_hdr {
	struct sip_str prefix;	/* as written before the '.' (absent if
				 * none) */
	struct sip_str name;	/* the name after the prefix */
	struct sip_str ns;	/* the namespace URI the prefix resolves to
				 * (without < >) */
	struct sip_str params;	/* ";lang=fr" etc. between ':' and the value,
				 * without the leading ';' (absent if none) */
	struct sip_str value;	/* trimmed; present but empty if empty */
};

struct cpim_msg {
	uint16_t nhdrs;
	struct cpim_hdr hdrs[CPIM_MAX_HEADERS];	/* CPIM headers in order */
	uint16_t nmime;
	struct cpim_hdr mime[CPIM_MAX_MIME_HEADERS];	/* no prefix/ns */
	/* decoded on parse (values as slices, absent if not there) */
	struct sip_str from;		/* the From value */
	struct sip_str to;		/* the first To value */
	struct sip_str datetime;	/* RFC 3339, as written */
	struct sip_str subject;		/* the first Subject */
	struct sip_str imdn_message_id;	/* imdn.Message-ID */
	struct sip_str imdn_disposition;	/* imdn.Disposition-Notification */
	struct sip_str content_type;	/* of the content (required) */
	int has_content_length;
	uint32_t content_length;
	struct sip_str body;	/* Content-Length bytes, or the rest */
};

/*
 * Parses a message/cpim body of len bytes at buf. 0 and *out (pointing
 * into buf); -EBADMSG malformed (see above), -E2BIG over a limit, -EINVAL
 * bad arguments. From, DateTime, imdn.Message-ID may appear at most once
 * and an undeclared prefix is an error. Bytes after Content-Length bytes
 * of content are ignored.
 */
int cpim_parse(const char *buf, size_t len, struct cpim_msg *out);

/*
 * Finds the next CPIM header after `after` (NULL: from the start) in the
 * namespace ns_uri (NULL = CPIM_NS_BASE) with that name (compared
 * case-insensitively). NULL if there is none.
 *   cpim_hdr_find(m, NULL, CPIM_NS_IMDN, "Message-ID")
 */
const struct cpim_hdr *cpim_hdr_find(const struct cpim_msg *m,
				     const struct cpim_hdr *after,
				     const char *ns_uri, const char *name);

/* What a message/cpim we send carries. C strings without CR or LF. */
struct cpim_params {
	const char *from;	/* header value: "<sip:+86...@dataline.local>"
				 * or "Name <uri>" */
	const char *to;
	const char *datetime;	/* RFC 3339, e.g. "2026-12-05T12:00:00Z";
				 * NULL = no DateTime header */
	const char *message_id;	/* imdn.Message-ID; NULL = no IMDN headers
				 * (and no NS declaration) */
	const char *disposition;	/* imdn.Disposition-Notification,
					 * e.g. "positive-delivery, display";
					 * NULL = none (needs message_id) */
	const char *content_type;	/* e.g. "text/plain;charset=UTF-8" */
	const void *body;	/* any bytes */
	size_t body_len;
};

/*
 * Writes the message/cpim body into out (cap bytes): From, To, DateTime,
 * NS: imdn <urn:ietf:params:imdn>, imdn.Message-ID,
 * imdn.Disposition-Notification, empty line, Content-Type,
 * Content-Length, empty line, body. 0 and *outlen; -ENOSPC if it does
 * not fit; -EINVAL for a missing from/to/content_type, CR/LF or a
 * control character in a value, or a disposition without message_id.
 */
int cpim_build(const struct cpim_params *p, char *out, size_t cap,
	       size_t *outlen);

#endif
