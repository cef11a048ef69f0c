/*
 * relay: sessions, ports and the relay thread's io_uring loop (see
 * relay.h). One thread per relay. The session table is shared: callers
 * open, update and close under r->mu, and the relay thread takes r->mu
 * once per batch of completions to forward and count. Only the relay
 * thread touches the ring: a caller queues "arm these sockets" or "drop
 * these sockets" and wakes it through an eventfd it polls (multishot).
 *
 * Receiving: every socket has a multishot recvmsg (IORING_RECV_MULTISHOT)
 * drawing from one provided-buffer ring; a packet is sent on from the
 * buffer it arrived in (sendmsg), and the buffer goes back to the ring
 * when the send completes. Multishot receives can stop without
 * IORING_CQE_F_MORE under load (kernel-facts.md): they are re-armed.
 * user_data: kind (2 bits) | generation (16) | session index (20) | leg
 * (1) | rtp/rtcp (1), so a completion for a session that was closed and
 * its slot reused is recognised and ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dataline/log.h"
#include "relay.h"

#define RL_NBUF 1024            /* provided buffers */
#define RL_BUFSZ 2048           /* a datagram + the recvmsg header */
#define RL_BGID 7
#define RL_CMDS 256

enum { K_RECV = 0, K_SEND = 1, K_EFD = 2, K_CANCEL = 3 };

struct rl_leg {
	int fd[2];                  /* RTP, RTCP (-1 with rtcp-mux) */
	uint16_t port;
	struct sockaddr_in peer[2]; /* where packets TO this leg go */
	int latched[2];
	struct in_addr allowed;
	int rtcp_mux;
	/* RTP sequence tracking for loss (RFC 3550 A.3, simplified) */
	int seq_init;
	uint16_t max_seq;
};

struct rl_sess {
	int used, closing;
	uint16_t gen;
	uint64_t id;
	relay_end_fn end;
	void *arg;
	struct rl_leg leg[2];
	struct relay_dir dir[2];
	uint64_t born_ns;
};

struct rl_cmd { int arm; uint32_t idx; int fds[4]; };

struct relay {
	struct relay_config cfg;
	struct in_addr addr;
	pthread_t th;
	int th_up;
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	size_t br_len;
	unsigned char *bufs;
	struct msghdr rmsg;         /* template for the multishot receives */
	struct msghdr smsg[RL_NBUF];
	struct iovec siov[RL_NBUF];
	int efd;
	uint64_t efd_val;
	pthread_mutex_t mu;
	struct rl_sess *s;
	uint32_t nsess, open;
	uint64_t next_id;
	uint16_t next_port;
	struct rl_cmd cmds[RL_CMDS];
	int ncmds;
	int stop;
};

static uint64_t rl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rl_ud(int kind, uint16_t gen, uint32_t idx, int leg, int k)
{
	return (uint64_t)kind << 62 | (uint64_t)gen << 40 | (uint64_t)idx << 2 |
	       (uint64_t)leg << 1 | (uint64_t)k;
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

/* An even port P with P (and P+1 unless MUX) free; under r->mu. */
static int rl_ports(struct relay *r, struct rl_leg *l, int mux)
{
	uint32_t span = (uint32_t)(r->cfg.port_max - r->cfg.port_min) / 2 + 1;

	for (uint32_t tries = 0; tries < span; tries++) {
		uint16_t p = r->next_port;

		r->next_port = p + 2 > r->cfg.port_max ? r->cfg.port_min : p + 2;
		if (rl_bind(r, p, &l->fd[0]) < 0)
			continue;
		if (mux) {
			l->fd[1] = -1;
		} else if (rl_bind(r, p + 1, &l->fd[1]) < 0) {
			close(l->fd[0]);
			continue;
		}
		l->port = p;
		return 0;
	}
	return -ENOSPC;
}

static void rl_leg_set(struct rl_leg *l, const struct relay_leg_params *p)
{
	l->allowed = p->allowed;
	l->rtcp_mux = p->rtcp_mux;
	if (!l->latched[0] && p->sdp.sin_port) {
		l->peer[0] = p->sdp;
		if (!l->latched[1]) {
			l->peer[1] = p->sdp;
			if (!p->rtcp_mux)
				l->peer[1].sin_port = htons(ntohs(p->sdp.sin_port) + 1);
		}
	}
}

static void rl_wake(struct relay *r)
{
	uint64_t one = 1;

	if (write(r->efd, &one, sizeof(one)) < 0)
		log_warn("relay: wake failed");
}

static int rl_cmd_push(struct relay *r, const struct rl_cmd *c)
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
		err = rl_ports(r, &s->leg[leg], p[leg]->rtcp_mux);
		if (err && leg == 1) {
			close(s->leg[0].fd[0]);
			if (s->leg[0].fd[1] >= 0)
				close(s->leg[0].fd[1]);
		}
	}
	if (err) {
		pthread_mutex_unlock(&r->mu);
		return err;
	}
	for (leg = 0; leg < 2; leg++) {
		rl_leg_set(&s->leg[leg], p[leg]);
		ports[leg] = s->leg[leg].port;
	}
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
		rl_leg_set(&s->leg[leg], p);
	pthread_mutex_unlock(&r->mu);
	return s ? 0 : -ENOENT;
}

int relay_close(struct relay *r, uint64_t id)
{
	struct rl_sess *s;

	pthread_mutex_lock(&r->mu);
	s = rl_find(r, id);
	if (s)
		s->closing = RELAY_END_CLOSED + 1;
	pthread_mutex_unlock(&r->mu);
	if (s)
		rl_wake(r);
	return s ? 0 : -ENOENT;
}

static void rl_snapshot(const struct rl_sess *s, struct relay_stats *st)
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

/* ------------------------------------------------------------ the loop */

static struct io_uring_sqe *rl_sqe(struct relay *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe) {
		io_uring_submit(&r->ring);
		sqe = io_uring_get_sqe(&r->ring);
	}
	return sqe;
}

static void rl_arm_recv(struct relay *r, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = rl_sqe(r);

	if (!sqe)
		return;
	io_uring_prep_recvmsg_multishot(sqe, fd, &r->rmsg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RL_BGID;
	io_uring_sqe_set_data64(sqe, ud);
}

static void rl_arm_efd(struct relay *r)
{
	struct io_uring_sqe *sqe = rl_sqe(r);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, r->efd, &r->efd_val, sizeof(r->efd_val), 0);
	io_uring_sqe_set_data64(sqe, rl_ud(K_EFD, 0, 0, 0, 0));
}

static void rl_buf_back(struct relay *r, unsigned bid)
{
	io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * RL_BUFSZ, RL_BUFSZ,
			      (unsigned short)bid, io_uring_buf_ring_mask(RL_NBUF), 0);
	io_uring_buf_ring_advance(r->br, 1);
}

/* Ends S (under r->mu): its sockets are cancelled and closed by the
 * loop; the callback runs after the lock is dropped (END collected). */
static void rl_end(struct relay *r, struct rl_sess *s, enum relay_end why,
		   struct rl_sess *ended)
{
	struct rl_cmd c = { .arm = 0 };
	int n = 0;

	*ended = *s;
	ended->closing = (int)why;
	for (int leg = 0; leg < 2; leg++)
		for (int k = 0; k < 2; k++)
			c.fds[n++] = s->leg[leg].fd[k];
	if (rl_cmd_push(r, &c) < 0)
		for (int i = 0; i < 4; i++)   /* queue full: close now */
			if (c.fds[i] >= 0)
				close(c.fds[i]);
	s->used = 0;
	s->closing = 0;
	r->open--;
}

/* RTP loss: sequence gaps ahead of the highest seen (RFC 3550 A.3). */
static void rl_seq(struct rl_leg *l, struct relay_dir *d, const uint8_t *p,
		   size_t n)
{
	uint16_t seq, delta;

	if (n < 12 || (p[0] >> 6) != 2 || (p[1] >= 200 && p[1] <= 204))
		return; /* not RTP, or RTCP on a muxed port (RFC 5761) */
	seq = (uint16_t)(p[2] << 8 | p[3]);
	if (!l->seq_init) {
		l->seq_init = 1;
		l->max_seq = seq;
		return;
	}
	delta = (uint16_t)(seq - l->max_seq);
	if (delta == 0 || delta >= 0x8000)
		return; /* duplicate or late */
	if (delta < 3000)
		d->lost += delta - 1u;
	l->max_seq = seq;
}

/* One received datagram on session S, leg FROM, socket K. */
static void rl_packet(struct relay *r, struct rl_sess *s, int from, int k,
		      struct io_uring_recvmsg_out *o, int res, unsigned bid,
		      int *kept)
{
	struct rl_leg *in = &s->leg[from], *out = &s->leg[1 - from];
	struct relay_dir *d = &s->dir[from];
	struct sockaddr_in *src = io_uring_recvmsg_name(o);
	void *payload = io_uring_recvmsg_payload(o, &r->rmsg);
	size_t len = io_uring_recvmsg_payload_length(o, res, &r->rmsg);
	int ok = o->namelen >= sizeof(*src) && src->sin_family == AF_INET;
	struct io_uring_sqe *sqe;
	int dk = k, sk;

	if (!ok)
		return;
	/* RTCP on a muxed RTP port (RFC 5761 s.4: packet types 192-223)
	 * goes to the other side's RTCP address */
	if (k == 0 && in->rtcp_mux && len >= 2 && ((const uint8_t *)payload)[1] >= 192 &&
	    ((const uint8_t *)payload)[1] <= 223)
		dk = 1;
	sk = out->fd[dk] >= 0 ? dk : 0;     /* a muxed side: its RTP socket */
	if (!in->latched[k]) {
		if (in->allowed.s_addr != INADDR_ANY &&
		    in->allowed.s_addr != src->sin_addr.s_addr) {
			d->strangers++;
			return;
		}
		in->peer[k] = *src;
		in->latched[k] = 1;
	} else if (in->peer[k].sin_addr.s_addr != src->sin_addr.s_addr ||
		   in->peer[k].sin_port != src->sin_port) {
		d->strangers++;
		return;
	}
	d->packets++;
	d->bytes += len;
	d->last_ns = rl_now();
	if (dk == 0)
		rl_seq(in, d, payload, len);
	if (!out->peer[sk].sin_port) {
		d->no_peer++;
		return;
	}
	sqe = rl_sqe(r);
	if (!sqe)
		return;
	r->siov[bid] = (struct iovec){ payload, len };
	r->smsg[bid] = (struct msghdr){ .msg_name = &out->peer[sk],
					.msg_namelen = sizeof(out->peer[sk]),
					.msg_iov = &r->siov[bid], .msg_iovlen = 1 };
	io_uring_prep_sendmsg(sqe, out->fd[sk], &r->smsg[bid], 0);
	io_uring_sqe_set_data64(sqe, rl_ud(K_SEND, 0, bid, 0, 0));
	*kept = 1;
}

static void rl_cqe(struct relay *r, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	int kind = (int)(ud >> 62), kept = 0;
	uint16_t gen = (uint16_t)(ud >> 40);
	uint32_t idx = (uint32_t)(ud >> 2) & 0xfffff;
	int leg = (int)(ud >> 1) & 1, k = (int)ud & 1;
	struct rl_sess *s;
	unsigned bid;

	switch (kind) {
	case K_SEND:
		rl_buf_back(r, idx);
		return;
	case K_EFD:
		rl_arm_efd(r);
		return;
	case K_CANCEL:
		return;
	}
	/* K_RECV */
	s = idx < r->nsess ? &r->s[idx] : NULL;
	if (!(cqe->flags & IORING_CQE_F_MORE) && s && s->used && s->gen == gen &&
	    cqe->res != -ECANCELED && s->leg[leg].fd[k] >= 0)
		rl_arm_recv(r, s->leg[leg].fd[k], ud);     /* re-arm */
	if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	if (s && s->used && s->gen == gen && !s->closing) {
		struct io_uring_recvmsg_out *o =
			io_uring_recvmsg_validate(r->bufs + (size_t)bid * RL_BUFSZ,
						  cqe->res, &r->rmsg);
		if (o && !(o->flags & MSG_TRUNC))
			rl_packet(r, s, leg, k, o, cqe->res, bid, &kept);
	}
	if (!kept)
		rl_buf_back(r, bid);
}

/* Commands queued by other threads (under r->mu). */
static void rl_cmds(struct relay *r)
{
	for (int i = 0; i < r->ncmds; i++) {
		struct rl_cmd *c = &r->cmds[i];

		if (c->arm) {
			struct rl_sess *s = &r->s[c->idx];

			if (!s->used)
				continue;
			for (int leg = 0; leg < 2; leg++)
				for (int k = 0; k < 2; k++)
					if (s->leg[leg].fd[k] >= 0)
						rl_arm_recv(r, s->leg[leg].fd[k],
							    rl_ud(K_RECV, s->gen, c->idx, leg, k));
			continue;
		}
		for (int j = 0; j < 4; j++) {
			struct io_uring_sqe *sqe;

			if (c->fds[j] < 0)
				continue;
			sqe = rl_sqe(r);
			if (sqe) {
				io_uring_prep_cancel_fd(sqe, c->fds[j], IORING_ASYNC_CANCEL_ALL);
				io_uring_sqe_set_data64(sqe, rl_ud(K_CANCEL, 0, 0, 0, 0));
			}
		}
	}
	/* cancels find their requests by the open fd: submitted, then closed */
	io_uring_submit(&r->ring);
	for (int i = 0; i < r->ncmds; i++)
		for (int j = 0; !r->cmds[i].arm && j < 4; j++)
			if (r->cmds[i].fds[j] >= 0)
				close(r->cmds[i].fds[j]);
	r->ncmds = 0;
}

static void rl_report(struct rl_sess *ended, int n)
{
	for (int i = 0; i < n; i++) {
		struct relay_stats st;

		rl_snapshot(&ended[i], &st);
		if (ended[i].end)
			ended[i].end(ended[i].arg, ended[i].id,
				     (enum relay_end)ended[i].closing, &st);
	}
}

/* Sessions that were closed, or silent for the timeout (under r->mu). */
static int rl_sweep(struct relay *r, struct rl_sess *ended, int max, int all)
{
	uint64_t now = rl_now(), tmo = (uint64_t)r->cfg.timeout_s * 1000000000u;
	int n = 0;

	for (uint32_t i = 0; i < r->nsess && n < max; i++) {
		struct rl_sess *s = &r->s[i];
		uint64_t last;

		if (!s->used)
			continue;
		last = s->dir[0].last_ns > s->dir[1].last_ns ? s->dir[0].last_ns
							      : s->dir[1].last_ns;
		if (all)
			rl_end(r, s, RELAY_END_FREED, &ended[n++]);
		else if (s->closing)
			rl_end(r, s, RELAY_END_CLOSED, &ended[n++]);
		else if (now - last > tmo)
			rl_end(r, s, RELAY_END_TIMEOUT, &ended[n++]);
	}
	return n;
}

static void *rl_main(void *arg)
{
	struct relay *r = arg;
	struct rl_sess ended[32];
	uint64_t last_sweep = 0;

	rl_arm_efd(r);
	io_uring_submit(&r->ring);
	for (;;) {
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 200000000 };
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int stop, n = 0;

		io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
		pthread_mutex_lock(&r->mu);
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			rl_cqe(r, cqe);
			seen++;
		}
		io_uring_cq_advance(&r->ring, seen);
		stop = r->stop;
		if (stop || rl_now() - last_sweep > 100000000u) {
			last_sweep = rl_now();
			n = rl_sweep(r, ended, 32, stop);
		}
		rl_cmds(r);
		pthread_mutex_unlock(&r->mu);
		rl_report(ended, n);
		if (stop && n < 32)
			break;
	}
	io_uring_submit(&r->ring);
	return NULL;
}

/* ------------------------------------------------------------ life */

static int rl_ring(struct relay *r)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE, .cq_entries = 4096 };
	struct io_uring_buf_reg reg = { 0 };
	int e = io_uring_queue_init_params(512, &r->ring, &p);

	if (e < 0) {
		log_err("relay: io_uring: %s", strerror(-e));
		return e;
	}
	r->br_len = RL_NBUF * sizeof(struct io_uring_buf);
	r->br = mmap(NULL, r->br_len, PROT_READ | PROT_WRITE,
		     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	r->bufs = malloc((size_t)RL_NBUF * RL_BUFSZ);
	if (r->br == MAP_FAILED || !r->bufs) {
		r->br = NULL;
		return -ENOMEM;
	}
	io_uring_buf_ring_init(r->br);
	reg.ring_addr = (unsigned long)r->br;
	reg.ring_entries = RL_NBUF;
	reg.bgid = RL_BGID;
	e = io_uring_register_buf_ring(&r->ring, &reg, 0);
	if (e < 0) {
		log_err("relay: provided buffer ring (kernel 5.19+): %s", strerror(-e));
		return e;
	}
	for (unsigned i = 0; i < RL_NBUF; i++)
		io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * RL_BUFSZ, RL_BUFSZ,
				      (unsigned short)i, io_uring_buf_ring_mask(RL_NBUF), (int)i);
	io_uring_buf_ring_advance(r->br, RL_NBUF);
	r->rmsg.msg_namelen = sizeof(struct sockaddr_in);
	return 0;
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
