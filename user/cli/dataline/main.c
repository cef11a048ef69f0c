/*
 * dataline: the handset command. Registers the phone's number with a
 * dataline server (patent steps A1-A3: number from the SIM through
 * ModemManager, one-time code by SMS, code back to the server) and keeps
 * the SIP registration alive (RFC 3261 s.10). See docs/handset.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataline/log.h"

static const char usage[] =
"Usage: dataline [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Registers this phone's number with a dataline server, keeps its SIP\n"
"registration alive, and sends and receives texts over data (carrier SMS\n"
"when the data network is not there).\n"
"\n"
"Commands:\n"
"  register [+NUMBER] --server URL   ask the server for a code by SMS (A1, A2);\n"
"                                    the number comes from the SIM through\n"
"                                    ModemManager when a modem is present\n"
"  verify [CODE]                     send the code back (A3); without CODE it is\n"
"                                    read from the newest SMS and confirmed (y/N)\n"
"  daemon                            register over SIP and keep it alive;\n"
"                                    SIGTERM unregisters and exits\n"
"  status                            show the account and the daemon's state\n"
"  modem                             show what ModemManager reports\n"
"  modem sms-send NUMBER TEXT        send one SMS through ModemManager (the\n"
"                                    carrier fallback's modem backend)\n"
"  modem call NUMBER                 place a carrier voice call through\n"
"                                    ModemManager (Voice.CreateCall, Start)\n"
"  send NUMBER TEXT                  send a text over data through the daemon;\n"
"                                    not connected: --fallback decides\n"
"  call NUMBER                       call over data through the daemon (C2:\n"
"                                    own rate vs threshold 1 first); below\n"
"                                    it or refused (488/370): --fallback\n"
"  answer [ID] | hangup [ID]         answer a ringing call / end a call\n"
"  inbox | outbox                    list received / sent texts (--json)\n"
"  contacts list                     the address book with its registered marks\n"
"  contacts import FILE.vcf          import a vCard file (3.0, 4.0, 2.1)\n"
"  contacts sync                     ask the server which contacts are registered\n"
"\n"
"Options:\n"
"  --state-dir DIR      state directory (default $XDG_STATE_HOME/dataline,\n"
"                       ~/.local/state/dataline, or /var/lib/dataline for root)\n"
"  --server URL         provisioning API, https://HOST[:PORT] (http:// only to\n"
"                       a loopback address)\n"
"  --ca FILE            verify the server's certificate against this CA\n"
"  --pin SHA256         expect this SHA-256 fingerprint of the server certificate\n"
"  --insecure           trust on first use: accept the server's certificate the\n"
"                       first time and pin it from then on\n"
"  --no-modem           do not ask ModemManager (number/code from arguments)\n"
"  -y, --yes            verify: accept the code from the SMS without asking\n"
"  --transport T        daemon: udp, tcp or tls (default tls)\n"
"  --expires S          daemon: requested registration lifetime (default 3600)\n"
"  --keepalive S        daemon: CRLF keep-alive interval on TCP/TLS (default 120)\n"
"  --retry-base S       daemon: retry backoff base (default 30, RFC 5626)\n"
"  --retry-max S        daemon: longest wait between retries (default 1800)\n"
"  --log-file PATH      daemon: log here (SIGHUP reopens it)\n"
"  --bus BUS            daemon and clients: system (default), session or a\n"
"                       D-Bus address\n"
"  --carrier B          daemon: carrier SMS backend, modem (default) or log\n"
"  --country-code CC    daemon: for national numbers (e.g. 49)\n"
"  --contacts-sync S    daemon: re-sync the contacts' marks every S seconds\n"
"                       (default 21600; 0: only when asked)\n"
"  --fallback F         send, call: when not connected to the data network\n"
"                       (call: below threshold 1, or refused by the server):\n"
"                       ask (default; asks on a terminal), carrier or quit\n"
"  --audio-in A         call (and the daemon, for the calls it answers): WAV\n"
"                       file or alsa[:DEV] to send (default none)\n"
"  --audio-out A        call (and the daemon): WAV file or alsa[:DEV] for what\n"
"                       is received\n"
"  --duration S         call: hang up after S seconds once answered\n"
"  --answer P           daemon: incoming calls ring (default) or auto\n"
"  --call-min-kbps N    daemon: threshold 1 for calls (default 100 kbit/s)\n"
"  --no-wait            send: do not wait for the server's answer\n"
"  --timeout S          send: wait this long for the server's answer (30)\n"
"  --json               inbox, outbox, contacts list: JSON\n"
"  --limit N            inbox, outbox, contacts list: at most N rows (100)\n"
"  --probe ADDR:PORT    daemon: the server's probe reflector, or off (default:\n"
"                       the SIP URI's host at the SIP port + 10)\n"
"  --probe-interval S   daemon: background probe interval (default 300)\n"
"  --probe-budget B     daemon: probe bytes per rolling hour (default 1000000)\n"
"  --probe-over-budget  daemon: accept an interval over the budget (the budget\n"
"                       then spaces the probes)\n"
"  --netq-pin-dir DIR   daemon: netq's pinned maps (default $DATALINE_PIN_DIR\n"
"                       or /sys/fs/bpf/dataline); without netq the figures\n"
"                       come from the probe alone\n"
"  -v, --verbose        debug logging\n"
"  -h, --help           this text\n"
"\n"
"Examples:\n"
"  dataline register --server https://sip.example.net:8443 --insecure\n"
"  dataline register +8613800138000 --server http://127.0.0.1:8080 --no-modem\n"
"  dataline verify              # code from the newest SMS, asks y/N\n"
"  dataline verify 123456\n"
"  dataline daemon --transport tls &\n"
"  dataline status\n"
"  dataline modem sms-send +8613800138000 'Are you there?'\n"
"  dataline send +8613900000000 'on my way' --fallback ask\n"
"  dataline call +8613900000000 --audio-in alsa --audio-out alsa\n"
"  dataline inbox --json\n";

enum {
	OPT_STATE_DIR = 256, OPT_SERVER, OPT_CA, OPT_PIN, OPT_INSECURE,
	OPT_NO_MODEM, OPT_TRANSPORT, OPT_EXPIRES, OPT_KEEPALIVE, OPT_RETRY,
	OPT_RETRY_MAX,
	OPT_LOG_FILE, OPT_BUS, OPT_CARRIER, OPT_CC, OPT_PIN_DIR, OPT_FALLBACK,
	OPT_JSON, OPT_NO_WAIT, OPT_LIMIT, OPT_TIMEOUT, OPT_CSYNC,
	OPT_PROBE, OPT_PROBE_INTERVAL, OPT_PROBE_BUDGET, OPT_PROBE_OVER,
	OPT_AUDIO_IN, OPT_AUDIO_OUT, OPT_DURATION, OPT_ANSWER, OPT_CALL_MIN,
};

static const struct option long_opts[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "pin", required_argument, NULL, OPT_PIN },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "no-modem", no_argument, NULL, OPT_NO_MODEM },
	{ "yes", no_argument, NULL, 'y' },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "retry-base", required_argument, NULL, OPT_RETRY },
	{ "retry-max", required_argument, NULL, OPT_RETRY_MAX },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "bus", required_argument, NULL, OPT_BUS },
	{ "carrier", required_argument, NULL, OPT_CARRIER },
	{ "country-code", required_argument, NULL, OPT_CC },
	{ "netq-pin-dir", required_argument, NULL, OPT_PIN_DIR },
	{ "fallback", required_argument, NULL, OPT_FALLBACK },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "contacts-sync", required_argument, NULL, OPT_CSYNC },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "audio-in", required_argument, NULL, OPT_AUDIO_IN },
	{ "audio-out", required_argument, NULL, OPT_AUDIO_OUT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "answer", required_argument, NULL, OPT_ANSWER },
	{ "call-min-kbps", required_argument, NULL, OPT_CALL_MIN },
	{ "probe-interval", required_argument, NULL, OPT_PROBE_INTERVAL },
	{ "probe-budget", required_argument, NULL, OPT_PROBE_BUDGET },
	{ "probe-over-budget", no_argument, NULL, OPT_PROBE_OVER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* GNU getopt permutes argv, so options may come before or after the
 * command word; the positional arguments end up at argv[optind..]. */
int main(int argc, char **argv)
{
	static char dir[PATH_MAX], ca_abs[PATH_MAX];
	struct cli_opts o = { 0 };
	const char *cmd;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "yvh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR: o.state_dir = optarg; break;
		case OPT_SERVER: o.server = optarg; break;
		case OPT_CA:
			if (!realpath(optarg, ca_abs)) {
				fprintf(stderr, "dataline: --ca %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			o.ca_file = ca_abs;
			break;
		case OPT_PIN: o.pin = optarg; break;
		case OPT_INSECURE: o.insecure = 1; break;
		case OPT_NO_MODEM: o.no_modem = 1; break;
		case 'y': o.yes = 1; break;
		case OPT_TRANSPORT: o.transport = optarg; break;
		case OPT_EXPIRES: r = parse_u32(optarg, &o.expires); break;
		case OPT_KEEPALIVE: r = parse_u32(optarg, &o.keepalive); break;
		case OPT_RETRY: r = parse_u32(optarg, &o.retry_base); break;
		case OPT_RETRY_MAX: r = parse_u32(optarg, &o.retry_max); break;
		case OPT_LOG_FILE: o.log_file = optarg; break;
		case OPT_BUS: o.bus = optarg; break;
		case OPT_CARRIER: o.carrier = optarg; break;
		case OPT_CC: o.country_code = optarg; break;
		case OPT_PIN_DIR: o.netq_pin_dir = optarg; break;
		case OPT_FALLBACK: o.fallback = optarg; break;
		case OPT_JSON: o.json = 1; break;
		case OPT_NO_WAIT: o.no_wait = 1; break;
		case OPT_LIMIT: r = parse_u32(optarg, &o.limit); break;
		case OPT_TIMEOUT: r = parse_u32(optarg, &o.timeout); break;
		case OPT_CSYNC:
			r = parse_u32(optarg, &o.contacts_sync);
			o.contacts_sync_set = 1;
			break;
		case OPT_PROBE: o.probe = optarg; break;
		case OPT_AUDIO_IN: o.audio_in = optarg; break;
		case OPT_AUDIO_OUT: o.audio_out = optarg; break;
		case OPT_DURATION: r = parse_u32(optarg, &o.duration); break;
		case OPT_ANSWER: o.answer = optarg; break;
		case OPT_CALL_MIN: r = parse_u32(optarg, &o.call_min_kbps); break;
		case OPT_PROBE_INTERVAL: r = parse_u32(optarg, &o.probe_interval); break;
		case OPT_PROBE_BUDGET: r = parse_u32(optarg, &o.probe_budget); break;
		case OPT_PROBE_OVER: o.probe_over_budget = 1; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
		if (r) {
			fprintf(stderr, "dataline: bad number '%s'\n", optarg);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = argv[optind];
	o.argv = argv + optind + 1;
	o.argc = argc - optind - 1;
	if (!o.state_dir) {
		r = cli_state_dir_default(dir, sizeof(dir));
		if (r < 0) {
			fprintf(stderr, "dataline: no state directory (set --state-dir)\n");
			return 2;
		}
		o.state_dir = dir;
	}
	if (strcmp(cmd, "register") == 0)
		r = cmd_register(&o);
	else if (strcmp(cmd, "verify") == 0)
		r = cmd_verify(&o);
	else if (strcmp(cmd, "daemon") == 0)
		r = cmd_daemon(&o);
	else if (strcmp(cmd, "status") == 0)
		r = cmd_status(&o);
	else if (strcmp(cmd, "modem") == 0)
		r = cmd_modem(&o);
	else if (strcmp(cmd, "call") == 0)
		r = cmd_call(&o);
	else if (strcmp(cmd, "answer") == 0 || strcmp(cmd, "hangup") == 0)
		r = cmd_call_id(&o, cmd);
	else if (strcmp(cmd, "send") == 0)
		r = cmd_send(&o);
	else if (strcmp(cmd, "inbox") == 0 || strcmp(cmd, "outbox") == 0)
		r = cmd_list(&o, cmd);
	else if (strcmp(cmd, "contacts") == 0)
		r = cmd_contacts(&o);
	else if (strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	} else {
		fprintf(stderr, "dataline: unknown command '%s'\n\n%s", cmd, usage);
		return 2;
	}
	return r;
}
