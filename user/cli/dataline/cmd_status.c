/*
 * status and modem: what the handset has. `status` prints the account from
 * the state file (never the password) and the daemon's last reported SIP
 * registration state (daemon.json, written on every state change; the pid
 * in it tells whether the daemon still runs). `modem` prints what
 * ModemManager reports: the modem, the SIM's number (A1) and the newest
 * dataline code SMS (A3); `modem sms-send` is in cmd_sms.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "cli.h"
#include "dataline/svc.h"
#include "dataline/modem.h"

static void status_service(struct cli_opts *o);

int cmd_status(struct cli_opts *o)
{
	json_t *st = NULL, *d = NULL, *acct, *pending, *uris, *v;
	const char *pin, *ca;
	size_t i;
	int r;

	r = cli_state_load(o->state_dir, CLI_STATE_FILE, &st);
	if (r < 0) {
		printf("state:     %s (none: run dataline register)\n", o->state_dir);
		return 1;
	}
	printf("state:     %s/%s\n", o->state_dir, CLI_STATE_FILE);
	printf("server:    %s\n", cli_json_str(st, "server") ? cli_json_str(st, "server") : "-");
	pin = cli_json_str(json_object_get(st, "trust"), "pin_sha256");
	ca = cli_json_str(json_object_get(st, "trust"), "ca_file");
	printf("tls trust: %s%s\n", ca ? "CA " : pin ? "pinned sha256 " : "system CAs",
	       ca ? ca : pin ? pin : "");
	pending = json_object_get(st, "pending");
	if (pending)
		printf("pending:   code requested for %s at %lld\n",
		       cli_json_str(pending, "number"),
		       (long long)json_integer_value(json_object_get(pending, "requested_at")));
	acct = json_object_get(st, "account");
	if (!acct) {
		printf("account:   none (run dataline verify)\n");
		r = 1;
		goto out;
	}
	printf("number:    %s\n", cli_json_str(acct, "number"));
	printf("aor:       %s\n", cli_json_str(acct, "aor") ? cli_json_str(acct, "aor") : "-");
	printf("username:  %s\n", cli_json_str(acct, "username"));
	printf("domain:    %s\n", cli_json_str(acct, "domain"));
	uris = json_object_get(acct, "sip_uris");
	json_array_foreach(uris, i, v)
		printf("sip uri:   %s\n", json_string_value(v));

	if (cli_state_load(o->state_dir, CLI_STATUS_FILE, &d) < 0) {
		printf("daemon:    never ran\n");
		r = 0;
		goto out;
	}
	json_int_t pid = json_integer_value(json_object_get(d, "pid"));
	int alive = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
	printf("daemon:    %s (pid %lld)\n", alive ? "running" : "not running", (long long)pid);
	time_t upd = (time_t)json_integer_value(json_object_get(d, "updated_at"));
	char when[32] = "-";
	struct tm tm;

	if (upd > 0 && gmtime_r(&upd, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("sip:       %s over %s, contact %s, expires %lld s, last change %s\n",
	       cli_json_str(d, "state"), cli_json_str(d, "transport"),
	       cli_json_str(d, "contact") ? cli_json_str(d, "contact") : "-",
	       (long long)json_integer_value(json_object_get(d, "expires")),
	       when);
	if (alive)
		status_service(o);
	r = 0;
out:
	json_decref(d);
	json_decref(st);
	return r;
}

/* What the running daemon says on D-Bus (GetStatus): the C22 check and
 * the network figures it publishes. */
static void status_service(struct cli_opts *o)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *rep = NULL;
	json_t *st = json_object();
	sd_bus *bus = NULL;
	json_t *v;

	if (cli_bus_open(o, &bus) < 0)
		goto out;
	if (sd_bus_call_method(bus, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE,
			       "GetStatus", &err, &rep, "") < 0 ||
	    cli_bus_dict(rep, st) < 0) {
		cli_bus_perror("status", -EIO, err.name, err.message);
		goto out;
	}
	printf("data:      %s (%s)\n", json_is_true(json_object_get(st, "data")) ?
	       "connected" : "not connected", cli_json_str(st, "reason"));
	printf("figures:   link %s", cli_json_str(st, "link") ? cli_json_str(st, "link") : "?");
	if ((v = json_object_get(st, "rate_kbps")))
		printf(", rate %lld kbit/s%s", (long long)json_integer_value(v),
		       json_is_true(json_object_get(st, "rate_probed")) ? " (probed)" : "");
	if ((v = json_object_get(st, "rtt_ms")))
		printf(", rtt %lld ms", (long long)json_integer_value(v));
	if ((v = json_object_get(st, "loss_ppm")))
		printf(", loss %lld ppm", (long long)json_integer_value(v));
	printf(", %s\n", json_is_true(json_object_get(st, "published")) ? "published"
								       : "not published");
	if ((v = json_object_get(st, "probe_budget")))
		printf("probing:   %lld of %lld bytes in the last hour\n",
		       (long long)json_integer_value(json_object_get(st, "probe_bytes_hour")),
		       (long long)json_integer_value(v));
out:
	json_decref(st);
	sd_bus_error_free(&err);
	sd_bus_message_unref(rep);
	sd_bus_flush_close_unref(bus);
}

int cmd_modem(struct cli_opts *o)
{
	char num[32], code[MODEM_CODE_LEN + 1];
	struct modem_sms sms;
	struct modem *m;
	int r;

	if (o->argc > 0)
		return cmd_modem_sms(o);
	r = modem_open(&m);
	if (r < 0) {
		printf("modem:     none (%s)\n", r == -EHOSTUNREACH ?
		       "ModemManager is not running" : strerror(-r));
		return 1;
	}
	printf("modem:     %s\n", modem_path(m));
	r = modem_own_number(m, num, sizeof(num));
	printf("number:    %s\n", r == 0 ? num : "unknown (the SIM reports none)");
	r = modem_newest_code_sms(m, 0, &sms, code);
	if (r == 0)
		printf("code sms:  %s from %s at %s (%s)\n", code, sms.number,
		       sms.timestamp, sms.path);
	else
		printf("code sms:  none\n");
	modem_close(m);
	return 0;
}
