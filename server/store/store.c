/*
 * store: the public storage API. Picks the backend from the URI given to
 * store_open() and forwards each call through the backend's operation
 * table (store_impl.h), after checking the arguments every backend would
 * otherwise have to check itself.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "store_impl.h"

int store_open(const char *uri, struct store **out)
{
	if (!uri || !*uri || !out)
		return -EINVAL;
	if (strncmp(uri, "sqlite:", 7) == 0)
		return uri[7] ? store_sqlite_open(uri + 7, out) : -EINVAL;
	/* "postgres://..." etc.: a scheme we do not (yet) have */
	if (strstr(uri, "://"))
		return -ENOTSUP;
	return store_sqlite_open(uri, out);
}

int store_attach_sqlite(void *db, struct store **out)
{
	if (!db || !out)
		return -EINVAL;
	return store_sqlite_attach(db, out);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

#define STORE_CALL(st, op, ...) \
	((st) ? (st)->ops->op((st), ##__VA_ARGS__) : -EINVAL)

int store_schema_version(struct store *st, int *out)
{
	return out ? STORE_CALL(st, schema_version, out) : -EINVAL;
}

int store_begin(struct store *st) { return STORE_CALL(st, begin); }
int store_read_begin(struct store *st) { return STORE_CALL(st, read_begin); }
int store_commit(struct store *st) { return STORE_CALL(st, commit); }
int store_autocheckpoint(struct store *st, int pages)
{
	return pages >= 0 ? STORE_CALL(st, autocheckpoint, pages) : -EINVAL;
}

int store_rollback(struct store *st) { return STORE_CALL(st, rollback); }

int store_on_commit(struct store *st, void (*fn)(void *arg), void *arg)
{
	return STORE_CALL(st, on_commit, fn, arg);
}

int store_device_add(struct store *st, const struct store_device *dev)
{
	if (!dev || !dev->username[0] || !dev->number[0])
		return -EINVAL;
	return STORE_CALL(st, device_add, dev);
}

int store_device_get(struct store *st, const char *username,
		     struct store_device *out)
{
	return username && out ? STORE_CALL(st, device_get, username, out) : -EINVAL;
}

int store_device_delete(struct store *st, const char *username)
{
	return username ? STORE_CALL(st, device_delete, username) : -EINVAL;
}

int store_count_accounts(struct store *st, uint64_t *out)
{
	return out ? STORE_CALL(st, count_accounts, out) : -EINVAL;
}

int store_count_devices(struct store *st, uint64_t *out)
{
	return out ? STORE_CALL(st, count_devices, out) : -EINVAL;
}

int store_devices_walk(struct store *st,
		       int (*cb)(const char *number, const char *username,
				 void *arg), void *arg)
{
	return cb ? STORE_CALL(st, devices_walk, cb, arg) : -EINVAL;
}

int store_count_number_devices(struct store *st, const char *number,
			       uint64_t *out)
{
	return number && out ? STORE_CALL(st, count_number_devices, number, out)
			     : -EINVAL;
}

int store_code_put(struct store *st, const struct store_code *code)
{
	return code && code->number[0] && code->session[0]
		       ? STORE_CALL(st, code_put, code) : -EINVAL;
}

int store_code_get(struct store *st, const char *session, struct store_code *out)
{
	return session && out ? STORE_CALL(st, code_get, session, out) : -EINVAL;
}

int store_code_add_try(struct store *st, const char *session, int *tries_out)
{
	return session && tries_out ? STORE_CALL(st, code_add_try, session, tries_out)
				   : -EINVAL;
}

int store_code_delete(struct store *st, const char *session)
{
	return session ? STORE_CALL(st, code_delete, session) : -EINVAL;
}

int store_send_log_add(struct store *st, const char *number,
		       const char *client, int64_t now)
{
	return number && client ? STORE_CALL(st, send_log_add, number, client, now)
				: -EINVAL;
}

int store_send_log_count(struct store *st, const char *number,
			 const char *client, int64_t since, uint64_t *out)
{
	return out ? STORE_CALL(st, send_log_count, number, client, since, out)
		   : -EINVAL;
}

int store_send_log_nth(struct store *st, const char *number,
		       const char *client, int64_t since, uint64_t n,
		       int64_t *out)
{
	if (!out || n > INT64_MAX)
		return -EINVAL;
	return STORE_CALL(st, send_log_nth, number, client, since, n, out);
}

int store_send_log_last(struct store *st, const char *number,
			const char *client, int64_t *out)
{
	return number && out ? STORE_CALL(st, send_log_last, number, client, out)
			     : -EINVAL;
}

int store_codes_gc(struct store *st, int64_t now, int64_t log_before)
{
	return STORE_CALL(st, codes_gc, now, log_before);
}

int store_sms_legacy_walk(struct store *st,
			  int (*cb)(const struct store_sms *sms, void *arg),
			  void *arg)
{
	return cb ? STORE_CALL(st, sms_legacy_walk, cb, arg) : -EINVAL;
}

int store_sms_legacy_drop(struct store *st)
{
	return STORE_CALL(st, sms_legacy_drop);
}

static int store_binding_valid(const struct store_binding *b)
{
	return b && b->number && b->username && b->contact && b->call_id &&
	       b->transport && b->received && b->path && b->instance &&
	       b->number[0] && b->contact[0];
}

int store_binding_upsert(struct store *st, const struct store_binding *b)
{
	return store_binding_valid(b) ? STORE_CALL(st, binding_upsert, b) : -EINVAL;
}

int store_binding_get(struct store *st, const char *number,
		      const char *contact, store_binding_cb cb, void *arg)
{
	if (!number || !contact || !cb)
		return -EINVAL;
	return STORE_CALL(st, binding_get, number, contact, cb, arg);
}

int store_binding_delete(struct store *st, const char *number,
			 const char *contact)
{
	return number && contact ? STORE_CALL(st, binding_delete, number, contact)
				 : -EINVAL;
}

int store_binding_delete_all(struct store *st, const char *number,
			     const char *username, uint64_t *removed_out)
{
	return number ? STORE_CALL(st, binding_delete_all, number, username,
				   removed_out)
		      : -EINVAL;
}

int store_binding_list(struct store *st, const char *number, int64_t now,
		       store_binding_cb cb, void *arg)
{
	return number && cb ? STORE_CALL(st, binding_list, number, now, cb, arg)
			    : -EINVAL;
}

int store_binding_count_device(struct store *st, const char *username,
			       int64_t now, uint64_t *out)
{
	return username && out ? STORE_CALL(st, binding_count_device, username,
					    now, out)
			       : -EINVAL;
}

int store_binding_load_all(struct store *st, int64_t now, store_binding_cb cb,
			   void *arg)
{
	return cb ? STORE_CALL(st, binding_load_all, now, cb, arg) : -EINVAL;
}

int store_binding_expire(struct store *st, int64_t now, uint64_t *removed_out)
{
	return STORE_CALL(st, binding_expire, now, removed_out);
}

int store_binding_count(struct store *st, int64_t now, uint64_t *out)
{
	return out ? STORE_CALL(st, binding_count, now, out) : -EINVAL;
}
