/*
 * media_sdp: the session's offer/answer (RFC 3264) over the shared SDP
 * parser and builder (lib/sdp). Offers Opus (RFC 7587, useinbandfec=1;
 * usedtx=1), PCMU, PCMA and optionally telephone-event (RFC 4733), on
 * RTP/SAVP with SDES keys (RFC 4568): AEAD_AES_128_GCM (RFC 7714) as tag 1
 * and AES_CM_128_HMAC_SHA1_80 as tag 2, each with a fresh random key; or
 * RTP/AVP when the caller asks. Answers pick our codec and suite
 * preference among what is offered; accepting checks that the answer fits
 * the offer. Crypto lines with an MKI or session parameters are not used
 * (we never offer them; see docs/calls.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dataline/sdp.h"
#include "media_priv.h"

#define PT_OPUS 111
#define PT_TEL 101

static const char *const suite_names[] = {
	[MEDIA_SUITE_AEAD_AES_128_GCM] = "AEAD_AES_128_GCM",
	[MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80] = "AES_CM_128_HMAC_SHA1_80",
};

const char *media_suite_name(enum media_suite s)
{
	return s == MEDIA_SUITE_AEAD_AES_128_GCM ||
			       s == MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80
		       ? suite_names[s]
		       : "none";
}

const char *media_codec_name(enum media_codec c)
{
	switch (c) {
	case MEDIA_CODEC_OPUS: return "opus";
	case MEDIA_CODEC_PCMU: return "PCMU";
	case MEDIA_CODEC_PCMA: return "PCMA";
	default: return "";
	}
}

int me_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int str_is(struct sip_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.p && s.len == n && memcmp(s.p, lit, n) == 0;
}

/* base64 key||salt of exactly want bytes (RFC 4568 s.6.1, padding as
 * written). */
static int key_decode(struct sip_str b64, uint8_t *out, size_t want)
{
	unsigned char tmp[64];
	size_t pad = 0;
	int n;

	if (!b64.p || b64.len == 0 || b64.len > 60 || b64.len % 4)
		return -EPROTO;
	while (pad < 2 && b64.p[b64.len - 1 - pad] == '=')
		pad++;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)b64.p, (int)b64.len);
	if (n < 0 || (size_t)n - pad != want)
		return -EPROTO;
	memcpy(out, tmp, want);
	return 0;
}

static void key_encode(const uint8_t *key, size_t len, char *out)
{
	memcpy(out, "inline:", 7);
	EVP_EncodeBlock((unsigned char *)out + 7, key, (int)len);
}

/* The first audio stream with a port (RFC 3264 s.6: port 0 declines). */
static int first_audio(const struct sdp_desc *d)
{
	for (unsigned i = 0; i < d->nmedia; i++)
		if (str_is(d->media[i].type, "audio"))
			return d->media[i].port ? (int)i : -1;
	return -1;
}

/* Remote RTP and RTCP addresses of media i. */
static int remote_addrs(struct media_session *s, const struct sdp_desc *d,
			unsigned i, int mux)
{
	const struct sdp_media *m = &d->media[i];
	const struct sdp_conn *c = sdp_media_conn(d, i);
	char a[INET_ADDRSTRLEN];
	struct in_addr ip;

	if (!c || !str_is(c->addrtype, "IP4") || c->addr.len >= sizeof(a))
		return -EDESTADDRREQ;
	memcpy(a, c->addr.p, c->addr.len);
	a[c->addr.len] = 0;
	if (inet_pton(AF_INET, a, &ip) != 1 || ip.s_addr == INADDR_ANY)
		return -EDESTADDRREQ;
	memset(&s->remote_rtp, 0, sizeof(s->remote_rtp));
	s->remote_rtp.sin_family = AF_INET;
	s->remote_rtp.sin_addr = ip;
	s->remote_rtp.sin_port = htons(m->port);
	s->remote_rtcp = s->remote_rtp;
	s->remote_mux = mux;
	if (mux)
		return 0;
	s->remote_rtcp.sin_port = htons(m->has_rtcp ? m->rtcp_port
						    : (uint16_t)(m->port + 1));
	if (m->has_rtcp && m->rtcp_has_conn &&
	    m->rtcp_conn.addr.len < sizeof(a)) {
		memcpy(a, m->rtcp_conn.addr.p, m->rtcp_conn.addr.len);
		a[m->rtcp_conn.addr.len] = 0;
		if (inet_pton(AF_INET, a, &ip) == 1)
			s->remote_rtcp.sin_addr = ip;
	}
	return 0;
}

static int codec_of_fmt(const struct sdp_fmt *f, enum media_codec *c)
{
	const char *name;
	size_t len;
	uint32_t clock;

	if (sdp_fmt_codec(f, &name, &len, &clock))
		return -ENOENT;
	if (len == 4 && !strncasecmp(name, "opus", 4) && clock == 48000)
		*c = MEDIA_CODEC_OPUS;
	else if (len == 4 && !strncasecmp(name, "PCMU", 4) && clock == 8000)
		*c = MEDIA_CODEC_PCMU;
	else if (len == 4 && !strncasecmp(name, "PCMA", 4) && clock == 8000)
		*c = MEDIA_CODEC_PCMA;
	else
		return -ENOENT;
	return 0;
}

static void peer_fmtp(struct media_session *s, const struct sdp_fmt *f)
{
	s->dtx = 0;
	if (f->fmtp.p)
		for (size_t i = 0; i + 8 <= f->fmtp.len; i++)
			if (!memcmp(f->fmtp.p + i, "usedtx=1", 8))
				s->dtx = 1;
}

/* Writes our SDP with the given formats and crypto lines. */
static int build(struct media_session *s, enum sdp_proto proto,
		 const struct sdp_build_fmt *fmts, size_t nfmts,
		 const struct sdp_build_crypto *cr, size_t ncr, int mux,
		 char *out, size_t cap, size_t *len)
{
	struct sdp_build_media m = {
		.type = "audio", .port = ntohs(s->local.sin_port), .proto = proto,
		.nfmts = nfmts, .fmts = fmts, .ptime = 20, .maxptime = 40,
		.dir = SDP_DIR_SENDRECV, .rtcp_mux = mux,
		.rtcp_port = ntohs(s->local.sin_port) + 1,
		.ncrypto = ncr, .crypto = cr,
	};
	struct sdp_build_params p = {
		.username = "dataline", .sess_id = s->sess_id,
		.sess_version = s->sess_ver++, .addr = s->addr, .name = "-",
		.nmedia = 1, .media = &m,
	};
	size_t n;
	int e;

	if (cap == 0)
		return -ENOSPC;
	e = sdp_build(&p, out, cap - 1, &n);
	if (e)
		return e;
	out[n] = 0;
	*len = n;
	return 0;
}

static const char opus_fmtp[] = "useinbandfec=1;usedtx=1";

int media_offer(struct media_session *s, char *out, size_t cap, size_t *len)
{
	struct sdp_build_fmt f[4];
	struct sdp_build_crypto cr[2];
	char k1[64], k2[64];
	size_t nf = 0;
	int plain = !!(s->cfg.flags & MEDIA_F_OFFER_PLAIN), e;

	if (s->state != ME_NEW && s->state != ME_OFFERED)
		return -EALREADY;
	if (!(s->cfg.flags & MEDIA_F_NO_OPUS))
		f[nf++] = (struct sdp_build_fmt){ PT_OPUS, "opus", 48000, 2, opus_fmtp };
	f[nf++] = (struct sdp_build_fmt){ 0, "PCMU", 8000, 0, NULL };
	f[nf++] = (struct sdp_build_fmt){ 8, "PCMA", 8000, 0, NULL };
	if (s->cfg.flags & MEDIA_F_TEL_EVENT)
		f[nf++] = (struct sdp_build_fmt){ PT_TEL, "telephone-event", 8000, 0, "0-16" };
	if (!plain) {
		e = me_random(s->offer_key[1], ME_MAX_KEY);
		if (!e)
			e = me_random(s->offer_key[2], ME_MAX_KEY);
		if (e)
			return e;
		key_encode(s->offer_key[1], me_suite_keylen(MEDIA_SUITE_AEAD_AES_128_GCM), k1);
		key_encode(s->offer_key[2],
			   me_suite_keylen(MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80), k2);
		cr[0] = (struct sdp_build_crypto){ 1, suite_names[1], k1 };
		cr[1] = (struct sdp_build_crypto){ 2, suite_names[2], k2 };
	}
	e = build(s, plain ? SDP_PROTO_RTP_AVP : SDP_PROTO_RTP_SAVP, f, nf, cr,
		  plain ? 0 : 2, !!(s->cfg.flags & MEDIA_F_RTCP_MUX), out, cap, len);
	if (e)
		return e;
	s->offered_plain = plain;
	s->state = ME_OFFERED;
	return 0;
}

/* Our suite preference among m's crypto lines; the line's index. */
static int pick_crypto(const struct sdp_media *m, enum media_suite *suite,
		       uint8_t *key)
{
	for (int su = MEDIA_SUITE_AEAD_AES_128_GCM;
	     su <= MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80; su++)
		for (unsigned i = 0; i < m->ncrypto; i++) {
			const struct sdp_crypto *c = &m->crypto[i];

			if (!str_is(c->suite, suite_names[su]) || c->mki.p ||
			    c->session_params.p ||
			    key_decode(c->key, key, me_suite_keylen(su)))
				continue;
			*suite = (enum media_suite)su;
			return (int)i;
		}
	return -ENOTSUP;
}

static int is_savp(enum sdp_proto p)
{
	return p == SDP_PROTO_RTP_SAVP || p == SDP_PROTO_RTP_SAVPF;
}

static int is_avp(enum sdp_proto p)
{
	return p == SDP_PROTO_RTP_AVP || p == SDP_PROTO_RTP_AVPF;
}

static const struct sdp_codec_pref prefs[] = {
	{ "opus", 48000, 0 }, { "PCMU", 8000, 0 }, { "PCMA", 8000, 0 },
};

static int answer_desc(struct media_session *s, const struct sdp_desc *d,
		       char *out, size_t cap, size_t *len)
{
	const struct sdp_media *m;
	const struct sdp_fmt *f, *tel;
	struct sdp_build_fmt bf[2];
	struct sdp_build_crypto cr = { 0 };
	char kb[64];
	size_t pref, nf = 1;
	int ai = first_audio(d), ci = -1, e;
	enum media_codec codec;

	if (ai < 0)
		return -ENOENT;
	m = &d->media[ai];
	if (is_avp(m->proto)) {
		if (!(s->cfg.flags & (MEDIA_F_ALLOW_PLAIN | MEDIA_F_OFFER_PLAIN)))
			return -EPROTONOSUPPORT;
	} else if (!is_savp(m->proto)) {
		return -EPROTONOSUPPORT;
	}
	e = sdp_codec_pick(m, (s->cfg.flags & MEDIA_F_NO_OPUS) ? prefs + 1 : prefs,
			   (s->cfg.flags & MEDIA_F_NO_OPUS) ? 2 : 3, &f, &pref);
	if (e || codec_of_fmt(f, &codec))
		return -ENOENT;
	if (is_savp(m->proto)) {
		ci = pick_crypto(m, &s->suite, s->rx_key);
		if (ci < 0)
			return ci;
		e = me_random(s->tx_key, ME_MAX_KEY);
		if (e)
			return e;
		key_encode(s->tx_key, me_suite_keylen(s->suite), kb);
		cr = (struct sdp_build_crypto){ m->crypto[ci].tag,
						suite_names[s->suite], kb };
	} else {
		s->suite = MEDIA_SUITE_NONE;
	}
	e = remote_addrs(s, d, (unsigned)ai, m->rtcp_mux);
	if (e)
		return e;
	bf[0] = (struct sdp_build_fmt){ (uint8_t)f->pt,
		codec == MEDIA_CODEC_OPUS ? "opus" : codec == MEDIA_CODEC_PCMU ? "PCMU" : "PCMA",
		codec == MEDIA_CODEC_OPUS ? 48000 : 8000,
		codec == MEDIA_CODEC_OPUS ? 2 : 0,
		codec == MEDIA_CODEC_OPUS ? opus_fmtp : NULL };
	tel = (s->cfg.flags & MEDIA_F_TEL_EVENT)
		      ? sdp_codec_find(m, "telephone-event", 8000, 0) : NULL;
	if (tel)
		bf[nf++] = (struct sdp_build_fmt){ (uint8_t)tel->pt,
			"telephone-event", 8000, 0, "0-16" };
	e = build(s, m->proto, bf, nf, &cr, ci >= 0 ? 1 : 0, m->rtcp_mux, out,
		  cap, len);
	if (e)
		return e;
	s->codec = codec;
	s->pt = (uint8_t)f->pt;
	s->tel_pt = tel ? tel->pt : -1;
	peer_fmtp(s, f);
	return 0;
}

static int accept_desc(struct media_session *s, const struct sdp_desc *d)
{
	const struct sdp_media *m;
	const struct sdp_fmt *f = NULL, *tel;
	enum media_codec codec = MEDIA_CODEC_NONE;
	int ai = first_audio(d);

	if (ai < 0)
		return -ENOENT;
	m = &d->media[ai];
	if (s->offered_plain ? !is_avp(m->proto) : !is_savp(m->proto))
		return is_avp(m->proto) && !(s->cfg.flags & MEDIA_F_ALLOW_PLAIN)
			       ? -EPROTONOSUPPORT : -EPROTO;
	for (unsigned i = 0; i < m->nfmts; i++) {
		enum media_codec c;

		if (codec_of_fmt(&m->fmts[i], &c))
			continue;
		if ((c == MEDIA_CODEC_OPUS && (m->fmts[i].pt != PT_OPUS ||
					       (s->cfg.flags & MEDIA_F_NO_OPUS))) ||
		    (c == MEDIA_CODEC_PCMU && m->fmts[i].pt != 0) ||
		    (c == MEDIA_CODEC_PCMA && m->fmts[i].pt != 8))
			return -EPROTO;	/* not what we offered */
		f = &m->fmts[i];
		codec = c;
		break;
	}
	if (!f)
		return -EPROTO;
	if (!s->offered_plain) {
		const struct sdp_crypto *c = &m->crypto[0];
		enum media_suite su;

		if (m->ncrypto != 1 || (c->tag != 1 && c->tag != 2))
			return -EPROTO;
		su = (enum media_suite)c->tag;	/* tag 1 GCM, tag 2 AES_CM */
		if (!str_is(c->suite, suite_names[su]) || c->mki.p ||
		    c->session_params.p ||
		    key_decode(c->key, s->rx_key, me_suite_keylen(su)))
			return -EPROTO;
		s->suite = su;
		memcpy(s->tx_key, s->offer_key[c->tag], ME_MAX_KEY);
	} else {
		s->suite = MEDIA_SUITE_NONE;
	}
	s->codec = codec;
	s->pt = (uint8_t)f->pt;
	tel = (s->cfg.flags & MEDIA_F_TEL_EVENT)
		      ? sdp_codec_find(m, "telephone-event", 8000, 0) : NULL;
	s->tel_pt = tel ? tel->pt : -1;
	peer_fmtp(s, f);
	return remote_addrs(s, d, (unsigned)ai,
			    m->rtcp_mux && (s->cfg.flags & MEDIA_F_RTCP_MUX));
}

/* Parses sdp (on the heap: a description is ~31 KiB) and hands it to
 * answer_desc (out given) or accept_desc. */
static int negotiate(struct media_session *s, enum me_state need,
		     const char *sdp, size_t sdp_len, char *out, size_t cap,
		     size_t *len)
{
	struct sdp_desc *d;
	int e;

	if (!sdp || (out && (!cap || !len)))
		return -EINVAL;
	if (s->state != need)
		return -EALREADY;
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	e = sdp_parse(sdp, sdp_len, d);
	if (e == -E2BIG || e == -EINVAL)
		e = -EBADMSG;	/* over our limits: not an SDP we can use */
	if (!e)
		e = out ? answer_desc(s, d, out, cap, len) : accept_desc(s, d);
	if (!e)
		s->state = ME_READY;
	free(d);
	return e;
}

int media_answer(struct media_session *s, const char *offer, size_t offer_len,
		 char *out, size_t cap, size_t *len)
{
	return negotiate(s, ME_NEW, offer, offer_len, out, cap, len);
}

int media_accept(struct media_session *s, const char *answer,
		 size_t answer_len)
{
	return negotiate(s, ME_OFFERED, answer, answer_len, NULL, 0, NULL);
}
