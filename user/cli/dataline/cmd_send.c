/*
 * send: `dataline send NUMBER TEXT [--fallback ask|carrier|quit]`, the
 * user's side of patent step C22, as a client of the daemon's Send method.
 * The daemon checks the data network (netq: link up with a default route;
 * the server reachable: registered). Connected: the text goes to the
 * outbox and this waits for the server's answer (DeliveryReport signal).
 * Not connected: `quit` sends nothing, `carrier` sends a carrier SMS, and
 * `ask` (the default) asks on the terminal "send by carrier SMS or quit?"
 * (no terminal: nothing is sent, and the message says which flag to use).
 *
 * Exit: 0 accepted by the server, delivered, or sent by carrier SMS;
 * 1 failed; 2 usage; 3 not sent, not connected; 4 queued in the outbox
 * but no answer from the server within --timeout (it is still sent).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "cli.h"
#include "dataline/svc.h"

#define SEND_NOT_CONNECTED 3
#define SEND_UNCONFIRMED 4

struct send_wait {
	int64_t id;
	int done;
	char state[32];
	char status[128];
};

static int send_report_cb(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct send_wait *w = ud;
	const char *mid, *state, *status;
	int64_t id;

	(void)err;
	if (sd_bus_message_read(m, "xsss", &id, &mid, &state, &status) < 0)
		return 0;
	if (id != w->id || strcmp(state, "queued") == 0 || strcmp(state, "sending") == 0)
		return 0;
	snprintf(w->state, sizeof(w->state), "%s", state);
	snprintf(w->status, sizeof(w->status), "%s", status);
	w->done = 1;
	return 0;
}

/* Waits for W's report until TIMEOUT seconds passed. */
static void send_wait(sd_bus *bus, struct send_wait *w, uint32_t timeout)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!w->done) {
		uint64_t left_us;
		int r = sd_bus_process(bus, NULL);

		if (r < 0)
			return;
		if (r > 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= (time_t)timeout)
			return;
		left_us = (uint64_t)(timeout - (uint32_t)(t.tv_sec - t0.tv_sec)) * 1000000u;
		if (sd_bus_wait(bus, left_us) < 0)
			return;
	}
}

static int send_call(sd_bus *bus, const char *num, const char *text,
		     const char *fb, sd_bus_error *err, sd_bus_message **rep)
{
	return sd_bus_call_method(bus, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE,
				  "Send", err, rep, "sss", num, text, fb);
}

int cmd_send(struct cli_opts *o)
{
	const char *fb = o->fallback ? o->fallback : "ask";
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *rep = NULL;
	struct send_wait w = { 0 };
	sd_bus_slot *slot = NULL;
	const char *route, *mid;
	sd_bus *bus = NULL;
	int r, rc = 1;

	if (o->argc != 2) {
		fprintf(stderr, "usage: dataline send NUMBER TEXT [--fallback ask|carrier|quit]\n");
		return 2;
	}
	if (strcmp(fb, "ask") && strcmp(fb, "carrier") && strcmp(fb, "quit")) {
		fprintf(stderr, "dataline: --fallback is ask, carrier or quit\n");
		return 2;
	}
	if (cli_bus_open(o, &bus) < 0)
		return 1;
	/* Subscribed before the call, so the answer cannot pass us by. */
	r = sd_bus_match_signal(bus, &slot, SVC_BUS_NAME, SVC_BUS_PATH, SVC_BUS_IFACE,
				"DeliveryReport", send_report_cb, &w);
	if (r >= 0)
		r = send_call(bus, o->argv[0], o->argv[1],
			      strcmp(fb, "carrier") == 0 ? "carrier" : "quit", &err, &rep);
	if (r < 0 && sd_bus_error_has_name(&err, SVC_ERR_NOT_CONNECTED)) {
		static const struct cli_fallback_text t = {
			.intro = "Not connected to the data network",
			.question = "Send by carrier SMS or quit?",
			.not_done = "Not sent", .why_prefix = "not connected to the data network",
		};

		if (!cli_fallback(fb, &t, cli_bus_why(err.message))) {
			rc = SEND_NOT_CONNECTED;
			goto out;
		}
		sd_bus_error_free(&err);
		r = send_call(bus, o->argv[0], o->argv[1], "carrier", &err, &rep);
	}
	if (r < 0) {
		cli_bus_perror("not sent", r, err.name, err.message);
		goto out;
	}
	r = sd_bus_message_read(rep, "xss", &w.id, &route, &mid);
	if (r < 0) {
		cli_bus_perror("bad answer from the daemon", r, NULL, NULL);
		goto out;
	}
	if (strcmp(route, "carrier") == 0) {
		printf("Sent by carrier SMS (outbox id %lld).\n", (long long)w.id);
		rc = 0;
		goto out;
	}
	printf("Queued over data: outbox id %lld, Message-ID %s.\n", (long long)w.id, mid);
	if (o->no_wait) {
		rc = 0;
		goto out;
	}
	send_wait(bus, &w, o->timeout ? o->timeout : 30);
	if (!w.done) {
		printf("No answer from the server yet: the text stays in the outbox and "
		       "is sent when the server can be reached.\n");
		rc = SEND_UNCONFIRMED;
	} else if (strcmp(w.state, "failed") == 0) {
		printf("Failed: %s.\n", w.status);
	} else {
		printf("%s: %s.\n", strcmp(w.state, "delivered") == 0 ? "Delivered"
			: "Accepted by the server", w.status);
		rc = 0;
	}
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(rep);
	sd_bus_slot_unref(slot);
	sd_bus_flush_close_unref(bus);
	return rc;
}
