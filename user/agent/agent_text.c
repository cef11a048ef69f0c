/*
 * agent_text: texts on the UA core (RFC 3428 MESSAGE). Out: a MESSAGE to
 * a number or URI with a text/plain or message/cpim (RFC 3862) body, the
 * Call-ID the caller chose (so a resend is recognised by the server's
 * dedup), the server's 407 answered by the core. In: a hook that sees
 * From, Content-Type and body of each new MESSAGE (retransmissions are
 * absorbed before it) and returns the status the core answers with.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agent_priv.h"
#include "dataline/log.h"

int agent_target_uri(const struct agent *a, const char *to, char *out, size_t cap)
{
	if (!to || !to[0])
		return -EINVAL;
	if (strncasecmp(to, "sip:", 4) == 0 || strncasecmp(to, "sips:", 5) == 0 ||
	    strncasecmp(to, "tel:", 4) == 0)
		return snprintf(out, cap, "%s", to) >= (int)cap ? -ENAMETOOLONG : 0;
	if (strpbrk(to, "@;?<> \t\r\n") ||
	    snprintf(out, cap, "sip:%s@%s", to, a->domain) >= (int)cap)
		return -EINVAL;
	return 0;
}

int agent_text_send(struct agent *a, const struct agent_text *t,
		    agent_req_done done, void *arg, struct agent_req **out)
{
	struct agent_req_params p = { 0 };
	char ruri[AGENT_URI_MAX];
	int e;

	if (!t || !t->ctype || !t->body || !t->body_len)
		return -EINVAL;
	if ((e = agent_target_uri(a, t->to, ruri, sizeof(ruri))) < 0)
		return e;
	p.method = "MESSAGE";
	p.ruri = ruri;
	p.call_id = t->call_id;
	p.cseq = t->cseq;
	p.ctype = t->ctype;
	p.body = t->body;
	p.body_len = t->body_len;
	return agent_request(a, &p, done, arg, out);
}

static int agent_text_handler(void *arg, const struct sip_msg *m)
{
	static __thread char from[AGENT_URI_MAX], user[64], ctype[128], call_id[128];
	struct agent *a = arg;
	struct agent_text_in t = { .from = from, .from_user = user, .ctype = ctype,
				   .call_id = call_id, .m = m };
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
	size_t n;

	if (!a->text_fn)
		return 405;
	if (sip_str_copy(m->from.uri_str, from, sizeof(from)) < 0 ||
	    sip_str_copy(m->call_id, call_id, sizeof(call_id)) < 0)
		return 400;
	user[0] = '\0';
	if (sip_str_present(m->from.uri.user) &&
	    sip_str_unescape(m->from.uri.user, user, sizeof(user), &n) < 0)
		return 400;
	ctype[0] = '\0';
	if (h && sip_str_copy(h->value, ctype, sizeof(ctype)) < 0)
		return 415;
	t.body = m->body.p ? m->body.p : "";
	t.body_len = m->body.len;
	return a->text_fn(a->text_arg, &t);
}

int agent_on_text(struct agent *a, agent_text_in_fn fn, void *arg)
{
	int e = agent_handle(a, "MESSAGE", fn ? agent_text_handler : NULL, a);

	if (e == 0) {
		a->text_fn = fn;
		a->text_arg = arg;
	}
	return e;
}
