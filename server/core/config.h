/*
 * config: dataline-server's settings. One table names every setting once;
 * the same names are the long flags ("--sip-udp ADDR:PORT") and the keys of
 * the config file ("sip-udp = ADDR:PORT", '#' comments, blank lines). The
 * file is read first (-c/--config), then the flags override it.
 */
#ifndef DATALINE_SERVER_CONFIG_H
#define DATALINE_SERVER_CONFIG_H

#include <stdio.h>

#define CONFIG_STR_MAX 1024

struct config {
	char config[CONFIG_STR_MAX];
	char var_dir[CONFIG_STR_MAX];
	char domain[256];
	char sip_udp[256], sip_tcp[256], sip_tls[256]; /* "off" = disabled */
	char http[256], https[256];
	char tls_cert[CONFIG_STR_MAX], tls_key[CONFIG_STR_MAX];
	char db[CONFIG_STR_MAX];            /* "" = VAR/dataline.db */
	char sms[CONFIG_STR_MAX];           /* "" = spool:VAR/sms.spool */
	int workers;                        /* 0 = number of CPUs */
	char log_level[16];
	char log_file[CONFIG_STR_MAX];
	int code_ttl, code_max_tries, code_resend_interval;
	int code_max_per_number_hour, code_max_per_client_hour;
	int min_expires, max_expires, default_expires;
	int max_bindings_per_device;
	int max_tcp_conns;
	int max_tcp_conns_per_client;       /* per IPv4 address / IPv6 /64 */
	int udp_spread;                     /* spread.c */
	int text_rate, text_burst;          /* per sender (message.c) */
	int keepalive_interval;             /* s: flows (server/sip/flow.c) */
	int tcp_unauth_timeout;             /* s from accept to authenticate */
	int max_msg_size;
	/* Not in the contract's list but useful to operators and tests: */
	int tcp_idle_timeout;               /* s without traffic, default 300 */
	int msg_timeout;                    /* s for a complete message, 10 */
	int nonce_ttl;                      /* s a nonce stays fresh, 300 */
	int sip_tx_max, sip_tx_max_kb;      /* UDP server tx budget, all workers */
	int nonce_nc_max;                   /* nonce-count entries, all workers */
	char digest_algorithms[64];         /* challenge order, "SHA-256,MD5" */
	/* HTTP API hardening (docs/decisions.md, docs/operations.md): */
	int max_http_conns;                 /* per HTTP(S) listener, 256 */
	int max_http_conns_per_client;      /* per client prefix, 32 */
	int http_header_timeout;            /* s, absolute, 10 */
	int http_request_timeout;           /* s, absolute, 30 */
	int client_prefix_v4, client_prefix_v6; /* 24, 64 */
	int metrics_on_https;               /* 0: /metrics on loopback HTTP only */
	int code_max_per_number_client_hour; /* one prefix, one number: 3 */
	int sms_max_per_number_day;         /* all clients together: 10 */
	int max_devices_per_number;         /* 10 */
	/* the durable queue (server/queue/, issue 7) */
	char queue_db[CONFIG_STR_MAX];      /* "" = VAR/queue.db */
	int text_expiry_days;               /* 30 */
	int queue_max_per_recipient;        /* 1000 */
	int queue_max_body;                 /* bytes, 16384 */
	/* Contact discovery (docs/protocol.md, docs/operations.md): */
	int discover_on_http;               /* 0: HTTPS only */
	int discover_burst;                 /* requests at once per account, 10 */
	int discover_per_hour;              /* requests refilled per hour, 60 */
	int discover_max_numbers_day;       /* distinct numbers per 24 h, 5000 */
	int discover_track_max;             /* hashes kept in memory, 1000000 */
	char default_country_code[8];       /* "" = national forms refused */
	/* presence (issue 7): docs/presence.md, docs/operations.md */
	int presence_min_expires, presence_max_expires; /* s: 60, 3600 */
	int presence_max_publications;      /* devices' publications, 100000 */
	int presence_max_subscriptions;     /* all watchers, 100000 */
	int presence_max_subs_per_watcher;  /* per subscribing device, 100 */
	char probe_udp[256];                /* netq probe reflector, "off" */
	/* calls (issue 9): docs/calls.md */
	int call_timeout;                   /* s: timer C (180) */
	int call_gate;                      /* C3 gate on (1) */
	int call_min_kbps;                  /* threshold 2, kbit/s (48) */
	int call_figures_max_age;           /* s: older figures -> OPTIONS (120) */
	int call_ask_ms;                    /* OPTIONS answer wait, ms (1500) */
	int call_no_figures_allow;          /* no figures at all: 1 allow (1) */
	char relay_addr[64];                /* media relay IPv4, "off" (127.0.0.1) */
	int relay_port_min, relay_port_max; /* its ports (40000-40999) */
	int relay_timeout;                  /* s without media: the call ends (60) */
};

void config_defaults(struct config *c);
/* Reads a "key = value" file on top of *c. Returns 0 or -errno
 * (-EINVAL with the line logged for an unknown key or bad value). */
int config_load_file(struct config *c, const char *path);
/*
 * Full command line: defaults, then -c FILE (if given), then the flags.
 * Returns 0; 1 when --help was printed (exit 0); -EINVAL on a bad flag
 * (usage printed to stderr).
 */
int config_from_args(struct config *c, int argc, char **argv);
/* Fills the derived defaults that depend on var-dir (db, sms, queue-db) and the
 * worker count. Call after config_from_args. */
void config_finish(struct config *c);
void config_usage(FILE *f, const char *prog);

#endif
