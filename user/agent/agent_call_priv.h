/*
 * agent_call_priv: the call slots shared by agent_call.c (client side,
 * slots, timers, reports) and agent_call_in.c (server side). Not
 * installed; include only from user/agent/.
 */
#ifndef DATALINE_AGENT_CALL_PRIV_H
#define DATALINE_AGENT_CALL_PRIV_H

#include "agent_priv.h"

#define AGENT_CALL_T1 500u   /* ms, RFC 3261 s.17 */
#define AGENT_CALL_T2 4000u

/* What a deferred report will say (set once, by call_end()). */
enum call_report { CALL_REPORT_NONE, CALL_REPORT_ENDED, CALL_REPORT_FAILED };

struct agent_call {
	struct agent *a;              /* back pointer */
	int used;
	uint32_t id;
	enum agent_call_state st;
	int outgoing;
	void *user;                   /* the caller's, not owned */
	struct event *timer;          /* owned: ring timeout (out), 2xx
				       * retransmission / ACK wait (in),
				       * CANCEL guard */
	struct event *done_ev;        /* owned: the deferred ENDED/FAILED */

	/* dialog (s.12) */
	char call_id[128];
	char local_tag[24], remote_tag[64];
	char local_uri[AGENT_URI_MAX], remote_uri[AGENT_URI_MAX];
	char target[AGENT_URI_MAX];   /* remote target: Contact */
	char routes[AGENT_HDRS_MAX];  /* "Route: <..>\r\n" lines */
	uint32_t local_cseq;          /* CSeq of our last request */
	uint32_t remote_cseq;         /* of the peer's last INVITE */
	char lsdp[AGENT_BODY_MAX];    /* our SDP */
	size_t lsdp_len;

	/* out: the INVITE client transaction */
	char ruri[AGENT_URI_MAX];     /* the INVITE's Request-URI */
	char branch[48];
	uint32_t inv_cseq;            /* CSeq of the INVITE in flight */
	struct sip_tx *tx;            /* in a->txt; NULL once final/detached */
	struct sip_tx *cancel_tx, *bye_tx; /* in a->txt, or NULL */
	int got_1xx, tries, fresh, cancel_sent, hangup_wanted;
	char auth[1024];              /* the INVITE's credentials line(s) */
	char ack[AGENT_MSG_MAX];      /* the 2xx's ACK, resent on each 2xx */
	size_t ack_len;

	/* in: the INVITE and our answer */
	struct sip_tx *stx;           /* INVITE server tx until final */
	char inv[AGENT_MSG_MAX];      /* copy of the INVITE we answer */
	size_t inv_len;
	char resp[AGENT_MSG_MAX + AGENT_BODY_MAX]; /* our 2xx (resent) */
	size_t resp_len;
	int resp_retx;                /* 2xx out and unacknowledged */
	int pending_487;              /* CANCELled: 487 after the CANCEL's 200 */
	uint32_t retx_ms;             /* next interval (timer G style) */
	uint64_t retx_end;            /* 64*T1 after the 2xx */

	/* the report waiting in done_ev */
	enum call_report report;
	enum agent_call_end why;
	int status;
	char warning[256];
	char net[128];                /* X-Dataline-Net of a failing answer */
};

struct agent_calls {
	struct agent_call_events ev;
	void *arg;
	struct agent_call_config cfg;
	uint32_t next_id;
	struct agent_call c[AGENT_CALL_MAX];
};

/* agent_call.c */
struct agent_call *call_alloc(struct agent *a, int outgoing);
/* Ends C: the report runs from done_ev, then the slot is released. */
void call_end(struct agent_call *c, enum call_report kind,
	      enum agent_call_end why, int status, const char *warning);
void call_set_state(struct agent_call *c, enum agent_call_state st);
/* The call of the dialog CALL_ID with our tag LTAG (and, when given,
 * the peer's RTAG). Ended calls are skipped. */
struct agent_call *call_find(struct agent *a, struct sip_str call_id,
			     struct sip_str ltag, struct sip_str rtag);
/* Builds METHOD in C's dialog. */
int call_build(struct agent_call *c, const char *method, const char *ruri,
	       const char *branch, uint32_t cseq, const char *extra,
	       const char *body, size_t body_len, char *buf, size_t cap,
	       size_t *len);
/* BYE in C's dialog (state TERMINATING); WHY is reported with its
 * answer. */
int call_send_bye(struct agent_call *c, enum agent_call_end why);
void call_timer_ms(struct agent_call *c, uint64_t ms);

/* agent_call_in.c: the retransmission timer of an unacknowledged 2xx;
 * the 487 of a CANCELled INVITE, sent once the CANCEL's 200 is out */
void call_in_timer(struct agent_call *c);
void call_in_send_487(struct agent_call *c);

#endif
