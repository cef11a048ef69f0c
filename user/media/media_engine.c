/*
 * media_engine: one thread, one io_uring, many sessions. Receiving: each
 * session socket has a multishot recvmsg (IORING_RECV_MULTISHOT) drawing
 * from one provided-buffer ring; a multishot that ends without
 * IORING_CQE_F_MORE (it does under load here, kernel-facts.md) is
 * re-armed, -ENOBUFS included. Sending: datagrams are copied into send
 * slots and queued as SENDMSG SQEs, submitted 32 at a time and at the end
 * of each loop turn (batched sends). The loop wakes every 20 ms tick
 * (io_uring_submit_and_wait_timeout), when a packet arrives, when a
 * delayed test packet is due, or when another thread writes the eventfd
 * (session started or stopping).
 *
 * user_data: kind (2 bits) | generation (16) | slot (20) | socket (1);
 * the generation of a slot changes when its session leaves, so a late
 * completion for it is recognised (its buffer still goes back).
 *
 * The kernel features used are probed once at start: the opcodes, the
 * extended wait argument, a provided-buffer ring, and a real multishot
 * recvmsg on a loopback socket; a missing one is named on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "media_priv.h"

enum { K_RECV = 0, K_SEND = 1, K_EFD = 2, K_CANCEL = 3 };

static uint64_t ud_make(int kind, uint16_t gen, uint32_t idx, int k)
{
	return (uint64_t)kind << 62 | (uint64_t)gen << 40 |
	       (uint64_t)(idx & 0xfffff) << 2 | (uint64_t)k;
}

uint64_t me_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct io_uring_sqe *me_sqe(struct media_engine *e)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

	if (!sqe) {
		io_uring_submit(&e->ring);
		e->queued = 0;
		sqe = io_uring_get_sqe(&e->ring);
	}
	return sqe;
}

static void buf_back(struct media_engine *e, unsigned bid)
{
	io_uring_buf_ring_add(e->br, e->bufs + (size_t)bid * ME_BUFSZ, ME_BUFSZ,
			      (unsigned short)bid, io_uring_buf_ring_mask(ME_NBUF), 0);
	io_uring_buf_ring_advance(e->br, 1);
}

static void arm_fd(struct media_engine *e, int fd, int fix, uint64_t ud)
{
	struct io_uring_sqe *sqe = me_sqe(e);

	if (!sqe)
		return;
	io_uring_prep_recvmsg_multishot(sqe, fd, &e->rmsg, 0);
	if (fix >= 0) {
		sqe->fd = fix;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = ME_BGID;
	io_uring_sqe_set_data64(sqe, ud);
	e->queued++;
}

void me_arm_recv(struct media_engine *e, struct media_session *s)
{
	for (int k = 0; k < 2; k++)
		if (s->fd[k] >= 0)
			arm_fd(e, s->fd[k], s->fix[k], ud_make(K_RECV, s->gen, s->idx, k));
	s->armed = 1;
}

static void arm_efd(struct media_engine *e)
{
	struct io_uring_sqe *sqe = me_sqe(e);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, e->efd, &e->efd_val, sizeof(e->efd_val), 0);
	io_uring_sqe_set_data64(sqe, ud_make(K_EFD, 0, 0, 0));
	e->queued++;
}

void me_flush(struct media_engine *e)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	if (e->queued) {
		io_uring_submit(&e->ring);
		e->queued = 0;
	}
	io_uring_for_each_cqe(&e->ring, head, cqe) {
		me_cqe(e, cqe);
		seen++;
	}
	io_uring_cq_advance(&e->ring, seen);
}

struct me_send_slot *me_slot_get(struct media_engine *e)
{
	while (!e->nsend_free) {   /* all slots in flight: wait for one */
		io_uring_submit_and_wait(&e->ring, 1);
		e->queued = 0;
		me_flush(e);
	}
	return &e->send[e->send_free[--e->nsend_free]];
}

void me_slot_put(struct media_engine *e, struct me_send_slot *sl)
{
	e->send_free[e->nsend_free++] = (uint32_t)(sl - e->send);
}

int me_slot_send(struct media_engine *e, struct me_send_slot *sl, int fd,
		 int fix, const struct sockaddr_in *to, size_t len)
{
	struct io_uring_sqe *sqe = me_sqe(e);

	if (!sqe) {
		me_slot_put(e, sl);
		return -EBUSY;
	}
	sl->to = *to;
	if (e->send_addr) {	/* SEND with a destination (sendto), 6.0+ */
		io_uring_prep_send(sqe, fd, sl->buf, len, 0);
		io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)&sl->to,
					    sizeof(sl->to));
	} else {
		sl->iov = (struct iovec){ sl->buf, len };
		sl->msg = (struct msghdr){ .msg_name = &sl->to,
					   .msg_namelen = sizeof(sl->to),
					   .msg_iov = &sl->iov, .msg_iovlen = 1 };
		io_uring_prep_sendmsg(sqe, fd, &sl->msg, 0);
	}
	if (fix >= 0) {
		sqe->fd = fix;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	io_uring_sqe_set_data64(sqe, ud_make(K_SEND, 0, (uint32_t)(sl - e->send), 0));
	if (++e->queued >= 32) {
		io_uring_submit(&e->ring);
		e->queued = 0;
	}
	return 0;
}

int me_send(struct media_engine *e, int fd, const struct sockaddr_in *to,
	    const void *buf, size_t len)
{
	struct me_send_slot *sl;

	if (len > ME_MAX_PKT)
		return -EMSGSIZE;
	sl = me_slot_get(e);
	memcpy(sl->buf, buf, len);
	return me_slot_send(e, sl, fd, -1, to, len);
}

int me_sess_send(struct media_session *s, int k, const struct sockaddr_in *to,
		 const void *buf, size_t len)
{
	struct me_send_slot *sl;

	if (len > ME_MAX_PKT)
		return -EMSGSIZE;
	sl = me_slot_get(s->e);
	memcpy(sl->buf, buf, len);
	return me_slot_send(s->e, sl, s->fd[k], s->fix[k], to, len);
}

void me_cqe(struct media_engine *e, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	int kind = (int)(ud >> 62), k = (int)(ud & 1);
	uint16_t gen = (uint16_t)(ud >> 40);
	uint32_t idx = (uint32_t)(ud >> 2) & 0xfffff;
	struct media_session *s;
	unsigned bid;

	switch (kind) {
	case K_SEND:
		e->send_free[e->nsend_free++] = idx;
		if (cqe->res < 0)
			e->send_errors++;
		return;
	case K_EFD:
		arm_efd(e);
		return;
	case K_CANCEL:
		return;
	}
	s = idx < e->nsess && e->gen[idx] == gen ? e->sess[idx] : NULL;
	if (cqe->res == -ENOBUFS)
		e->enobufs++;
	if (!(cqe->flags & IORING_CQE_F_MORE) && s && cqe->res != -ECANCELED &&
	    s->state == ME_RUNNING && s->fd[k] >= 0) {
		arm_fd(e, s->fd[k], s->fix[k], ud);	/* the multishot ended: re-arm */
		e->rearms++;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	if (s && cqe->res > 0 && s->state == ME_RUNNING) {
		struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(
			e->bufs + (size_t)bid * ME_BUFSZ, cqe->res, &e->rmsg);

		if (o && !(o->flags & MSG_TRUNC))
			me_sess_packet(s, k, io_uring_recvmsg_payload(o, &e->rmsg),
				       io_uring_recvmsg_payload_length(o, cqe->res, &e->rmsg),
				       me_now_ns());
	}
	buf_back(e, bid);
}

/* ------------------------------------------------------------ sessions */

int me_engine_add(struct media_engine *e, struct media_session *s)
{
	uint32_t i;

	for (i = 0; i < e->nsess && e->sess[i]; i++)
		;
	if (i == e->cfg.max_sessions)
		return -ENOSPC;
	if (i == e->nsess)
		e->nsess++;
	e->sess[i] = s;
	s->idx = i;
	s->gen = e->gen[i];
	e->open++;
	for (int k = 0; k < 2; k++) {
		unsigned slot = 2 * i + (unsigned)k;

		s->fix[k] = -1;
		if (s->fd[k] >= 0 && slot < e->nfixed &&
		    io_uring_register_files_update(&e->ring, slot, &s->fd[k], 1) == 1)
			s->fix[k] = (int)slot;
	}
	return 0;
}

void me_engine_del(struct media_engine *e, struct media_session *s)
{
	if (s->idx >= e->nsess || e->sess[s->idx] != s)
		return;
	if (e->queued && (s->fix[0] >= 0 || s->fix[1] >= 0)) {
		io_uring_submit(&e->ring);	/* its BYE and cancels take their */
		e->queued = 0;			/* files before the slots empty */
	}
	for (int k = 0; k < 2; k++) {
		int none = -1;

		if (s->fix[k] >= 0)	/* in-flight requests keep the file */
			io_uring_register_files_update(&e->ring, (unsigned)s->fix[k],
						       &none, 1);
		s->fix[k] = -1;
	}
	e->sess[s->idx] = NULL;
	e->gen[s->idx]++;
	e->open--;
	while (e->nsess && !e->sess[e->nsess - 1])
		e->nsess--;
}

void me_engine_wake(struct media_engine *e)
{
	uint64_t one = 1;

	if (write(e->efd, &one, sizeof(one)) < 0)
		return;	/* the counter is full: the thread is awake anyway */
}

/* A session asked to stop: its BYE goes out, its receives are cancelled,
 * it leaves the engine. */
void me_stop_sess(struct media_engine *e, struct media_session *s,
		  uint64_t now)
{
	if (s->armed)
		me_rtcp_send(s, now, 1);
	for (int k = 0; k < 2; k++) {
		struct io_uring_sqe *sqe;

		if (s->fd[k] < 0 || !s->armed)
			continue;
		sqe = me_sqe(e);
		if (!sqe)
			continue;
		io_uring_prep_cancel_fd(sqe, s->fd[k], IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, ud_make(K_CANCEL, 0, 0, 0));
		e->queued++;
	}
	s->stop_ns = now;
	s->state = ME_STOPPED;
	me_engine_del(e, s);
	pthread_cond_broadcast(&e->cv);
}

static void *engine_main(void *arg)
{
	struct media_engine *e = arg;

	pthread_mutex_lock(&e->mu);
	arm_efd(e);
	e->next_tick_ns = me_now_ns() + ME_TICK_NS;
	for (;;) {
		uint64_t now = me_now_ns(), next = e->next_tick_ns, wait;
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;
		int stop;

		for (uint32_t i = 0; i < e->nsess; i++)
			if (e->sess[i] && e->sess[i]->state == ME_RUNNING)
				me_sess_delayed(e->sess[i], now, &next);
		wait = next > now ? next - now : 0;
		ts.tv_sec = (long long)(wait / 1000000000u);
		ts.tv_nsec = (long long)(wait % 1000000000u);
		e->queued = 0;
		pthread_mutex_unlock(&e->mu);
		io_uring_submit_and_wait_timeout(&e->ring, &cqe, 1, &ts, NULL);
		pthread_mutex_lock(&e->mu);
		me_flush(e);
		now = me_now_ns();
		if (now >= e->next_tick_ns) {
			for (uint32_t i = 0; i < e->nsess; i++)
				if (e->sess[i] && e->sess[i]->state == ME_RUNNING &&
				    e->sess[i]->armed)
					me_sess_tick(e->sess[i], now);
			e->next_tick_ns += ME_TICK_NS;
			if (now > e->next_tick_ns + 5 * ME_TICK_NS)   /* fell behind */
				e->next_tick_ns = now + ME_TICK_NS;
		}
		for (uint32_t i = 0; i < e->nsess; i++) {
			struct media_session *s = e->sess[i];

			if (!s)
				continue;
			if (s->state == ME_RUNNING && !s->armed) {
				me_sess_begin(s, now);
				me_arm_recv(e, s);
			} else if (s->state == ME_STOPPING) {
				me_stop_sess(e, s, now);
			}
		}
		stop = e->stop;
		me_flush(e);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* ------------------------------------------------------------- probe */

/*
 * Sessions' sockets go into a sparse table of fixed files (slot 2 * idx +
 * k), so a send or receive does not take and drop a reference on the file
 * (fget/fput: an atomic on a cache line that is cold for every packet of
 * 6000 streams). The kernel limits the table to RLIMIT_NOFILE; a session
 * whose slot does not fit, or a kernel without sparse tables (5.19), uses
 * its plain descriptor: the same path, one atomic more.
 */
static void fixed_files(struct media_engine *e)
{
	struct rlimit rl;
	unsigned n = 2 * e->cfg.max_sessions;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = (unsigned)rl.rlim_cur;
	e->nfixed = io_uring_register_files_sparse(&e->ring, n) == 0 ? n : 0;
}

static int probe_fail(const char *what, int err)
{
	fprintf(stderr, "media: io_uring: %s: %s\n", what, strerror(-err));
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOSYS
		       ? -EOPNOTSUPP : err;
}

static int probe_ops(struct media_engine *e)
{
	static const struct { int op; const char *name; } need[] = {
		{ IORING_OP_RECVMSG, "RECVMSG" }, { IORING_OP_SENDMSG, "SENDMSG" },
		{ IORING_OP_READ, "READ" }, { IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL" },
	};
	struct io_uring_probe *p = io_uring_get_probe_ring(&e->ring);
	int err = 0;

	if (!p)
		return probe_fail("opcode probe (kernel 5.6+)", -EOPNOTSUPP);
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!io_uring_opcode_supported(p, need[i].op)) {
			fprintf(stderr, "media: io_uring: opcode %s missing\n",
				need[i].name);
			err = -EOPNOTSUPP;
		}
	io_uring_free_probe(p);
	return err;
}

/* A real multishot recvmsg on a loopback socket sending to itself. */
/*
 * SEND with a destination address (sendto; 6.0+) costs less per packet
 * than SENDMSG: no msghdr and iovec to copy in (media_send bench: +14%
 * packets/s). 1 if the kernel sent "p" to `to` that way; else the engine
 * uses SENDMSG.
 */
static int probe_send_addr(struct media_engine *e, int fd,
			   const struct sockaddr_in *to)
{
	struct io_uring_sqe *sqe = me_sqe(e);
	struct io_uring_cqe *cqe;
	int ok;

	if (!sqe)
		return 0;
	io_uring_prep_send(sqe, fd, "p", 1, 0);
	io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)to, sizeof(*to));
	io_uring_sqe_set_data64(sqe, ud_make(K_CANCEL, 0, 0, 0));
	if (io_uring_submit_and_wait(&e->ring, 1) < 0 ||
	    io_uring_peek_cqe(&e->ring, &cqe))
		return 0;
	ok = cqe->res == 1;
	io_uring_cqe_seen(&e->ring, cqe);
	e->queued = 0;
	return ok;
}

static int probe_multishot(struct media_engine *e)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;
	uint64_t ud = ud_make(K_CANCEL, 0, 0, 1);

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		err = -errno;
		goto out;
	}
	e->send_addr = probe_send_addr(e, fd, &a);
	if (!e->send_addr &&
	    sendto(fd, "p", 1, 0, (struct sockaddr *)&a, sizeof(a)) != 1) {
		err = -errno;
		goto out;
	}
	arm_fd(e, fd, -1, ud);	/* receives what is queued already */
	io_uring_submit(&e->ring);
	e->queued = 0;
	err = io_uring_wait_cqe_timeout(&e->ring, &cqe, &ts);
	if (err) {
		err = probe_fail("multishot recvmsg gave nothing", err);
		goto out;
	}
	if (cqe->res < 0)
		err = probe_fail("multishot recvmsg (kernel 6.0+)", cqe->res);
	else if (!(cqe->flags & IORING_CQE_F_BUFFER))
		err = probe_fail("recvmsg from a provided-buffer ring", -EOPNOTSUPP);
	if (cqe->flags & IORING_CQE_F_BUFFER)
		buf_back(e, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	io_uring_cqe_seen(&e->ring, cqe);
out:
	sqe = me_sqe(e);	/* end the multishot; its CQEs are K_CANCEL */
	if (sqe) {
		io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, ud);
		io_uring_submit_and_wait(&e->ring, 1);
		me_flush(e);
	}
	close(fd);
	return err;
}

int me_engine_init(struct media_engine *e,
		   const struct media_engine_config *cfg)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE };
	struct io_uring_buf_reg reg = { 0 };
	int err;

	memset(e, 0, sizeof(*e));
	e->efd = -1;
	if (cfg)
		e->cfg = *cfg;
	if (!e->cfg.max_sessions)
		e->cfg.max_sessions = 8192;
	if (e->cfg.max_sessions > 0xfffff)
		return -EINVAL;
	if (!e->cfg.ring_entries)
		e->cfg.ring_entries = 1024;
	p.cq_entries = 8 * e->cfg.ring_entries;
	err = io_uring_queue_init_params(e->cfg.ring_entries, &e->ring, &p);
	if (err < 0)
		return probe_fail("io_uring_setup (kernel.io_uring_disabled?)", err);
	if (!(p.features & IORING_FEAT_EXT_ARG)) {
		io_uring_queue_exit(&e->ring);
		return probe_fail("wait with timeout (IORING_FEAT_EXT_ARG, 5.11+)",
				  -EOPNOTSUPP);
	}
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->sess = calloc(e->cfg.max_sessions, sizeof(*e->sess));
	e->gen = calloc(e->cfg.max_sessions, sizeof(*e->gen));
	e->send = calloc(ME_NSEND, sizeof(*e->send));
	e->send_free = calloc(ME_NSEND, sizeof(*e->send_free));
	e->bufs = malloc((size_t)ME_NBUF * ME_BUFSZ);
	e->br_len = ME_NBUF * sizeof(struct io_uring_buf);
	e->br = mmap(NULL, e->br_len, PROT_READ | PROT_WRITE,
		     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (e->br == MAP_FAILED)
		e->br = NULL;
	e->efd = eventfd(0, EFD_CLOEXEC);
	if (!e->sess || !e->gen || !e->send || !e->send_free || !e->bufs ||
	    !e->br || e->efd < 0) {
		err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < ME_NSEND; i++)
		e->send_free[i] = ME_NSEND - 1 - i;
	e->nsend_free = ME_NSEND;
	err = probe_ops(e);
	if (err)
		goto fail;
	io_uring_buf_ring_init(e->br);
	reg.ring_addr = (unsigned long)e->br;
	reg.ring_entries = ME_NBUF;
	reg.bgid = ME_BGID;
	err = io_uring_register_buf_ring(&e->ring, &reg, 0);
	if (err < 0) {
		err = probe_fail("provided-buffer ring (kernel 5.19+)", err);
		goto fail;
	}
	for (unsigned i = 0; i < ME_NBUF; i++)
		io_uring_buf_ring_add(e->br, e->bufs + (size_t)i * ME_BUFSZ, ME_BUFSZ,
				      (unsigned short)i, io_uring_buf_ring_mask(ME_NBUF),
				      (int)i);
	io_uring_buf_ring_advance(e->br, ME_NBUF);
	e->rmsg.msg_namelen = sizeof(struct sockaddr_in);
	fixed_files(e);
	err = probe_multishot(e);
	if (err)
		goto fail;
	return 0;
fail:
	me_engine_fini(e);
	return err;
}

void me_engine_fini(struct media_engine *e)
{
	io_uring_queue_exit(&e->ring);
	if (e->br)
		munmap(e->br, e->br_len);
	if (e->efd >= 0)
		close(e->efd);
	free(e->bufs);
	free(e->send);
	free(e->send_free);
	free(e->sess);
	free(e->gen);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	memset(e, 0, sizeof(*e));
	e->efd = -1;
}

int media_engine_new(const struct media_engine_config *cfg,
		     struct media_engine **out)
{
	struct media_engine *e = malloc(sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	err = me_engine_init(e, cfg);
	if (err) {
		free(e);
		return err;
	}
	err = -pthread_create(&e->thr, NULL, engine_main, e);
	if (err) {
		me_engine_fini(e);
		free(e);
		return err;
	}
	e->has_thread = 1;
	*out = e;
	return 0;
}

void media_engine_free(struct media_engine *e)
{
	if (!e)
		return;
	if (e->has_thread) {
		pthread_mutex_lock(&e->mu);
		e->stop = 1;
		pthread_mutex_unlock(&e->mu);
		me_engine_wake(e);
		pthread_join(e->thr, NULL);
	}
	me_engine_fini(e);
	free(e);
}
