/*
 * agent_resp: what the registration agent does with what the registrar
 * sends (RFC 3261 s.10.2): final responses to REGISTER (200 with the
 * granted lifetime of our Contact, 401/407 digest challenges per s.22.4 and
 * RFC 8760, 423 with Min-Expires per s.10.2.8, anything else a failure),
 * absorbed retransmissions (through lib/sip's transaction layer), and the
 * few requests a registrar may send down our flow (OPTIONS).
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

static void agent_on_challenge(struct agent *a, const struct sip_msg *m)
{
	struct sip_digest_challenge ch;

	if (sip_digest_challenge_pick(m, &ch) < 0) {
		agent_fail(a, "challenge without a usable Digest (MD5/SHA-256, qop=auth)");
		return;
	}
	/* Our credentials answered the challenge of this very round and
	 * were refused without stale=true: the password is wrong (or the
	 * device was revoked). A refresh answering an older, kept challenge
	 * just gets the new one answered. */
	if ((a->sent_auth && a->chal_fresh && !ch.stale) || ++a->auth_tries > 3) {
		a->chal_len = 0;
		agent_fail(a, "authentication refused (check the credentials)");
		return;
	}
	if (m->len > sizeof(a->chal)) {
		agent_fail(a, "challenge too large");
		return;
	}
	memcpy(a->chal, m->buf, m->len);
	a->chal_len = m->len;
	a->chal_fresh = 1;
	a->nc = 0;
	agent_send_register(a, a->stopping ? 0 : a->expires);
}

static void agent_on_final(struct agent *a, const struct sip_msg *m)
{
	char why[96];
	uint64_t minexp;
	const struct sip_hdr *h;

	a->last_status = m->status;
	if (m->status == 401 || m->status == 407) {
		agent_on_challenge(a, m);
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
		a->granted = agent_granted_from(a, m, a->expires);
		if (a->granted == 0) {
			agent_fail(a, "the registrar granted no lifetime");
			return;
		}
		a->failures = 0;
		a->auth_tries = 0;
		a->chal_fresh = 0;
		a->outbound = agent_has_token(m, SIP_HDR_REQUIRE, "outbound");
		log_info("agent: registered %s as %s for %u s", a->user, a->contact,
			 a->granted);
		snprintf(a->bound, sizeof(a->bound), "%s", a->contact);
		agent_registered(a);
		return;
	}
	if (m->status == 423 && (h = sip_msg_hdr(m, SIP_HDR_MIN_EXPIRES)) &&
	    sip_uint_decode(h->value, 86400 * 7, &minexp) == 0 && minexp > a->expires &&
	    a->auth_tries < 4) {
		log_info("agent: registrar wants at least %llu s", (unsigned long long)minexp);
		a->expires = (uint32_t)minexp;
		a->auth_tries++;
		agent_send_register(a, a->expires);
		return;
	}
	snprintf(why, sizeof(why), "REGISTER answered %d %.*s", m->status,
		 (int)m->reason.len, m->reason.p ? m->reason.p : "");
	agent_fail(a, why);
}

/* Answers requests the registrar may send on our flow. */
static void agent_on_request(struct agent *a, const struct sip_msg *m)
{
	static __thread char buf[AGENT_MSG_MAX];
	struct sip_buf b;
	size_t len;

	if (m->method_id == SIP_METHOD_ACK)
		return;
	sip_buf_init(&b, buf, sizeof(buf));
	sip_resp_begin(&b, m, m->method_id == SIP_METHOD_OPTIONS ? 200 : 501, NULL,
		       a->from_tag, NULL);
	if (m->method_id == SIP_METHOD_OPTIONS)
		sip_buf_hdr(&b, "Allow", "OPTIONS");
	if (sip_msg_end(&b, NULL, NULL, 0, &len) == 0)
		agent_conn_send(a, buf, len);
}

void agent_on_message(struct agent *a, const char *buf, size_t len, int stream)
{
	static __thread struct sip_msg m;
	struct sip_tx_key key = { 0 };
	enum sip_tx_verdict verdict;
	int r;

	r = sip_msg_parse(buf, len, stream ? SIP_PARSE_STREAM : SIP_PARSE_DGRAM, &m, NULL);
	if (r < 0) {
		log_debug("agent: dropped an unparsable message (%s)", strerror(-r));
		return;
	}
	if (m.is_request) {
		agent_on_request(a, &m);
		return;
	}
	if (m.cseq.method_id != SIP_METHOD_REGISTER ||
	    !sip_str_eq(m.call_id, a->call_id))
		return;
	key.branch = (struct sip_tx_str){ m.via.branch.p, m.via.branch.len };
	key.method = (struct sip_tx_str){ m.cseq.method.p, m.cseq.method.len };
	r = sip_tx_client_receive(a->txt, &key, m.status, NULL, 0, agent_now_ms(),
				  &verdict, NULL);
	agent_tx_rearm(a);
	if (r < 0 || verdict != SIP_TX_PASS || m.status < 200)
		return;
	if (m.cseq.num != a->cseq)
		return; /* answer to a REGISTER we have given up on */
	agent_on_final(a, &m);
}
