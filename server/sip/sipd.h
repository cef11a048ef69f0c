/*
 * sipd: the SIP side of dataline-server (RFC 3261 over UDP, TCP and TLS;
 * RFC 3581 rport; RFC 5626 CRLF keep-alive). Private to server/.
 *
 * Threads: every worker thread owns one `struct sipd` (its event_base, its
 * SO_REUSEPORT sockets, its transaction table and its store connection) and
 * touches nothing of another worker. What workers share lives in
 * `struct sipd_shared`: read-only settings, the SSL_CTX (thread-safe), the
 * digest nonce key, the nonce-count tracker (locked inside auth.c), the
 * in-memory bindings and devices the registrar reads (regcache.c,
 * devcache.c, locked inside) and the registrar's writer thread, which runs
 * every write of the bindings (regflush.c): a worker never commits.
 */
#ifndef DATALINE_SERVER_SIPD_H
#define DATALINE_SERVER_SIPD_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "dataline/sip.h"
#include "dataline/sip_tx.h"

struct config;
struct event;
struct event_base;
struct evconnlistener;
struct store;
struct auth_nc;
struct regcache;
struct devcache;
struct store_device;
struct stream_conn;
struct connlimit;
struct mailbox;
struct flowtab;
struct numbers;
struct queue;
struct ratelimit;
struct txc_ctx;
struct presence;
struct subtab;
struct reflector;
struct call_home;
struct relay;

enum sipd_tp { SIPD_UDP, SIPD_TCP, SIPD_TLS };

union sipd_addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

struct sipd;
struct sipd_peer;

/* A transport: how a message leaves over it (udp.c, stream.c). */
struct sipd_tp_ops {
	const char *name;          /* "udp", "tcp", "tls": Via, bindings */
	int reliable;              /* no retransmissions needed */
	/* Sends BUF to PEER (UDP: to DEST if non-NULL, else the source) */
	int (*send)(struct sipd *w, const struct sipd_peer *peer,
		    const union sipd_addr *dest, const char *buf, size_t len);
};
extern const struct sipd_tp_ops sipd_udp_ops, sipd_tcp_ops, sipd_tls_ops;

/* Where a message came from, and so where its responses go. */
struct sipd_peer {
	enum sipd_tp tp;
	const struct sipd_tp_ops *ops;
	union sipd_addr addr;      /* source address */
	socklen_t addrlen;
	struct stream_conn *conn;  /* TCP/TLS: borrowed; NULL for UDP */
	uint64_t conn_id;          /* TCP/TLS: the connection's id, unique
				      in the process; 0 for UDP */
};

/* A flow (RFC 5626): how the server reaches a device again. Ids, not
 * pointers: the connection may be gone when the flow is used. */
struct sipd_flow {
	enum sipd_tp tp;
	int worker;                /* its owner: only it writes to it */
	uint64_t conn_id;          /* TCP/TLS connection id; 0 for UDP */
	union sipd_addr addr;      /* UDP: where to send (the received
				      address); streams: the peer */
};

struct sipd_shared {
	const struct config *cfg;        /* borrowed, read-only */
	SSL_CTX *ssl_ctx;                /* borrowed; NULL without TLS */
	uint8_t nonce_key[SIP_NONCE_KEY_LEN];
	struct auth_nc *nc;              /* owned; locks inside */
	struct regcache *rc;             /* owned: bindings; locks inside */
	struct devcache *dc;             /* owned: devices; locks inside */
	atomic_int stream_conns;         /* open TCP+TLS connections, all */
	struct connlimit *cl;            /* owned: the same per client; locks
					    inside */
	struct flowtab *flows;           /* owned: flows of bindings; locks
					    inside */
	struct numbers *numbers;         /* owned: numbers with an account and
					    their devices; locks inside */
	struct queue *queue;             /* borrowed: the durable queue (texts,
					    reports); set before the workers */
	struct ratelimit *text_rl;       /* owned: texts per sender */
	struct reg_housekeep *housekeep; /* owned: the registrar's background
					    work (regflush.c) */
	struct writer *regw;             /* owned: the registrar's writer
					    thread, every bindings write
					    (regflush.c); NULL before
					    reg_housekeep_start */
	struct store *regst;             /* owned: the store over regw's
					    connection; its thread only */
	struct reg_job **regout;         /* owned: per worker, REGISTER jobs
					    done in the writer's current
					    batch (LIFO; its thread only) */
	enum sip_digest_alg algs[2];     /* offered, in challenge order */
	int nalgs;
	/* The workers, for handing work to the one that owns a flow: set
	 * by main before any worker runs, read-only afterwards. */
	struct sipd **workers;           /* borrowed array of nworkers */
	int nworkers;
	/* Shutdown (main.c): STOPPING once the loops stop (nobody waits for
	 * a full mailbox any more); CLOSING once the workers' SIP sides are
	 * being torn down (a mailbox message then only frees its argument). */
	atomic_int stopping, closing;
	/* presence (issue 7): server/sip/presence_sip.h */
	struct presence *pres;           /* owned: publications; locks inside */
	struct subtab *subs;             /* owned: subscriptions; locks inside */
	struct reflector *refl;          /* owned, NULL if --probe-udp off */
	struct relay *relay;             /* owned: the media relay (its own
					    io_uring thread), NULL if
					    --relay-addr off (callmedia.c) */
};

struct sipd {
	struct sipd_shared *sh;          /* borrowed */
	int id;                          /* worker number, for logs */
	struct event_base *base;         /* borrowed: the worker's loop */
	struct mailbox *mb;              /* borrowed: work handed to this
					    worker by other threads */
	struct store *store;             /* owned: this thread's connection */
	struct sip_tx_table *tx;         /* owned: UDP server transactions */
	struct sip_tx_table *txc;        /* owned: client transactions (the
					    server's requests to devices) */
	struct sip_tx_stats tx_seen;     /* what /metrics has of it so far */
	struct event *tx_timer;          /* owned */
	int udp_fd;                      /* owned, -1 if UDP is off */
	struct event *udp_ev;            /* owned */
	struct evconnlistener *tcp_lst;  /* owned, NULL if off */
	struct evconnlistener *tls_lst;  /* owned, NULL if off */
	struct stream_conn *conns;       /* owned list of open connections */
	struct event *flow_timer;        /* owned: sweeps flows, pings */
	struct dl_home *dl;              /* owned: deliveries homed here */
	_Atomic size_t dl_held;          /* bytes of delivery jobs read ahead
					  * for numbers homed here (the writer
					  * adds, any worker subtracts) */
	struct spread_batch **spread;    /* owned: per worker, datagrams of
					    this burst for it (or NULL) */
	char *rxbuf;                     /* owned: SIPD_UDP_RECV_BATCH UDP
					    datagrams of rxcap + 1 bytes */
	size_t rxcap;
	char *txbuf;                     /* owned: the response being built */
	size_t txcap;
	/* UDP answers of one read burst leave in one sendmmsg (udp.c) */
	struct sipd_udp_out *out;        /* owned, NULL if UDP is off */
	/* To tags: CSPRNG bytes drawn in bulk (dispatch.c) */
	uint8_t rnd[512];
	size_t rnd_used;
	/* presence (issue 7) */
	struct event *pres_timer;        /* owned: expiries, once a second */
	struct event *probe_ev;          /* owned, worker 0: the reflector's
					    socket (owns its fd), or NULL */
	struct txc_ctx *txc_live;        /* owned: callbacks of the client
					    transactions still open (txc.c) */
	struct call_home *calls;         /* owned: calls homed here (call.h) */
};

/* sipd.c: creates the worker's SIP side on BASE (binds its sockets).
 * Returns 0 or -errno (logged). */
int sipd_init(struct sipd *w, struct sipd_shared *sh, int id,
	      struct event_base *base, struct mailbox *mb);
void sipd_fini(struct sipd *w);
int sipd_shared_init(struct sipd_shared *sh, const struct config *cfg,
		     SSL_CTX *ssl_ctx);
void sipd_shared_fini(struct sipd_shared *sh);
/* Fails (-EADDRINUSE, logged) when a SIP port is already taken; call
 * before the workers bind with SO_REUSEPORT. */
int sipd_check_ports(const struct config *cfg);
int sipd_parse_algs(const char *list, enum sip_digest_alg *algs, int *n);
/* Parses ADDR:PORT ("127.0.0.1:5060", "[::1]:5060", "*:5060"). */
int sipd_parse_hostport(const char *s, union sipd_addr *out, socklen_t *len);
/* "1.2.3.4" / "::1" and the port of an address. */
void sipd_addr_str(const union sipd_addr *a, char *ip, size_t iplen,
		   uint16_t *port);

/* dispatch.c: one complete message from PEER. */
void sipd_dispatch_init(void);
void sipd_input(struct sipd *w, const struct sipd_peer *peer,
		const char *buf, size_t len);
/* Answers 513 to an oversize message when its head allows a response. */
void sipd_too_large(struct sipd *w, const struct sipd_peer *peer,
		    const char *buf, size_t len);
/* Sends BUF to PEER through its transport (peer->ops). */
static inline int sipd_send(struct sipd *w, const struct sipd_peer *peer,
			    const union sipd_addr *dest, const char *buf,
			    size_t len)
{
	return peer->ops->send(w, peer, dest, buf, len);
}
/* sipd.c: clocks */
uint64_t sipd_now_ms(void);
uint64_t sipd_now_us(void);
/* The IP of A as bytes (4 or 16) in *IP; returns the length (0: none). */
size_t sipd_addr_ip(const union sipd_addr *a, const uint8_t **ip);

/* udp.c: datagrams taken from the socket per recvmmsg(2) call */
#define SIPD_UDP_RECV_BATCH 16
int udp_open(struct sipd *w, const char *hostport);
void udp_close(struct sipd *w);
/* Sends BUF to DEST over the worker's UDP socket; inside a read burst it
 * is queued and leaves with the burst's other answers (one sendmmsg). */
int udp_send(struct sipd *w, const union sipd_addr *dest, socklen_t dlen,
	     const char *buf, size_t len);

/* The worker's UDP burst: its answers leave in one sendmmsg. */
void udp_burst_begin(struct sipd *w);
void udp_burst_end(struct sipd *w);

/* spread.c: datagrams of one source spread over the workers by Call-ID. */
/* The worker that handles BUF (W's own id when it stays). */
int spread_target(const struct sipd *w, const char *buf, size_t len);
/* Queues a copy for worker TO; 0 or -errno (then handle it here). */
int spread_add(struct sipd *w, int to, const struct sipd_peer *peer,
	       const char *buf, size_t len);
/* Hands the queued batches over (end of a read burst). */
void spread_flush(struct sipd *w);

/* stream.c: TCP and TLS listeners and connections. */
int stream_listen(struct sipd *w, enum sipd_tp tp, const char *hostport);
void stream_close_all(struct sipd *w);
int stream_send(struct stream_conn *c, const char *buf, size_t len);
/* The local address of C's socket. 0 or -errno. */
int stream_local_addr(struct stream_conn *c, union sipd_addr *out);
/* The worker's open connection with id ID, or NULL. */
struct stream_conn *stream_find(struct sipd *w, uint64_t id);
/* The connection carried a request that passed digest authentication:
 * from now on only --tcp-idle-timeout ends it, not --tcp-unauth-timeout. */
void stream_trust(struct stream_conn *c);

/* connlimit.c: open stream connections per client (IPv4 address, IPv6
 * /64), over all workers. */
int connlimit_new(int per_client, struct connlimit **out);
void connlimit_free(struct connlimit *t);
/* 0, or -EUSERS when the client is at its cap (nothing counted). */
int connlimit_acquire(struct connlimit *t, const union sipd_addr *a);
void connlimit_release(struct connlimit *t, const union sipd_addr *a);
/* The client's key: 16 bytes, the IPv4 address or the IPv6 /64. */
void connlimit_key(const union sipd_addr *a, uint8_t key[16]);

/* A response being built for a request (dispatch.c helpers). */
struct sipd_reply {
	struct sipd *w;
	const struct sipd_peer *peer;
	const struct sip_msg *req;
	struct sip_buf b;
	int status;
	char to_tag[24];
	uint64_t t0_us;             /* arrival, for the REGISTER latency */
	size_t req_len;             /* bytes of the request (amplification) */
	int proven;                 /* authenticated with a nonce bound to its
				     * source: may get a big or stateful answer */
	/* UDP: the transaction key, used when the answer is stateful */
	int have_key;
	struct sip_tx_key key;
	char sent_by[300], cseq[16];
	struct sip_tx *tx;          /* opened before a deferred answer
				     * (sipd_txn_open), or NULL */
};

/* A reply that waits for work off the loop (reply.c): copy the request
 * now; later, on the same worker, sipd_deferred_open() rebuilds R (and M)
 * to answer with sipd_reply_begin/send. -ENOTCONN if the stream closed. */
struct sipd_deferred;
struct sipd_deferred *sipd_defer(struct sipd_reply *r);
int sipd_deferred_open(struct sipd_deferred *d, struct sip_msg *m,
		       struct sipd_reply *r);
void sipd_deferred_free(struct sipd_deferred *d);

/* txn.c: server transactions of the worker */
void sipd_tx_arm(struct sipd *w);
/* Brings /metrics up to date with the worker's transaction table. */
void sipd_tx_metrics(struct sipd *w);
/* 1 if R is a retransmission a live transaction answered (and resent). */
int sipd_txn_absorb(struct sipd_reply *r);
/* A transaction opened now for an answer R gets later, or NULL. */
struct sip_tx *sipd_txn_open(struct sipd_reply *r);
/* invite.c's INVITE server transaction for R (UDP), or NULL. */
struct sip_tx *sipd_txn_invite(struct sipd_reply *r,
			       const union sipd_addr *dest);
/* Where R's answer goes (RFC 3261 s.18.2.2, RFC 3581). */
void sipd_reply_dest(struct sipd_reply *r, union sipd_addr *dest);
/* The transaction to keep R's final answer in, or NULL (stateless). */
struct sip_tx *sipd_txn_keep(struct sipd_reply *r, const union sipd_addr *dest);
/* flow.c: the flows bindings were made over, and whether each is alive
 * (RFC 5626). All functions lock inside; any thread. */
enum { FLOW_DEAD = 0, FLOW_ALIVE = 1, FLOW_UNKNOWN = 2 };
int flowtab_new(struct flowtab **out);
void flowtab_free(struct flowtab *t);
/* A REGISTER bound over F until EXPIRES_AT (Unix s): track it, with
 * keep-alive interval KA_S; OUTBOUND: the device sends its own. Returns 1
 * when the flow is new or was dead (the device may have texts waiting),
 * 0, or -ENOMEM. */
int flow_track(struct flowtab *t, const struct sipd_flow *f,
	       int64_t expires_at, int ka_s, int outbound, uint64_t now_ms);
/* Something arrived on F: alive (nothing happens for untracked flows). */
void flow_seen(struct flowtab *t, const struct sipd_flow *f, uint64_t now_ms);
/* A stream connection closed: its flow is gone. */
void flow_closed(struct flowtab *t, const struct sipd_flow *f);
/* FLOW_ALIVE, FLOW_DEAD, or FLOW_UNKNOWN (an untracked UDP flow, e.g.
 * after a restart: worth a try). *OWNER (optional) gets the tracked copy
 * (its current owner worker). */
int flow_state(struct flowtab *t, const struct sipd_flow *f,
	       struct sipd_flow *owner);
/* The answer (or not) to a server ping. */
void flow_ping_result(struct flowtab *t, const struct sipd_flow *f,
		      int answered, uint64_t now_ms);
typedef void (*flow_ping_fn)(void *arg, const struct sipd_flow *f);
/* Worker WORKER's share of the periodic sweep: marks silent UDP flows
 * dead, drops flows past their bindings' expiry, calls PING for UDP flows
 * due a server ping (outside the lock). Returns the flows found dead. */
size_t flow_sweep(struct flowtab *t, int worker, int nworkers,
		  uint64_t now_ms, int64_t now_s, flow_ping_fn ping, void *arg);
/* The flow binding B was made over (transport, "received" address,
 * connection id, owner). 0 or -EINVAL. */
struct store_binding;
int sipd_flow_of_binding(const struct store_binding *b, struct sipd_flow *f);
/* The flow to use for binding B (its tracked copy, with its current
 * owner; an untracked UDP flow as the binding names it): 0, -ENOTCONN
 * when the flow is known dead, -EINVAL for a binding without one. */
int sipd_flow_usable(struct sipd_shared *sh, const struct store_binding *b,
		     struct sipd_flow *out);
/* Presence: a device of NUMBER registered over the tracked flow F (a flow
 * keeps the last FLOW_NUMBERS). 0, or -ENOENT when F is not tracked. */
#define FLOW_NUMBERS 4
int flow_note_number(struct flowtab *t, const struct sipd_flow *f,
		     const char *number);
/* FN(ARG, NUMBER) for each number noted on a flow that dies (closed, or
 * found silent by the sweep) or comes back (anything arrives on a dead
 * flow): on the thread that saw it, no flow lock held. Set before the
 * workers start. */
typedef void (*flow_reach_fn)(void *arg, const char *number);
void flowtab_watch(struct flowtab *t, flow_reach_fn fn, void *arg);
/* The flow a message from PEER arrived on (worker W). */
void sipd_flow_of(const struct sipd *w, const struct sipd_peer *peer,
		  struct sipd_flow *f);

/* request.c: a request the server sends over flow F (owned by W). */
struct sipd_request {
	const char *method, *ruri, *from, *from_tag, *to, *to_tag, *call_id;
	uint32_t cseq;
};
/* Starts RQ in B (W's transmit buffer) with a Via for F's local address
 * and a fresh branch (written to BRANCH); add headers, then sip_msg_end.
 * 0, -ENOTCONN (the flow is gone) or -errno. */
int sipd_request_begin(struct sipd *w, const struct sipd_flow *f,
		       struct sip_buf *b, const struct sipd_request *rq,
		       char *branch, size_t bcap);
/* The local address a request over F leaves from (Via, Record-Route):
 * the stream's socket name, the bound UDP address, or for a wildcard the
 * address the kernel routes towards F. 0 or -errno. */
int sipd_local_addr(struct sipd *w, const struct sipd_flow *f,
		    union sipd_addr *out);
/* flow_ping_fn: an OPTIONS ping over F from worker ARG. */
void sipd_ping_flow(void *arg, const struct sipd_flow *f);

/* numbers.c: numbers with an account, and their devices (locks inside). */
int numbers_new(struct numbers **out);
void numbers_free(struct numbers *t);
int numbers_load(struct numbers *t, struct store *st);
/* Adds NUMBER (and its device USERNAME unless NULL). 0 or -errno. */
int numbers_add(struct numbers *t, const char *number, const char *username);
int numbers_has(struct numbers *t, const char *number);
/* The number of the device USERNAME: 0 or -ENOENT. */
int numbers_of_device(struct numbers *t, const char *username,
		      char number[17]);
/* Copies up to MAX device usernames of NUMBER into OUT; returns how many,
 * or -ENOENT for a number without an account. */
int numbers_devices(struct numbers *t, const char *number,
		    char (*out)[64], int max);

/* 1 when mailbox work must not run (see sipd_shared.closing). */
static inline int sipd_closing(const struct sipd *w)
{
	return atomic_load(&w->sh->closing);
}

/* The peer blob a client transaction keeps for FLOW. */
void sipd_txn_blob(const struct sipd_flow *f, void *out, size_t *len);


/* txc.c: client transactions of the server (requests to devices). */
typedef void (*sipd_txc_cb)(void *arg, int status, const struct sip_msg *resp);
/* A branch naming worker W (responses find their way back to it). */
int sipd_branch_for(const struct sipd *w, char *out, size_t cap);
/* Sends request BUF (whose top Via has BRANCH, from sipd_branch_for(W))
 * over F, which W must own, in a client transaction; CB runs once on W's
 * thread with the final status (408 on timeout). -ENOTCONN when the flow
 * is gone (nothing sent, CB not called), or another -errno. */
int sipd_txc_send(struct sipd *w, const struct sipd_flow *f,
		  const char *method, const char *branch, const char *buf,
		  size_t len, sipd_txc_cb cb, void *arg);
/* Shutdown: runs every pending callback with 503 (before the tx table
 * is freed, which would drop them silently). */
void sipd_txc_abort_all(struct sipd *w);
/* A response arrived: hand it to the worker's client transactions. */
void sipd_response_in(struct sipd *w, const struct sipd_peer *peer,
		      const struct sip_msg *m);
/* The tx table's timeout callback (timer B/F). */
void sipd_txc_timeout(void *arg, struct sip_tx *tx);

/* Status line + copied headers + Server; add headers to r->b, then
 * sipd_reply_send(). */
void sipd_reply_begin(struct sipd_reply *r, int status, const char *reason);
int sipd_reply_send(struct sipd_reply *r);
/*
 * Amplification budget: over UDP, a source that has not proven it can
 * receive (r->proven) gets no answer bigger than SIPD_AMP_FACTOR times its
 * request; a bigger one is dropped (counted). sipd_reply_room() says how
 * many more bytes r->b may take before SIPD_REPLY_TAIL (Content-Length
 * and the blank line) is added; SIZE_MAX when unbounded.
 */
#define SIPD_AMP_FACTOR 3
#define SIPD_REPLY_TAIL 24
size_t sipd_reply_room(const struct sipd_reply *r);
/* Shortcut: a complete response with no extra headers. */
int sipd_reply_simple(struct sipd_reply *r, int status, const char *reason);

/* authn.c: digest authentication. PROXY=0: Authorization, 401 (the
 * registrar); 1: Proxy-Authorization, 407. Returns 0 with *DEV (and
 * r->proven set) or -1 after answering. */
int sipd_authenticate(struct sipd_reply *r, int proxy,
		      struct store_device *dev);

/* 1 if URI user U names DEV: its number (with or without "+") or its
 * username (one-field clients). */
int sipd_user_is_device(struct sip_str u, const struct store_device *dev);

/* message.c: MESSAGE (texts in) */
void msg_handle(struct sipd_reply *r);
/* The number a Request-URI names, E.164 (or, for one-field clients, a
 * device username standing for its number). 0 or -EINVAL. */
int msg_recipient(const struct sipd_shared *sh, const struct sip_msg *m,
		  char out[17]);
/* deliver.c: texts and reports out to a number's devices. A hint that
 * NUMBER may have something to deliver (a text stored, a device came
 * back): any thread. */
void deliver_kick(struct sipd_shared *sh, const char *number);
/* Stores a text or report (QUEUE_TEXT, QUEUE_REPORT) for its recipient
 * number with queue_put() and hands it to the number's home while it is
 * committed (a device online gets it without waiting for the fsync and a
 * read); CB (may be NULL) gets the put's result on the writer thread, as
 * from queue_put(). Any thread. 0 or -errno, as queue_put(). */
struct queue_put;
struct queue_result;
int deliver_put(struct sipd_shared *sh, const struct queue_put *put,
		void (*cb)(void *arg, const struct queue_result *res),
		void *arg);
int deliver_init(struct sipd *w);
void deliver_fini(struct sipd *w);
/* publish.c, subscribe.c (presence, issue 7; more in presence_sip.h) */
void pres_publish_handle(struct sipd_reply *r);
void pres_subscribe_handle(struct sipd_reply *r);
int pres_shared_init(struct sipd_shared *sh);
void pres_shared_fini(struct sipd_shared *sh);
int pres_worker_init(struct sipd *w);
void pres_worker_fini(struct sipd *w);
/* offline.c: NUMBER gained or lost a live binding (a REGISTER on W): the
 * publications of its devices left without a usable binding are dropped
 * and its watchers, if any, get a NOTIFY (docs/presence.md, "When a
 * device goes offline"). */
void pres_bindings_changed(struct sipd *w, const char *number);
/* offline.c: numbers whose bindings expired (the registrar writer's expiry
 * job, after its commit): pres_lost_add is a regcache_expire_each() callback (cache lock
 * held: it only copies); pres_lost_flush, with no lock held, treats each
 * number as pres_bindings_changed does, NOTIFYs posted to the workers. */
struct pres_lost {
	char (*v)[24];                   /* owned: numbers */
	size_t n, cap;
};
void pres_lost_add(void *arg, const char *number);
void pres_lost_flush(struct sipd_shared *sh, struct pres_lost *l);
/* probe.c: R passed digest authentication: its source address may use
 * the netq probe reflector (--probe-udp) for a while. */
void probe_authenticated(const struct sipd_reply *r);

/* registrar.c */
struct reg_job;
void reg_handle(struct sipd_reply *r);
/* The registrar's writer after each batch (writer_config.on_dones, ARG
 * the sipd_shared): hands each worker its REGISTER answers in one
 * mailbox message, which sends them as one UDP burst. */
void reg_jobs_hand_back(void *arg);
/* The registrar's writer thread (every bindings write: REGISTER's
 * changes, write-behind, expiry; it loads the bindings into memory when it
 * opens) and the housekeeping thread (WAL checkpoints), regflush.c. Start
 * once the workers exist, before their loops run; stop after the loops
 * stopped, while their mailboxes still exist (answers wait there). */
int reg_housekeep_start(struct sipd_shared *sh);
void reg_housekeep_stop(struct sipd_shared *sh);

/* auth.c: nonce-count replay tracker (RFC 7616 s.3.4.6, RFC 8760), at
 * most MAX entries (rounded to a multiple of its 64 shards). */
int auth_nc_new(size_t max, struct auth_nc **out);
void auth_nc_free(struct auth_nc *nc);
/* Highest nonce-count a client may use with one nonce: one REGISTER a
 * second for a whole nonce lifetime stays far below it. */
#define AUTH_NC_LIMIT (1u << 20)
/* 0 if NC was not seen with NONCE before and is within 64 of the highest
 * seen (and records it); -EALREADY for a replay or a count too far behind; -ESTALE when the nonce may have been evicted
 * (issued no later than an evicted one: take a fresh nonce); -ERANGE for
 * nc 0 or above AUTH_NC_LIMIT; -EINVAL for a nonce that is not hex. NOW/TTL
 * in seconds bound how long entries live. */
int auth_nc_check(struct auth_nc *t, struct sip_str nonce, uint32_t nc,
		  uint64_t now, uint64_t ttl);
/* Entries held (for tests). */
size_t auth_nc_count(struct auth_nc *t);

/* devcache.c: devices by digest username, read through to the store ST
 * (the caller's connection). 0, -ENOENT, or another -errno. */
int devcache_new(struct devcache **out);
void devcache_free(struct devcache *dc);
int devcache_get(struct devcache *dc, struct store *st, const char *username,
		 struct store_device *out);

#endif
