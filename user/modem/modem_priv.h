/*
 * modem_priv: what modem.c (modem, SMS) and modem_voice.c (voice calls)
 * share: ModemManager's names, the modem handle and the error mapping.
 * Not installed; include only from user/modem/.
 */
#ifndef DATALINE_MODEM_PRIV_H
#define DATALINE_MODEM_PRIV_H

#include <systemd/sd-bus.h>

#define MM_SERVICE   "org.freedesktop.ModemManager1"
#define MM_PATH      "/org/freedesktop/ModemManager1"
#define MM_IF_MODEM  "org.freedesktop.ModemManager1.Modem"
#define MM_IF_MSG    "org.freedesktop.ModemManager1.Modem.Messaging"
#define MM_IF_SMS    "org.freedesktop.ModemManager1.Sms"
#define MM_IF_VOICE  "org.freedesktop.ModemManager1.Modem.Voice"
#define MM_IF_CALL   "org.freedesktop.ModemManager1.Call"

struct modem {
	sd_bus *bus;      /* owned; unref'd in modem_close */
	char path[128];   /* modem object path */
};

/* ModemManager's message for a failed call, or strerror(-R). */
const char *modem_err_text(const sd_bus_error *err, int r);
/* Logs a failed call WHAT on object OBJ and returns its -errno. */
int modem_call_failed(const char *what, const char *obj, const sd_bus_error *err, int r);

#endif
