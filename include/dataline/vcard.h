/*
 * vcard: reading an address book exported as a .vcf file (vCard 3.0,
 * RFC 2425 s.5.8 and RFC 2426; vCard 4.0, RFC 6350; vCard 2.1 of the
 * versit consortium, which Android's own export still writes) for
 * `dataline contacts import`.
 *
 * Zero-copy and allocation-free like the SIP and CPIM parsers: every
 * field is a `struct sip_str` slice into the caller's buffer, which must
 * outlive what was parsed. Values are handed out as written (folds,
 * backslash escapes and quoted-printable included); vcard_decode() turns
 * one into text in a caller's buffer.
 *
 * A file is walked card by card with vcard_next(). Errors are per card:
 * a card without END:VCARD, text outside BEGIN:VCARD/END:VCARD, a line
 * that is not "[group.]NAME[;params]:value", a NUL byte, an unknown
 * VERSION or a card over a limit is reported (with its line number) and
 * skipped, and the next call goes on with the next BEGIN:VCARD.
 *
 * Accepted leniently: CRLF or bare LF line ends, folds with a space or a
 * tab (also in the parameters, not inside a property name), a UTF-8 BOM
 * (at the start of any line, for concatenated files),
 * blank lines, property names in any case, a missing VERSION (version
 * VCARD_VERSION_NONE), 2.1's bare parameters ("TEL;CELL;PREF:") and its
 * quoted-printable soft line breaks, a missing FN. All functions return
 * 0 or -errno and write output parameters only on success.
 */
#ifndef DATALINE_VCARD_H
#define DATALINE_VCARD_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/e164.h"
#include "dataline/sip.h"

#define VCARD_MAX_LINE 65536u		/* bytes of one physical line */
#define VCARD_MAX_LOGICAL 262144u	/* of one unfolded line (a PHOTO) */
#define VCARD_MAX_CARD 1048576u		/* BEGIN to END, both included */
#define VCARD_MAX_TEL 16		/* TEL kept per card */

enum vcard_version {
	VCARD_VERSION_NONE = 0,	/* no VERSION line: read as 3.0 */
	VCARD_VERSION_21,
	VCARD_VERSION_30,
	VCARD_VERSION_40,
};

/* One content line: [group "."] name *(";" param) ":" value */
struct vcard_prop {
	struct sip_str group;	/* "item1" of "item1.TEL" (absent if none) */
	struct sip_str name;	/* "TEL", as written (any case) */
	struct sip_str params;	/* "TYPE=cell,voice;PREF=1": after the first
				 * ';', before the ':' (absent if none) */
	struct sip_str value;	/* as written: folds, escapes, QP */
	uint32_t line;		/* its first line in the file (1-based) */
	int qp;			/* ENCODING=QUOTED-PRINTABLE (2.1) */
};

struct vcard {
	uint32_t line;		/* of BEGIN:VCARD (1-based) */
	uint32_t body_line;	/* of the line after BEGIN:VCARD */
	struct sip_str raw;	/* BEGIN:VCARD to END:VCARD's line end */
	struct sip_str body;	/* the lines between them */
	enum vcard_version version;
	struct vcard_prop fn;	/* the first FN (name absent if none) */
	struct vcard_prop n;	/* the first N (name absent if none) */
	uint16_t ntel;
	uint16_t ntel_dropped;	/* TEL after the first VCARD_MAX_TEL */
	struct vcard_prop tel[VCARD_MAX_TEL];	/* in file order */
};

/* Where a walk stands: a file (vcard_iter_init) or a card's lines
 * (vcard_props_init). buf is borrowed. */
struct vcard_iter {
	const char *buf;
	size_t len;
	size_t off;		/* next byte; only ever grows */
	uint32_t line;		/* line number at off (1-based) */
};

/* What was wrong with a skipped entry. */
struct vcard_err {
	uint32_t line;		/* the offending line (1-based) */
	uint32_t card_line;	/* its card's BEGIN line, 0 if outside one */
	const char *what;	/* static text: "no END:VCARD", ... */
};

/* Starts a walk over the len bytes at buf (a UTF-8 BOM is skipped). */
void vcard_iter_init(struct vcard_iter *it, const char *buf, size_t len);

/*
 * The next card of the file: 0 and *out; -ENOENT at the end of the
 * input; -EBADMSG (malformed) or -E2BIG (over a VCARD_MAX_ limit) with
 * *err, the entry skipped: call again for the next card. -EINVAL bad
 * arguments. Every call but -ENOENT and -EINVAL moves it->off forward.
 */
int vcard_next(struct vcard_iter *it, struct vcard *out, struct vcard_err *err);

/* Walks every content line of a parsed card (VERSION, FN, EMAIL, ...):
 * vcard_prop_next() gives 0 and *out, or -ENOENT after the last. */
void vcard_props_init(struct vcard_iter *it, const struct vcard *c);
int vcard_prop_next(struct vcard_iter *it, struct vcard_prop *out);

/*
 * The parameters of a property, one per call from *off (start at 0):
 * 0 with *name and *value (absent for 2.1's bare "CELL"; a quoted value
 * keeps its quotes), -ENOENT after the last, -EBADMSG malformed.
 */
int vcard_param_next(struct sip_str params, size_t *off,
		     struct sip_str *name, struct sip_str *value);

/* The value of the first parameter called name (any case): 0, -ENOENT. */
int vcard_param_find(const struct vcard_prop *p, const char *name,
		     struct sip_str *value);

/* 1 if one of p's TYPE values (TYPE=a,b / TYPE="a,b" / TYPE=a;TYPE=b /
 * 2.1's bare A) is type, in any case; else 0. */
int vcard_has_type(const struct vcard_prop *p, const char *type);

/*
 * Field idx (from 0) of a structured value split at unescaped ';'
 * (N: family;given;additional;prefixes;suffixes): 0 and *out (a slice
 * of raw, still to decode), -ENOENT if there are fewer fields.
 */
int vcard_field(struct sip_str raw, unsigned idx, struct sip_str *out);

/*
 * Unfolds raw, undoes quoted-printable if qp, resolves \n \N \, \; \: and
 * \\ (another backslash stays as written) into out, NUL-terminated (cap
 * includes the NUL; the charset is not converted). 0 and *outlen,
 * -ENOSPC if it does not fit.
 */
int vcard_decode(struct sip_str raw, int qp, char *out, size_t cap,
		 size_t *outlen);

/*
 * A TEL's value as an E.164 number: text ("+49 151 2345678",
 * "0151 2345678", "00491512345678") or a tel URI ("tel:+1-555-0100";
 * its ";ext=" and other parameters are dropped), national forms with the
 * country code cc ("49"; NULL: only international forms) as in
 * e164_normalize_national(). 0 and out; -EINVAL if it is not a number
 * (letters, "*31#", pauses, a SIP URI) or too short or long.
 */
int vcard_tel_e164(const struct vcard_prop *tel, const char *cc,
		   char out[E164_MAX]);

#endif
