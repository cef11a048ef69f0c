/*
 * worker: an event-loop thread with a mailbox (one event loop per thread;
 * the SIP sockets of every worker share the ports through SO_REUSEPORT).
 */
#include "worker.h"

#include <errno.h>
#include <string.h>

#include <event2/event.h>

#include "mailbox.h"

static void *worker_main(void *arg)
{
	struct worker *wk = arg;

	event_base_loop(wk->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int worker_init(struct worker *wk, int id)
{
	int err;

	memset(wk, 0, sizeof(*wk));
	wk->id = id;
	wk->base = event_base_new();
	if (!wk->base)
		return -ENOMEM;
	err = mailbox_new(wk->base, &wk->mb);
	if (err) {
		event_base_free(wk->base);
		wk->base = NULL;
	}
	return err;
}

int worker_run(struct worker *wk)
{
	int err = -pthread_create(&wk->thread, NULL, worker_main, wk);

	if (!err)
		wk->running = 1;
	return err;
}

void worker_stop(struct worker *wk)
{
	if (wk->running) {
		event_base_loopbreak(wk->base);
		pthread_join(wk->thread, NULL);
		wk->running = 0;
	}
}

void worker_fini(struct worker *wk)
{
	if (!wk->base)
		return;
	mailbox_free(wk->mb);
	wk->mb = NULL;
	event_base_free(wk->base);
	wk->base = NULL;
}
