/*
 * modem: ModemManager client over D-Bus with sd-bus (libsystemd).
 * Finds the modem through the ObjectManager on /org/freedesktop/ModemManager1
 * (GetManagedObjects), reads Modem.OwnNumbers (patent step A1) and walks
 * Modem.Messaging.List to find the newest received code SMS (step A3).
 * The bus is the system bus; sd-bus honours DBUS_SYSTEM_BUS_ADDRESS, which
 * is how the tests point it at a private bus with a python-dbusmock
 * ModemManager. All calls are synchronous with sd-bus's default timeout:
 * the CLI uses them once per command, never on a hot path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "dataline/e164.h"
#include "dataline/log.h"
#include "dataline/modem.h"

#define MM_SERVICE   "org.freedesktop.ModemManager1"
#define MM_PATH      "/org/freedesktop/ModemManager1"
#define MM_IF_MODEM  "org.freedesktop.ModemManager1.Modem"
#define MM_IF_MSG    "org.freedesktop.ModemManager1.Modem.Messaging"
#define MM_IF_SMS    "org.freedesktop.ModemManager1.Sms"

struct modem {
	sd_bus *bus;      /* owned; unref'd in modem_close */
	char path[128];   /* modem object path */
};

/*
 * Walks GetManagedObjects' a{oa{sa{sv}}} and copies the first object path
 * that carries the Modem interface. 0, -ENODEV or -errno.
 */
static int modem_find(sd_bus *bus, char *path, size_t len)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *obj, *iface;
	int r, found = 0;

	r = sd_bus_call_method(bus, MM_SERVICE, MM_PATH,
			       "org.freedesktop.DBus.ObjectManager",
			       "GetManagedObjects", &err, &reply, "");
	if (r < 0) {
		log_debug("modem: GetManagedObjects: %s", err.message ? err.message : strerror(-r));
		goto out;
	}
	r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
	if (r < 0)
		goto out;
	while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
		r = sd_bus_message_read(reply, "o", &obj);
		if (r < 0)
			goto out;
		r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
		if (r < 0)
			goto out;
		while ((r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
			r = sd_bus_message_read(reply, "s", &iface);
			if (r < 0)
				goto out;
			if (!found && strcmp(iface, MM_IF_MODEM) == 0 &&
			    strlen(obj) < len) {
				snprintf(path, len, "%s", obj);
				found = 1;
			}
			r = sd_bus_message_skip(reply, "a{sv}");
			if (r < 0)
				goto out;
			r = sd_bus_message_exit_container(reply);
			if (r < 0)
				goto out;
		}
		if (r < 0)
			goto out;
		if ((r = sd_bus_message_exit_container(reply)) < 0 ||
		    (r = sd_bus_message_exit_container(reply)) < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	r = found ? 0 : -ENODEV;
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	return r;
}

int modem_open(struct modem **out)
{
	struct modem *m;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = sd_bus_open_system(&m->bus);
	if (r < 0) {
		log_debug("modem: no system bus: %s", strerror(-r));
		goto fail;
	}
	r = modem_find(m->bus, m->path, sizeof(m->path));
	if (r < 0)
		goto fail;
	log_debug("modem: using %s", m->path);
	*out = m;
	return 0;
fail:
	modem_close(m);
	return r;
}

void modem_close(struct modem *m)
{
	if (!m)
		return;
	sd_bus_flush_close_unref(m->bus);
	free(m);
}

const char *modem_path(const struct modem *m)
{
	return m->path;
}

int modem_own_number(struct modem *m, char *buf, size_t len)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	char **nums = NULL;
	int r;

	r = sd_bus_get_property_strv(m->bus, MM_SERVICE, m->path, MM_IF_MODEM,
				     "OwnNumbers", &err, &nums);
	if (r < 0) {
		log_debug("modem: OwnNumbers: %s", err.message ? err.message : strerror(-r));
		goto out;
	}
	r = -ENODATA;
	for (char **n = nums; n && *n; n++) {
		char num[E164_MAX];

		if (e164_normalize(*n, strlen(*n), num) == 0 && strlen(num) < len) {
			snprintf(buf, len, "%s", num);
			r = 0;
			break;
		}
		log_debug("modem: ignoring own number '%s' (not +E.164)", *n);
	}
out:
	for (char **n = nums; n && *n; n++)
		free(*n);
	free(nums);
	sd_bus_error_free(&err);
	return r;
}

static int modem_get_str(sd_bus *bus, const char *path, const char *prop,
			 char *buf, size_t len)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	char *s = NULL;
	int r;

	r = sd_bus_get_property_string(bus, MM_SERVICE, path, MM_IF_SMS, prop,
				       &err, &s);
	sd_bus_error_free(&err);
	if (r < 0)
		return r;
	snprintf(buf, len, "%s", s);
	free(s);
	return 0;
}

/* Reads one Sms object into *sms. */
static int modem_read_sms(sd_bus *bus, const char *path, struct modem_sms *sms)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r;

	memset(sms, 0, sizeof(*sms));
	snprintf(sms->path, sizeof(sms->path), "%s", path);
	r = sd_bus_get_property_trivial(bus, MM_SERVICE, path, MM_IF_SMS,
					"State", &err, 'u', &sms->state);
	sd_bus_error_free(&err);
	if (r < 0)
		return r;
	if ((r = modem_get_str(bus, path, "Number", sms->number, sizeof(sms->number))) < 0 ||
	    (r = modem_get_str(bus, path, "Text", sms->text, sizeof(sms->text))) < 0 ||
	    (r = modem_get_str(bus, path, "Timestamp", sms->timestamp, sizeof(sms->timestamp))) < 0)
		return r;
	if (modem_parse_timestamp(sms->timestamp, &sms->time) < 0)
		sms->time = -1;
	return 0;
}

int modem_newest_code_sms(struct modem *m, int64_t since,
			  struct modem_sms *sms, char code[MODEM_CODE_LEN + 1])
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	struct modem_sms cur, best;
	char c[MODEM_CODE_LEN + 1], best_code[MODEM_CODE_LEN + 1];
	const char *path;
	int r, found = 0;

	r = sd_bus_call_method(m->bus, MM_SERVICE, m->path, MM_IF_MSG, "List",
			       &err, &reply, "");
	if (r < 0) {
		log_debug("modem: Messaging.List: %s", err.message ? err.message : strerror(-r));
		goto out;
	}
	r = sd_bus_message_enter_container(reply, 'a', "o");
	if (r < 0)
		goto out;
	while ((r = sd_bus_message_read(reply, "o", &path)) > 0) {
		if (modem_read_sms(m->bus, path, &cur) < 0) {
			log_debug("modem: cannot read %s, skipped", path);
			continue;
		}
		if (cur.state != MODEM_SMS_STATE_RECEIVED)
			continue;
		if (modem_parse_code(cur.text, strlen(cur.text), c) < 0)
			continue;
		/* Unparsable timestamps only count when nothing is dated. */
		if (since > 0 && cur.time < since)
			continue;
		if (!found || cur.time > best.time) {
			best = cur;
			memcpy(best_code, c, sizeof(best_code));
			found = 1;
		}
	}
	if (r < 0)
		goto out;
	if (!found) {
		r = -ENOENT;
		goto out;
	}
	*sms = best;
	memcpy(code, best_code, sizeof(best_code));
	r = 0;
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	return r;
}
