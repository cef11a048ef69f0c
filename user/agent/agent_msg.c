/*
 * agent_msg: builds the agent's REGISTER (RFC 3261 s.10.2) with lib/sip's
 * builder: Request-URI sip:DOMAIN, To/From the AOR sip:NUMBER@DOMAIN, one
 * Call-ID and increasing CSeq for the agent's lifetime (s.10.2.4), a Via
 * with rport (RFC 3581), our Contact with ;expires and the device's
 * +sip.instance (RFC 5626 s.4.1), plus "Contact: <old>;expires=0" for the
 * Contact of a previous flow (after a reconnect the local port differs,
 * and without RFC 5626 outbound the registrar cannot know the old binding
 * is dead: it would count against the device's binding limit for up to an
 * hour), and, once the registrar has challenged
 * us, an Authorization answering the kept challenge (RFC 3261 s.22.4,
 * RFC 8760: lib/sip picks SHA-256 over MD5) with a growing nonce-count,
 * so a refresh does not need a fresh 401 round trip.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent_priv.h"
#include "dataline/log.h"

static const char *agent_via_transport(enum agent_transport tp)
{
	return tp == AGENT_TP_UDP ? "UDP" : tp == AGENT_TP_TCP ? "TCP" : "TLS";
}

int agent_msg_register(struct agent *a, uint32_t expires, char *buf,
		       size_t size, size_t *len)
{
	struct sip_req_params p = { 0 };
	struct sip_digest_challenge ch;
	struct sip_msg *m = NULL;
	struct sip_buf b;
	char ruri[300], aor[300];
	int r;

	if (snprintf(ruri, sizeof(ruri), "sip:%s", a->domain) >= (int)sizeof(ruri) ||
	    snprintf(aor, sizeof(aor), "sip:%s@%s", a->user, a->domain) >= (int)sizeof(aor))
		return -ENAMETOOLONG;
	r = sip_branch_new(a->branch, sizeof(a->branch));
	if (r < 0)
		return r;
	snprintf(a->contact, sizeof(a->contact), "sip:%s@%s:%u;transport=%s",
		 a->user, a->local, a->local_port, agent_transport_name(a->cfg.transport));
	a->cseq++;

	p.method = "REGISTER";
	p.ruri = ruri;
	p.transport = agent_via_transport(a->cfg.transport);
	p.via_host = a->local;
	p.via_port = a->local_port;
	p.branch = a->branch;
	p.rport = 1;
	p.from = aor;
	p.from_tag = a->from_tag;
	p.to = aor;
	p.call_id = a->call_id;
	p.cseq = a->cseq;
	sip_buf_init(&b, buf, size);
	sip_req_begin(&b, &p);
	if (a->instance)
		sip_buf_hdr(&b, "Contact", "<%s>;expires=%u;+sip.instance=\"<%s>\"",
			    a->contact, expires, a->instance);
	else
		sip_buf_hdr(&b, "Contact", "<%s>;expires=%u", a->contact, expires);
	if (a->bound[0] && strcmp(a->bound, a->contact) != 0)
		sip_buf_hdr(&b, "Contact", "<%s>;expires=0", a->bound);
	sip_buf_hdr(&b, "Expires", "%u", expires);
	sip_buf_hdr(&b, "User-Agent", "dataline-handset/0.1");

	if (a->chal_len) {
		/* struct sip_msg is big (header index): keep it off the stack */
		static __thread struct sip_msg msg;

		m = &msg;
		r = sip_msg_parse(a->chal, a->chal_len, SIP_PARSE_DGRAM, m, NULL);
		if (r == 0)
			r = sip_digest_challenge_pick(m, &ch);
		if (r == 0) {
			a->nc++;
			r = sip_digest_authorization_add(&b,
				m->status == 407 ? "Proxy-Authorization" : "Authorization",
				&ch, a->username, a->password, NULL, "REGISTER",
				ruri, NULL, a->nc);
		}
		if (r < 0) {
			log_warn("agent: cannot answer the kept challenge (%s)", strerror(-r));
			a->chal_len = 0;
			if (r != -ENOSPC)
				r = 0; /* send it without; the server challenges again */
		}
		if (r < 0)
			return r;
	}
	return sip_msg_end(&b, NULL, NULL, 0, len);
}
