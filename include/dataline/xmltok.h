/*
 * xmltok: a small pull tokenizer for the XML bodies SIP carries (XML 1.0
 * and Namespaces in XML 1.0 as profiled by RFC 3863 PIDF and RFC 5438
 * IMDN): start and end tags with namespace prefixes resolved, attributes,
 * text with the five predefined entities and numeric character
 * references, CDATA; comments, processing instructions and the XML
 * declaration are checked and skipped.
 *
 * Safe on hostile input: no DTD at all -- a DOCTYPE (and so any ENTITY
 * declaration) is refused with -ENOTSUP, which rules out external
 * entities (XXE) and entity expansion (billion laughs); element depth,
 * namespace declarations in scope and attributes per element are bounded
 * (-E2BIG); tags must balance (-EBADMSG). Not checked: UTF-8 validity of
 * names and text, and entity references inside xmlns values (refused).
 *
 * Zero-copy and allocation-free: tokens are `struct sip_str` slices into
 * the input (raw, entities still encoded); xmltok_decode() resolves them
 * into a caller buffer. The tokenizer state is a plain struct on the
 * caller's stack; the input must outlive it. Functions return 0 or
 * -errno.
 */
#ifndef DATALINE_XMLTOK_H
#define DATALINE_XMLTOK_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/sip.h"

#define XMLTOK_MAX_DEPTH 16	/* nested elements */
#define XMLTOK_MAX_NS 16	/* namespace declarations in scope */
#define XMLTOK_MAX_ATTRS 32	/* attributes of one element */

enum xmltok_type {
	XMLTOK_START = 1,	/* <p:name a="v"> or <p:name/> */
	XMLTOK_END,		/* </p:name>, also right after an empty
				 * element's START */
	XMLTOK_TEXT,		/* character data or a CDATA section */
	XMLTOK_EOF,		/* the root element closed, nothing else */
};

struct xmltok_token {
	enum xmltok_type type;
	unsigned depth;		/* START/END: the element's depth (root = 1);
				 * TEXT: its parent's depth */
	struct sip_str ns;	/* START/END: namespace URI, empty (len 0)
				 * when the element has none */
	struct sip_str prefix;	/* as written (absent when none) */
	struct sip_str name;	/* local name */
	struct sip_str attrs;	/* START: the raw attribute text, for
				 * xmltok_attr_next() */
	int empty;		/* START: written as <name/> */
	struct sip_str text;	/* TEXT: raw text (entities undecoded) or the
				 * CDATA content */
	int cdata;		/* TEXT: from <![CDATA[ ]]> (no entities) */
};

struct xmltok_attr {
	struct sip_str ns;	/* empty for unprefixed attributes (they are
				 * in no namespace) */
	struct sip_str prefix, name;
	struct sip_str raw;	/* value inside the quotes, undecoded */
};

struct xmltok_ns {
	struct sip_str prefix;	/* empty for the default namespace */
	struct sip_str uri;	/* empty: undeclared (xmlns="") */
};

struct xmltok {
	const char *p, *end;	/* the unread input -- borrowed */
	const char *start;
	unsigned depth;
	int pending_end;	/* an empty element's END is due */
	int seen_root, done;
	int err;		/* sticky: the first error */
	struct sip_str open[XMLTOK_MAX_DEPTH];	/* qnames of open elements */
	uint8_t ns_mark[XMLTOK_MAX_DEPTH];	/* nns when each opened */
	unsigned nns;
	struct xmltok_ns ns[XMLTOK_MAX_NS];
};

/* Starts tokenizing len bytes at buf (a UTF-8 BOM is skipped). */
void xmltok_init(struct xmltok *t, const char *buf, size_t len);

/*
 * The next token. 0 and *tok; -EBADMSG not well-formed (unbalanced or
 * truncated, bad names, undeclared prefixes, duplicate attributes, stray
 * '<' or '&', control characters, text outside the root); -ENOTSUP a
 * DOCTYPE or other <!...> declaration; -E2BIG a limit above was hit.
 * After an error the tokenizer stays failed.
 */
int xmltok_next(struct xmltok *t, struct xmltok_token *tok);

/*
 * Iterates the attributes of the current START token (xmlns
 * declarations are left out): set `rest` to tok->attrs first, then
 * 0 and *a per attribute, -ENOENT at the end. Valid only until the next
 * xmltok_next().
 */
int xmltok_attr_next(const struct xmltok *t, struct sip_str *rest,
		     struct xmltok_attr *a);
/* The raw value of the attribute (ns NULL or "" = no namespace) of the
 * current START token: 0, or -ENOENT. */
int xmltok_attr_get(const struct xmltok *t, const struct xmltok_token *tok,
		    const char *ns, const char *name, struct sip_str *raw);

/*
 * Decodes raw text (attr = 0) or an attribute value (attr = 1: TAB, CR,
 * LF become spaces) into out (NUL-terminated, *outlen without the NUL):
 * entity and character references resolved, CRLF and lone CR made LF.
 * -EBADMSG for a bad reference, -ENOSPC if it does not fit.
 */
int xmltok_decode(struct sip_str raw, int attr, char *out, size_t cap,
		  size_t *outlen);

/*
 * After a START: reads the element's text content up to and including
 * its END, concatenating TEXT and CDATA pieces decoded into out, and
 * trims XML whitespace at both ends; *val is the slice of out. A child
 * element is -EBADMSG (the element must be text-only).
 */
int xmltok_text(struct xmltok *t, char *out, size_t cap, struct sip_str *val);

/* A caller's buffer that decoded strings are appended to (parsers built
 * on xmltok hand out slices of it). */
struct xmltok_buf {
	char *p;		/* caller's memory -- borrowed */
	size_t cap, len;
};
/*
 * xmltok_text() into the unused part of s, which is then advanced past
 * it (and its NUL). -EBADMSG if *slot is already set: a parser's way of
 * refusing an element given twice.
 */
int xmltok_text_once(struct xmltok *t, struct xmltok_buf *s,
		     struct sip_str *slot);
/* xmltok_decode() of an attribute value into s, advancing it. */
int xmltok_attr_decode(struct xmltok_buf *s, struct sip_str raw,
		       struct sip_str *val);

/*
 * Walks the children of the element whose START was read last: 0 and
 * the next child's START in *tok (the caller reads or skips that child
 * before asking again), -ENOENT once the parent's END has been read, or
 * -errno. Text between the children is passed over.
 *   while ((rc = xmltok_child(t, &tok)) == 0) { ... xmltok_skip(t) ... }
 *   if (rc != -ENOENT) return rc;
 */
int xmltok_child(struct xmltok *t, struct xmltok_token *tok);

/* After a START: skips everything up to and including its END. */
int xmltok_skip(struct xmltok *t);

/* 1 if the START/END token is `name` in namespace ns. */
int xmltok_is(const struct xmltok_token *tok, const char *ns,
	      const char *name);

/*
 * Escaped output for builders: appends s to b with & < > " ' as entity
 * references (so the result is fine in text and in either kind of
 * quoted attribute), TAB, CR and LF as character references (so parsing
 * gives them back unnormalised). Other control characters are not
 * representable in XML 1.0: they set b's error to -EINVAL.
 */
void xmltok_escape(struct sip_buf *b, const char *s, size_t len);
/* Appends "<qname>text escaped</qname>"; nothing when text is absent. */
void xmltok_put_element(struct sip_buf *b, const char *qname,
			struct sip_str text);

#endif
