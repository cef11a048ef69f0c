/*
 * metrics: dataline-server's counters, gauges and the REGISTER latency
 * histogram, exported as Prometheus text (exposition format 0.0.4) at
 * GET /metrics. Every call is thread-safe and lock-free (relaxed C11
 * atomics on static arrays), so any worker thread may call them on its
 * hot path. Nothing to initialise; metrics_reset() is for tests.
 */
#ifndef DATALINE_SERVER_METRICS_H
#define DATALINE_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* dataline_sip_requests_total{method="REGISTER",status="200"}: one per
 * request answered, status = the FINAL response code we sent (200..699).
 * Unknown methods are counted as method="other". */
void metrics_sip_request(const char *method, int status);

/* dataline_http_requests_total{route="/v1/registrations",status="202"}.
 * Routes outside the API's table are counted as route="other". */
void metrics_http_request(const char *route, int status);

enum metrics_verify_result {
	METRICS_VERIFY_OK,
	METRICS_VERIFY_INVALID_CODE,
	METRICS_VERIFY_EXPIRED,
	METRICS_VERIFY_TOO_MANY_TRIES,
	METRICS_VERIFY_NO_PENDING,
	METRICS_VERIFY__N
};
/* dataline_code_verifications_total{result="ok|invalid_code|..."} */
void metrics_code_verification(enum metrics_verify_result r);

enum metrics_auth_reason {
	METRICS_AUTH_BAD_PASSWORD,
	METRICS_AUTH_STALE_NONCE,
	METRICS_AUTH_REPLAYED_NONCE,
	METRICS_AUTH_UNKNOWN_USER,
	METRICS_AUTH_MISSING,       /* no credentials: challenged (401) */
	METRICS_AUTH_WRONG_AOR,     /* To user is not the device's number (403) */
	METRICS_AUTH_UNSUPPORTED,   /* algorithm or qop we do not offer (401) */
	METRICS_AUTH__N
};
/* dataline_sip_auth_failures_total{reason="bad_password|..."} */
void metrics_auth_failure(enum metrics_auth_reason r);

/* Plain counters: dataline_<name>_total. */
enum metrics_counter {
	METRICS_SIP_PARSE_ERRORS,     /* dataline_sip_parse_errors_total */
	METRICS_SIP_OVERSIZE,         /* dataline_sip_oversize_messages_total */
	METRICS_TCP_REFUSED,          /* dataline_tcp_connections_refused_total */
	METRICS_TLS_HANDSHAKE_FAIL,   /* dataline_tls_handshake_failures_total */
	METRICS_CODES_SENT,           /* dataline_codes_sent_total */
	METRICS_CODES_RATE_LIMITED,   /* dataline_codes_rate_limited_total */
	METRICS_SMS_SENT,             /* dataline_sms_sent_total (gateway took it) */
	METRICS_SMS_FAILURES,         /* dataline_sms_failures_total (will retry) */
	METRICS_HTTP_BODY_TOO_LARGE,  /* dataline_http_body_too_large_total */
	METRICS_SMS_DROPPED,          /* dataline_sms_dropped_total (gave up) */
	METRICS_HTTP_ACCEPT_ERRORS,   /* dataline_http_accept_errors_total */
	METRICS_HTTP_CONNS_REFUSED,   /* dataline_http_connections_refused_total */
	METRICS_HTTP_DEADLINE_CLOSED, /* dataline_http_deadline_closed_total */
	METRICS_HTTP_DUP_LENGTH,      /* dataline_http_duplicate_length_total */
	METRICS_TCP_REFUSED_CLIENT,   /* dataline_tcp_connections_refused_client_total */
	METRICS_TCP_UNAUTH_CLOSED,    /* dataline_tcp_unauthenticated_closed_total */
	METRICS_SIP_TX_EVICTIONS,     /* dataline_sip_transaction_evictions_total */
	METRICS_SIP_TX_STATELESS,     /* dataline_sip_transactions_refused_total */
	METRICS_SIP_AMP_DROPS,        /* dataline_sip_amplification_drops_total */
	METRICS_SIP_CHALLENGES_TRIMMED, /* dataline_sip_challenges_trimmed_total */
	METRICS_SIP_TXC_SENT,         /* dataline_sip_requests_sent_total */
	METRICS_SIP_TXC_TIMEOUTS,     /* dataline_sip_request_timeouts_total */
	METRICS_MAILBOX_FULL,         /* dataline_mailbox_full_total */
	METRICS_UDP_SPREAD,           /* dataline_sip_udp_handed_over_total */
	METRICS_KEEPALIVES,           /* dataline_sip_keepalives_total */
	METRICS_FLOWS_DEAD,           /* dataline_sip_flows_dead_total */
	METRICS_TEXTS_ACCEPTED,       /* dataline_texts_accepted_total (202, stored) */
	METRICS_TEXTS_DUPLICATE,      /* dataline_texts_duplicate_total (202, not stored again) */
	METRICS_TEXTS_TOO_LARGE,      /* dataline_texts_too_large_total (413) */
	METRICS_TEXTS_RATE_LIMITED,   /* dataline_texts_rate_limited_total (503) */
	METRICS_TEXTS_QUEUE_FULL,     /* dataline_texts_queue_full_total (480) */
	METRICS_TEXTS_DELIVERED,      /* dataline_texts_delivered_total (a device's 2xx) */
	METRICS_TEXTS_RETRIED,        /* dataline_texts_delivery_retries_total */
	METRICS_TEXTS_REFUSED,        /* dataline_texts_refused_by_device_total */
	METRICS_TEXTS_EXPIRED,        /* dataline_texts_expired_total */
	METRICS_TEXTS_CUT_THROUGH,    /* dataline_texts_sent_before_commit_total */
	METRICS_WRITER_BATCHES,       /* dataline_writer_batches_total (commits) */
	METRICS_WRITER_JOBS,          /* dataline_writer_jobs_total */
	METRICS_WRITER_REJECTED,      /* dataline_writer_rejected_total (queue full) */
	METRICS_WORKER_COMMITS,       /* dataline_worker_commits_total (must stay 0) */
	METRICS_QUEUE_PUTS,           /* dataline_queue_puts_total */
	METRICS_QUEUE_ACKS,           /* dataline_queue_acks_total (per target) */
	METRICS_QUEUE_EXPIRED,        /* dataline_queue_expired_total */
	METRICS_DISCOVER_NUMBERS,     /* dataline_discover_numbers_total */
	METRICS_DISCOVER_LIMITED,     /* dataline_discover_limited_total */
	METRICS_DISCOVER_AUTH_FAILURES, /* dataline_discover_auth_failures_total */
	METRICS_PRESENCE_NOTIFIES,    /* dataline_presence_notifies_total */
	METRICS_CALLS_STARTED,        /* dataline_calls_started_total (trying) */
	METRICS_CALLS_RINGING,        /* dataline_calls_ringing_total */
	METRICS_CALLS_ANSWERED,       /* dataline_calls_answered_total */
	METRICS_CALLS_ENDED,          /* dataline_calls_ended_total */
	METRICS_CALLS_GATE_REFUSED,   /* dataline_calls_gate_refused_total (488) */
	METRICS_CALLS_GATE_ASKED,     /* dataline_calls_gate_asked_total (OPTIONS) */
	METRICS_CALLS_GATE_NO_FIGURES, /* dataline_calls_gate_no_figures_total */
	METRICS_CALLS_BAD_SDP,        /* dataline_calls_bad_sdp_total (488) */
	METRICS_CALLS_MEDIA_TIMEOUT,  /* dataline_calls_media_timeout_total */
	METRICS_RELAY_PACKETS,        /* dataline_relay_packets_total (ended calls) */
	METRICS_RELAY_BYTES,          /* dataline_relay_bytes_total */
	METRICS_RELAY_LOST,           /* dataline_relay_lost_total */
	METRICS_RELAY_STRANGERS,      /* dataline_relay_strangers_total */
	METRICS_COUNTER__N
};
void metrics_inc(enum metrics_counter c);
void metrics_add(enum metrics_counter c, uint64_t n);

/* Gauges: dataline_<name>. */
enum metrics_gauge {
	METRICS_REGISTRATIONS,        /* dataline_registrations (bindings) */
	METRICS_ACCOUNTS,             /* dataline_accounts */
	METRICS_DEVICES,              /* dataline_devices */
	METRICS_QUEUE_SMS,            /* dataline_queue_depth{queue="sms"} */
	METRICS_QUEUE_TEXT,           /* dataline_queue_depth{queue="text"} */
	METRICS_QUEUE_REPORT,         /* dataline_queue_depth{queue="report"} */
	METRICS_CONNECTIONS_TCP,      /* dataline_connections{transport="tcp"} */
	METRICS_CONNECTIONS_TLS,      /* dataline_connections{transport="tls"} */
	METRICS_SIP_TRANSACTIONS,     /* dataline_sip_transactions (UDP server) */
	METRICS_PRESENCE_PUBLICATIONS, /* dataline_presence_publications */
	METRICS_PRESENCE_SUBSCRIPTIONS, /* dataline_presence_subscriptions */
	METRICS_CALLS_ACTIVE,         /* dataline_calls_active (not yet ended) */
	METRICS_RELAY_SESSIONS,       /* dataline_relay_sessions (open) */
	METRICS_GAUGE__N
};
void metrics_gauge_set(enum metrics_gauge g, int64_t v);
void metrics_gauge_add(enum metrics_gauge g, int64_t delta);
int64_t metrics_gauge_get(enum metrics_gauge g);

/* dataline_register_duration_seconds histogram: time from a REGISTER's
 * arrival to its final response being sent, in microseconds. */
void metrics_register_latency_us(uint64_t usec);

/* One group commit of the writer thread (server/core/writer.h): its jobs
 * (dataline_writer_batch_jobs histogram) and how long BEGIN..COMMIT took
 * (dataline_writer_commit_seconds histogram, microseconds given). */
void metrics_writer_batch(uint64_t jobs, uint64_t commit_usec);

/* Reads back one counter (tests and /metrics). */
uint64_t metrics_sip_requests_get(const char *method, int status);
uint64_t metrics_http_requests_get(const char *route, int status);
uint64_t metrics_counter_get(enum metrics_counter c);

/* Renders everything as Prometheus text into a malloc'd NUL-terminated
 * buffer (*out, free() it) of *len bytes. Returns 0 or -ENOMEM. */
int metrics_render(char **out, size_t *len);

/* Zeroes every metric (unit tests only). */
void metrics_reset(void);

#endif
