/*
 * imdn: message/imdn+xml parser and builder (RFC 5438 s.7, schema in
 * s.7.2.1) and the imdn.Disposition-Notification values (s.6, s.9), on
 * top of the xmltok pull tokenizer.
 */
#include <errno.h>
#include <string.h>

#include "dataline/imdn.h"
#include "dataline/xmltok.h"

static const char *const status_names[] = {
	[IMDN_DELIVERED] = "delivered", [IMDN_FAILED] = "failed",
	[IMDN_FORBIDDEN] = "forbidden", [IMDN_ERROR] = "error",
	[IMDN_DISPLAYED] = "displayed", [IMDN_PROCESSED] = "processed",
	[IMDN_STORED] = "stored",
};

static const char *const kind_names[] = {
	[IMDN_DELIVERY] = "delivery-notification",
	[IMDN_DISPLAY] = "display-notification",
	[IMDN_PROCESSING] = "processing-notification",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *imdn_status_name(enum imdn_status st)
{
	return (unsigned)st < NELEM(status_names) ? status_names[st] : NULL;
}

int imdn_status_allowed(enum imdn_kind kind, enum imdn_status st)
{
	if (st == IMDN_FORBIDDEN || st == IMDN_ERROR)
		return kind >= IMDN_DELIVERY && kind <= IMDN_PROCESSING;
	switch (kind) {
	case IMDN_DELIVERY:
		return st == IMDN_DELIVERED || st == IMDN_FAILED;
	case IMDN_DISPLAY:
		return st == IMDN_DISPLAYED;
	case IMDN_PROCESSING:
		return st == IMDN_PROCESSED || st == IMDN_STORED;
	default:
		return 0;
	}
}

/* <status> contents: one status element of ours; others skipped. */
static int parse_status(struct xmltok *t, enum imdn_status *st)
{
	struct xmltok_token tok;
	int rc;

	while ((rc = xmltok_child(t, &tok)) == 0) {
		for (unsigned i = 1; i < NELEM(status_names); i++)
			if (xmltok_is(&tok, IMDN_XML_NS, status_names[i])) {
				if (*st)
					return -EBADMSG;
				*st = (enum imdn_status)i;
			}
		if ((rc = xmltok_skip(t)))
			return rc;
	}
	if (rc != -ENOENT)
		return rc;
	return *st ? 0 : -EBADMSG;
}

/* <xxx-notification> contents: exactly one <status>. */
static int parse_notification(struct xmltok *t, enum imdn_status *st)
{
	struct xmltok_token tok;
	int rc;

	while ((rc = xmltok_child(t, &tok)) == 0) {
		if (xmltok_is(&tok, IMDN_XML_NS, "status")) {
			if (*st)
				return -EBADMSG;
			rc = parse_status(t, st);
		} else {
			rc = xmltok_skip(t);
		}
		if (rc)
			return rc;
	}
	if (rc != -ENOENT)
		return rc;
	return *st ? 0 : -EBADMSG;
}

static int parse_child(struct xmltok *t, const struct xmltok_token *tok,
		       struct xmltok_buf *s, struct imdn *n)
{
	static const struct { const char *name; size_t off; } fields[] = {
		{ "message-id", offsetof(struct imdn, message_id) },
		{ "datetime", offsetof(struct imdn, datetime) },
		{ "recipient-uri", offsetof(struct imdn, recipient_uri) },
		{ "original-recipient-uri",
		  offsetof(struct imdn, original_recipient_uri) },
		{ "subject", offsetof(struct imdn, subject) },
	};

	for (unsigned i = 0; i < NELEM(fields); i++)
		if (xmltok_is(tok, IMDN_XML_NS, fields[i].name))
			return xmltok_text_once(t, s,
				(struct sip_str *)((char *)n + fields[i].off));
	for (unsigned k = 1; k < NELEM(kind_names); k++)
		if (xmltok_is(tok, IMDN_XML_NS, kind_names[k])) {
			if (n->kind)
				return -EBADMSG;	/* two notifications */
			n->kind = (enum imdn_kind)k;
			return parse_notification(t, &n->status);
		}
	return xmltok_skip(t);	/* extensions */
}

int imdn_parse(const char *buf, size_t len, char *scratch, size_t cap,
	       struct imdn *out)
{
	struct xmltok_buf s = { scratch, cap, 0 };
	struct xmltok_token tok;
	struct xmltok t;
	struct imdn n;
	int rc;

	if (!buf || !scratch || !out)
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	xmltok_init(&t, buf, len);
	if ((rc = xmltok_next(&t, &tok)))
		return rc;
	if (!xmltok_is(&tok, IMDN_XML_NS, "imdn"))
		return -EBADMSG;
	while ((rc = xmltok_child(&t, &tok)) == 0)
		if ((rc = parse_child(&t, &tok, &s, &n)))
			return rc;
	if (rc != -ENOENT || (rc = xmltok_next(&t, &tok)))
		return rc;	/* junk after the root */
	if (!n.message_id.len || !n.datetime.len || !n.kind ||
	    !imdn_status_allowed(n.kind, n.status))
		return -EBADMSG;
	*out = n;
	return 0;
}

static void element(struct sip_buf *b, const char *name, struct sip_str v)
{
	if (!v.p)
		return;
	sip_buf_adds(b, "  ");
	xmltok_put_element(b, name, v);
	sip_buf_adds(b, "\n");
}

int imdn_build(const struct imdn *n, char *out, size_t cap, size_t *outlen)
{
	struct sip_buf b;

	if (!n || !out || !outlen || !n->message_id.len || !n->datetime.len ||
	    !imdn_status_allowed(n->kind, n->status))
		return -EINVAL;
	sip_buf_init(&b, out, cap);
	sip_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			 "<imdn xmlns=\"" IMDN_XML_NS "\">\n");
	element(&b, "message-id", n->message_id);
	element(&b, "datetime", n->datetime);
	element(&b, "recipient-uri", n->recipient_uri);
	element(&b, "original-recipient-uri", n->original_recipient_uri);
	element(&b, "subject", n->subject);
	sip_buf_printf(&b, "  <%s>\n    <status><%s/></status>\n  </%s>\n",
		       kind_names[n->kind], status_names[n->status],
		       kind_names[n->kind]);
	sip_buf_adds(&b, "</imdn>\n");
	return sip_buf_finish(&b, outlen);
}

int imdn_disposition_decode(struct sip_str value, unsigned *want)
{
	static const struct { const char *name; unsigned bit; } tok[] = {
		{ "positive-delivery", IMDN_WANT_POSITIVE_DELIVERY },
		{ "negative-delivery", IMDN_WANT_NEGATIVE_DELIVERY },
		{ "display", IMDN_WANT_DISPLAY },
		{ "processing", IMDN_WANT_PROCESSING },
	};
	struct sip_str rest = value, v;
	unsigned w = 0;
	int rc;

	while ((rc = sip_list_split(&rest, &v)) == 0)
		for (unsigned i = 0; i < NELEM(tok); i++)
			if (sip_str_caseeq(v, tok[i].name))
				w |= tok[i].bit;
	if (rc != -ENOENT)
		return rc;
	*want = w;
	return 0;
}
