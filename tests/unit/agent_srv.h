/*
 * agent_srv: pieces of the scripted servers that the handset agent's unit
 * tests (test_agent_core.c, test_agent_call.c) run in-process on loopback
 * UDP: the socket, the digest check of a request's Proxy-Authorization,
 * and the loop that runs until a condition holds. Header-only: each test
 * is one file and one binary.
 */
#ifndef DATALINE_TEST_AGENT_SRV_H
#define DATALINE_TEST_AGENT_SRV_H

#include <stdint.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "dataline/sip.h"

/* Runs BASE until COND holds; fails the test after 20 s. */
#define AGENT_SRV_RUN_UNTIL(base, cond) do {				\
	time_t t0_ = time(NULL);					\
	while (!(cond)) {						\
		assert_true(time(NULL) - t0_ < 20);			\
		event_base_loop((base), EVLOOP_ONCE);			\
	}								\
} while (0)

/* A UDP socket on 127.0.0.1 with a persistent read event; its port. */
static inline uint16_t agent_srv_open(struct event_base *base, event_callback_fn cb,
				      int *fd, struct event **ev)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(*fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	*ev = event_new(base, *fd, EV_READ | EV_PERSIST, cb, NULL);
	event_add(*ev, NULL);
	return ntohs(sa.sin_port);
}

/* 1 when M carries good Proxy-Authorization credentials of USER in
 * REALM; *NC (may be NULL) gets their nonce-count. */
static inline int agent_srv_creds_ok(const struct sip_msg *m, const char *user,
				     const char *realm, const char *password,
				     uint32_t *nc)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_PROXY_AUTHORIZATION);
	struct sip_digest_credentials c;
	char ha1[SIP_DIGEST_HEX_MAX];

	if (!h || sip_digest_credentials_decode(h->value, &c) < 0)
		return 0;
	assert_int_equal(sip_digest_ha1(c.alg, user, realm, password, ha1), 0);
	if (nc)
		*nc = c.nc_value;
	return sip_digest_verify(&c, m->method, ha1) == 0;
}

#endif
