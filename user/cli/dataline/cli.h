/*
 * cli: private header of the `dataline` handset command (patent steps
 * A1-A3 and the SIP registration). Commands live one per file (cmd_*.c);
 * state.c keeps the credentials file, api.c talks to the provisioning API.
 */
#ifndef DATALINE_CLI_H
#define DATALINE_CLI_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "dataline/agent.h"
#include "dataline/hpres.h"

struct cli_opts {
	const char *state_dir;   /* resolved state directory */
	const char *server;      /* --server URL */
	const char *ca_file;     /* --ca FILE */
	const char *pin;         /* --pin SHA256 */
	int insecure;            /* --insecure: trust on first use */
	int no_modem;            /* --no-modem */
	int yes;                 /* --yes */
	const char *transport;   /* --transport udp|tcp|tls */
	uint32_t expires;        /* --expires */
	uint32_t keepalive;      /* --keepalive */
	uint32_t retry_base;     /* --retry-base */
	uint32_t retry_max;      /* --retry-max */
	const char *log_file;    /* --log-file */
	const char *bus;         /* --bus system|session|ADDRESS */
	const char *carrier;     /* daemon --carrier modem|log */
	const char *country_code; /* daemon --country-code CC */
	const char *netq_pin_dir; /* daemon --netq-pin-dir DIR */
	const char *fallback;    /* send --fallback ask|carrier|quit */
	int json;                /* --json */
	int no_wait;             /* send --no-wait */
	uint32_t limit;          /* inbox/outbox/contacts --limit */
	uint32_t timeout;        /* send --timeout S */
	uint32_t contacts_sync;  /* daemon --contacts-sync S (0: default) */
	int contacts_sync_set;
	/* daemon presence (daemon_pres.c, docs/presence.md) */
	const char *probe;       /* --probe ADDR:PORT|off; NULL: derived */
	uint32_t probe_interval; /* --probe-interval S, 0: netq's 300 */
	uint32_t probe_budget;   /* --probe-budget BYTES/hour, 0: 1 MB */
	int probe_over_budget;   /* --probe-over-budget */
	/* calls (cmd_call.c, docs/calls.md) */
	const char *audio_in;    /* call --audio-in WAV|alsa */
	const char *audio_out;   /* call --audio-out WAV|alsa */
	uint32_t duration;       /* call --duration S */
	const char *answer;      /* daemon --answer ring|auto */
	uint32_t call_min_kbps;  /* daemon --call-min-kbps N */
	int argc;                /* positional arguments after the command */
	char **argv;
};

/* state.c: STATE_DIR/state.json, mode 0600, written atomically. */
#define CLI_STATE_FILE  "state.json"
#define CLI_STATUS_FILE "daemon.json"
int cli_state_dir_default(char *buf, size_t len);
int cli_state_load(const char *dir, const char *file, json_t **out);
int cli_state_save(const char *dir, const char *file, json_t *st);
const char *cli_json_str(json_t *obj, const char *key);

/* api.c: POST JSON to BASE_URL + PATH. STATUS/RESP set on any HTTP answer
 * (RESP may be NULL if the body is not JSON). PIN_SEEN gets the server's
 * certificate fingerprint over HTTPS (else ""). RETRY_AFTER: header value
 * or 0. Returns 0 or -errno (no answer at all). */
int cli_api_post(const char *base_url, const struct agent_trust *trust,
		 const char *path, json_t *body, int *status, json_t **resp,
		 char pin_seen[AGENT_PIN_LEN], long *retry_after);
/* Fills TRUST from the state's "trust" object (strings point into ST). */
void cli_trust_from_state(json_t *st, struct agent_trust *trust);

int cmd_register(struct cli_opts *o);
int cmd_verify(struct cli_opts *o);
int cmd_daemon(struct cli_opts *o);
/* daemon_pres.c: hpres for the daemon's agent, started; 0 or -errno
 * (the reason printed). */
int daemon_pres_new(struct cli_opts *o, json_t *acct, struct event_base *base,
		    struct agent *a, struct hpres **out);
int cmd_status(struct cli_opts *o);
int cmd_modem(struct cli_opts *o);
int cmd_modem_sms(struct cli_opts *o);
int cmd_call(struct cli_opts *o);

/* ask.c: the fallback choice of send and call (patent C22, C2/C3).
 * FB "carrier" -> 1, "quit" -> 0 (printing "NOT_DONE: WHY_PREFIX (WHY)."),
 * "ask" on a terminal: "INTRO (WHY).\nQUESTION [c]arrier/[q]uit: " and the
 * answer; without a terminal 0, saying which flag to use. */
struct cli_fallback_text {
	const char *intro, *question, *not_done, *why_prefix;
};
int cli_fallback(const char *fb, const struct cli_fallback_text *t, const char *why);
/* The part of a daemon error message after its first ": ". */
const char *cli_bus_why(const char *msg);
int cmd_call_id(struct cli_opts *o, const char *cmd);
const char *cli_carrier_error(int r);
int cmd_send(struct cli_opts *o);
int cmd_list(struct cli_opts *o, const char *what);
int cmd_contacts(struct cli_opts *o);

/* daemon_bus.c: the bus the daemon serves on (--bus, else the system bus
 * if usable, else a private dbus-daemon on STATE_DIR/bus); ADDR gets
 * "system" or an address, *PID the private bus's pid (0: none). */
int cli_daemon_bus(struct cli_opts *o, char *addr, size_t len, pid_t *pid);
void cli_daemon_bus_stop(pid_t pid);

/* bus.c: the daemon's D-Bus interface, for the client commands. */
struct sd_bus;
struct sd_bus_message;
/* Connects to O's bus; prints why not and returns -errno. */
int cli_bus_open(struct cli_opts *o, struct sd_bus **out);
/* Prints a failed call's error ("the daemon is not running" for a name
 * nobody owns). */
void cli_bus_perror(const char *what, int r, const char *name, const char *msg);
/* Reads an a{sv} (GetStatus) into the JSON object OBJ. */
int cli_bus_dict(struct sd_bus_message *m, json_t *obj);
/* Reads an aa{sv} (the list methods' reply) into a JSON array. */
int cli_bus_rows(struct sd_bus_message *m, json_t **out);

#endif
