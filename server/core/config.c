/*
 * config: the command line and config file of dataline-server, from one
 * table (name, type, where it goes, help). The long flag "--min-expires 60"
 * and the file line "min-expires = 60" set the same field.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataline/log.h"

enum opt_type { OPT_STR, OPT_INT };

struct opt {
	const char *name;
	char short_name;
	enum opt_type type;
	size_t off;
	size_t size;        /* for strings */
	int min, max;       /* for ints */
	const char *arg;
	const char *help;
};

#define S(f, sh, a, h) { #f, sh, OPT_STR, offsetof(struct config, f), \
			 sizeof(((struct config *)0)->f), 0, 0, a, h }
#define I(f, lo, hi, h) { #f, 0, OPT_INT, offsetof(struct config, f), 0, \
			  lo, hi, "N", h }

/* Field names use '_'; flags and file keys use '-' (converted on lookup). */
static const struct opt opts[] = {
	S(config, 'c', "FILE", "read settings from FILE (key = value lines)"),
	S(var_dir, 0, "DIR", "state folder: db, SMS spool, TLS cert (./var)"),
	S(domain, 0, "NAME", "SIP domain and digest realm (dataline.local)"),
	S(sip_udp, 0, "ADDR:PORT", "SIP over UDP (127.0.0.1:5060; off)"),
	S(sip_tcp, 0, "ADDR:PORT", "SIP over TCP (127.0.0.1:5060; off)"),
	S(sip_tls, 0, "ADDR:PORT", "SIP over TLS (127.0.0.1:5061; off)"),
	S(http, 0, "ADDR:PORT", "plain HTTP API, loopback only (127.0.0.1:8080; off)"),
	S(https, 0, "ADDR:PORT", "HTTPS API (127.0.0.1:8443; off)"),
	S(tls_cert, 0, "FILE", "PEM certificate (VAR/tls/server.crt, self-signed)"),
	S(tls_key, 0, "FILE", "PEM private key (VAR/tls/server.key)"),
	S(db, 0, "PATH", "SQLite database (VAR/dataline.db)"),
	S(sms, 0, "SPEC", "spool:PATH (spool:VAR/sms.spool) or http:URL-TEMPLATE"),
	I(workers, 0, 256, "SIP worker threads (0 = number of CPUs)"),
	S(log_level, 0, "LVL", "error, warn, info (default) or debug"),
	S(log_file, 0, "PATH", "log to PATH instead of stderr (SIGHUP reopens)"),
	I(code_ttl, 1, 86400, "seconds a one-time code is valid (600)"),
	I(code_max_tries, 1, 100, "wrong tries before a code dies (5)"),
	I(code_resend_interval, 0, 86400, "seconds between two codes to a number (60)"),
	I(code_max_per_number_hour, 1, 10000, "codes per number per hour (5)"),
	I(code_max_per_client_hour, 1, 100000, "codes per client prefix (see client-prefix-v4/v6) per hour (20)"),
	I(min_expires, 1, 86400, "shortest registration accepted, s (60)"),
	I(max_expires, 1, 604800, "longest registration granted, s (3600)"),
	I(default_expires, 1, 604800, "registration without Expires, s (3600)"),
	I(max_bindings_per_device, 1, 1000, "contacts one device may register (5)"),
	I(max_tcp_conns, 1, 1000000, "open TCP+TLS connections, all workers (18000)"),
	I(max_tcp_conns_per_client, 1, 1000000, "open TCP+TLS connections per IPv4 address / IPv6 /64 (256)"),
	I(tcp_unauth_timeout, 1, 86400, "close a TCP/TLS connection not authenticated within s of accept (30)"),
	I(max_msg_size, 512, 1048576, "largest SIP message, bytes (65535)"),
	I(tcp_idle_timeout, 1, 86400, "close a silent TCP/TLS connection after s (300)"),
	I(msg_timeout, 1, 3600, "a started message must complete within s (10)"),
	I(nonce_ttl, 1, 86400, "digest nonce lifetime before stale=true, s (300)"),
	S(digest_algorithms, 0, "LIST", "digest algorithms offered, in order (MD5; SHA-256,MD5 for RFC 8760 fleets)"),
	/* HTTP API hardening; limits and their trade-offs: docs/operations.md */
	I(max_http_conns, 1, 1000000, "open connections per HTTP(S) listener (256)"),
	I(max_http_conns_per_client, 1, 1000000, "open HTTP(S) connections per client prefix (32)"),
	I(http_header_timeout, 1, 3600, "headers must be complete within s of accept (10)"),
	I(http_request_timeout, 1, 3600, "a request must be answered within s of accept (30)"),
	I(client_prefix_v4, 8, 32, "IPv4 prefix bits a client is counted by (24)"),
	I(client_prefix_v6, 16, 128, "IPv6 prefix bits a client is counted by (64)"),
	I(metrics_on_https, 0, 1, "also serve /metrics on the HTTPS listener (0)"),
	I(code_max_per_number_client_hour, 1, 10000, "codes one client prefix may get sent to one number per hour (3)"),
	I(sms_max_per_number_day, 2, 10000, "codes sent to one number per day, all clients (10)"),
	I(max_devices_per_number, 1, 10000, "devices one number may have (10)"),
	I(sip_tx_max, 64, 16777216, "UDP server transactions kept, all workers (131072)"),
	I(sip_tx_max_kb, 256, 16777216, "their memory (keys + answers), KiB, all workers (65536)"),
	I(nonce_nc_max, 64, 16777216, "nonces tracked for replay (nonce-count), all workers (262144)"),
	I(keepalive_interval, 2, 3600, "flow keep-alive interval, s: Flow-Timer, server pings, TCP keep-alive (30)"),
	/* the durable queue: docs/messaging.md "The durable queue" */
	S(queue_db, 0, "PATH", "durable queue (SMS, texts), SQLite, fsynced (VAR/queue.db)"),
	I(text_expiry_days, 1, 3650, "days a queued text waits before it fails (30)"),
	I(queue_max_per_recipient, 1, 10000000, "queued items per recipient and channel (1000)"),
	I(queue_max_body, 64, 16777216, "largest queued body, bytes (16384)"),
	I(udp_spread, 0, 1, "spread each UDP source over the workers by Call-ID (1)"),
	I(text_rate, 1, 1000000, "texts one sender may send per second, sustained (20)"),
	I(text_burst, 1, 1000000, "... and in a burst (200)"),
	/* contact discovery: docs/protocol.md, docs/operations.md */
	S(default_country_code, 0, "CC", "country code for national numbers in discovery, e.g. 49 (none)"),
	I(discover_on_http, 0, 1, "also serve contact discovery on the loopback HTTP listener (0)"),
	I(discover_burst, 1, 100000, "discovery requests one account may make at once (10)"),
	I(discover_per_hour, 1, 1000000, "discovery requests refilled per account per hour (60)"),
	I(discover_max_numbers_day, 1, 10000000, "distinct numbers one account may look up per 24 h (5000)"),
	I(discover_track_max, 1, 100000000, "looked-up number hashes kept in memory, all accounts (1000000)"),
	/* presence: docs/presence.md */
	I(presence_min_expires, 1, 86400, "shortest PUBLISH/SUBSCRIBE accepted, s (60)"),
	I(presence_max_expires, 1, 604800, "longest PUBLISH/SUBSCRIBE granted, s (3600)"),
	I(presence_max_publications, 1, 16777216, "device publications kept in memory (100000)"),
	I(presence_max_subscriptions, 1, 16777216, "presence subscriptions, all watchers (100000)"),
	I(presence_max_subs_per_watcher, 1, 1000000, "presence subscriptions per subscribing device (100)"),
	S(probe_udp, 0, "ADDR:PORT", "netq probe reflector for registered devices (off)"),
	/* calls: docs/calls.md */
	I(call_timeout, 1, 3600, "timer C: a ringing call not answered within s gets 408 (180)"),
	I(call_gate, 0, 1, "C3 gate: refuse calls to a callee whose network is below --call-min-kbps (1)"),
	I(call_min_kbps, 0, 1000000, "threshold 2: the callee's usable rate a call needs, kbit/s (48)"),
	I(call_figures_max_age, 0, 86400, "published figures older than s are asked afresh with OPTIONS (120)"),
	I(call_ask_ms, 10, 60000, "how long the gate waits for the OPTIONS answer, ms (1500)"),
	I(call_no_figures_allow, 0, 1, "no figures at all: 1 lets the call through, 0 refuses it (1)"),
	S(relay_addr, 0, "IPV4", "media relay address, bound and written into SDP; off: media goes end to end (127.0.0.1)"),
	I(relay_port_min, 1024, 65534, "first media relay port (40000)"),
	I(relay_port_max, 1025, 65535, "last media relay port (40999)"),
	I(relay_timeout, 1, 86400, "a call whose media stops for s is ended (60)"),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->var_dir, "./var");
	strcpy(c->domain, "dataline.local");
	strcpy(c->sip_udp, "127.0.0.1:5060");
	strcpy(c->sip_tcp, "127.0.0.1:5060");
	strcpy(c->sip_tls, "127.0.0.1:5061");
	strcpy(c->http, "127.0.0.1:8080");
	strcpy(c->https, "127.0.0.1:8443");
	strcpy(c->log_level, "info");
	c->code_ttl = 600;
	c->code_max_tries = 5;
	c->code_resend_interval = 60;
	c->code_max_per_number_hour = 5;
	c->code_max_per_client_hour = 20;
	c->min_expires = 60;
	c->max_expires = 3600;
	c->default_expires = 3600;
	c->max_bindings_per_device = 5;
	c->max_tcp_conns = 18000;
	c->max_tcp_conns_per_client = 256;
	c->tcp_unauth_timeout = 30;
	c->max_msg_size = 65535;
	c->tcp_idle_timeout = 300;
	c->msg_timeout = 10;
	c->nonce_ttl = 300;
	c->sip_tx_max = 131072;
	c->sip_tx_max_kb = 65536;
	c->nonce_nc_max = 262144;
	strcpy(c->digest_algorithms, "MD5");
	c->max_http_conns = 256;
	c->max_http_conns_per_client = 32;
	c->http_header_timeout = 10;
	c->http_request_timeout = 30;
	c->client_prefix_v4 = 24;
	c->client_prefix_v6 = 64;
	c->code_max_per_number_client_hour = 3;
	c->sms_max_per_number_day = 10;
	c->text_expiry_days = 30;
	c->queue_max_per_recipient = 1000;
	c->queue_max_body = 16384;
	c->max_devices_per_number = 10;
	c->keepalive_interval = 30;
	c->text_rate = 20;
	c->udp_spread = 1;
	c->text_burst = 200;
	c->discover_burst = 10;
	c->discover_per_hour = 60;
	c->discover_max_numbers_day = 5000;
	c->discover_track_max = 1000000;
	c->presence_min_expires = 60;
	c->presence_max_expires = 3600;
	c->presence_max_publications = 100000;
	c->presence_max_subscriptions = 100000;
	c->presence_max_subs_per_watcher = 100;
	strcpy(c->probe_udp, "off");
	c->call_timeout = 180;
	c->call_gate = 1;
	c->call_min_kbps = 48;
	c->call_figures_max_age = 120;
	c->call_ask_ms = 1500;
	c->call_no_figures_allow = 1;
	strcpy(c->relay_addr, "127.0.0.1");
	c->relay_port_min = 40000;
	c->relay_port_max = 40999;
	c->relay_timeout = 60;
}

static const struct opt *opt_find(const char *name, size_t len)
{
	size_t i, j;

	for (i = 0; i < NOPTS; i++) {
		const char *n = opts[i].name;
		if (strlen(n) != len)
			continue;
		for (j = 0; j < len; j++) {
			char a = name[j] == '-' ? '_' : name[j];
			if (a != n[j])
				break;
		}
		if (j == len)
			return &opts[i];
	}
	return NULL;
}

static int opt_set(struct config *c, const struct opt *o, const char *val)
{
	char *end;
	long v;

	if (o->type == OPT_STR) {
		if (strlen(val) >= o->size)
			return -ENAMETOOLONG;
		strcpy((char *)c + o->off, val);
		return 0;
	}
	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || end == val || *end || v < o->min || v > o->max)
		return -EINVAL;
	*(int *)((char *)c + o->off) = (int)v;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int config_load_file(struct config *c, const char *path)
{
	char line[2048];
	int lineno = 0, err = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		err = -errno;
		log_err("config: %s: %s", path, strerror(errno));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, *k, *v;
		const struct opt *o;

		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			log_err("config: %s:%d: expected key = value", path, lineno);
			err = -EINVAL;
			break;
		}
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		if (strlen(v) >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    v[strlen(v) - 1] == v[0]) {
			v[strlen(v) - 1] = '\0';
			v++;
		}
		o = opt_find(k, strlen(k));
		if (!o || o->short_name == 'c') {
			log_err("config: %s:%d: unknown key '%s'", path, lineno, k);
			err = -EINVAL;
			break;
		}
		if (opt_set(c, o, v)) {
			log_err("config: %s:%d: bad value for %s: '%s'", path,
				lineno, k, v);
			err = -EINVAL;
			break;
		}
	}
	fclose(f);
	return err;
}

void config_usage(FILE *f, const char *prog)
{
	size_t i, j;

	fprintf(f,
		"Usage: %s [OPTIONS]\n"
		"dataline-server: SIP registrar (UDP/TCP/TLS) and the HTTPS\n"
		"provisioning API that issues SIP credentials to phone numbers.\n\n"
		"Options (a config file takes the same names: \"min-expires = 60\"):\n",
		prog);
	for (i = 0; i < NOPTS; i++) {
		char flag[96];
		int n = snprintf(flag, sizeof(flag), "%s",
				 opts[i].short_name == 'c' ? "-c, --" : "    --");
		for (j = 0; opts[i].name[j] && n < 60; j++)
			flag[n++] = opts[i].name[j] == '_' ? '-' : opts[i].name[j];
		snprintf(flag + n, sizeof(flag) - (size_t)n, " %s", opts[i].arg);
		fprintf(f, "  %-36s %s\n", flag, opts[i].help);
	}
	fprintf(f,
		"  -h, --help                             this text\n\n"
		"Signals: SIGTERM/SIGINT shut down cleanly, SIGHUP reopens the log file.\n\n"
		"Examples:\n"
		"  %s                                   # embedded defaults, state in ./var\n"
		"  %s --var-dir /var/lib/dataline --sip-udp 0.0.0.0:5060 \\\n"
		"      --sip-tcp 0.0.0.0:5060 --sip-tls 0.0.0.0:5061 --https 0.0.0.0:8443 \\\n"
		"      --http off --sms 'http:http://kannel:13013/cgi-bin/sendsms?to=%%to&text=%%text'\n",
		prog, prog);
}

int config_from_args(struct config *c, int argc, char **argv)
{
	struct option lo[NOPTS + 2];
	char names[NOPTS][48];
	const char *file = NULL;
	size_t i, j;
	int ch, idx, err;

	config_defaults(c);
	for (i = 0; i < NOPTS; i++) {
		for (j = 0; opts[i].name[j] && j < sizeof(names[i]) - 1; j++)
			names[i][j] = opts[i].name[j] == '_' ? '-' : opts[i].name[j];
		names[i][j] = '\0';
		lo[i] = (struct option){ names[i], required_argument, NULL,
					 opts[i].short_name ? opts[i].short_name
							    : 1000 + (int)i };
	}
	lo[NOPTS] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[NOPTS + 1] = (struct option){ 0, 0, 0, 0 };

	/* pass 1: only -c and --help, so the file goes under the flags */
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", lo, &idx)) != -1) {
		if (ch == 'h') {
			config_usage(stdout, argv[0]);
			return 1;
		}
		if (ch == 'c')
			file = optarg;
	}
	if (file) {
		err = config_load_file(c, file);
		if (err)
			return err;
		snprintf(c->config, sizeof(c->config), "%s", file);
	}
	/* pass 2: every flag */
	opterr = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", lo, &idx)) != -1) {
		const struct opt *o;

		if (ch == 'c')
			continue;
		if (ch < 1000 || ch >= 1000 + (int)NOPTS) {
			config_usage(stderr, argv[0]);
			return -EINVAL;
		}
		o = &opts[ch - 1000];
		if (opt_set(c, o, optarg)) {
			fprintf(stderr, "%s: bad value for --%s: '%s'\n",
				argv[0], names[ch - 1000], optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0],
			argv[optind]);
		return -EINVAL;
	}
	if (c->min_expires > c->max_expires) {
		fprintf(stderr, "%s: min-expires > max-expires\n", argv[0]);
		return -EINVAL;
	}
	return 0;
}

void config_finish(struct config *c)
{
	if (!c->db[0])
		snprintf(c->db, sizeof(c->db), "%.1000s/dataline.db", c->var_dir);
	if (!c->sms[0])
		snprintf(c->sms, sizeof(c->sms), "spool:%.1000s/sms.spool",
			 c->var_dir);
	if (!c->queue_db[0])
		snprintf(c->queue_db, sizeof(c->queue_db), "%.1000s/queue.db",
			 c->var_dir);
	if (c->workers <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = n > 0 ? (int)n : 1;
	}
	if (c->default_expires > c->max_expires)
		c->default_expires = c->max_expires;
}
