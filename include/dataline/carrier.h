/*
 * carrier: the handset's carrier fallback for texts (patent step C22).
 * When the handset is not on the data network, `dataline send NUMBER TEXT
 * --fallback carrier` hands the text to the carrier as an SMS through one
 * of two backends:
 *   modem  ModemManager: Modem.Messaging.Create, then the Sms object's
 *          Send (modem_sms_send in include/dataline/modem.h)
 *   log    no modem (development boxes, tests, tablets): appends one JSON
 *          line {"time","number","text"} to STATE_DIR/carrier-sms.log,
 *          mode 0600, fsync'd; the SMS counts as sent once it is on disk
 * Both check the number and the text the same way (modem_sms_check), so a
 * text the log backend accepts is one the modem backend would try to send.
 * This module only chooses and runs a backend; when to fall back is the
 * caller's decision.
 */
#ifndef DATALINE_CARRIER_H
#define DATALINE_CARRIER_H

#include <stddef.h>
#include <time.h>

#include "dataline/modem.h"

#define CARRIER_LOG_FILE "carrier-sms.log"
#define CARRIER_CALL_LOG_FILE "carrier-calls.log"
/* Room for a backend's reference to the sent SMS (see carrier_sms_send). */
#define CARRIER_REF_MAX  4096

enum carrier_backend {
	CARRIER_MODEM,  /* ModemManager on the system bus */
	CARRIER_LOG,    /* STATE_DIR/carrier-sms.log */
};

struct carrier {
	enum carrier_backend backend;
	const char *state_dir;  /* borrowed; where the log backend writes
				 * (created 0700 if missing, parent must exist) */
};

/* "modem" or "log" -> *out; 0 or -EINVAL. */
int carrier_backend_parse(const char *name, enum carrier_backend *out);
const char *carrier_backend_name(enum carrier_backend b);

/*
 * Sends TEXT to NUMBER through C's backend. On success copies into ref (if
 * not NULL) what identifies the SMS: the modem's Sms object path, or the
 * log file's path. Returns 0 or -errno:
 *   -EINVAL, -EMSGSIZE  malformed number or text (modem_sms_check)
 *   modem: -EHOSTUNREACH (no ModemManager), -ENODEV (no modem), and the
 *          errors of modem_sms_send
 *   log:   the errno of mkdir/open/write/fsync
 */
int carrier_sms_send(const struct carrier *c, const char *number,
		     const char *text, char ref[CARRIER_REF_MAX]);

/*
 * Places a carrier voice call to NUMBER (the call fallback, patent C2/C3:
 * "call by the carrier network"): the modem backend runs
 * modem_voice_call (Voice.CreateCall, Call.Start, State checked) and
 * copies the Call object's path into REF; the log backend appends
 * {"time","number","call":"voice"} to STATE_DIR/carrier-calls.log (0600,
 * fsync'd) and copies that path. 0 or -errno: -EINVAL (number), and the
 * errors of modem_voice_call / the log file.
 */
int carrier_call_start(const struct carrier *c, const char *number,
		       char ref[CARRIER_REF_MAX]);

/*
 * Pure: formats the log backend's line for an SMS sent at time T (UTC,
 * ISO 8601), '\n' included, into buf. 0, -ENOSPC or -EINVAL.
 * Newlines and other control characters in the text are JSON-escaped, so
 * one SMS is always one line and the text reads back unchanged.
 */
int carrier_log_format(time_t t, const char *number, const char *text,
		       char *buf, size_t cap, size_t *len);

#endif
