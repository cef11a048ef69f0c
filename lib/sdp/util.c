/*
 * util: the small pieces of the RFC 8866 s.9 grammar the SDP parser,
 * rewrite and builder share (token, fields, integers, the c= address),
 * and the lookups on a parsed description.
 */
#include <errno.h>
#include <string.h>

#include "sdp_int.h"

/* RFC 8866 s.9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E /
 * %x30-39 / %x41-5A / %x5E-7E */
int sdp_is_token_char(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x27) ||
	       (c >= 0x2a && c <= 0x2b) || (c >= 0x2d && c <= 0x2e) ||
	       (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
	       (c >= 0x5e && c <= 0x7e);
}

int sdp_is_token(struct sip_str s)
{
	if (!s.p || !s.len)
		return 0;
	for (size_t i = 0; i < s.len; i++)
		if (!sdp_is_token_char((unsigned char)s.p[i]))
			return 0;
	return 1;
}

int sdp_field(struct sdp_cur *c, struct sip_str *f)
{
	const char *q = c->p;

	while (q < c->end && *q != ' ')
		q++;
	if (q == c->p)
		return -EBADMSG;
	f->p = c->p;
	f->len = (size_t)(q - c->p);
	if (q < c->end) {
		q++;
		if (q == c->end)
			return -EBADMSG;	/* trailing space */
	}
	c->p = q;
	return 0;
}

int sdp_rest(struct sdp_cur *c, struct sip_str *f)
{
	if (c->p >= c->end)
		return -EBADMSG;
	f->p = c->p;
	f->len = (size_t)(c->end - c->p);
	c->p = c->end;
	return 0;
}

int sdp_uint(struct sip_str s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s.p || !s.len || s.len > 20)
		return -EBADMSG;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9 || d > max || v > (max - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* "addr" or "addr/ttl[/count]" (IP4 multicast) or "addr/count" (IP6). */
int sdp_conn_addr(struct sip_str f, struct sdp_conn *c)
{
	const char *slash = memchr(f.p, '/', f.len), *end = f.p + f.len;
	const char *q, *seg;
	unsigned nseg = 0;

	c->addr = f;
	c->suffix = SIP_STR_NULL;
	if (!slash)
		return f.len ? 0 : -EBADMSG;
	c->addr.len = (size_t)(slash - f.p);
	c->suffix.p = slash;
	c->suffix.len = (size_t)(end - slash);
	if (!c->addr.len)
		return -EBADMSG;
	for (seg = q = slash + 1; q <= end; q++) {
		if (q == end || *q == '/') {
			if (q == seg || ++nseg > 2)
				return -EBADMSG;
			seg = q + 1;
		} else if (*q < '0' || *q > '9') {
			return -EBADMSG;
		}
	}
	return 0;
}

const struct sdp_conn *sdp_media_conn(const struct sdp_desc *d, unsigned i)
{
	if (!d || i >= d->nmedia)
		return NULL;
	if (d->media[i].has_conn)
		return &d->media[i].conn;
	return d->has_conn ? &d->conn : NULL;
}

const struct sdp_attr *sdp_attr_find(const struct sdp_desc *d, unsigned i,
				     const char *name,
				     const struct sdp_attr *prev)
{
	const struct sdp_attr *a, *end;

	if (!d || !name)
		return NULL;
	if (i == SDP_SESSION) {
		a = d->attrs;
		end = a + d->nsess_attrs;
	} else if (i < d->nmedia) {
		a = d->attrs + d->media[i].attr_first;
		end = a + d->media[i].nattrs;
	} else {
		return NULL;
	}
	if (prev) {
		if (prev < a || prev >= end)
			return NULL;
		a = prev + 1;
	}
	for (; a < end; a++)
		if (sip_str_eq(a->name, name))
			return a;
	return NULL;
}

static const char *const dir_names[] = {
	[SDP_DIR_SENDRECV] = "sendrecv",
	[SDP_DIR_SENDONLY] = "sendonly",
	[SDP_DIR_RECVONLY] = "recvonly",
	[SDP_DIR_INACTIVE] = "inactive",
};

const char *sdp_dir_name(enum sdp_dir dir)
{
	if ((unsigned)dir >= sizeof(dir_names) / sizeof(dir_names[0]))
		return NULL;
	return dir_names[dir];
}

int sdp_dir_lookup(struct sip_str name, enum sdp_dir *dir)
{
	for (unsigned i = 0; i < sizeof(dir_names) / sizeof(dir_names[0]); i++)
		if (sip_str_eq(name, dir_names[i])) {
			*dir = (enum sdp_dir)i;
			return 0;
		}
	return -ENOENT;
}
