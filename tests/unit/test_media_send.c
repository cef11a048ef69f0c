/*
 * test_media_send: the media engine's send and receive paths over real
 * loopback sockets, driven without the engine's thread (as the media_send
 * bench drives it): SRTP (GCM) packets built in the send slots go from one
 * session to another and back, and arrive authenticated, in order, each
 * once, in every combination of the engine's kernel paths: sockets as
 * fixed files or as plain descriptors (the fallback when the table cannot
 * be registered or a session's slot does not fit), SEND with a destination
 * address or SENDMSG (the fallback on kernels before 6.0). A session that
 * leaves gives its fixed-file slots back, and the next session in the slot
 * works.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "../../user/media/media_priv.h"

struct pair {
	struct media_engine eng;
	struct media_session *a, *b;
};

static struct media_session *sess(struct media_engine *e, const uint8_t *tx,
				  const uint8_t *rx)
{
	struct media_config c = { .addr = "127.0.0.1" };
	struct media_session *s;

	assert_int_equal(media_session_new(e, &c, &s), 0);
	s->codec = MEDIA_CODEC_OPUS;
	s->pt = 111;
	s->suite = MEDIA_SUITE_AEAD_AES_128_GCM;
	memcpy(s->tx_key, tx, ME_MAX_KEY);
	memcpy(s->rx_key, rx, ME_MAX_KEY);
	s->state = ME_READY;
	assert_int_equal(me_sess_prepare(s), 0);
	return s;
}

/* a and b, each the other's remote, keys crossed; fixed: use the table */
static void pair_open(struct pair *p, int fixed, int send_addr)
{
	uint8_t k1[ME_MAX_KEY], k2[ME_MAX_KEY];
	struct media_engine_config cfg = { .max_sessions = 8, .ring_entries = 64 };

	assert_int_equal(me_engine_init(&p->eng, &cfg), 0);
	assert_true(p->eng.nfixed >= 16);	/* this kernel has sparse tables */
	assert_int_equal(p->eng.send_addr, 1);	/* and SEND with an address */
	if (!fixed)
		p->eng.nfixed = 0;
	p->eng.send_addr = send_addr;
	me_random(k1, sizeof(k1));
	me_random(k2, sizeof(k2));
	p->a = sess(&p->eng, k1, k2);
	p->b = sess(&p->eng, k2, k1);
	p->a->remote_rtp = p->a->remote_rtcp = p->b->local;
	p->b->remote_rtp = p->b->remote_rtcp = p->a->local;
	for (int i = 0; i < 2; i++) {
		struct media_session *s = i ? p->b : p->a;

		assert_int_equal(me_engine_add(&p->eng, s), 0);
		assert_int_equal(s->fix[0] >= 0, fixed);
		s->state = ME_RUNNING;
		me_sess_begin(s, me_now_ns());
		me_arm_recv(&p->eng, s);
	}
}

/* n packets each way; all arrive */
static void exchange(struct pair *p, unsigned n)
{
	static const uint8_t pay[100] = { 0xfc };
	uint64_t a0 = p->a->st.pkts_recv, b0 = p->b->st.pkts_recv;
	uint64_t sent0 = p->a->pkts_sent;

	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(me_send_rtp(p->a, pay, sizeof(pay), i == 0,
					     p->a->ts += 960, 0), 0);
		assert_int_equal(me_send_rtp(p->b, pay, sizeof(pay), i == 0,
					     p->b->ts += 960, 0), 0);
	}
	for (int tries = 0; tries < 200 && (p->a->st.pkts_recv < a0 + n ||
					    p->b->st.pkts_recv < b0 + n); tries++) {
		struct __kernel_timespec ts = { .tv_nsec = 10000000 };
		struct io_uring_cqe *cqe;

		io_uring_submit_and_wait_timeout(&p->eng.ring, &cqe, 1, &ts, NULL);
		p->eng.queued = 0;
		me_flush(&p->eng);
	}
	assert_int_equal(p->b->st.pkts_recv, b0 + n);
	assert_int_equal(p->a->st.pkts_recv, a0 + n);
	assert_int_equal(p->a->st.auth_fail + p->b->st.auth_fail, 0);
	assert_int_equal(p->a->st.malformed + p->b->st.malformed, 0);
	assert_int_equal(p->a->pkts_sent - sent0, n);
	assert_int_equal(p->eng.send_errors, 0);
}

static void pair_close(struct pair *p)
{
	media_session_free(p->a);
	media_session_free(p->b);
	me_engine_fini(&p->eng);
}

static void t_paths(void **st)
{
	(void)st;
	for (int fixed = 0; fixed < 2; fixed++)
		for (int send_addr = 0; send_addr < 2; send_addr++) {
			struct pair p;

			pair_open(&p, fixed, send_addr);
			exchange(&p, 40);
			pair_close(&p);
		}
}

/* A session that leaves gives its slot back: the next one in it works. */
static void t_slot_reuse(void **st)
{
	uint8_t k1[ME_MAX_KEY], k2[ME_MAX_KEY];
	struct pair p;
	int slot;
	(void)st;

	pair_open(&p, 1, 1);
	exchange(&p, 5);
	slot = p.b->fix[0];
	media_session_free(p.b);	/* stops it: leaves the engine */
	me_flush(&p.eng);
	memcpy(k1, p.a->tx_key, sizeof(k1));
	memcpy(k2, p.a->rx_key, sizeof(k2));
	p.b = sess(&p.eng, k2, k1);
	p.b->remote_rtp = p.b->remote_rtcp = p.a->local;
	p.a->remote_rtp = p.a->remote_rtcp = p.b->local;
	assert_int_equal(me_engine_add(&p.eng, p.b), 0);
	assert_int_equal(p.b->fix[0], slot);
	p.b->state = ME_RUNNING;
	me_sess_begin(p.b, me_now_ns());
	me_arm_recv(&p.eng, p.b);
	exchange(&p, 5);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_paths),
		cmocka_unit_test(t_slot_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
