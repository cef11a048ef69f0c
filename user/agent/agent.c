/*
 * agent: the life of the handset agent's flow and its registration state
 * machine (RFC 3261 s.10.2). One agent keeps one Contact registered for
 * one device (REGISTER itself is agent_reg.c's, a client of the UA core
 * in agent_core.c / agent_serve.c):
 *
 *   IDLE -> [CONNECTING] -> REGISTERING -> REGISTERED --refresh--> ...
 *                 ^              |  401/407: answer the challenge, resend
 *                 |              |  423: raise Expires to Min-Expires, resend
 *                 +-- BACKOFF <--+  other final / timer F / lost connection
 *   agent_stop(): UNREGISTERING (Expires: 0) -> STOPPED
 *
 * Failure handling follows RFC 5626 s.4.4-4.5: a flow that fails after a
 * successful registration is re-formed at once; a registration attempt
 * that fails waits min(max, base * 2^failures), randomised to 50-100%.
 * Over TCP/TLS a double-CRLF ping goes out every keep-alive interval
 * (randomised to 80-100%, s.4.4.1); a missing pong within 10 s fails the
 * flow only when the registrar said Require: outbound or has answered a
 * ping before (a registrar that never pongs is not treated as dead).
 * UDP retransmissions (timers E/F) come from lib/sip's transaction layer,
 * driven by the core. A new flow starts with a fresh transaction table;
 * closing a flow ends every client request in flight (503).
 * Every state change goes through agent_set_state(), which reports it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "agent_priv.h"
#include "dataline/log.h"

static void agent_begin_cycle(struct agent *a);

static const char *const agent_state_names[] = {
	[AGENT_IDLE] = "idle",
	[AGENT_CONNECTING] = "connecting",
	[AGENT_REGISTERING] = "registering",
	[AGENT_REGISTERED] = "registered",
	[AGENT_BACKOFF] = "backoff",
	[AGENT_UNREGISTERING] = "unregistering",
	[AGENT_STOPPED] = "stopped",
};

const char *agent_state_name(enum agent_state st)
{
	return (unsigned)st < sizeof(agent_state_names) / sizeof(agent_state_names[0]) ?
		agent_state_names[st] : "?";
}

uint32_t agent_rand32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)agent_now_ms() * 2654435761u;
	return v;
}

void agent_timer_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

void agent_set_state(struct agent *a, enum agent_state st)
{
	if (a->st == st)
		return;
	log_info("agent: %s -> %s (%s, last status %d)", agent_state_name(a->st),
		 agent_state_name(st), agent_transport_name(a->cfg.transport),
		 a->last_status);
	a->st = st;
	if (a->ev.state)
		a->ev.state(a->arg, st, a->last_status);
}

/* ------------------------------------------------------------ keep-alive */

static void agent_ka_arm(struct agent *a)
{
	uint64_t ivl = (uint64_t)a->cfg.keepalive * 1000;

	if (a->cfg.transport == AGENT_TP_UDP)
		return;
	/* 80..100% of the interval (RFC 5626 s.4.4.1) */
	ivl = ivl * 4 / 5 + (ivl / 5) * (agent_rand32() % 1001) / 1000;
	a->ping_out = 0;
	agent_timer_ms(a->ka_timer, ivl);
}

static void agent_ka_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	if (a->ping_out) {
		a->ping_out = 0;
		if (a->outbound || a->pong_seen) {
			agent_on_conn_lost(a, "no keep-alive pong within 10 s");
			return;
		}
		agent_ka_arm(a);
		return;
	}
	if (agent_conn_send(a, "\r\n\r\n", 4) < 0) {
		agent_on_conn_lost(a, "keep-alive ping failed");
		return;
	}
	log_debug("agent: keep-alive ping");
	a->ping_out = 1;
	agent_timer_ms(a->ka_timer, AGENT_PONG_WAIT * 1000);
}

void agent_on_pong(struct agent *a)
{
	log_debug("agent: keep-alive pong");
	a->pong_seen = 1;
	if (a->ping_out && a->st == AGENT_REGISTERED)
		agent_ka_arm(a);
}

/* ------------------------------------------------------------ flow events */

void agent_on_connected(struct agent *a)
{
	if (a->cfg.transport == AGENT_TP_TLS && a->bev) {
		SSL *ssl = bufferevent_openssl_get_ssl(a->bev);
		char pin[AGENT_PIN_LEN];

		if (ssl && a->cfg.trust.tofu && !a->cfg.trust.ca_file && !a->pin[0] &&
		    agent_tls_peer_pin(ssl, pin) == 0) {
			/* trust on first use: from now on this cert only */
			memcpy(a->pin, pin, sizeof(pin));
			a->cfg.trust.pin_sha256 = a->pin;
			log_info("agent: TLS server certificate sha256 %s accepted "
				 "(trust on first use)", pin);
			if (a->ev.pin)
				a->ev.pin(a->arg, pin);
		}
	}
	a->pong_seen = 0;
	a->ping_out = 0;
	a->outbound = 0;
	a->flow_gen++;
	a->reg_retries = 0;
	agent_send_register(a, a->stopping ? 0 : a->expires);
}

void agent_on_conn_lost(struct agent *a, const char *why)
{
	int was_registered = a->st == AGENT_REGISTERED;

	log_warn("agent: connection to %s:%u lost: %s", a->host, a->cfg.port, why);
	agent_conn_close(a);
	evtimer_del(a->ka_timer);
	if (a->stopping) {
		agent_finish_stop(a);
		return;
	}
	if (was_registered && a->failures == 0) {
		/* re-form the flow at once (RFC 5626 s.4.4) */
		agent_set_state(a, AGENT_BACKOFF);
		agent_timer_ms(a->timer, 0);
		return;
	}
	agent_fail(a, why);
}

void agent_fail(struct agent *a, const char *why)
{
	uint32_t delay;

	agent_conn_close(a);
	evtimer_del(a->ka_timer);
	if (a->stopping) {
		agent_finish_stop(a);
		return;
	}
	a->failures++;
	a->granted = 0;
	delay = agent_backoff_delay(a->cfg.retry_base, a->cfg.retry_max,
				    a->failures, agent_rand32());
	log_warn("agent: registration failed: %s; retrying in %u s", why, delay);
	agent_set_state(a, AGENT_BACKOFF);
	agent_timer_ms(a->timer, (uint64_t)delay * 1000);
}

/* A 200 granted a->granted seconds: arm the refresh and keep-alive. */
void agent_registered(struct agent *a)
{
	agent_set_state(a, AGENT_REGISTERED); /* refreshes pass REGISTERING */
	evtimer_del(a->timer);
	agent_timer_ms(a->timer, (uint64_t)agent_refresh_delay(a->granted) * 1000);
	if (!a->ping_out)
		agent_ka_arm(a);
	if (a->pub)
		agent_pub_on_registered(a->pub);
}

void agent_finish_stop(struct agent *a)
{
	evtimer_del(a->timer);
	evtimer_del(a->ka_timer);
	agent_conn_close(a);
	evtimer_del(a->tx_timer);
	a->granted = 0;
	agent_set_state(a, AGENT_STOPPED);
}

static void agent_begin_cycle(struct agent *a)
{
	int r;

	r = agent_core_reset(a);
	if (r == 0)
		r = agent_conn_open(a);
	if (r < 0)
		agent_fail(a, strerror(-r));
}

static void agent_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	if (a->stopping) {
		log_warn("agent: no answer to the unregistration in time");
		agent_finish_stop(a);
	} else if (a->st == AGENT_REGISTERED) {
		agent_send_register(a, a->expires);
	} else if (a->st == AGENT_BACKOFF) {
		agent_begin_cycle(a);
	}
}

/* ------------------------------------------------------------ lifecycle */

static char *agent_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int agent_new(struct event_base *base, const struct agent_config *cfg,
	      const struct agent_events *ev, void *arg, struct agent **out)
{
	struct agent *a;
	char rnd[33];
	int r = -ENOMEM;

	if (!base || !cfg || !cfg->host || !cfg->domain || !cfg->user ||
	    !cfg->username || !cfg->password || !cfg->port)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	a->base = base;
	a->cfg = *cfg;
	if (ev)
		a->ev = *ev;
	a->arg = arg;
	a->host = agent_dup(cfg->host);
	a->domain = agent_dup(cfg->domain);
	a->user = agent_dup(cfg->user);
	a->username = agent_dup(cfg->username);
	a->password = agent_dup(cfg->password);
	a->instance = agent_dup(cfg->instance);
	a->ca_file = agent_dup(cfg->trust.ca_file);
	if (!a->host || !a->domain || !a->user || !a->username || !a->password ||
	    (cfg->instance && !a->instance) || (cfg->trust.ca_file && !a->ca_file))
		goto fail;
	if (cfg->trust.pin_sha256 && agent_pin_normalize(cfg->trust.pin_sha256, a->pin) < 0) {
		r = -EINVAL;
		goto fail;
	}
	a->cfg.trust.ca_file = a->ca_file;
	a->cfg.trust.pin_sha256 = a->pin[0] ? a->pin : NULL;
	a->cfg.host = a->host;
	a->cfg.domain = a->domain;
	a->cfg.user = a->user;
	a->cfg.username = a->username;
	a->cfg.password = a->password;
	a->cfg.instance = a->instance;
	if (!a->cfg.expires)
		a->cfg.expires = 3600;
	if (!a->cfg.keepalive)
		a->cfg.keepalive = 120;
	a->expires = a->cfg.expires;
	if (cfg->stale_contact)
		snprintf(a->bound, sizeof(a->bound), "%s", cfg->stale_contact);
	a->cfg.stale_contact = NULL;
	if ((r = sip_rand_hex(rnd, sizeof(rnd), 16)) < 0)
		goto fail;
	snprintf(a->call_id, sizeof(a->call_id), "%s@dataline", rnd);
	if ((r = sip_rand_hex(a->from_tag, sizeof(a->from_tag), 8)) < 0)
		goto fail;
	if ((r = agent_core_init(a)) < 0)
		goto fail;
	r = -ENOMEM;
	a->timer = evtimer_new(base, agent_timer_cb, a);
	a->ka_timer = evtimer_new(base, agent_ka_cb, a);
	if (!a->timer || !a->ka_timer)
		goto fail;
	*out = a;
	return 0;
fail:
	agent_free(a);
	return r;
}

int agent_start(struct agent *a)
{
	if (a->st != AGENT_IDLE)
		return -EALREADY;
	agent_begin_cycle(a);
	return 0;
}

int agent_stop(struct agent *a, uint32_t timeout_ms)
{
	if (a->st == AGENT_IDLE || a->st == AGENT_STOPPED || a->stopping)
		return -EALREADY;
	a->stopping = 1;
	evtimer_del(a->ka_timer);
	if (a->st == AGENT_BACKOFF) {
		/* not connected: connect once more, to unregister */
		agent_begin_cycle(a);
		if (a->st == AGENT_STOPPED)
			return 0;
	} else if (agent_conn_is_open(a) && a->st != AGENT_CONNECTING) {
		agent_send_register(a, 0);
		if (a->st == AGENT_STOPPED)
			return 0;
	}
	evtimer_del(a->timer);
	agent_timer_ms(a->timer, timeout_ms);
	return 0;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	a->freeing = 1;
	agent_conn_close(a);
	agent_core_free(a);
	if (a->timer)
		event_free(a->timer);
	if (a->ka_timer)
		event_free(a->ka_timer);
	SSL_CTX_free(a->ssl_ctx);
	if (a->password)
		explicit_bzero(a->password, strlen(a->password));
	free(a->host);
	free(a->domain);
	free(a->user);
	free(a->username);
	free(a->password);
	free(a->instance);
	free(a->ca_file);
	free(a);
}

enum agent_state agent_state(const struct agent *a)
{
	return a->st;
}

uint32_t agent_granted(const struct agent *a)
{
	return a->st == AGENT_REGISTERED ? a->granted : 0;
}

const char *agent_contact(const struct agent *a)
{
	return a->contact;
}

const char *agent_local_addr(const struct agent *a)
{
	return a->local;
}

enum agent_transport agent_transport(const struct agent *a)
{
	return a->cfg.transport;
}
