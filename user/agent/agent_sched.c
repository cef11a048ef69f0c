/*
 * agent_sched: the pure parts of the registration agent, kept apart so the
 * unit tests reach them without sockets: when to refresh a binding
 * (RFC 3261 s.10.2.4 leaves it to the UA), the flow-recovery backoff of
 * RFC 5626 s.4.5, and reading the server's SIP URIs from provisioning
 * ("sip:127.0.0.1:5060;transport=udp", "sips:[::1]:5061;transport=tls")
 * and certificate pins given by the user.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataline/agent.h"
#include "dataline/hostport.h"

/* Refresh once half of the lifetime has passed, but keep at most 600 s
 * of slack: enough for a full UDP timer F (32 s) plus a challenge round
 * trip and a few retries, without re-registering every half hour. */
uint32_t agent_refresh_delay(uint32_t granted)
{
	uint32_t half = granted / 2;

	if (granted > 1200)
		return granted - 600;
	return half ? half : 1;
}

/*
 * RFC 5626 s.4.5: wait = min(max-time, base-time * 2^failures), then a
 * random value between 50% and 100% of it. RND spreads many handsets
 * that lost the same server so they do not all come back at once.
 */
uint32_t agent_backoff_delay(uint32_t base, uint32_t max, unsigned failures,
			     uint32_t rnd)
{
	uint64_t w = base ? base : 30;
	uint64_t cap = max ? max : 1800;

	for (unsigned i = 0; i < failures && w < cap; i++)
		w *= 2;
	if (w > cap)
		w = cap;
	/* w/2 + w/2 * rnd/2^32, rounded up so a wait is never 0 */
	w = w / 2 + ((w - w / 2) * (uint64_t)rnd >> 32);
	return w ? (uint32_t)w : 1;
}

const char *agent_transport_name(enum agent_transport tp)
{
	switch (tp) {
	case AGENT_TP_UDP: return "udp";
	case AGENT_TP_TCP: return "tcp";
	case AGENT_TP_TLS: return "tls";
	}
	return "?";
}

int agent_transport_parse(const char *s, enum agent_transport *out)
{
	if (!s)
		return -EINVAL;
	if (strcasecmp(s, "udp") == 0)
		*out = AGENT_TP_UDP;
	else if (strcasecmp(s, "tcp") == 0)
		*out = AGENT_TP_TCP;
	else if (strcasecmp(s, "tls") == 0)
		*out = AGENT_TP_TLS;
	else
		return -EINVAL;
	return 0;
}

int agent_parse_server_uri(const char *uri, enum agent_transport *tp,
			   char *host, size_t hostlen, uint16_t *port)
{
	enum agent_transport t;
	const char *p, *params;
	struct hostport hp;
	size_t n;
	int sips;

	if (!uri)
		return -EINVAL;
	if (strncasecmp(uri, "sips:", 5) == 0) {
		sips = 1;
		p = uri + 5;
	} else if (strncasecmp(uri, "sip:", 4) == 0) {
		sips = 0;
		p = uri + 4;
	} else {
		return -EINVAL;
	}
	if (strchr(p, '@'))
		return -EINVAL; /* a server address has no user part */
	/* hostport ends at the parameters or headers (RFC 3261 s.19.1.1);
	 * the default port depends on the transport, so it is set below */
	n = strcspn(p, ";?");
	if (hostport_parse(p, n, HOSTPORT_PORT_OPTIONAL, 5060, &hp) ||
	    hp.host_len >= hostlen)
		return -EINVAL;
	p += n;
	t = sips ? AGENT_TP_TLS : AGENT_TP_UDP;
	params = *p == ';' ? p : NULL;
	while (params && *params == ';') {
		const char *v = params + 1;
		size_t n = strcspn(v, ";?");
		if (n > 10 && strncasecmp(v, "transport=", 10) == 0) {
			char name[8];
			if (n - 10 >= sizeof(name))
				return -EINVAL;
			memcpy(name, v + 10, n - 10);
			name[n - 10] = '\0';
			if (agent_transport_parse(name, &t) < 0)
				return -EINVAL;
			if (sips && t != AGENT_TP_TLS)
				return -EINVAL;
		}
		params = v + n;
	}
	hostport_host(&hp, host, hostlen);
	*tp = t;
	*port = hp.has_port ? hp.port : (t == AGENT_TP_TLS ? 5061 : 5060);
	return 0;
}

int agent_pin_normalize(const char *in, char out[AGENT_PIN_LEN])
{
	char tmp[AGENT_PIN_LEN];
	size_t n = 0;

	if (!in)
		return -EINVAL;
	for (; *in; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n >= AGENT_PIN_LEN - 1)
			return -EINVAL;
		tmp[n++] = (char)tolower((unsigned char)*in);
	}
	if (n != AGENT_PIN_LEN - 1)
		return -EINVAL;
	tmp[n] = '\0';
	memcpy(out, tmp, AGENT_PIN_LEN);
	return 0;
}
