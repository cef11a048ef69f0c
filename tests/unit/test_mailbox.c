/*
 * test_mailbox: server/core/mailbox.h: several threads post while the
 * owner's event loop runs, each poster's messages run in the order it
 * posted them, all on the owner's thread; a mailbox holding MAILBOX_CAP
 * messages refuses the next with -EAGAIN (counted in mailbox_stats) and
 * takes posts again once drained; mailbox_free runs what is still queued.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "../../server/core/mailbox.h"

#define POSTERS 4
#define PER_POSTER 40000 /* 160,000 in all: more than MAILBOX_CAP */

struct rec {
	pthread_t owner;
	uint32_t next[POSTERS];   /* the sequence number each poster is at */
	uint64_t ran, misordered, off_thread;
	uint64_t eagain[POSTERS];
};

static struct rec R;

static void on_msg(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	unsigned p = (unsigned)(v >> 32);
	uint32_t seq = (uint32_t)v;

	if (!pthread_equal(pthread_self(), R.owner))
		R.off_thread++;
	if (p >= POSTERS || seq != R.next[p])
		R.misordered++;
	else
		R.next[p]++;
	R.ran++;
}

struct poster {
	struct mailbox *mb;
	unsigned id;
};

static void *poster_main(void *arg)
{
	struct poster *ps = arg;
	uint32_t i;

	for (i = 0; i < PER_POSTER; i++) {
		void *a = (void *)(((uintptr_t)ps->id << 32) | i);
		int rc;

		while ((rc = mailbox_post(ps->mb, on_msg, a)) == -EAGAIN) {
			R.eagain[ps->id]++;
			sched_yield();
		}
		if (rc)
			return (void *)(intptr_t)rc;
	}
	return NULL;
}

static void test_threads_order(void **state)
{
	struct event_base *base = event_base_new();
	struct poster ps[POSTERS];
	pthread_t th[POSTERS];
	struct mailbox *mb;
	uint64_t delivered, full, eagain = 0;
	int i, spins = 0;

	(void)state;
	memset(&R, 0, sizeof(R));
	R.owner = pthread_self();
	assert_non_null(base);
	assert_int_equal(mailbox_new(base, &mb), 0);
	for (i = 0; i < POSTERS; i++) {
		ps[i].mb = mb;
		ps[i].id = (unsigned)i;
		assert_int_equal(pthread_create(&th[i], NULL, poster_main, &ps[i]), 0);
	}
	/* the owner's loop runs while they post */
	while (R.ran < (uint64_t)POSTERS * PER_POSTER && spins++ < 10000000)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	for (i = 0; i < POSTERS; i++) {
		void *ret;
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
		eagain += R.eagain[i];
	}
	while (R.ran < (uint64_t)POSTERS * PER_POSTER && spins++ < 10000000)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(R.ran, (uint64_t)POSTERS * PER_POSTER);
	assert_int_equal(R.misordered, 0);
	assert_int_equal(R.off_thread, 0);
	for (i = 0; i < POSTERS; i++)
		assert_int_equal(R.next[i], PER_POSTER);
	mailbox_stats(mb, &delivered, &full);
	assert_int_equal(delivered, (uint64_t)POSTERS * PER_POSTER);
	assert_int_equal(full, eagain);
	mailbox_free(mb);
	event_base_free(base);
}

static uint64_t counted;
static void count_fn(void *arg)
{
	(void)arg;
	counted++;
}

static void test_full_then_drain(void **state)
{
	struct event_base *base = event_base_new();
	struct mailbox *mb;
	uint64_t delivered, full;
	size_t i;
	int spins = 0;

	(void)state;
	counted = 0;
	assert_int_equal(mailbox_new(base, &mb), 0);
	for (i = 0; i < MAILBOX_CAP; i++)
		assert_int_equal(mailbox_post(mb, count_fn, NULL), 0);
	assert_int_equal(mailbox_post(mb, count_fn, NULL), -EAGAIN);
	assert_int_equal(mailbox_post(mb, count_fn, NULL), -EAGAIN);
	mailbox_stats(mb, &delivered, &full);
	assert_int_equal(delivered, 0);
	assert_int_equal(full, 2);
	assert_int_equal(counted, 0); /* nothing runs on the poster's call */
	/* one wake drains the whole ring */
	while (counted < MAILBOX_CAP && spins++ < 1000)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(counted, MAILBOX_CAP);
	/* room again; the ring wraps around */
	for (i = 0; i < 1000; i++)
		assert_int_equal(mailbox_post(mb, count_fn, NULL), 0);
	spins = 0;
	while (counted < MAILBOX_CAP + 1000 && spins++ < 1000)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(counted, MAILBOX_CAP + 1000);
	mailbox_stats(mb, &delivered, &full);
	assert_int_equal(delivered, MAILBOX_CAP + 1000);
	mailbox_free(mb);
	event_base_free(base);
}

static uint32_t free_next;
static uint64_t free_bad;
static void seq_fn(void *arg)
{
	if ((uint32_t)(uintptr_t)arg != free_next++)
		free_bad++;
}

static void test_free_runs_rest(void **state)
{
	struct event_base *base = event_base_new();
	struct mailbox *mb;
	uint32_t i;

	(void)state;
	free_next = 0;
	free_bad = 0;
	assert_int_equal(mailbox_new(base, &mb), 0);
	/* a wrapped ring: fill, drain part by running the loop, refill */
	for (i = 0; i < 100; i++)
		assert_int_equal(mailbox_post(mb, seq_fn, (void *)(uintptr_t)i), 0);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(free_next, 100);
	for (i = 100; i < 100 + MAILBOX_CAP; i++)
		assert_int_equal(mailbox_post(mb, seq_fn, (void *)(uintptr_t)i), 0);
	assert_int_equal(mailbox_post(mb, seq_fn, NULL), -EAGAIN);
	/* the loop never runs again: free runs them, in order */
	mailbox_free(mb);
	assert_int_equal(free_next, 100 + MAILBOX_CAP);
	assert_int_equal(free_bad, 0);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_order),
		cmocka_unit_test(test_full_then_drain),
		cmocka_unit_test(test_free_runs_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
