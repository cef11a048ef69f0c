/*
 * relay: the media relay's sessions, ports and API (see relay.h). One
 * thread per relay runs the io_uring loop (relay_loop.c). The session
 * table is shared: callers open, update and close under r->mu, and the
 * relay thread takes r->mu once per batch of completions to forward and
 * count. Only the relay thread touches the ring: a caller queues "arm
 * these sockets" or "drop these sockets" and wakes it (an eventfd).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dataline/log.h"
#include "relay_priv.h"

uint64_t rl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ ports */

static int rl_bind(struct relay *r, uint16_t port, int *fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = r->addr,
				  .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(s);
		return e;
	}
	*fd = s;
	return 0;
}

/* An even port P with P and P+1 free; under r->mu. The RTCP port is
 * bound whatever the leg's SDP says: an offer's a=rtcp-mux is only a
 * wish until the answer (RFC 5761 s.5.1.1), and a caller whose offer
 * said rtcp-mux sends its RTCP to P+1 when the answer has none. */
static int rl_ports(struct relay *r, struct rl_leg *l)
{
	uint32_t span = (uint32_t)(r->cfg.port_max - r->cfg.port_min) / 2 + 1;

	for (uint32_t tries = 0; tries < span; tries++) {
		uint16_t p = r->next_port;

		r->next_port = p + 2 > r->cfg.port_max ? r->cfg.port_min : p + 2;
		if (rl_bind(r, p, &l->fd[0]) < 0)
			continue;
		if (rl_bind(r, p + 1, &l->fd[1]) < 0) {
			close(l->fd[0]);
			continue;
		}
		l->port = p;
		return 0;
	}
	return -ENOSPC;
}

static void rl_leg_set(struct rl_sess *s, int leg,
		       const struct relay_leg_params *p)
{
	struct rl_leg *l = &s->leg[leg];

	l->allowed = p->allowed;
	l->rtcp_mux = p->rtcp_mux;
	s->answerer = p->answer ? leg : 1 - leg;
	if (!l->latched[0] && p->sdp.sin_port) {
		l->peer[0] = p->sdp;
		if (!l->latched[1]) {   /* a=rtcp, else RTP + 1 (RFC 3605) */
			l->peer[1] = p->sdp;
			l->peer[1].sin_port = htons(p->rtcp_port ? p->rtcp_port :
						    (uint16_t)(ntohs(p->sdp.sin_port) + 1));
		}
	}
}

void rl_wake(struct relay *r)
{
	uint64_t one = 1;

	if (write(r->efd, &one, sizeof(one)) < 0)
		log_warn("relay: wake failed");
}

int rl_cmd_push(struct relay *r, const struct rl_cmd *c)
{
	if (r->ncmds == RL_CMDS)
		return -EAGAIN;
	r->cmds[r->ncmds++] = *c;
	return 0;
}

/* ------------------------------------------------------------ API */

int relay_open(struct relay *r, const struct relay_leg_params *a,
	       const struct relay_leg_params *b, relay_end_fn end, void *arg,
	       uint64_t *id, uint16_t ports[2])
{
	const struct relay_leg_params *p[2] = { a, b };
	struct rl_sess *s = NULL;
	struct rl_cmd c = { .arm = 1 };
	uint32_t i;
	int err = 0, leg;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nsess; i++)
		if (!r->s[i].used) {
			s = &r->s[i];
			break;
		}
	if (!s || r->ncmds == RL_CMDS) {
		pthread_mutex_unlock(&r->mu);
		return -ENOSPC;
	}
	memset(s->leg, 0, sizeof(s->leg));
	memset(s->dir, 0, sizeof(s->dir));
	for (leg = 0; leg < 2 && !err; leg++) {
		err = rl_ports(r, &s->leg[leg]);
		if (err && leg == 1) {
			close(s->leg[0].fd[0]);
			close(s->leg[0].fd[1]);
		}
	}
	if (err) {
		pthread_mutex_unlock(&r->mu);
		return err;
	}
	for (leg = 0; leg < 2; leg++) {
		rl_leg_set(s, leg, p[leg]);
		ports[leg] = s->leg[leg].port;
	}
	s->answerer = 1;    /* A's SDP is the offer, B's answer is to come */
	s->used = 1;
	s->closing = 0;
	s->gen++;
	s->id = ++r->next_id;
	s->end = end;
	s->arg = arg;
	s->born_ns = rl_now();
	s->dir[0].last_ns = s->dir[1].last_ns = s->born_ns;
	*id = s->id;
	c.idx = i;
	rl_cmd_push(r, &c);
	r->open++;
	pthread_mutex_unlock(&r->mu);
	rl_wake(r);
	return 0;
}

static struct rl_sess *rl_find(struct relay *r, uint64_t id)
{
	for (uint32_t i = 0; i < r->nsess; i++)
		if (r->s[i].used && !r->s[i].closing && r->s[i].id == id)
			return &r->s[i];
	return NULL;
}

int relay_update(struct relay *r, uint64_t id, int leg,
		 const struct relay_leg_params *p)
{
	struct rl_sess *s;

	if (leg < 0 || leg > 1 || !p)
		return -EINVAL;
	pthread_mutex_lock(&r->mu);
	s = rl_find(r, id);
	if (s)
		rl_leg_set(s, leg, p);
	pthread_mutex_unlock(&r->mu);
	return s ? 0 : -ENOENT;
}

int relay_close(struct relay *r, uint64_t id)
{
	struct rl_sess *s;

	pthread_mutex_lock(&r->mu);
	s = rl_find(r, id);
	if (s) {
		s->closing = RELAY_END_CLOSED + 1;
		r->closes++;
	}
	pthread_mutex_unlock(&r->mu);
	if (s)
		rl_wake(r);
	return s ? 0 : -ENOENT;
}

void rl_snapshot(const struct rl_sess *s, struct relay_stats *st)
{
	for (int i = 0; i < 2; i++) {
		st->dir[i] = s->dir[i];
		st->peer[i] = s->leg[i].peer[0];
		st->latched[i] = s->leg[i].latched[0];
	}
}

int relay_stats_get(struct relay *r, uint64_t id, struct relay_stats *out)
{
	struct rl_sess *s;

	pthread_mutex_lock(&r->mu);
	s = rl_find(r, id);
	if (s)
		rl_snapshot(s, out);
	pthread_mutex_unlock(&r->mu);
	return s ? 0 : -ENOENT;
}

uint32_t relay_sessions(struct relay *r)
{
	uint32_t n;

	pthread_mutex_lock(&r->mu);
	n = r->open;
	pthread_mutex_unlock(&r->mu);
	return n;
}

int relay_new(const struct relay_config *cfg, struct relay **out)
{
	struct relay *r;
	int e;

	if (!cfg || !cfg->addr || cfg->port_min < 1024 || cfg->port_min % 2 ||
	    cfg->port_max <= cfg->port_min || !out)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->efd = -1;
	if (!r->cfg.max_sessions)
		r->cfg.max_sessions = 1024;
	if (!r->cfg.timeout_s)
		r->cfg.timeout_s = 60;
	if (r->cfg.max_sessions > (1u << 20))
		r->cfg.max_sessions = 1u << 20;
	r->nsess = r->cfg.max_sessions;
	r->next_port = cfg->port_min;
	pthread_mutex_init(&r->mu, NULL);
	if (inet_pton(AF_INET, cfg->addr, &r->addr) != 1) {
		free(r);
		return -EINVAL;
	}
	r->s = calloc(r->nsess, sizeof(*r->s));
	r->efd = eventfd(0, EFD_CLOEXEC);
	e = !r->s || r->efd < 0 ? -ENOMEM : rl_ring(r);
	if (!e && pthread_create(&r->th, NULL, rl_main, r) != 0)
		e = -EAGAIN;
	if (e) {
		relay_free(r);
		return e;
	}
	r->th_up = 1;
	*out = r;
	return 0;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	if (r->th_up) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_mutex_unlock(&r->mu);
		rl_wake(r);
		pthread_join(r->th, NULL);
	}
	if (r->ring.ring_fd > 0)
		io_uring_queue_exit(&r->ring);
	if (r->br)
		munmap(r->br, r->br_len);
	free(r->bufs);
	if (r->efd >= 0)
		close(r->efd);
	free(r->s);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
