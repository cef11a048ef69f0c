/*
 * svc: the handset service's life, and the C22 check (patent step C22:
 * "is the handset connected to the data network?") that decides whether a
 * text goes over data or to the fallback. Connected means both:
 *  - libnetq says the link is usable for text (an interface up with a
 *    default route; a memory read plus the netlink-fed link cache), when
 *    netq is attached; without netq (not attached, no BPF permission) this
 *    half is skipped and said once in the log (docs/handset.md);
 *  - the server is reachable: the agent's SIP registration is up. A flow
 *    the server cannot answer on drops the registration (keep-alives,
 *    timer F), so this also covers a server that is down or cut off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "dataline/csync.h"
#include "dataline/e164.h"
#include "dataline/log.h"
#include "dataline/netq.h"
#include "svc_priv.h"

int svc_status_retryable(int status)
{
	return status == 408 || status == 429 || status == 430 ||
	       status == 480 || status == 486 ||
	       (status >= 500 && status < 600) || status < 100;
}

uint32_t svc_retry_delay(unsigned attempts, uint32_t retry_after)
{
	uint32_t d = 2;

	for (unsigned i = 1; i < attempts && d < 300; i++)
		d *= 2;
	if (d > 300)
		d = 300;
	if (retry_after > d)
		d = retry_after > 3600 ? 3600 : retry_after;
	return d;
}

int svc_utf8_valid(const void *p, size_t len)
{
	const unsigned char *s = p, *e = s + len;

	while (s < e) {
		unsigned c = *s++, n;
		uint32_t cp;

		if (c == 0)
			return 0;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		if ((size_t)(e - s) < n)
			return 0;
		for (unsigned i = 0; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		s += n;
		/* overlong 3/4-byte forms, surrogates, beyond U+10FFFF */
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
	}
	return 1;
}

static void svc_nq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;

	(void)fd;
	(void)what;
	if (netq_linkstate_update(s->nq) < 0)
		log_debug("svc: link state update failed");
}

static void svc_netq_open(struct svc *s, const char *pin_dir)
{
	int r = netq_open(pin_dir, NETQ_OPEN_LINKSTATE, &s->nq), fd;

	if (r < 0) {
		s->nq = NULL;
		log_warn("svc: netq is not available (%s): the data-network check "
			 "uses the SIP registration only (attach netq with "
			 "`dataline-netq attach` for the link check)", strerror(-r));
		return;
	}
	fd = netq_linkstate_fd(s->nq);
	if (fd >= 0) {
		s->nq_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, svc_nq_cb, s);
		if (s->nq_ev)
			event_add(s->nq_ev, NULL);
	}
	log_info("svc: netq open: texts go over data only while a link is up "
		 "with a default route");
}

int svc_net_ok(struct svc *s, enum netq_service svc, uint32_t min_kbps,
	       char *reason, size_t len)
{
	if (s->nq) {
		struct netq_thresholds t;
		struct netq_decision d;
		int n;

		netq_thresholds_default(svc, &t);
		if (min_kbps)
			t.min_kbps = min_kbps;
		if (netq_decide(s->nq, svc, &t, &d) == 0 &&
		    d.verdict != NETQ_DATA) {
			n = snprintf(reason, len, "%s%s%s", netq_reason_str(d.reason),
				     d.ifname[0] ? " on " : "", d.ifname);
			if (svc == NETQ_VOICE && n > 0 && (size_t)n < len)
				snprintf(reason + n, len - (size_t)n,
					 " (rate %llu kbit/s, threshold 1 %u kbit/s)",
					 (unsigned long long)d.rate_kbps, t.min_kbps);
			return 0;
		}
	}
	if (!s->online) {
		snprintf(reason, len, "not registered with the server (%s)",
			 agent_state_name(s->ast));
		return 0;
	}
	snprintf(reason, len, "connected");
	return 1;
}

int svc_data_ok(struct svc *s, char *reason, size_t len)
{
	return svc_net_ok(s, NETQ_TEXT, 0, reason, len);
}

/* A refresh passes through "registering" on the same flow: that keeps
 * the service online; any state without a flow ends it. */
void svc_agent_state(struct svc *s, enum agent_state st)
{
	s->ast = st;
	if (st == AGENT_REGISTERED) {
		s->online = 1;
		svc_out_kick(s);
		svc_notice_kick(s);
		svc_contacts_registered(s);
	} else if (st != AGENT_REGISTERING) {
		s->online = 0;
		svc_out_stop(s);
		svc_notice_stop(s);
	}
}

/* NUMBER as E.164: international forms as they are, national ones with
 * the configured country code. */
static int svc_number(struct svc *s, const char *in, char out[E164_MAX])
{
	return e164_normalize_national(in, strlen(in), s->cc[0] ? s->cc : NULL, out);
}

int svc_send(struct svc *s, const char *number, const char *text, size_t len,
	     enum svc_fallback fb, svc_send_done done, void *arg)
{
	struct svc_send_result res = { 0 };
	char to[E164_MAX];
	int r;

	if (!s || !number || !text || !done)
		return -EINVAL;
	if (svc_number(s, number, to) < 0 || len == 0 ||
	    !svc_utf8_valid(text, len))
		return -EINVAL;
	if (len > SVC_TEXT_MAX)
		return -EMSGSIZE;
	if (!svc_data_ok(s, res.detail, sizeof(res.detail))) {
		log_info("svc: text to %s: not connected (%s), fallback %s", to,
			 res.detail, fb == SVC_FB_CARRIER ? "carrier" : "quit");
		if (fb != SVC_FB_CARRIER)
			return -ENETUNREACH;
		if (strlen(text) != len)
			return -EINVAL;
		return svc_carrier_send(s, to, text, done, arg);
	}
	res.route = SVC_ROUTE_DATA;
	r = svc_out_add(s, to, text, len, &res.id, res.message_id);
	if (r < 0)
		return r;
	log_info("svc: text %lld to %s queued (%zu bytes)", (long long)res.id, to, len);
	done(arg, &res);
	svc_out_kick(s);
	return 0;
}

static void svc_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

int svc_new(const struct svc_config *cfg, struct svc **out)
{
	struct svc *s;
	int r;

	if (!cfg || !cfg->base || !cfg->agent || !cfg->hs || !cfg->number ||
	    !cfg->domain || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base = cfg->base;
	s->agent = cfg->agent;
	s->hs = cfg->hs;
	s->ast = agent_state(cfg->agent);
	s->online = s->ast == AGENT_REGISTERED;
	s->cpipe[0] = s->cpipe[1] = -1;
	svc_copy(s->number, sizeof(s->number), cfg->number);
	svc_copy(s->domain, sizeof(s->domain), cfg->domain);
	svc_copy(s->cc, sizeof(s->cc), cfg->country_code);
	svc_copy(s->carrier_dir, sizeof(s->carrier_dir), cfg->carrier.state_dir);
	svc_copy(s->state_dir, sizeof(s->state_dir), cfg->state_dir);
	s->contacts_sync_s = cfg->contacts_sync_s;
	s->answer_auto = cfg->answer_auto;
	svc_copy(s->answer_in, sizeof(s->answer_in), cfg->answer_audio_in);
	svc_copy(s->answer_out, sizeof(s->answer_out), cfg->answer_audio_out);
	s->call_min_kbps = cfg->call_min_kbps;
	s->figures = cfg->figures;
	s->figures_arg = cfg->figures_arg;
	/* national numbers: the configured country code, else our own */
	if (!s->cc[0])
		csync_country_code(s->number, s->cc);
	s->carrier.backend = cfg->carrier.backend;
	s->carrier.state_dir = s->carrier_dir;
	s->dirty = 1;
	svc_netq_open(s, cfg->netq_pin_dir);
	r = svc_in_attach(s);
	if (!r)
		r = svc_carrier_start(s);
	if (!r)
		r = svc_call_start(s);
	if (!r && cfg->bus)
		r = svc_bus_open(s, cfg->bus);
	if (r) {
		svc_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void svc_free(struct svc *s)
{
	if (!s)
		return;
	svc_contacts_stop(s);
	svc_call_stop(s);
	svc_bus_close(s);
	svc_out_stop(s);
	if (s->retry_ev)
		event_free(s->retry_ev);
	svc_notice_stop(s);
	if (s->nt_ev)
		event_free(s->nt_ev);
	svc_carrier_stop(s);
	agent_on_text(s->agent, NULL, NULL);
	hstore_outbox_free(s->pend, s->npend);
	if (s->nq_ev)
		event_free(s->nq_ev);
	netq_close(s->nq);
	free(s);
}
