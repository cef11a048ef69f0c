/*
 * call, answer, hangup: `dataline call NUMBER [--fallback ask|carrier|quit]
 * [--audio-in WAV|alsa] [--audio-out WAV|alsa] [--duration S]`, the user's
 * side of patent steps C1-C3 and D, as a client of the daemon's Call
 * method and CallState signal (docs/calls.md "The handset's call flow").
 * The daemon checks the own rate against threshold 1 (C2) before any
 * INVITE. Below it (or not connected), and when the server refuses the
 * call with 488 + Warning 370 (C3: the callee's network is below
 * threshold 2): `quit` ends, `carrier` calls through the carrier network,
 * and `ask` (the default) asks "call by the carrier network or quit?" on
 * the terminal (no terminal: nothing happens, and the message says which
 * flag to use). Over data it prints each state until the call ends, with
 * the statistics; Ctrl-C hangs up.
 *
 * Exit: 0 the call took place (or went to the carrier); 1 failed; 2 usage;
 * 3 not called (below threshold / refused, and quit).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "cli.h"
#include "dataline/svc.h"

#define CALL_NOT_CALLED 3

struct call_wait {
	uint32_t id;
	int done;
	char state[32];
	char details[600];
};

static volatile sig_atomic_t call_interrupted;

static void call_sigint(int sig)
{
	(void)sig;
	call_interrupted = 1;
}

static int call_state_cb(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct call_wait *w = ud;
	const char *state, *details;
	uint32_t id;

	(void)err;
	if (sd_bus_message_read(m, "uss", &id, &state, &details) < 0 || !w->id || id != w->id)
		return 0;
	printf("%s%s%s\n", state, details[0] ? ": " : "", details);
	fflush(stdout);
	snprintf(w->state, sizeof(w->state), "%s", state);
	snprintf(w->details, sizeof(w->details), "%s", details);
	w->done = !strcmp(state, "ended") || !strcmp(state, "failed") ||
		  !strcmp(state, "refused") || !strcmp(state, "carrier");
	return 0;
}

static int call_method(sd_bus *bus, const char *num, const char *fb, int carrier,
		       const struct cli_opts *o, sd_bus_error *err, sd_bus_message **rep)
{
	char dur[16];

	snprintf(dur, sizeof(dur), "%u", o->duration);
	return sd_bus_call_method(bus, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE, "Call",
				  err, rep, "sa{ss}", num, 5, "fallback", fb,
				  "route", carrier ? "carrier" : "auto",
				  "audio_in", o->audio_in ? o->audio_in : "",
				  "audio_out", o->audio_out ? o->audio_out : "",
				  "duration", dur);
}

static const struct cli_fallback_text call_fb_text = {
	.intro = "No call over data", .question = "Call by the carrier network or quit?",
	.not_done = "Not called", .why_prefix = "no call over data",
};

static void call_wait_end(sd_bus *bus, struct call_wait *w)
{
	int hung = 0;

	while (!w->done) {
		int r = sd_bus_process(bus, NULL);

		if (r < 0)
			return;
		if (r > 0)
			continue;
		if (call_interrupted && !hung) {
			hung = 1;
			sd_bus_call_method(bus, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE,
					   "Hangup", NULL, NULL, "u", w->id);
			continue;
		}
		if (sd_bus_wait(bus, 500000) < 0 && !call_interrupted)
			return;
	}
}

int cmd_call(struct cli_opts *o)
{
	const char *fb = o->fallback ? o->fallback : "ask";
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *rep = NULL;
	struct call_wait w = { 0 };
	sd_bus_slot *slot = NULL;
	const char *route, *detail;
	sd_bus *bus = NULL;
	int r, rc = 1, carrier = 0;

	if (o->argc != 1) {
		fprintf(stderr, "usage: dataline call NUMBER [--fallback ask|carrier|quit] "
			"[--audio-in WAV|alsa] [--audio-out WAV|alsa] [--duration S]\n");
		return 2;
	}
	if (strcmp(fb, "ask") && strcmp(fb, "carrier") && strcmp(fb, "quit")) {
		fprintf(stderr, "dataline: --fallback is ask, carrier or quit\n");
		return 2;
	}
	if (cli_bus_open(o, &bus) < 0)
		return 1;
	signal(SIGINT, call_sigint);
	r = sd_bus_match_signal(bus, &slot, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE,
				"CallState", call_state_cb, &w);
again:
	if (r >= 0)
		r = call_method(bus, o->argv[0], strcmp(fb, "carrier") == 0 ? "carrier" : "quit",
				carrier, o, &err, &rep);
	if (r < 0 && !carrier && sd_bus_error_has_name(&err, SVC_ERR_NOT_CONNECTED)) {
		if (!cli_fallback(fb, &call_fb_text, cli_bus_why(err.message))) {
			rc = CALL_NOT_CALLED;
			goto out;
		}
		sd_bus_error_free(&err);
		carrier = 1;
		r = 0;
		goto again;
	}
	if (r < 0) {
		cli_bus_perror("not called", r, err.name, err.message);
		goto out;
	}
	if ((r = sd_bus_message_read(rep, "uss", &w.id, &route, &detail)) < 0) {
		cli_bus_perror("bad answer from the daemon", r, NULL, NULL);
		goto out;
	}
	if (strcmp(route, "carrier") == 0) {
		printf("Called by the carrier network (%s).\n", detail);
		rc = 0;
		goto out;
	}
	printf("Calling %s over data (call %u, Call-ID %s).\n", o->argv[0], w.id, detail);
	fflush(stdout);
	call_wait_end(bus, &w);
	if (strcmp(w.state, "refused") == 0 && !carrier) {
		/* C3: the server's gate said the callee cannot take it over data */
		if (!cli_fallback(fb, &call_fb_text, w.details)) {
			rc = CALL_NOT_CALLED;
			goto out;
		}
		sd_bus_message_unref(rep);
		rep = NULL;
		memset(&w, 0, sizeof(w));
		carrier = 1;
		r = 0;
		goto again;
	}
	rc = strcmp(w.state, "ended") == 0 || strcmp(w.state, "carrier") == 0 ? 0 : 1;
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(rep);
	sd_bus_slot_unref(slot);
	sd_bus_flush_close_unref(bus);
	return rc;
}

/* The first call fit for CMD in ListCalls: a ringing incoming one for
 * answer, any for hangup. 0 when found. */
static int call_pick(sd_bus *bus, const char *cmd, uint32_t *id)
{
	sd_bus_message *rep = NULL;
	int r, found = 0;

	r = sd_bus_call_method(bus, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE, "ListCalls",
			       NULL, &rep, "");
	if (r >= 0)
		r = sd_bus_message_enter_container(rep, 'a', "a{sv}");
	while (r >= 0 && !found && (r = sd_bus_message_enter_container(rep, 'a', "{sv}")) > 0) {
		const char *k, *dir = "", *state = "";
		uint32_t cid = 0;

		while ((r = sd_bus_message_enter_container(rep, 'e', "sv")) > 0) {
			if ((r = sd_bus_message_read(rep, "s", &k)) < 0)
				break;
			if (strcmp(k, "id") == 0)
				r = sd_bus_message_read(rep, "v", "u", &cid);
			else if (strcmp(k, "direction") == 0)
				r = sd_bus_message_read(rep, "v", "s", &dir);
			else if (strcmp(k, "state") == 0)
				r = sd_bus_message_read(rep, "v", "s", &state);
			else
				r = sd_bus_message_skip(rep, "v");
			if (r >= 0)
				r = sd_bus_message_exit_container(rep);
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(rep);
		if (strcmp(cmd, "hangup") == 0 ||
		    (strcmp(dir, "in") == 0 && strcmp(state, "ringing") == 0)) {
			*id = cid;
			found = 1;
		}
	}
	sd_bus_message_unref(rep);
	return found ? 0 : r < 0 ? r : -ENOENT;
}

int cmd_call_id(struct cli_opts *o, const char *cmd)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	uint32_t id = 0;
	int r, rc = 1;

	if (o->argc > 1 || (o->argc == 1 && (id = (uint32_t)strtoul(o->argv[0], NULL, 10)) == 0)) {
		fprintf(stderr, "usage: dataline %s [ID]\n", cmd);
		return 2;
	}
	if (cli_bus_open(o, &bus) < 0)
		return 1;
	if (!id && (r = call_pick(bus, cmd, &id)) < 0) {
		printf("No call to %s.\n", strcmp(cmd, "answer") == 0 ? "answer" : "hang up");
		goto out;
	}
	r = sd_bus_call_method(bus, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE,
			       strcmp(cmd, "answer") == 0 ? "Answer" : "Hangup", &err, NULL,
			       "u", id);
	if (r < 0) {
		cli_bus_perror(cmd, r, err.name, err.message);
		goto out;
	}
	printf("%s call %u.\n", strcmp(cmd, "answer") == 0 ? "Answered" : "Hung up", id);
	rc = 0;
out:
	sd_bus_error_free(&err);
	sd_bus_flush_close_unref(bus);
	return rc;
}
