/*
 * sip_tx: the SIP transaction layer (RFC 3261 s.17), shared by the server
 * and the handset agent. It knows no event loop and no socket: the caller
 * feeds it requests/responses with a key it extracted from the parsed
 * message, gives it the current time in milliseconds, and sends what it is
 * told to through a callback. Timers are driven by sip_tx_process(now),
 * called whenever sip_tx_next_deadline() says so (a fake clock in tests).
 *
 * Server transactions (17.2) absorb request retransmissions and resend the
 * last response; matching per 17.2.3: Via branch + sent-by + method when the
 * branch carries the "z9hG4bK" magic cookie (ACK matches the INVITE tx), or
 * the RFC 2543 fallback (Request-URI, To tag, From tag, Call-ID, CSeq number,
 * top Via) otherwise. INVITE server transactions run Proceeding ->
 * Completed (timer G resends the final response over UDP, H gives up) ->
 * Confirmed on ACK (timer I); a 2xx ends the tx, as in RFC 3261 (the TU
 * retransmits 2xx itself).
 * Client transactions (17.1): non-INVITE runs timers E/F/K, INVITE timers
 * A/B/D; over reliable transports E and A are off and K and D are zero.
 * Retransmitted final responses are absorbed (and, for a non-2xx final
 * response to INVITE, the stored ACK is resent).
 *
 * All functions return 0 or -errno unless stated. A table is used by one
 * thread (the server keeps one per worker, SO_REUSEPORT keeps a UDP peer on
 * one worker).
 */
#ifndef DATALINE_SIP_TX_H
#define DATALINE_SIP_TX_H

#include <stddef.h>
#include <stdint.h>

/* A slice into a caller-owned buffer; the table copies what it keeps. */
struct sip_tx_str {
	const char *p;
	size_t len;
};

/* What identifies a transaction, filled from the parsed message. */
struct sip_tx_key {
	struct sip_tx_str branch;  /* top Via ;branch= (may be empty) */
	struct sip_tx_str sent_by; /* top Via sent-by: host[:port] */
	struct sip_tx_str method;  /* request method, or CSeq method of a response */
	/* RFC 2543 fallback, used only when branch lacks "z9hG4bK": */
	struct sip_tx_str ruri, call_id, from_tag, to_tag, cseq_num, via;
	/* Who sent it (e.g. the source IP's bytes; at most 32 bytes count),
	 * for the per-source share of the budget; not part of matching.
	 * Empty: one shared anonymous source. */
	struct sip_tx_str source;
};

enum sip_tx_state {
	SIP_TX_CALLING,     /* INVITE client: request sent, no answer yet */
	SIP_TX_TRYING,      /* non-INVITE: request sent/received, no answer */
	SIP_TX_PROCEEDING,  /* a provisional response went out/came in */
	SIP_TX_COMPLETED,   /* final response sent/received; absorbing */
	SIP_TX_CONFIRMED,   /* INVITE server: ACK received (timer I) */
	SIP_TX_TERMINATED,  /* done; freed by the table */
};

/* Timer values in ms (RFC 3261 Table 4 defaults: 500, 4000, 5000). */
struct sip_tx_timers {
	uint32_t t1, t2, t4;
};

struct sip_tx;
struct sip_tx_table;

struct sip_tx_ops {
	/* Transmit BUF to the peer the transaction was created with.
	 * PEER is the opaque blob given at creation. */
	int (*send)(void *arg, const void *peer, size_t peer_len,
		    const char *buf, size_t len);
	/* A client transaction timed out (timer B or F): the TU should act
	 * as if a 408 had arrived. The tx is freed right after the call. */
	void (*timeout)(void *arg, struct sip_tx *tx);
};

/* Biggest opaque peer blob (fits a sockaddr_in6 plus a connection id). */
#define SIP_TX_PEER_MAX 48

/* Result of feeding a message to the table. */
enum sip_tx_verdict {
	SIP_TX_NEW = 0,     /* server: no tx matched, create one and handle it */
	SIP_TX_PASS,        /* client: hand this response to the TU */
	SIP_TX_ABSORBED,    /* a retransmission (or ACK), already dealt with */
};

/* Creates a table. TIMERS may be NULL for the RFC defaults. */
int sip_tx_table_new(const struct sip_tx_ops *ops, void *arg,
		     const struct sip_tx_timers *timers,
		     struct sip_tx_table **out);
/* Frees the table and every transaction in it (no callbacks run). */
void sip_tx_table_free(struct sip_tx_table *tbl);
/* Number of live transactions. */
size_t sip_tx_count(const struct sip_tx_table *tbl);

/*
 * Budget (all 0 = unlimited, the default). The cost of a transaction is
 * its matching key, the response it keeps and a fixed overhead. Over
 * MAX_ENTRIES or MAX_BYTES, transactions that already sent their final
 * response (they only absorb retransmissions) are evicted early, fairly:
 * the adding source's own oldest while it holds at least the average
 * share (bytes / sources), else the biggest source's, else the oldest of
 * all (tx_budget.c). When nothing can be evicted, creating a server
 * transaction fails with -ENOBUFS. A server transaction whose key is over
 * MAX_KEY is refused (-E2BIG); a response over MAX_MSG is sent but not kept
 * (the transaction ends). The caller then answers statelessly.
 */
struct sip_tx_limits {
	size_t max_entries, max_bytes, max_key, max_msg;
};
int sip_tx_table_set_limits(struct sip_tx_table *tbl,
			    const struct sip_tx_limits *lim);
struct sip_tx_stats {
	size_t count, bytes, sources;
	uint64_t evicted;   /* ended early by the budget */
	uint64_t refused;   /* server tx not made or not kept (limits) */
};
void sip_tx_stats(const struct sip_tx_table *tbl, struct sip_tx_stats *out);

/*
 * Server side. sip_tx_server_receive() matches an incoming request: if it
 * belongs to a live server transaction it is absorbed (the last response is
 * resent; an ACK moves a Completed INVITE tx to Confirmed), *out is set to
 * SIP_TX_ABSORBED. Otherwise *out = SIP_TX_NEW and the caller creates a
 * transaction with sip_tx_server_new() (not for ACK, which never creates
 * one). -EINVAL if the key has no method.
 */
int sip_tx_server_receive(struct sip_tx_table *tbl, const struct sip_tx_key *key,
			  uint64_t now_ms, enum sip_tx_verdict *out);
int sip_tx_server_new(struct sip_tx_table *tbl, const struct sip_tx_key *key,
		      const void *peer, size_t peer_len, int reliable,
		      uint64_t now_ms, struct sip_tx **out);
/*
 * Sends response BUF (status STATUS) through the transaction and keeps a
 * copy for retransmissions. A final response starts timer J (non-INVITE) or
 * G/H (INVITE, 3xx-6xx); over a reliable transport a final non-INVITE
 * response ends the transaction at once. After a final response the tx
 * pointer must not be used again (the table may free it at any time).
 */
int sip_tx_server_respond(struct sip_tx *tx, int status, const char *buf,
			  size_t len, uint64_t now_ms);

/* Removes a transaction at once, without sending anything (e.g. its
 * answer could not be produced); no callbacks run. */
void sip_tx_free(struct sip_tx *tx);

/*
 * Client side. sip_tx_client_new() sends request BUF and starts the timers;
 * KEY needs branch and method. sip_tx_client_receive() matches a response
 * by branch + CSeq method (17.1.3): *out = SIP_TX_PASS when the TU must see
 * it (first of each provisional, the first final), SIP_TX_ABSORBED for a
 * retransmission; -ENOENT when no transaction matches (a stray response).
 * ACK/ACK_LEN: for a 3xx-6xx to INVITE, the ACK the caller built (17.1.1.3);
 * the tx sends it and resends it on retransmitted finals; NULL otherwise.
 * A client tx is freed by the table once terminated; *txp (optional) gets
 * the matched tx, valid until the next call into the table.
 */
int sip_tx_client_new(struct sip_tx_table *tbl, const struct sip_tx_key *key,
		      const void *peer, size_t peer_len, int reliable,
		      const char *buf, size_t len, uint64_t now_ms,
		      struct sip_tx **out);
int sip_tx_client_receive(struct sip_tx_table *tbl, const struct sip_tx_key *key,
			  int status, const char *ack, size_t ack_len,
			  uint64_t now_ms, enum sip_tx_verdict *out,
			  struct sip_tx **txp);

/* Runs every timer due at NOW_MS (retransmissions, timeouts, cleanup). */
void sip_tx_process(struct sip_tx_table *tbl, uint64_t now_ms);
/* Earliest pending deadline, or UINT64_MAX when none. */
uint64_t sip_tx_next_deadline(const struct sip_tx_table *tbl);

enum sip_tx_state sip_tx_state(const struct sip_tx *tx);
int sip_tx_is_invite(const struct sip_tx *tx);
/* Caller data attached to a tx (the table never touches it). */
void sip_tx_set_user(struct sip_tx *tx, void *user);
void *sip_tx_user(const struct sip_tx *tx);
/* Human name of a state, for logs. */
const char *sip_tx_state_name(enum sip_tx_state st);

#endif
