/*
 * build: writes a session description for the handset's offers and
 * answers (RFC 8866 line order, RFC 3264 s.5: t=0 0, one m= line per
 * stream, rtpmap/fmtp per format), with the RFC 3605 rtcp, RFC 5761
 * rtcp-mux and RFC 4568 crypto attributes. Every text field is checked
 * so that what is written parses again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sdp_int.h"

static const char *const proto_names[] = {
	[SDP_PROTO_RTP_AVP] = "RTP/AVP",
	[SDP_PROTO_RTP_SAVP] = "RTP/SAVP",
	[SDP_PROTO_RTP_AVPF] = "RTP/AVPF",
	[SDP_PROTO_RTP_SAVPF] = "RTP/SAVPF",
};

static int token_ok(const char *s)
{
	return s && sdp_is_token((struct sip_str){ s, strlen(s) });
}

/* text: no CR, LF, NUL, no other control but HTAB, not empty; spaces
 * allowed if sp */
static int text_ok(const char *s, int sp)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') ||
		    (!sp && (*s == ' ' || *s == '\t')))
			return 0;
	return 1;
}

static int media_ok(const struct sdp_build_media *m)
{
	if (!token_ok(m->type) || m->proto <= SDP_PROTO_OTHER ||
	    m->proto > SDP_PROTO_RTP_SAVPF || !m->nfmts || !m->fmts ||
	    m->nfmts > SDP_MAX_FMTS || (m->ncrypto && !m->crypto) ||
	    m->ncrypto > SDP_MAX_CRYPTO || !sdp_dir_name(m->dir) ||
	    m->rtcp_port > 65535 || m->rtcp_port < -1)
		return 0;
	for (size_t i = 0; i < m->nfmts; i++) {
		const struct sdp_build_fmt *f = &m->fmts[i];
		if (f->pt > 127 || (f->encoding && (!token_ok(f->encoding) ||
						     !f->clock ||
						     strchr(f->encoding, '/'))) ||
		    (f->fmtp && !text_ok(f->fmtp, 1)))
			return 0;
	}
	for (size_t i = 0; i < m->ncrypto; i++)
		if (!m->crypto[i].tag || m->crypto[i].tag > 999999999 ||
		    !token_ok(m->crypto[i].suite) ||
		    !text_ok(m->crypto[i].key_params, 0) ||
		    strncmp(m->crypto[i].key_params, "inline:", 7) != 0)
			return 0;
	return 1;
}

static void add_media(struct sip_buf *b, const struct sdp_build_media *m,
		      const char *ip)
{
	sip_buf_printf(b, "m=%s %u %s", m->type, m->port,
		       proto_names[m->proto]);
	for (size_t i = 0; i < m->nfmts; i++)
		sip_buf_printf(b, " %u", m->fmts[i].pt);
	sip_buf_adds(b, "\r\n");
	for (size_t i = 0; i < m->nfmts; i++) {
		const struct sdp_build_fmt *f = &m->fmts[i];
		if (f->encoding) {
			sip_buf_printf(b, "a=rtpmap:%u %s/%" PRIu32, f->pt,
				       f->encoding, f->clock);
			if (f->channels > 1)
				sip_buf_printf(b, "/%u", f->channels);
			sip_buf_adds(b, "\r\n");
		}
		if (f->fmtp)
			sip_buf_printf(b, "a=fmtp:%u %s\r\n", f->pt, f->fmtp);
	}
	if (m->ptime)
		sip_buf_printf(b, "a=ptime:%" PRIu32 "\r\n", m->ptime);
	if (m->maxptime)
		sip_buf_printf(b, "a=maxptime:%" PRIu32 "\r\n", m->maxptime);
	sip_buf_printf(b, "a=%s\r\n", sdp_dir_name(m->dir));
	if (m->rtcp_port >= 0)
		sip_buf_printf(b, "a=rtcp:%" PRId32 " IN %s\r\n", m->rtcp_port,
			       ip);
	if (m->rtcp_mux)
		sip_buf_adds(b, "a=rtcp-mux\r\n");
	for (size_t i = 0; i < m->ncrypto; i++)
		sip_buf_printf(b, "a=crypto:%" PRIu32 " %s %s\r\n",
			       m->crypto[i].tag, m->crypto[i].suite,
			       m->crypto[i].key_params);
}

int sdp_build(const struct sdp_build_params *p, char *out, size_t cap,
	      size_t *outlen)
{
	const char *user, *name, *ip;
	struct sip_buf b;
	char ipline[64];

	if (!p || !outlen || !p->addr || !text_ok(p->addr, 0) ||
	    strlen(p->addr) > 45 || strchr(p->addr, '/') ||
	    (p->nmedia && !p->media) || p->nmedia > SDP_MAX_MEDIA)
		return -EINVAL;
	user = p->username ? p->username : "-";
	name = p->name ? p->name : "-";
	if (!text_ok(user, 0) || !text_ok(name, 1))
		return -EINVAL;
	for (size_t i = 0; i < p->nmedia; i++)
		if (!media_ok(&p->media[i]))
			return -EINVAL;
	/* "IP4 192.0.2.1": addrtype from the address's form */
	ip = strchr(p->addr, ':') ? "IP6" : "IP4";
	snprintf(ipline, sizeof(ipline), "%s %s", ip, p->addr);

	sip_buf_init(&b, out, cap);
	sip_buf_adds(&b, "v=0\r\n");
	sip_buf_printf(&b, "o=%s %" PRIu64 " %" PRIu64 " IN %s\r\n", user,
		       p->sess_id, p->sess_version, ipline);
	sip_buf_printf(&b, "s=%s\r\n", name);
	sip_buf_printf(&b, "c=IN %s\r\n", ipline);
	sip_buf_adds(&b, "t=0 0\r\n");
	for (size_t i = 0; i < p->nmedia; i++)
		add_media(&b, &p->media[i], ipline);
	return sip_buf_finish(&b, outlen);
}
