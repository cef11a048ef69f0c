/*
 * parse: the SDP line parser (RFC 8866 s.5, the grammar of s.9; RFC 4566
 * for what it obsoletes). One pass over the lines: each `x=value` line is
 * checked against the order of RFC 8866 s.5 (session part, then m=
 * sections), split into its fields, and stored as slices; a= lines are
 * kept in one array and the media ones decoded as they come (attr.c).
 * Nothing is copied or allocated.
 */
#include <errno.h>
#include <string.h>

#include "sdp_int.h"

/*
 * The order of RFC 8866 s.5 as ranks: a line's rank may not be below the
 * previous one's in the same section, and the letters that may appear once
 * ("once") must rise strictly. t= may follow r= (several time
 * descriptions); r= must follow t= or r=.
 */
static int rank_of(char t, int media)
{
	static const char sess[] = "vosiuepcbtrzka";
	static const char med[] = "icbka";
	const char *q;

	if (!t)
		return -1;
	if (media && !strchr(med, t))
		return -1;
	q = strchr(sess, t);
	return q ? (int)(q - sess) : -1;
}

static int once(char t)
{
	return strchr("vosiuczk", t) != NULL;
}

/* The line at p: its value after "x=" in *v, *type its letter; returns
 * the start of the next line, NULL when malformed. */
static const char *next_line(const char *p, const char *end, char *type,
			     struct sip_str *v)
{
	const char *q = p;

	if (end - p < 2 || p[1] != '=' || p[0] < 'a' || p[0] > 'z')
		return NULL;
	for (q = p + 2; q < end && *q != '\n'; q++) {
		unsigned char c = (unsigned char)*q;
		if (c == '\r') {
			if (q + 1 >= end || q[1] != '\n')
				return NULL;
			break;
		}
		if (c < 0x20 && c != '\t')
			return NULL;
	}
	*type = p[0];
	*v = sdp_mkstr(p + 2, q);
	if (q < end && *q == '\r')
		q++;
	return q < end ? q + 1 : end;
}

static int parse_origin(struct sip_str v, struct sdp_origin *o)
{
	struct sdp_cur c = { v.p, v.p + v.len };
	uint64_t n;

	if (sdp_field(&c, &o->username) || sdp_field(&c, &o->sess_id) ||
	    sdp_field(&c, &o->sess_version) ||
	    sdp_field(&c, &o->conn.nettype) ||
	    sdp_field(&c, &o->conn.addrtype) || sdp_rest(&c, &o->conn.addr))
		return -EBADMSG;
	if (sdp_uint(o->sess_id, UINT64_MAX, &n) ||
	    sdp_uint(o->sess_version, UINT64_MAX, &n) ||
	    memchr(o->conn.addr.p, ' ', o->conn.addr.len) ||
	    !sdp_is_token(o->conn.nettype) || !sdp_is_token(o->conn.addrtype))
		return -EBADMSG;
	o->conn.suffix = SIP_STR_NULL;
	return 0;
}

static int parse_conn(struct sip_str v, struct sdp_conn *conn)
{
	struct sdp_cur c = { v.p, v.p + v.len };
	struct sip_str a;

	if (sdp_field(&c, &conn->nettype) || sdp_field(&c, &conn->addrtype) ||
	    sdp_rest(&c, &a) || memchr(a.p, ' ', a.len) ||
	    !sdp_is_token(conn->nettype) || !sdp_is_token(conn->addrtype))
		return -EBADMSG;
	return sdp_conn_addr(a, conn);
}

static int parse_bw(struct sip_str v, uint16_t *nbw, struct sdp_bw *bw)
{
	const char *colon = memchr(v.p, ':', v.len);
	uint64_t n;

	if (!colon)
		return -EBADMSG;
	if (*nbw >= SDP_MAX_BW)
		return -E2BIG;
	bw[*nbw].type = sdp_mkstr(v.p, colon);
	if (!sdp_is_token(bw[*nbw].type) ||
	    sdp_uint(sdp_mkstr(colon + 1, v.p + v.len), UINT32_MAX, &n))
		return -EBADMSG;
	bw[(*nbw)++].value = (uint32_t)n;
	return 0;
}

static int parse_time(struct sip_str v, struct sdp_desc *d)
{
	struct sdp_cur c = { v.p, v.p + v.len };
	struct sip_str a, b;
	uint64_t start, stop;

	if (sdp_field(&c, &a) || sdp_rest(&c, &b) ||
	    sdp_uint(a, UINT64_MAX, &start) || sdp_uint(b, UINT64_MAX, &stop))
		return -EBADMSG;
	if (d->ntimes++ == 0)
		d->start = start, d->stop = stop;
	return 0;
}

static enum sdp_proto proto_lookup(struct sip_str s)
{
	static const char *const names[] = {
		[SDP_PROTO_RTP_AVP] = "RTP/AVP",
		[SDP_PROTO_RTP_SAVP] = "RTP/SAVP",
		[SDP_PROTO_RTP_AVPF] = "RTP/AVPF",
		[SDP_PROTO_RTP_SAVPF] = "RTP/SAVPF",
	};
	for (unsigned i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (sip_str_eq(s, names[i]))
			return (enum sdp_proto)i;
	return SDP_PROTO_OTHER;
}

/* proto: token *("/" token) */
static int proto_ok(struct sip_str s)
{
	size_t seg = 0;

	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '/') {
			if (!seg)
				return 0;
			seg = 0;
		} else if (sdp_is_token_char((unsigned char)s.p[i])) {
			seg++;
		} else {
			return 0;
		}
	}
	return seg > 0;
}

static int parse_media(struct sip_str v, struct sdp_media *m)
{
	struct sdp_cur c = { v.p, v.p + v.len };
	struct sip_str port, f;
	const char *slash;
	uint64_t n;

	memset(m, 0, sizeof(*m));
	m->line = v;
	if (sdp_field(&c, &m->type) || sdp_field(&c, &port) ||
	    sdp_field(&c, &m->proto_s) || !sdp_is_token(m->type) ||
	    !proto_ok(m->proto_s))
		return -EBADMSG;
	m->nports = 1;
	slash = memchr(port.p, '/', port.len);
	m->port_s = slash ? sdp_mkstr(port.p, slash) : port;
	if (sdp_uint(m->port_s, 65535, &n))
		return -EBADMSG;
	m->port = (uint16_t)n;
	if (slash) {
		if (sdp_uint(sdp_mkstr(slash + 1, port.p + port.len), 65535, &n) ||
		    n == 0)
			return -EBADMSG;
		m->nports = (uint16_t)n;
	}
	m->proto = proto_lookup(m->proto_s);
	while (c.p < c.end) {
		struct sdp_fmt *fm;
		if (sdp_field(&c, &f) || !sdp_is_token(f))
			return -EBADMSG;
		if (m->nfmts >= SDP_MAX_FMTS)
			return -E2BIG;
		fm = &m->fmts[m->nfmts++];
		fm->id = f;
		fm->pt = -1;
		fm->channels = 1;
		if (m->proto_s.len > 4 && memcmp(m->proto_s.p, "RTP/", 4) == 0) {
			if (sdp_uint(f, 127, &n))
				return -EBADMSG;
			fm->pt = (int)n;
		}
	}
	if (!m->nfmts)
		return -EBADMSG;
	return 0;
}

static int parse_attr(struct sip_str v, struct sdp_attr *a)
{
	const char *colon = memchr(v.p, ':', v.len);

	a->name = colon ? sdp_mkstr(v.p, colon) : v;
	a->value = colon ? sdp_mkstr(colon + 1, v.p + v.len) : SIP_STR_NULL;
	if (!sdp_is_token(a->name) || (colon && !a->value.len))
		return -EBADMSG;
	if (!colon)
		a->value = SIP_STR_NULL;
	return 0;
}

/* Parser state between lines. */
struct pstate {
	struct sdp_desc *d;
	struct sdp_media *m;	/* current m= section, NULL in session */
	int rank;		/* of the previous line in this section */
	char prev;
	int dir_seen;
};

static int check_order(struct pstate *s, char t)
{
	int r = rank_of(t, s->m != NULL);

	if (r < 0)
		return -EBADMSG;
	if (t == 'r')
		return s->prev == 't' || s->prev == 'r' ? 0 : -EBADMSG;
	if (t == 't' && s->prev == 'r')
		return 0;
	if (r < s->rank || (once(t) && r == s->rank))
		return -EBADMSG;
	return 0;
}

static int session_attr(struct pstate *s, const struct sdp_attr *a)
{
	enum sdp_dir dir;

	if (sdp_dir_lookup(a->name, &dir) != 0)
		return 0;
	if (a->value.p || s->dir_seen++)
		return -EBADMSG;
	s->d->dir = dir;
	return 0;
}

static int one_line(struct pstate *s, char t, struct sip_str v)
{
	struct sdp_desc *d = s->d;
	struct sdp_media *m = s->m;
	int err;

	if (t == 'm') {
		if (d->nmedia >= SDP_MAX_MEDIA)
			return -E2BIG;
		m = s->m = &d->media[d->nmedia++];
		if ((err = parse_media(v, m)))
			return err;
		m->attr_first = d->nattrs;
		m->dir = d->dir;
		s->rank = 0;
		s->prev = t;
		s->dir_seen = 0;
		return 0;
	}
	if ((err = check_order(s, t)))
		return err;
	s->rank = rank_of(t, m != NULL);
	s->prev = t;
	if (t != 's' && !v.len)
		return -EBADMSG;
	switch (t) {
	case 'v':
		return sip_str_eq(v, "0") ? 0 : -EBADMSG;
	case 'o':
		return parse_origin(v, &d->origin);
	case 's':
		/* RFC 8866 wants "s= " for no name; RFC 3264's own examples
		 * and several stacks write "s=", so it is accepted */
		d->name = v;
		return 0;
	case 'i':
		*(m ? &m->info : &d->info) = v;
		return 0;
	case 'u':
		d->uri = v;
		return 0;
	case 'c':
		if (m) {
			m->has_conn = 1, m->conn_line = v;
			return parse_conn(v, &m->conn);
		}
		d->has_conn = 1, d->conn_line = v;
		return parse_conn(v, &d->conn);
	case 'b':
		return m ? parse_bw(v, &m->nbw, m->bw) :
			   parse_bw(v, &d->nbw, d->bw);
	case 't':
		return parse_time(v, d);
	case 'a':
		if (d->nattrs >= SDP_MAX_ATTRS)
			return -E2BIG;
		if ((err = parse_attr(v, &d->attrs[d->nattrs])))
			return err;
		if (m) {
			m->nattrs++;
			return sdp_media_attr(m, &d->attrs[d->nattrs++],
					      &s->dir_seen);
		}
		d->nsess_attrs++;
		return session_attr(s, &d->attrs[d->nattrs++]);
	default:		/* e p r z k: kept as written, not decoded */
		return 0;
	}
}

int sdp_parse(const char *buf, size_t len, struct sdp_desc *out)
{
	static const char head[] = "vos";
	struct sdp_desc *d = out;
	struct pstate s = { .d = out, .rank = -1 };
	const char *p = buf, *end = buf + len;
	unsigned nlines = 0;
	int err = -EBADMSG;

	if (!buf || !out || len > SDP_MAX_LEN)
		return -EINVAL;
	/* out is written as we go (it is too large to copy at the end) and
	 * zeroed again on failure. */
	memset(d, 0, sizeof(*d));
	while (p < end) {
		struct sip_str v;
		char t;
		const char *next = next_line(p, end, &t, &v);
		if (!next)
			goto out;
		if (nlines < 3 && t != head[nlines])
			goto out;
		nlines++;
		if ((err = one_line(&s, t, v)))
			goto out;
		err = -EBADMSG;
		p = next;
	}
	if (nlines < 3 || d->ntimes == 0)
		goto out;
	for (unsigned i = 0; i < d->nmedia; i++)
		if (!d->has_conn && !d->media[i].has_conn &&
		    d->media[i].port != 0)
			goto out;
	err = 0;
out:
	if (err)
		memset(d, 0, sizeof(*d));
	return err;
}
