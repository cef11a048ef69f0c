/*
 * pidf: application/pidf+xml parser and builder (RFC 3863 s.4, schema in
 * s.4.4) with dataline's netq extension element (PIDF_NETQ_NS, see
 * docs/presence.md), on top of the xmltok pull tokenizer.
 */
#include <errno.h>
#include <string.h>

#include "dataline/pidf.h"
#include "dataline/xmltok.h"

/* A decimal uint32 from an element's text (whitespace trimmed). */
static int read_u32(struct xmltok *t, uint32_t max, uint32_t *out)
{
	struct sip_str v;
	char tmp[32];
	uint64_t n;
	int rc;

	rc = xmltok_text(t, tmp, sizeof(tmp), &v);
	if (rc)
		return rc == -ENOSPC ? -EBADMSG : rc;
	if (sip_uint_decode(v, max, &n))
		return -EBADMSG;
	*out = (uint32_t)n;
	return 0;
}

/* A short keyword from an element's text: index in words, or -EBADMSG. */
static int read_word(struct xmltok *t, const char *const words[], int n)
{
	struct sip_str v;
	char tmp[32];
	int rc;

	rc = xmltok_text(t, tmp, sizeof(tmp), &v);
	if (rc)
		return rc == -ENOSPC ? -EBADMSG : rc;
	for (int i = 0; i < n; i++)
		if (sip_str_eq(v, words[i]))
			return i;
	return -EBADMSG;
}

/* xs:boolean */
static int bool_decode(struct sip_str raw, int *out)
{
	if (sip_str_eq(raw, "true") || sip_str_eq(raw, "1"))
		*out = 1;
	else if (sip_str_eq(raw, "false") || sip_str_eq(raw, "0"))
		*out = 0;
	else
		return -EBADMSG;
	return 0;
}

/* Claims a netq field bit once. */
static int claim(struct pidf_netq *q, unsigned bit)
{
	if (q->have & bit)
		return -EBADMSG;
	q->have |= bit;
	return 0;
}

static int parse_netq(struct xmltok *t, struct pidf_netq *q)
{
	static const char *const links[] = { "up", "down" };
	struct xmltok_token tok;
	int rc;

	if (q->present)
		return -EBADMSG;	/* two netq elements in one place */
	q->present = 1;
	while ((rc = xmltok_child(t, &tok)) == 0) {
		if (xmltok_is(&tok, PIDF_NETQ_NS, "link")) {
			if ((rc = claim(q, PIDF_NETQ_LINK)) ||
			    (rc = read_word(t, links, 2)) < 0)
				return rc;
			q->link = rc == 0 ? PIDF_LINK_UP : PIDF_LINK_DOWN;
			continue;
		}
		if (xmltok_is(&tok, PIDF_NETQ_NS, "rate-kbps")) {
			struct sip_str raw;
			if ((rc = claim(q, PIDF_NETQ_RATE)))
				return rc;
			if (xmltok_attr_get(t, &tok, NULL, "probed", &raw) == 0) {
				if (bool_decode(raw, &q->probed))
					return -EBADMSG;
				q->have |= PIDF_NETQ_PROBED;
			}
			rc = read_u32(t, UINT32_MAX, &q->rate_kbps);
		} else if (xmltok_is(&tok, PIDF_NETQ_NS, "rtt-ms")) {
			if (!(rc = claim(q, PIDF_NETQ_RTT)))
				rc = read_u32(t, UINT32_MAX, &q->rtt_ms);
		} else if (xmltok_is(&tok, PIDF_NETQ_NS, "loss-ppm")) {
			if (!(rc = claim(q, PIDF_NETQ_LOSS)))
				rc = read_u32(t, PIDF_LOSS_PPM_MAX, &q->loss_ppm);
		} else if (xmltok_is(&tok, PIDF_NETQ_NS, "age-s")) {
			if (!(rc = claim(q, PIDF_NETQ_AGE)))
				rc = read_u32(t, UINT32_MAX, &q->age_s);
		} else {
			rc = xmltok_skip(t);
		}
		if (rc)
			return rc;
	}
	return rc == -ENOENT ? 0 : rc;
}

/* <status>: <basic> and, leniently, our netq element; others skipped. */
static int parse_status(struct xmltok *t, struct pidf_tuple *tp)
{
	static const char *const basics[] = { "open", "closed" };
	struct xmltok_token tok;
	int rc;

	while ((rc = xmltok_child(t, &tok)) == 0) {
		if (xmltok_is(&tok, PIDF_XML_NS, "basic")) {
			if (tp->basic)
				return -EBADMSG;
			if ((rc = read_word(t, basics, 2)) < 0)
				return rc;
			tp->basic = rc == 0 ? PIDF_BASIC_OPEN : PIDF_BASIC_CLOSED;
			continue;
		}
		if (xmltok_is(&tok, PIDF_NETQ_NS, "netq"))
			rc = parse_netq(t, &tp->netq);
		else
			rc = xmltok_skip(t);
		if (rc)
			return rc;
	}
	return rc == -ENOENT ? 0 : rc;
}

static int parse_tuple(struct xmltok *t, const struct xmltok_token *start,
		       struct xmltok_buf *s, struct pidf_tuple *tp)
{
	struct xmltok_token tok;
	struct sip_str raw;
	int rc = 0, have_status = 0;

	memset(tp, 0, sizeof(*tp));
	if (xmltok_attr_get(t, start, NULL, "id", &raw) ||
	    (rc = xmltok_attr_decode(s, raw, &tp->id)) != 0 || !tp->id.len)
		return rc == -ENOSPC ? rc : -EBADMSG;
	while ((rc = xmltok_child(t, &tok)) == 0) {
		if (xmltok_is(&tok, PIDF_XML_NS, "status")) {
			if (have_status++)
				return -EBADMSG;
			rc = parse_status(t, tp);
		} else if (xmltok_is(&tok, PIDF_XML_NS, "contact")) {
			if (!tp->contact.p &&
			    xmltok_attr_get(t, &tok, NULL, "priority", &raw) == 0 &&
			    (rc = xmltok_attr_decode(s, raw, &tp->priority)))
				return rc;
			rc = xmltok_text_once(t, s, &tp->contact);
		} else if (xmltok_is(&tok, PIDF_XML_NS, "timestamp")) {
			rc = xmltok_text_once(t, s, &tp->timestamp);
		} else if (xmltok_is(&tok, PIDF_XML_NS, "note") && !tp->note.p) {
			rc = xmltok_text_once(t, s, &tp->note);
		} else if (xmltok_is(&tok, PIDF_NETQ_NS, "netq")) {
			rc = parse_netq(t, &tp->netq);
		} else {
			rc = xmltok_skip(t);
		}
		if (rc)
			return rc;
	}
	if (rc != -ENOENT)
		return rc;
	return have_status ? 0 : -EBADMSG;
}

int pidf_parse(const char *buf, size_t len, char *scratch, size_t cap,
	       struct pidf_doc *out)
{
	struct xmltok_buf s = { scratch, cap, 0 };
	struct xmltok_token tok;
	struct sip_str raw;
	struct xmltok t;
	struct pidf_doc tmp, *d = &tmp;	/* *out is written only on success:
					 * about 1.5 KB of stack */
	int rc = 0;

	if (!buf || !scratch || !out)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	xmltok_init(&t, buf, len);
	if ((rc = xmltok_next(&t, &tok)))
		return rc;
	if (!xmltok_is(&tok, PIDF_XML_NS, "presence") ||
	    xmltok_attr_get(&t, &tok, NULL, "entity", &raw) ||
	    (rc = xmltok_attr_decode(&s, raw, &d->entity)) != 0 || !d->entity.len)
		return rc == -ENOSPC ? rc : -EBADMSG;
	while ((rc = xmltok_child(&t, &tok)) == 0) {
		if (xmltok_is(&tok, PIDF_XML_NS, "tuple")) {
			struct pidf_tuple *tp = &d->tuples[d->ntuples];
			if (d->ntuples >= PIDF_MAX_TUPLES)
				return -E2BIG;
			if ((rc = parse_tuple(&t, &tok, &s, tp)))
				return rc;
			/* tuple ids are xs:ID: unique in the document */
			for (unsigned i = 0; i < d->ntuples; i++)
				if (d->tuples[i].id.len == tp->id.len &&
				    !memcmp(d->tuples[i].id.p, tp->id.p, tp->id.len))
					return -EBADMSG;
			d->ntuples++;
		} else if (xmltok_is(&tok, PIDF_XML_NS, "note") && !d->note.p) {
			rc = xmltok_text_once(&t, &s, &d->note);
		} else if (xmltok_is(&tok, PIDF_NETQ_NS, "netq")) {
			rc = parse_netq(&t, &d->netq);
		} else {
			rc = xmltok_skip(&t);
		}
		if (rc)
			return rc;
	}
	if (rc != -ENOENT || (rc = xmltok_next(&t, &tok)))
		return rc;	/* or junk after the root */
	*out = *d;
	return 0;
}

/* ------------------------------------------------------------ builder */

static void put_attr(struct sip_buf *b, const char *name, struct sip_str v)
{
	sip_buf_printf(b, " %s=\"", name);
	xmltok_escape(b, v.p, v.len);
	sip_buf_adds(b, "\"");
}

static void put_netq(struct sip_buf *b, const char *indent,
		     const struct pidf_netq *q)
{
	if (!q->present)
		return;
	sip_buf_printf(b, "%s<dl:netq>\n", indent);
	if (q->have & PIDF_NETQ_LINK)
		sip_buf_printf(b, "%s  <dl:link>%s</dl:link>\n", indent,
			       q->link == PIDF_LINK_UP ? "up" : "down");
	if (q->have & PIDF_NETQ_RATE) {
		sip_buf_printf(b, "%s  <dl:rate-kbps", indent);
		if (q->have & PIDF_NETQ_PROBED)
			sip_buf_printf(b, " probed=\"%s\"", q->probed ? "true" : "false");
		sip_buf_printf(b, ">%u</dl:rate-kbps>\n", q->rate_kbps);
	}
	if (q->have & PIDF_NETQ_RTT)
		sip_buf_printf(b, "%s  <dl:rtt-ms>%u</dl:rtt-ms>\n", indent, q->rtt_ms);
	if (q->have & PIDF_NETQ_LOSS)
		sip_buf_printf(b, "%s  <dl:loss-ppm>%u</dl:loss-ppm>\n", indent,
			       q->loss_ppm);
	if (q->have & PIDF_NETQ_AGE)
		sip_buf_printf(b, "%s  <dl:age-s>%u</dl:age-s>\n", indent, q->age_s);
	sip_buf_printf(b, "%s</dl:netq>\n", indent);
}

static int netq_ok(const struct pidf_netq *q)
{
	if ((q->have & PIDF_NETQ_LINK) &&
	    q->link != PIDF_LINK_UP && q->link != PIDF_LINK_DOWN)
		return 0;
	if ((q->have & PIDF_NETQ_PROBED) && !(q->have & PIDF_NETQ_RATE))
		return 0;
	return !(q->have & PIDF_NETQ_LOSS) || q->loss_ppm <= PIDF_LOSS_PPM_MAX;
}

/* Puts an optional text element on its own indented line. */
static void put_line(struct sip_buf *b, const char *indent, const char *name,
		     struct sip_str v)
{
	if (!v.p)
		return;
	sip_buf_adds(b, indent);
	xmltok_put_element(b, name, v);
	sip_buf_adds(b, "\n");
}

int pidf_build(const struct pidf_doc *d, char *out, size_t cap,
	       size_t *outlen)
{
	struct sip_buf b;
	int netq = 0;

	if (!d || !out || !outlen || !d->entity.len ||
	    d->ntuples > PIDF_MAX_TUPLES || !netq_ok(&d->netq))
		return -EINVAL;
	netq = d->netq.present;
	for (unsigned i = 0; i < d->ntuples; i++) {
		const struct pidf_tuple *tp = &d->tuples[i];
		if (!tp->id.len || !netq_ok(&tp->netq) ||
		    (unsigned)tp->basic > PIDF_BASIC_CLOSED)
			return -EINVAL;
		netq |= tp->netq.present;
	}
	sip_buf_init(&b, out, cap);
	sip_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			 "<presence xmlns=\"" PIDF_XML_NS "\"");
	if (netq)
		sip_buf_adds(&b, "\n    xmlns:dl=\"" PIDF_NETQ_NS "\"");
	sip_buf_adds(&b, "\n   ");
	put_attr(&b, "entity", d->entity);
	sip_buf_adds(&b, ">\n");
	for (unsigned i = 0; i < d->ntuples; i++) {
		const struct pidf_tuple *tp = &d->tuples[i];
		sip_buf_adds(&b, "  <tuple");
		put_attr(&b, "id", tp->id);
		sip_buf_adds(&b, ">\n");
		if (tp->basic)
			sip_buf_printf(&b, "    <status><basic>%s</basic></status>\n",
				       tp->basic == PIDF_BASIC_OPEN ? "open" : "closed");
		else
			sip_buf_adds(&b, "    <status/>\n");
		put_netq(&b, "    ", &tp->netq);
		if (tp->contact.p) {
			sip_buf_adds(&b, "    <contact");
			if (tp->priority.p)
				put_attr(&b, "priority", tp->priority);
			sip_buf_adds(&b, ">");
			xmltok_escape(&b, tp->contact.p, tp->contact.len);
			sip_buf_adds(&b, "</contact>\n");
		}
		put_line(&b, "    ", "note", tp->note);
		put_line(&b, "    ", "timestamp", tp->timestamp);
		sip_buf_adds(&b, "  </tuple>\n");
	}
	put_line(&b, "  ", "note", d->note);
	put_netq(&b, "  ", &d->netq);
	sip_buf_adds(&b, "</presence>\n");
	return sip_buf_finish(&b, outlen);
}
