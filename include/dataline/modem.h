/*
 * modem: the handset's view of its cellular modem through ModemManager's
 * D-Bus API (org.freedesktop.ModemManager1, system bus, via sd-bus).
 * Patent step A1: the SIM's own number (Modem.OwnNumbers). Step A3: the
 * newest received SMS carrying a dataline code (Modem.Messaging.List and
 * the Sms objects' Number/Text/Timestamp/State properties).
 * Tests point it at a private bus with DBUS_SYSTEM_BUS_ADDRESS.
 * Sending SMS and calls (carrier fallback) are not part of this module yet.
 */
#ifndef DATALINE_MODEM_H
#define DATALINE_MODEM_H

#include <stddef.h>
#include <stdint.h>

#define MODEM_CODE_LEN 6

/* ModemManager's MMSmsState values we look at. */
#define MODEM_SMS_STATE_RECEIVED 3

struct modem;

struct modem_sms {
	char path[128];      /* D-Bus object path of the Sms object */
	char number[48];     /* sender as ModemManager reports it */
	char text[512];      /* body (truncated if longer) */
	char timestamp[48];  /* ModemManager's ISO 8601 string */
	int64_t time;        /* timestamp in Unix seconds, -1 if unparsable */
	uint32_t state;      /* MMSmsState */
};

/*
 * Connects to the system bus and picks the first object that ModemManager's
 * ObjectManager lists with the Modem interface.
 * Returns 0, -ENODEV (ModemManager runs but has no modem),
 * -EHOSTUNREACH (no ModemManager on the bus) or another -errno.
 */
int modem_open(struct modem **out);
void modem_close(struct modem *m);
/* Object path of the modem in use. */
const char *modem_path(const struct modem *m);

/*
 * A1: copies the first OwnNumbers entry that is an international number
 * (E.164 after e164_normalize) into buf. -ENODATA if the SIM reports none.
 */
int modem_own_number(struct modem *m, char *buf, size_t len);

/*
 * A3: the newest received SMS (by timestamp) whose text carries a dataline
 * code and whose time is >= since (Unix seconds; 0 for any). On success
 * fills *sms and code (NUL-terminated). -ENOENT if there is none.
 */
int modem_newest_code_sms(struct modem *m, int64_t since,
			  struct modem_sms *sms, char code[MODEM_CODE_LEN + 1]);

/*
 * Pure helpers (no I/O, no allocation).
 * modem_parse_code: finds "dataline code is NNNNNN" (case-insensitive,
 * exactly 6 digits not followed by another digit); 0 or -ENOENT.
 * modem_parse_timestamp: "YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH|+HH:MM|+HHMM]"
 * to Unix seconds (no zone means UTC); 0 or -EINVAL.
 */
int modem_parse_code(const char *text, size_t len, char code[MODEM_CODE_LEN + 1]);
int modem_parse_timestamp(const char *s, int64_t *out);

#endif
