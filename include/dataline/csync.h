/*
 * csync: the handset's contacts (issue 8, patent claim 3). Import of an
 * address book exported as vCard (2.1/3.0/4.0, lib/contacts' reader) into
 * the local store (hstore), and discovery sync: which of the stored
 * numbers are registered with dataline, asked of the server with POST
 * /v1/contacts/discover (docs/protocol.md "Contact discovery") over HTTPS
 * with HTTP Digest (RFC 7616) and the device's SIP credentials, in batches
 * of at most 1,000 numbers; the answers become the contacts' marks.
 *
 * The sync runs its HTTPS exchange on a thread of its own, with a private
 * event_base, so the daemon's loop never waits for the network; the store
 * is read and written only on the caller's thread (docs/decisions.md,
 * "Contacts sync on a worker thread"). docs/handset.md "Contacts".
 *
 * The worker writes to TLS sockets the server may have closed: the process
 * must ignore SIGPIPE (the daemon and the server do).
 *
 * Functions return 0 or -errno; output parameters are set only on success
 * unless said otherwise.
 */
#ifndef DATALINE_CSYNC_H
#define DATALINE_CSYNC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "dataline/agent.h"
#include "dataline/e164.h"
#include "dataline/hstore.h"

#define CSYNC_MAX_CONTACTS 10000	/* numbers one import stores */
#define CSYNC_NAME_MAX 256		/* bytes of a stored name, NUL included */
#define CSYNC_DETAIL_MAX 80		/* a problem's quoted value, NUL incl. */
#define CSYNC_BATCH 1000		/* numbers per discovery request */
#define CSYNC_RESP_MAX (1024u * 1024u)	/* bytes of one answer's body */
#define CSYNC_TIMEOUT_S 20		/* per HTTP request */
#define CSYNC_PATH "/v1/contacts/discover"

/* ------------------------------------------------------------- import */

enum csync_problem_kind {
	CSYNC_P_NOT_VCARD,	/* no BEGIN:VCARD anywhere: nothing imported */
	CSYNC_P_CARD,		/* a broken card (reader's text), skipped */
	CSYNC_P_TEL_NOT_NUMBER,	/* a TEL that is no phone number */
	CSYNC_P_TEL_NATIONAL,	/* a national number, no country code set */
	CSYNC_P_NO_TEL,		/* a card without any TEL: nothing to store */
	CSYNC_P_TEL_DROPPED,	/* more than VCARD_MAX_TEL TEL: the rest */
	CSYNC_P_CAP,		/* over the cap: the rest of the file ignored */
};

struct csync_problem {
	enum csync_problem_kind kind;
	uint32_t line;		/* the offending line (1-based) */
	uint32_t card_line;	/* its card's BEGIN line, 0 if none */
	const char *what;	/* static text, e.g. "TEL is not a number" */
	const char *detail;	/* the value in question ("" if none);
				 * valid during the callback only */
};

typedef void (*csync_problem_cb)(void *arg, const struct csync_problem *p);

struct csync_import_opts {
	const char *country_code;	/* "49": for national forms; NULL or
					 * "": international forms only */
	size_t max_contacts;		/* 0: CSYNC_MAX_CONTACTS */
	csync_problem_cb problem;	/* may be NULL */
	void *arg;
};

struct csync_import_result {
	size_t cards;		/* cards read well (with or without TEL) */
	size_t bad_cards;	/* broken cards, skipped */
	size_t numbers;		/* distinct numbers stored */
	size_t duplicates;	/* a number seen again in the file (the
				 * first card's name is kept) */
	size_t problems;	/* callbacks made */
	int not_vcard;		/* the file holds no vCard at all */
	int capped;		/* the cap was reached */
};

/*
 * Reads the LEN bytes at BUF as a .vcf file and stores every valid number
 * (E.164, national forms with O->country_code) with its card's name (FN,
 * else N as "given family", decoded, invalid UTF-8 bytes as '?', cut at
 * CSYNC_NAME_MAX) in one hstore_contacts_put() batch (source "vcard").
 * Every problem is reported through O->problem and counted; none stops
 * the rest of the file. At O->max_contacts numbers the import stops
 * (CSYNC_P_CAP, res->capped) and stores those read so far.
 * Returns 0 with *RES (also when some entries had problems); -EBADMSG
 * with *RES (not_vcard set, one CSYNC_P_NOT_VCARD report) when the file
 * holds no BEGIN:VCARD: nothing is stored; -EINVAL bad arguments or
 * country code; -ENOMEM; the store's errors (nothing stored).
 */
int csync_import(struct hstore *h, const void *buf, size_t len,
		 const struct csync_import_opts *o, int64_t now,
		 struct csync_import_result *res);

/* "TEL is not a number", ... for a kind (never NULL). */
const char *csync_problem_name(enum csync_problem_kind k);

/* ------------------------------------------------------------ account */

struct csync_account {
	char server[256];		/* "https://host:port" (the API URL) */
	char number[E164_MAX];		/* the account's own number */
	char username[128];		/* digest username (SIP credential) */
	char password[128];
	char country_code[4];		/* for national forms; "" none */
	char ca_file[PATH_MAX];		/* "" none */
	char pin[AGENT_PIN_LEN];	/* "" none */
	int tofu;			/* trust on first use */
};

/*
 * Reads STATE_DIR/state.json (docs/handset.md "The state directory"):
 * server, trust {ca_file, pin_sha256, tofu}, account {number, username,
 * password}, and the optional setting country_code (1-3 digits); without
 * it the country code is the account number's own (csync_country_code).
 * -ENOENT no file; -EINVAL not a provisioned state (no account, a field
 * too long, a bad country code).
 */
int csync_account_load(const char *state_dir, struct csync_account *out);

/*
 * The country calling code an E.164 number begins with (ITU-T E.164
 * assignments: 1 and 7 are one digit, the listed two-digit codes, else
 * three digits): "+4915..." -> "49". -EINVAL if NUMBER is not E.164.
 */
int csync_country_code(const char *number, char out[4]);

/* ---------------------------------------------------------- discovery */

/* What one discovery answer said, summed over the batches of a sync. */
struct csync_counts {
	size_t registered;	/* registered: true */
	size_t not_registered;	/* registered: false */
	size_t entry_errors;	/* per-entry "error" results */
	long remaining_today;	/* the last answer's; -1 if none */
};

/*
 * Parses a 200 answer to the request for the N numbers SENT (results[i]
 * answers sent[i]): MARKS (N entries) get one mark per answered number,
 * number pointing at SENT's string, *NMARKS their count; per-entry errors
 * are counted in C (added to it) and give no mark. -E2BIG: LEN over
 * CSYNC_RESP_MAX; -EBADMSG: not JSON, no results array, a count or an
 * input that does not match SENT, a result without registered or error.
 * Nothing is written on failure.
 */
int csync_parse_answer(const char *body, size_t len, const char *const *sent,
		       size_t n, struct hstore_mark_set *marks, size_t *nmarks,
		       struct csync_counts *c);

/*
 * Builds the request body {"numbers":[...]} for N E.164 numbers (at most
 * CSYNC_BATCH) into a malloc'd string *OUT (caller frees). -EINVAL.
 */
int csync_request_body(const char *const *numbers, size_t n, char **out);

struct csync_result {
	int err;		/* 0; -EAGAIN: 429 (retry_after); -EACCES: our
				 * credentials refused (401); -EPROTO: TLS
				 * failed or a bad answer; -EMSGSIZE: an
				 * answer over CSYNC_RESP_MAX; -ECONNREFUSED,
				 * -ETIMEDOUT: no answer; -ECANCELED; ... */
	int http_status;	/* the last HTTP status, 0 if none */
	char error[32];		/* the last non-200 answer's "error" */
	uint32_t retry_after;	/* 429: seconds to wait */
	size_t contacts;	/* numbers in the store when it started */
	size_t batches;		/* requests answered 200 */
	size_t asked;		/* numbers in those requests */
	struct csync_counts counts;
	size_t marks_changed;	/* contacts whose mark changed */
	char pin_seen[AGENT_PIN_LEN];	/* the server's certificate (TOFU:
					 * the caller may pin it); "" */
};

struct csync_job;
struct event_base;

/* Called on the loop's thread once the marks are stored; R is valid
 * during the call; the job is freed when it returns. */
typedef void (*csync_done_cb)(void *arg, const struct csync_result *r);

/*
 * Starts a sync of every contact in H (least recently synced first):
 * reads the numbers now, runs the requests on a worker thread, then, on
 * BASE's thread, stores the marks of every batch answered (also when a
 * later one failed, e.g. 429) with hstore_contacts_set_marks() and calls
 * DONE. H and BASE must outlive the job. *OUT may be cancelled until
 * DONE runs. -EINVAL, -ENOMEM, -EAGAIN (no thread), the store's errors.
 */
int csync_sync_start(struct event_base *base, const struct csync_account *a,
		     struct hstore *h, csync_done_cb done, void *arg,
		     struct csync_job **out);
/* Stops a job before its DONE ran, without waiting for the network:
 * DONE is not called, no mark is stored, everything is freed (the worker
 * lets go of its part when it notices, at once or after a name lookup). */
void csync_job_cancel(struct csync_job *j);

/* The same, blocking in the caller's thread (tools and tests). Returns
 * R->err; R is filled in every case. */
int csync_sync(const struct csync_account *a, struct hstore *h, int64_t now,
	       struct csync_result *r);

#endif
