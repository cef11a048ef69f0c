/*
 * sdp_int.h: helpers shared by the SDP parser, attribute decoders, rewrite
 * and builder (RFC 8866 grammar pieces). Private to lib/sdp/.
 */
#ifndef DATALINE_SDP_INT_H
#define DATALINE_SDP_INT_H

#include <stdint.h>

#include "dataline/sdp.h"

/* A cursor over one line's value. */
struct sdp_cur {
	const char *p, *end;
};

/* The slice [a, b). */
static inline struct sip_str sdp_mkstr(const char *a, const char *b)
{
	return (struct sip_str){ a, (size_t)(b - a) };
}

/* RFC 8866 token-char. */
int sdp_is_token_char(unsigned char c);
/* The next SP-separated field (non-empty); the single SP after it is
 * consumed. -EBADMSG if empty (two spaces, leading or trailing space). */
int sdp_field(struct sdp_cur *c, struct sip_str *f);
/* The rest of the line (non-empty). */
int sdp_rest(struct sdp_cur *c, struct sip_str *f);
/* All of s is a token (non-empty). */
int sdp_is_token(struct sip_str s);
/* Decimal digits only, <= max. */
int sdp_uint(struct sip_str s, uint64_t max, uint64_t *out);
/* Splits "addr[/suffix]" (the c= address field). */
int sdp_conn_addr(struct sip_str f, struct sdp_conn *c);

/* Decodes media m's a= line a (in the parser, as it comes); dir_seen
 * tracks a second direction attribute. */
int sdp_media_attr(struct sdp_media *m, const struct sdp_attr *a,
		   int *dir_seen);
/* A direction attribute name -> 0 and *dir, else -ENOENT. */
int sdp_dir_lookup(struct sip_str name, enum sdp_dir *dir);

#endif /* DATALINE_SDP_INT_H */
