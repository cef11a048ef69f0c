/*
 * mailbox: a bounded ring of (fn, arg) under a mutex, woken by an eventfd.
 *
 * The writer side takes the lock, appends, and writes the eventfd only when
 * the ring was empty (the reader drains everything on one wake, so one
 * write per burst is enough). The reader swaps the whole backlog out under
 * the lock in one go and runs it without the lock, so a posting thread
 * never waits for a handler.
 */
#include "mailbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

struct mb_msg {
	mailbox_fn fn;
	void *arg;
};

struct mailbox {
	pthread_mutex_t lock;
	struct mb_msg *ring;     /* owned: MAILBOX_CAP slots */
	size_t head, count;      /* under lock */
	struct mb_msg *batch;    /* owned: the reader's copy of one drain */
	int efd;                 /* owned */
	struct event *ev;        /* owned */
	uint64_t delivered, full;
};

/* Takes everything queued (under the lock) and runs it (without). */
static size_t mb_drain(struct mailbox *mb)
{
	size_t n, i, first;

	pthread_mutex_lock(&mb->lock);
	n = mb->count;
	first = MAILBOX_CAP - mb->head;
	if (first > n)
		first = n;
	memcpy(mb->batch, mb->ring + mb->head, first * sizeof(*mb->batch));
	memcpy(mb->batch + first, mb->ring, (n - first) * sizeof(*mb->batch));
	mb->head = (mb->head + n) % MAILBOX_CAP;
	mb->count = 0;
	mb->delivered += n;
	pthread_mutex_unlock(&mb->lock);
	for (i = 0; i < n; i++)
		mb->batch[i].fn(mb->batch[i].arg);
	return n;
}

static void mb_read_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	mb_drain(arg);
}

int mailbox_new(struct event_base *base, struct mailbox **out)
{
	struct mailbox *mb = calloc(1, sizeof(*mb));
	int err = -ENOMEM;

	if (!mb)
		return -ENOMEM;
	mb->efd = -1;
	pthread_mutex_init(&mb->lock, NULL);
	mb->ring = malloc(MAILBOX_CAP * sizeof(*mb->ring));
	mb->batch = malloc(MAILBOX_CAP * sizeof(*mb->batch));
	if (!mb->ring || !mb->batch)
		goto fail;
	mb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mb->efd < 0) {
		err = -errno;
		goto fail;
	}
	mb->ev = event_new(base, mb->efd, EV_READ | EV_PERSIST, mb_read_cb, mb);
	if (!mb->ev || event_add(mb->ev, NULL))
		goto fail;
	*out = mb;
	return 0;
fail:
	mailbox_free(mb);
	return err;
}

void mailbox_free(struct mailbox *mb)
{
	if (!mb)
		return;
	if (mb->ev)
		event_free(mb->ev);
	if (mb->ring && mb->batch)
		while (mb_drain(mb))
			;
	if (mb->efd >= 0)
		close(mb->efd);
	free(mb->ring);
	free(mb->batch);
	pthread_mutex_destroy(&mb->lock);
	free(mb);
}

int mailbox_post(struct mailbox *mb, mailbox_fn fn, void *arg)
{
	uint64_t one = 1;
	int wake;

	pthread_mutex_lock(&mb->lock);
	if (mb->count == MAILBOX_CAP) {
		mb->full++;
		pthread_mutex_unlock(&mb->lock);
		return -EAGAIN;
	}
	mb->ring[(mb->head + mb->count) % MAILBOX_CAP] =
		(struct mb_msg){ fn, arg };
	wake = mb->count++ == 0;
	pthread_mutex_unlock(&mb->lock);
	/* EAGAIN: the counter is saturated, a wake is pending anyway */
	if (wake && write(mb->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

void mailbox_stats(struct mailbox *mb, uint64_t *delivered, uint64_t *full)
{
	pthread_mutex_lock(&mb->lock);
	*delivered = mb->delivered;
	*full = mb->full;
	pthread_mutex_unlock(&mb->lock);
}
