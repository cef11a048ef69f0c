/*
 * callua: the handset agent's call signalling (agent_call_*) driven from
 * the command line against any SIP peer, for the SIPp interop test
 * (tests/integration/agent_sipp.sh). Registers over UDP to --server, then
 * either places one call (--call TO) or waits for one (--wait). One JSON
 * line per event on stdout: {"event": "registered"|"progress"|"answered"|
 * "ended"|"failed"|"incoming", ...}. Exit 0 once the call ended (or
 * failed, with --expect-fail STATUS equal to the status), 1 otherwise.
 *
 *   callua --server 127.0.0.1:29100 --user +8613800291001 --password pw
 *          --call +8613900291002 [--hangup-after MS] [--cancel-after MS]
 *          [--expect-fail STATUS]
 *   callua ... --wait [--answer auto|ring|reject] [--answer-after MS]
 *          [--hangup-after MS]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "dataline/agent.h"
#include "dataline/log.h"

#define SDP_OFFER "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
		  "t=0 0\r\nm=audio 29190 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

static struct {
	struct event_base *base;
	struct agent *a;
	struct agent_call *c;
	const char *call_to, *answer;
	int wait, expect_fail, rc, placed;
	long hangup_ms, cancel_ms, answer_ms;
	struct event *t_hangup, *t_answer;
} U = { .answer = "auto", .hangup_ms = -1, .cancel_ms = -1, .answer_ms = 0, .rc = 1 };

static void after(struct event **ev, long ms, event_callback_fn fn)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!*ev)
		*ev = evtimer_new(U.base, fn, NULL);
	evtimer_add(*ev, &tv);
}

static void hangup_cb(evutil_socket_t fd, short what, void *arg)
{
	if (U.c)
		printf("{\"event\":\"hangup\",\"rc\":%d}\n", agent_call_hangup(U.c));
	fflush(stdout);
}

static void answer_cb(evutil_socket_t fd, short what, void *arg)
{
	if (U.c)
		agent_call_answer(U.c, SDP_OFFER, strlen(SDP_OFFER));
}

static void on_state(void *arg, enum agent_state st, int status)
{
	if (st == AGENT_REGISTERED && !U.placed) {
		U.placed = 1;
		printf("{\"event\":\"registered\"}\n");
		fflush(stdout);
		if (U.call_to) {
			int r = agent_call_invite(U.a, U.call_to, SDP_OFFER, strlen(SDP_OFFER),
						  NULL, &U.c);

			if (r < 0) {
				printf("{\"event\":\"error\",\"invite\":%d}\n", r);
				event_base_loopbreak(U.base);
			} else if (U.cancel_ms >= 0) {
				after(&U.t_hangup, U.cancel_ms, hangup_cb);
			}
		}
	}
}

static void on_incoming(void *arg, struct agent_call *c, const struct agent_call_in *in)
{
	printf("{\"event\":\"incoming\",\"from\":\"%s\",\"sdp_len\":%zu}\n", in->from_user,
	       in->sdp_len);
	fflush(stdout);
	U.c = c;
	if (strcmp(U.answer, "reject") == 0) {
		agent_call_reject(c, 486);
		return;
	}
	if (strcmp(U.answer, "ring") == 0 || U.answer_ms > 0)
		agent_call_ring(c);
	if (strcmp(U.answer, "ring") != 0) {
		if (U.answer_ms > 0)
			after(&U.t_answer, U.answer_ms, answer_cb);
		else
			agent_call_answer(c, SDP_OFFER, strlen(SDP_OFFER));
	}
}

static void on_progress(void *arg, struct agent_call *c, int status)
{
	printf("{\"event\":\"progress\",\"status\":%d}\n", status);
	fflush(stdout);
}

static void on_answered(void *arg, struct agent_call *c, const char *sdp, size_t len)
{
	printf("{\"event\":\"answered\",\"sdp_len\":%zu}\n", len);
	fflush(stdout);
	if (U.hangup_ms >= 0)
		after(&U.t_hangup, U.hangup_ms, hangup_cb);
}

static void on_ended(void *arg, struct agent_call *c, enum agent_call_end why, int status)
{
	printf("{\"event\":\"ended\",\"why\":\"%s\",\"status\":%d}\n", agent_call_end_name(why),
	       status);
	U.c = NULL;
	U.rc = U.expect_fail ? 1 : 0;
	event_base_loopbreak(U.base);
}

static void on_failed(void *arg, struct agent_call *c, int status, const char *warning)
{
	printf("{\"event\":\"failed\",\"status\":%d,\"warning\":\"", status);
	for (const char *p = warning; *p; p++)
		printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
	printf("\",\"warn_code\":%d}\n", agent_call_warn_code(warning));
	U.c = NULL;
	U.rc = U.expect_fail == status ? 0 : 1;
	event_base_loopbreak(U.base);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ "call", required_argument, NULL, 'c' },
		{ "wait", no_argument, NULL, 'w' },
		{ "answer", required_argument, NULL, 'a' },
		{ "answer-after", required_argument, NULL, 'A' },
		{ "hangup-after", required_argument, NULL, 'h' },
		{ "cancel-after", required_argument, NULL, 'C' },
		{ "expect-fail", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_config cfg = { .transport = AGENT_TP_UDP, .domain = "dataline.test",
				    .retry_base = 60 };
	struct agent_call_events ev = {
		.incoming = on_incoming, .progress = on_progress, .answered = on_answered,
		.ended = on_ended, .failed = on_failed,
	};
	struct agent_events aev = { .state = on_state };
	struct agent_call_config ccfg = { .ring_timeout = 0 };
	char host[64] = "127.0.0.1", *colon;
	long timeout_s = 30;
	int o;

	log_set_level(LOG_LVL_WARN);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			snprintf(host, sizeof(host), "%s", optarg);
			if ((colon = strrchr(host, ':'))) {
				*colon = '\0';
				cfg.port = (uint16_t)atoi(colon + 1);
			}
			break;
		case 'u': cfg.user = optarg; break;
		case 'p': cfg.password = optarg; break;
		case 'c': U.call_to = optarg; break;
		case 'w': U.wait = 1; break;
		case 'a': U.answer = optarg; break;
		case 'A': U.answer_ms = atol(optarg); break;
		case 'h': U.hangup_ms = atol(optarg); break;
		case 'C': U.cancel_ms = atol(optarg); break;
		case 'f': U.expect_fail = atoi(optarg); break;
		case 't': timeout_s = atol(optarg); break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		default: return 2;
		}
	}
	if (!cfg.user || !cfg.port || (!U.call_to && !U.wait)) {
		fprintf(stderr, "usage: callua --server HOST:PORT --user NUM [--password PW] "
			"(--call TO | --wait) ...\n");
		return 2;
	}
	cfg.host = host;
	cfg.username = cfg.user;
	U.base = event_base_new();
	if (agent_new(U.base, &cfg, &aev, NULL, &U.a) < 0 ||
	    agent_call_setup(U.a, &ccfg, &ev, NULL) < 0 || agent_start(U.a) < 0)
		return 1;
	{
		struct timeval tv = { timeout_s, 0 };

		event_base_loopexit(U.base, &tv);
	}
	event_base_dispatch(U.base);
	/* let the last ACK / 200 leave */
	{
		struct timeval tv = { 0, 300000 };

		event_base_loopexit(U.base, &tv);
		event_base_dispatch(U.base);
	}
	if (U.t_hangup)
		event_free(U.t_hangup);
	if (U.t_answer)
		event_free(U.t_answer);
	agent_free(U.a);
	event_base_free(U.base);
	fflush(stdout);
	return U.rc;
}
