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
