/*
 * worker: one thread, one event_base, one SIP side (server/sip/sipd.h)
 * with its own SO_REUSEPORT sockets. Created and bound in the main thread
 * (so a bind error stops the start-up), then the loop runs in the thread.
 */
#ifndef DATALINE_SERVER_WORKER_H
#define DATALINE_SERVER_WORKER_H

#include <pthread.h>

#include "../sip/sipd.h"

struct worker {
	pthread_t thread;
	struct event_base *base; /* owned */
	struct sipd sip;         /* owned */
	int running;
};

/* Creates the base, binds the sockets, starts the thread. 0 or -errno. */
int worker_start(struct worker *wk, struct sipd_shared *sh, int id);
/* Breaks the loop, joins the thread, frees in reverse order. */
void worker_stop(struct worker *wk);

#endif
