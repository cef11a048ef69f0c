/*
 * inbox, outbox, contacts list: clients of the daemon's ListInbox,
 * ListOutbox and ListContacts (D-Bus, aa{sv}). `--json` prints one JSON
 * array with the field names of docs/handset.md; otherwise one line per
 * row, oldest first (the inbox and outbox: the newest --limit rows).
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "cli.h"
#include "dataline/svc.h"

static const char *js(json_t *row, const char *k)
{
	const char *s = json_string_value(json_object_get(row, k));

	return s ? s : "";
}

static void print_text_row(json_t *row, int out)
{
	const char *body = json_string_value(json_object_get(row, "body"));

	if (out)
		printf("%-6lld to   %-16s %-15s %-24s %s\n",
		       (long long)json_integer_value(json_object_get(row, "id")),
		       js(row, "peer"), js(row, "state"), js(row, "last_status"),
		       body ? body : "(binary)");
	else
		printf("%-6lld from %-16s %s %s\n",
		       (long long)json_integer_value(json_object_get(row, "id")),
		       js(row, "peer"),
		       json_is_true(json_object_get(row, "read")) ? " " : "*",
		       body ? body : "(binary)");
}

static void print_contact_row(json_t *row)
{
	json_int_t reg = json_integer_value(json_object_get(row, "registered"));

	printf("%-16s %-12s %s\n", js(row, "number"),
	       reg == 1 ? "dataline" : reg == 0 ? "-" : "unknown", js(row, "name"));
}

int cmd_list(struct cli_opts *o, const char *what)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *rep = NULL;
	int contacts = strcmp(what, "contacts") == 0;
	int out = strcmp(what, "outbox") == 0;
	uint32_t limit = o->limit ? o->limit : 100;
	json_t *rows = NULL, *row;
	sd_bus *bus = NULL;
	size_t i, n;
	int r, rc = 1;

	if (cli_bus_open(o, &bus) < 0)
		return 1;
	if (contacts)
		r = sd_bus_call_method(bus, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE,
				       "ListContacts", &err, &rep, "uu", limit, 0);
	else
		r = sd_bus_call_method(bus, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE,
				       out ? "ListOutbox" : "ListInbox", &err, &rep,
				       "uub", limit, 0, 1);
	if (r < 0) {
		cli_bus_perror(what, r, err.name, err.message);
		goto done;
	}
	r = cli_bus_rows(rep, &rows);
	if (r < 0) {
		cli_bus_perror("bad answer from the daemon", r, NULL, NULL);
		goto done;
	}
	n = json_array_size(rows);
	if (!contacts) {
		/* asked newest first (the last LIMIT), shown oldest first */
		json_t *rev = json_array();

		for (i = n; i-- > 0;)
			json_array_append(rev, json_array_get(rows, i));
		json_decref(rows);
		rows = rev;
	}
	if (o->json) {
		json_dumpf(rows, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		json_array_foreach(rows, i, row) {
			if (contacts)
				print_contact_row(row);
			else
				print_text_row(row, out);
		}
	}
	rc = 0;
done:
	json_decref(rows);
	sd_bus_error_free(&err);
	sd_bus_message_unref(rep);
	sd_bus_flush_close_unref(bus);
	return rc;
}
