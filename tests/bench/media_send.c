/*
 * media_send: SRTP-protected Opus-sized RTP packets (100-byte payload)
 * sent per second by one thread pinned to one CPU, to a sink socket on
 * loopback that is not read (the kernel runs the whole receive path, then
 * drops at the full receive buffer, for every contender alike). The
 * contenders, over the same sessions and the same per-packet work (RTP
 * build + SRTP protect with the session's key):
 *   uring    the media engine's own send path (me_send_rtp: built and
 *            protected in a send slot, SEND with the destination, each
 *            socket a fixed file; submitted 32 at a time), each session on
 *            its own socket, as in a call;
 *   sendmmsg 32 packets per call on one socket (its best case: a socket
 *            shared by all streams, which a call cannot use);
 *   sendto   one call per packet on each session's socket;
 *   uring1   the engine's submission path (me_send: send slot, SEND SQE,
 *            32 per submit) with the same protect, all on one socket
 *            as sendmmsg, to compare the two batchings on equal terms;
 *   uringmsg the engine's path with SENDMSG instead of SEND (kernels
 *            before 6.0), to show what SEND with an address gains.
 * MEDIA_ONLY=NAME runs one contender (for a profiler).
 * Each contender runs SECS seconds, ROUNDS times, alternating; the best
 * round is printed: "NAME pps cpu_pps" (cpu_pps: per CPU-second of the
 * thread, CLOCK_THREAD_CPUTIME_ID).
 *
 * usage: media_send SUITE(gcm|aescm) STREAMS SECS ROUNDS SINK_PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../user/media/media_priv.h"

static double now_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct media_engine eng;
static struct media_session **ss;
static unsigned nss;
static struct sockaddr_in sink;
static uint8_t payload[100];

/* One packet of session s, built and protected into out. */
static size_t protect_one(struct media_session *s, uint8_t *out)
{
	struct rtp_hdr h = { .pt = s->pt, .seq = s->seq++, .ts = s->ts,
			     .ssrc = s->ssrc };
	size_t n;
	int l;

	s->ts += 960;
	rtp_build(&h, payload, sizeof(payload), out, ME_MAX_PKT - SRTP_MAX_TRAILER_LEN, &n);
	if (s->gcm.ctx) {	/* what me_send_rtp does */
		if (me_gcm_protect(&s->gcm, out, n - sizeof(payload), &n, ME_MAX_PKT))
			abort();
		return n;
	}
	l = (int)n;
	if (srtp_protect(s->tx, out, &l) != srtp_err_status_ok)
		abort();
	return (size_t)l;
}

static uint64_t run_uring(double secs)
{
	double end = now_s(CLOCK_MONOTONIC) + secs;
	uint64_t n = 0;

	while (now_s(CLOCK_MONOTONIC) < end) {
		for (unsigned k = 0; k < 256; k++, n++) {
			struct media_session *s = ss[n % nss];

			if (me_send_rtp(s, payload, sizeof(payload), 0, s->ts, 0))
				abort();
			s->ts += 960;
		}
		me_flush(&eng);
	}
	while (eng.nsend_free < ME_NSEND) {   /* all sends completed */
		io_uring_submit_and_wait(&eng.ring, 1);
		me_flush(&eng);
	}
	return n;
}

/* The engine's path with SENDMSG, as on a kernel without SEND+address. */
static uint64_t run_uring_msg(double secs)
{
	int had = eng.send_addr;
	uint64_t n;

	eng.send_addr = 0;
	n = run_uring(secs);
	eng.send_addr = had;
	return n;
}

static uint64_t run_sendmmsg(double secs, int fd)
{
	static uint8_t bufs[32][ME_MAX_PKT];
	struct mmsghdr mm[32];
	struct iovec iov[32];
	double end = now_s(CLOCK_MONOTONIC) + secs;
	uint64_t n = 0;

	while (now_s(CLOCK_MONOTONIC) < end) {
		for (unsigned k = 0; k < 256 / 32; k++) {
			for (unsigned i = 0; i < 32; i++) {
				iov[i].iov_base = bufs[i];
				iov[i].iov_len = protect_one(ss[(n + i) % nss], bufs[i]);
				memset(&mm[i], 0, sizeof(mm[i]));
				mm[i].msg_hdr.msg_name = &sink;
				mm[i].msg_hdr.msg_namelen = sizeof(sink);
				mm[i].msg_hdr.msg_iov = &iov[i];
				mm[i].msg_hdr.msg_iovlen = 1;
			}
			if (sendmmsg(fd, mm, 32, 0) != 32)
				abort();
			n += 32;
		}
	}
	return n;
}

static uint64_t run_uring1(double secs, int fd)
{
	uint8_t buf[ME_MAX_PKT];
	double end = now_s(CLOCK_MONOTONIC) + secs;
	uint64_t n = 0;

	while (now_s(CLOCK_MONOTONIC) < end) {
		for (unsigned k = 0; k < 256; k++, n++)
			if (me_send(&eng, fd, &sink, buf, protect_one(ss[n % nss], buf)))
				abort();
		me_flush(&eng);
	}
	while (eng.nsend_free < ME_NSEND) {
		io_uring_submit_and_wait(&eng.ring, 1);
		me_flush(&eng);
	}
	return n;
}

static uint64_t run_sendto(double secs)
{
	uint8_t buf[ME_MAX_PKT];
	double end = now_s(CLOCK_MONOTONIC) + secs;
	uint64_t n = 0;

	while (now_s(CLOCK_MONOTONIC) < end) {
		for (unsigned k = 0; k < 256; k++, n++) {
			struct media_session *s = ss[n % nss];
			size_t len = protect_one(s, buf);

			if (sendto(s->fd[0], buf, len, 0, (struct sockaddr *)&sink,
				   sizeof(sink)) != (ssize_t)len)
				abort();
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	struct media_engine_config cfg = { .max_sessions = 0 };
	enum media_suite su;
	unsigned secs, rounds;
	double best[5][2] = { { 0 } };
	const char *names[5] = { "uring", "sendmmsg", "sendto", "uring1", "uringmsg" };
	int sink_fd, one_fd, small = 1 << 16;
	const char *only = getenv("MEDIA_ONLY");
	cpu_set_t cpus;

	if (argc != 6) {
		fprintf(stderr, "usage: media_send gcm|aescm STREAMS SECS ROUNDS SINK_PORT\n");
		return 2;
	}
	su = !strcmp(argv[1], "gcm") ? MEDIA_SUITE_AEAD_AES_128_GCM
				     : MEDIA_SUITE_AES_CM_128_HMAC_SHA1_80;
	nss = (unsigned)atoi(argv[2]);
	secs = (unsigned)atoi(argv[3]);
	rounds = (unsigned)atoi(argv[4]);
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	sink.sin_family = AF_INET;
	sink.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sink.sin_port = htons((uint16_t)atoi(argv[5]));
	sink_fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(sink_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (bind(sink_fd, (struct sockaddr *)&sink, sizeof(sink))) {
		perror("media_send: sink");
		return 1;
	}
	one_fd = socket(AF_INET, SOCK_DGRAM, 0);
	cfg.max_sessions = nss + 1;
	cfg.ring_entries = 512;
	if (me_engine_init(&eng, &cfg)) {
		fprintf(stderr, "media_send: engine\n");
		return 1;
	}
	ss = calloc(nss, sizeof(*ss));
	memset(payload, 0x42, sizeof(payload));
	for (unsigned i = 0; i < nss; i++) {
		struct media_config c = { .addr = "127.0.0.1" };
		struct media_session *s;
		int e = media_session_new((struct media_engine *)&eng, &c, &s);

		if (e) {
			fprintf(stderr, "media_send: session %u: %s\n", i, strerror(-e));
			return 1;
		}
		/* negotiated by hand: Opus, the suite, a random key each way */
		s->codec = MEDIA_CODEC_OPUS;
		s->pt = 111;
		s->suite = su;
		me_random(s->tx_key, sizeof(s->tx_key));
		me_random(s->rx_key, sizeof(s->rx_key));
		s->remote_rtp = sink;
		s->remote_rtcp = sink;
		s->state = ME_READY;
		if ((e = me_sess_prepare(s)) || (e = me_engine_add(&eng, s))) {
			fprintf(stderr, "media_send: prepare %u: %s\n", i, strerror(-e));
			return 1;
		}
		s->state = ME_RUNNING;
		ss[i] = s;
	}
	fprintf(stderr, "%u sessions ready\n", nss);
	for (unsigned r = 0; r < rounds; r++) {
		for (int c = 0; c < 5; c++) {
			if (only && strcmp(only, names[c]))
				continue;	/* MEDIA_ONLY=NAME: one contender (profiling) */
			double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
			uint64_t n = c == 0 ? run_uring(secs)
				   : c == 1 ? run_sendmmsg(secs, one_fd)
				   : c == 2 ? run_sendto(secs) : c == 3 ? run_uring1(secs, one_fd)
				   : run_uring_msg(secs);
			double w = now_s(CLOCK_MONOTONIC) - w0;
			double cpu = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;

			fprintf(stderr, "round %u %s: %llu packets, %.2f s wall, %.2f s cpu\n",
				r, names[c], (unsigned long long)n, w, cpu);
			if (n / w > best[c][0]) {
				best[c][0] = n / w;
				best[c][1] = n / cpu;
			}
		}
	}
	for (int c = 0; c < 5; c++)
		printf("%s %.0f %.0f\n", names[c], best[c][0], best[c][1]);
	for (unsigned i = 0; i < nss; i++)
		media_session_free(ss[i]);	/* leaves the engine */
	me_engine_fini(&eng);
	return 0;
}
