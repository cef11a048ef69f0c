/*
 * daemon: keeps the handset's SIP registration alive (RFC 3261 s.10) with
 * the credentials from `dataline verify`, over the transport the user
 * picks among the server's SIP URIs from provisioning. Each state change is
 * written to STATE_DIR/daemon.json for `dataline status`. SIGTERM/SIGINT
 * unregister (Expires: 0) and exit; SIGHUP reopens the log file. With trust
 * on first use, the TLS certificate seen first is pinned in state.json.
 * Test hooks (docs/handset.md): --selftest-send NUMBER TEXT sends one text
 * once registered and logs its final status; --selftest-inbox accepts
 * incoming texts and logs them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "cli.h"
#include "dataline/log.h"

#define DAEMON_STOP_MS 5000

struct daemon_ctx {
	struct cli_opts *o;
	struct event_base *base;   /* owned by cmd_daemon */
	struct agent *agent;       /* owned by cmd_daemon */
	struct hpres *hp;          /* presence (hpres): owned, freed first */
	enum agent_transport tp;
	json_t *st;                /* state.json, owned */
	int stopped;
	int selftest_sent;
	char selftest_call_id[64];
};

static void daemon_write_status(struct daemon_ctx *d, enum agent_state s, int status)
{
	json_t *j = json_pack("{sI ss ss si sI sI}", "pid", (json_int_t)getpid(),
			      "state", agent_state_name(s),
			      "transport", agent_transport_name(d->tp),
			      "last_status", status,
			      "expires", (json_int_t)(d->agent ? agent_granted(d->agent) : 0),
			      "updated_at", (json_int_t)time(NULL));

	if (d->agent && agent_contact(d->agent)[0])
		json_object_set_new(j, "contact", json_string(agent_contact(d->agent)));
	if (cli_state_save(d->o->state_dir, CLI_STATUS_FILE, j) < 0)
		log_warn("daemon: cannot write %s", CLI_STATUS_FILE);
	json_decref(j);
}

static void daemon_selftest_done(void *arg, const struct agent_result *res)
{
	struct daemon_ctx *d = arg;

	log_info("daemon: selftest text to %s answered %d%s (cseq %u, retry-after %u)",
		 d->o->selftest_to, res->status, res->local ? " locally" : "",
		 res->cseq, res->retry_after);
}

/* Test hook: the text of --selftest-send, once, when first registered. */
static void daemon_selftest_send(struct daemon_ctx *d)
{
	const char *text = d->o->argc > 0 ? d->o->argv[0] : "dataline selftest";
	struct agent_text t = { .to = d->o->selftest_to,
				.ctype = "text/plain; charset=utf-8",
				.body = text, .body_len = strlen(text) };
	int r;

	d->selftest_sent = 1;
	snprintf(d->selftest_call_id, sizeof(d->selftest_call_id),
		 "selftest-%ld-%ld@dataline", (long)getpid(), (long)time(NULL));
	t.call_id = d->selftest_call_id;
	r = agent_text_send(d->agent, &t, daemon_selftest_done, d, NULL);
	if (r < 0)
		log_warn("daemon: selftest text to %s not sent: %s", d->o->selftest_to,
			 strerror(-r));
}

/* Test hook: --selftest-inbox logs and accepts each incoming text. */
static int daemon_selftest_text(void *arg, const struct agent_text_in *t)
{
	log_info("daemon: selftest text from %s (%s): %.*s", t->from_user, t->ctype,
		 (int)(t->body_len > 512 ? 512 : t->body_len), (const char *)t->body);
	return 200;
}

/*
 * No inbox yet: a text is answered 480 Temporarily Unavailable, which the
 * server reads as "not now" and keeps the text queued, trying again with
 * back-off (docs/messaging.md), so nothing sent to this handset is lost
 * before the daemon can store it. (405 or 501 would make the server drop
 * it for good.)
 */
static int daemon_text_later(void *arg, const struct agent_text_in *t)
{
	(void)arg;
	log_info("daemon: a text from %s stays queued on the server (no inbox "
		 "on this handset yet)", t->from_user);
	return 480;
}

static void daemon_state_cb(void *arg, enum agent_state s, int status)
{
	struct daemon_ctx *d = arg;

	daemon_write_status(d, s, status);
	hpres_agent_state(d->hp, s);   /* presence: feed the agent's state */
	if (s == AGENT_REGISTERED && d->o->selftest_to && !d->selftest_sent)
		daemon_selftest_send(d);
	if (s == AGENT_STOPPED) {
		d->stopped = 1;
		event_base_loopbreak(d->base);
	}
}

static void daemon_pin_cb(void *arg, const char *pin)
{
	struct daemon_ctx *d = arg;
	json_t *t = json_object_get(d->st, "trust");

	if (!json_is_object(t)) {
		t = json_object();
		json_object_set_new(d->st, "trust", t);
	}
	json_object_set_new(t, "pin_sha256", json_string(pin));
	if (cli_state_save(d->o->state_dir, CLI_STATE_FILE, d->st) < 0)
		log_warn("daemon: cannot save the certificate pin");
}

static void daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_ctx *d = arg;

	if (sig == SIGHUP) {
		log_reopen();
		log_info("daemon: log reopened");
		return;
	}
	log_info("daemon: signal %d, unregistering", (int)sig);
	hpres_stop(d->hp);             /* presence: remove the publication */
	/* A repeated signal while unregistering (e.g. timeout(1) signals the
	 * child and its group) changes nothing: the stop has a deadline. */
	if (agent_stop(d->agent, DAEMON_STOP_MS) < 0 &&
	    (agent_state(d->agent) == AGENT_STOPPED || agent_state(d->agent) == AGENT_IDLE))
		event_base_loopbreak(d->base);
}

/* Finds the server URI for TP among the account's sip_uris. */
static int daemon_pick_uri(json_t *acct, enum agent_transport tp, char *host,
			   size_t hostlen, uint16_t *port)
{
	json_t *uris = json_object_get(acct, "sip_uris"), *v;
	enum agent_transport t;
	size_t i;

	json_array_foreach(uris, i, v) {
		if (json_is_string(v) &&
		    agent_parse_server_uri(json_string_value(v), &t, host, hostlen, port) == 0 &&
		    t == tp)
			return 0;
	}
	return -ENOENT;
}

int cmd_daemon(struct cli_opts *o)
{
	struct daemon_ctx d = { .o = o };
	struct agent_config cfg = { 0 };
	struct agent_events ev = { daemon_state_cb, daemon_pin_cb };
	struct event *sigs[4] = { 0 };
	static const int signums[4] = { SIGTERM, SIGINT, SIGHUP, 0 };
	char host[256], pin[AGENT_PIN_LEN];
	json_t *acct, *prev = NULL;
	uint16_t port;
	int r, rc = 1;

	if (o->log_file && log_open(o->log_file) < 0) {
		fprintf(stderr, "dataline: cannot open log %s\n", o->log_file);
		return 1;
	}
	if (agent_transport_parse(o->transport ? o->transport : "tls", &d.tp) < 0) {
		fprintf(stderr, "dataline: --transport is udp, tcp or tls\n");
		return 2;
	}
	if (cli_state_load(o->state_dir, CLI_STATE_FILE, &d.st) < 0 ||
	    !(acct = json_object_get(d.st, "account"))) {
		fprintf(stderr, "dataline: no account in %s; run dataline register and verify\n",
			o->state_dir);
		goto out;
	}
	if (daemon_pick_uri(acct, d.tp, host, sizeof(host), &port) < 0) {
		fprintf(stderr, "dataline: the server offers no %s SIP URI\n",
			agent_transport_name(d.tp));
		goto out;
	}
	cfg.transport = d.tp;
	cfg.host = host;
	cfg.port = port;
	cfg.domain = cli_json_str(acct, "domain");
	cfg.user = cli_json_str(acct, "number");
	cfg.username = cli_json_str(acct, "username");
	cfg.password = cli_json_str(acct, "password");
	cfg.instance = cli_json_str(acct, "instance");
	cfg.expires = o->expires;
	cfg.keepalive = o->keepalive;
	cfg.retry_base = o->retry_base;
	cli_trust_from_state(d.st, &cfg.trust);
	/* A previous daemon killed without unregistering left its Contact
	 * bound; the agent removes it with its first REGISTER. */
	if (cli_state_load(o->state_dir, CLI_STATUS_FILE, &prev) == 0) {
		json_int_t pid = json_integer_value(json_object_get(prev, "pid"));
		const char *pst = cli_json_str(prev, "state");

		if (pid > 0 && pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
			fprintf(stderr, "dataline: a daemon (pid %lld) already runs for %s\n",
				(long long)pid, o->state_dir);
			goto out;
		}
		if (!pst || strcmp(pst, "stopped") != 0)
			cfg.stale_contact = cli_json_str(prev, "contact");
	}
	if (o->ca_file)
		cfg.trust = (struct agent_trust){ .ca_file = o->ca_file };
	if (o->pin) {
		if (agent_pin_normalize(o->pin, pin) < 0) {
			fprintf(stderr, "dataline: --pin needs 64 hex digits\n");
			goto out;
		}
		cfg.trust = (struct agent_trust){ .pin_sha256 = pin };
	}
	if (o->insecure)
		cfg.trust.tofu = 1;

	d.base = event_base_new();
	if (!d.base)
		goto out;
	r = agent_new(d.base, &cfg, &ev, &d, &d.agent);
	if (r < 0) {
		fprintf(stderr, "dataline: bad account data: %s\n", strerror(-r));
		goto out;
	}
	/* ---- presence (hpres, docs/presence.md): probe + PUBLISH ---- */
	if (daemon_pres_new(o, acct, d.base, d.agent, &d.hp) < 0)
		goto out;
	/* ---- end presence ---- */
	if (agent_on_text(d.agent, o->selftest_inbox ? daemon_selftest_text
						      : daemon_text_later, &d) < 0)
		goto out;
	for (int i = 0; signums[i]; i++) {
		sigs[i] = evsignal_new(d.base, signums[i], daemon_signal_cb, &d);
		if (!sigs[i] || event_add(sigs[i], NULL) < 0)
			goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	log_info("daemon: registering %s at %s:%u over %s", cfg.user, host, port,
		 agent_transport_name(d.tp));
	agent_start(d.agent);
	event_base_dispatch(d.base);
	rc = d.stopped ? 0 : 1;
	log_info("daemon: exiting");
out:
	for (int i = 0; i < 4; i++)
		if (sigs[i])
			event_free(sigs[i]);
	hpres_free(d.hp);              /* presence: before its agent */
	agent_free(d.agent);
	if (d.base)
		event_base_free(d.base);
	json_decref(prev);
	json_decref(d.st);
	return rc;
}
