/*
 * store: dataline-server's durable state behind one interface (accounts,
 * devices and their HA1 digests, pending one-time codes with the counters
 * the rate limits need, and SIP registrations /
 * bindings per RFC 3261 s.10 and RFC 5626 instance/reg-id).
 *
 * Backends: SQLite (WAL, the embedded default, store_sqlite.c). The backend
 * is chosen by the URI given to store_open() and reached through a table of
 * operations (store_impl.h), so a PostgreSQL backend can be added without
 * touching callers.
 *
 * Thread rules: a `struct store` is ONE connection and must be used by one
 * thread at a time (open one per worker thread; SQLite runs in multi-thread
 * mode, every connection has its own prepared statements). Several
 * connections may write at once: writers wait for each other (busy timeout
 * 5 s) instead of failing. Every call is atomic on its own; store_begin()/
 * store_commit() group several calls into one transaction (and one fsync),
 * which is how a batch of REGISTERs is made cheap.
 *
 * Conventions: functions return 0 or -errno; -ENOENT "no such row",
 * -EEXIST "unique key taken", -EIO a backend error (logged). Output
 * parameters are written only on success. Times are Unix seconds (int64).
 * Strings handed in are copied; strings handed out by callbacks are valid
 * only during the callback, and a callback must not call back into the
 * same `struct store` (collect what you need, act after the walk).
 */
#ifndef DATALINE_SERVER_STORE_H
#define DATALINE_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define STORE_SCHEMA_VERSION 3

/* Sizes (including the NUL) of the fixed-size fields below. */
#define STORE_NUMBER_MAX   17   /* "+" and up to 15 digits */
#define STORE_USERNAME_MAX 64
#define STORE_HA1_MD5_LEN  33   /* 32 lowercase hex digits */
#define STORE_HA1_SHA256_LEN 65 /* 64 lowercase hex digits */

/*
 * Opens (creating if needed) and migrates the store. URI forms:
 *   "sqlite:PATH" or a plain PATH   SQLite file, WAL mode
 *   ":memory:"                       private in-memory SQLite (tests)
 * Runs the schema migrations up to STORE_SCHEMA_VERSION in one transaction.
 * -ENOTSUP for an unknown scheme, -EPROTO if the file's schema is NEWER
 * than this binary knows.
 */
int store_open(const char *uri, struct store **out);
void store_close(struct store *st);
/*
 * A store over an SQLite connection that someone else opened and closes:
 * the registrar's writer thread (server/core/writer.h) runs the binding
 * calls below on its own connection, inside its batch transaction.
 * store_close() then finalizes the statements only. DB is a sqlite3 *.
 */
int store_attach_sqlite(void *db, struct store **out);
/* Calls FN(ARG) after every commit on this connection, explicit or
 * autocommit (sqlite3_commit_hook): how the server counts commits run
 * on its event loops (dataline_worker_commits_total). 0 or -errno. */
int store_on_commit(struct store *st, void (*fn)(void *arg), void *arg);
int store_schema_version(struct store *st, int *out);

/* Groups the calls that follow into one transaction (not nestable). */
int store_begin(struct store *st);
/* A read-only transaction (one snapshot, no write lock; end it with
 * store_commit): many reads in a row then lock the file once, not once
 * each (contact discovery's 1,000 lookups). */
int store_read_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);
/* Write-ahead log upkeep: after how many pages a commit on this
 * connection copies the WAL back into the database itself (0: never; the
 * server's loops leave it to the registrar writer's checkpointer). */
int store_autocheckpoint(struct store *st, int pages);

/* ---------------------------------------------------------- accounts */

struct store_device {
	char username[STORE_USERNAME_MAX];
	char number[STORE_NUMBER_MAX];         /* E.164, "+8613800138000" */
	char ha1_md5[STORE_HA1_MD5_LEN];       /* MD5(user:realm:password) hex */
	char ha1_sha256[STORE_HA1_SHA256_LEN]; /* SHA-256(...) hex, RFC 8760 */
	int64_t created;
};

/* Creates the device (and its number's account if it is the first device).
 * -EEXIST if the username is taken. */
int store_device_add(struct store *st, const struct store_device *dev);
/* HA1 lookup for digest auth. -ENOENT for an unknown username. */
int store_device_get(struct store *st, const char *username,
		     struct store_device *out);
/* Removes a device and its bindings (the account stays). */
int store_device_delete(struct store *st, const char *username);
int store_count_accounts(struct store *st, uint64_t *out);
int store_count_devices(struct store *st, uint64_t *out);
/* Calls CB for every device (its number and username; read once at
 * start-up to fill the server's memory). A non-zero return stops the walk
 * and is returned. */
int store_devices_walk(struct store *st,
		       int (*cb)(const char *number, const char *username,
				 void *arg), void *arg);
/* Devices of one number (for max-devices-per-number). */
int store_count_number_devices(struct store *st, const char *number,
			       uint64_t *out);

/* ---------------------------------------------------------- one-time codes */

#define STORE_CODE_HASH_LEN 32
#define STORE_CODE_SALT_LEN 16

/* Room for a registration session id: 32 hex digits and the NUL. */
#define STORE_SESSION_MAX 33

/* One registration session: a code sent to a number for one requester.
 * A number may have several at once (one per request); each has its own
 * code and its own tries, so wrong guesses in one never touch another. */
struct store_code {
	char session[STORE_SESSION_MAX];   /* random id, the key */
	char number[STORE_NUMBER_MAX];
	uint8_t hash[STORE_CODE_HASH_LEN]; /* HMAC-SHA-256(salt, code) */
	uint8_t salt[STORE_CODE_SALT_LEN];
	int64_t created;                   /* when this code was (re)sent */
	int64_t expires_at;
	int tries;                         /* wrong attempts so far */
};

/* Stores (or replaces) the session code->session. */
int store_code_put(struct store *st, const struct store_code *code);
int store_code_get(struct store *st, const char *session,
		   struct store_code *out);
/* Adds one wrong try; *tries_out gets the new count. -ENOENT if none. */
int store_code_add_try(struct store *st, const char *session, int *tries_out);
int store_code_delete(struct store *st, const char *session);

/* Every code sent is logged (number, client key: the requester's address
 * prefix) so the resend limits can count them over sliding windows. */
int store_send_log_add(struct store *st, const char *number,
		       const char *client, int64_t now);
/* Counts sends at or after `since`; number or client may be NULL (= any). */
int store_send_log_count(struct store *st, const char *number,
			 const char *client, int64_t since, uint64_t *out);

/* Time of the n-th oldest (0 = oldest) send at or after `since`, by number
 * and/or client (NULL = any); -ENOENT if there are not that many. */
int store_send_log_nth(struct store *st, const char *number,
		       const char *client, int64_t since, uint64_t n,
		       int64_t *out);
/* Time of the newest send to number requested by client (NULL = any);
 * -ENOENT if none is logged. */
int store_send_log_last(struct store *st, const char *number,
			const char *client, int64_t *out);

/* Drops expired codes and send-log entries older than `log_before`. */
int store_codes_gc(struct store *st, int64_t now, int64_t log_before);

/* ---------------------------------------------------------- legacy SMS */

/*
 * The SMS queue used to live here (schema <= 2, table sms_queue). It moved
 * to the durable queue (server/queue/, issue 7); migration 2 -> 3 renames
 * the table to sms_legacy so that no queued SMS is lost, and start-up
 * (sms_migrate_legacy(), server/sms/sms.h) moves its rows into the queue
 * and then drops it.
 */
struct store_sms {
	int64_t id;
	const char *to;
	const char *text;
	int64_t created;
	int64_t next_try;
	int attempts;
	const char *last_error; /* "" if none */
};

/* Calls cb for every row of sms_legacy, oldest first (none if the table
 * is gone). A non-zero return from cb stops the walk and is returned. */
int store_sms_legacy_walk(struct store *st,
			  int (*cb)(const struct store_sms *sms, void *arg),
			  void *arg);
/* Drops sms_legacy (once its rows are safely in the queue). */
int store_sms_legacy_drop(struct store *st);

/* ---------------------------------------------------------- bindings */

/*
 * One registration binding (RFC 3261 s.10.3): the AOR is the number; the
 * key is (number, contact). `instance`/`reg_id` are RFC 5626's
 * +sip.instance and reg-id ("" / 0 if absent). `received` is where the
 * REGISTER came from ("proto:ip:port" as s2 formats it), `path` the Path
 * header values (RFC 3327), "" if none. All strings non-NULL.
 */
struct store_binding {
	const char *number;
	const char *username;  /* the device that registered it */
	const char *contact;   /* Contact URI, without < > and params */
	const char *call_id;
	uint32_t cseq;
	int64_t expires_at;
	int q;                 /* q-value x 1000, 1000 if absent */
	const char *transport; /* "udp", "tcp", "tls" */
	const char *received;
	const char *path;
	const char *instance;
	uint32_t reg_id;
	/* The flow's connection id and owning worker (server/sip/flow.c):
	 * the registrar's memory only; the store neither writes nor reads
	 * them (a restart closes every connection anyway). */
	uint64_t conn_id;
	int worker;
};

typedef int (*store_binding_cb)(const struct store_binding *b, void *arg);

/* Inserts or replaces the binding with the same (number, contact). */
int store_binding_upsert(struct store *st, const struct store_binding *b);
/* Reads one binding by key (strings valid during cb only). -ENOENT. */
int store_binding_get(struct store *st, const char *number,
		      const char *contact, store_binding_cb cb, void *arg);
int store_binding_delete(struct store *st, const char *number,
			 const char *contact);
/* Deletes all bindings of `number` made by `username` (NULL: all of the
 * number's bindings, the "Contact: *" case); *removed_out may be NULL. */
int store_binding_delete_all(struct store *st, const char *number,
			     const char *username, uint64_t *removed_out);
/* Unexpired (expires_at > now) bindings of a number, newest first. */
int store_binding_list(struct store *st, const char *number, int64_t now,
		       store_binding_cb cb, void *arg);
/* Unexpired bindings of one device (for max-bindings-per-device). */
int store_binding_count_device(struct store *st, const char *username,
			       int64_t now, uint64_t *out);
/* Every unexpired binding (to rebuild the in-memory registrar at start). */
int store_binding_load_all(struct store *st, int64_t now,
			   store_binding_cb cb, void *arg);
/* Deletes bindings with expires_at <= now. */
int store_binding_expire(struct store *st, int64_t now, uint64_t *removed_out);
int store_binding_count(struct store *st, int64_t now, uint64_t *out);

#endif
