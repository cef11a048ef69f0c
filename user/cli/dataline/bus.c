/*
 * bus: the client side of the daemon's D-Bus interface
 * (org.dataline.Handset1, include/dataline/svc.h) for `dataline send`,
 * `inbox`, `outbox` and `contacts`: connecting, error messages, and the
 * list methods' aa{sv} read into JSON (jansson) generically, so that a
 * field the daemon adds shows up without a client change.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "cli.h"
#include "dataline/svc.h"

/* Without --bus: where the running daemon said it serves (daemon.json). */
int cli_bus_open(struct cli_opts *o, sd_bus **out)
{
	const char *which = o->bus;
	json_t *st = NULL;
	int r;

	if (!which && cli_state_load(o->state_dir, CLI_STATUS_FILE, &st) == 0)
		which = cli_json_str(st, "bus");
	if (!which || strcmp(which, "auto") == 0)
		which = "system";
	r = svc_bus_connect(which, out);
	if (r < 0)
		fprintf(stderr, "dataline: cannot reach the %s D-Bus: %s%s\n", which,
			strerror(-r), st ? "" : " (is the daemon running?)");
	json_decref(st);
	return r;
}

void cli_bus_perror(const char *what, int r, const char *name, const char *msg)
{
	if (name && (strcmp(name, SD_BUS_ERROR_SERVICE_UNKNOWN) == 0 ||
		     strcmp(name, SD_BUS_ERROR_NAME_HAS_NO_OWNER) == 0)) {
		fprintf(stderr, "dataline: the daemon is not running on this bus "
			"(start it with: dataline daemon)\n");
		return;
	}
	fprintf(stderr, "dataline: %s: %s\n", what,
		msg && msg[0] ? msg : strerror(r < 0 ? -r : r));
}

/* One variant's value (basic types only) as JSON. */
static int bus_value(sd_bus_message *m, json_t **out)
{
	const char *contents = NULL, *str;
	char type;
	int r = sd_bus_message_peek_type(m, &type, &contents);

	if (r <= 0)
		return r < 0 ? r : -EBADMSG;
	r = sd_bus_message_enter_container(m, 'v', contents);
	if (r < 0)
		return r;
	switch (contents[0]) {
	case 's': {
		r = sd_bus_message_read_basic(m, 's', &str);
		*out = json_string(str);
		break;
	}
	case 'x': {
		int64_t v;

		r = sd_bus_message_read_basic(m, 'x', &v);
		*out = json_integer(v);
		break;
	}
	case 'i': {
		int32_t v;

		r = sd_bus_message_read_basic(m, 'i', &v);
		*out = json_integer(v);
		break;
	}
	case 't': {
		uint64_t v;

		r = sd_bus_message_read_basic(m, 't', &v);
		*out = json_integer((json_int_t)v);
		break;
	}
	case 'u': {
		uint32_t v;

		r = sd_bus_message_read_basic(m, 'u', &v);
		*out = json_integer(v);
		break;
	}
	case 'b': {
		int v;

		r = sd_bus_message_read_basic(m, 'b', &v);
		*out = json_boolean(v);
		break;
	}
	default:
		r = sd_bus_message_skip(m, contents);
		*out = json_null();
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	return r;
}

/* One a{sv}'s entries into a JSON object. */
static int bus_dict(sd_bus_message *m, json_t *obj)
{
	int r;

	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *key;
		json_t *v = NULL;

		r = sd_bus_message_read_basic(m, 's', &key);
		if (r >= 0)
			r = bus_value(m, &v);
		if (r >= 0 && v)
			json_object_set_new(obj, key, v);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	return r;
}

int cli_bus_rows(sd_bus_message *m, json_t **out)
{
	json_t *arr = json_array();
	int r;

	if (!arr)
		return -ENOMEM;
	r = sd_bus_message_enter_container(m, 'a', "a{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
		json_t *row = json_object();

		r = bus_dict(m, row);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		/* a body that is not UTF-8 comes as body_base64 */
		if (json_object_get(row, "body_base64") && !json_object_get(row, "body"))
			json_object_set_new(row, "body", json_null());
		json_array_append_new(arr, row);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*out = arr;
	return 0;
}

int cli_bus_dict(sd_bus_message *m, json_t *obj)
{
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");

	if (r >= 0)
		r = bus_dict(m, obj);
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	return r;
}
