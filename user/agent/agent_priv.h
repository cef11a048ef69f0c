/*
 * agent_priv: the handset agent's object, shared by its layers. Not
 * installed; include only from user/agent/.
 *
 *   agent_conn.c   transport: one UDP/TCP/TLS flow to the server
 *   agent_core.c   UA core, client side: requests built and sent through
 *                  lib/sip's transactions (keyed by branch), responses
 *                  routed back by branch, digest 401/407 answered once for
 *                  every method, completions reported to the client
 *   agent_serve.c  UA core, server side: incoming requests absorbed when
 *                  retransmitted, else handed to the handler of their
 *                  method; 405/501 with Allow for the rest
 *   agent.c        the flow's life: connect, keep-alive, backoff, stop
 *   agent_reg.c    REGISTER client (s.10.2) on top of the core
 *   agent_text.c   MESSAGE client and incoming-MESSAGE hook (RFC 3428)
 *   agent_pub.c    PUBLISH client: the agent's presence (RFC 3903)
 *   agent_call.c   INVITE dialogs, client side, and the call slots
 *   agent_call_in.c  INVITE dialogs, server side (incoming calls)
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

#define AGENT_MSG_MAX 8192   /* request we build / biggest response kept */
#define AGENT_PONG_WAIT 10   /* s; RFC 5626 s.4.4.1 */
#define AGENT_AUTH_TRIES 3   /* challenges answered for one request */
#define AGENT_HANDLER_MAX 8  /* methods with a handler */
#define AGENT_METHOD_MAX 16  /* longest method name + NUL */
#define AGENT_SRV_TX_MAX 64  /* server transactions kept for absorbing */

/* One client request in flight (a slot of agent.reqs). */
struct agent_req {
	struct agent *a;              /* back pointer */
	int used;                     /* the slot is taken */
	int local_status;             /* != 0: ended locally (408 timer F,
				       * 503 flow lost); reported from
				       * done_ev, outside the tx table */
	struct sip_tx *tx;            /* in a->txt, owned by the table;
				       * NULL once the tx ended */
	agent_req_done done;
	void *arg;
	enum sip_method method_id;
	char method[AGENT_METHOD_MAX];
	char ruri[AGENT_URI_MAX], to[AGENT_URI_MAX];
	char call_id[128], from_tag[24], branch[48];
	uint32_t cseq;                /* of the attempt in flight */
	int tries;                    /* challenges answered */
	int fresh;                    /* in flight with credentials for a
				       * challenge to this very request */
	char hdrs[AGENT_HDRS_MAX];    /* the client's extra header lines */
	char ctype[96];
	char body[AGENT_BODY_MAX];
	size_t body_len;
};

/* A kept digest challenge, answered by later requests (nonce reuse with a
 * growing nonce-count, RFC 7616 s.3.4) so they need no round trip. */
struct agent_chal {
	char buf[AGENT_MSG_MAX];      /* copy of the 401/407 */
	size_t len;                   /* 0: none */
	uint32_t nc;                  /* last nonce-count sent */
};

struct agent_handler_ent {
	char method[AGENT_METHOD_MAX];/* "" = free slot */
	agent_handler fn;
	void *arg;
};

struct agent {
	struct event_base *base;      /* borrowed from the caller */
	struct agent_config cfg;      /* strings below are our copies */
	char *host, *domain, *user, *username, *password, *instance;
	char *ca_file;
	char pin[AGENT_PIN_LEN];      /* pinned / learned fingerprint */
	struct agent_events ev;
	void *arg;
	int freeing;                  /* agent_free() runs: no callbacks */

	enum agent_state st;
	int last_status;
	int stopping;                 /* agent_stop() called */
	unsigned failures;            /* consecutive, for the backoff */

	/* transport (agent_conn.c) */
	struct sockaddr_storage peer; /* server address */
	socklen_t peer_len;
	int fd;                       /* UDP socket, owned; -1 if none */
	struct event *udp_ev;         /* owned */
	struct bufferevent *bev;      /* TCP/TLS, owned (owns fd and SSL) */
	SSL_CTX *ssl_ctx;             /* owned */
	char local[64];               /* our address as host or [v6] */
	uint16_t local_port;

	/* UA core (agent_core.c, agent_serve.c) */
	struct sip_tx_table *txt;     /* owned: client and server tx */
	struct event *tx_timer;       /* drives sip_tx_process */
	struct event *done_ev;        /* reports local completions */
	struct agent_req reqs[AGENT_REQ_MAX];
	struct agent_chal chal[2];    /* [0] 401 WWW-, [1] 407 Proxy- */
	int8_t auth_slot[SIP_METHOD_UPDATE + 1]; /* per method: the chal
				       * slot that challenged it last, -1 */
	struct agent_handler_ent handlers[AGENT_HANDLER_MAX];
	char tag[24];                 /* our To tag in responses */

	/* registration (agent_reg.c) */
	struct agent_req *reg_req;    /* REGISTER in flight, or NULL */
	char call_id[64], from_tag[24];
	uint32_t cseq;
	uint32_t expires;             /* what we ask for (423 raises it) */
	uint32_t granted;
	char contact[256];            /* Contact URI as sent */
	char bound[256];              /* Contact the registrar last accepted;
				       * removed when our flow (and so our
				       * Contact) changes */
	int reg_retries;              /* 423 retries in this round */
	int outbound;                 /* the 200 said Require: outbound */

	/* presence publication (agent_pub.c) */
	struct agent_pub *pub;        /* the caller's, not owned; NULL if none */
	uint32_t flow_gen;            /* + 1 at each new flow */

	/* calls (agent_call*.c) */
	struct agent_calls *calls;    /* owned; NULL until agent_call_setup */
	agent_net_fn net_fn;          /* figures for X-Dataline-Net */
	void *net_arg;

	/* texts (agent_text.c) */
	agent_text_in_fn text_fn;
	void *text_arg;

	/* timers (agent.c) */
	struct event *timer;          /* refresh / backoff / stop deadline */
	struct event *ka_timer;       /* keep-alive ping / pong deadline */
	int pong_seen, ping_out;
};

/* agent.c: the flow's life */
void agent_timer_ms(struct event *ev, uint64_t ms);
void agent_set_state(struct agent *a, enum agent_state st);
void agent_on_connected(struct agent *a);
void agent_on_conn_lost(struct agent *a, const char *why);
void agent_on_pong(struct agent *a);
void agent_fail(struct agent *a, const char *why);
void agent_finish_stop(struct agent *a);
void agent_registered(struct agent *a);
uint32_t agent_rand32(void);

/* agent_core.c */
int agent_core_init(struct agent *a);       /* events; 0 or -errno */
void agent_core_free(struct agent *a);
uint64_t agent_now_ms(void);
int agent_core_reset(struct agent *a);      /* fresh tx table (new flow) */
void agent_core_flow_down(struct agent *a); /* every request ends 503 */
void agent_tx_rearm(struct agent *a);
const char *agent_via_transport(enum agent_transport tp);
/* A complete message from the server (STREAM: from TCP/TLS). */
void agent_on_message(struct agent *a, const char *buf, size_t len, int stream);

/* Credentials for METHOD (MID) to RURI from the slot that challenged
 * that method last; kept challenge of a 401/407 M for MID; dropped. */
int agent_auth_add(struct agent *a, enum sip_method mid, const char *method,
		   const char *ruri, struct sip_buf *b);
int agent_auth_keep(struct agent *a, enum sip_method mid, const struct sip_msg *m);
void agent_auth_drop(struct agent *a, const struct sip_msg *m);
/* The Request-URI for TO: a number (sip:TO@DOMAIN) or a whole URI. */
int agent_target_uri(const struct agent *a, const char *to, char *out, size_t cap);

/* agent_call.c: 1 when M / TX belonged to a call (and was dealt with) */
int agent_call_on_response(struct agent *a, const struct sip_msg *m);
int agent_call_on_timeout(struct agent *a, struct sip_tx *tx);
void agent_call_flow_down(struct agent *a);
void agent_call_free_all(struct agent *a);
/* agent_call_in.c: INVITE (TX: its server transaction, may be NULL),
 * CANCEL, BYE: the status for the core to answer, or 0 when answered
 * here; ACK: always 0. */
int agent_call_serve(struct agent *a, const struct sip_msg *m, struct sip_tx *tx);
/* Adds X-Dataline-Net to an OPTIONS 200 when figures are available. */
void agent_call_net_header(struct agent *a, struct sip_buf *b);

/* agent_serve.c: an incoming request (not a response) */
void agent_serve_request(struct agent *a, const struct sip_msg *m, int stream);

/* agent_conn.c */
int agent_conn_open(struct agent *a);
void agent_conn_close(struct agent *a);
int agent_conn_send(struct agent *a, const char *buf, size_t len);
int agent_conn_is_open(const struct agent *a);

/* agent_reg.c */
void agent_send_register(struct agent *a, uint32_t expires);
void agent_reg_abort(struct agent *a);      /* drops the REGISTER in flight */

/* agent_pub.c: the agent is registered (after any REGISTER's 2xx) */
void agent_pub_on_registered(struct agent_pub *p);

#endif
