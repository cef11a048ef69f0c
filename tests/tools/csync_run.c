/*
 * csync_run: drives user/csync (include/dataline/csync.h) for
 * tests/integration/handset_contacts.sh until the handset daemon does:
 *
 *   csync_run DB import FILE.vcf [CC]   csync_import(); one line per
 *       problem "problem LINE CARD_LINE KIND: WHAT: DETAIL", then the
 *       result as one JSON line; exit 0, or 1 if it returned an error
 *   csync_run DB sync STATE_DIR [async] csync_sync(), or with "async"
 *       csync_sync_start() on an event_base (as the daemon will); the
 *       result as one JSON line
 *   csync_run DB list                   the contacts, one JSON line each
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <jansson.h>

#include "dataline/csync.h"

static void problem_cb(void *arg, const struct csync_problem *p)
{
	printf("problem %u %u %d: %s: %s\n", p->line, p->card_line, p->kind,
	       p->what, p->detail);
}

static int run_import(struct hstore *h, const char *file, const char *cc)
{
	struct csync_import_opts o = { .country_code = cc,
				       .problem = problem_cb };
	struct csync_import_result res = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(file, "rb");
	int r;

	if (!f) {
		perror(file);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	len = (size_t)ftell(f);
	rewind(f);
	buf = malloc(len + 1);
	if (!buf || fread(buf, 1, len, f) != len) {
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	r = csync_import(h, buf, len, &o, (int64_t)time(NULL), &res);
	free(buf);
	printf("{\"rc\":%d,\"cards\":%zu,\"bad_cards\":%zu,\"numbers\":%zu,"
	       "\"duplicates\":%zu,\"problems\":%zu,\"not_vcard\":%d,"
	       "\"capped\":%d}\n", r, res.cards, res.bad_cards, res.numbers,
	       res.duplicates, res.problems, res.not_vcard, res.capped);
	return r < 0;
}

static void print_result(const struct csync_result *r)
{
	json_t *o = json_pack("{s:i,s:i,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
			      "s:I,s:s}",
			      "err", r->err, "http_status", r->http_status,
			      "error", r->error, "retry_after", (int)r->retry_after,
			      "contacts", (json_int_t)r->contacts,
			      "batches", (json_int_t)r->batches,
			      "asked", (json_int_t)r->asked,
			      "registered", (json_int_t)r->counts.registered,
			      "not_registered",
			      (json_int_t)r->counts.not_registered,
			      "entry_errors", (json_int_t)r->counts.entry_errors,
			      "remaining_today",
			      (json_int_t)r->counts.remaining_today,
			      "marks_changed", (json_int_t)r->marks_changed,
			      "pin_seen", r->pin_seen);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	printf("%s\n", s ? s : "{}");
	free(s);
	json_decref(o);
}

struct async_run {
	struct event_base *base;
	struct csync_result res;
	int done;
};

static void done_cb(void *arg, const struct csync_result *r)
{
	struct async_run *a = arg;

	a->res = *r;
	a->done = 1;
	event_base_loopbreak(a->base);
}

static int run_sync(struct hstore *h, const char *dir, int async)
{
	struct csync_account acct;
	struct csync_result res;
	struct async_run a = { 0 };
	struct csync_job *j;
	int r = csync_account_load(dir, &acct);

	if (r < 0) {
		fprintf(stderr, "state: %s\n", strerror(-r));
		return 1;
	}
	if (!async) {
		csync_sync(&acct, h, (int64_t)time(NULL), &res);
		print_result(&res);
		return 0;
	}
	a.base = event_base_new();
	if (!a.base)
		return 1;
	r = csync_sync_start(a.base, &acct, h, done_cb, &a, &j);
	if (r == 0)
		event_base_dispatch(a.base);
	event_base_free(a.base);
	if (r < 0 || !a.done) {
		fprintf(stderr, "sync_start: %s\n", strerror(-r));
		return 1;
	}
	print_result(&a.res);
	return 0;
}

static int run_list(struct hstore *h)
{
	struct hstore_contact *v;
	size_t n;

	if (hstore_contacts_list(h, 0, 0, &v, &n) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s,s:s,s:i,s:I}", "number", v[i].number,
				      "name", v[i].name, "registered",
				      (int)v[i].registered, "synced",
				      (json_int_t)v[i].synced);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(o);
	}
	hstore_contacts_free(v, n);
	return 0;
}

int main(int argc, char **argv)
{
	struct hstore *h;
	int rc = 2;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 3) {
		fprintf(stderr, "usage: csync_run DB import FILE [CC] | "
			"sync STATE_DIR [async] | list\n");
		return 2;
	}
	if (hstore_open(argv[1], &h) < 0) {
		fprintf(stderr, "%s: cannot open the store\n", argv[1]);
		return 1;
	}
	if (strcmp(argv[2], "import") == 0 && argc >= 4)
		rc = run_import(h, argv[3], argc > 4 ? argv[4] : NULL);
	else if (strcmp(argv[2], "sync") == 0 && argc >= 4)
		rc = run_sync(h, argv[3], argc > 4 && !strcmp(argv[4], "async"));
	else if (strcmp(argv[2], "list") == 0)
		rc = run_list(h);
	hstore_close(h);
	return rc;
}
