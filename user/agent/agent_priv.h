/*
 * agent_priv: the registration agent's object, shared by agent.c (state
 * machine, timers, responses), agent_conn.c (UDP/TCP/TLS transport) and
 * agent_msg.c (building REGISTER). Not installed; include only from
 * user/agent/.
 */
#ifndef DATALINE_AGENT_PRIV_H
#define DATALINE_AGENT_PRIV_H

#include <stdint.h>
#include <sys/socket.h>

#include "dataline/agent.h"
#include "dataline/sip.h"
#include "dataline/sip_tx.h"

struct event;
struct bufferevent;

#define AGENT_MSG_MAX 8192   /* REGISTER we build / biggest response kept */
#define AGENT_PONG_WAIT 10   /* s; RFC 5626 s.4.4.1 */

struct agent {
	struct event_base *base;      /* borrowed from the caller */
	struct agent_config cfg;      /* strings below are our copies */
	char *host, *domain, *user, *username, *password, *instance;
	char *ca_file;
	char pin[AGENT_PIN_LEN];      /* pinned / learned fingerprint */
	struct agent_events ev;
	void *arg;

	enum agent_state st;
	int last_status;
	int stopping;                 /* agent_stop() called */
	unsigned failures;            /* consecutive, for the backoff */

	/* transport */
	struct sockaddr_storage peer; /* registrar address */
	socklen_t peer_len;
	int fd;                       /* UDP socket, owned; -1 if none */
	struct event *udp_ev;         /* owned */
	struct bufferevent *bev;      /* TCP/TLS, owned (owns fd and SSL) */
	SSL_CTX *ssl_ctx;             /* owned */
	char local[64];               /* our address as host or [v6] */
	uint16_t local_port;

	/* registration */
	char call_id[64], from_tag[24], branch[48];
	uint32_t cseq;
	uint32_t expires;             /* what we ask for (423 raises it) */
	uint32_t granted;
	char contact[256];            /* Contact URI as sent */
	char bound[256];              /* Contact the registrar last accepted;
				       * removed when our flow (and so our
				       * Contact) changes */
	int auth_tries;               /* 401s answered in this round */
	int sent_auth;                /* the REGISTER in flight had credentials */
	int chal_fresh;               /* the kept challenge came in this round */
	char chal[AGENT_MSG_MAX];     /* copy of the last 401/407 */
	size_t chal_len;
	uint32_t nc;                  /* nonce-count for the kept challenge */
	int outbound;                 /* the 200 said Require: outbound */

	/* timers */
	struct event *timer;          /* refresh / backoff / stop deadline */
	struct event *ka_timer;       /* keep-alive ping / pong deadline */
	int pong_seen, ping_out;
	struct sip_tx_table *txt;     /* owned: client transactions */
	struct event *tx_timer;       /* drives sip_tx_process */
};

/* agent.c */
uint64_t agent_now_ms(void);
void agent_set_state(struct agent *a, enum agent_state st);
void agent_on_connected(struct agent *a);
void agent_on_conn_lost(struct agent *a, const char *why);
void agent_on_pong(struct agent *a);
void agent_tx_rearm(struct agent *a);
void agent_send_register(struct agent *a, uint32_t expires);
void agent_fail(struct agent *a, const char *why);
void agent_finish_stop(struct agent *a);
void agent_registered(struct agent *a);

/* agent_resp.c: a complete message from the registrar */
void agent_on_message(struct agent *a, const char *buf, size_t len, int stream);

/* agent_conn.c */
int agent_conn_open(struct agent *a);
void agent_conn_close(struct agent *a);
int agent_conn_send(struct agent *a, const char *buf, size_t len);
int agent_conn_is_open(const struct agent *a);

/* agent_msg.c: builds REGISTER with EXPIRES into BUF; adds Authorization
 * when a challenge is kept. 0 and *len, or -errno. */
int agent_msg_register(struct agent *a, uint32_t expires, char *buf,
		       size_t size, size_t *len);

#endif
