/*
 * sms_mailbox: how queue results get from the queue's writer thread to
 * the SMS gateway's event loop. Every queue call the gateway makes carries
 * one `struct sms_msg`; its callback (on the writer thread) copies the
 * result into it, appends it to the gateway's list under a mutex and
 * bumps an eventfd that the loop watches; the loop takes the whole list
 * and handles the messages in order (sms_msg_handle(), sms.c).
 *
 * `outstanding` counts calls whose message has not been posted yet, so
 * that sms_gateway_free() can wait for them: after it returns, no writer
 * callback touches the gateway any more.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dataline/log.h"
#include "sms_impl.h"

void sms_items_free(struct sms_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].to);
		free(items[i].text);
	}
	free(items);
}

void sms_msg_free(struct sms_msg *m)
{
	if (!m)
		return;
	sms_items_free(m->items, m->n);
	free(m);
}

struct sms_msg *sms_msg_new(struct sms_gateway *gw, enum sms_msg_kind kind)
{
	struct sms_msg *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->gw = gw;
	m->kind = kind;
	pthread_mutex_lock(&gw->mb_lock);
	gw->outstanding++;
	pthread_mutex_unlock(&gw->mb_lock);
	return m;
}

static void sms_outstanding_done(struct sms_gateway *gw)
{
	if (--gw->outstanding == 0)
		pthread_cond_broadcast(&gw->mb_idle);
}

void sms_msg_cancel(struct sms_msg *m)
{
	struct sms_gateway *gw = m->gw;

	pthread_mutex_lock(&gw->mb_lock);
	sms_outstanding_done(gw);
	pthread_mutex_unlock(&gw->mb_lock);
	sms_msg_free(m);
}

/* Copies the rows the pump needs (the strings die with the callback). */
static int sms_msg_copy_items(struct sms_msg *m, const struct queue_result *res)
{
	if (!res->n)
		return 0;
	m->items = calloc(res->n, sizeof(*m->items));
	if (!m->items)
		return -ENOMEM;
	for (size_t i = 0; i < res->n; i++) {
		const struct queue_item *it = &res->items[i];
		struct sms_item *d = &m->items[m->n];

		d->to = strdup(it->recipient);
		d->text = strndup(it->body, it->body_len);
		if (!d->to || !d->text) {
			free(d->to);
			free(d->text);
			return -ENOMEM;
		}
		d->id = it->id;
		d->created = it->created;
		d->attempts = it->attempts;
		m->n++;
	}
	return 0;
}

void sms_msg_post_cb(void *arg, const struct queue_result *res)
{
	struct sms_msg *m = arg;
	struct sms_gateway *gw = m->gw;
	uint64_t one = 1;
	int err;

	m->err = res->err;
	m->id = res->id;
	m->attempts = res->attempts;
	m->next_at = res->next_at;
	err = sms_msg_copy_items(m, res);
	if (err && !m->err)
		m->err = err; /* the rows stay queued: the next scan retries */
	pthread_mutex_lock(&gw->mb_lock);
	m->next = NULL;
	*gw->mb_tail = m;
	gw->mb_tail = &m->next;
	if (write(gw->efd, &one, sizeof(one)) != sizeof(one))
		log_err("sms: mailbox eventfd: %s", strerror(errno));
	sms_outstanding_done(gw);
	pthread_mutex_unlock(&gw->mb_lock);
}

/* Takes the whole list at once and handles it in order. */
static void sms_mailbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sms_gateway *gw = arg;
	struct sms_msg *m, *next;
	uint64_t v;

	if (read(gw->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err("sms: mailbox eventfd: %s", strerror(errno));
	pthread_mutex_lock(&gw->mb_lock);
	m = gw->mb_head;
	gw->mb_head = NULL;
	gw->mb_tail = &gw->mb_head;
	pthread_mutex_unlock(&gw->mb_lock);
	for (; m; m = next) {
		next = m->next;
		sms_msg_handle(gw, m);
		sms_msg_free(m);
	}
}

int sms_mailbox_init(struct sms_gateway *gw)
{
	pthread_mutex_init(&gw->mb_lock, NULL);
	pthread_cond_init(&gw->mb_idle, NULL);
	gw->mb_tail = &gw->mb_head;
	gw->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gw->efd < 0)
		return -errno;
	gw->mb_ev = event_new(gw->base, gw->efd, EV_READ | EV_PERSIST,
			      sms_mailbox_cb, gw);
	if (!gw->mb_ev || event_add(gw->mb_ev, NULL) != 0)
		return -ENOMEM;
	return 0;
}

void sms_mailbox_fini(struct sms_gateway *gw)
{
	struct sms_msg *m, *next;

	if (!gw->mb_tail)
		return; /* never initialised */
	pthread_mutex_lock(&gw->mb_lock);
	while (gw->outstanding > 0)
		pthread_cond_wait(&gw->mb_idle, &gw->mb_lock);
	m = gw->mb_head;
	gw->mb_head = NULL;
	pthread_mutex_unlock(&gw->mb_lock);
	for (; m; m = next) {
		next = m->next;
		if (m->kind == SMS_MSG_STORED && m->cb)
			m->cb(m->arg, m->err);
		sms_msg_free(m);
	}
	if (gw->mb_ev)
		event_free(gw->mb_ev);
	if (gw->efd >= 0)
		close(gw->efd);
	pthread_cond_destroy(&gw->mb_idle);
	pthread_mutex_destroy(&gw->mb_lock);
}
