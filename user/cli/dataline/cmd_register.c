/*
 * register: patent steps A1 and A2 on the handset. The number is the SIM's
 * own number from ModemManager (Modem.OwnNumbers) when a modem is present,
 * otherwise the argument; it is POSTed to SERVER/v1/registrations, which
 * sends a one-time code by SMS. The server, number, time and the TLS trust
 * decision (CA file, or the certificate's pin) go into the state file for
 * `dataline verify` and `dataline daemon`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dataline/e164.h"
#include "dataline/log.h"
#include "dataline/modem.h"

/* A1: the SIM's number if a modem is there. 0, or -errno (none). */
static int reg_modem_number(char *buf, size_t len)
{
	struct modem *m;
	int r;

	r = modem_open(&m);
	if (r < 0) {
		log_debug("register: no modem (%s)", strerror(-r));
		return r;
	}
	r = modem_own_number(m, buf, len);
	if (r < 0)
		log_warn("register: the modem %s reports no own number", modem_path(m));
	modem_close(m);
	return r;
}

/* Prints the API's {"error","message"} and returns 1. */
static int reg_api_error(const char *what, int status, json_t *resp, long retry_after)
{
	const char *msg = cli_json_str(resp, "message");
	const char *code = cli_json_str(resp, "error");

	fprintf(stderr, "dataline: %s refused: HTTP %d %s%s%s\n", what, status,
		code ? code : "", msg ? ": " : "", msg ? msg : "");
	if (retry_after > 0)
		fprintf(stderr, "dataline: try again in %ld s\n", retry_after);
	return 1;
}

int cmd_register(struct cli_opts *o)
{
	char sim[E164_MAX] = "", number[E164_MAX], pin[AGENT_PIN_LEN] = "";
	char given_pin[AGENT_PIN_LEN];
	struct agent_trust trust = { 0 };
	json_t *st = NULL, *body, *resp = NULL, *t;
	long retry_after = 0;
	int status = 0, r;

	if (!o->server) {
		fprintf(stderr, "dataline: register needs --server URL\n");
		return 2;
	}
	if (!o->no_modem)
		reg_modem_number(sim, sizeof(sim));
	if (sim[0]) {
		if (o->argc > 0 && (e164_normalize(o->argv[0], strlen(o->argv[0]), number) < 0 ||
				    strcmp(number, sim) != 0)) {
			fprintf(stderr, "dataline: the SIM's number is %s, not %s "
				"(use --no-modem to register another number)\n", sim, o->argv[0]);
			return 1;
		}
		memcpy(number, sim, sizeof(number));
		printf("Number from the SIM (ModemManager): %s\n", number);
	} else if (o->argc > 0) {
		if (e164_normalize(o->argv[0], strlen(o->argv[0]), number) < 0) {
			fprintf(stderr, "dataline: '%s' is not an international number "
				"(+ country code and number)\n", o->argv[0]);
			return 2;
		}
	} else {
		fprintf(stderr, "dataline: no modem number found; give the number: "
			"dataline register +NUMBER --server URL\n");
		return 2;
	}
	if (o->pin && agent_pin_normalize(o->pin, given_pin) < 0) {
		fprintf(stderr, "dataline: --pin needs a SHA-256 fingerprint (64 hex digits)\n");
		return 2;
	}
	trust.ca_file = o->ca_file;
	trust.pin_sha256 = o->pin ? given_pin : NULL;
	trust.tofu = o->insecure;

	body = json_pack("{ss}", "number", number);
	r = cli_api_post(o->server, &trust, "/v1/registrations", body, &status,
			 &resp, pin, &retry_after);
	json_decref(body);
	if (r < 0) {
		fprintf(stderr, "dataline: cannot reach %s: %s\n", o->server, strerror(-r));
		return 1;
	}
	if (status != 202) {
		r = reg_api_error("registration", status, resp, retry_after);
		goto out;
	}
	if (!cli_json_str(resp, "session")) {
		fprintf(stderr, "dataline: the server sent no registration session\n");
		r = 1;
		goto out;
	}

	/* Keep an existing account (a new device is issued on verify). */
	if (cli_state_load(o->state_dir, CLI_STATE_FILE, &st) < 0)
		st = json_object();
	t = json_object();
	if (o->ca_file)
		json_object_set_new(t, "ca_file", json_string(o->ca_file));
	if (pin[0] && !o->ca_file)
		json_object_set_new(t, "pin_sha256", json_string(pin));
	json_object_set_new(t, "tofu", json_boolean(o->insecure));
	json_object_set_new(st, "trust", t);
	json_object_set_new(st, "server", json_string(o->server));
	/* the session ties verify to this request's code (docs/protocol.md) */
	json_object_set_new(st, "pending", json_pack("{ss ss sI}", "number", number,
						     "session", cli_json_str(resp, "session"),
						     "requested_at", (json_int_t)time(NULL)));
	r = cli_state_save(o->state_dir, CLI_STATE_FILE, st);
	if (r < 0) {
		fprintf(stderr, "dataline: cannot write %s/%s: %s\n", o->state_dir,
			CLI_STATE_FILE, strerror(-r));
		r = 1;
		goto out;
	}
	printf("A code was sent by SMS to %s (valid %lld s).\n", number,
	       (long long)json_integer_value(json_object_get(resp, "expires_in")));
	if (pin[0])
		printf("Server certificate sha256: %s%s\n", pin,
		       o->ca_file ? "" : " (pinned)");
	printf("Next: dataline verify [CODE]\n");
	r = 0;
out:
	json_decref(resp);
	json_decref(st);
	return r;
}
