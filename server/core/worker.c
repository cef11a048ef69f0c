/*
 * worker: a SIP worker thread (one event loop per thread; the sockets of
 * every worker share the ports through SO_REUSEPORT).
 */
#include "worker.h"

#include <errno.h>
#include <string.h>

#include <event2/event.h>

#include "dataline/log.h"

static void *worker_main(void *arg)
{
	struct worker *wk = arg;

	event_base_loop(wk->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int worker_start(struct worker *wk, struct sipd_shared *sh, int id)
{
	int err;

	memset(wk, 0, sizeof(*wk));
	wk->base = event_base_new();
	if (!wk->base)
		return -ENOMEM;
	err = sipd_init(&wk->sip, sh, id, wk->base);
	if (err)
		goto fail;
	err = -pthread_create(&wk->thread, NULL, worker_main, wk);
	if (err) {
		sipd_fini(&wk->sip);
		goto fail;
	}
	wk->running = 1;
	return 0;
fail:
	event_base_free(wk->base);
	wk->base = NULL;
	return err;
}

void worker_stop(struct worker *wk)
{
	if (!wk->base)
		return;
	if (wk->running) {
		event_base_loopbreak(wk->base);
		pthread_join(wk->thread, NULL);
		wk->running = 0;
	}
	sipd_fini(&wk->sip);
	event_base_free(wk->base);
	wk->base = NULL;
}
