/*
 * hstore_contacts: the address book (imported from vCard, lib/contacts/)
 * and, per number, whether it is registered with dataline, as the last
 * sync with the server said. Imports and mark updates come in batches, so
 * each is one transaction: one fsync for the batch, and all or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hstore_priv.h"

#define SOURCE_MAX (sizeof(((struct hstore_contact *)0)->source))

static void ct_free_one(void *p)
{
	free(((struct hstore_contact *)p)->name);
}

static int ct_row(sqlite3_stmt *st, void *p)
{
	struct hstore_contact *c = p;
	const char *name = (const char *)sqlite3_column_text(st, 2);

	c->id = sqlite3_column_int64(st, 0);
	hs_col_copy(st, 1, c->number, sizeof(c->number));
	c->name = strdup(name ? name : "");
	if (!c->name)
		return -ENOMEM;
	hs_col_copy(st, 3, c->source, sizeof(c->source));
	c->registered = (enum hstore_mark)sqlite3_column_int(st, 4);
	c->synced = sqlite3_column_int64(st, 5);
	c->updated = sqlite3_column_int64(st, 6);
	return 0;
}

void hstore_contacts_free(struct hstore_contact *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ct_free_one(&v[i]);
	free(v);
}

/* Runs N bound statements (BIND fills ST for entry I) in one transaction. */
static int ct_batch(struct hstore *h, enum hs_stmt id, size_t n,
		    void (*bind)(sqlite3_stmt *st, size_t i, const void *arg),
		    const void *arg, size_t *changed)
{
	size_t cnt = 0;
	int err = hs_begin(h);

	for (size_t i = 0; !err && i < n; i++) {
		sqlite3_stmt *st = hs_stmt(h, id);

		if (!st) {
			err = -EIO;
			break;
		}
		bind(st, i, arg);
		err = hs_exec_stmt(h, st, "contacts");
		if (!err)
			cnt += (size_t)sqlite3_changes(h->db);
	}
	if (!err)
		err = hs_commit(h);
	if (err) {
		hs_rollback(h);
		return err;
	}
	if (changed)
		*changed = cnt;
	return 0;
}

struct put_arg {
	const struct hstore_contact_put *v;
	int64_t now;
};

static void put_bind(sqlite3_stmt *st, size_t i, const void *p)
{
	const struct put_arg *a = p;

	hs_text(st, 1, a->v[i].number);
	hs_text(st, 2, a->v[i].name ? a->v[i].name : "");
	hs_text(st, 3, a->v[i].source ? a->v[i].source : "vcard");
	sqlite3_bind_int64(st, 4, a->now);
}

int hstore_contacts_put(struct hstore *h, const struct hstore_contact_put *v,
			size_t n, int64_t now)
{
	struct put_arg a = { v, now };

	if (n && !v)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!v[i].number || !e164_is_valid(v[i].number) ||
		    (v[i].source && (!v[i].source[0] ||
				     strlen(v[i].source) >= SOURCE_MAX)))
			return -EINVAL;
	return ct_batch(h, HS_CT_PUT, n, put_bind, &a, NULL);
}

int hstore_contact_delete(struct hstore *h, const char *number)
{
	sqlite3_stmt *st;
	int err;

	if (!number || !e164_is_valid(number))
		return -EINVAL;
	st = hs_stmt(h, HS_CT_DELETE);
	if (!st)
		return -EIO;
	hs_text(st, 1, number);
	err = hs_exec_stmt(h, st, "contact delete");
	return !err && sqlite3_changes(h->db) == 0 ? -ENOENT : err;
}

struct mark_arg {
	const struct hstore_mark_set *v;
	int64_t now;
};

static void mark_bind(sqlite3_stmt *st, size_t i, const void *p)
{
	const struct mark_arg *a = p;

	hs_text(st, 1, a->v[i].number);
	sqlite3_bind_int(st, 2, (int)a->v[i].registered);
	sqlite3_bind_int64(st, 3, a->now);
}

int hstore_contacts_set_marks(struct hstore *h,
			      const struct hstore_mark_set *v, size_t n,
			      int64_t now, size_t *updated)
{
	struct mark_arg a = { v, now };

	if (n && !v)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!v[i].number || !e164_is_valid(v[i].number) ||
		    v[i].registered < HSTORE_MARK_UNKNOWN ||
		    v[i].registered > HSTORE_MARK_YES)
			return -EINVAL;
	return ct_batch(h, HS_CT_MARK, n, mark_bind, &a, updated);
}

int hstore_contacts_list(struct hstore *h, size_t limit, size_t offset,
			 struct hstore_contact **out, size_t *n)
{
	return hs_list(h, HS_CT_LIST, limit, offset, sizeof(**out), ct_row,
		       ct_free_one, (void **)out, n);
}
