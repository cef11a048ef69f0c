/*
 * agent_reg: the REGISTER client (RFC 3261 s.10.2), a client of the UA
 * core like any other: Request-URI sip:DOMAIN, To/From the AOR
 * sip:NUMBER@DOMAIN, one Call-ID and increasing CSeq for the agent's
 * lifetime (s.10.2.4), our Contact with ;expires and the device's
 * +sip.instance (RFC 5626 s.4.1), plus "Contact: <old>;expires=0" for the
 * Contact of a previous flow (after a reconnect the local port differs,
 * and without RFC 5626 outbound the registrar cannot know the old binding
 * is dead: it would count against the device's binding limit for up to an
 * hour). Digest (401) is the core's: a refresh answers the kept challenge
 * with a growing nonce-count and needs no fresh 401 round trip.
 *
 * Final answers: 2xx with the granted lifetime of our Contact; 423 with
 * Min-Expires (s.10.2.8) raises Expires and retries; anything else -- a
 * 401 the core gave up on (wrong password), timer F -- is a failure that
 * agent.c turns into a backoff.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent_priv.h"
#include "dataline/log.h"

/* Granted lifetime: our Contact's ;expires, else Expires, else asked. */
static uint32_t agent_granted_from(struct agent *a, const struct sip_msg *m,
				   uint32_t asked)
{
	struct sip_list_iter it;
	struct sip_contact c;
	struct sip_str v;
	char local[64];
	size_t n = strlen(a->local);

	/* our host without IPv6 brackets, as the URI decoder gives it */
	if (a->local[0] == '[' && n > 2)
		snprintf(local, sizeof(local), "%.*s", (int)(n - 2), a->local + 1);
	else
		snprintf(local, sizeof(local), "%s", a->local);
	sip_list_init(&it, m, SIP_HDR_CONTACT);
	while (sip_list_next(&it, &v) == 0) {
		if (sip_contact_decode(v, &c) < 0 || c.star)
			continue;
		if (c.addr.uri.port == a->local_port &&
		    sip_str_caseeq(c.addr.uri.host, local) && c.expires >= 0)
			return c.expires > UINT32_MAX ? UINT32_MAX : (uint32_t)c.expires;
	}
	if (m->expires >= 0)
		return m->expires > UINT32_MAX ? UINT32_MAX : (uint32_t)m->expires;
	return asked;
}

static int agent_has_token(const struct sip_msg *m, enum sip_hdr_id id, const char *tok)
{
	struct sip_list_iter it;
	struct sip_str v;

	sip_list_init(&it, m, id);
	while (sip_list_next(&it, &v) == 0)
		if (sip_str_caseeq(v, tok))
			return 1;
	return 0;
}

static void agent_reg_ok(struct agent *a, const struct sip_msg *m)
{
	a->granted = agent_granted_from(a, m, a->expires);
	if (a->granted == 0) {
		agent_fail(a, "the registrar granted no lifetime");
		return;
	}
	a->failures = 0;
	a->reg_retries = 0;
	a->outbound = agent_has_token(m, SIP_HDR_REQUIRE, "outbound");
	log_info("agent: registered %s as %s for %u s", a->user, a->contact, a->granted);
	snprintf(a->bound, sizeof(a->bound), "%s", a->contact);
	agent_registered(a);
}

static void agent_reg_done(void *arg, const struct agent_result *res)
{
	struct agent *a = arg;
	const struct sip_msg *m = res->resp;
	const struct sip_hdr *h;
	uint64_t minexp;
	char why[96];

	a->reg_req = NULL;
	a->cseq = res->cseq;
	a->last_status = res->status;
	if (!m) {
		agent_fail(a, res->status == 408 ? "no answer from the registrar (timer F)" :
			   "the flow to the registrar was lost");
		return;
	}
	if (a->stopping) {
		if (m->status / 100 != 2)
			log_warn("agent: unregistration answered %d", m->status);
		else
			a->bound[0] = '\0';
		agent_finish_stop(a);
		return;
	}
	if (m->status / 100 == 2) {
		agent_reg_ok(a, m);
		return;
	}
	if (m->status == 423 && (h = sip_msg_hdr(m, SIP_HDR_MIN_EXPIRES)) &&
	    sip_uint_decode(h->value, 86400 * 7, &minexp) == 0 && minexp > a->expires &&
	    a->reg_retries < 4) {
		log_info("agent: registrar wants at least %llu s", (unsigned long long)minexp);
		a->expires = (uint32_t)minexp;
		a->reg_retries++;
		agent_send_register(a, a->expires);
		return;
	}
	if (m->status == 401 || m->status == 407)
		snprintf(why, sizeof(why), "authentication refused (check the credentials)");
	else
		snprintf(why, sizeof(why), "REGISTER answered %d %.*s", m->status,
			 (int)m->reason.len, m->reason.p ? m->reason.p : "");
	agent_fail(a, why);
}

void agent_reg_abort(struct agent *a)
{
	if (a->reg_req)
		agent_req_cancel(a->reg_req);
	a->reg_req = NULL;
}

void agent_send_register(struct agent *a, uint32_t expires)
{
	struct agent_req_params p = { 0 };
	char ruri[AGENT_URI_MAX], aor[AGENT_URI_MAX], hdrs[AGENT_HDRS_MAX];
	struct sip_buf b;
	size_t len;
	int e;

	agent_reg_abort(a);
	snprintf(a->contact, sizeof(a->contact), "sip:%s@%s:%u;transport=%s",
		 a->user, a->local, a->local_port, agent_transport_name(a->cfg.transport));
	sip_buf_init(&b, hdrs, sizeof(hdrs));
	if (a->instance)
		sip_buf_hdr(&b, "Contact", "<%s>;expires=%u;+sip.instance=\"<%s>\"",
			    a->contact, expires, a->instance);
	else
		sip_buf_hdr(&b, "Contact", "<%s>;expires=%u", a->contact, expires);
	if (a->bound[0] && strcmp(a->bound, a->contact) != 0)
		sip_buf_hdr(&b, "Contact", "<%s>;expires=0", a->bound);
	sip_buf_hdr(&b, "Expires", "%u", expires);
	if (snprintf(ruri, sizeof(ruri), "sip:%s", a->domain) >= (int)sizeof(ruri) ||
	    snprintf(aor, sizeof(aor), "sip:%s@%s", a->user, a->domain) >= (int)sizeof(aor) ||
	    sip_buf_finish(&b, &len) < 0) {
		agent_fail(a, "cannot build REGISTER");
		return;
	}
	p.method = "REGISTER";
	p.ruri = ruri;
	p.to = aor;
	p.call_id = a->call_id;
	p.from_tag = a->from_tag;
	p.cseq = a->cseq + 1;
	p.headers = hdrs;
	agent_set_state(a, expires ? AGENT_REGISTERING : AGENT_UNREGISTERING);
	log_debug("agent: sending REGISTER cseq %u expires %u", p.cseq, expires);
	e = agent_request(a, &p, agent_reg_done, a, &a->reg_req);
	if (e < 0) {
		a->reg_req = NULL;
		log_warn("agent: cannot send REGISTER: %s", strerror(-e));
		agent_fail(a, "cannot send REGISTER");
		return;
	}
	a->cseq = p.cseq;
}
