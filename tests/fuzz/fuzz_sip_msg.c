/*
 * fuzz_sip_msg: libFuzzer target for the SIP message parser (RFC 3261
 * s.7/s.25), the stream framer (RFC 5626 keep-alives) and the response
 * builder. Properties checked beyond "no crash / no sanitizer report":
 * a parsed message stays inside the input, every list value of the
 * headers that sip_msg_parse validated decodes again, and a response
 * built from a parsed request parses back with the same Call-ID/CSeq.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/sip.h"

static void check_msg(const struct sip_msg *m, const char *buf, size_t len)
{
	struct sip_list_iter it;
	struct sip_str v;
	struct sip_via via;
	struct sip_contact c;

	if (m->buf < buf || m->body.p + m->body.len > buf + len)
		abort();
	sip_list_init(&it, m, SIP_HDR_VIA);
	while (sip_list_next(&it, &v) == 0)
		if (sip_via_decode(v, &via))
			abort();
	sip_list_init(&it, m, SIP_HDR_CONTACT);
	while (sip_list_next(&it, &v) == 0)
		if (sip_contact_decode(v, &c))
			abort();
	/* the raw others must not crash the generic walkers */
	for (int id = 1; id < SIP_HDR__COUNT; id++) {
		sip_list_init(&it, m, (enum sip_hdr_id)id);
		while (sip_list_next(&it, &v) == 0)
			;
	}
	sip_msg_hdr_byname(m, "X-Fuzz");
}

static void reply(const struct sip_msg *m)
{
	static char out[70000];
	struct sip_via_fix fix = { "192.0.2.99", 1234 };
	struct sip_buf b;
	struct sip_msg r;
	size_t n;

	sip_buf_init(&b, out, sizeof(out));
	sip_resp_begin(&b, m, 200, NULL, "fz", &fix);
	if (sip_msg_end(&b, NULL, NULL, 0, &n))
		return;
	if (sip_msg_parse(out, n, SIP_PARSE_STREAM, &r, NULL))
		abort();
	if (r.call_id.len != m->call_id.len ||
	    memcmp(r.call_id.p, m->call_id.p, m->call_id.len) ||
	    r.cseq.num != m->cseq.num || r.nvia != m->nvia)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg m;
	struct sip_parse_error e;
	struct sip_frame f;
	const char *buf = (const char *)data;

	if (size > 65535)
		return 0;
	if (sip_msg_parse(buf, size, SIP_PARSE_DGRAM, &m, &e) == 0) {
		check_msg(&m, buf, size);
		if (m.is_request)
			reply(&m);
	} else if (e.can_reply) {
		/* the partial parse must be good enough to build the 400 */
		static char out[70000];
		struct sip_buf b;
		sip_buf_init(&b, out, sizeof(out));
		sip_resp_begin(&b, &m, e.status, e.reason, "fz", NULL);
		sip_msg_end(&b, NULL, NULL, 0, NULL);
	}
	if (sip_msg_parse(buf, size, SIP_PARSE_STREAM, &m, NULL) == 0)
		check_msg(&m, buf, size);
	if (sip_frame(buf, size, 65535, &f) == 0) {
		if (f.len == 0 || f.len > size)
			abort();
		if (f.kind == SIP_FRAME_MSG &&
		    sip_msg_parse(buf, f.len, SIP_PARSE_STREAM, &m, NULL) == 0 &&
		    m.len != f.len)
			abort();	/* framer and parser disagree on length */
	}
	return 0;
}
