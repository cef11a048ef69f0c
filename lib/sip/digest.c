/*
 * digest: HTTP Digest authentication as SIP uses it (RFC 3261 s.22.4,
 * RFC 2617, RFC 7616 s.3.4, RFC 8760 SHA-256): header decoding, HA1 /
 * response computation with OpenSSL EVP, constant-time verification on
 * the server, and the client's Authorization header.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sip_int.h"

#define PARTS_MAX 7
#define UNESC_MAX 512

static const EVP_MD *alg_md(enum sip_digest_alg alg)
{
	switch (alg) {
	case SIP_DIGEST_MD5: return EVP_md5();
	case SIP_DIGEST_SHA256: return EVP_sha256();
	default: return NULL;
	}
}

static size_t alg_hexlen(enum sip_digest_alg alg)
{
	return alg == SIP_DIGEST_MD5 ? 32 : alg == SIP_DIGEST_SHA256 ? 64 : 0;
}

static enum sip_digest_alg alg_of(struct sip_str a)
{
	if (!a.p)
		return SIP_DIGEST_MD5;	/* RFC 2617: absent means MD5 */
	if (sip_str_caseeq_n(a, "md5", 3))
		return SIP_DIGEST_MD5;
	if (sip_str_caseeq_n(a, "sha-256", 7))
		return SIP_DIGEST_SHA256;
	return SIP_DIGEST_ALG_UNKNOWN;
}

/* H(p0 ":" p1 ":" ...) as lowercase hex. */
static int hash_hex(enum sip_digest_alg alg, const struct sip_str *parts,
		    unsigned n, char out[SIP_DIGEST_HEX_MAX])
{
	static const char hx[] = "0123456789abcdef";
	const EVP_MD *md = alg_md(alg);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	EVP_MD_CTX *ctx;
	int ok;

	if (!md)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md, NULL);
	for (unsigned i = 0; ok && i < n; i++) {
		if (i)
			ok = EVP_DigestUpdate(ctx, ":", 1);
		if (ok && parts[i].len)
			ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len);
	}
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, d, &dl);
	EVP_MD_CTX_free(ctx);
	if (!ok || dl * 2 >= SIP_DIGEST_HEX_MAX)
		return -EIO;
	for (unsigned i = 0; i < dl; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * dl] = '\0';
	return 0;
}

static struct sip_str cstr(const char *s)
{
	return (struct sip_str){ s, s ? strlen(s) : 0 };
}

int sip_digest_ha1(enum sip_digest_alg alg, const char *user,
		   const char *realm, const char *password,
		   char out[SIP_DIGEST_HEX_MAX])
{
	struct sip_str parts[3] = { cstr(user), cstr(realm), cstr(password) };

	if (!user || !realm || !password)
		return -EINVAL;
	return hash_hex(alg, parts, 3, out);
}

static int response_hex(enum sip_digest_alg alg, struct sip_str ha1,
			struct sip_str nonce, struct sip_str nc,
			struct sip_str cnonce, struct sip_str qop,
			struct sip_str method, struct sip_str uri,
			char out[SIP_DIGEST_HEX_MAX])
{
	char ha2[SIP_DIGEST_HEX_MAX];
	struct sip_str p2[2] = { method, uri };
	int rc = hash_hex(alg, p2, 2, ha2);

	if (rc)
		return rc;
	if (qop.p) {
		struct sip_str p[6] = { ha1, nonce, nc, cnonce, qop, cstr(ha2) };
		return hash_hex(alg, p, 6, out);
	}
	struct sip_str p[3] = { ha1, nonce, cstr(ha2) };
	return hash_hex(alg, p, 3, out);
}

int sip_digest_response(enum sip_digest_alg alg, const char *ha1_hex,
			const char *nonce, const char *nc, const char *cnonce,
			const char *qop, const char *method, const char *uri,
			char out[SIP_DIGEST_HEX_MAX])
{
	if (!ha1_hex || !nonce || !method || !uri || (qop && (!nc || !cnonce)))
		return -EINVAL;
	return response_hex(alg, cstr(ha1_hex), cstr(nonce), cstr(nc),
			    cstr(cnonce), qop ? cstr(qop) : SIP_STR_NULL,
			    cstr(method), cstr(uri), out);
}

/* ------------------------------------------------------------ decoding */

/*
 * auth-param list: name LWS "=" LWS ( token / quoted-string ), separated
 * by commas (RFC 3261 s.25.1 digest-cln). Values are returned without the
 * quotes, escapes unresolved. *quoted tells whether quotes were there.
 */
static int auth_param_next(struct sip_str *rest, struct sip_str *name,
			   struct sip_str *val, int *quoted)
{
	const char *p = rest->p, *end = rest->p + rest->len, *q;

	p = sip_skip_lws(p, end);
	if (p == end)
		return -ENOENT;
	q = sip_span(p, end, SIP_C_TOKEN);
	if (q == p)
		return -EBADMSG;
	*name = sip_mkstr(p, q);
	p = sip_skip_lws(q, end);
	if (p == end || *p != '=')
		return -EBADMSG;
	p = sip_skip_lws(p + 1, end);
	if (p < end && *p == '"') {
		q = sip_skip_quoted(p, end);
		if (!q)
			return -EBADMSG;
		*val = sip_mkstr(p + 1, q - 1);
		*quoted = 1;
	} else {
		/* token, plus what some clients put unquoted in uri= */
		q = p;
		while (q < end && *q != ',' && !sip_cis((unsigned char)*q, SIP_C_LWS))
			q++;
		if (q == p)
			return -EBADMSG;
		*val = sip_mkstr(p, q);
		*quoted = 0;
	}
	p = sip_skip_lws(q, end);
	if (p < end) {
		if (*p != ',')
			return -EBADMSG;
		p = sip_skip_lws(p + 1, end);
		if (p == end)
			return -EBADMSG;
	}
	*rest = sip_mkstr(p, end);
	return 0;
}

static int scheme_digest(struct sip_str s, struct sip_str *rest)
{
	const char *p = s.p, *end = s.p + s.len, *q;

	if (!p)
		return -EBADMSG;
	p = sip_skip_lws(p, end);
	q = sip_span(p, end, SIP_C_TOKEN);
	if (q == p)
		return -EBADMSG;
	if (!sip_str_caseeq_n(sip_mkstr(p, q), "digest", 6))
		return -EPROTONOSUPPORT;
	if (q < end && !sip_cis((unsigned char)*q, SIP_C_LWS))
		return -EBADMSG;
	*rest = sip_mkstr(q, end);
	return 0;
}

/* Sets *slot once; a second occurrence is an error. */
static int once(struct sip_str *slot, struct sip_str v)
{
	if (slot->p)
		return -EBADMSG;
	*slot = v;
	return 0;
}

#define IS(n, lit) sip_str_caseeq_n((n), lit, sizeof(lit) - 1)

int sip_digest_challenge_decode(struct sip_str s,
				struct sip_digest_challenge *out)
{
	struct sip_digest_challenge c;
	struct sip_str rest, n, v, stale = SIP_STR_NULL;
	int rc, quoted;

	rc = scheme_digest(s, &rest);
	if (rc)
		return rc;
	memset(&c, 0, sizeof(c));
	while ((rc = auth_param_next(&rest, &n, &v, &quoted)) == 0) {
		if (IS(n, "realm"))
			rc = once(&c.realm, v);
		else if (IS(n, "nonce"))
			rc = once(&c.nonce, v);
		else if (IS(n, "opaque"))
			rc = once(&c.opaque, v);
		else if (IS(n, "domain"))
			rc = once(&c.domain, v);
		else if (IS(n, "algorithm"))
			rc = once(&c.algorithm, v);
		else if (IS(n, "qop"))
			rc = once(&c.qop, v);
		else if (IS(n, "stale"))
			rc = once(&stale, v);
		if (rc)
			return rc;
	}
	if (rc != -ENOENT || !c.realm.p || !c.nonce.p)
		return -EBADMSG;
	c.alg = alg_of(c.algorithm);
	c.stale = stale.p && sip_str_caseeq_n(stale, "true", 4);
	if (c.qop.p) {
		/* qop-options: a quoted, comma-separated list of tokens */
		const char *p = c.qop.p, *end = c.qop.p + c.qop.len, *q;
		for (;;) {
			p = sip_skip_lws(p, end);
			q = sip_span(p, end, SIP_C_TOKEN);
			if (IS(sip_mkstr(p, q), "auth"))
				c.qop_auth = 1;
			else if (IS(sip_mkstr(p, q), "auth-int"))
				c.qop_auth_int = 1;
			p = sip_skip_lws(q, end);
			if (p >= end || *p != ',')
				break;
			p++;
		}
	}
	*out = c;
	return 0;
}

int sip_digest_credentials_decode(struct sip_str s,
				  struct sip_digest_credentials *out)
{
	struct sip_digest_credentials c;
	struct sip_str rest, n, v;
	int rc, quoted;

	rc = scheme_digest(s, &rest);
	if (rc)
		return rc;
	memset(&c, 0, sizeof(c));
	while ((rc = auth_param_next(&rest, &n, &v, &quoted)) == 0) {
		if (IS(n, "username"))
			rc = once(&c.username, v);
		else if (IS(n, "realm"))
			rc = once(&c.realm, v);
		else if (IS(n, "nonce"))
			rc = once(&c.nonce, v);
		else if (IS(n, "uri"))
			rc = once(&c.uri, v);
		else if (IS(n, "response"))
			rc = once(&c.response, v);
		else if (IS(n, "cnonce"))
			rc = once(&c.cnonce, v);
		else if (IS(n, "opaque"))
			rc = once(&c.opaque, v);
		else if (IS(n, "algorithm"))
			rc = once(&c.algorithm, v);
		else if (IS(n, "qop"))
			rc = once(&c.qop, v);
		else if (IS(n, "nc"))
			rc = once(&c.nc, v);
		if (rc)
			return rc;
	}
	if (rc != -ENOENT || !c.username.p || !c.realm.p || !c.nonce.p ||
	    !c.uri.p || !c.response.p)
		return -EBADMSG;
	c.alg = alg_of(c.algorithm);
	if (c.qop.p) {
		/* RFC 7616: with qop, cnonce and an 8-hex-digit nc are required */
		if (!c.cnonce.p || !c.nc.p || c.nc.len != 8)
			return -EBADMSG;
		c.nc_value = 0;
		for (size_t i = 0; i < 8; i++) {
			int h = sip_hexval((unsigned char)c.nc.p[i]);
			if (h < 0)
				return -EBADMSG;
			c.nc_value = c.nc_value << 4 | (uint32_t)h;
		}
	}
	*out = c;
	return 0;
}

/* ------------------------------------------------------------ server */

/* Resolves backslash escapes of a quoted-string body into buf (only when
 * there is one; the fast path keeps the slice). */
static int unesc(struct sip_str *s, char *buf)
{
	size_t n = 0;

	if (!s->p || !memchr(s->p, '\\', s->len))
		return 0;
	for (size_t i = 0; i < s->len; i++) {
		if (s->p[i] == '\\' && ++i >= s->len)
			return -EBADMSG;
		if (n >= UNESC_MAX)
			return -EBADMSG;
		buf[n++] = s->p[i];
	}
	*s = (struct sip_str){ buf, n };
	return 0;
}

int sip_digest_verify(const struct sip_digest_credentials *c,
		      struct sip_str method, const char *ha1_hex)
{
	char expect[SIP_DIGEST_HEX_MAX], got[SIP_DIGEST_HEX_MAX];
	char b_nonce[UNESC_MAX], b_cnonce[UNESC_MAX], b_uri[UNESC_MAX];
	struct sip_str nonce = c->nonce, cnonce = c->cnonce, uri = c->uri;
	size_t hl = alg_hexlen(c->alg);
	int rc;

	if (!hl || !ha1_hex || strlen(ha1_hex) != hl || !method.p)
		return -EBADMSG;
	if (c->qop.p && !sip_str_caseeq_n(c->qop, "auth", 4))
		return -EBADMSG;	/* auth-int is not offered */
	if (c->response.len != hl)
		return -EACCES;
	if (unesc(&nonce, b_nonce) || unesc(&cnonce, b_cnonce) || unesc(&uri, b_uri))
		return -EBADMSG;
	rc = response_hex(c->alg, cstr(ha1_hex), nonce, c->nc, cnonce,
			  c->qop.p ? SIP_STR_LIT("auth") : SIP_STR_NULL, method,
			  uri, expect);
	if (rc)
		return rc;
	for (size_t i = 0; i < hl; i++)
		got[i] = (char)sip_lc((unsigned char)c->response.p[i]);
	return CRYPTO_memcmp(expect, got, hl) == 0 ? 0 : -EACCES;
}

/* ------------------------------------------------------------ headers */

static const char *alg_name(enum sip_digest_alg alg)
{
	return alg == SIP_DIGEST_SHA256 ? "SHA-256" : "MD5";
}

static void add_q(struct sip_buf *b, const char *s)
{
	sip_buf_add(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sip_buf_add(b, "\\", 1);
		sip_buf_add(b, s, 1);
	}
	sip_buf_add(b, "\"", 1);
}

void sip_digest_challenge_value(struct sip_buf *b, enum sip_digest_alg alg,
				const char *realm, const char *nonce, int stale,
				const char *opaque)
{
	sip_buf_adds(b, "Digest realm=");
	add_q(b, realm);
	sip_buf_adds(b, ", nonce=");
	add_q(b, nonce);
	if (opaque) {
		sip_buf_adds(b, ", opaque=");
		add_q(b, opaque);
	}
	sip_buf_printf(b, ", algorithm=%s, qop=\"auth\"%s", alg_name(alg),
		       stale ? ", stale=true" : "");
}

void sip_digest_challenge_add(struct sip_buf *b, const char *hdr_name,
			      enum sip_digest_alg alg, const char *realm,
			      const char *nonce, int stale, const char *opaque)
{
	sip_buf_adds(b, hdr_name);
	sip_buf_adds(b, ": ");
	sip_digest_challenge_value(b, alg, realm, nonce, stale, opaque);
	sip_buf_adds(b, "\r\n");
}

int sip_digest_challenge_pick(const struct sip_msg *resp,
			      struct sip_digest_challenge *out)
{
	enum sip_hdr_id id = resp->status == 407 ? SIP_HDR_PROXY_AUTHENTICATE
						 : SIP_HDR_WWW_AUTHENTICATE;
	struct sip_digest_challenge c, best;
	int best_score = -1;

	for (const struct sip_hdr *h = sip_msg_hdr(resp, id); h;
	     h = sip_msg_hdr_next(resp, h)) {
		int score;
		if (sip_digest_challenge_decode(h->value, &c))
			continue;
		if (c.alg == SIP_DIGEST_ALG_UNKNOWN || (c.qop.p && !c.qop_auth))
			continue;
		score = (c.alg == SIP_DIGEST_SHA256 ? 2 : 0) + (c.qop_auth ? 1 : 0);
		if (score > best_score) {
			best = c;
			best_score = score;
		}
	}
	if (best_score < 0)
		return -ENOENT;
	*out = best;
	return 0;
}

int sip_digest_authorization_add(struct sip_buf *b, const char *hdr_name,
				 const struct sip_digest_challenge *ch,
				 const char *user, const char *password,
				 const char *ha1_hex, const char *method,
				 const char *uri, const char *cnonce,
				 uint32_t nc)
{
	char realm[UNESC_MAX], nonce[UNESC_MAX], opaque[UNESC_MAX];
	char ha1[SIP_DIGEST_HEX_MAX], resp[SIP_DIGEST_HEX_MAX], cn[33], ncs[9];
	size_t rl, nl, ol = 0;
	int rc;

	if (!ch || !user || !method || !uri || (!password && !ha1_hex) ||
	    ch->alg == SIP_DIGEST_ALG_UNKNOWN || (ch->qop.p && !ch->qop_auth))
		return -EINVAL;
	/* the challenge's values are hashed unescaped and echoed re-quoted
	 * (the same value on the wire); values with NUL, CR or LF inside
	 * cannot be echoed faithfully and are refused */
	if (sip_str_unquote(ch->realm, realm, sizeof(realm), &rl) ||
	    sip_str_unquote(ch->nonce, nonce, sizeof(nonce), &nl) ||
	    (ch->opaque.p &&
	     sip_str_unquote(ch->opaque, opaque, sizeof(opaque), &ol)) ||
	    strlen(realm) != rl || strlen(nonce) != nl ||
	    (ch->opaque.p && strlen(opaque) != ol) ||
	    strpbrk(realm, "\r\n") || strpbrk(nonce, "\r\n") ||
	    (ch->opaque.p && strpbrk(opaque, "\r\n")))
		return -EINVAL;
	if (password) {
		rc = sip_digest_ha1(ch->alg, user, realm, password, ha1);
		if (rc)
			return rc;
	} else {
		if (strlen(ha1_hex) != alg_hexlen(ch->alg))
			return -EINVAL;
		memcpy(ha1, ha1_hex, strlen(ha1_hex) + 1);
	}
	if (!cnonce) {
		rc = sip_rand_hex(cn, sizeof(cn), 8);
		if (rc)
			return rc;
		cnonce = cn;
	}
	snprintf(ncs, sizeof(ncs), "%08x", nc);
	rc = sip_digest_response(ch->alg, ha1, nonce, ncs, cnonce,
				 ch->qop_auth ? "auth" : NULL, method, uri, resp);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	if (rc)
		return rc;

	sip_buf_adds(b, hdr_name ? hdr_name : "Authorization");
	sip_buf_adds(b, ": Digest username=");
	add_q(b, user);
	sip_buf_adds(b, ", realm=");
	add_q(b, realm);
	sip_buf_adds(b, ", nonce=");
	add_q(b, nonce);
	sip_buf_adds(b, ", uri=");
	add_q(b, uri);
	sip_buf_printf(b, ", response=\"%s\", algorithm=%s", resp,
		       alg_name(ch->alg));
	if (ch->qop_auth) {
		sip_buf_adds(b, ", cnonce=");
		add_q(b, cnonce);
		sip_buf_printf(b, ", qop=auth, nc=%s", ncs);
	}
	if (ch->opaque.p) {
		sip_buf_adds(b, ", opaque=");
		add_q(b, opaque);
	}
	sip_buf_adds(b, "\r\n");
	return b->err;
}
