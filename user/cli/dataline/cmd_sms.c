/*
 * modem sms-send / call: `dataline modem call NUMBER` places a carrier
 * voice call through ModemManager (Voice.CreateCall, Call.Start), the
 * path `dataline call --fallback carrier` takes.
 * `dataline modem sms-send NUMBER TEXT` sends one SMS
 * through ModemManager with the carrier module's modem backend (patent
 * step C22), the same path `dataline send --fallback carrier` takes. For
 * trying a modem by hand and for tests; it does not look at the data
 * network. Exit 0 sent, 1 not sent, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dataline/carrier.h"

/* "ModemManager is not running", ... for a carrier_* error R. */
const char *cli_carrier_error(int r)
{
	return r == -EHOSTUNREACH ? "ModemManager is not running" :
	       r == -ENODEV ? "no modem" :
	       r == -EMSGSIZE ? "text too long for an SMS" :
	       r == -EIO ? "ModemManager refused it (see the log)" :
	       r == -ETIMEDOUT ? "no answer from the modem; it may still go out" :
	       strerror(-r);
}

static int cmd_modem_call(struct cli_opts *o)
{
	const struct carrier c = { .backend = CARRIER_MODEM, .state_dir = o->state_dir };
	char ref[CARRIER_REF_MAX];
	int r = carrier_call_start(&c, o->argv[1], ref);

	if (r < 0) {
		printf("not placed: %s\n", r == -EOPNOTSUPP ?
		       "the modem cannot place voice calls (no Voice interface)" :
		       cli_carrier_error(r));
		return 1;
	}
	printf("placed: %s\n", ref);
	return 0;
}

int cmd_modem_sms(struct cli_opts *o)
{
	const struct carrier c = { .backend = CARRIER_MODEM, .state_dir = o->state_dir };
	char ref[CARRIER_REF_MAX];
	int r;

	if (strcmp(o->argv[0], "call") == 0 && o->argc == 2)
		return cmd_modem_call(o);
	if (strcmp(o->argv[0], "sms-send") != 0 || o->argc != 3) {
		fprintf(stderr, "usage: dataline modem [sms-send NUMBER TEXT | call NUMBER]\n");
		return 2;
	}
	r = carrier_sms_send(&c, o->argv[1], o->argv[2], ref);
	if (r < 0) {
		printf("not sent: %s\n", r == -EOPNOTSUPP ?
		       "the modem cannot send SMS (no Messaging interface)" :
		       r == -EIO ? "ModemManager could not send it (see the log)" :
		       cli_carrier_error(r));
		return 1;
	}
	printf("sent: %s\n", ref);
	return 0;
}
