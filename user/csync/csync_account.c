/*
 * csync_account: what a sync needs from STATE_DIR/state.json (the server
 * URL, the TLS trust decision, the device's SIP credentials) and the
 * country code for national numbers: the setting "country_code" if the
 * user gave one, else the account number's own, read off its first digits
 * with the ITU-T E.164 list of country calling codes.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "csync_priv.h"
#include "dataline/log.h"

/* The two-digit country calling codes (ITU-T E.164 list); 1 and 7 are
 * the one-digit ones, every other code has three digits. */
static const char cc2[][3] = {
	"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41",
	"43", "44", "45", "46", "47", "48", "49", "51", "52", "53", "54",
	"55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
	"81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
};

int csync_country_code(const char *number, char out[4])
{
	size_t n = 3;

	if (!number || !e164_is_valid(number))
		return -EINVAL;
	if (number[1] == '1' || number[1] == '7')
		n = 1;
	for (size_t i = 0; n == 3 && i < sizeof(cc2) / sizeof(cc2[0]); i++)
		if (memcmp(number + 1, cc2[i], 2) == 0)
			n = 2;
	memcpy(out, number + 1, n);
	out[n] = '\0';
	return 0;
}

/* Copies OBJ's string member KEY into OUT (CAP bytes); a missing member
 * is "" unless REQUIRED. -EINVAL: required and missing, or too long. */
static int acct_str(json_t *obj, const char *key, char *out, size_t cap,
		    int required)
{
	json_t *v = json_object_get(obj, key);
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	if (!s || !s[0]) {
		out[0] = '\0';
		return required ? -EINVAL : 0;
	}
	if (strlen(s) >= cap)
		return -EINVAL;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int csync_account_load(const char *state_dir, struct csync_account *out)
{
	struct csync_account a = { 0 };
	char path[PATH_MAX], pin[128];
	json_error_t jerr;
	json_t *st, *acct, *trust;
	int r;

	if (snprintf(path, sizeof(path), "%s/state.json", state_dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, R_OK) < 0)
		return -errno;
	st = json_load_file(path, 0, &jerr);
	if (!st) {
		log_err("%s: %s", path, jerr.text);
		return -EINVAL;
	}
	acct = json_object_get(st, "account");
	trust = json_object_get(st, "trust");
	r = acct_str(st, "server", a.server, sizeof(a.server), 1);
	if (!r)
		r = acct_str(acct, "number", a.number, sizeof(a.number), 1);
	if (!r)
		r = acct_str(acct, "username", a.username, sizeof(a.username), 1);
	if (!r)
		r = acct_str(acct, "password", a.password, sizeof(a.password), 1);
	if (!r)
		r = acct_str(trust, "ca_file", a.ca_file, sizeof(a.ca_file), 0);
	if (!r)
		r = acct_str(trust, "pin_sha256", pin, sizeof(pin), 0);
	if (!r && pin[0])
		r = agent_pin_normalize(pin, a.pin) < 0 ? -EINVAL : 0;
	if (!r)
		r = acct_str(st, "country_code", a.country_code,
			     sizeof(a.country_code), 0);
	if (!r && a.country_code[0] &&
	    !e164_country_code_valid(a.country_code))
		r = -EINVAL;
	if (!r && !a.country_code[0])
		r = csync_country_code(a.number, a.country_code);
	a.tofu = json_is_true(json_object_get(trust, "tofu"));
	json_decref(st);
	if (r < 0) {
		log_err("%s: not a provisioned account (or a bad field)", path);
		return r;
	}
	*out = a;
	return 0;
}
