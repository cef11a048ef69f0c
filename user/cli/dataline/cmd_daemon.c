/*
 * daemon: keeps the handset's SIP registration alive (RFC 3261 s.10) with
 * the credentials from `dataline verify`, over the transport the user
 * picks among the server's SIP URIs from provisioning. Each state change is
 * written to STATE_DIR/daemon.json for `dataline status`. SIGTERM/SIGINT
 * unregister (Expires: 0) and exit; SIGHUP reopens the log file. With trust
 * on first use, the TLS certificate seen first is pinned in state.json.
 * The handset service (include/dataline/svc.h: texts, inbox, outbox,
 * contacts, the D-Bus interface the other commands use) runs on the same
 * loop, on STATE_DIR/messages.db.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "cli.h"
#include "dataline/hstore.h"
#include "dataline/log.h"
#include "dataline/svc.h"

#define DAEMON_STOP_MS 5000
/* Marks refreshed four times a day: well within the server's per-account
 * lookup limits (docs/decisions.md), fresh enough for an address book. */
#define DAEMON_CONTACTS_SYNC_S 21600

struct daemon_ctx {
	struct cli_opts *o;
	struct event_base *base;   /* owned by cmd_daemon */
	struct agent *agent;       /* owned by cmd_daemon */
	struct hpres *hp;          /* presence (hpres): owned, freed first */
	enum agent_transport tp;
	json_t *st;                /* state.json, owned */
	struct hstore *hs;         /* owned */
	struct svc *svc;           /* owned */
	int lock_fd;               /* STATE_DIR/daemon.lock, flock'ed */
	char bus[4200];            /* the bus served on (daemon.json "bus") */
	pid_t bus_pid;             /* our private dbus-daemon, 0 if none */
	int stopped;
};

static void daemon_write_status(struct daemon_ctx *d, enum agent_state s, int status)
{
	json_t *j = json_pack("{sI ss ss si sI sI}", "pid", (json_int_t)getpid(),
			      "state", agent_state_name(s),
			      "transport", agent_transport_name(d->tp),
			      "last_status", status,
			      "expires", (json_int_t)(d->agent ? agent_granted(d->agent) : 0),
			      "updated_at", (json_int_t)time(NULL));

	if (d->bus[0])
		json_object_set_new(j, "bus", json_string(d->bus));
	if (d->agent && agent_contact(d->agent)[0])
		json_object_set_new(j, "contact", json_string(agent_contact(d->agent)));
	if (cli_state_save(d->o->state_dir, CLI_STATUS_FILE, j) < 0)
		log_warn("daemon: cannot write %s", CLI_STATUS_FILE);
	json_decref(j);
}

static void daemon_state_cb(void *arg, enum agent_state s, int status)
{
	struct daemon_ctx *d = arg;

	daemon_write_status(d, s, status);
	if (d->svc)
		svc_agent_state(d->svc, s);
	hpres_agent_state(d->hp, s);   /* presence: feed the agent's state */
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

static void daemon_figures(void *arg, struct hpres_status *out)
{
	struct daemon_ctx *d = arg;

	if (d->hp)
		hpres_status(d->hp, out);
}

/* The local store and the service on top of it (texts, D-Bus). */
static int daemon_svc_start(struct daemon_ctx *d, json_t *acct)
{
	struct svc_config sc = { 0 };
	char path[4096];
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", d->o->state_dir, HSTORE_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	r = hstore_open(path, &d->hs);
	if (r < 0) {
		fprintf(stderr, "dataline: cannot open the local store %s: %s\n", path,
			r == -EBADMSG ? "not a dataline store, or damaged (see the log)"
				      : strerror(-r));
		return r;
	}
	sc.base = d->base;
	sc.agent = d->agent;
	sc.hs = d->hs;
	sc.number = cli_json_str(acct, "number");
	sc.domain = cli_json_str(acct, "domain");
	sc.country_code = d->o->country_code;
	sc.carrier.state_dir = d->o->state_dir;
	sc.netq_pin_dir = d->o->netq_pin_dir;
	sc.state_dir = d->o->state_dir;
	sc.figures = daemon_figures;
	sc.figures_arg = d;
	sc.contacts_sync_s = d->o->contacts_sync_set ? d->o->contacts_sync
						     : DAEMON_CONTACTS_SYNC_S;
	if (d->o->answer && strcmp(d->o->answer, "ring") && strcmp(d->o->answer, "auto")) {
		fprintf(stderr, "dataline: --answer is ring or auto\n");
		return -EINVAL;
	}
	sc.answer_auto = d->o->answer && strcmp(d->o->answer, "auto") == 0;
	sc.call_min_kbps = d->o->call_min_kbps;
	sc.answer_audio_in = d->o->audio_in;
	sc.answer_audio_out = d->o->audio_out;
	r = cli_daemon_bus(d->o, d->bus, sizeof(d->bus), &d->bus_pid);
	if (r < 0)
		return r;
	sc.bus = d->bus;
	if (carrier_backend_parse(d->o->carrier ? d->o->carrier : "modem",
				  &sc.carrier.backend) < 0) {
		fprintf(stderr, "dataline: --carrier is modem or log\n");
		return -EINVAL;
	}
	r = svc_new(&sc, &d->svc);
	if (r < 0)
		fprintf(stderr, "dataline: the service did not start: %s%s\n",
			strerror(-r), r == -EACCES ? " (D-Bus policy: see docs/handset.md)"
			: r == -EEXIST ? " (another daemon owns the D-Bus name)" : "");
	return r;
}

/* Takes STATE_DIR/daemon.lock (kept open, close-on-exec). -EWOULDBLOCK:
 * another daemon holds it. */
static int daemon_lock(const char *dir, int *fd)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/daemon.lock", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return -errno;
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		int e = -errno;

		close(*fd);
		*fd = -1;
		return e;
	}
	return 0;
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
	struct daemon_ctx d = { .o = o, .lock_fd = -1 };
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
	cfg.retry_max = o->retry_max;
	cli_trust_from_state(d.st, &cfg.trust);
	/* A previous daemon killed without unregistering left its Contact
	 * bound; the agent removes it with its first REGISTER. */
	/* One daemon per state directory: an flock held for the daemon's
	 * life (a pid in daemon.json alone would race two starts). */
	r = daemon_lock(o->state_dir, &d.lock_fd);
	if (r < 0) {
		json_int_t pid = 0;

		if (r != -EWOULDBLOCK) {
			fprintf(stderr, "dataline: cannot lock %s/daemon.lock: %s\n",
				o->state_dir, strerror(-r));
			goto out;
		}
		if (cli_state_load(o->state_dir, CLI_STATUS_FILE, &prev) == 0)
			pid = json_integer_value(json_object_get(prev, "pid"));
		fprintf(stderr, "dataline: a daemon (pid %lld) already runs for %s\n",
			(long long)pid, o->state_dir);
		goto out;
	}
	if (cli_state_load(o->state_dir, CLI_STATUS_FILE, &prev) == 0) {
		const char *pst = cli_json_str(prev, "state");

		if (!pst || strcmp(pst, "stopped") != 0)
			cfg.stale_contact = cli_json_str(prev, "contact");
	}
	/* ours from now on: no one reads the last daemon's state as ours */
	daemon_write_status(&d, AGENT_IDLE, 0);
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
	if (daemon_svc_start(&d, acct) < 0)
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
	svc_free(d.svc);
	hpres_free(d.hp);              /* presence: before its agent */
	agent_free(d.agent);
	hstore_close(d.hs);
	cli_daemon_bus_stop(d.bus_pid);
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	if (d.base)
		event_base_free(d.base);
	json_decref(prev);
	json_decref(d.st);
	return rc;
}
