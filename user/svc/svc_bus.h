/*
 * svc_bus: private to the D-Bus files of the handset service (svc_bus.c:
 * connection, loop glue, signals; svc_bus_methods.c: the methods).
 */
#ifndef DATALINE_SVC_BUS_H
#define DATALINE_SVC_BUS_H

#include <systemd/sd-bus.h>

#include "svc_priv.h"

struct svc_bus {
	struct svc *s;
	sd_bus *bus;
	sd_bus_slot *slot;
	struct event *ev;
};

extern const sd_bus_vtable svc_bus_vtable[];
/* svc_bus_calls.c: Call, Answer, Hangup, ListCalls */
int svc_bus_m_call(sd_bus_message *m, void *ud, sd_bus_error *err);
int svc_bus_m_answer(sd_bus_message *m, void *ud, sd_bus_error *err);
int svc_bus_m_hangup(sd_bus_message *m, void *ud, sd_bus_error *err);
int svc_bus_m_list_calls(sd_bus_message *m, void *ud, sd_bus_error *err);
/* Watches the bus fd for what sd-bus wants next; after any send. */
void svc_bus_rearm(struct svc_bus *b);

#endif
