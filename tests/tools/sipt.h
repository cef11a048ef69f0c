/*
 * sipt.h: the small SIP client kit shared by the test tools sipcli.c and
 * tlsload.c (header-only: each tool is linked on its own).
 * RFC 3261 (REGISTER/OPTIONS, stream framing by Content-Length, s.22
 * digest), RFC 8760 (SHA-256 digest), RFC 5626 (CRLF keep-alive).
 *
 * Deliberately independent of lib/sip: these tools judge the server, so
 * they must not share its parser or its digest code (a bug in both would
 * pass unnoticed). It only understands what a registrar sends back:
 * a status line, headers, WWW-Authenticate challenges, Contacts.
 */
#ifndef SIPT_H
#define SIPT_H

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dataline/hostport.h"

#define SIPT_MAX_CHAL 4

struct sipt_chal {
	char realm[128];
	char nonce[256];
	char opaque[256];
	char algorithm[32];   /* "MD5" when absent, as RFC 2617 says */
	char qop[64];
	int stale;
};

/* Status code of a response, or -1 if MSG is not a SIP/2.0 response. */
/* "IPV4:PORT" (the tools talk IPv4 only) into SA, and the host text into
 * HOST when not NULL. 0 or -EINVAL. */
static inline int sipt_parse_v4(const char *s, struct sockaddr_in *sa,
				char *host, size_t cap)
{
	struct sockaddr_storage ss;
	struct hostport hp;
	socklen_t len;

	if (!s || hostport_parse(s, strlen(s), 0, 0, &hp) ||
	    hostport_sockaddr(&hp, &ss, &len) || ss.ss_family != AF_INET ||
	    (host && hostport_host(&hp, host, cap)))
		return -EINVAL;
	memcpy(sa, &ss, sizeof(*sa));
	return 0;
}

static inline int sipt_status(const char *msg)
{
	if (strncmp(msg, "SIP/2.0 ", 8) != 0 || !isdigit((unsigned char)msg[8]))
		return -1;
	return atoi(msg + 8);
}

/* Length of the complete message at the start of BUF (headers, blank
 * line, Content-Length body), 0 if more bytes are needed. A missing
 * Content-Length counts as 0 (stream transports require it anyway). */
static inline size_t sipt_msg_len(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	size_t hlen, clen = 0;
	const char *p;

	if (!end)
		return 0;
	hlen = (size_t)(end - buf) + 4;
	for (p = buf; p < end;) {
		const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);

		if (!strncasecmp(p, "Content-Length:", 15))
			clen = strtoul(p + 15, NULL, 10);
		else if (!strncasecmp(p, "l:", 2))
			clen = strtoul(p + 2, NULL, 10);
		p = eol + 2;
	}
	return hlen + clen <= len ? hlen + clen : 0;
}

/* Calls FN on the value of every header named NAME (or its compact form
 * SHORT, may be NULL) in MSG; the value is copied NUL-terminated. */
static inline void sipt_headers(const char *msg, const char *name,
				const char *shrt,
				void (*fn)(const char *val, void *arg),
				void *arg)
{
	const char *line = strstr(msg, "\r\n");
	char val[4096];

	while (line && line[2] && !(line[2] == '\r' && line[3] == '\n')) {
		const char *h = line + 2, *eol = strstr(h, "\r\n"), *colon;
		size_t nlen;

		if (!eol)
			break;
		colon = memchr(h, ':', (size_t)(eol - h));
		line = eol;
		if (!colon)
			continue;
		nlen = (size_t)(colon - h);
		while (nlen && (h[nlen - 1] == ' ' || h[nlen - 1] == '\t'))
			nlen--;
		if (!((strlen(name) == nlen && !strncasecmp(h, name, nlen)) ||
		      (shrt && strlen(shrt) == nlen && !strncasecmp(h, shrt, nlen))))
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		nlen = (size_t)(eol - colon);
		if (nlen >= sizeof(val))
			nlen = sizeof(val) - 1;
		memcpy(val, colon, nlen);
		val[nlen] = '\0';
		fn(val, arg);
	}
}

/* Value of auth-param KEY in a challenge (quoted or token), into OUT. */
static inline int sipt_param(const char *s, const char *key, char *out,
			     size_t outsz)
{
	size_t klen = strlen(key);
	const char *p = s;
	int quoted = 0;

	for (; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		if (quoted || strncasecmp(p, key, klen) ||
		    (p != s && !strchr(" \t,", p[-1])))
			continue;
		const char *v = p + klen;
		while (*v == ' ')
			v++;
		if (*v != '=')
			continue;
		v++;
		while (*v == ' ')
			v++;
		size_t n = 0;
		if (*v == '"') {
			v++;
			while (v[n] && v[n] != '"')
				n++;
		} else {
			n = strcspn(v, " ,\t");
		}
		if (n >= outsz)
			n = outsz - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

struct sipt_chal_list {
	struct sipt_chal c[SIPT_MAX_CHAL];
	int n;
};

static inline void sipt_chal_cb(const char *val, void *arg)
{
	struct sipt_chal_list *l = arg;
	const char *p = val;

	/* One header may carry several challenges: split at each "Digest"
	 * scheme token found outside quotes. */
	while (p && *p && l->n < SIPT_MAX_CHAL) {
		const char *start = strcasestr(p, "Digest");
		const char *next, *q;
		int quoted = 0;
		char one[2048];
		size_t len;

		if (!start)
			return;
		next = NULL;
		for (q = start + 6; *q; q++) {
			if (*q == '"')
				quoted = !quoted;
			if (!quoted && !strncasecmp(q, "Digest ", 7) &&
			    strchr(", \t", q[-1])) {
				next = q;
				break;
			}
		}
		len = next ? (size_t)(next - start) : strlen(start);
		if (len >= sizeof(one))
			len = sizeof(one) - 1;
		memcpy(one, start + 6, len - 6);
		one[len - 6] = '\0';
		struct sipt_chal *c = &l->c[l->n];
		memset(c, 0, sizeof(*c));
		char st[16] = "";
		if (sipt_param(one, "realm", c->realm, sizeof(c->realm)) == 0 &&
		    sipt_param(one, "nonce", c->nonce, sizeof(c->nonce)) == 0) {
			if (sipt_param(one, "algorithm", c->algorithm,
				       sizeof(c->algorithm)))
				strcpy(c->algorithm, "MD5");
			sipt_param(one, "opaque", c->opaque, sizeof(c->opaque));
			sipt_param(one, "qop", c->qop, sizeof(c->qop));
			sipt_param(one, "stale", st, sizeof(st));
			c->stale = !strcasecmp(st, "true");
			l->n++;
		}
		p = next;
	}
}

/* Parses every WWW-Authenticate challenge of a 401, in order. */
static inline int sipt_challenges(const char *msg, struct sipt_chal_list *l)
{
	l->n = 0;
	sipt_headers(msg, "WWW-Authenticate", NULL, sipt_chal_cb, l);
	return l->n;
}

static inline const EVP_MD *sipt_md(const char *alg)
{
	if (!strcasecmp(alg, "MD5"))
		return EVP_md5();
	if (!strcasecmp(alg, "SHA-256"))
		return EVP_sha256();
	return NULL;
}

/* hex(H(a ":" b ":" c ...)) of NULL-terminated parts. */
static inline int sipt_hash_hex(const EVP_MD *md, char *hex, ...)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hl = 0, i;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const char *part;
	int first = 1;
	va_list ap;

	if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL))
		goto err;
	va_start(ap, hex);
	while ((part = va_arg(ap, const char *))) {
		if (!first)
			EVP_DigestUpdate(ctx, ":", 1);
		EVP_DigestUpdate(ctx, part, strlen(part));
		first = 0;
	}
	va_end(ap);
	if (!EVP_DigestFinal_ex(ctx, h, &hl))
		goto err;
	for (i = 0; i < hl; i++)
		sprintf(hex + 2 * i, "%02x", h[i]);
	EVP_MD_CTX_free(ctx);
	return 0;
err:
	EVP_MD_CTX_free(ctx);
	return -1;
}

/* Builds the Authorization header value answering challenge C for
 * METHOD URI with nonce-count NC (qop=auth when offered, RFC 2617
 * compatibility mode otherwise). */
static inline int sipt_authorization(const struct sipt_chal *c,
				     const char *user, const char *pass,
				     const char *method, const char *uri,
				     unsigned nc, char *out, size_t outsz)
{
	const EVP_MD *md = sipt_md(c->algorithm);
	char ha1[129], ha2[129], resp[129], ncs[9], cnonce[17];
	unsigned char rnd[8];
	int qop = c->qop[0] && strcasestr(c->qop, "auth") != NULL;
	int n;

	if (!md)
		return -1;
	sipt_hash_hex(md, ha1, user, c->realm, pass, (char *)NULL);
	sipt_hash_hex(md, ha2, method, uri, (char *)NULL);
	snprintf(ncs, sizeof(ncs), "%08x", nc);
	RAND_bytes(rnd, sizeof(rnd));
	for (int i = 0; i < 8; i++)
		sprintf(cnonce + 2 * i, "%02x", rnd[i]);
	if (qop)
		sipt_hash_hex(md, resp, ha1, c->nonce, ncs, cnonce, "auth", ha2,
			      (char *)NULL);
	else
		sipt_hash_hex(md, resp, ha1, c->nonce, ha2, (char *)NULL);
	n = snprintf(out, outsz,
		     "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
		     "uri=\"%s\", response=\"%s\", algorithm=%s",
		     user, c->realm, c->nonce, uri, resp, c->algorithm);
	if (qop)
		n += snprintf(out + n, outsz - (size_t)n,
			      ", qop=auth, nc=%s, cnonce=\"%s\"", ncs, cnonce);
	if (c->opaque[0])
		n += snprintf(out + n, outsz - (size_t)n, ", opaque=\"%s\"",
			      c->opaque);
	return (size_t)n < outsz ? 0 : -1;
}

static inline void sipt_rand_hex(char *out, int bytes)
{
	unsigned char r[32];

	RAND_bytes(r, bytes);
	for (int i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

/* Counts Contact entries of a response (several headers and/or
 * comma-separated values; commas inside <> or quotes do not split). */
struct sipt_contacts {
	int n;
	void (*each)(const char *one, void *arg);
	void *arg;
};

static inline void sipt_contact_cb(const char *val, void *arg)
{
	struct sipt_contacts *c = arg;
	const char *p = val, *start = val;
	int in_angle = 0, quoted = 0;
	char one[1024];

	for (;; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '<')
			in_angle = 1;
		else if (!quoted && *p == '>')
			in_angle = 0;
		if (*p == '\0' || (*p == ',' && !in_angle && !quoted)) {
			while (*start == ' ')
				start++;
			size_t n = (size_t)(p - start);
			if (n) {
				if (n >= sizeof(one))
					n = sizeof(one) - 1;
				memcpy(one, start, n);
				one[n] = '\0';
				c->n++;
				if (c->each)
					c->each(one, c->arg);
			}
			start = p + 1;
		}
		if (*p == '\0')
			break;
	}
}

static inline int sipt_count_contacts(const char *msg,
				      void (*each)(const char *, void *),
				      void *arg)
{
	struct sipt_contacts c = { 0, each, arg };

	sipt_headers(msg, "Contact", "m", sipt_contact_cb, &c);
	return c.n;
}

#endif
