/*
 * csync_import: a .vcf file (vCard 2.1, 3.0 RFC 2426, 4.0 RFC 6350, read
 * by lib/contacts/vcard.c) into the handset's contacts table. Every TEL
 * becomes an E.164 number (e164 rules, national forms with the configured
 * country code); what cannot be used is reported per entry with its line
 * number and the walk goes on. The valid numbers go to the store in one
 * batch (one transaction), so an import is stored whole or not at all.
 *
 * Duplicates inside a file are found with a hash set over the numbers
 * (hmap, keyed hash: the file is the user's but may come from anywhere);
 * the entries live in one array sized for the cap, so nodes never move.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csync_priv.h"
#include "dataline/hmap.h"
#include "dataline/vcard.h"

#define CSYNC_MAX_CAP 100000	/* the largest max_contacts accepted */

struct imp_entry {
	struct hmap_node node;		/* in imp.seen */
	char number[E164_MAX];
	char *name;			/* owned */
};

struct imp {
	const struct csync_import_opts *o;
	const char *cc;			/* o's country code, NULL if none */
	struct csync_import_result res;
	struct imp_entry *v;		/* owned, cap entries */
	size_t n, cap;
	struct hmap seen;		/* nodes are v's */
};

const char *csync_problem_name(enum csync_problem_kind k)
{
	switch (k) {
	case CSYNC_P_NOT_VCARD: return "not a vCard file (no BEGIN:VCARD)";
	case CSYNC_P_CARD: return "broken card";
	case CSYNC_P_TEL_NOT_NUMBER: return "TEL is not a phone number";
	case CSYNC_P_TEL_NATIONAL:
		return "national number, but no country code is set";
	case CSYNC_P_NO_TEL: return "card without a phone number";
	case CSYNC_P_TEL_DROPPED: return "more TEL than are kept per card";
	case CSYNC_P_CAP: return "contact limit reached, rest of file ignored";
	}
	return "problem";
}

static void imp_report(struct imp *im, enum csync_problem_kind kind,
		       uint32_t line, uint32_t card_line, const char *what,
		       const char *detail)
{
	struct csync_problem p = {
		.kind = kind, .line = line, .card_line = card_line,
		.what = what ? what : csync_problem_name(kind),
		.detail = detail ? detail : "",
	};

	im->res.problems++;
	if (im->o->problem)
		im->o->problem(im->o->arg, &p);
}

/* 1 if some line of BUF starts with BEGIN:VCARD (after blanks or a BOM). */
static int imp_has_begin(const char *buf, size_t len)
{
	static const char m[] = "BEGIN:VCARD";
	size_t i = 0;

	while (i < len) {
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (len - i >= 3 && memcmp(buf + i, "\xef\xbb\xbf", 3) == 0)
			i += 3;
		if (len - i >= sizeof(m) - 1 &&
		    strncasecmp(buf + i, m, sizeof(m) - 1) == 0)
			return 1;
		while (i < len && buf[i] != '\n')
			i++;
		i++;
	}
	return 0;
}

/* Replaces bytes that are not UTF-8 (RFC 3629) by '?'. */
static void imp_fix_utf8(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 :
			   (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
		size_t k;

		for (k = 1; n && k < n; k++)
			if ((p[k] & 0xc0) != 0x80)
				n = 0;
		if (!n) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

/* Cuts S to fit CSYNC_NAME_MAX bytes without splitting a character. */
static void imp_cut(char *s)
{
	size_t n = strlen(s);

	if (n < CSYNC_NAME_MAX)
		return;
	n = CSYNC_NAME_MAX - 1;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

/* Decoded RAW appended to the LEN bytes at OUT (cap CAP), after a space. */
static void imp_append(char *out, size_t cap, size_t *len, struct sip_str raw,
		       int qp)
{
	size_t l;

	if (!raw.len)
		return;
	if (*len && *len + 1 < cap)
		out[(*len)++] = ' ';
	if (vcard_decode(raw, qp, out + *len, cap - *len, &l) == 0)
		*len += l;
	out[*len] = '\0';
	while (*len && out[*len - 1] == ' ')
		out[--(*len)] = '\0';
}

/* The card's name: FN, else N's given and family names; malloc'd. */
static char *imp_name(const struct vcard *c)
{
	size_t cap = c->fn.value.len + c->n.value.len + 2, len = 0;
	char *s = malloc(cap);
	struct sip_str f;

	if (!s)
		return NULL;
	s[0] = '\0';
	if (c->fn.name.p)
		imp_append(s, cap, &len, c->fn.value, c->fn.qp);
	if (!len && c->n.name.p) {
		if (vcard_field(c->n.value, 1, &f) == 0)
			imp_append(s, cap, &len, f, c->n.qp);
		if (vcard_field(c->n.value, 0, &f) == 0)
			imp_append(s, cap, &len, f, c->n.qp);
	}
	imp_fix_utf8(s);
	imp_cut(s);
	return s;
}

static int imp_eq(const struct hmap_node *n, const void *key)
{
	return strcmp(HMAP_ENTRY(n, struct imp_entry, node)->number, key) == 0;
}

/* The TEL's value as written, for a report. */
static void imp_tel_text(const struct vcard_prop *t, char out[CSYNC_DETAIL_MAX])
{
	size_t l;

	if (vcard_decode(t->value, t->qp, out, CSYNC_DETAIL_MAX, &l) < 0) {
		l = t->value.len < CSYNC_DETAIL_MAX - 4 ? t->value.len :
		    CSYNC_DETAIL_MAX - 4;
		memcpy(out, t->value.p, l);
		strcpy(out + l, "...");
	}
	imp_fix_utf8(out);
}

/* One TEL: 1 if stored (or a duplicate), 0 if reported, -errno. */
static int imp_tel(struct imp *im, const struct vcard *c,
		   const struct vcard_prop *t, const char *name)
{
	const char *cc = im->cc;
	char num[E164_MAX], text[CSYNC_DETAIL_MAX];
	uint64_t hash;
	struct imp_entry *e;

	if (vcard_tel_e164(t, cc, num) < 0) {
		imp_tel_text(t, text);
		/* without a country code, would one have made it a number? */
		imp_report(im, !cc && vcard_tel_e164(t, "1", num) == 0 ?
			   CSYNC_P_TEL_NATIONAL : CSYNC_P_TEL_NOT_NUMBER,
			   t->line, c->line, NULL, text);
		return 0;
	}
	hash = hmap_hash_str(num);
	if (hmap_find(&im->seen, hash, imp_eq, num)) {
		im->res.duplicates++;
		return 1;
	}
	e = &im->v[im->n];
	memcpy(e->number, num, sizeof(num));
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	hmap_insert(&im->seen, &e->node, hash);
	im->n++;
	return 1;
}

/* One card: 0 to go on, 1 at the cap, -errno. */
static int imp_card(struct imp *im, const struct vcard *c)
{
	char *name;
	int r = 0;

	im->res.cards++;
	if (!c->ntel) {
		imp_report(im, CSYNC_P_NO_TEL, c->line, c->line, NULL, "");
		return 0;
	}
	name = imp_name(c);
	if (!name)
		return -ENOMEM;
	for (size_t i = 0; i < c->ntel && r >= 0; i++) {
		if (im->n == im->cap) {
			imp_report(im, CSYNC_P_CAP, c->tel[i].line, c->line,
				   NULL, "");
			im->res.capped = 1;
			r = 1;
			break;
		}
		r = imp_tel(im, c, &c->tel[i], name);
		r = r < 0 ? r : 0;
	}
	if (r == 0 && c->ntel_dropped)
		imp_report(im, CSYNC_P_TEL_DROPPED, c->tel[c->ntel - 1].line,
			   c->line, NULL, "");
	free(name);
	return r;
}

static int imp_walk(struct imp *im, const char *buf, size_t len)
{
	struct vcard_iter it;
	struct vcard c;
	struct vcard_err e;
	int r;

	vcard_iter_init(&it, buf, len);
	for (;;) {
		r = vcard_next(&it, &c, &e);
		if (r == -ENOENT)
			return 0;
		if (r == -EBADMSG || r == -E2BIG) {
			im->res.bad_cards++;
			imp_report(im, CSYNC_P_CARD, e.line, e.card_line,
				   e.what, "");
			continue;
		}
		if (r < 0)
			return r;
		r = imp_card(im, &c);
		if (r)
			return r < 0 ? r : 0;
	}
}

static int imp_store(struct imp *im, struct hstore *h, int64_t now)
{
	struct hstore_contact_put *p;
	int r;

	if (!im->n)
		return 0;
	p = calloc(im->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < im->n; i++) {
		p[i].number = im->v[i].number;
		p[i].name = im->v[i].name;
		p[i].source = "vcard";
	}
	r = hstore_contacts_put(h, p, im->n, now);
	free(p);
	return r;
}

int csync_import(struct hstore *h, const void *buf, size_t len,
		 const struct csync_import_opts *o, int64_t now,
		 struct csync_import_result *res)
{
	struct imp im = { .o = o };
	int r;

	if (!h || (!buf && len) || !o || !res || o->max_contacts > CSYNC_MAX_CAP ||
	    (o->country_code && o->country_code[0] &&
	     !e164_country_code_valid(o->country_code)))
		return -EINVAL;
	im.cc = o->country_code && o->country_code[0] ? o->country_code : NULL;
	if (!imp_has_begin(buf, len)) {
		imp_report(&im, CSYNC_P_NOT_VCARD, 1, 0, NULL, "");
		im.res.not_vcard = 1;
		*res = im.res;
		return -EBADMSG;
	}
	im.cap = o->max_contacts ? o->max_contacts : CSYNC_MAX_CONTACTS;
	im.v = calloc(im.cap, sizeof(*im.v));
	r = im.v ? hmap_init(&im.seen, 64) : -ENOMEM;
	if (r < 0) {
		free(im.v);
		return r;
	}
	r = imp_walk(&im, buf, len);
	if (r == 0)
		r = imp_store(&im, h, now);
	if (r == 0) {
		im.res.numbers = im.n;
		*res = im.res;
	}
	for (size_t i = 0; i < im.n; i++)
		free(im.v[i].name);
	hmap_destroy(&im.seen);
	free(im.v);
	return r;
}
