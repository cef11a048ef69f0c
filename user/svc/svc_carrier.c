/*
 * svc_carrier: the carrier fallback of a text (patent step C22, "send by
 * the carrier network") without blocking the daemon's loop. ModemManager's
 * Send answers only once the modem has sent every part (up to 120 s), so
 * the sends run one at a time on a thread of their own; each result comes
 * back through a pipe and is handled on the loop, where the outbox records
 * the text as sent_by_carrier and the caller hears the answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "dataline/log.h"
#include "svc_priv.h"

struct svc_cjob {
	struct svc_cjob *next;
	char number[E164_MAX];
	char *text;
	int err;
	char ref[CARRIER_REF_MAX];
	svc_send_done done;
	void *arg;
};

static void *carrier_main(void *arg)
{
	struct svc *s = arg;

	pthread_mutex_lock(&s->cmu);
	for (;;) {
		struct svc_cjob *j;

		while (!s->cq_head && !s->cstop)
			pthread_cond_wait(&s->ccv, &s->cmu);
		if (s->cstop)
			break;
		j = s->cq_head;
		s->cq_head = j->next;
		if (!s->cq_head)
			s->cq_tail = NULL;
		pthread_mutex_unlock(&s->cmu);
		j->ref[0] = '\0';
		j->err = carrier_sms_send(&s->carrier, j->number, j->text, j->ref);
		if (write(s->cpipe[1], &j, sizeof(j)) != sizeof(j))
			log_warn("svc: carrier result lost");
		pthread_mutex_lock(&s->cmu);
	}
	pthread_mutex_unlock(&s->cmu);
	return NULL;
}

/* On the loop: one finished send. */
static void carrier_finish(struct svc *s, struct svc_cjob *j)
{
	struct svc_send_result res = { .err = j->err, .route = SVC_ROUTE_CARRIER };
	struct hstore_text t = { .peer = j->number,
				 .content_type = HSTORE_DEFAULT_TYPE,
				 .body = j->text, .body_len = strlen(j->text) };
	int64_t now = time(NULL);

	if (!j->err) {
		char st[HSTORE_STATUS_MAX];

		snprintf(st, sizeof(st), "carrier %s", carrier_backend_name(s->carrier.backend));
		/* Recorded for the outbox listing; the SMS itself is out. */
		if (hstore_outbox_add(s->hs, &t, now, &res.id, res.message_id) == 0 &&
		    hstore_outbox_set(s->hs, res.id, HSTORE_OUT_SENT_BY_CARRIER, st,
				      now, now) == 0)
			svc_bus_report(s, res.id, res.message_id,
				       HSTORE_OUT_SENT_BY_CARRIER, st);
		snprintf(res.detail, sizeof(res.detail), "%.500s", j->ref);
		log_info("svc: text to %s sent by carrier SMS (%s)", j->number, j->ref);
	} else {
		snprintf(res.detail, sizeof(res.detail), "%s", strerror(-j->err));
		log_warn("svc: carrier SMS to %s not sent: %s", j->number,
			 strerror(-j->err));
	}
	j->done(j->arg, &res);
	free(j->text);
	free(j);
}

static void carrier_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc_cjob *j;

	(void)what;
	while (read(fd, &j, sizeof(j)) == sizeof(j))
		carrier_finish(arg, j);
}

int svc_carrier_start(struct svc *s)
{
	if (pipe2(s->cpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	pthread_mutex_init(&s->cmu, NULL);
	pthread_cond_init(&s->ccv, NULL);
	s->cpipe_ev = event_new(s->base, s->cpipe[0], EV_READ | EV_PERSIST,
				carrier_pipe_cb, s);
	if (!s->cpipe_ev || event_add(s->cpipe_ev, NULL) < 0)
		return -ENOMEM;
	if (pthread_create(&s->cthread, NULL, carrier_main, s) != 0)
		return -EAGAIN;
	s->cthread_up = 1;
	return 0;
}

/* A job that will not be sent (the daemon stops): its caller hears so. */
static void carrier_cancel(struct svc_cjob *j)
{
	struct svc_send_result res = { .err = -ECANCELED,
				       .route = SVC_ROUTE_CARRIER };

	snprintf(res.detail, sizeof(res.detail), "the daemon is stopping");
	j->done(j->arg, &res);
	free(j->text);
	free(j);
}

void svc_carrier_stop(struct svc *s)
{
	struct svc_cjob *j;

	if (s->cthread_up) {
		pthread_mutex_lock(&s->cmu);
		s->cstop = 1;
		pthread_cond_signal(&s->ccv);
		pthread_mutex_unlock(&s->cmu);
		/* A send in progress finishes first (at most ModemManager's
		 * timeout); its result is dropped with the pipe. */
		pthread_join(s->cthread, NULL);
		s->cthread_up = 0;
		pthread_mutex_destroy(&s->cmu);
		pthread_cond_destroy(&s->ccv);
	}
	while ((j = s->cq_head)) {
		s->cq_head = j->next;
		carrier_cancel(j);
	}
	s->cq_tail = NULL;
	if (s->cpipe[0] >= 0)
		while (read(s->cpipe[0], &j, sizeof(j)) == sizeof(j))
			carrier_finish(s, j);
	if (s->cpipe_ev)
		event_free(s->cpipe_ev);
	s->cpipe_ev = NULL;
	for (int i = 0; i < 2; i++)
		if (s->cpipe[i] >= 0)
			close(s->cpipe[i]);
	s->cpipe[0] = s->cpipe[1] = -1;
}

int svc_carrier_send(struct svc *s, const char *number, const char *text,
		     svc_send_done done, void *arg)
{
	struct svc_cjob *j = calloc(1, sizeof(*j));

	if (!j || !(j->text = strdup(text))) {
		free(j);
		return -ENOMEM;
	}
	snprintf(j->number, sizeof(j->number), "%s", number);
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&s->cmu);
	if (s->cq_tail)
		s->cq_tail->next = j;
	else
		s->cq_head = j;
	s->cq_tail = j;
	pthread_cond_signal(&s->ccv);
	pthread_mutex_unlock(&s->cmu);
	return 0;
}
