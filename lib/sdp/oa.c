/*
 * oa: offer/answer helpers (RFC 3264 s.5-6): finding a codec among an
 * m= line's formats by name and clock rate, with the static payload types
 * of RFC 3551 s.6 table 4 that need no rtpmap, picking the first codec of
 * the local preferences that an offer also has, and the answer's
 * direction.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sdp_int.h"

/* RFC 3551 table 4: static audio payload types (all mono). */
static const struct {
	int pt;
	const char *name;
	uint32_t clock;
} static_pts[] = {
	{ 0, "PCMU", 8000 },  { 3, "GSM", 8000 },   { 4, "G723", 8000 },
	{ 5, "DVI4", 8000 },  { 6, "DVI4", 16000 }, { 7, "LPC", 8000 },
	{ 8, "PCMA", 8000 },  { 9, "G722", 8000 },  { 10, "L16", 44100 },
	{ 12, "QCELP", 8000 }, { 13, "CN", 8000 },  { 14, "MPA", 90000 },
	{ 15, "G728", 8000 }, { 16, "DVI4", 11025 }, { 17, "DVI4", 22050 },
	{ 18, "G729", 8000 },
};

int sdp_fmt_codec(const struct sdp_fmt *f, const char **name,
		  size_t *name_len, uint32_t *clock)
{
	if (!f)
		return -EINVAL;
	if (f->encoding.p) {
		*name = f->encoding.p;
		*name_len = f->encoding.len;
		*clock = f->clock;
		return 0;
	}
	for (size_t i = 0; i < sizeof(static_pts) / sizeof(static_pts[0]); i++)
		if (static_pts[i].pt == f->pt) {
			*name = static_pts[i].name;
			*name_len = strlen(static_pts[i].name);
			*clock = static_pts[i].clock;
			return 0;
		}
	return -ENOENT;
}

static int matches(const struct sdp_fmt *f, const char *name, uint32_t clock,
		   uint16_t channels)
{
	const char *n;
	size_t nlen;
	uint32_t c;

	if (sdp_fmt_codec(f, &n, &nlen, &c))
		return 0;
	return nlen == strlen(name) && strncasecmp(n, name, nlen) == 0 &&
	       (!clock || c == clock) && (!channels || f->channels == channels);
}

const struct sdp_fmt *sdp_codec_find(const struct sdp_media *m,
				     const char *name, uint32_t clock,
				     uint16_t channels)
{
	if (!m || !name)
		return NULL;
	for (unsigned i = 0; i < m->nfmts; i++)
		if (matches(&m->fmts[i], name, clock, channels))
			return &m->fmts[i];
	return NULL;
}

int sdp_codec_pick(const struct sdp_media *m,
		   const struct sdp_codec_pref *prefs, size_t nprefs,
		   const struct sdp_fmt **fmt, size_t *pref)
{
	if (!m || (!prefs && nprefs))
		return -EINVAL;
	for (size_t i = 0; i < nprefs; i++) {
		const struct sdp_fmt *f = sdp_codec_find(m, prefs[i].name,
							 prefs[i].clock,
							 prefs[i].channels);
		if (f) {
			if (fmt)
				*fmt = f;
			if (pref)
				*pref = i;
			return 0;
		}
	}
	return -ENOENT;
}

enum sdp_dir sdp_dir_answer(enum sdp_dir offered, enum sdp_dir wanted)
{
	switch (offered) {
	case SDP_DIR_SENDONLY:
		return wanted == SDP_DIR_SENDRECV || wanted == SDP_DIR_RECVONLY ?
			       SDP_DIR_RECVONLY : SDP_DIR_INACTIVE;
	case SDP_DIR_RECVONLY:
		return wanted == SDP_DIR_SENDRECV || wanted == SDP_DIR_SENDONLY ?
			       SDP_DIR_SENDONLY : SDP_DIR_INACTIVE;
	case SDP_DIR_INACTIVE:
		return SDP_DIR_INACTIVE;
	default:
		return wanted;
	}
}
