/*
 * worker: one thread, one event_base, one mailbox. What runs on the loop
 * (the SIP side, server/sip/sipd.h) is the application's business: core
 * knows nothing of SIP. Created in the main thread (so the application can
 * bind its sockets on the base and a bind error stops the start-up), then
 * worker_run() starts the loop in the thread.
 */
#ifndef DATALINE_SERVER_WORKER_H
#define DATALINE_SERVER_WORKER_H

#include <pthread.h>

struct event_base;
struct mailbox;

struct worker {
	pthread_t thread;
	int id;
	struct event_base *base; /* owned */
	struct mailbox *mb;      /* owned: work handed to this thread */
	int running;
};

/* Creates the base and the mailbox. 0 or -errno. */
int worker_init(struct worker *wk, int id);
/* Starts the loop's thread. 0 or -errno. */
int worker_run(struct worker *wk);
/* Breaks the loop and joins the thread (the base stays, so the
 * application can tear its side down on it). */
void worker_stop(struct worker *wk);
/* Frees the mailbox (running what it still holds) and the base. */
void worker_fini(struct worker *wk);

#endif
