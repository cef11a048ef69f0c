/*
 * daemon_pres: the daemon's presence (issue 8, steps C2/C3): makes the
 * hpres module for the agent from the options and the account. The
 * reflector is --probe ADDR:PORT, or by default the host of the account's
 * UDP SIP URI (else of any) at its port + HPRES_PROBE_PORT_OFFSET: the
 * server's --probe-udp default of `make run` (docs/presence.md, "The
 * handset's side"). RFC 3903 publication through the agent.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dataline/log.h"

/* The default reflector: HOST:PORT+10 of the UDP SIP URI (else the first). */
static int daemon_pres_reflector(json_t *acct, char *out, size_t cap)
{
	json_t *uris = json_object_get(acct, "sip_uris"), *v;
	enum agent_transport tp;
	char host[256], best[256] = "";
	uint16_t port, best_port = 0;
	size_t i;

	json_array_foreach(uris, i, v) {
		if (!json_is_string(v) ||
		    agent_parse_server_uri(json_string_value(v), &tp, host, sizeof(host),
					   &port) < 0)
			continue;
		if (!best[0] || tp == AGENT_TP_UDP) {
			/* a TLS URI's port is not the SIP port the offset is from */
			snprintf(best, sizeof(best), "%s", host);
			best_port = tp == AGENT_TP_TLS ? 5060 : port;
		}
		if (tp == AGENT_TP_UDP)
			break;
	}
	if (!best[0] || best_port > 65535 - HPRES_PROBE_PORT_OFFSET)
		return -ENOENT;
	if (snprintf(out, cap, strchr(best, ':') ? "[%s]:%u" : "%s:%u", best,
		     best_port + HPRES_PROBE_PORT_OFFSET) >= (int)cap)
		return -ENAMETOOLONG;
	return 0;
}

int daemon_pres_new(struct cli_opts *o, json_t *acct, struct event_base *base,
		    struct agent *a, struct hpres **out)
{
	struct hpres_config c = { 0 };
	char refl[300], entity[320];
	const char *number = cli_json_str(acct, "number"), *dom = cli_json_str(acct, "domain");
	int r;

	if (!number || !dom)
		return -EINVAL;
	snprintf(entity, sizeof(entity), "sip:%s@%s", number, dom);
	c.entity = entity;
	if (o->probe && strcmp(o->probe, "off") == 0)
		c.probe = NULL;
	else if (o->probe)
		c.probe = o->probe;
	else if (daemon_pres_reflector(acct, refl, sizeof(refl)) == 0)
		c.probe = refl;
	c.probe_interval_s = o->probe_interval;
	c.budget = o->probe_budget;
	c.over_budget = o->probe_over_budget;
	c.netq_pin_dir = o->netq_pin_dir;
	r = hpres_new(base, a, &c, out);
	if (r == -E2BIG)
		fprintf(stderr, "dataline: probing every %u s costs more than the budget "
			"of %llu bytes an hour (--probe-interval, --probe-budget; "
			"--probe-over-budget lets the budget space the probes)\n",
			o->probe_interval ? o->probe_interval : NETQ_PROBE_INTERVAL_S,
			(unsigned long long)(o->probe_budget ? o->probe_budget
							     : NETQ_PROBE_BUDGET));
	else if (r < 0)
		fprintf(stderr, "dataline: presence: %s\n", strerror(-r));
	if (r == 0 && (r = hpres_start(*out)) < 0) {
		hpres_free(*out);
		*out = NULL;
	}
	return r;
}
