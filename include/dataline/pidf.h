/*
 * pidf: Presence Information Data Format (RFC 3863, application/pidf+xml)
 * -- the presentity, its tuples (id, status/basic, contact, note,
 * timestamp) -- plus dataline's extension element carrying a handset's
 * network figures as measured by netq (docs/presence.md, "The netq
 * extension element"):
 *
 *   <dl:netq xmlns:dl="urn:dataline:params:xml:ns:pidf:netq">
 *     <dl:link>up</dl:link>
 *     <dl:rate-kbps probed="true">2400</dl:rate-kbps>
 *     <dl:rtt-ms>85</dl:rtt-ms>
 *     <dl:loss-ppm>1200</dl:loss-ppm>
 *     <dl:age-s>4</dl:age-s>
 *   </dl:netq>
 *
 * inside a <tuple> (one device), inside its <status>, or directly inside
 * <presence> (an aggregate). Every field is optional. Unknown elements in
 * any namespace are ignored (RFC 3863 s.4.1.1 extensibility).
 *
 * Parsing uses xmltok (no DTDs, bounded). Strings are decoded into a
 * caller scratch buffer and returned as `struct sip_str` slices of it;
 * nothing is allocated. Functions return 0 or -errno and write output
 * parameters only on success.
 */
#ifndef DATALINE_PIDF_H
#define DATALINE_PIDF_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/sip.h"

#define PIDF_XML_NS "urn:ietf:params:xml:ns:pidf"
#define PIDF_NETQ_NS "urn:dataline:params:xml:ns:pidf:netq"
#define PIDF_CONTENT_TYPE "application/pidf+xml"
#define PIDF_MAX_TUPLES 8
#define PIDF_LOSS_PPM_MAX 1000000u

enum pidf_basic {
	PIDF_BASIC_NONE = 0,	/* no <basic> */
	PIDF_BASIC_OPEN,
	PIDF_BASIC_CLOSED,
};

enum pidf_link {
	PIDF_LINK_NONE = 0,	/* no <dl:link> */
	PIDF_LINK_UP,
	PIDF_LINK_DOWN,
};

/* Bits of pidf_netq.have: which fields were given. */
#define PIDF_NETQ_LINK   0x01
#define PIDF_NETQ_RATE   0x02
#define PIDF_NETQ_PROBED 0x04	/* rate-kbps carried probed="..." */
#define PIDF_NETQ_RTT    0x08
#define PIDF_NETQ_LOSS   0x10
#define PIDF_NETQ_AGE    0x20

struct pidf_netq {
	int present;		/* a <dl:netq> element was there (maybe
				 * empty); the builder writes it if set */
	unsigned have;		/* PIDF_NETQ_* */
	enum pidf_link link;
	uint32_t rate_kbps;	/* usable rate, kbit/s */
	int probed;		/* 1: rate from an active probe, 0: from
				 * traffic seen (meaningful with
				 * PIDF_NETQ_PROBED) */
	uint32_t rtt_ms;	/* round-trip time, ms */
	uint32_t loss_ppm;	/* packet loss, parts per million */
	uint32_t age_s;		/* age of the figures, seconds */
};

struct pidf_tuple {
	struct sip_str id;		/* required */
	enum pidf_basic basic;
	struct sip_str contact;		/* absent if none */
	struct sip_str priority;	/* contact's priority="...", as
					 * written (absent if none) */
	struct sip_str note;		/* the first <note> (absent if none) */
	struct sip_str timestamp;	/* RFC 3339, as written */
	struct pidf_netq netq;
};

struct pidf_doc {
	struct sip_str entity;		/* "pres:..." or "sip:...", required */
	unsigned ntuples;
	struct pidf_tuple tuples[PIDF_MAX_TUPLES];
	struct sip_str note;		/* the first presence-level <note> */
	struct pidf_netq netq;		/* presence-level (aggregate) */
};

/*
 * Parses a PIDF document. Strings go into scratch (cap bytes; the
 * document's size is always enough). -EBADMSG malformed XML, a wrong
 * root or namespace, a missing entity, tuple id or status, two tuples
 * with the same id, a duplicated field, a <basic> other than open/closed, a <dl:link> other than
 * up/down, a number that is not a decimal uint32 (loss-ppm at most
 * 1000000), probed other than true/false/1/0; -E2BIG more than
 * PIDF_MAX_TUPLES tuples or an XML limit; -ENOTSUP a DOCTYPE; -ENOSPC
 * scratch too small.
 */
int pidf_parse(const char *buf, size_t len, char *scratch, size_t cap,
	       struct pidf_doc *out);

/*
 * Writes d as a PIDF document: the tuples in order (status/basic when
 * not NONE, the netq element when present, contact with its priority,
 * note, timestamp), then the presence-level note and netq element; text
 * and attributes escaped. 0 and *outlen; -ENOSPC if it does not fit;
 * -EINVAL for a missing entity or tuple id, more than PIDF_MAX_TUPLES
 * tuples, out-of-range values, or characters XML cannot carry.
 */
int pidf_build(const struct pidf_doc *d, char *out, size_t cap,
	       size_t *outlen);

#endif
