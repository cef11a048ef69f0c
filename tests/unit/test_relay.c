/*
 * test_relay: the media relay (server/relay) on real loopback sockets and
 * its io_uring thread: RTP and RTCP forwarded both ways byte for byte (an
 * SRTP-like payload untouched), latching onto the port a phone really
 * sends from (NAT), a stranger's packets dropped once latched, an
 * allowed-IP rule, sequence gaps counted as loss, rtcp-mux (also offered
 * and declined, RFC 5761 s.5.1.1), a=rtcp (RFC 3605), the end of a
 * session by close, by media timeout and by relay_free, and the port
 * range running out. Ports 28700-28799.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/relay/relay.h"

static int udp_on(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static struct sockaddr_in lo(uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port),
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

static void send_to(int fd, uint16_t port, const void *p, size_t n)
{
	struct sockaddr_in sa = lo(port);

	assert_int_equal(sendto(fd, p, n, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)n);
}

/* Receives one datagram within MS; its length, or -1. FROM_PORT gets the
 * sender's port. */
static ssize_t recv_one(int fd, void *buf, size_t cap, int ms, uint16_t *from_port)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return -1;
	n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&sa, &sl);
	if (from_port)
		*from_port = ntohs(sa.sin_port);
	return n;
}

static size_t rtp(uint8_t *p, uint16_t seq, uint8_t fill, size_t n)
{
	memset(p, fill, n);
	p[0] = 0x80;            /* V=2 */
	p[1] = 111;             /* PT (Opus, dynamic) */
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	return n;
}

/* Written on the relay thread, read by the test: N is published last
 * (release), so a reader that sees it (acquire) sees the rest. */
struct ended { _Atomic int n; uint64_t id; enum relay_end why; struct relay_stats st; };

static void on_end(void *arg, uint64_t id, enum relay_end why, const struct relay_stats *st)
{
	struct ended *e = arg;

	e->id = id;
	e->why = why;
	e->st = *st;
	atomic_fetch_add_explicit(&e->n, 1, memory_order_release);
}

static struct relay *mk(uint16_t lo_port, uint16_t hi_port, uint32_t tmo)
{
	struct relay_config c = { .addr = "127.0.0.1", .port_min = lo_port,
				  .port_max = hi_port, .timeout_s = tmo };
	struct relay *r = NULL;

	assert_int_equal(relay_new(&c, &r), 0);
	return r;
}

static struct relay_leg_params leg(uint16_t sdp_port, const char *allowed)
{
	struct relay_leg_params p = { .sdp = lo(sdp_port) };

	inet_pton(AF_INET, allowed, &p.allowed);
	return p;
}

static void test_forward_latch_strangers(void **state)
{
	struct relay *r = mk(28700, 28739, 30);
	struct relay_leg_params pa = leg(28750, "127.0.0.1"), pb = leg(28752, "127.0.0.1");
	int a_nat = udp_on(28760), b = udp_on(28752), b_rtcp = udp_on(28753),
	    a_rtcp = udp_on(28761), stranger = udp_on(28770);
	uint8_t pkt[172], got[2048];
	struct relay_stats st;
	struct ended e = { .n = 0 };
	uint16_t ports[2], from;
	uint64_t id;
	ssize_t n;

	(void)state;
	assert_int_equal(relay_open(r, &pa, &pb, on_end, &e, &id, ports), 0);
	assert_true(ports[0] % 2 == 0 && ports[1] % 2 == 0 && ports[0] != ports[1]);
	assert_int_equal(relay_sessions(r), 1);
	/* A's SDP said 28750, but A sends from 28760 (its NAT's port) */
	send_to(a_nat, ports[0], pkt, rtp(pkt, 1, 0xa5, sizeof(pkt)));
	n = recv_one(b, got, sizeof(got), 2000, &from);
	assert_int_equal(n, sizeof(pkt));
	assert_memory_equal(got, pkt, sizeof(pkt));       /* byte for byte */
	assert_int_equal(from, ports[1]);                  /* from B's port */
	/* B answers: it goes to where A really is (latched), not its SDP */
	send_to(b, ports[1], pkt, rtp(pkt, 7, 0x5a, 100));
	n = recv_one(a_nat, got, sizeof(got), 2000, &from);
	assert_int_equal(n, 100);
	assert_memory_equal(got, pkt, 100);
	assert_int_equal(from, ports[0]);
	/* a stranger on A's port is dropped */
	send_to(stranger, ports[0], pkt, rtp(pkt, 2, 0x11, 60));
	assert_int_equal(recv_one(b, got, sizeof(got), 300, NULL), -1);
	/* RTCP: A's RTCP from its NAT port +1, to B's SDP port +1 */
	send_to(a_rtcp, ports[0] + 1, "\x80\xc8\x00\x06rtcp-sr!", 12);
	n = recv_one(b_rtcp, got, sizeof(got), 2000, &from);
	assert_int_equal(n, 12);
	assert_int_equal(from, ports[1] + 1);
	/* loss: seq 1, then 2, then 5 -> 2 lost */
	send_to(a_nat, ports[0], pkt, rtp(pkt, 2, 0, 50));
	send_to(a_nat, ports[0], pkt, rtp(pkt, 5, 0, 50));
	assert_true(recv_one(b, got, sizeof(got), 2000, NULL) > 0);
	assert_true(recv_one(b, got, sizeof(got), 2000, NULL) > 0);
	assert_int_equal(relay_stats_get(r, id, &st), 0);
	assert_int_equal(st.dir[0].packets, 4);            /* 3 RTP + 1 RTCP */
	assert_int_equal(st.dir[0].bytes, sizeof(pkt) + 12 + 100);
	assert_int_equal(st.dir[0].strangers, 1);
	assert_int_equal(st.dir[0].lost, 2);
	assert_int_equal(st.dir[1].packets, 1);
	assert_true(st.latched[0]);
	assert_int_equal(ntohs(st.peer[0].sin_port), 28760);
	/* close: the callback has the final figures, the ports are freed */
	assert_int_equal(relay_close(r, id), 0);
	for (int i = 0; i < 50 && !e.n; i++)
		usleep(20000);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.id, id);
	assert_int_equal(e.why, RELAY_END_CLOSED);
	assert_int_equal(e.st.dir[0].packets, 4);
	assert_int_equal(relay_sessions(r), 0);
	assert_int_equal(relay_close(r, id), -ENOENT);
	send_to(a_nat, ports[0], pkt, rtp(pkt, 6, 0, 50));
	assert_int_equal(recv_one(b, got, sizeof(got), 300, NULL), -1);
	relay_free(r);
	close(a_nat);
	close(b);
	close(b_rtcp);
	close(a_rtcp);
	close(stranger);
}

static void test_allowed_ip_and_mux(void **state)
{
	struct relay *r = mk(28700, 28739, 30);
	struct relay_leg_params pa = leg(28750, "127.0.0.2"), pb = leg(28752, "0.0.0.0");
	int a = udp_on(28750), b = udp_on(28752);
	uint8_t pkt[64], got[256];
	struct relay_stats st;
	uint16_t ports[2], from;
	uint64_t id;

	(void)state;
	pb.rtcp_mux = 1;
	assert_int_equal(relay_open(r, &pa, &pb, NULL, NULL, &id, ports), 0);
	/* A may only latch from 127.0.0.2: 127.0.0.1 is a stranger */
	send_to(a, ports[0], pkt, rtp(pkt, 1, 1, sizeof(pkt)));
	assert_int_equal(recv_one(b, got, sizeof(got), 300, NULL), -1);
	assert_int_equal(relay_stats_get(r, id, &st), 0);
	assert_int_equal(st.dir[0].strangers, 1);
	assert_false(st.latched[0]);
	/* B (any IP) with rtcp-mux: its RTCP to its RTP port reaches A's
	 * RTCP port (A's SDP port + 1) */
	int a_rtcp = udp_on(28751);
	send_to(b, ports[1], "\x80\xc9\x00\x01\x00\x00\x00\x01", 8);
	assert_int_equal(recv_one(a_rtcp, got, sizeof(got), 2000, &from), 8);
	assert_int_equal(from, ports[0] + 1);
	assert_int_equal(relay_stats_get(r, id, &st), 0);
	assert_int_equal(st.dir[1].lost, 0);               /* RTCP is not RTP */
	relay_free(r);
	close(a);
	close(b);
	close(a_rtcp);
}

/*
 * The callee's leg is opened before its answer (no rtcp-mux known: two
 * ports) and the answer then says rtcp-mux; the callee is behind a NAT
 * (its packets come from another port than its SDP's). The caller's RTCP
 * must reach the callee at its latched RTP address, from the relay's RTP
 * port: not its RTCP port, and not the SDP's unreachable address.
 */
static void test_mux_after_answer_nat(void **state)
{
	struct relay *r = mk(28700, 28739, 30);
	struct relay_leg_params pa = leg(28754, "0.0.0.0"), pb = leg(0, "0.0.0.0");
	int a = udp_on(28754), a_rtcp = udp_on(28755), b = udp_on(28756);
	uint8_t pkt[64], got[256];
	uint16_t ports[2], from;
	uint64_t id;

	(void)state;
	assert_int_equal(relay_open(r, &pa, &pb, NULL, NULL, &id, ports), 0);
	pb = leg(28758, "0.0.0.0");     /* the answer: behind NAT, muxed */
	pb.rtcp_mux = 1;
	pb.answer = 1;
	assert_int_equal(relay_update(r, id, 1, &pb), 0);
	send_to(b, ports[1], pkt, rtp(pkt, 1, 2, sizeof(pkt)));   /* B latches */
	assert_int_equal(recv_one(a, got, sizeof(got), 2000, NULL), (ssize_t)sizeof(pkt));
	/* A's RTCP, on A's RTCP port (A is not muxed) */
	send_to(a_rtcp, ports[0] + 1, "\x80\xc9\x00\x01\x00\x00\x00\x01", 8);
	assert_int_equal(recv_one(b, got, sizeof(got), 2000, &from), 8);
	assert_int_equal(from, ports[1]);
	/* and B's muxed RTCP reaches A's RTCP port */
	send_to(b, ports[1], "\x80\xc9\x00\x01\x00\x00\x00\x02", 8);
	assert_int_equal(recv_one(a_rtcp, got, sizeof(got), 2000, &from), 8);
	assert_int_equal(from, ports[0] + 1);
	relay_free(r);
	close(a);
	close(a_rtcp);
	close(b);
}

/*
 * RFC 5761 s.5.1.1: the caller offers rtcp-mux, the callee's answer has
 * none (baresip 1.0 by default), so neither side multiplexes: the caller
 * sends its RTCP to leg A's RTCP port (RTP + 1, which must be open though
 * the offer said rtcp-mux) and gets the callee's RTCP on its own RTCP
 * port, not on its RTP port. The answer's a=rtcp (RFC 3605) names the
 * callee's RTCP port (not RTP + 1 here).
 */
static void test_mux_declined(void **state)
{
	struct relay *r = mk(28700, 28739, 30);
	struct relay_leg_params pa = leg(28780, "127.0.0.1"), pb = leg(0, "0.0.0.0");
	int a = udp_on(28780), a_rtcp = udp_on(28781), b = udp_on(28782),
	    b_rtcp = udp_on(28785);
	uint8_t pkt[64], got[256];
	struct relay_stats st;
	uint16_t ports[2], from;
	uint64_t id;

	(void)state;
	pa.rtcp_mux = 1;                /* the offer */
	assert_int_equal(relay_open(r, &pa, &pb, NULL, NULL, &id, ports), 0);
	pb = leg(28782, "127.0.0.1");   /* the answer: no rtcp-mux */
	pb.rtcp_port = 28785;
	pb.answer = 1;
	assert_int_equal(relay_update(r, id, 1, &pb), 0);
	send_to(a, ports[0], pkt, rtp(pkt, 1, 3, sizeof(pkt)));
	assert_int_equal(recv_one(b, got, sizeof(got), 2000, NULL), (ssize_t)sizeof(pkt));
	send_to(b, ports[1], pkt, rtp(pkt, 1, 4, sizeof(pkt)));
	assert_int_equal(recv_one(a, got, sizeof(got), 2000, NULL), (ssize_t)sizeof(pkt));
	/* A's RTCP, on leg A's RTCP port, reaches B's a=rtcp port */
	send_to(a_rtcp, ports[0] + 1, "\x80\xc8\x00\x01\x00\x00\x00\x01", 8);
	assert_int_equal(recv_one(b_rtcp, got, sizeof(got), 2000, &from), 8);
	assert_int_equal(from, ports[1] + 1);
	/* B's RTCP reaches A's RTCP port, and nothing comes to A's RTP port */
	send_to(b_rtcp, ports[1] + 1, "\x80\xc8\x00\x01\x00\x00\x00\x02", 8);
	assert_int_equal(recv_one(a_rtcp, got, sizeof(got), 2000, &from), 8);
	assert_int_equal(from, ports[0] + 1);
	assert_int_equal(recv_one(a, got, sizeof(got), 300, NULL), -1);
	assert_int_equal(relay_stats_get(r, id, &st), 0);
	assert_int_equal(st.dir[0].packets, 2);            /* RTP + RTCP */
	assert_int_equal(st.dir[1].packets, 2);
	relay_free(r);
	close(a);
	close(a_rtcp);
	close(b);
	close(b_rtcp);
}

static void test_timeout_and_free(void **state)
{
	struct relay *r = mk(28700, 28739, 1);
	struct relay_leg_params pa = leg(28750, "0.0.0.0"), pb = leg(28752, "0.0.0.0");
	struct ended e1 = { .n = 0 }, e2 = { .n = 0 };
	uint16_t ports[2];
	uint64_t id1, id2;

	(void)state;
	assert_int_equal(relay_open(r, &pa, &pb, on_end, &e1, &id1, ports), 0);
	/* no packet at all: ended after the 1 s media timeout */
	for (int i = 0; i < 100 && !e1.n; i++)
		usleep(50000);
	assert_int_equal(e1.n, 1);
	assert_int_equal(e1.why, RELAY_END_TIMEOUT);
	assert_int_equal(relay_sessions(r), 0);
	relay_free(r);
	/* relay_free ends what is open */
	r = mk(28700, 28739, 30);
	assert_int_equal(relay_open(r, &pa, &pb, on_end, &e2, &id2, ports), 0);
	relay_free(r);
	assert_int_equal(e2.n, 1);
	assert_int_equal(e2.why, RELAY_END_FREED);
}

static void test_ports_run_out(void **state)
{
	/* 28700..28707: four even ports, two per session (no mux): 2 sessions */
	struct relay *r = mk(28700, 28707, 30);
	struct relay_leg_params pa = leg(28750, "0.0.0.0"), pb = leg(28752, "0.0.0.0");
	uint16_t ports[2];
	uint64_t id;
	struct relay_config bad = { .addr = "127.0.0.1", .port_min = 28701, .port_max = 28710 };
	struct relay *rb = NULL;

	(void)state;
	assert_int_equal(relay_open(r, &pa, &pb, NULL, NULL, &id, ports), 0);
	assert_int_equal(relay_open(r, &pa, &pb, NULL, NULL, &id, ports), 0);
	assert_int_equal(relay_open(r, &pa, &pb, NULL, NULL, &id, ports), -ENOSPC);
	assert_int_equal(relay_close(r, id), 0);
	for (int i = 0; i < 50 && relay_sessions(r) != 1; i++)
		usleep(20000);
	assert_int_equal(relay_open(r, &pa, &pb, NULL, NULL, &id, ports), 0);
	relay_free(r);
	assert_int_equal(relay_new(&bad, &rb), -EINVAL);   /* odd first port */
	bad.port_min = 28700;
	bad.addr = "not an address";
	assert_int_equal(relay_new(&bad, &rb), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_latch_strangers),
		cmocka_unit_test(test_allowed_ip_and_mux),
		cmocka_unit_test(test_mux_after_answer_nat),
		cmocka_unit_test(test_mux_declined),
		cmocka_unit_test(test_timeout_and_free),
		cmocka_unit_test(test_ports_run_out),
	};

	return cmocka_run_group_tests_name("relay", tests, NULL, NULL);
}
