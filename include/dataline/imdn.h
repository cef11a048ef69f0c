/*
 * imdn: Instant Message Disposition Notifications (RFC 5438): the
 * message/imdn+xml document a recipient sends back to say a message was
 * delivered, displayed or processed (or that this failed), and the
 * imdn.Disposition-Notification header values that ask for them (the
 * header itself travels in message/cpim, see cpim.h).
 *
 * Parsing uses xmltok (no DTDs, bounded); unknown elements in any
 * namespace are ignored (RFC 5438 s.7.1 extensibility). Strings are
 * decoded (entities resolved, whitespace trimmed) into a caller scratch
 * buffer and returned as `struct sip_str` slices of it -- nothing is
 * allocated, and the slices live as long as that buffer. Functions return
 * 0 or -errno and write output parameters only on success.
 */
#ifndef DATALINE_IMDN_H
#define DATALINE_IMDN_H

#include <stddef.h>

#include "dataline/sip.h"

#define IMDN_XML_NS "urn:ietf:params:xml:ns:imdn"
#define IMDN_CONTENT_TYPE "message/imdn+xml"

enum imdn_kind {
	IMDN_KIND_NONE = 0,
	IMDN_DELIVERY,		/* <delivery-notification> */
	IMDN_DISPLAY,		/* <display-notification> */
	IMDN_PROCESSING,	/* <processing-notification> */
};

enum imdn_status {
	IMDN_STATUS_NONE = 0,
	IMDN_DELIVERED,		/* delivery */
	IMDN_FAILED,		/* delivery */
	IMDN_FORBIDDEN,		/* any kind */
	IMDN_ERROR,		/* any kind */
	IMDN_DISPLAYED,		/* display */
	IMDN_PROCESSED,		/* processing */
	IMDN_STORED,		/* processing */
};

struct imdn {
	struct sip_str message_id;	/* of the message notified about */
	struct sip_str datetime;	/* when that message was sent */
	struct sip_str recipient_uri;	/* absent if not given */
	struct sip_str original_recipient_uri;	/* absent if not given */
	struct sip_str subject;		/* absent if not given */
	enum imdn_kind kind;
	enum imdn_status status;
};

/*
 * Parses a message/imdn+xml document: root <imdn> in IMDN_XML_NS, with
 * message-id and datetime (required), recipient-uri,
 * original-recipient-uri and subject (optional), and exactly one
 * notification element whose <status> holds one status allowed for that
 * kind (RFC 5438 s.7.2.1). Strings go into scratch (cap bytes; the
 * document's size is always enough). -EBADMSG for malformed XML, a wrong
 * root or namespace, missing or duplicated fields or a status that does
 * not fit the kind; -ENOTSUP for a DOCTYPE; -E2BIG for XML limits;
 * -ENOSPC when scratch is too small.
 */
int imdn_parse(const char *buf, size_t len, char *scratch, size_t cap,
	       struct imdn *out);

/*
 * Writes the message/imdn+xml document for n (message_id, datetime,
 * kind and status required; absent optional fields are left out), with
 * text escaped. 0 and *outlen; -ENOSPC if it does not fit; -EINVAL for a
 * missing field, a status the kind does not allow, or a character XML
 * cannot carry.
 */
int imdn_build(const struct imdn *n, char *out, size_t cap, size_t *outlen);

/* 1 if status may be reported in a notification of that kind. */
int imdn_status_allowed(enum imdn_kind kind, enum imdn_status status);
/* "delivered", ...; NULL for NONE or out of range. */
const char *imdn_status_name(enum imdn_status status);

/* imdn.Disposition-Notification values (RFC 5438 s.6, s.9). */
#define IMDN_WANT_POSITIVE_DELIVERY 0x1
#define IMDN_WANT_NEGATIVE_DELIVERY 0x2
#define IMDN_WANT_DISPLAY           0x4
#define IMDN_WANT_PROCESSING        0x8
/*
 * Decodes the comma-separated header value into IMDN_WANT_* bits
 * (case-insensitive, whitespace allowed, unknown tokens ignored as RFC
 * 5438 s.9 says). -EBADMSG for an empty element or a non-token.
 */
int imdn_disposition_decode(struct sip_str value, unsigned *want);

#endif
