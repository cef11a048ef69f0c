/*
 * fuzz_handset_parse: libFuzzer target for the handset's parsers of
 * outside input: the text of a received SMS (modem_parse_code), an SMS
 * timestamp from ModemManager (modem_parse_timestamp), the number and text
 * of an SMS to send (modem_sms_check), a server SIP URI
 * from provisioning (agent_parse_server_uri) and a certificate pin
 * (agent_pin_normalize). They live in user/, which the fuzz build does not
 * compile, so their sources (pure, no dependencies) are included here.
 * Checks: no out-of-bounds read (the SMS text is not NUL-terminated), and
 * whatever is accepted has the promised shape.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/agent/agent_sched.c"
#include "../../user/modem/modem_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[MODEM_CODE_LEN + 1], host[64], pin[AGENT_PIN_LEN], *s;
	enum agent_transport tp;
	uint16_t port;
	int64_t t;

	if (size > 4096)
		return 0;
	/* exactly SIZE bytes, no terminator: overreads trip ASan */
	if (modem_parse_code((const char *)data, size, code) == 0) {
		if (strlen(code) != MODEM_CODE_LEN)
			abort();
		for (int i = 0; i < MODEM_CODE_LEN; i++)
			if (!isdigit((unsigned char)code[i]))
				abort();
	}
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	modem_parse_timestamp(s, &t);
	if (modem_sms_check("+1", s) == 0 &&
	    (strlen(s) == 0 || strlen(s) > MODEM_SMS_TEXT_MAX))
		abort();
	if (modem_sms_check(s, "x") == 0 &&
	    (strlen(s) < 1 || strlen(s) > MODEM_SMS_NUMBER_MAX + 1))
		abort();
	if (agent_parse_server_uri(s, &tp, host, sizeof(host), &port) == 0) {
		if (!host[0] || strlen(host) >= sizeof(host) || port == 0 ||
		    tp > AGENT_TP_TLS)
			abort();
	}
	if (agent_pin_normalize(s, pin) == 0 && strlen(pin) != AGENT_PIN_LEN - 1)
		abort();
	free(s);
	return 0;
}
