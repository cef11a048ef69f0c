/*
 * agent_serve: the server side of the handset's UA core (RFC 3261 s.8.2,
 * s.17.2): requests the server sends down our flow (MESSAGE, NOTIFY,
 * OPTIONS, ...).
 *
 * Each request is first matched against lib/sip's server transactions
 * (branch + sent-by + method, or the RFC 2543 fallback): a retransmission
 * is answered with the response already sent and goes no further, so a
 * handler runs once per transaction even when the server resends a
 * MESSAGE over UDP before our 200 reached it. A new request goes to the
 * handler registered for its method, which returns the final status; the
 * response is built here and kept in the transaction (timer J over UDP).
 * The table is bounded (AGENT_SRV_TX_MAX): over it the oldest answered
 * transactions are evicted, and if none can be, the answer goes out
 * statelessly.
 *
 * Without a handler: OPTIONS gets 200 (s.11.2), a method we know but do
 * not take 405, one we do not know 501 (s.8.2.1); each carries Allow,
 * built from the handler table. ACK is absorbed; it never gets an answer.
 * INVITE, CANCEL, BYE and the ACK of a 2xx go to the call layer
 * (agent_call_in.c), which answers an INVITE itself, later, through the
 * transaction made here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent_priv.h"
#include "dataline/log.h"

static struct agent_handler_ent *agent_handler_find(struct agent *a, struct sip_str method)
{
	for (unsigned i = 0; i < AGENT_HANDLER_MAX; i++)
		if (a->handlers[i].method[0] && sip_str_eq(method, a->handlers[i].method))
			return &a->handlers[i];
	return NULL;
}

int agent_handle(struct agent *a, const char *method, agent_handler fn, void *arg)
{
	struct agent_handler_ent *h, *free_ent = NULL;
	struct sip_str name;
	enum sip_method mid;
	size_t n;

	if (!method || !(n = strlen(method)) || n >= AGENT_METHOD_MAX ||
	    strcspn(method, " \t\r\n,;:") != n)
		return -EINVAL;
	name = (struct sip_str){ method, n };
	mid = sip_method_lookup(name);
	if (mid == SIP_METHOD_ACK || mid == SIP_METHOD_CANCEL || mid == SIP_METHOD_INVITE)
		return -EINVAL;
	h = agent_handler_find(a, name);
	if (!fn) {
		if (h)
			memset(h, 0, sizeof(*h));
		return 0;
	}
	for (unsigned i = 0; i < AGENT_HANDLER_MAX && !h && !free_ent; i++)
		if (!a->handlers[i].method[0])
			free_ent = &a->handlers[i];
	if (!h && !(h = free_ent))
		return -ENOBUFS;
	memcpy(h->method, method, n + 1);
	h->fn = fn;
	h->arg = arg;
	return 0;
}

/* "Allow: OPTIONS, MESSAGE, ..." from the handler table. */
static void agent_add_allow(struct agent *a, struct sip_buf *b)
{
	sip_buf_adds(b, "Allow: OPTIONS");
	if (a->calls)
		sip_buf_adds(b, ", INVITE, ACK, CANCEL, BYE");
	for (unsigned i = 0; i < AGENT_HANDLER_MAX; i++)
		if (a->handlers[i].method[0] && strcmp(a->handlers[i].method, "OPTIONS"))
			sip_buf_printf(b, ", %s", a->handlers[i].method);
	sip_buf_adds(b, "\r\n");
}

/* The final status for M: its handler's, or the core's own; 0 when the
 * call layer answered (or will answer) an INVITE itself through TX. */
static int agent_dispatch(struct agent *a, const struct sip_msg *m, struct sip_tx *tx)
{
	struct agent_handler_ent *h = agent_handler_find(a, m->method);
	int status;

	if (m->method_id == SIP_METHOD_INVITE || m->method_id == SIP_METHOD_CANCEL ||
	    m->method_id == SIP_METHOD_BYE)
		return agent_call_serve(a, m, tx);

	if (h) {
		status = h->fn(h->arg, m);
		if (status < 200 || status > 699) {
			log_warn("agent: %s handler answered %d; sending 500",
				 h->method, status);
			status = 500;
		}
		return status;
	}
	if (m->method_id == SIP_METHOD_OPTIONS)
		return 200;
	return m->method_id == SIP_METHOD_OTHER ? 501 : 405;
}

/* Fills KEY from M (slices into M and SENT_BY/CSEQ, which the caller keeps). */
static void agent_server_key(const struct sip_msg *m, struct sip_tx_key *key,
			     char *sent_by, size_t sbcap, char *cseq, size_t cscap)
{
	const struct sip_hdr *via = sip_msg_hdr(m, SIP_HDR_VIA);
	int ipv6 = m->via.host_is_ipv6;

	memset(key, 0, sizeof(*key));
	snprintf(sent_by, sbcap, "%s%.*s%s:%u", ipv6 ? "[" : "", (int)m->via.host.len,
		 m->via.host.p, ipv6 ? "]" : "", m->via.port ? m->via.port : 5060);
	snprintf(cseq, cscap, "%u", m->cseq.num);
	key->branch = (struct sip_tx_str){ m->via.branch.p, m->via.branch.len };
	key->sent_by = (struct sip_tx_str){ sent_by, strlen(sent_by) };
	key->method = (struct sip_tx_str){ m->method.p, m->method.len };
	key->ruri = (struct sip_tx_str){ m->ruri_str.p, m->ruri_str.len };
	key->call_id = (struct sip_tx_str){ m->call_id.p, m->call_id.len };
	key->from_tag = (struct sip_tx_str){ m->from.tag.p, m->from.tag.len };
	key->to_tag = (struct sip_tx_str){ m->to.tag.p, m->to.tag.len };
	key->cseq_num = (struct sip_tx_str){ cseq, strlen(cseq) };
	if (via)
		key->via = (struct sip_tx_str){ via->value.p, via->value.len };
}

void agent_serve_request(struct agent *a, const struct sip_msg *m, int stream)
{
	static __thread char buf[AGENT_MSG_MAX];
	char sent_by[96], cseq[16];
	struct sip_tx_key key;
	enum sip_tx_verdict v;
	struct sip_tx *tx = NULL;
	struct sip_buf b;
	uint64_t now = agent_now_ms();
	size_t len;
	int status, e;

	agent_server_key(m, &key, sent_by, sizeof(sent_by), cseq, sizeof(cseq));
	e = sip_tx_server_receive(a->txt, &key, now, &v);
	if (m->method_id == SIP_METHOD_ACK) {
		/* an ACK for a 3xx-6xx is absorbed by the INVITE's tx; one
		 * for a 2xx is end to end, for the call layer (s.13.3.1.4) */
		if (e < 0 || v != SIP_TX_ABSORBED)
			agent_call_serve(a, m, NULL);
		agent_tx_rearm(a);
		return;
	}
	if (e == 0 && v == SIP_TX_ABSORBED) {
		log_debug("agent: %.*s retransmission absorbed", (int)m->method.len,
			  m->method.p);
		agent_tx_rearm(a);
		return;
	}
	if (sip_tx_server_new(a->txt, &key, "r", 1, stream, now, &tx) < 0)
		tx = NULL; /* over the budget: answer statelessly */
	status = agent_dispatch(a, m, tx);
	if (!a->txt)
		return; /* the handler stopped the agent's flow */
	if (status == 0) {
		agent_tx_rearm(a); /* the call layer took TX over */
		return;
	}
	sip_buf_init(&b, buf, sizeof(buf));
	sip_resp_begin(&b, m, status, NULL, a->tag, NULL);
	if (status == 405 || status == 501 ||
	    (m->method_id == SIP_METHOD_OPTIONS && status / 100 == 2))
		agent_add_allow(a, &b);
	if (m->method_id == SIP_METHOD_OPTIONS && status / 100 == 2)
		agent_call_net_header(a, &b);
	if (sip_msg_end(&b, NULL, NULL, 0, &len) < 0) {
		if (tx)
			sip_tx_free(tx);
		return;
	}
	log_debug("agent: %.*s answered %d", (int)m->method.len, m->method.p, status);
	if (tx && sip_tx_server_respond(tx, status, buf, len, now) < 0) {
		sip_tx_free(tx);
		tx = NULL;
	}
	if (!tx)
		agent_conn_send(a, buf, len);
	agent_tx_rearm(a);
}
