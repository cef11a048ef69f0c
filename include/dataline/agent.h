/*
 * agent: the handset's SIP user agent. A UA core -- one flow to the
 * dataline server, client transactions routed by Via branch (RFC 3261
 * s.17.1) with digest 401/407 answered once for every method, incoming
 * requests handed to the handler registered for their method (s.8.2, s.17.2
 * retransmissions absorbed) -- and clients on top of it: registration,
 * texts (RFC 3428 MESSAGE out and in), presence publication (RFC 3903
 * PUBLISH).
 *
 * Registration keeps one binding alive at the dataline registrar over UDP, TCP or TLS:
 * REGISTER with digest authentication (RFC 3261 s.22, RFC 8760 SHA-256 or
 * MD5, qop=auth), refresh before the granted expiry, CRLF keep-alive over
 * TCP/TLS (RFC 5626 s.4.4.1), reconnect and re-register with the backoff
 * of RFC 5626 s.4.5 after a failure, and Expires: 0 on a clean stop.
 * Runs on the caller's libevent event_base.
 *
 * TLS trust (agent_tls_*): either a CA file (chain + host name checked), or
 * a pinned SHA-256 fingerprint of the server's certificate (the server's
 * default certificate is self-signed; the pin is learned when the handset
 * provisions its account), or trust on first use, which accepts the first
 * certificate and reports its fingerprint so the caller can pin it.
 */
#ifndef DATALINE_AGENT_H
#define DATALINE_AGENT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sip_msg;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

enum agent_transport { AGENT_TP_UDP, AGENT_TP_TCP, AGENT_TP_TLS };

/* Hex SHA-256 fingerprint: 64 lowercase hex digits + NUL. */
#define AGENT_PIN_LEN 65

struct agent_trust {
	const char *ca_file;     /* PEM CA bundle; NULL for the system store */
	const char *pin_sha256;  /* expected leaf fingerprint (hex, ':' allowed) */
	int tofu;                /* no CA, no pin: accept the first certificate */
};

/*
 * Client SSL_CTX (TLS 1.2+) that applies TRUST in its certificate check.
 * TRUST's strings must outlive the context. 0 or -errno.
 */
int agent_tls_ctx_new(const struct agent_trust *trust, SSL_CTX **out);
/* Prepares SSL for HOST (SNI for names; host/IP checked with a CA). */
int agent_tls_ssl_setup(SSL *ssl, const char *host);
/* Fingerprint of the peer certificate of an established SSL. */
int agent_tls_peer_pin(SSL *ssl, char out[AGENT_PIN_LEN]);
/* Normalises a fingerprint ("AB:CD.." or "abcd..") to 64 lowercase hex. */
int agent_pin_normalize(const char *in, char out[AGENT_PIN_LEN]);

enum agent_state {
	AGENT_IDLE,          /* created, not started */
	AGENT_CONNECTING,    /* TCP/TLS connect or TLS handshake running */
	AGENT_REGISTERING,   /* REGISTER in flight (maybe after a challenge) */
	AGENT_REGISTERED,    /* binding granted; refresh timer armed */
	AGENT_BACKOFF,       /* failed; waiting to retry (RFC 5626 s.4.5) */
	AGENT_UNREGISTERING, /* REGISTER with Expires: 0 in flight */
	AGENT_STOPPED,       /* stopped (after unregistering, or gave up) */
};

struct agent_config {
	enum agent_transport transport;
	const char *host;        /* registrar address (IP literal or name) */
	uint16_t port;
	const char *domain;      /* SIP domain: Request-URI and AOR host */
	const char *user;        /* AOR user part: the E.164 number */
	const char *username;    /* digest username (device credential) */
	const char *password;
	const char *instance;    /* +sip.instance URN (RFC 5626), may be NULL */
	const char *stale_contact; /* Contact URI an earlier run left bound;
				    * removed (expires=0) with the first
				    * REGISTER. May be NULL. */
	uint32_t expires;        /* requested binding lifetime, 0 -> 3600 */
	uint32_t keepalive;      /* CRLF ping interval (s) on TCP/TLS, 0 -> 120 */
	uint32_t retry_base;     /* backoff base (s), 0 -> RFC 5626's 30 */
	uint32_t retry_max;      /* backoff cap (s), 0 -> 1800 */
	struct agent_trust trust;
};

struct agent_events {
	/* Every state change; STATUS is the last final SIP status (or 0). */
	void (*state)(void *arg, enum agent_state st, int status);
	/* TOFU: the server certificate's fingerprint was accepted unpinned. */
	void (*pin)(void *arg, const char *pin_sha256);
};

struct agent;

/* CFG's strings are copied. EV may be NULL. */
int agent_new(struct event_base *base, const struct agent_config *cfg,
	      const struct agent_events *ev, void *arg, struct agent **out);
/* Connects and registers; failures are retried with backoff. */
int agent_start(struct agent *a);
/*
 * Sends REGISTER with Expires: 0 for our contact and moves to STOPPED when
 * it is answered, or after at most TIMEOUT_MS. -EALREADY if not running.
 */
int agent_stop(struct agent *a, uint32_t timeout_ms);
/* Cancels timers, closes the connection; no callbacks run. */
void agent_free(struct agent *a);

enum agent_state agent_state(const struct agent *a);
const char *agent_state_name(enum agent_state st);
/* Granted expiry of the current binding in seconds (0 if none). */
uint32_t agent_granted(const struct agent *a);
/* Our Contact URI as last sent (empty before the first REGISTER). */
const char *agent_contact(const struct agent *a);
/* The local address of the flow ("" before it opened; IPv6 in brackets),
 * e.g. for the media's c= line. */
const char *agent_local_addr(const struct agent *a);
enum agent_transport agent_transport(const struct agent *a);
const char *agent_transport_name(enum agent_transport tp);
int agent_transport_parse(const char *s, enum agent_transport *out);

/* ------------------------------------------------------------ UA core
 * Client requests. Any non-INVITE method, sent on the agent's flow once it
 * is connected; the core adds Via (new branch per attempt), From (our AOR,
 * tag), Max-Forwards, User-Agent, credentials it holds for the method, and
 * answers a 401/407 itself (once per fresh challenge, CSeq + 1; at most
 * AGENT_AUTH_TRIES), so the client sees only the final outcome. UDP
 * retransmissions (timers E/F) and absorbed duplicate responses are lib/sip's.
 * Everything is copied into one of AGENT_REQ_MAX fixed slots: nothing grows.
 */
#define AGENT_REQ_MAX 16     /* client requests in flight */
#define AGENT_BODY_MAX 4096  /* biggest body of a client request */
#define AGENT_HDRS_MAX 1024  /* extra header lines of a client request */
#define AGENT_URI_MAX 256

struct agent_req_params {
	const char *method;     /* "MESSAGE", "PUBLISH", ... */
	const char *ruri;       /* Request-URI */
	const char *to;         /* To URI; NULL = the Request-URI */
	const char *call_id;    /* NULL = a fresh one */
	const char *from_tag;   /* NULL = a fresh one */
	uint32_t cseq;          /* CSeq of the first attempt; 0 = 1 */
	const char *headers;    /* extra "Name: value\r\n" lines, or NULL */
	const char *ctype;      /* Content-Type of BODY */
	const void *body;
	size_t body_len;
};

struct agent_result {
	int status;             /* final status; 408 after timer F, 503 when
				 * the flow was lost (RFC 3261 s.8.1.3.1) */
	int local;              /* 1: STATUS was made up here, no response */
	uint32_t retry_after;   /* Retry-After seconds, 0 if none */
	uint32_t cseq;          /* CSeq of the last attempt */
	const struct sip_msg *resp; /* the final response (NULL when local);
				 * valid during the callback only */
};
/* Called once per request, never from inside agent_request(). */
typedef void (*agent_req_done)(void *arg, const struct agent_result *res);

struct agent_req;

/*
 * Sends a request. OUT (may be NULL) can cancel it until DONE has run.
 * -ENOTCONN (no flow), -ENOBUFS (all slots busy), -EMSGSIZE (body or
 * headers too big), -ENAMETOOLONG, -EINVAL (INVITE, ACK, CANCEL, no ruri).
 */
int agent_request(struct agent *a, const struct agent_req_params *p,
		  agent_req_done done, void *arg, struct agent_req **out);
/* Forgets a request in flight; DONE will not run. */
void agent_req_cancel(struct agent_req *r);
/* Number of client requests in flight. */
unsigned agent_req_count(const struct agent *a);

/*
 * Incoming requests. FN answers a request of METHOD with a final status
 * (200..699; anything else becomes 500); the core builds and sends the
 * response and keeps it to answer retransmissions of the request (RFC
 * 3261 s.17.2.2), so FN runs once per transaction. M is valid during the
 * call only. OPTIONS is answered 200 unless a handler is set; a known
 * method without a handler gets 405, an unknown one 501, both with an
 * Allow listing OPTIONS and the handled methods. FN NULL removes METHOD's
 * handler. -ENOBUFS when AGENT_HANDLER_MAX methods are handled,
 * -EINVAL for ACK/CANCEL/INVITE or a bad name.
 */
typedef int (*agent_handler)(void *arg, const struct sip_msg *m);
int agent_handle(struct agent *a, const char *method, agent_handler fn, void *arg);

/* ------------------------------------------------------------ texts
 * RFC 3428 MESSAGE. TO is a number ("+8613...": sip:TO@DOMAIN) or a whole
 * sip:/sips:/tel: URI. CALL_ID should be chosen by the caller and kept for
 * resends of the same text: the server recognises a resend of a
 * message/cpim text by its imdn.Message-ID, of a text/plain one by
 * Call-ID and CSeq (give the CSeq of the earlier attempt's result).
 * The result: 202/200 accepted; 4xx-6xx (Retry-After with 480/503);
 * 408 (no answer), 503 local (flow lost).
 */
struct agent_text {
	const char *to;
	const char *ctype;      /* "text/plain; charset=utf-8", "message/cpim" */
	const void *body;
	size_t body_len;
	const char *call_id;    /* NULL = a fresh one */
	uint32_t cseq;          /* 0 = 1 */
};
int agent_text_send(struct agent *a, const struct agent_text *t,
		    agent_req_done done, void *arg, struct agent_req **out);

/* An incoming MESSAGE as the hook sees it (valid during the call). */
struct agent_text_in {
	const char *from;       /* From URI */
	const char *from_user;  /* its user part, unescaped ("+8613...") */
	const char *ctype;      /* Content-Type value ("" if none) */
	const char *call_id;
	const void *body;
	size_t body_len;
	const struct sip_msg *m; /* the whole request */
};
/* FN returns the status to answer (200, or e.g. 480/500); NULL removes
 * the hook (MESSAGE is then answered 405). 0 or -errno. */
typedef int (*agent_text_in_fn)(void *arg, const struct agent_text_in *t);
int agent_on_text(struct agent *a, agent_text_in_fn fn, void *arg);


/* ------------------------------------------------------------ presence
 * RFC 3903 publication of the handset's own presence (Event: presence,
 * application/pidf+xml) to sip:USER@DOMAIN, one per agent. The document
 * set last is published with an initial PUBLISH; the SIP-ETag of each 2xx
 * is kept, the publication refreshed (SIP-If-Match, no body) before the
 * granted expiry, a new document sent as a modifying PUBLISH (SIP-If-Match
 * + body). 412 -> a fresh initial PUBLISH; 423 -> again with Min-Expires;
 * other failures retried with RFC 5626-style back-off (Retry-After wins);
 * a flow lost -> sent again once the agent has re-registered. After the
 * agent registers on a new flow the document is re-sent (modifying, so
 * 412 if the server dropped it). Nothing is sent while not registered.
 * Documents sent while one PUBLISH is in flight are coalesced: only the
 * newest goes. Free the publication before its agent.
 */
struct agent_pub_config {
	uint32_t expires;        /* requested lifetime (s), 0 -> 3600 */
	uint32_t retry_base;     /* back-off base (s), 0 -> 10 */
	uint32_t retry_max;      /* back-off cap (s), 0 -> 900 */
};
/* Every final outcome: STATUS (local 503/408 included) and whether a
 * publication is now in place at the server (an entity tag is held). */
typedef void (*agent_pub_cb)(void *arg, int status, int published);

struct agent_pub;

/* -EBUSY if the agent has a publication already. CFG and CB may be NULL. */
int agent_pub_new(struct agent *a, const struct agent_pub_config *cfg,
		  agent_pub_cb cb, void *arg, struct agent_pub **out);
/* The document to publish (copied; at most AGENT_BODY_MAX). Sent now if
 * registered and idle, else as soon as possible. A document equal to the
 * one in place sends nothing. -EMSGSIZE, -EINVAL, -ESHUTDOWN after
 * agent_pub_remove(). */
int agent_pub_set(struct agent_pub *p, const char *doc, size_t len);
/* Removes the publication (Expires: 0 with SIP-If-Match) once any PUBLISH
 * in flight is answered; nothing more is sent afterwards. -EALREADY if
 * called before. */
int agent_pub_remove(struct agent_pub *p);
/* Cancels the PUBLISH in flight and the timers; no callback runs. */
void agent_pub_free(struct agent_pub *p);
/* The entity tag held ("" if none) and the granted lifetime (s). */
const char *agent_pub_etag(const struct agent_pub *p);
uint32_t agent_pub_granted(const struct agent_pub *p);
/* Pure: seconds after a 2xx to refresh a publication granted GRANTED s:
 * 80 % of it, but at least 5 s before the end (and never below 1 s). */
uint32_t agent_pub_refresh_delay(uint32_t granted);

/* ------------------------------------------------------------ calls
 * RFC 3261 s.12-15 INVITE dialogs on the UA core (agent_call*.c). Every
 * request goes down the agent's one flow (the server is the outbound
 * proxy); the route set learnt from Record-Route (s.12.1) becomes Route
 * lines of the in-dialog requests (loose routing only), the remote
 * target (Contact) their Request-URI. SDP bodies are opaque here: the
 * caller supplies ours and gets the peer's.
 *
 * Out (UAC): agent_call_invite(); the server's 407 is answered with the
 * credentials the core keeps (as for MESSAGE), provisional answers are
 * reported by PROGRESS, a 2xx is ACKed end to end (again for each
 * retransmitted 2xx) and reported by ANSWERED, a 3xx-6xx is ACKed hop by
 * hop (lib/sip's INVITE client transaction) and reported by FAILED with
 * its Warning text (the server's C3 gate: 488 + Warning 370).
 * In (UAS): a new INVITE gets 100 and is handed to INCOMING, where (or
 * later) the caller rings (180), answers (200 + SDP, resent at T1..T2
 * until the ACK, BYE after 64*T1 without one) or rejects (486/603).
 * CANCEL -> 200 and 487 for the INVITE; BYE -> 200; a re-INVITE -> 200
 * with our SDP unchanged (488 if we have none).
 * Call objects live in AGENT_CALL_MAX slots of the agent; after ENDED or
 * FAILED returns, the call's pointer is gone (use the id to look it up).
 */
#define AGENT_CALL_MAX 4

enum agent_call_state {
	AGENT_CALL_CALLING,     /* out: INVITE sent, nothing back yet */
	AGENT_CALL_EARLY,       /* out: a 1xx came back (ringing) */
	AGENT_CALL_INCOMING,    /* in: INVITE received, not answered */
	AGENT_CALL_RINGING,     /* in: 180 sent */
	AGENT_CALL_ANSWERING,   /* in: 200 sent, waiting for the ACK */
	AGENT_CALL_CONFIRMED,   /* dialog established (media may flow) */
	AGENT_CALL_CANCELLING,  /* out: CANCEL wanted or sent */
	AGENT_CALL_TERMINATING, /* BYE sent, waiting for its answer */
	AGENT_CALL_ENDED,       /* reported; the slot is being released */
};

enum agent_call_end {
	AGENT_CALL_END_LOCAL,     /* we hung up (BYE sent) */
	AGENT_CALL_END_REMOTE,    /* the peer hung up (BYE received) */
	AGENT_CALL_END_CANCELLED, /* out: we cancelled; in: the caller did */
	AGENT_CALL_END_REJECTED,  /* in: we rejected (486/603/...) */
	AGENT_CALL_END_NOANSWER,  /* out: the ring timeout cancelled it */
	AGENT_CALL_END_NOACK,     /* in: no ACK for our 2xx in 64*T1 */
	AGENT_CALL_END_FLOW,      /* the flow to the server was lost */
};

struct agent_call;

/* An incoming INVITE as INCOMING sees it (valid during the call). */
struct agent_call_in {
	const char *from;       /* From URI */
	const char *from_user;  /* its user part, unescaped ("+8613...") */
	const char *call_id;
	const char *sdp;        /* the offer ("" if none) */
	size_t sdp_len;
	const struct sip_msg *m;
};

struct agent_call_events {
	/* A new incoming call: ring, answer or reject it now or later; do
	 * nothing and it stays INCOMING. NULL: calls are refused 480. */
	void (*incoming)(void *arg, struct agent_call *c,
			 const struct agent_call_in *in);
	/* Out: a 1xx other than 100 (180 ringing, 183 progress). */
	void (*progress)(void *arg, struct agent_call *c, int status);
	/* The dialog is confirmed: out on the 2xx (SDP = its body), in on
	 * the ACK (SDP = the INVITE's offer). */
	void (*answered)(void *arg, struct agent_call *c, const char *sdp,
			 size_t sdp_len);
	/* A call that was answered, or an incoming one, is over. STATUS: the
	 * final status that ended it (200 of a BYE, 487, 486, 408, 503). */
	void (*ended)(void *arg, struct agent_call *c, enum agent_call_end why,
		      int status);
	/* Out: the INVITE failed (3xx-6xx, 408 timer B, 503 flow lost).
	 * WARNING: the Warning header's value ("" if none). */
	void (*failed)(void *arg, struct agent_call *c, int status,
		       const char *warning);
};

struct agent_call_config {
	uint32_t ring_timeout;   /* out: CANCEL after this many s without a
				  * final answer; 0 -> 60 */
};

/* Sets the call callbacks (copied) and registers the BYE handler.
 * CFG may be NULL. 0 or -errno. */
int agent_call_setup(struct agent *a, const struct agent_call_config *cfg,
		     const struct agent_call_events *ev, void *arg);
/*
 * Calls TO (a number or a sip:/sips:/tel: URI, as for texts) with the
 * offer SDP (application/sdp, may be empty). USER is the caller's.
 * -ENOTCONN, -EBUSY (all slots taken), -EMSGSIZE, -EINVAL.
 */
int agent_call_invite(struct agent *a, const char *to, const char *sdp,
		      size_t sdp_len, void *user, struct agent_call **out);
/* In: 180 Ringing. -EALREADY once answered or ended. */
int agent_call_ring(struct agent_call *c);
/* In: 200 with our answer SDP. */
int agent_call_answer(struct agent_call *c, const char *sdp, size_t sdp_len);
/* In, before answering: STATUS 486, 603, 480 ... (ENDED REJECTED). */
int agent_call_reject(struct agent_call *c, int status);
/* Any state: CANCEL (out, not answered yet), reject 603 (in, not answered
 * yet), BYE (confirmed). ENDED follows when the peer answered. */
int agent_call_hangup(struct agent_call *c);

enum agent_call_state agent_call_state(const struct agent_call *c);
const char *agent_call_state_name(enum agent_call_state st);
const char *agent_call_end_name(enum agent_call_end why);
uint32_t agent_call_id(const struct agent_call *c);   /* >= 1, unique */
struct agent_call *agent_call_find(struct agent *a, uint32_t id);
int agent_call_outgoing(const struct agent_call *c);
const char *agent_call_remote(const struct agent_call *c); /* peer's URI */
const char *agent_call_callid(const struct agent_call *c);
/* The X-Dataline-Net value of the final answer that failed an outgoing
 * call (the server's C3 gate puts the figures that refused it there), ""
 * if it had none; valid in the failed callback. */
const char *agent_call_net(const struct agent_call *c);
void *agent_call_user(const struct agent_call *c);
void agent_call_set_user(struct agent_call *c, void *user);
unsigned agent_call_count(const struct agent *a);

/*
 * The handset's figures for the server's C3 gate: an OPTIONS from the
 * server is answered 200 with `X-Dataline-Net: rate=<kbps>;rtt=<ms>;
 * loss=<ppm>` filled by FN (no header when FN fails or is NULL): the
 * units the server reads (docs/calls.md, "The X-Dataline-Net header").
 */
struct agent_net {
	uint32_t rate_kbps, rtt_ms, loss_ppm;
};
typedef int (*agent_net_fn)(void *arg, struct agent_net *out);
void agent_call_on_net(struct agent *a, agent_net_fn fn, void *arg);

/*
 * Pure helpers, exposed for tests.
 * agent_call_route_set: the Route lines ("Route: <uri>\r\n" each) from
 * M's Record-Route values, in reverse order for a UAC (REVERSE = 1) and in
 * order for a UAS (s.12.1.1, s.12.1.2). 0, -ENOSPC, -EBADMSG.
 * agent_call_warn_code: the warn-code of a Warning value ("370 host
 * \"text\"" -> 370), or -EINVAL.
 * agent_net_format: "rate=..;rtt=..;loss=.." into OUT; 0 or -ENOSPC.
 */
int agent_call_route_set(const struct sip_msg *m, int reverse, char *out,
			 size_t cap);
int agent_call_warn_code(const char *warning);
int agent_net_format(const struct agent_net *n, char *out, size_t cap);

/*
 * Pure helpers, exposed for tests.
 * agent_refresh_delay: seconds after a 200 to send the refreshing REGISTER:
 * half the lifetime, but no earlier than 600 s before expiry.
 * agent_backoff_delay: RFC 5626 s.4.5 wait after FAILURES (>=1)
 * consecutive failures: min(max, base * 2^failures) scaled into
 * [50%, 100%] by RND (0..UINT32_MAX).
 * agent_parse_server_uri: "sip:HOST[:PORT][;transport=udp|tcp|tls]" or
 * "sips:..." (IPv6 in brackets) -> transport, host (without brackets) and
 * port (default 5060, or 5061 for TLS). 0 or -EINVAL.
 */
uint32_t agent_refresh_delay(uint32_t granted);
uint32_t agent_backoff_delay(uint32_t base, uint32_t max, unsigned failures,
			     uint32_t rnd);
int agent_parse_server_uri(const char *uri, enum agent_transport *tp,
			   char *host, size_t hostlen, uint16_t *port);

#endif
