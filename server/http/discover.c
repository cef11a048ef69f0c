/*
 * discover: POST /v1/contacts/discover, contact discovery (patent claim 3,
 * issue 7; docs/protocol.md "Contact discovery"). A device sends the
 * numbers of its address book, the server answers which of them are
 * registered and what they can do:
 *   "text"   the number has a device provisioned: texts to it are stored
 *            and forwarded when it registers;
 *   "voice"  ... and it has a live SIP binding right now (a call can ring).
 *
 * Authentication is the device's SIP credentials as HTTP Digest (RFC 7616;
 * SHA-256 and MD5, qop=auth), checked against the same stored HA1s, so
 * the realm is the SIP domain they were computed with. Nonces come from
 * lib/sip/nonce.c under a key of the HTTP API's own (a SIP nonce is no
 * HTTP nonce), bound to the client's IP; the nonce-count replay tracker
 * is server/sip/auth.c's module, one instance owned by the HTTP API.
 *
 * The order, each step answering at most once:
 *   plain HTTP without --discover-on-http -> 403 https_required
 *   no credentials for our realm          -> 401, both challenges
 *   algorithm/qop not offered             -> 401 (before any user lookup)
 *   digest uri is not this request's      -> 400 (RFC 7616 s.3.4.6)
 *   unknown user / wrong response         -> 401 (same answer, same hash)
 *   right response, old/foreign nonce     -> 401 stale=true
 *   nonce-count not above the last        -> 401 (replay)
 *   no request token left                 -> 429 rate_limited + Retry-After
 *   body not {"numbers":[...]}            -> 400 invalid_json
 *   more than DISCOVER_MAX_NUMBERS        -> 413 too_many_numbers
 *   new distinct numbers over the cap     -> 429 daily_limit + Retry-After
 *   then 200 with one result per entry, in the request's order.
 * The body's byte bound is enforced before it is read: the dispatcher
 * gives this route DISCOVER_MAX_BODY, which is evhttp's own hard limit,
 * and evhttp answers 413 to a larger Content-Length without reading it.
 *
 * Where it reads: the device (HA1) and whether a number has devices from
 * this thread's SQLite connection, as the provisioning calls do: indexed
 * lookups, all of one request in one read snapshot (no write lock, so the
 * registrar goes on; statement by statement, SQLite's file locking was
 * most of the cost). A 1,000-number request holds this loop for a few
 * milliseconds (docs/bench.md, "Contact discovery"). The live bindings
 * come from the registrar's in-memory cache (server/sip/regcache.h, its
 * lock held per number), or from the store while the registrar has not
 * loaded it yet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "../core/metrics.h"
#include "../sip/regcache.h"
#include "../sip/sipd.h"
#include "../store/store.h"
#include "dataline/e164.h"
#include "dataline/jsonreq.h"
#include "dataline/log.h"
#include "dataline/sip.h"
#include "discover_limit.h"
#include "http_impl.h"

#define ROUTE ROUTE_DISCOVER
/* one address-book entry as sent, kept for the answer; longer entries are
 * reported as not a phone number */
#define DISCOVER_INPUT_MAX 64

static int64_t disc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The client's IP as bytes (4 or 16) for binding nonces; 0 if unknown. */
static size_t disc_peer_ip(struct evhttp_request *req, uint8_t ip[16])
{
	char addr[64];

	http_client_addr(req, addr, sizeof(addr));
	if (inet_pton(AF_INET, addr, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, addr, ip) == 1)
		return 16;
	return 0;
}

static void disc_challenge(struct http_api *api, struct evhttp_request *req,
			   int stale)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char nonce[SIP_NONCE_LEN + 1], val[512];
	uint8_t ip[16];
	size_t iplen = disc_peer_ip(req, ip);

	metrics_inc(METRICS_DISCOVER_AUTH_FAILURES);
	if (sip_nonce_make(api->nonce_key, (uint64_t)time(NULL), ip, iplen,
			   nonce)) {
		http_reply_error(req, ROUTE, 500, "internal", "nonce failure",
				 NULL);
		return;
	}
	/* one nonce for both (RFC 7616 s.3.7), the preferred one first */
	for (int i = 0; i < api->nalgs; i++) {
		struct sip_buf b;

		sip_buf_init(&b, val, sizeof(val));
		sip_digest_challenge_value(&b, api->algs[i], api->domain, nonce,
					   stale, NULL);
		if (sip_buf_finish(&b, NULL) == 0)
			evhttp_add_header(h, "WWW-Authenticate", val);
	}
	http_reply_error(req, ROUTE, 401, "unauthorized",
			 stale ? "stale nonce, retry with the new one"
			       : "digest authentication required",
			 NULL);
}

/* The Authorization line for our realm: 0, -ENOENT, -EBADMSG. */
static int disc_find_credentials(struct evhttp_request *req, const char *realm,
				 struct sip_digest_credentials *out)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	int bad = 0;

	TAILQ_FOREACH(kv, h, next) {
		struct sip_digest_credentials c;
		int rc;

		if (strcasecmp(kv->key, "Authorization") != 0)
			continue;
		rc = sip_digest_credentials_decode(
			(struct sip_str){ kv->value, strlen(kv->value) }, &c);
		if (rc == -EBADMSG)
			bad = 1;
		if (rc)
			continue;
		if (sip_str_eq(c.realm, realm)) {
			*out = c;
			return 0;
		}
	}
	return bad ? -EBADMSG : -ENOENT;
}

static int disc_alg_offered(const struct http_api *api, enum sip_digest_alg a)
{
	for (int i = 0; i < api->nalgs; i++)
		if (api->algs[i] == a)
			return 1;
	return 0;
}

/*
 * Answers and returns -1 on failure; 0 with *dev on success. As in the
 * registrar, usernames are not told apart: an unknown one is checked
 * against a dummy HA1 of the right length and gets the same 401.
 */
static int disc_authenticate(struct http_api *api, struct evhttp_request *req,
			     struct store_device *dev)
{
	static const char dummy_ha1[] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	struct sip_digest_credentials c;
	char user[STORE_USERNAME_MAX];
	const char *ha1 = NULL, *uri = evhttp_request_get_uri(req);
	uint64_t now = (uint64_t)time(NULL);
	uint8_t ip[16];
	size_t iplen;
	int rc;

	rc = disc_find_credentials(req, api->domain, &c);
	if (rc == -ENOENT) {
		disc_challenge(api, req, 0);
		return -1;
	}
	if (rc) {
		http_reply_error(req, ROUTE, 400, "bad_authorization",
				 "malformed Authorization header", NULL);
		return -1;
	}
	if (!disc_alg_offered(api, c.alg) || !sip_str_caseeq(c.qop, "auth")) {
		disc_challenge(api, req, 0);
		return -1;
	}
	if (!uri || !sip_str_eq(c.uri, uri)) {
		http_reply_error(req, ROUTE, 400, "bad_authorization",
				 "digest uri is not the request's", NULL);
		return -1;
	}
	if (sip_str_copy(c.username, user, sizeof(user)) == 0 &&
	    store_device_get(api->st, user, dev) == 0)
		ha1 = c.alg == SIP_DIGEST_MD5 ? dev->ha1_md5 : dev->ha1_sha256;
	if (ha1 && !ha1[0])
		ha1 = NULL;
	rc = sip_digest_verify(&c, SIP_STR_LIT("POST"),
			       ha1 ? ha1 : dummy_ha1 +
					   (c.alg == SIP_DIGEST_MD5 ? 32 : 0));
	if (rc == -EBADMSG) {
		http_reply_error(req, ROUTE, 400, "bad_authorization",
				 "malformed digest credentials", NULL);
		return -1;
	}
	if (!ha1 || rc) {
		log_info("http: discover: wrong digest response for %s",
			 ha1 ? user : "an unknown user");
		disc_challenge(api, req, 0);
		return -1;
	}
	/* the password was right: only the nonce may be at fault now */
	iplen = disc_peer_ip(req, ip);
	if (sip_nonce_check(api->nonce_key, c.nonce, now,
			    (uint64_t)api->cfg.nonce_ttl, ip, iplen, NULL)) {
		disc_challenge(api, req, 1);
		return -1;
	}
	rc = auth_nc_check(api->nc, c.nonce, c.nc_value, now,
			   (uint64_t)api->cfg.nonce_ttl);
	if (rc == -ESTALE) {
		disc_challenge(api, req, 1);
		return -1;
	}
	if (rc) {
		log_info("http: discover: %s replayed nonce-count %u", user,
			 c.nc_value);
		disc_challenge(api, req, 0);
		return -1;
	}
	return 0;
}

static void disc_too_many(struct evhttp_request *req, const char *code,
			  const char *msg, int retry_after)
{
	char ra[16];

	metrics_inc(METRICS_DISCOVER_LIMITED);
	snprintf(ra, sizeof(ra), "%d", retry_after > 0 ? retry_after : 1);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
			  ra);
	http_reply_error(req, ROUTE, 429, code, msg,
			 json_pack("{s:i}", "retry_after", retry_after));
}

/* ------------------------------------------------------------ entries */

enum disc_state { DISC_OK, DISC_NOT_STRING, DISC_NOT_NUMBER };

struct disc_entry {
	enum disc_state state;
	char input[DISCOVER_INPUT_MAX + 1];
	char number[E164_MAX];
};

struct disc_parse {
	struct disc_entry *e;    /* DISCOVER_MAX_NUMBERS of them */
	size_t n;
	const char *cc;          /* default country code, "" if none */
};

static int disc_elem_cb(void *arg, size_t index, enum jsonreq_found kind,
			const char *s, size_t len)
{
	struct disc_parse *p = arg;
	struct disc_entry *e = &p->e[index];

	p->n = index + 1;
	switch (kind) {
	case JSONREQ_STRING:
		memcpy(e->input, s, len + 1);
		e->state = e164_normalize_national(s, len, p->cc, e->number)
				   ? DISC_NOT_NUMBER : DISC_OK;
		break;
	case JSONREQ_TOO_LONG:
		e->state = DISC_NOT_NUMBER;
		break;
	default:
		e->state = DISC_NOT_STRING;
		break;
	}
	return 0;
}

static int disc_binding_cb(const struct store_binding *b, void *arg)
{
	(void)b;
	*(int *)arg = 1;
	return 1; /* one is enough */
}

/* 1 if NUMBER has a live SIP binding now. */
static int disc_live(struct http_api *api, const char *number, int64_t now)
{
	struct regcache *rc = api->cfg.regcache;
	int live = -1;

	if (rc) {
		regcache_lock(rc);
		if (regcache_loaded(rc))
			live = regcache_count_device(rc, number, NULL, now) > 0;
		regcache_unlock(rc);
	}
	if (live < 0) {
		/* the registrar loads its cache at its first write; until
		 * then the store has every binding */
		live = 0;
		store_binding_list(api->st, number, now, disc_binding_cb, &live);
	}
	return live;
}

static json_t *disc_result(struct http_api *api, const struct disc_entry *e,
			   int64_t now)
{
	uint64_t ndev = 0;
	json_t *o, *caps;

	if (e->state == DISC_NOT_STRING)
		return json_pack("{s:n, s:s}", "input", "error", "not a string");
	if (e->state == DISC_NOT_NUMBER)
		return json_pack("{s:s, s:s}", "input", e->input, "error",
				 "not a phone number");
	caps = json_array();
	if (store_count_number_devices(api->st, e->number, &ndev) == 0 &&
	    ndev > 0) {
		json_array_append_new(caps, json_string("text"));
		if (disc_live(api, e->number, now))
			json_array_append_new(caps, json_string("voice"));
	}
	o = json_pack("{s:s, s:s, s:b, s:o}", "input", e->input, "number",
		      e->number, "registered", ndev > 0, "capabilities", caps);
	return o;
}

void http_discover(struct http_api *api, struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), nvalid = 0, fresh = 0;
	const char *body;
	struct disc_parse p = { .cc = api->cfg.default_country_code
					      ? api->cfg.default_country_code
					      : "" };
	char scratch[DISCOVER_INPUT_MAX + 1];
	struct store_device dev;
	uint64_t *hashes = NULL;
	int64_t now_ms = disc_now_ms();
	json_t *results = NULL;
	int err, retry = 0, reading;

	if (!api->cfg.discover_on_http && api->lst[0] && conn &&
	    evhttp_connection_get_server(conn) == api->lst[0]->h) {
		http_reply_error(req, ROUTE, 403, "https_required",
				 "contact discovery is served over HTTPS only",
				 NULL);
		return;
	}
	if (disc_authenticate(api, req, &dev))
		return;
	err = dlimit_take_request(api->dlim, dev.number, now_ms, &retry);
	if (err == -EAGAIN) {
		disc_too_many(req, "rate_limited",
			      "too many discovery requests", retry);
		return;
	}
	p.e = calloc(DISCOVER_MAX_NUMBERS, sizeof(*p.e));
	hashes = calloc(DISCOVER_MAX_NUMBERS, sizeof(*hashes));
	if (err || !p.e || !hashes) {
		http_reply_error(req, ROUTE, 500, "internal", "out of memory",
				 NULL);
		goto out;
	}
	body = (const char *)evbuffer_pullup(in, -1);
	err = jsonreq_array(body ? body : "", body ? len : 0, "numbers",
			    scratch, sizeof(scratch), DISCOVER_MAX_NUMBERS,
			    disc_elem_cb, &p, NULL);
	if (err == -E2BIG) {
		metrics_inc(METRICS_HTTP_BODY_TOO_LARGE);
		http_reply_error(req, ROUTE, 413, "too_many_numbers",
				 "at most 1000 numbers per request",
				 json_pack("{s:i}", "max_numbers",
					   DISCOVER_MAX_NUMBERS));
		goto out;
	}
	if (err) {
		http_reply_error(req, ROUTE, 400, "invalid_json",
				 "want {\"numbers\": [\"+4930...\", ...]}",
				 NULL);
		goto out;
	}
	for (size_t i = 0; i < p.n; i++)
		if (p.e[i].state == DISC_OK)
			hashes[nvalid++] = dlimit_hash(api->dlim, p.e[i].number);
	err = dlimit_count(api->dlim, dev.number, hashes, nvalid, now_ms,
			   &fresh, &retry);
	if (err == -EDQUOT || err == -ENOSPC) {
		log_info("http: discover: %s over the daily limit (%zu new "
			 "numbers)", dev.number, fresh);
		disc_too_many(req, "daily_limit",
			      "too many distinct numbers looked up today",
			      retry);
		goto out;
	}
	if (err) {
		http_reply_error(req, ROUTE, 500, "internal", "out of memory",
				 NULL);
		goto out;
	}
	metrics_add(METRICS_DISCOVER_NUMBERS, nvalid);
	results = json_array();
	/* one snapshot for all lookups: SQLite then takes its file locks
	 * once, not once per statement (they were most of the cost) */
	reading = store_read_begin(api->st) == 0;
	for (size_t i = 0; results && i < p.n; i++)
		json_array_append_new(results,
				      disc_result(api, &p.e[i], now_ms / 1000));
	if (reading)
		store_commit(api->st);
	http_reply_json(req, ROUTE, 200,
			json_pack("{s:o, s:i}", "results", results,
				  "remaining_today",
				  (json_int_t)dlimit_remaining(api->dlim,
							       dev.number,
							       now_ms)));
out:
	free(hashes);
	free(p.e);
}
