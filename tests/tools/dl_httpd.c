/*
 * dl_httpd: the provisioning HTTP API of dataline-server on its own (no
 * SIP), for testing server/http, server/sms and server/store in isolation.
 * Takes the same flags as dataline-server for the parts it runs:
 *   dl_httpd --var-dir DIR [--domain D] [--http A:P] [--https A:P]
 *            [--tls-cert F --tls-key F] [--db PATH] [--sms SPEC]
 *            [--sip-udp A:P] [--sip-tcp A:P] [--sip-tls A:P]
 *            [--code-ttl S] [--code-max-tries N] [--code-resend-interval S]
 *            [--code-max-per-number-hour N] [--code-max-per-client-hour N]
 *            [--sms-retry BASE,MAX,TIMEOUT]
 * SIGTERM/SIGINT stop it cleanly.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../server/core/tls.h"
#include "../../server/http/http_api.h"
#include "dataline/log.h"

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	log_info("dl_httpd: signal %d, stopping", (int)sig);
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	enum { O_VAR = 256, O_DOMAIN, O_HTTP, O_HTTPS, O_CERT, O_KEY, O_DB,
	       O_SMS, O_UDP, O_TCP, O_TLS, O_TTL, O_TRIES, O_RESEND, O_NUM,
	       O_CLIENT, O_LOG };
	static const struct option opts[] = {
		{ "var-dir", 1, NULL, O_VAR }, { "domain", 1, NULL, O_DOMAIN },
		{ "http", 1, NULL, O_HTTP }, { "https", 1, NULL, O_HTTPS },
		{ "tls-cert", 1, NULL, O_CERT }, { "tls-key", 1, NULL, O_KEY },
		{ "db", 1, NULL, O_DB }, { "sms", 1, NULL, O_SMS },
		{ "sip-udp", 1, NULL, O_UDP }, { "sip-tcp", 1, NULL, O_TCP },
		{ "sip-tls", 1, NULL, O_TLS }, { "code-ttl", 1, NULL, O_TTL },
		{ "code-max-tries", 1, NULL, O_TRIES },
		{ "code-resend-interval", 1, NULL, O_RESEND },
		{ "code-max-per-number-hour", 1, NULL, O_NUM },
		{ "code-max-per-client-hour", 1, NULL, O_CLIENT },
		{ "log-level", 1, NULL, O_LOG },
		{ NULL, 0, NULL, 0 },
	};
	struct http_api_config cfg;
	const char *var = "./var", *cert = NULL, *key = NULL;
	struct event_base *base;
	struct event *sigterm, *sigint;
	struct http_api *api = NULL;
	SSL_CTX *ctx = NULL;
	enum log_level lvl;
	int c, err;

	http_api_config_defaults(&cfg);
	cfg.http_addr = "127.0.0.1:8080";
	cfg.https_addr = "127.0.0.1:8443";
	cfg.sip_udp = cfg.sip_tcp = "127.0.0.1:5060";
	cfg.sip_tls = "127.0.0.1:5061";
	cfg.domain = "dataline.local";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_VAR: var = optarg; break;
		case O_DOMAIN: cfg.domain = optarg; break;
		case O_HTTP: cfg.http_addr = optarg; break;
		case O_HTTPS: cfg.https_addr = optarg; break;
		case O_CERT: cert = optarg; break;
		case O_KEY: key = optarg; break;
		case O_DB: cfg.db = optarg; break;
		case O_SMS: cfg.sms = optarg; break;
		case O_UDP: cfg.sip_udp = optarg; break;
		case O_TCP: cfg.sip_tcp = optarg; break;
		case O_TLS: cfg.sip_tls = optarg; break;
		case O_TTL: cfg.code_ttl = atoi(optarg); break;
		case O_TRIES: cfg.code_max_tries = atoi(optarg); break;
		case O_RESEND: cfg.code_resend_interval = atoi(optarg); break;
		case O_NUM: cfg.code_max_per_number_hour = atoi(optarg); break;
		case O_CLIENT: cfg.code_max_per_client_hour = atoi(optarg); break;
		case O_LOG:
			if (log_parse_level(optarg, &lvl) == 0)
				log_set_level(lvl);
			break;
		default:
			fprintf(stderr, "usage: see the comment in tests/tools/dl_httpd.c\n");
			return 2;
		}
	}
	cfg.var_dir = var;
	if (mkdir(var, 0700) != 0 && errno != EEXIST) {
		log_err("dl_httpd: mkdir %s: %s", var, strerror(errno));
		return 1;
	}
	if (cfg.https_addr && strcmp(cfg.https_addr, "off") != 0) {
		err = tls_server_ctx_new(cert, key, var, &ctx);
		if (err) {
			log_err("dl_httpd: TLS: %s", strerror(-err));
			return 1;
		}
		cfg.ssl_ctx = ctx;
	}
	base = event_base_new();
	if (!base)
		return 1;
	err = http_api_start(base, &cfg, &api);
	if (err) {
		log_err("dl_httpd: cannot start: %s", strerror(-err));
		event_base_free(base);
		SSL_CTX_free(ctx);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigterm = evsignal_new(base, SIGTERM, stop_cb, base);
	sigint = evsignal_new(base, SIGINT, stop_cb, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_base_dispatch(base);
	http_api_free(api);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	SSL_CTX_free(ctx);
	return 0;
}
