/*
 * test_hstore: the handset's messages.db (include/dataline/hstore.h).
 * Every outbox transition (a table of from x to), delivery reports by
 * Message-ID (unknown, early, twice), pending order and due times, inbox
 * dedup and order with limit/offset, delivery notifications owed (stored
 * with their text, kept once, retried, deleted; a schema 1 file migrated),
 * contacts and batch marks, the JSON
 * export, bad files (garbage, truncated, another program's database, a
 * schema from the future: refused and left byte for byte as they were),
 * and a crash test: a forked child adds outbox texts and reports each id
 * once the call returned; the parent SIGKILLs it at a random moment and
 * every reported id must be there after reopen.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "dataline/hstore.h"

#define PEER "+4915100000001"
#define PEER2 "+8613800138000"

struct fx {
	char dir[64], path[96];
	struct hstore *h;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_hstore.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/" HSTORE_FILE, f->dir);
	assert_int_equal(hstore_open(f->path, &f->h), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	hstore_close(f->h);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void reopen(struct fx *f)
{
	hstore_close(f->h);
	f->h = NULL;
	assert_int_equal(hstore_open(f->path, &f->h), 0);
}

static int64_t out_add(struct fx *f, const char *body, int64_t now,
		       char mid[HSTORE_ID_MAX])
{
	struct hstore_text t = { .peer = PEER, .body = body,
				 .body_len = strlen(body) };
	int64_t id = -1;

	assert_int_equal(hstore_outbox_add(f->h, &t, now, &id, mid), 0);
	return id;
}

static struct hstore_out *out_get(struct fx *f, int64_t id)
{
	struct hstore_out *m = NULL;

	assert_int_equal(hstore_outbox_get(f->h, id, &m), 0);
	return m;
}

static int in_add(struct fx *f, const char *peer, const char *mid,
		  const char *body, int64_t now, int64_t *id)
{
	struct hstore_text t = { .peer = peer, .message_id = mid,
				 .body = body, .body_len = strlen(body) };

	return hstore_inbox_add(f->h, &t, now, id);
}

/* The file's bytes, to show a refused file was not touched. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *b;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return b;
}

static void spit(const char *path, const void *b, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, len, fp), len);
	fclose(fp);
}

/* hstore_open on PATH must give WANT and leave the file as it was. */
static void assert_refused(const char *path, int want)
{
	struct hstore *h = NULL;
	size_t n0, n1;
	char *b0 = slurp(path, &n0), *b1;

	assert_int_equal(hstore_open(path, &h), want);
	assert_null(h);
	b1 = slurp(path, &n1);
	assert_int_equal(n0, n1);
	assert_memory_equal(b0, b1, n0);
	free(b0);
	free(b1);
}

/* ---------------------------------------------------------- tests */

static void test_open_creates_private(void **state)
{
	struct fx *f = *state;
	struct stat sb;
	int v = 0;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(hstore_schema_version(f->h, &v), 0);
	assert_int_equal(v, HSTORE_SCHEMA_VERSION);
	reopen(f);
	assert_int_equal(hstore_schema_version(f->h, &v), 0);
	assert_int_equal(v, HSTORE_SCHEMA_VERSION);
	assert_int_equal(hstore_open(NULL, &f->h), -EINVAL);
	assert_int_equal(hstore_open("/nonexistent/dir/messages.db", &f->h),
			 -ENOENT);
}

#define Q HSTORE_OUT_QUEUED
#define S HSTORE_OUT_SENDING
#define A HSTORE_OUT_ACCEPTED
#define D HSTORE_OUT_DELIVERED
#define F HSTORE_OUT_FAILED
#define C HSTORE_OUT_SENT_BY_CARRIER
#define NSTATES 6

/* From each state (rows) to each state (columns): the result code and the
 * state afterwards. E: -EALREADY (not pending: do not send). */
#define E (-EALREADY)
static const struct { int rc; enum hstore_out_state state; } moves[NSTATES][NSTATES] = {
	/*          ->Q       ->S       ->A       ->D       ->F       ->C */
	[Q] = { {0, Q}, {0, S}, {0, A}, {0, D}, {0, F}, {0, C} },
	[S] = { {0, Q}, {0, S}, {0, A}, {0, D}, {0, F}, {0, C} },
	[A] = { {E, A}, {E, A}, {0, A}, {0, D}, {0, F}, {0, C} },
	[D] = { {E, D}, {E, D}, {0, D}, {0, D}, {0, D}, {0, D} },
	[F] = { {E, F}, {E, F}, {0, F}, {0, F}, {0, F}, {0, F} },
	[C] = { {E, C}, {E, C}, {0, C}, {0, C}, {0, C}, {0, C} },
};
#undef E

/* Puts a new text into state FROM the ordinary way (time 100..102). */
static int64_t out_in_state(struct fx *f, enum hstore_out_state from)
{
	int64_t id = out_add(f, "hello", 100, NULL);

	if (from == S || from == A)
		assert_int_equal(hstore_outbox_set(f->h, id, S, NULL, -1, 101), 0);
	if (from != Q && from != S)
		assert_int_equal(hstore_outbox_set(f->h, id, from, "from", -1,
						   102), 0);
	return id;
}

static void test_outbox_every_transition(void **state)
{
	struct fx *f = *state;

	for (enum hstore_out_state from = 0; from < NSTATES; from++) {
		for (enum hstore_out_state to = 0; to < NSTATES; to++) {
			int64_t id = out_in_state(f, from);
			struct hstore_out *b = out_get(f, id), *m;
			int rc = hstore_outbox_set(f->h, id, to, "now", 500,
						   200);
			int changed = moves[from][to].state != from ||
				      (rc == 0 && (to == Q || to == S));

			m = out_get(f, id);
			print_message("%s -> %s: %d, %s\n",
				      hstore_out_state_name(from),
				      hstore_out_state_name(to), rc,
				      hstore_out_state_name(m->state));
			assert_int_equal(rc, moves[from][to].rc);
			assert_int_equal(m->state, moves[from][to].state);
			/* a move to SENDING is an attempt */
			assert_int_equal(m->attempts, b->attempts +
					 (rc == 0 && to == S));
			if (changed) {
				assert_string_equal(m->last_status, "now");
				assert_int_equal(m->next_at, 500);
				assert_int_equal(m->updated, 200);
			} else {
				/* a no-op touches nothing */
				assert_string_equal(m->last_status,
						    b->last_status);
				assert_int_equal(m->next_at, b->next_at);
				assert_int_equal(m->updated, b->updated);
			}
			hstore_outbox_free(b, 1);
			hstore_outbox_free(m, 1);
		}
	}
	assert_int_equal(hstore_outbox_set(f->h, 9999, A, NULL, -1, 1),
			 -ENOENT);
	assert_int_equal(hstore_outbox_set(f->h, 1, (enum hstore_out_state)17, NULL, -1, 1), -EINVAL);
	assert_null(hstore_out_state_name((enum hstore_out_state)17));
	assert_string_equal(hstore_out_state_name(C), "sent_by_carrier");
}

static void test_outbox_report(void **state)
{
	struct fx *f = *state;
	char mid[HSTORE_ID_MAX], mid2[HSTORE_ID_MAX];
	int64_t id = out_add(f, "a", 10, mid), id2, got = 0;
	struct hstore_out *m;

	id2 = out_add(f, "b", 11, mid2);
	assert_int_equal(strlen(mid), 32);
	assert_string_not_equal(mid, mid2);
	/* an IMDN before the 202 (the recipient was quicker), then the 202 */
	assert_int_equal(hstore_outbox_set(f->h, id, S, NULL, -1, 12), 0);
	assert_int_equal(hstore_outbox_report(f->h, mid, D, "delivered", 13,
					      &got), 0);
	assert_int_equal(got, id);
	assert_int_equal(hstore_outbox_set(f->h, id, A, "202", -1, 14), 0);
	/* the same report twice */
	assert_int_equal(hstore_outbox_report(f->h, mid, D, "delivered", 15,
					      NULL), 0);
	m = out_get(f, id);
	assert_int_equal(m->state, D);
	assert_string_equal(m->last_status, "delivered");
	assert_int_equal(m->updated, 13);
	assert_string_equal(m->msg.message_id, mid);
	hstore_outbox_free(m, 1);
	/* an IMDN failed after the 202 */
	assert_int_equal(hstore_outbox_set(f->h, id2, A, "202 Accepted", -1,
					   20), 0);
	assert_int_equal(hstore_outbox_report(f->h, mid2, F, "IMDN failed", 21,
					      NULL), 0);
	m = out_get(f, id2);
	assert_int_equal(m->state, F);
	assert_string_equal(m->last_status, "IMDN failed");
	hstore_outbox_free(m, 1);
	/* a report for a text we do not have: said, not fatal */
	got = 77;
	assert_int_equal(hstore_outbox_report(f->h, "nosuchid", D, NULL, 22,
					      &got), -ENOENT);
	assert_int_equal(got, 77);
	assert_int_equal(hstore_outbox_report(f->h, NULL, D, NULL, 22, NULL),
			 -EINVAL);
}

static void test_outbox_pending(void **state)
{
	struct fx *f = *state;
	char mid[HSTORE_ID_MAX];
	int64_t a = out_add(f, "one", 10, mid);
	int64_t b = out_add(f, "two", 11, NULL);
	int64_t c = out_add(f, "three", 12, NULL);
	int64_t d = out_add(f, "four", 13, NULL);
	struct hstore_out *v;
	size_t n;

	assert_true(a < b && b < c && c < d);
	/* b went through, c failed for now (retry at 100), d is out */
	assert_int_equal(hstore_outbox_set(f->h, b, S, NULL, -1, 20), 0);
	assert_int_equal(hstore_outbox_set(f->h, b, A, "202", -1, 21), 0);
	assert_int_equal(hstore_outbox_set(f->h, c, S, NULL, -1, 20), 0);
	assert_int_equal(hstore_outbox_set(f->h, c, Q, "503", 100, 21), 0);
	assert_int_equal(hstore_outbox_set(f->h, d, S, NULL, -1, 20), 0);

	/* a crash here: reopen, and all but b are still to send */
	reopen(f);
	assert_int_equal(hstore_outbox_pending(f->h, INT64_MAX, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].msg.id, a);
	assert_int_equal(v[1].msg.id, c);
	assert_int_equal(v[2].msg.id, d);
	assert_string_equal(v[0].msg.message_id, mid);
	assert_string_equal(v[0].msg.body, "one");
	assert_int_equal(v[0].msg.body_len, 3);
	assert_string_equal(v[0].msg.content_type, HSTORE_DEFAULT_TYPE);
	assert_string_equal(v[0].msg.peer, PEER);
	assert_int_equal(v[0].created, 10);
	assert_int_equal(v[1].state, Q);
	assert_int_equal(v[1].attempts, 1);
	assert_string_equal(v[1].last_status, "503");
	assert_int_equal(v[2].state, S);
	hstore_outbox_free(v, n);
	/* due now (50): c waits until 100 */
	assert_int_equal(hstore_outbox_pending(f->h, 50, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].msg.id, a);
	assert_int_equal(v[1].msg.id, d);
	hstore_outbox_free(v, n);
	/* the resend keeps its Message-ID; a second 202 is a no-op */
	assert_int_equal(hstore_outbox_set(f->h, d, S, NULL, -1, 60), 0);
	assert_int_equal(hstore_outbox_set(f->h, d, A, "202", -1, 61), 0);
	assert_int_equal(hstore_outbox_set(f->h, d, A, "202", -1, 62), 0);
	assert_int_equal(hstore_outbox_set(f->h, d, S, NULL, -1, 63),
			 -EALREADY);
	v = out_get(f, d);
	assert_int_equal(v->attempts, 2);
	assert_int_equal(v->updated, 61);
	hstore_outbox_free(v, 1);

	/* the whole outbox, both orders, limit and offset */
	assert_int_equal(hstore_outbox_list(f->h, HSTORE_NEWEST_FIRST, 2, 1,
					    &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].msg.id, c);
	assert_int_equal(v[1].msg.id, b);
	hstore_outbox_free(v, n);
	assert_int_equal(hstore_outbox_list(f->h, HSTORE_OLDEST_FIRST, 0, 0,
					    &v, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].msg.id, a);
	assert_int_equal(v[3].msg.id, d);
	hstore_outbox_free(v, n);
}

static void test_outbox_bad_input(void **state)
{
	struct fx *f = *state;
	static char big[HSTORE_BODY_MAX + 1];
	char longid[HSTORE_ID_MAX + 1];
	struct hstore_text t = { .peer = "015112345678", .body = "x",
				 .body_len = 1 };
	struct hstore_out *v;
	size_t n;
	int64_t id = 5;

	assert_int_equal(hstore_outbox_add(f->h, &t, 1, &id, NULL), -EINVAL);
	t.peer = NULL;
	assert_int_equal(hstore_outbox_add(f->h, &t, 1, &id, NULL), -EINVAL);
	assert_int_equal(hstore_outbox_add(f->h, NULL, 1, &id, NULL), -EINVAL);
	t.peer = PEER;
	t.body = big;
	t.body_len = sizeof(big);
	assert_int_equal(hstore_outbox_add(f->h, &t, 1, &id, NULL), -EMSGSIZE);
	t.body_len = 1;
	t.content_type = "";
	assert_int_equal(hstore_outbox_add(f->h, &t, 1, &id, NULL), -EINVAL);
	t.content_type = NULL;
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	t.message_id = longid;
	assert_int_equal(hstore_outbox_add(f->h, &t, 1, &id, NULL), -EINVAL);
	assert_int_equal(id, 5);
	/* a given Message-ID is kept, and must be new */
	t.message_id = "given-1";
	assert_int_equal(hstore_outbox_add(f->h, &t, 1, &id, NULL), 0);
	assert_int_equal(hstore_outbox_add(f->h, &t, 1, &id, NULL), -EEXIST);
	/* an empty body is a text too */
	t.message_id = NULL;
	t.body = NULL;
	t.body_len = 0;
	assert_int_equal(hstore_outbox_add(f->h, &t, 1, &id, NULL), 0);
	assert_int_equal(hstore_outbox_list(f->h, HSTORE_OLDEST_FIRST, 0, 0,
					    &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].msg.message_id, "given-1");
	assert_int_equal(v[1].msg.body_len, 0);
	assert_string_equal(v[1].msg.body, "");
	hstore_outbox_free(v, n);
}

static void test_inbox_dedup(void **state)
{
	struct fx *f = *state;
	struct hstore_in *v;
	int64_t id, id2 = 0;
	size_t n;

	assert_int_equal(in_add(f, PEER, "m1", "hi", 10, &id), 0);
	/* the server delivers it again: nothing stored, the same id */
	assert_int_equal(in_add(f, PEER, "m1", "hi", 11, &id2), -EEXIST);
	assert_int_equal(id2, id);
	/* after a restart too */
	reopen(f);
	assert_int_equal(in_add(f, PEER, "m1", "hi again", 12, NULL), -EEXIST);
	/* Message-IDs are unique per sender only */
	assert_int_equal(in_add(f, PEER2, "m1", "other", 13, &id2), 0);
	assert_true(id2 > id);
	assert_int_equal(hstore_inbox_list(f->h, HSTORE_OLDEST_FIRST, 0, 0,
					   &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].msg.body, "hi");
	assert_int_equal(v[0].received, 10);
	assert_false(v[0].read);
	assert_string_equal(v[1].msg.peer, PEER2);
	hstore_inbox_free(v, n);
	/* refused input */
	assert_int_equal(in_add(f, PEER, NULL, "x", 1, NULL), -EINVAL);
	assert_int_equal(in_add(f, PEER, "", "x", 1, NULL), -EINVAL);
	assert_int_equal(in_add(f, "sip:bob@example.com", "m9", "x", 1, NULL),
			 -EINVAL);
}

static void test_inbox_order(void **state)
{
	struct fx *f = *state;
	int64_t ids[5];
	struct hstore_in *v;
	char mid[16];
	size_t n;

	for (int i = 0; i < 5; i++) {
		snprintf(mid, sizeof(mid), "m%d", i);
		/* received times out of order: the order is insertion */
		assert_int_equal(in_add(f, PEER, mid, mid, 100 - i, &ids[i]),
				 0);
	}
	assert_int_equal(hstore_inbox_list(f->h, HSTORE_NEWEST_FIRST, 0, 0,
					   &v, &n), 0);
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(v[i].msg.id, ids[4 - i]);
	hstore_inbox_free(v, n);
	assert_int_equal(hstore_inbox_list(f->h, HSTORE_OLDEST_FIRST, 2, 1,
					   &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].msg.id, ids[1]);
	assert_string_equal(v[1].msg.body, "m2");
	hstore_inbox_free(v, n);
	assert_int_equal(hstore_inbox_list(f->h, HSTORE_OLDEST_FIRST, 10, 5,
					   &v, &n), 0);
	assert_int_equal(n, 0);
	hstore_inbox_free(v, n);
	/* read flags */
	assert_int_equal(hstore_inbox_set_read(f->h, ids[3], true), 0);
	assert_int_equal(hstore_inbox_set_read(f->h, ids[3], true), 0);
	assert_int_equal(hstore_inbox_set_read(f->h, 9999, true), -ENOENT);
	assert_int_equal(hstore_inbox_list(f->h, HSTORE_NEWEST_FIRST, 2, 0,
					   &v, &n), 0);
	assert_false(v[0].read);
	assert_true(v[1].read);
	hstore_inbox_free(v, n);
	assert_int_equal(hstore_inbox_set_read(f->h, ids[3], false), 0);
}

static void test_contacts(void **state)
{
	struct fx *f = *state;
	const struct hstore_contact_put cs[] = {
		{ "+491511111111", "bob", NULL },
		{ "+491512222222", "Alice", "vcard" },
		{ "+491513333333", NULL, NULL },
	};
	const struct hstore_contact_put bad[] = {
		{ "+491514444444", "Carol", NULL },
		{ "0151 4444444", "Carol again", NULL },
	};
	struct hstore_mark_set marks[] = {
		{ "+491511111111", HSTORE_MARK_YES },
		{ "+491512222222", HSTORE_MARK_NO },
		{ "+491519999999", HSTORE_MARK_YES },	/* not a contact */
	};
	struct hstore_mark_set badmark[] = {
		{ "+491513333333", HSTORE_MARK_YES },
		{ "491511111111", HSTORE_MARK_NO },
	};
	struct hstore_contact_put rename = { "+491511111111", "Bob", NULL };
	struct hstore_contact *v;
	size_t n, updated = 99;

	assert_int_equal(hstore_contacts_put(f->h, cs, 3, 10), 0);
	/* one bad number: nothing of the batch is stored */
	assert_int_equal(hstore_contacts_put(f->h, bad, 2, 11), -EINVAL);
	assert_int_equal(hstore_contacts_set_marks(f->h, marks, 3, 20,
						   &updated), 0);
	assert_int_equal(updated, 2);
	assert_int_equal(hstore_contacts_set_marks(f->h, badmark, 2, 21,
						   &updated), -EINVAL);
	assert_int_equal(updated, 2);
	badmark[1].number = "+491511111111";
	badmark[1].registered = (enum hstore_mark)2;
	assert_int_equal(hstore_contacts_set_marks(f->h, badmark, 2, 21, NULL),
			 -EINVAL);
	/* a new import of the same number keeps its mark */
	assert_int_equal(hstore_contacts_put(f->h, &rename, 1, 30), 0);

	reopen(f);
	assert_int_equal(hstore_contacts_list(f->h, 0, 0, &v, &n), 0);
	assert_int_equal(n, 3);
	/* by name, any case; "" first */
	assert_string_equal(v[0].name, "");
	assert_int_equal(v[0].registered, HSTORE_MARK_UNKNOWN);
	assert_int_equal(v[0].synced, 0);
	assert_string_equal(v[1].name, "Alice");
	assert_int_equal(v[1].registered, HSTORE_MARK_NO);
	assert_int_equal(v[1].synced, 20);
	assert_string_equal(v[2].name, "Bob");
	assert_string_equal(v[2].number, "+491511111111");
	assert_string_equal(v[2].source, "vcard");
	assert_int_equal(v[2].registered, HSTORE_MARK_YES);
	assert_int_equal(v[2].updated, 30);
	hstore_contacts_free(v, n);

	assert_int_equal(hstore_contact_delete(f->h, "+491512222222"), 0);
	assert_int_equal(hstore_contact_delete(f->h, "+491512222222"), -ENOENT);
	assert_int_equal(hstore_contacts_list(f->h, 1, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "Bob");
	hstore_contacts_free(v, n);
}

static json_t *json_of(int (*write)(struct fx *f, FILE *fp), struct fx *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	json_error_t e;
	json_t *j;

	assert_non_null(fp);
	assert_int_equal(write(f, fp), 0);
	fclose(fp);
	j = json_loads(buf, 0, &e);
	assert_non_null(j);
	free(buf);
	return j;
}

static int write_outbox(struct fx *f, FILE *fp)
{
	struct hstore_out *v;
	size_t n;
	int err;

	assert_int_equal(hstore_outbox_list(f->h, HSTORE_OLDEST_FIRST, 0, 0,
					    &v, &n), 0);
	err = hstore_outbox_json(v, n, fp);
	hstore_outbox_free(v, n);
	return err;
}

static int write_inbox(struct fx *f, FILE *fp)
{
	struct hstore_in *v;
	size_t n;
	int err;

	assert_int_equal(hstore_inbox_list(f->h, HSTORE_NEWEST_FIRST, 0, 0,
					   &v, &n), 0);
	err = hstore_inbox_json(v, n, fp);
	hstore_inbox_free(v, n);
	return err;
}

static void test_json(void **state)
{
	struct fx *f = *state;
	static const char *const out_keys[] = {
		"id", "peer", "message_id", "content_type", "body", "created",
		"updated", "state", "attempts", "last_status", "next_at",
	};
	static const char *const in_keys[] = {
		"id", "peer", "message_id", "content_type", "body", "received",
		"read",
	};
	const char bin[] = { 'h', (char)0xff, 'i' };
	struct hstore_text t = { .peer = PEER2, .message_id = "m-bin",
				 .content_type = "application/octet-stream",
				 .body = bin, .body_len = sizeof(bin) };
	char mid[HSTORE_ID_MAX];
	int64_t id = out_add(f, "grüß \"dich\"", 1000, mid);
	json_t *j, *o;
	size_t k;

	assert_int_equal(hstore_outbox_set(f->h, id, S, NULL, -1, 1001), 0);
	assert_int_equal(hstore_outbox_set(f->h, id, A, "202 Accepted", -1,
					   1002), 0);
	j = json_of(write_outbox, f);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 1);
	o = json_array_get(j, 0);
	assert_int_equal(json_object_size(o), sizeof(out_keys) / sizeof(*out_keys));
	for (k = 0; k < sizeof(out_keys) / sizeof(*out_keys); k++)
		assert_non_null(json_object_get(o, out_keys[k]));
	assert_int_equal(json_integer_value(json_object_get(o, "id")), id);
	assert_string_equal(json_string_value(json_object_get(o, "body")),
			    "grüß \"dich\"");
	assert_string_equal(json_string_value(json_object_get(o, "state")),
			    "accepted");
	assert_string_equal(json_string_value(json_object_get(o, "message_id")),
			    mid);
	assert_string_equal(json_string_value(json_object_get(o, "last_status")),
			    "202 Accepted");
	assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "created")),
			 1000);
	json_decref(j);

	assert_int_equal(hstore_inbox_add(f->h, &t, 2000, NULL), 0);
	assert_int_equal(in_add(f, PEER, "m-2", "plain", 2001, NULL), 0);
	j = json_of(write_inbox, f);
	assert_int_equal(json_array_size(j), 2);
	o = json_array_get(j, 0);
	assert_int_equal(json_object_size(o), sizeof(in_keys) / sizeof(*in_keys));
	for (k = 0; k < sizeof(in_keys) / sizeof(*in_keys); k++)
		assert_non_null(json_object_get(o, in_keys[k]));
	assert_string_equal(json_string_value(json_object_get(o, "body")),
			    "plain");
	assert_true(json_is_false(json_object_get(o, "read")));
	assert_int_equal(json_integer_value(json_object_get(o, "received")),
			 2001);
	/* not UTF-8: null, and the bytes in base64 */
	o = json_array_get(j, 1);
	assert_true(json_is_null(json_object_get(o, "body")));
	assert_string_equal(json_string_value(json_object_get(o, "body_base64")),
			    "aP9p");
	json_decref(j);
	/* empty lists are [] */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *fp = open_memstream(&buf, &len);

		assert_int_equal(hstore_inbox_json(NULL, 0, fp), 0);
		fclose(fp);
		assert_string_equal(buf, "[]\n");
		free(buf);
	}
}

static void test_not_sqlite(void **state)
{
	struct fx *f = *state;
	char path[128], junk[4096];
	struct hstore *h = NULL;
	size_t n;
	char *b;

	hstore_close(f->h);
	f->h = NULL;
	/* garbage bytes */
	snprintf(path, sizeof(path), "%s/garbage.db", f->dir);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	spit(path, junk, sizeof(junk));
	assert_refused(path, -EBADMSG);
	/* a text file that happens to be short */
	spit(path, "hello\n", 6);
	assert_refused(path, -EBADMSG);
	/* an empty file is a new store */
	spit(path, "", 0);
	assert_int_equal(hstore_open(path, &h), 0);
	hstore_close(h);

	/* a real store, truncated: half of it, then less than its header */
	assert_int_equal(hstore_open(f->path, &f->h), 0);
	memset(junk, 'x', 1000);
	junk[1000] = '\0';
	for (int i = 0; i < 200; i++)
		out_add(f, junk, i, NULL);
	hstore_close(f->h);
	f->h = NULL;
	b = slurp(f->path, &n);
	assert_true(n > 100000);
	spit(f->path, b, n / 2);
	assert_refused(f->path, -EBADMSG);
	spit(f->path, b, 60);
	assert_refused(f->path, -EBADMSG);
	free(b);

	/* another program's database */
	{
		sqlite3 *db;

		snprintf(path, sizeof(path), "%s/other.db", f->dir);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x);", NULL,
					      NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		assert_refused(path, -EBADMSG);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "DROP TABLE t;"
					      "PRAGMA application_id = 42;",
					      NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		assert_refused(path, -EBADMSG);
	}
	/* setup's file back for the teardown */
	unlink(f->path);
	assert_int_equal(hstore_open(f->path, &f->h), 0);
}

static void test_future_schema(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	char sql[64];
	int v = 0;

	out_add(f, "kept", 1, NULL);
	hstore_close(f->h);
	f->h = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 HSTORE_SCHEMA_VERSION + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	/* one file, no -wal beside it, so the bytes compared are all of it */
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = DELETE",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_refused(f->path, -EPROTO);
	/* the version this code knows opens again, data intact */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 HSTORE_SCHEMA_VERSION);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	reopen(f);
	assert_int_equal(hstore_schema_version(f->h, &v), 0);
	assert_int_equal(v, HSTORE_SCHEMA_VERSION);
	{
		struct hstore_out *m = out_get(f, 1);

		assert_string_equal(m->msg.body, "kept");
		hstore_outbox_free(m, 1);
	}
}

static int nt_add(struct fx *f, const char *peer, const char *mid,
		  const char *dt, int64_t now, int64_t *id)
{
	struct hstore_text t = { .peer = peer, .message_id = mid,
				 .body = "hi", .body_len = 2 };

	return hstore_inbox_add_notify(f->h, &t, dt, now, id);
}

static int64_t nt_count(struct fx *f)
{
	int64_t n = -1;

	assert_int_equal(hstore_notice_count(f->h, &n), 0);
	return n;
}

/* A text and its notification: stored together, kept across a reopen,
 * not doubled by a duplicate, retried later, deleted when sent. */
static void test_notice_lifecycle(void **state)
{
	struct fx *f = *state;
	struct hstore_notice *v;
	char first[HSTORE_ID_MAX];
	int64_t id, id2 = 0, next = 0;
	size_t n;

	assert_int_equal(nt_count(f), 0);
	assert_int_equal(hstore_notice_next(f->h, &next), -ENOENT);
	assert_int_equal(nt_add(f, PEER, "m1", "2026-01-02T03:04:05Z", 100, &id), 0);
	reopen(f);
	assert_int_equal(nt_count(f), 1);
	assert_int_equal(hstore_notice_due(f->h, 99, 0, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(hstore_notice_due(f->h, 100, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].peer, PEER);
	assert_string_equal(v[0].text_id, "m1");
	assert_string_equal(v[0].datetime, "2026-01-02T03:04:05Z");
	assert_int_equal(strlen(v[0].notice_id), 32);
	assert_int_equal(v[0].attempts, 0);
	assert_int_equal(v[0].next_at, 100);
	snprintf(first, sizeof(first), "%s", v[0].notice_id);
	/* the same text again: -EEXIST, the same inbox id, one notification */
	assert_int_equal(nt_add(f, PEER, "m1", NULL, 101, &id2), -EEXIST);
	assert_int_equal(id2, id);
	assert_int_equal(nt_count(f), 1);
	/* a refusal: tried again at 130, attempts counted */
	assert_int_equal(hstore_notice_retry(f->h, v[0].id, 130), 0);
	assert_int_equal(hstore_notice_next(f->h, &next), 0);
	assert_int_equal(next, 130);
	free(v);
	assert_int_equal(hstore_notice_due(f->h, 129, 0, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(hstore_notice_due(f->h, 130, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].attempts, 1);
	/* sent: gone; deleting twice says so */
	assert_int_equal(hstore_notice_delete(f->h, v[0].id), 0);
	assert_int_equal(hstore_notice_delete(f->h, v[0].id), -ENOENT);
	assert_int_equal(hstore_notice_retry(f->h, v[0].id, 1), -ENOENT);
	free(v);
	assert_int_equal(nt_count(f), 0);
	/* the sender asks again (it did not see ours): owed again, a new id;
	 * no DateTime: the time of storing */
	assert_int_equal(nt_add(f, PEER, "m1", NULL, 0, NULL), -EEXIST);
	assert_int_equal(hstore_notice_due(f->h, 0, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_not_equal(v[0].notice_id, first);
	assert_string_equal(v[0].datetime, "1970-01-01T00:00:00Z");
	free(v);
	/* another sender's m1 is another notification; LIMIT holds */
	assert_int_equal(nt_add(f, PEER2, "m1", "", 0, NULL), 0);
	assert_int_equal(nt_count(f), 2);
	assert_int_equal(hstore_notice_due(f->h, 1000, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	/* refused input stores neither row */
	assert_int_equal(nt_add(f, PEER, NULL, NULL, 1, NULL), -EINVAL);
	assert_int_equal(nt_add(f, "bob", "m2", NULL, 1, NULL), -EINVAL);
	{
		char big[HSTORE_DATETIME_MAX + 1];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(nt_add(f, PEER, "m3", big, 1, NULL), -EINVAL);
	}
	assert_int_equal(nt_count(f), 2);
	{
		struct hstore_in *in;

		assert_int_equal(hstore_inbox_list(f->h, HSTORE_OLDEST_FIRST, 0, 0,
						   &in, &n), 0);
		assert_int_equal(n, 2);
		hstore_inbox_free(in, n);
	}
}

/* A file of schema 1 (before notifications) is migrated, data kept. */
static void test_notice_migrates_v1(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	int v = 0;

	in_add(f, PEER, "old", "from v1", 5, NULL);
	hstore_close(f->h);
	f->h = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE notices;"
				      " PRAGMA user_version = 1", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);
	reopen(f);
	assert_int_equal(hstore_schema_version(f->h, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(nt_count(f), 0);
	assert_int_equal(nt_add(f, PEER, "new", NULL, 6, NULL), 0);
	assert_int_equal(nt_add(f, PEER, "old", NULL, 6, NULL), -EEXIST);
	assert_int_equal(nt_count(f), 2);
}

/* The child: adds texts for ever, writing each id once the add returned. */
static void crash_child(const char *path, int wfd)
{
	struct hstore *h;
	char body[32];

	if (hstore_open(path, &h))
		_exit(2);
	for (int i = 0;; i++) {
		struct hstore_text t = { .peer = PEER, .body = body };
		int64_t id;

		t.body_len = (size_t)snprintf(body, sizeof(body), "text %d", i);
		if (hstore_outbox_add(h, &t, i, &id, NULL))
			_exit(3);
		if (write(wfd, &id, sizeof(id)) != sizeof(id))
			_exit(4);
	}
}

/* Removes the store and its -wal and -shm files. */
static void remove_store(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[128];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(*sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
}

/* Forks crash_child on PATH; *RFD reads the ids it reports. */
static pid_t spawn_adder(const char *path, int *rfd)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(path, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	*rfd = fds[0];
	return pid;
}

/* Reads the reported ids from RFD and counts those not in the store. */
static int count_missing(struct hstore *h, int rfd, size_t *nreported)
{
	struct hstore_out *m;
	int64_t id;
	int missing = 0;

	*nreported = 0;
	while (read(rfd, &id, sizeof(id)) == sizeof(id)) {
		(*nreported)++;
		if (hstore_outbox_get(h, id, &m) != 0) {
			missing++;
			continue;
		}
		assert_int_equal(m->state, Q);
		assert_int_equal(strncmp(m->msg.body, "text ", 5), 0);
		hstore_outbox_free(m, 1);
	}
	return missing;
}

static void test_crash_keeps_every_added(void **state)
{
	struct fx *f = *state;

	hstore_close(f->h);
	f->h = NULL;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int round = 0; round < 4; round++) {
		int rfd, status, missing;
		size_t nreported;
		struct pollfd up;
		pid_t pid;

		remove_store(f->path);
		pid = spawn_adder(f->path, &rfd);
		/* the child is up once its first id is in the pipe (left
		 * there to be counted below); then a random moment */
		up = (struct pollfd){ .fd = rfd, .events = POLLIN };
		assert_int_equal(poll(&up, 1, 10000), 1);
		usleep((unsigned)(rand() % 300000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));

		/* reopened through hstore (recovery from the WAL): every
		 * reported id is there, with its body */
		assert_int_equal(hstore_open(f->path, &f->h), 0);
		missing = count_missing(f->h, rfd, &nreported);
		close(rfd);
		hstore_close(f->h);
		f->h = NULL;
		print_message("crash round %d: %zu ids reported added, "
			      "%d missing\n", round, nreported, missing);
		assert_true(nreported > 0);
		assert_int_equal(missing, 0);
	}
	assert_int_equal(hstore_open(f->path, &f->h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_every_transition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbox_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbox_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_sqlite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notice_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notice_migrates_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_keeps_every_added, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
