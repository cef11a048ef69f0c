/*
 * modem: the handset's view of its cellular modem through ModemManager's
 * D-Bus API (org.freedesktop.ModemManager1, system bus, via sd-bus).
 * Patent step A1: the SIM's own number (Modem.OwnNumbers). Step A3: the
 * newest received SMS carrying a dataline code (Modem.Messaging.List and
 * the Sms objects' Number/Text/Timestamp/State properties). Step C22
 * (carrier fallback for texts): sending an SMS (Modem.Messaging.Create,
 * then the new Sms object's Send); the choice between this and a log file
 * for devices without a modem is include/dataline/carrier.h.
 * Carrier voice calls (the call fallback of patent steps C2/C3):
 * Modem.Voice.CreateCall, then the Call object's Start (modem_voice.c).
 * Tests point it at a private bus with DBUS_SYSTEM_BUS_ADDRESS.
 */
#ifndef DATALINE_MODEM_H
#define DATALINE_MODEM_H

#include <stddef.h>
#include <stdint.h>

#define MODEM_CODE_LEN 6

/* ModemManager's MMSmsState values we look at. */
#define MODEM_SMS_STATE_UNKNOWN  0
#define MODEM_SMS_STATE_STORED   1
#define MODEM_SMS_STATE_RECEIVED 3
#define MODEM_SMS_STATE_SENDING  4
#define MODEM_SMS_STATE_SENT     5

/*
 * Bounds of an SMS we send. ModemManager splits a long text into a
 * concatenated (multipart) SMS by itself: 153 GSM-7 characters or 67 UCS-2
 * characters a part. MODEM_SMS_TEXT_MAX (bytes of UTF-8) keeps that to
 * about 10 parts of plain text or 8 to 12 parts of CJK or emoji, the size
 * carriers still reassemble (many cap a message at 1600 characters).
 * Longer texts are refused with -EMSGSIZE, never cut. A number is an
 * optional "+" and 1 to MODEM_SMS_NUMBER_MAX digits: E.164, national or a
 * carrier short code (the caller normalises; no separators here).
 */
#define MODEM_SMS_TEXT_MAX   1600
#define MODEM_SMS_NUMBER_MAX 20
#define MODEM_SMS_PATH_MAX   128

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
 * C22: sends TEXT to NUMBER as a carrier SMS: Modem.Messaging.Create with
 * {"number": s, "text": s}, then Sms.Send on the new object. ModemManager
 * answers Send once the modem has taken every part; the Sms object's State
 * is then read back and must be SENT. On success copies the Sms object's
 * path into sms_path (cap bytes) and logs it; on failure nothing was sent
 * (as far as ModemManager knows) and the draft Sms object is deleted again,
 * except after -ETIMEDOUT. Details of a refusal go to the log (warn).
 * Returns 0 or
 *   -EINVAL       number or text malformed (modem_sms_check), or
 *                 ModemManager refused the properties (InvalidArgs)
 *   -EMSGSIZE     text longer than MODEM_SMS_TEXT_MAX
 *   -EOPNOTSUPP   the modem has no Messaging interface (or no Sms.Send)
 *   -EHOSTUNREACH ModemManager left the bus
 *   -EACCES       ModemManager (polkit) did not authorise us
 *   -ETIMEDOUT    no answer to Send in MODEM_SMS_SEND_TIMEOUT_S: the SMS
 *                 may or may not have gone out; the draft is kept
 *   -EIO          Create or Send failed for another reason (the modem's
 *                 error, e.g. no network or a rejected number, is logged),
 *                 or Send returned but State is not SENT
 */
#define MODEM_SMS_SEND_TIMEOUT_S 120
int modem_sms_send(struct modem *m, const char *number, const char *text,
		   char sms_path[MODEM_SMS_PATH_MAX]);

/*
 * Carrier voice call to NUMBER ([+]1..MODEM_SMS_NUMBER_MAX digits):
 * Modem.Voice.CreateCall({"number": s}), then Call.Start, then the Call's
 * State must be dialing, ringing-out or active. On success CALL_PATH gets
 * the Call object's path (for modem_voice_hangup); on failure the Call
 * object is deleted again (Voice.DeleteCall). 0 or
 *   -EINVAL       number malformed, or refused by ModemManager
 *   -EOPNOTSUPP   the modem has no Voice interface
 *   -EHOSTUNREACH, -EACCES, -ETIMEDOUT as for modem_sms_send
 *   -EIO          CreateCall or Start failed (logged), or the State after
 *                 Start is not a placed call (e.g. terminated)
 */
#define MODEM_CALL_PATH_MAX 128
#define MODEM_CALL_STATE_DIALING     1
#define MODEM_CALL_STATE_RINGING_OUT 2
#define MODEM_CALL_STATE_ACTIVE      4
#define MODEM_CALL_STATE_TERMINATED  7
int modem_voice_call(struct modem *m, const char *number,
		     char call_path[MODEM_CALL_PATH_MAX]);
/* Call.Hangup on a call placed by modem_voice_call. 0 or -errno. */
int modem_voice_hangup(struct modem *m, const char *call_path);
/* The Call's MMCallState. 0 or -errno. */
int modem_call_state(struct modem *m, const char *call_path, uint32_t *state);
/* "dialing", "active", ... ("?" when unknown). */
const char *modem_call_state_name(uint32_t state);
/* NUMBER is [+]DIGITS, 1..MODEM_SMS_NUMBER_MAX digits: 0 or -EINVAL. */
int modem_number_check(const char *number);

/*
 * Pure helpers (no I/O, no allocation).
 * modem_sms_check: NUMBER is [+]DIGITS (1..MODEM_SMS_NUMBER_MAX digits)
 * and TEXT is 1..MODEM_SMS_TEXT_MAX bytes of valid UTF-8 (D-Bus strings
 * must be); 0, -EINVAL or -EMSGSIZE (text too long).
 * modem_parse_code: finds "dataline code is NNNNNN" (case-insensitive,
 * exactly 6 digits not followed by another digit); 0 or -ENOENT.
 * modem_parse_timestamp: "YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH|+HH:MM|+HHMM]"
 * to Unix seconds (no zone means UTC); 0 or -EINVAL.
 */
int modem_sms_check(const char *number, const char *text);
int modem_parse_code(const char *text, size_t len, char code[MODEM_CODE_LEN + 1]);
int modem_parse_timestamp(const char *s, int64_t *out);

#endif
