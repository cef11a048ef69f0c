/*
 * fuzz_imdn: libFuzzer target for message/imdn+xml (RFC 5438) and the
 * xmltok tokenizer under it. Properties: every token slice stays inside
 * the input, every text and attribute value of a well-formed prefix
 * decodes (references were checked when tokenized), depth never exceeds
 * XMLTOK_MAX_DEPTH, and a parsed notification rebuilt with imdn_build
 * parses back to the same fields.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/imdn.h"
#include "dataline/xmltok.h"

static const char *lo, *hi;

static void inside(struct sip_str s)
{
	if (s.p && (s.p < lo || s.p + s.len > hi))
		abort();
}

static int same(struct sip_str a, struct sip_str b)
{
	return a.p == NULL ? b.p == NULL :
	       (b.p && a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
}

static void tokens(const char *buf, size_t len)
{
	static char dec[70000];
	struct xmltok t;
	struct xmltok_token tok;

	xmltok_init(&t, buf, len);
	while (xmltok_next(&t, &tok) == 0 && tok.type != XMLTOK_EOF) {
		if (tok.depth > XMLTOK_MAX_DEPTH)
			abort();
		inside(tok.name), inside(tok.prefix), inside(tok.attrs);
		inside(tok.text);
		if (tok.type == XMLTOK_TEXT && !tok.cdata &&
		    xmltok_decode(tok.text, 0, dec, sizeof(dec), NULL))
			abort();
		if (tok.type == XMLTOK_START) {
			struct sip_str rest = tok.attrs;
			struct xmltok_attr a;
			while (xmltok_attr_next(&t, &rest, &a) == 0)
				if (xmltok_decode(a.raw, 1, dec, sizeof(dec), NULL))
					abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char scratch[70000], out[140000], scratch2[140000];
	struct imdn n, r;
	size_t len;

	if (size > 65535)
		return 0;
	lo = (const char *)data;
	hi = lo + size;
	tokens(lo, size);
	if (imdn_parse(lo, size, scratch, sizeof(scratch), &n) != 0)
		return 0;
	/* the decoded strings may hold characters XML cannot carry back
	 * (from references such as &#1;... which are refused at parse) */
	if (imdn_build(&n, out, sizeof(out), &len))
		abort();
	if (imdn_parse(out, len, scratch2, sizeof(scratch2), &r) ||
	    !same(n.message_id, r.message_id) || !same(n.datetime, r.datetime) ||
	    !same(n.recipient_uri, r.recipient_uri) ||
	    !same(n.original_recipient_uri, r.original_recipient_uri) ||
	    !same(n.subject, r.subject) || n.kind != r.kind || n.status != r.status)
		abort();
	return 0;
}
