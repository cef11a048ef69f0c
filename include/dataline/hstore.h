/*
 * hstore: the handset's local store, STATE_DIR/messages.db (SQLite, mode
 * 0600): the outbox (texts the user asked to send, until the server took
 * them and a delivery report came back), the inbox (received texts, once
 * each) and the contacts with their "registered with dataline" mark.
 * The daemon serves `dataline inbox|outbox|contacts` and its D-Bus
 * interface from it. docs/handset.md "The local store (messages.db)".
 *
 * Durability: the file is in WAL mode with synchronous=FULL, so every call
 * that writes commits and fsyncs before it returns. Once
 * hstore_outbox_add() or hstore_inbox_add() returned 0 the text survives a
 * crash, kill -9 and a power cut; this is what lets the daemon answer
 * "queued" to the user, and answer a received text with 2xx, only then.
 *
 * Resends: every outbox text gets its Message-ID once, at insert, and
 * keeps it for every attempt; the server deduplicates by sender and
 * imdn.Message-ID, so a text sent again after a crash or a dropped
 * connection (its 202 never seen) is stored once. A text stays queued or
 * sending until the 202: hstore_outbox_pending() is the list to (re)send.
 *
 * One struct hstore is one SQLite connection; it belongs to one thread.
 * Times are Unix seconds given by the caller. Functions return 0 or
 * -errno; output parameters are set only on success. Lists are arrays
 * owned by the caller, freed with the matching *_free().
 */
#ifndef DATALINE_HSTORE_H
#define DATALINE_HSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dataline/e164.h"

#define HSTORE_FILE "messages.db"	/* its name in the state directory */
#define HSTORE_SCHEMA_VERSION 2		/* PRAGMA user_version this code writes */
#define HSTORE_ID_MAX 256		/* a Message-ID: 1..255 bytes + NUL */
#define HSTORE_TYPE_MAX 128		/* a content type: 1..127 bytes + NUL */
#define HSTORE_STATUS_MAX 128		/* last status, truncated to fit */
#define HSTORE_BODY_MAX 65535		/* as CPIM content (docs/messaging.md) */
#define HSTORE_DEFAULT_TYPE "text/plain;charset=UTF-8"

struct hstore;

/*
 * Opens (or creates, mode 0600) the store at PATH and brings its schema
 * up to HSTORE_SCHEMA_VERSION. A file that is not an SQLite database, or
 * is damaged (garbage, truncated), or belongs to another program gives
 * -EBADMSG and a logged message naming the file, which is left untouched;
 * a schema newer than this code gives -EPROTO (also untouched). Other
 * errors: -ENOMEM, -EACCES etc. from the file system, -EIO.
 */
int hstore_open(const char *path, struct hstore **out);
void hstore_close(struct hstore *h);
/* The file's PRAGMA user_version. */
int hstore_schema_version(struct hstore *h, int *out);

/* A text to store: outbox (MESSAGE_ID NULL: generated) or inbox. */
struct hstore_text {
	const char *peer;		/* E.164 (e164_is_valid) */
	const char *message_id;		/* inbox: required, 1..255 bytes */
	const char *content_type;	/* NULL: HSTORE_DEFAULT_TYPE */
	const void *body;		/* body_len bytes, any content */
	size_t body_len;		/* <= HSTORE_BODY_MAX */
};

enum hstore_order { HSTORE_OLDEST_FIRST, HSTORE_NEWEST_FIRST };

/* A stored text, as an outbox and an inbox entry begin. */
struct hstore_msg {
	int64_t id;			/* local id, never reused */
	char peer[E164_MAX];
	char message_id[HSTORE_ID_MAX];	/* imdn.Message-ID */
	char content_type[HSTORE_TYPE_MAX];
	char *body;			/* owned; body_len bytes + a NUL */
	size_t body_len;
};

/* ------------------------------------------------------------- outbox */

/*
 * An outbox text's state. Pending: QUEUED, SENDING. In the server:
 * ACCEPTED. Final: DELIVERED, FAILED, SENT_BY_CARRIER. States only move
 * forward (hstore_outbox_set); the numbers are stored in the file.
 */
enum hstore_out_state {
	HSTORE_OUT_QUEUED = 0,		/* waiting for its (next) attempt */
	HSTORE_OUT_SENDING = 1,		/* a MESSAGE is out, no final answer */
	HSTORE_OUT_ACCEPTED = 2,	/* the server's 202: it has the text */
	HSTORE_OUT_DELIVERED = 3,	/* an IMDN "delivered" came back */
	HSTORE_OUT_FAILED = 4,		/* a final error, or IMDN "failed" */
	HSTORE_OUT_SENT_BY_CARRIER = 5,	/* sent as a carrier SMS instead */
};
/* "queued", "sending", ... (the JSON and D-Bus names); NULL if unknown. */
const char *hstore_out_state_name(enum hstore_out_state s);

struct hstore_out {
	struct hstore_msg msg;		/* id increasing; peer: the recipient */
	int64_t created;		/* hstore_outbox_add's NOW */
	int64_t updated;		/* the last state change */
	enum hstore_out_state state;
	int attempts;			/* times it went SENDING */
	char last_status[HSTORE_STATUS_MAX];	/* "" or e.g. "503 ..." */
	int64_t next_at;		/* pending: not before this time */
};

/*
 * Stores T as QUEUED (attempts 0, next_at NOW) with a new Message-ID
 * (32 hex digits, or T->message_id if given), durably (see above).
 * *ID and MESSAGE_ID (may be NULL) get the text's id and Message-ID.
 * -EINVAL: peer not E.164, empty or long fields; -EMSGSIZE: body too big;
 * -EEXIST: a given Message-ID already in the outbox.
 */
int hstore_outbox_add(struct hstore *h, const struct hstore_text *t,
		      int64_t now, int64_t *id,
		      char message_id[HSTORE_ID_MAX]);

/*
 * Moves text ID to state TO; STATUS (NULL: kept) becomes last_status,
 * NEXT_AT (< 0: kept) next_at. Allowed moves:
 *   QUEUED  -> SENDING, ACCEPTED, DELIVERED, FAILED, SENT_BY_CARRIER
 *   SENDING -> QUEUED (retry later), SENDING (attempt again), and the same
 *   ACCEPTED -> DELIVERED, FAILED, SENT_BY_CARRIER
 * Every move to SENDING counts an attempt. Idempotent: a move to the
 * state the text is in (a second 202, a second report), or a late one (a
 * 202 after the IMDN, anything after a final state) changes nothing and
 * returns 0, except that a text no longer pending cannot go back to
 * QUEUED or SENDING: -EALREADY (do not send it). -ENOENT: no such text.
 * DELIVERED may come before ACCEPTED: a recipient can get a text before
 * its sender sees the 202 (docs/messaging.md).
 */
int hstore_outbox_set(struct hstore *h, int64_t id, enum hstore_out_state to,
		      const char *status, int64_t next_at, int64_t now);
/*
 * The same for a delivery report, found by the Message-ID it names.
 * -ENOENT (logged, not fatal): no outbox text has that Message-ID.
 * *ID (may be NULL) gets the text's id.
 */
int hstore_outbox_report(struct hstore *h, const char *message_id,
			 enum hstore_out_state to, const char *status,
			 int64_t now, int64_t *id);

/* One text; free with hstore_outbox_free(*out, 1). -ENOENT: none. */
int hstore_outbox_get(struct hstore *h, int64_t id, struct hstore_out **out);
/* The QUEUED and SENDING texts with next_at <= DUE (INT64_MAX: all),
 * oldest first: what must be (re)sent after a crash or a reconnect. */
int hstore_outbox_pending(struct hstore *h, int64_t due,
			  struct hstore_out **out, size_t *n);
/* Every text, in ORDER; LIMIT 0 means no limit. */
int hstore_outbox_list(struct hstore *h, enum hstore_order order,
		       size_t limit, size_t offset, struct hstore_out **out,
		       size_t *n);
void hstore_outbox_free(struct hstore_out *v, size_t n);

/* -------------------------------------------------------------- inbox */

struct hstore_in {
	struct hstore_msg msg;	/* id: the order texts came in; peer: sender */
	int64_t received;	/* hstore_inbox_add's NOW */
	bool read;
};

/*
 * Stores a received text, durably, unread. A text is known by its sender
 * and Message-ID (Message-IDs are unique per sender): the same pair again
 * (the server delivering a text twice) stores nothing and gives -EEXIST;
 * *ID (may be NULL) gets the id in both cases. A text without an
 * imdn.Message-ID needs a key of the caller's (e.g. Call-ID and CSeq).
 * -EINVAL, -EMSGSIZE as hstore_outbox_add.
 */
int hstore_inbox_add(struct hstore *h, const struct hstore_text *t,
		     int64_t now, int64_t *id);
int hstore_inbox_set_read(struct hstore *h, int64_t id, bool read);
int hstore_inbox_list(struct hstore *h, enum hstore_order order,
		      size_t limit, size_t offset, struct hstore_in **out,
		      size_t *n);
void hstore_inbox_free(struct hstore_in *v, size_t n);

/* ------------------------------------------- delivery notifications */

/*
 * A delivery notification (RFC 5438 IMDN "delivered") this handset owes
 * the sender of a text it stored. It is written in the same transaction
 * as the text, so a text answered 2xx always has its notification on
 * disk; it stays until the server took it (2xx) or refused it for good.
 */
#define HSTORE_DATETIME_MAX 64
struct hstore_notice {
	int64_t id;
	char peer[E164_MAX];			/* the text's sender */
	char text_id[HSTORE_ID_MAX];		/* the text's imdn.Message-ID */
	char notice_id[HSTORE_ID_MAX];		/* the notification's own */
	char datetime[HSTORE_DATETIME_MAX];	/* the text's DateTime */
	int64_t attempts;
	int64_t next_at;
};

/*
 * hstore_inbox_add(), and in the same transaction a notification owed to
 * T's sender for T (DATETIME: the text's CPIM DateTime, NULL or "": NOW),
 * given a Message-ID of its own. A duplicate text (-EEXIST, *ID set)
 * still records the notification if none is pending for it: the sender
 * asked again, so it has not seen one.
 */
int hstore_inbox_add_notify(struct hstore *h, const struct hstore_text *t,
			    const char *datetime, int64_t now, int64_t *id);
/* Notifications due at DUE (next_at <= DUE), oldest first, at most LIMIT;
 * free the array with free(). */
int hstore_notice_due(struct hstore *h, int64_t due, size_t limit,
		      struct hstore_notice **out, size_t *n);
/* The earliest next_at of all notifications; -ENOENT: none. */
int hstore_notice_next(struct hstore *h, int64_t *next_at);
/* Notification ID is done with (sent, or refused for good). */
int hstore_notice_delete(struct hstore *h, int64_t id);
/* One more attempt of ID failed: the next at NEXT_AT. */
int hstore_notice_retry(struct hstore *h, int64_t id, int64_t next_at);
/* How many notifications are pending. */
int hstore_notice_count(struct hstore *h, int64_t *n);

/* ----------------------------------------------------------- contacts */

enum hstore_mark {
	HSTORE_MARK_UNKNOWN = -1,	/* never asked, or no answer */
	HSTORE_MARK_NO = 0,		/* not on dataline */
	HSTORE_MARK_YES = 1,		/* registered with dataline */
};

struct hstore_contact {
	int64_t id;
	char number[E164_MAX];		/* unique */
	char *name;			/* owned; "" if none */
	char source[32];		/* "vcard", ... */
	enum hstore_mark registered;
	int64_t synced;			/* when the mark was set; 0: never */
	int64_t updated;		/* last put */
};

struct hstore_contact_put {
	const char *number;		/* E.164 */
	const char *name;		/* NULL: "" */
	const char *source;		/* NULL: "vcard"; < 32 bytes */
};

/*
 * Adds or updates N contacts in one transaction (by number: name and
 * source are replaced, the mark is kept). All or nothing: one number not
 * E.164 (or a source too long) gives -EINVAL and stores none, so that the
 * caller, which reports per entry, validates first (e164_normalize*).
 */
int hstore_contacts_put(struct hstore *h, const struct hstore_contact_put *v,
			size_t n, int64_t now);
int hstore_contact_delete(struct hstore *h, const char *number);

struct hstore_mark_set {
	const char *number;		/* E.164 */
	enum hstore_mark registered;
};
/*
 * Sets the marks of N numbers in one transaction, synced = NOW. Numbers
 * not in the contacts are skipped; *UPDATED (may be NULL) counts the
 * contacts changed. All or nothing: -EINVAL (a number not E.164, a mark
 * out of range) stores none.
 */
int hstore_contacts_set_marks(struct hstore *h,
			      const struct hstore_mark_set *v, size_t n,
			      int64_t now, size_t *updated);
/* By name, then number; LIMIT 0 means no limit. */
int hstore_contacts_list(struct hstore *h, size_t limit, size_t offset,
			 struct hstore_contact **out, size_t *n);
void hstore_contacts_free(struct hstore_contact *v, size_t n);

/* --------------------------------------------------------------- JSON */

/*
 * `dataline inbox|outbox --json`: writes V as one JSON array (indented,
 * a newline after it) to F. Field names are stable (docs/handset.md):
 * outbox: id, peer, message_id, content_type, body, created, updated,
 *   state (hstore_out_state_name), attempts, last_status, next_at;
 * inbox: id, peer, message_id, content_type, body, received, read.
 * A body that is not UTF-8 is null, with body_base64 beside it.
 * -ENOMEM, -EIO (write error).
 */
int hstore_outbox_json(const struct hstore_out *v, size_t n, FILE *f);
int hstore_inbox_json(const struct hstore_in *v, size_t n, FILE *f);

#endif
