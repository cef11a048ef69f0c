/*
 * store_impl: the private interface between store.c (the public API and
 * URI dispatch) and a storage backend (store_sqlite.c today; PostgreSQL
 * later). A backend's connection struct starts with `struct store` and
 * fills every operation; store.c only checks arguments and forwards.
 */
#ifndef DATALINE_SERVER_STORE_IMPL_H
#define DATALINE_SERVER_STORE_IMPL_H

#include "store.h"

struct store_ops {
	const char *name;
	void (*close)(struct store *st);
	int (*schema_version)(struct store *st, int *out);
	int (*begin)(struct store *st);
	int (*read_begin)(struct store *st);
	int (*commit)(struct store *st);
	int (*rollback)(struct store *st);
	int (*autocheckpoint)(struct store *st, int pages);
	int (*on_commit)(struct store *st, void (*fn)(void *arg), void *arg);

	int (*device_add)(struct store *st, const struct store_device *dev);
	int (*device_get)(struct store *st, const char *username,
			  struct store_device *out);
	int (*device_delete)(struct store *st, const char *username);
	int (*count_accounts)(struct store *st, uint64_t *out);
	int (*count_devices)(struct store *st, uint64_t *out);
	int (*count_number_devices)(struct store *st, const char *number,
				    uint64_t *out);
	int (*devices_walk)(struct store *st,
			    int (*cb)(const char *number, const char *username,
				      void *arg), void *arg);

	int (*code_put)(struct store *st, const struct store_code *code);
	int (*code_get)(struct store *st, const char *session,
			struct store_code *out);
	int (*code_add_try)(struct store *st, const char *session, int *tries);
	int (*code_delete)(struct store *st, const char *session);
	int (*send_log_add)(struct store *st, const char *number,
			    const char *client, int64_t now);
	int (*send_log_count)(struct store *st, const char *number,
			      const char *client, int64_t since, uint64_t *out);
	int (*send_log_nth)(struct store *st, const char *number,
			    const char *client, int64_t since, uint64_t n,
			    int64_t *out);
	int (*send_log_last)(struct store *st, const char *number,
			     const char *client, int64_t *out);
	int (*codes_gc)(struct store *st, int64_t now, int64_t log_before);

	int (*sms_legacy_walk)(struct store *st,
			       int (*cb)(const struct store_sms *, void *),
			       void *arg);
	int (*sms_legacy_drop)(struct store *st);

	int (*binding_upsert)(struct store *st, const struct store_binding *b);
	int (*binding_get)(struct store *st, const char *number,
			   const char *contact, store_binding_cb cb, void *arg);
	int (*binding_delete)(struct store *st, const char *number,
			      const char *contact);
	int (*binding_delete_all)(struct store *st, const char *number,
				  const char *username, uint64_t *removed);
	int (*binding_list)(struct store *st, const char *number, int64_t now,
			    store_binding_cb cb, void *arg);
	int (*binding_count_device)(struct store *st, const char *username,
				    int64_t now, uint64_t *out);
	int (*binding_load_all)(struct store *st, int64_t now,
				store_binding_cb cb, void *arg);
	int (*binding_expire)(struct store *st, int64_t now, uint64_t *removed);
	int (*binding_count)(struct store *st, int64_t now, uint64_t *out);
};

struct store {
	const struct store_ops *ops;
};

/* SQLite backend: PATH or ":memory:". */
int store_sqlite_open(const char *path, struct store **out);
/* SQLite backend over a connection the caller owns (a sqlite3 *). */
int store_sqlite_attach(void *db, struct store **out);

#endif
