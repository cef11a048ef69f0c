/*
 * relay_loop: the relay thread (relay.h, relay.c). Receiving: every
 * socket has a multishot recvmsg (IORING_RECV_MULTISHOT) drawing from one
 * provided-buffer ring; a packet is sent on from the buffer it arrived in
 * (sendmsg), and the buffer goes back to the ring when the send
 * completes. Multishot receives can stop without IORING_CQE_F_MORE under
 * load (kernel-facts.md): they are re-armed. user_data: kind (2 bits) |
 * generation (16) | session index (20) | leg (1) | rtp/rtcp (1), so a
 * completion for a session that was closed and its slot reused is
 * recognised and ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dataline/log.h"
#include "relay_priv.h"

static uint64_t rl_ud(int kind, uint16_t gen, uint32_t idx, int leg, int k)
{
	return (uint64_t)kind << 62 | (uint64_t)gen << 40 | (uint64_t)idx << 2 |
	       (uint64_t)leg << 1 | (uint64_t)k;
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

	if (s->closing)
		r->closes--;
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

/*
 * Whether RTCP to leg OUT goes muxed, on its RTP port (RFC 5761 s.5.1.1).
 * The relay passes a=rtcp-mux through as it is, so the two ends negotiate
 * it with each other: an offer's a=rtcp-mux is a wish, granted only if
 * the answer has it too (baresip 1.0 answers without it: then neither
 * side muxes, and the caller listens for RTCP on its RTCP port). The
 * answerer's own a=rtcp-mux is taken at its word even when the offer had
 * none (it says where it listens). The answerer: B after the INVITE's
 * offer, then whoever answers a re-INVITE or UPDATE (relay_leg_params).
 */
static int rl_mux(const struct rl_sess *s, int out)
{
	return s->leg[out].rtcp_mux &&
	       (s->leg[1 - out].rtcp_mux || s->answerer == out);
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
	/* A muxed side gets its RTCP from our RTP socket at its RTP address,
	 * the one it latched (behind a NAT its SDP's is unreachable). */
	sk = dk == 1 && !rl_mux(s, 1 - from) ? 1 : 0;
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

/* Commands queued by other threads (under r->mu). None (the forwarding
 * path): nothing here, the sends of the batch go out with the loop's next
 * io_uring_submit_and_wait_timeout, in the same system call as the wait;
 * a second enter per wake-up cost as much as the forwarding itself once
 * the relay has a CPU of its own and wakes for nearly every packet. */
static void rl_cmds(struct relay *r)
{
	if (!r->ncmds)
		return;
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
	/* cancels find their requests by the open fd: submitted, then closed.
	 * The cancelled receives hold the sockets until their completions
	 * are reaped, which DEFER_TASKRUN leaves to the thread's next
	 * GETEVENTS: reap them now, so that close() frees the ports before
	 * relay_sessions() says the session is gone (a caller may reopen). */
	io_uring_submit_and_get_events(&r->ring);
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

void *rl_main(void *arg)
{
	struct relay *r = arg;
	struct rl_sess ended[32];
	uint64_t last_sweep = 0;
	int more = 0;

	/* liburing 2.3 declares io_uring_enable_rings but does not export it */
	if (r->disabled && syscall(__NR_io_uring_register, r->ring.ring_fd,
				   IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		log_err("relay: cannot enable the ring");
	rl_arm_efd(r);
	io_uring_submit(&r->ring);
	for (;;) {
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 200000000 };
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int stop, n = 0;

		/* a full batch of ended sessions: look again without waiting */
		io_uring_submit_and_wait_timeout(&r->ring, &cqe, more ? 0 : 1, &ts, NULL);
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
		} else if (r->closes) {
			n = rl_sweep(r, ended, 32, 0);
		}
		more = n == 32;
		rl_cmds(r);
		pthread_mutex_unlock(&r->mu);
		rl_report(ended, n);
		if (stop && n < 32)
			break;
	}
	io_uring_submit(&r->ring);
	return NULL;
}

int rl_ring(struct relay *r)
{
	/* Task work deferred to the relay thread's own io_uring_enter
	 * (SINGLE_ISSUER|DEFER_TASKRUN, 6.1+): a packet arriving while the
	 * thread runs no longer costs an IPI and a signal-style task-work
	 * run (perf showed get_signal and call_function_single IPIs in the
	 * forwarding path). The ring starts disabled and the relay thread
	 * enables it (rl_main), which makes that thread its single issuer;
	 * older kernels get the plain ring. */
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
		.cq_entries = 4096 };
	struct io_uring_buf_reg reg = { 0 };
	int e = io_uring_queue_init_params(512, &r->ring, &p);

	if (e == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 4096;
		e = io_uring_queue_init_params(512, &r->ring, &p);
	}
	r->disabled = !e && (p.flags & IORING_SETUP_R_DISABLED);
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

