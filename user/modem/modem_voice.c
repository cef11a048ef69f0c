/*
 * modem_voice: a carrier voice call through ModemManager's Modem.Voice
 * interface (the carrier half of patent step C2/C3: "call by the carrier
 * network"). Voice.CreateCall({"number": s}) makes a Call object in State
 * unknown; Call.Start dials; ModemManager answers Start once the modem took
 * the dial command, and the Call's State is then read back: dialing,
 * ringing-out or active count as placed, terminated (or anything else) as
 * refused, in which case the Call object is deleted again
 * (Voice.DeleteCall). Call.Hangup ends a call placed earlier.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataline/log.h"
#include "dataline/modem.h"
#include "modem_priv.h"

const char *modem_call_state_name(uint32_t st)
{
	static const char *const names[] = {
		"unknown", "dialing", "ringing-out", "ringing-in", "active",
		"held", "waiting", "terminated",
	};

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

/* Voice.CreateCall({"number": s}) -> the new Call object. */
static int modem_call_create(struct modem *m, const char *number,
			     char path[MODEM_CALL_PATH_MAX])
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *obj;
	int r;

	r = sd_bus_call_method(m->bus, MM_SERVICE, m->path, MM_IF_VOICE, "CreateCall",
			       &err, &reply, "a{sv}", 1, "number", "s", number);
	if (r < 0) {
		r = modem_call_failed("Voice.CreateCall", m->path, &err, r);
		goto out;
	}
	if ((r = sd_bus_message_read(reply, "o", &obj)) < 0)
		goto out;
	if (strlen(obj) >= MODEM_CALL_PATH_MAX) {
		r = -EIO;
		goto out;
	}
	snprintf(path, MODEM_CALL_PATH_MAX, "%s", obj);
	r = 0;
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	return r;
}

/* A method without arguments on the Call object PATH (Start, Hangup). */
static int modem_call_method(struct modem *m, const char *path, const char *method)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	char what[32];
	int r;

	r = sd_bus_call_method(m->bus, MM_SERVICE, path, MM_IF_CALL, method, &err, NULL, "");
	if (r < 0) {
		snprintf(what, sizeof(what), "Call.%s", method);
		r = modem_call_failed(what, path, &err, r);
	}
	sd_bus_error_free(&err);
	return r;
}

static void modem_call_delete(struct modem *m, const char *path)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;

	if (sd_bus_call_method(m->bus, MM_SERVICE, m->path, MM_IF_VOICE, "DeleteCall",
			       &err, NULL, "o", path) < 0)
		log_debug("modem: Voice.DeleteCall %s: %s", path, modem_err_text(&err, -EIO));
	sd_bus_error_free(&err);
}

int modem_call_state(struct modem *m, const char *path, uint32_t *state)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int32_t st;
	int r;

	/* MMCallState is an int32 ("i") on the bus */
	r = sd_bus_get_property_trivial(m->bus, MM_SERVICE, path, MM_IF_CALL, "State",
					&err, 'i', &st);
	if (r < 0)
		r = modem_call_failed("Call.State", path, &err, r);
	else
		*state = st < 0 ? 0 : (uint32_t)st;
	sd_bus_error_free(&err);
	return r < 0 ? r : 0;
}

int modem_voice_call(struct modem *m, const char *number, char call_path[MODEM_CALL_PATH_MAX])
{
	char path[MODEM_CALL_PATH_MAX];
	uint32_t st = 0;
	int r;

	if ((r = modem_number_check(number)) < 0)
		return r;
	if ((r = modem_call_create(m, number, path)) < 0)
		return r;
	if ((r = modem_call_method(m, path, "Start")) < 0)
		goto fail;
	if ((r = modem_call_state(m, path, &st)) < 0)
		goto fail;
	if (st != MODEM_CALL_STATE_DIALING && st != MODEM_CALL_STATE_RINGING_OUT &&
	    st != MODEM_CALL_STATE_ACTIVE) {
		log_warn("modem: Start on %s returned but the call is %s", path,
			 modem_call_state_name(st));
		r = -EIO;
		goto fail;
	}
	log_info("modem: voice call to %s placed (%s, %s)", number, path,
		 modem_call_state_name(st));
	if (call_path)
		memcpy(call_path, path, sizeof(path));
	return 0;
fail:
	modem_call_delete(m, path);
	return r;
}

int modem_voice_hangup(struct modem *m, const char *call_path)
{
	return modem_call_method(m, call_path, "Hangup");
}
