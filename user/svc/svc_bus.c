/*
 * svc_bus: the handset service on D-Bus (sd-bus), driven by the daemon's
 * libevent loop: the bus fd is watched for what sd_bus_get_events() asks,
 * with sd_bus_get_timeout()'s deadline, and sd_bus_process() runs until it
 * has nothing left. Signals and replies sent from elsewhere on the loop
 * re-arm the watch, so a partly written message is finished.
 *
 * The bus: "system" (what a phone uses; it needs the policy file
 * dist/dbus/org.dataline.Handset1.conf in /etc/dbus-1/system.d/ to own the
 * name), "session", or any D-Bus address (tests use a private bus). The
 * methods are in svc_bus_methods.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "dataline/log.h"
#include "svc_bus.h"

static void bus_cb(evutil_socket_t fd, short what, void *arg);

void svc_bus_rearm(struct svc_bus *b)
{
	int fd = sd_bus_get_fd(b->bus), ev = sd_bus_get_events(b->bus);
	uint64_t until = UINT64_MAX;
	short what = 0;

	if (fd < 0 || ev < 0)
		return;
	event_del(b->ev);
	if (ev & POLLIN)
		what |= EV_READ;
	if (ev & POLLOUT)
		what |= EV_WRITE;
	event_assign(b->ev, b->s->base, fd, what, bus_cb, b);
	if (sd_bus_get_timeout(b->bus, &until) >= 0 && until != UINT64_MAX) {
		struct timespec now;
		uint64_t nowus, rel;
		struct timeval tv;

		clock_gettime(CLOCK_MONOTONIC, &now);
		nowus = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
		rel = until > nowus ? until - nowus : 0;
		tv.tv_sec = (time_t)(rel / 1000000u);
		tv.tv_usec = (suseconds_t)(rel % 1000000u);
		event_add(b->ev, &tv);
	} else {
		event_add(b->ev, NULL);
	}
}

static void bus_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc_bus *b = arg;
	int r;

	(void)fd;
	(void)what;
	while ((r = sd_bus_process(b->bus, NULL)) > 0)
		;
	if (r < 0) {
		log_err("svc: D-Bus connection lost: %s", strerror(-r));
		event_del(b->ev);
		return;
	}
	svc_bus_rearm(b);
}

int svc_bus_connect(const char *which, sd_bus **out)
{
	sd_bus *bus = NULL;
	int r;

	if (strcmp(which, "system") == 0)
		return sd_bus_open_system(out);
	if (strcmp(which, "session") == 0)
		return sd_bus_open_user(out);
	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, which);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*out = bus;
	return 0;
}

int svc_bus_open(struct svc *s, const char *which)
{
	struct svc_bus *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->s = s;
	s->bus = b;
	r = svc_bus_connect(which, &b->bus);
	if (r < 0) {
		log_err("svc: cannot connect to the %s D-Bus: %s", which, strerror(-r));
		return r;
	}
	r = sd_bus_add_object_vtable(b->bus, &b->slot, SVC_BUS_PATH, SVC_BUS_IFACE,
				     svc_bus_vtable, s);
	if (r >= 0)
		r = sd_bus_request_name(b->bus, SVC_BUS_NAME, 0);
	if (r < 0) {
		if (r == -EEXIST)
			log_err("svc: %s is already owned on the %s bus: another "
				  "daemon runs", SVC_BUS_NAME, which);
		else if (r == -EACCES || r == -EPERM)
			log_err("svc: the %s bus does not let us own %s: install "
				  "dist/dbus/%s.conf in /etc/dbus-1/system.d/ "
				  "(docs/handset.md)", which, SVC_BUS_NAME, SVC_BUS_NAME);
		else
			log_err("svc: cannot own %s on the %s bus: %s", SVC_BUS_NAME,
				  which, strerror(-r));
		return r;
	}
	b->ev = event_new(s->base, -1, 0, bus_cb, b);
	if (!b->ev)
		return -ENOMEM;
	svc_bus_rearm(b);
	log_info("svc: serving %s on the %s bus", SVC_BUS_NAME, which);
	return 0;
}

void svc_bus_close(struct svc *s)
{
	struct svc_bus *b = s->bus;

	if (!b)
		return;
	if (b->ev)
		event_free(b->ev);
	if (b->bus) {
		sd_bus_flush(b->bus);
		sd_bus_slot_unref(b->slot);
		sd_bus_flush_close_unref(b->bus);
	}
	free(b);
	s->bus = NULL;
}

/* ------------------------------------------------------------ signals */

static void bus_emitted(struct svc_bus *b, const char *name, int r)
{
	if (r < 0)
		log_warn("svc: signal %s not sent: %s", name, strerror(-r));
	svc_bus_rearm(b);
}

void svc_bus_text_received(struct svc *s, int64_t id, const char *from,
			   const char *mid, const char *ctype,
			   const void *body, size_t len)
{
	char *text;
	int r;

	if (!s->bus || !s->bus->ev)
		return;
	/* D-Bus strings are UTF-8 without NUL: another body is announced
	 * empty and read with ListInbox (body_base64). */
	text = svc_utf8_valid(body, len) ? strndup(body, len) : strdup("");
	if (!text)
		return;
	r = sd_bus_emit_signal(s->bus->bus, SVC_BUS_PATH, SVC_BUS_IFACE,
			       "TextReceived", "xssss", (int64_t)id, from, mid,
			       ctype, text);
	free(text);
	bus_emitted(s->bus, "TextReceived", r);
}

void svc_bus_report(struct svc *s, int64_t id, const char *mid,
		    enum hstore_out_state st, const char *status)
{
	int r;

	if (!s->bus || !s->bus->ev)
		return;
	r = sd_bus_emit_signal(s->bus->bus, SVC_BUS_PATH, SVC_BUS_IFACE,
			       "DeliveryReport", "xsss", (int64_t)id, mid,
			       hstore_out_state_name(st), status ? status : "");
	bus_emitted(s->bus, "DeliveryReport", r);
}

void svc_bus_contacts_changed(struct svc *s, uint32_t changed)
{
	int r;

	if (!s->bus || !s->bus->ev)
		return;
	r = sd_bus_emit_signal(s->bus->bus, SVC_BUS_PATH, SVC_BUS_IFACE,
			       "ContactsChanged", "u", changed);
	bus_emitted(s->bus, "ContactsChanged", r);
}

void svc_bus_call_state(struct svc *s, uint32_t id, const char *state,
			const char *details)
{
	int r;

	if (!s->bus || !s->bus->ev)
		return;
	r = sd_bus_emit_signal(s->bus->bus, SVC_BUS_PATH, SVC_BUS_IFACE,
			       "CallState", "uss", id, state, details ? details : "");
	bus_emitted(s->bus, "CallState", r);
}
