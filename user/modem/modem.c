/*
 * modem: ModemManager client over D-Bus with sd-bus (libsystemd).
 * Finds the modem through the ObjectManager on /org/freedesktop/ModemManager1
 * (GetManagedObjects), reads Modem.OwnNumbers (patent step A1) and walks
 * Modem.Messaging.List to find the newest received code SMS (step A3), and
 * sends an SMS with Messaging.Create and Sms.Send (step C22, carrier
 * fallback for texts). The bus is the system bus; sd-bus honours
 * DBUS_SYSTEM_BUS_ADDRESS, which is how the tests point it at a private bus
 * with a python-dbusmock ModemManager. All calls are synchronous with sd-bus's default timeout
 * (Sms.Send: MODEM_SMS_SEND_TIMEOUT_S, as the modem may take long to hand
 * several parts to the network): the CLI uses them once per command and the
 * fallback once per text, never on a hot path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "dataline/e164.h"
#include "dataline/log.h"
#include "dataline/modem.h"

#include "modem_priv.h"

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

/*
 * Maps a D-Bus error to -errno by the last component of its name, so that
 * org.freedesktop.DBus.Error.InvalidArgs and ModemManager's
 * org.freedesktop.ModemManager1.Error.Core.InvalidArgs read the same.
 * Local failures (no name, or sd-bus's "System.Error.E..." names) keep
 * sd-bus's R; anything ModemManager says that is not listed is -EIO.
 */
static int modem_bus_errno(const sd_bus_error *err, int r)
{
	static const struct {
		const char *name;
		int err;
	} map[] = {
		{ "UnknownMethod",    -EOPNOTSUPP },
		{ "UnknownInterface", -EOPNOTSUPP },
		{ "UnknownObject",    -EOPNOTSUPP },
		{ "Unsupported",      -EOPNOTSUPP },
		{ "ServiceUnknown",   -EHOSTUNREACH },
		{ "NameHasNoOwner",   -EHOSTUNREACH },
		{ "NoReply",          -ETIMEDOUT },
		{ "Timeout",          -ETIMEDOUT },
		{ "TimedOut",         -ETIMEDOUT },
		{ "AccessDenied",     -EACCES },
		{ "Unauthorized",     -EACCES },
		{ "InvalidArgs",      -EINVAL },
	};
	const char *last;

	if (!sd_bus_error_is_set(err) || strncmp(err->name, "System.Error.", 13) == 0)
		return r < 0 ? r : -EIO;
	last = strrchr(err->name, '.');
	last = last ? last + 1 : err->name;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(last, map[i].name) == 0)
			return map[i].err;
	return -EIO;
}

const char *modem_err_text(const sd_bus_error *err, int r)
{
	return err->message ? err->message : strerror(-r);
}

/* Logs a failed call WHAT on object OBJ with ModemManager's own words and
 * returns its -errno (modem_bus_errno). */
int modem_call_failed(const char *what, const char *obj,
			     const sd_bus_error *err, int r)
{
	log_warn("modem: %s on %s failed: %s (%s)", what, obj,
		 modem_err_text(err, r), err->name ? err->name : "local error");
	return modem_bus_errno(err, r);
}

/* Messaging.Create({"number": s, "text": s}) -> the new Sms object. */
static int modem_sms_create(struct modem *m, const char *number,
			    const char *text, char path[MODEM_SMS_PATH_MAX])
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *obj;
	int r;

	r = sd_bus_call_method(m->bus, MM_SERVICE, m->path, MM_IF_MSG, "Create",
			       &err, &reply, "a{sv}", 2,
			       "number", "s", number, "text", "s", text);
	if (r < 0) {
		r = modem_call_failed("Messaging.Create", m->path, &err, r);
		goto out;
	}
	r = sd_bus_message_read(reply, "o", &obj);
	if (r < 0)
		goto out;
	if (strlen(obj) >= MODEM_SMS_PATH_MAX) {
		log_warn("modem: Messaging.Create returned an overlong path");
		r = -EIO;
		goto out;
	}
	snprintf(path, MODEM_SMS_PATH_MAX, "%s", obj);
	r = 0;
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	return r;
}

/* Sms.Send(), allowed MODEM_SMS_SEND_TIMEOUT_S to answer. */
static int modem_sms_call_send(struct modem *m, const char *path)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *call = NULL;
	int r;

	r = sd_bus_message_new_method_call(m->bus, &call, MM_SERVICE, path,
					   MM_IF_SMS, "Send");
	if (r < 0)
		goto out;
	r = sd_bus_call(m->bus, call, (uint64_t)MODEM_SMS_SEND_TIMEOUT_S * 1000000,
			&err, NULL);
	if (r < 0)
		r = modem_call_failed("Sms.Send", path, &err, r);
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(call);
	return r;
}

/* Best effort: a failed send should not leave a draft in the modem's list. */
static void modem_sms_delete(struct modem *m, const char *path)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_call_method(m->bus, MM_SERVICE, m->path, MM_IF_MSG, "Delete",
			       &err, NULL, "o", path);
	if (r < 0)
		log_debug("modem: Messaging.Delete %s: %s", path, modem_err_text(&err, r));
	sd_bus_error_free(&err);
}

int modem_sms_send(struct modem *m, const char *number, const char *text,
		   char sms_path[MODEM_SMS_PATH_MAX])
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	char path[MODEM_SMS_PATH_MAX];
	uint32_t state;
	int r;

	r = modem_sms_check(number, text);
	if (r < 0)
		return r;
	r = modem_sms_create(m, number, text, path);
	if (r < 0)
		return r;
	r = modem_sms_call_send(m, path);
	if (r == -ETIMEDOUT) {
		log_warn("modem: no answer to Send in %d s; %s may still go out",
			 MODEM_SMS_SEND_TIMEOUT_S, path);
		goto out;
	}
	if (r < 0) {
		modem_sms_delete(m, path);
		goto out;
	}
	/* ModemManager sets State to SENT before it answers Send; anything
	 * else means the answer and the object disagree, so nothing is
	 * claimed. An unreadable State leaves Send's answer standing. */
	r = sd_bus_get_property_trivial(m->bus, MM_SERVICE, path, MM_IF_SMS,
					"State", &err, 'u', &state);
	if (r < 0) {
		log_debug("modem: State of %s: %s; trusting Send", path,
			  modem_err_text(&err, r));
	} else if (state != MODEM_SMS_STATE_SENT) {
		log_warn("modem: Send on %s returned but its State is %u, not sent (%d)",
			 path, state, MODEM_SMS_STATE_SENT);
		r = -EIO;
		goto out;
	}
	if (sms_path)
		memcpy(sms_path, path, sizeof(path));
	r = 0;
out:
	sd_bus_error_free(&err);
	return r;
}
