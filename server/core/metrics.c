/*
 * metrics: lock-free counters, gauges and one histogram, rendered as
 * Prometheus text exposition format 0.0.4. See metrics.h for the names.
 *
 * Every metric is a slot in a static array of C11 atomics, updated with
 * relaxed ordering: a scrape may see two counters from slightly different
 * instants, which Prometheus tolerates, and no worker ever takes a lock.
 * Labelled counters use fixed label tables (methods, routes, statuses
 * 100..699) so that label cardinality is bounded whatever clients send.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define STATUS_MIN 100
#define STATUS_N 600 /* 100..699 */

static const char *const sip_methods[] = {
	"REGISTER", "OPTIONS", "INVITE", "ACK", "BYE", "CANCEL", "MESSAGE",
	"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "UPDATE", "PRACK", "REFER",
	"other",
};
#define SIP_METHOD_N ARRAY_LEN(sip_methods)

static const char *const http_routes[] = {
	"/v1/registrations", "/v1/registrations/verify", "/healthz",
	"/metrics", "/v1/contacts/discover", "other",
};
#define HTTP_ROUTE_N ARRAY_LEN(http_routes)

static const char *const verify_names[METRICS_VERIFY__N] = {
	"ok", "invalid_code", "expired", "too_many_tries", "no_pending",
};
static const char *const auth_names[METRICS_AUTH__N] = {
	"bad_password", "stale_nonce", "replayed_nonce", "unknown_user",
	"missing", "wrong_aor", "unsupported",
};
static const struct {
	const char *name, *help;
} counter_info[METRICS_COUNTER__N] = {
	{ "dataline_sip_parse_errors_total", "SIP messages that failed to parse" },
	{ "dataline_sip_oversize_messages_total", "SIP messages over --max-msg-size" },
	{ "dataline_tcp_connections_refused_total", "TCP/TLS connections refused at --max-tcp-conns" },
	{ "dataline_tls_handshake_failures_total", "TLS handshakes that failed" },
	{ "dataline_codes_sent_total", "one-time codes queued for SMS" },
	{ "dataline_codes_rate_limited_total", "code requests refused by the resend limits" },
	{ "dataline_sms_sent_total", "SMS accepted by the gateway" },
	{ "dataline_sms_failures_total", "SMS gateway failures (each is retried)" },
	{ "dataline_http_body_too_large_total", "HTTP requests refused with 413" },
	{ "dataline_sms_dropped_total", "SMS given up after a day of failures (logged)" },
	{ "dataline_http_accept_errors_total", "accept() failures on the HTTP(S) listeners (each pauses it 200 ms)" },
	{ "dataline_http_connections_refused_total", "HTTP(S) connections closed at once: over the per-client cap" },
	{ "dataline_http_deadline_closed_total", "HTTP(S) connections closed at the header or request deadline" },
	{ "dataline_http_duplicate_length_total", "HTTP requests refused for conflicting Content-Length headers" },
	{ "dataline_tcp_connections_refused_client_total", "TCP/TLS connections refused at --max-tcp-conns-per-client" },
	{ "dataline_tcp_unauthenticated_closed_total", "TCP/TLS connections closed at --tcp-unauth-timeout without authenticating" },
	{ "dataline_sip_transaction_evictions_total", "SIP server transactions dropped early to stay within the table's budget" },
	{ "dataline_sip_transactions_refused_total", "authenticated SIP answers sent statelessly (table full, key or answer too big)" },
	{ "dataline_sip_amplification_drops_total", "UDP answers dropped: over 3x the request towards an unproven address" },
	{ "dataline_sip_challenges_trimmed_total", "401s sent with the preferred challenge only (amplification budget)" },
	{ "dataline_sip_requests_sent_total", "requests the server sent to devices (client transactions)" },
	{ "dataline_sip_request_timeouts_total", "requests to devices that got no final answer (timer B/F)" },
	{ "dataline_mailbox_full_total", "work not handed to another worker: its mailbox was full" },
	{ "dataline_sip_udp_handed_over_total", "UDP datagrams handed to the worker their Call-ID hashes to" },
	{ "dataline_sip_keepalives_total", "keep-alives answered (CRLF pings, STUN binding requests)" },
	{ "dataline_sip_flows_dead_total", "flows found dead (closed, or silent past their keep-alive interval)" },
	{ "dataline_texts_accepted_total", "texts stored (fsynced) and answered 202" },
	{ "dataline_texts_duplicate_total", "texts already stored, answered 202 again and not stored twice" },
	{ "dataline_texts_too_large_total", "texts refused for their size (413)" },
	{ "dataline_texts_rate_limited_total", "texts refused by the per-sender rate (503)" },
	{ "dataline_texts_queue_full_total", "texts refused: the recipient's queue is full (480)" },
	{ "dataline_texts_delivered_total", "texts (and reports) a device acknowledged with 2xx" },
	{ "dataline_texts_delivery_retries_total", "delivery attempts that failed and will be retried" },
	{ "dataline_texts_refused_by_device_total", "texts a device refused for good (4xx/6xx)" },
	{ "dataline_texts_expired_total", "texts that expired undelivered (a failed report goes to the sender)" },
	{ "dataline_texts_sent_before_commit_total", "texts and reports handed to a device straight from memory while their row was being committed (deliver.c)" },
	{ "dataline_writer_batches_total", "transactions committed by the writer threads (group commits)" },
	{ "dataline_writer_jobs_total", "jobs run by the writer threads" },
	{ "dataline_writer_rejected_total", "writer jobs refused: the writer's queue was full" },
	{ "dataline_worker_commits_total", "SQLite commits run on a SIP worker's event loop (0: the loops never wait on the disk)" },
	{ "dataline_queue_puts_total", "items stored in the durable queue" },
	{ "dataline_queue_acks_total", "deliveries acknowledged (one per item and target)" },
	{ "dataline_queue_expired_total", "queue items removed unsent at their expiry" },
	{ "dataline_discover_numbers_total", "well-formed numbers answered by contact discovery" },
	{ "dataline_discover_limited_total", "contact discovery requests refused with 429 (rate or daily cap)" },
	{ "dataline_discover_auth_failures_total", "contact discovery requests answered 401 (challenge, wrong password, stale or replayed nonce)" },
	{ "dataline_presence_notifies_total", "presence NOTIFYs sent to watchers" },
	{ "dataline_calls_started_total", "INVITEs that became calls (trying; docs/calls.md)" },
	{ "dataline_calls_ringing_total", "calls that passed a 180/183 back" },
	{ "dataline_calls_answered_total", "calls answered (a 2xx passed back)" },
	{ "dataline_calls_ended_total", "calls ended (final non-2xx, CANCEL, BYE or timer C; statuses in dataline_sip_requests_total{method=\"INVITE\"})" },
	{ "dataline_calls_gate_refused_total", "calls refused by the C3 gate (488 + Warning 370)" },
	{ "dataline_calls_gate_asked_total", "C3 gate: OPTIONS sent to a callee for fresh figures" },
	{ "dataline_calls_gate_no_figures_total", "C3 gate: no figures at all (the --call-no-figures policy decided)" },
	{ "dataline_calls_bad_sdp_total", "INVITEs refused for a malformed SDP offer (488)" },
	{ "dataline_calls_media_timeout_total", "calls ended by the relay's media timeout" },
	{ "dataline_relay_packets_total", "RTP/RTCP packets the relay forwarded (both directions, counted when a call's relay session ends)" },
	{ "dataline_relay_bytes_total", "bytes the relay forwarded (counted at the session's end)" },
	{ "dataline_relay_lost_total", "RTP sequence gaps seen by the relay (counted at the session's end)" },
	{ "dataline_relay_strangers_total", "packets dropped at the relay: not from the latched peer (counted at the session's end)" },
};
static const struct {
	const char *name, *labels, *help;
} gauge_info[METRICS_GAUGE__N] = {
	{ "dataline_registrations", "", "current SIP registration bindings" },
	{ "dataline_accounts", "", "numbers with at least one device" },
	{ "dataline_devices", "", "provisioned devices" },
	{ "dataline_queue_depth", "{queue=\"sms\"}", "items waiting in a queue" },
	{ "dataline_queue_depth", "{queue=\"text\"}", "items waiting in a queue" },
	{ "dataline_queue_depth", "{queue=\"report\"}", "items waiting in a queue" },
	{ "dataline_connections", "{transport=\"tcp\"}", "open SIP connections" },
	{ "dataline_connections", "{transport=\"tls\"}", "open SIP connections" },
	{ "dataline_sip_transactions", "", "live SIP server transactions (UDP, all workers)" },
	{ "dataline_presence_publications", "", "device presence publications held (PUBLISH)" },
	{ "dataline_presence_subscriptions", "", "presence subscriptions held (SUBSCRIBE)" },
	{ "dataline_calls_active", "", "calls not yet ended (trying, ringing, answered)" },
	{ "dataline_relay_sessions", "", "open media relay sessions (four ports each)" },
};

/*
 * Histograms: fixed upper bounds (in the unit observed: microseconds or
 * jobs), rendered divided by `scale` (1e6: seconds). At most HIST_MAX
 * buckets, + the +Inf one.
 */
#define HIST_MAX 16
struct metrics_hist {
	const char *name, *help;
	const uint64_t *bounds;
	size_t nb;
	double scale;
	_Atomic uint64_t bucket[HIST_MAX + 1];
	_Atomic uint64_t sum, count;
};

/* Upper bounds of the REGISTER latency buckets, microseconds. */
static const uint64_t lat_bounds_us[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000,
};
static const uint64_t batch_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 };

enum { HIST_REGISTER, HIST_WRITER_BATCH, HIST_WRITER_COMMIT, HIST__N };
static struct metrics_hist hists[HIST__N] = {
	[HIST_REGISTER] = { "dataline_register_duration_seconds",
		"REGISTER handling time, arrival to final response",
		lat_bounds_us, ARRAY_LEN(lat_bounds_us), 1e6 },
	[HIST_WRITER_BATCH] = { "dataline_writer_batch_jobs",
		"jobs per group commit of the writer threads",
		batch_bounds, ARRAY_LEN(batch_bounds), 1 },
	[HIST_WRITER_COMMIT] = { "dataline_writer_commit_seconds",
		"writer transaction time, BEGIN to COMMIT returned (fsync included)",
		lat_bounds_us, ARRAY_LEN(lat_bounds_us), 1e6 },
};

static _Atomic uint64_t sip_req[SIP_METHOD_N][STATUS_N];
static _Atomic uint64_t http_req[HTTP_ROUTE_N][STATUS_N];
static _Atomic uint64_t verify_cnt[METRICS_VERIFY__N];
static _Atomic uint64_t auth_cnt[METRICS_AUTH__N];
static _Atomic uint64_t counters[METRICS_COUNTER__N];
static _Atomic int64_t gauges[METRICS_GAUGE__N];

static void metrics_bump(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t metrics_load(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static size_t metrics_sip_method_idx(const char *method)
{
	for (size_t i = 0; method && i < SIP_METHOD_N - 1; i++)
		if (strcmp(method, sip_methods[i]) == 0)
			return i;
	return SIP_METHOD_N - 1;
}

static size_t metrics_route_idx(const char *route)
{
	for (size_t i = 0; route && i < HTTP_ROUTE_N - 1; i++)
		if (strcmp(route, http_routes[i]) == 0)
			return i;
	return HTTP_ROUTE_N - 1;
}

static int metrics_status_ok(int status)
{
	return status >= STATUS_MIN && status < STATUS_MIN + STATUS_N;
}

void metrics_sip_request(const char *method, int status)
{
	if (metrics_status_ok(status))
		metrics_bump(&sip_req[metrics_sip_method_idx(method)][status - STATUS_MIN], 1);
}

uint64_t metrics_sip_requests_get(const char *method, int status)
{
	if (!metrics_status_ok(status))
		return 0;
	return metrics_load(&sip_req[metrics_sip_method_idx(method)][status - STATUS_MIN]);
}

void metrics_http_request(const char *route, int status)
{
	if (metrics_status_ok(status))
		metrics_bump(&http_req[metrics_route_idx(route)][status - STATUS_MIN], 1);
}

uint64_t metrics_http_requests_get(const char *route, int status)
{
	if (!metrics_status_ok(status))
		return 0;
	return metrics_load(&http_req[metrics_route_idx(route)][status - STATUS_MIN]);
}

void metrics_code_verification(enum metrics_verify_result r)
{
	if ((unsigned)r < METRICS_VERIFY__N)
		metrics_bump(&verify_cnt[r], 1);
}

void metrics_auth_failure(enum metrics_auth_reason r)
{
	if ((unsigned)r < METRICS_AUTH__N)
		metrics_bump(&auth_cnt[r], 1);
}

void metrics_inc(enum metrics_counter c)
{
	metrics_add(c, 1);
}

void metrics_add(enum metrics_counter c, uint64_t n)
{
	if ((unsigned)c < METRICS_COUNTER__N)
		metrics_bump(&counters[c], n);
}

uint64_t metrics_counter_get(enum metrics_counter c)
{
	return (unsigned)c < METRICS_COUNTER__N ? metrics_load(&counters[c]) : 0;
}

void metrics_gauge_set(enum metrics_gauge g, int64_t v)
{
	if ((unsigned)g < METRICS_GAUGE__N)
		atomic_store_explicit(&gauges[g], v, memory_order_relaxed);
}

void metrics_gauge_add(enum metrics_gauge g, int64_t delta)
{
	if ((unsigned)g < METRICS_GAUGE__N)
		atomic_fetch_add_explicit(&gauges[g], delta, memory_order_relaxed);
}

int64_t metrics_gauge_get(enum metrics_gauge g)
{
	if ((unsigned)g >= METRICS_GAUGE__N)
		return 0;
	return atomic_load_explicit(&gauges[g], memory_order_relaxed);
}

static void metrics_observe(struct metrics_hist *h, uint64_t v)
{
	size_t i = 0;

	while (i < h->nb && v > h->bounds[i])
		i++;
	metrics_bump(&h->bucket[i], 1);
	metrics_bump(&h->sum, v);
	metrics_bump(&h->count, 1);
}

void metrics_register_latency_us(uint64_t usec)
{
	metrics_observe(&hists[HIST_REGISTER], usec);
}

void metrics_writer_batch(uint64_t jobs, uint64_t commit_usec)
{
	metrics_bump(&counters[METRICS_WRITER_BATCHES], 1);
	metrics_bump(&counters[METRICS_WRITER_JOBS], jobs);
	metrics_observe(&hists[HIST_WRITER_BATCH], jobs);
	metrics_observe(&hists[HIST_WRITER_COMMIT], commit_usec);
}

static void metrics_render_labelled(FILE *f)
{
	fputs("# HELP dataline_sip_requests_total SIP requests by method and final status sent\n"
	      "# TYPE dataline_sip_requests_total counter\n", f);
	for (size_t m = 0; m < SIP_METHOD_N; m++)
		for (size_t s = 0; s < STATUS_N; s++) {
			uint64_t v = metrics_load(&sip_req[m][s]);

			if (v)
				fprintf(f, "dataline_sip_requests_total{method=\"%s\",status=\"%zu\"} %llu\n",
					sip_methods[m], s + STATUS_MIN, (unsigned long long)v);
		}
	fputs("# HELP dataline_http_requests_total HTTP API requests by route and status\n"
	      "# TYPE dataline_http_requests_total counter\n", f);
	for (size_t r = 0; r < HTTP_ROUTE_N; r++)
		for (size_t s = 0; s < STATUS_N; s++) {
			uint64_t v = metrics_load(&http_req[r][s]);

			if (v)
				fprintf(f, "dataline_http_requests_total{route=\"%s\",status=\"%zu\"} %llu\n",
					http_routes[r], s + STATUS_MIN, (unsigned long long)v);
		}
	fputs("# HELP dataline_code_verifications_total code verification attempts by result\n"
	      "# TYPE dataline_code_verifications_total counter\n", f);
	for (size_t i = 0; i < METRICS_VERIFY__N; i++)
		fprintf(f, "dataline_code_verifications_total{result=\"%s\"} %llu\n",
			verify_names[i], (unsigned long long)metrics_load(&verify_cnt[i]));
	fputs("# HELP dataline_sip_auth_failures_total SIP digest authentication failures by reason\n"
	      "# TYPE dataline_sip_auth_failures_total counter\n", f);
	for (size_t i = 0; i < METRICS_AUTH__N; i++)
		fprintf(f, "dataline_sip_auth_failures_total{reason=\"%s\"} %llu\n",
			auth_names[i], (unsigned long long)metrics_load(&auth_cnt[i]));
}

static void metrics_render_plain(FILE *f)
{
	const char *last = "";

	for (size_t i = 0; i < METRICS_COUNTER__N; i++)
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
			counter_info[i].name, counter_info[i].help,
			counter_info[i].name, counter_info[i].name,
			(unsigned long long)metrics_load(&counters[i]));
	for (size_t i = 0; i < METRICS_GAUGE__N; i++) {
		/* HELP/TYPE once per family (several label sets share a name) */
		if (strcmp(last, gauge_info[i].name) != 0)
			fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n",
				gauge_info[i].name, gauge_info[i].help,
				gauge_info[i].name);
		last = gauge_info[i].name;
		fprintf(f, "%s%s %lld\n", gauge_info[i].name, gauge_info[i].labels,
			(long long)metrics_gauge_get((enum metrics_gauge)i));
	}
}

static void metrics_render_histogram(FILE *f, struct metrics_hist *h)
{
	uint64_t cum = 0;

	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help,
		h->name);
	for (size_t i = 0; i <= h->nb; i++) {
		cum += metrics_load(&h->bucket[i]);
		if (i < h->nb)
			fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", h->name,
				(double)h->bounds[i] / h->scale,
				(unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", h->name,
				(unsigned long long)cum);
	}
	if (h->scale == 1)
		fprintf(f, "%s_sum %llu\n", h->name,
			(unsigned long long)metrics_load(&h->sum));
	else
		fprintf(f, "%s_sum %.6f\n", h->name,
			(double)metrics_load(&h->sum) / h->scale);
	fprintf(f, "%s_count %llu\n", h->name,
		(unsigned long long)metrics_load(&h->count));
}

int metrics_render(char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return -ENOMEM;
	metrics_render_labelled(f);
	metrics_render_plain(f);
	for (size_t i = 0; i < HIST__N; i++)
		metrics_render_histogram(f, &hists[i]);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return -ENOMEM;
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}

void metrics_reset(void)
{
	for (size_t m = 0; m < SIP_METHOD_N; m++)
		for (size_t s = 0; s < STATUS_N; s++)
			atomic_store(&sip_req[m][s], 0);
	for (size_t r = 0; r < HTTP_ROUTE_N; r++)
		for (size_t s = 0; s < STATUS_N; s++)
			atomic_store(&http_req[r][s], 0);
	for (size_t i = 0; i < METRICS_VERIFY__N; i++)
		atomic_store(&verify_cnt[i], 0);
	for (size_t i = 0; i < METRICS_AUTH__N; i++)
		atomic_store(&auth_cnt[i], 0);
	for (size_t i = 0; i < METRICS_COUNTER__N; i++)
		atomic_store(&counters[i], 0);
	for (size_t i = 0; i < METRICS_GAUGE__N; i++)
		atomic_store(&gauges[i], 0);
	for (size_t h = 0; h < HIST__N; h++) {
		for (size_t i = 0; i <= HIST_MAX; i++)
			atomic_store(&hists[h].bucket[i], 0);
		atomic_store(&hists[h].sum, 0);
		atomic_store(&hists[h].count, 0);
	}
}
