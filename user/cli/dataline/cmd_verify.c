/*
 * verify: patent step A3 on the handset. The code is the argument, or the
 * one in the newest received dataline SMS that ModemManager holds (shown to
 * the user, who confirms with y; --yes for scripts). It is POSTed with the
 * number and the registration session that `register` saved to
 * SERVER/v1/registrations/verify; the SIP credentials in the
 * answer are stored in the state file (mode 0600), the password only there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli.h"
#include "dataline/log.h"
#include "dataline/modem.h"

/* Codes older than the request minus this are not ours (clock skew). */
#define VERIFY_SMS_SKEW 120

/* Reads y/N from the terminal (or stdin if there is none). */
static int verify_confirm(const char *question)
{
	char line[16] = "";
	FILE *tty = fopen("/dev/tty", "r+");
	FILE *in = tty ? tty : stdin, *out = tty ? tty : stdout;

	fprintf(out, "%s [y/N] ", question);
	fflush(out);
	if (!fgets(line, sizeof(line), in))
		line[0] = '\0';
	if (tty)
		fclose(tty);
	return line[0] == 'y' || line[0] == 'Y';
}

static int verify_code_from_sms(struct cli_opts *o, int64_t since, char code[MODEM_CODE_LEN + 1])
{
	struct modem_sms sms;
	struct modem *m;
	char q[700];
	int r;

	r = modem_open(&m);
	if (r < 0) {
		fprintf(stderr, "dataline: no modem to read the SMS from (%s); "
			"give the code: dataline verify CODE\n", strerror(-r));
		return r;
	}
	r = modem_newest_code_sms(m, since, &sms, code);
	modem_close(m);
	if (r < 0) {
		fprintf(stderr, "dataline: no dataline code SMS found yet; wait for it or "
			"give the code: dataline verify CODE\n");
		return r;
	}
	snprintf(q, sizeof(q), "SMS from %s at %s: \"%s\"\nUse code %s?",
		 sms.number, sms.timestamp, sms.text, code);
	if (o->yes) {
		printf("%s yes (--yes)\n", q);
		return 0;
	}
	if (!verify_confirm(q)) {
		fprintf(stderr, "dataline: not confirmed\n");
		return -ECANCELED;
	}
	return 0;
}

/* urn:uuid (RFC 4122 version 4) naming this device for RFC 5626. */
static void verify_instance(char out[46])
{
	unsigned char u[16];

	if (getrandom(u, sizeof(u), 0) != sizeof(u))
		memset(u, 0x5a, sizeof(u));
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, 46, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
		 u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int cmd_verify(struct cli_opts *o)
{
	char code[MODEM_CODE_LEN + 1], pin[AGENT_PIN_LEN] = "", inst[46];
	struct agent_trust trust;
	json_t *st = NULL, *pending, *body, *resp = NULL, *acct;
	const char *number, *server, *session;
	int64_t since;
	int status = 0, r;
	size_t i;

	r = cli_state_load(o->state_dir, CLI_STATE_FILE, &st);
	pending = r == 0 ? json_object_get(st, "pending") : NULL;
	number = cli_json_str(pending, "number");
	session = cli_json_str(pending, "session");
	server = cli_json_str(st, "server");
	if (number && server && !session) {
		fprintf(stderr, "dataline: the pending registration in %s has no "
			"registration session (made by an older dataline); run "
			"dataline register again\n", o->state_dir);
		r = 1;
		goto out;
	}
	if (!number || !server) {
		fprintf(stderr, "dataline: nothing to verify in %s; run dataline register first\n",
			o->state_dir);
		r = 1;
		goto out;
	}
	if (o->argc > 0) {
		const char *a = o->argv[0];
		if (strlen(a) != MODEM_CODE_LEN || strspn(a, "0123456789") != MODEM_CODE_LEN) {
			fprintf(stderr, "dataline: the code has %d digits\n", MODEM_CODE_LEN);
			r = 2;
			goto out;
		}
		memcpy(code, a, sizeof(code));
	} else {
		if (o->no_modem) {
			fprintf(stderr, "dataline: --no-modem: give the code: dataline verify CODE\n");
			r = 2;
			goto out;
		}
		since = json_integer_value(json_object_get(pending, "requested_at")) - VERIFY_SMS_SKEW;
		if (verify_code_from_sms(o, since, code) < 0) {
			r = 1;
			goto out;
		}
	}
	cli_trust_from_state(st, &trust);
	body = json_pack("{ss ss ss}", "number", number, "code", code,
			 "session", session);
	r = cli_api_post(server, &trust, "/v1/registrations/verify", body, &status,
			 &resp, pin, NULL);
	json_decref(body);
	if (r < 0) {
		fprintf(stderr, "dataline: cannot reach %s: %s\n", server, strerror(-r));
		r = 1;
		goto out;
	}
	if (status != 200 || !cli_json_str(resp, "username") ||
	    !cli_json_str(resp, "password") || !cli_json_str(resp, "domain")) {
		const char *msg = cli_json_str(resp, "message"), *err = cli_json_str(resp, "error");
		json_t *left = json_object_get(resp, "tries_left");

		fprintf(stderr, "dataline: verification refused: HTTP %d %s%s%s\n", status,
			err ? err : "", msg ? ": " : "", msg ? msg : "");
		if (json_is_integer(left))
			fprintf(stderr, "dataline: %lld tries left\n",
				(long long)json_integer_value(left));
		r = 1;
		goto out;
	}
	acct = json_object();
	static const char *const keys[] = { "number", "username", "password", "domain",
					    "realm", "aor" };
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(resp, keys[i]);
		if (json_is_string(v))
			json_object_set(acct, keys[i], v);
	}
	if (!json_object_get(acct, "number"))
		json_object_set_new(acct, "number", json_string(number));
	if (json_is_array(json_object_get(resp, "sip_uris")))
		json_object_set(acct, "sip_uris", json_object_get(resp, "sip_uris"));
	verify_instance(inst);
	json_object_set_new(acct, "instance", json_string(inst));
	json_object_set_new(st, "account", acct);
	json_object_del(st, "pending"); /* NUMBER pointed into it */
	number = NULL;
	/* trust on first use over HTTPS: pin what we saw if nothing is yet */
	if (pin[0] && trust.tofu && !trust.ca_file && !trust.pin_sha256)
		json_object_set_new(json_object_get(st, "trust"), "pin_sha256",
				    json_string(pin));
	r = cli_state_save(o->state_dir, CLI_STATE_FILE, st);
	if (r < 0) {
		fprintf(stderr, "dataline: cannot write the credentials to %s: %s\n",
			o->state_dir, strerror(-r));
		r = 1;
		goto out;
	}
	printf("Verified %s. SIP account %s@%s saved in %s/%s (mode 0600).\n",
	       cli_json_str(acct, "number"), cli_json_str(acct, "username"),
	       cli_json_str(acct, "domain"), o->state_dir, CLI_STATE_FILE);
	printf("Next: dataline daemon\n");
	r = 0;
out:
	json_decref(resp);
	json_decref(st);
	return r;
}
