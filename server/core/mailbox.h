/*
 * mailbox: how one thread hands work to a worker's event loop (as memcached
 * hands new connections to its threads): a bounded queue of (function,
 * argument) pairs under a mutex, and an eventfd the worker's event_base
 * watches. The function runs on the worker's thread, in the order posted.
 *
 * Who uses it: a worker that must act on a connection another worker owns
 * (only the owner writes to a connection), and the writer thread handing a
 * commit's result back to the worker that asked for it.
 */
#ifndef DATALINE_SERVER_MAILBOX_H
#define DATALINE_SERVER_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct mailbox;

typedef void (*mailbox_fn)(void *arg);

/* Messages a mailbox holds before mailbox_post() says -EAGAIN. */
#define MAILBOX_CAP 65536

/* Creates a mailbox delivering on BASE's thread. 0 or -errno. */
int mailbox_new(struct event_base *base, struct mailbox **out);
/* Frees it; messages still queued are run first (on the caller's thread,
 * which must be the owner's or the owner must have stopped). */
void mailbox_free(struct mailbox *mb);
/* Queues FN(ARG) from any thread. 0, or -EAGAIN when full (the caller
 * still owns ARG). */
int mailbox_post(struct mailbox *mb, mailbox_fn fn, void *arg);
/* Messages delivered and refused (full) so far. */
void mailbox_stats(struct mailbox *mb, uint64_t *delivered, uint64_t *full);

#endif
