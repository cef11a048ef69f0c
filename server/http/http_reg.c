/*
 * http_reg: the two provisioning calls (docs/protocol.md, "HTTP
 * provisioning API"):
 *   POST /v1/registrations         {"number"} -> a code by SMS and a
 *                                  registration session id, 202
 *   POST /v1/registrations/verify  {"number","code","session"} -> SIP
 *                                  credentials
 * Each request opens its own session with its own code and tries, so a
 * stranger's wrong guesses never kill the code the owner received, and
 * the send limits count by number, by client prefix and by both, so no
 * single prefix can use up a number's SMS (docs/decisions.md).
 * The code logic itself is in code.c (pure), the credentials in creds.c;
 * this file is the glue to JSON, the store, the SMS queue and metrics.
 * All of it runs on the API's event loop thread, so two requests for one
 * number never interleave between reading and updating its code.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/metrics.h"
#include "../sms/sms.h"
#include "../store/store.h"
#include "code.h"
#include "creds.h"
#include "dataline/e164.h"
#include "dataline/jsonreq.h"
#include "dataline/log.h"
#include "http_impl.h"

#define ROUTE_REQ "/v1/registrations"
#define ROUTE_VERIFY "/v1/registrations/verify"
/* room for any string of a default-sized (4 KiB) body */
#define HTTP_REG_STR_MAX 4096

/*
 * Parses the JSON body (with lib/util/jsonreq, strict and allocation-free)
 * into a normalised number and, when code is not NULL, the code and
 * session strings (both required then). On failure returns -EINVAL with
 * *why set to the API error code ("invalid_json" or "invalid_number").
 */
static int http_reg_parse(struct evhttp_request *req, char number[E164_MAX],
			  char *code, size_t code_cap, char *session,
			  size_t session_cap, const char **why)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = (const char *)evbuffer_pullup(in, -1);
	char raw[HTTP_REG_STR_MAX];
	struct jsonreq_field f[3] = {
		{ .name = "number", .buf = raw, .cap = sizeof(raw) },
		{ .name = "code", .buf = code, .cap = code_cap },
		{ .name = "session", .buf = session, .cap = session_cap },
	};

	*why = "invalid_json";
	/* a string that fills more than a whole default-sized body (-E2BIG)
	 * is reported as invalid JSON */
	if (jsonreq_parse(body ? body : "", body ? len : 0, f, code ? 3 : 1))
		return -EINVAL;
	if (code && (f[1].found != JSONREQ_STRING ||
		     f[2].found != JSONREQ_STRING))
		return -EINVAL;
	*why = "invalid_number";
	if (f[0].found != JSONREQ_STRING || e164_normalize(raw, f[0].len, number))
		return -EINVAL;
	return 0;
}

void http_reg_update_gauges(struct http_api *api)
{
	uint64_t n;

	if (store_count_accounts(api->st, &n) == 0)
		metrics_gauge_set(METRICS_ACCOUNTS, (int64_t)n);
	if (store_count_devices(api->st, &n) == 0)
		metrics_gauge_set(METRICS_DEVICES, (int64_t)n);
}

static void http_reg_internal(struct evhttp_request *req, const char *route,
			      const char *what, int err)
{
	log_err("http: %s: %s", what, strerror(-err));
	http_reply_error(req, route, 500, "internal", "internal error, try again",
			 NULL);
}

/* Stores the new code and the send-log entry together, then queues the SMS. */
static int http_reg_issue_code(struct http_api *api, const char *number,
			       const char *client, int64_t now,
			       char session[STORE_SESSION_MAX])
{
	struct store_code c;
	char code[CODE_DIGITS + 1], text[64];
	int err;

	err = code_new(number, now, api->cfg.code_ttl, &c, code);
	if (err)
		return err;
	err = store_begin(api->st);
	if (err)
		goto out;
	err = store_code_put(api->st, &c);
	if (!err)
		err = store_send_log_add(api->st, number, client, now);
	if (!err)
		err = store_commit(api->st);
	else
		store_rollback(api->st);
	if (err)
		goto out;
	snprintf(text, sizeof(text), "Your dataline code is %s", code);
	err = sms_send(api->sms, number, text);
	OPENSSL_cleanse(text, sizeof(text));
	if (!err)
		memcpy(session, c.session, sizeof(c.session));
out:
	OPENSSL_cleanse(code, sizeof(code));
	return err;
}

/* Reads what the send limits need from the send log. */
static int http_reg_history(struct http_api *api, const struct code_limits *lim,
			    const char *number, const char *client, int64_t now,
			    struct code_history *h)
{
	int err;

	/* the resend interval runs from the last code this client had sent
	 * to the number, whether that code is still pending or was used */
	err = store_send_log_last(api->st, number, client, &h->last_sent);
	if (err == -ENOENT)
		h->last_sent = -1;
	else if (err)
		return err;
	for (int i = 0; i < CODE_W__N; i++) {
		const struct code_window_info *w = &code_windows[i];
		const char *n = w->by_number ? number : NULL;
		const char *c = w->by_client ? client : NULL;
		int64_t since = now - w->length;

		err = store_send_log_count(api->st, n, c, since, &h->sent[i]);
		if (!err && h->sent[i] >= (uint64_t)lim->max[i])
			err = store_send_log_nth(api->st, n, c, since,
						 h->sent[i] - (uint64_t)lim->max[i],
						 &h->oldest[i]);
		if (err)
			return err;
	}
	return 0;
}

static const char *const http_reg_limit_names[CODE_W__N + 1] = {
	[CODE_W_NUMBER_HOUR] = "number_hour",
	[CODE_W_CLIENT_HOUR] = "client_hour",
	[CODE_W_NUMBER_CLIENT_HOUR] = "number_client_hour",
	[CODE_W_NUMBER_DAY] = "number_day",
	[CODE_W_NUMBER_CLIENT_DAY] = "number_client_day",
	[CODE_W__N] = "resend_interval",
};

void http_reg_request(struct http_api *api, struct evhttp_request *req)
{
	struct code_limits lim = {
		.resend_interval = api->cfg.code_resend_interval,
		.max = {
			[CODE_W_NUMBER_HOUR] = api->cfg.code_max_per_number_hour,
			[CODE_W_CLIENT_HOUR] = api->cfg.code_max_per_client_hour,
			[CODE_W_NUMBER_CLIENT_HOUR] = api->cfg.code_max_per_number_client_hour,
			[CODE_W_NUMBER_DAY] = api->cfg.sms_max_per_number_day,
		},
	};
	char number[E164_MAX], addr[64], client[CLIENT_KEY_MAX], ra[24];
	char session[STORE_SESSION_MAX];
	struct code_history h = { .last_sent = -1 };
	int64_t now = (int64_t)time(NULL), retry_after;
	enum code_window which;
	const char *why;
	int err;

	code_limits_share(&lim);
	if (http_reg_parse(req, number, NULL, 0, NULL, 0, &why)) {
		http_reply_error(req, ROUTE_REQ, 400, why,
				 strcmp(why, "invalid_json") == 0
					 ? "body must be a JSON object"
					 : "number must be E.164: + and 8-15 digits",
				 NULL);
		return;
	}
	http_client_addr(req, addr, sizeof(addr));
	client_prefix(addr, api->cfg.client_prefix_v4, api->cfg.client_prefix_v6,
		      client);
	err = http_reg_history(api, &lim, number, client, now, &h);
	if (err) {
		http_reg_internal(req, ROUTE_REQ, "send log", err);
		return;
	}
	if (code_rate_check(&lim, now, &h, &retry_after, &which)) {
		metrics_inc(METRICS_CODES_RATE_LIMITED);
		log_info("http: code for %s from %s (%s) rate limited by %s (%lld s)",
			 number, addr, client, http_reg_limit_names[which],
			 (long long)retry_after);
		snprintf(ra, sizeof(ra), "%lld", (long long)retry_after);
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Retry-After", ra);
		http_reply_error(req, ROUTE_REQ, 429, "rate_limited",
				 "too many codes requested; retry later",
				 json_pack("{s:I, s:s}", "retry_after",
					   (json_int_t)retry_after, "limit",
					   http_reg_limit_names[which]));
		return;
	}
	err = http_reg_issue_code(api, number, client, now, session);
	if (err) {
		http_reg_internal(req, ROUTE_REQ, "issuing a code", err);
		return;
	}
	metrics_inc(METRICS_CODES_SENT);
	log_info("http: code sent to %s (requested from %s, counted as %s)",
		 number, addr, client);
	http_reply_json(req, ROUTE_REQ, 202,
			json_pack("{s:s, s:s, s:i, s:i}", "number", number,
				  "session", session,
				  "expires_in", api->cfg.code_ttl,
				  "resend_after", api->cfg.code_resend_interval));
}

/* Creates the device and consumes the code in one transaction. */
static int http_reg_new_device(struct http_api *api, const char *number,
			       const char *session, int64_t now,
			       struct creds *cr)
{
	int err = -EEXIST;

	/* a username collision (32 random bits) just draws another */
	for (int i = 0; i < 4 && err == -EEXIST; i++) {
		err = creds_new(number, api->domain, now, cr);
		if (err)
			return err;
		err = store_begin(api->st);
		if (err)
			return err;
		err = store_device_add(api->st, &cr->dev);
		if (!err)
			err = store_code_delete(api->st, session);
		if (!err)
			err = store_commit(api->st);
		else
			store_rollback(api->st);
	}
	if (!err && api->cfg.on_device_added)
		api->cfg.on_device_added(api->cfg.hook_arg, number,
					 cr->dev.username);
	return err;
}

static json_t *http_reg_creds_json(struct http_api *api, const struct creds *cr)
{
	json_t *uris = json_array();
	char aor[128];

	for (int i = 0; uris && i < api->n_sip_uris; i++)
		json_array_append_new(uris, json_string(api->sip_uris[i]));
	snprintf(aor, sizeof(aor), "sip:%s@%s", cr->dev.number, api->domain);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s}",
			 "number", cr->dev.number,
			 "username", cr->dev.username,
			 "password", cr->password,
			 "domain", api->domain,
			 "realm", api->domain,
			 "sip_uris", uris,
			 "aor", aor);
}

void http_reg_verify(struct http_api *api, struct evhttp_request *req)
{
	char number[E164_MAX], code[HTTP_REG_STR_MAX], session[HTTP_REG_STR_MAX];
	struct store_code pending;
	struct creds cr;
	int64_t now = (int64_t)time(NULL);
	uint64_t ndev;
	const char *why;
	int err, tries;

	if (http_reg_parse(req, number, code, sizeof(code), session,
			   sizeof(session), &why)) {
		http_reply_error(req, ROUTE_VERIFY, 400, why,
				 strcmp(why, "invalid_json") == 0
					 ? "body must be a JSON object with number, code and session strings"
					 : "number must be E.164: + and 8-15 digits",
				 NULL);
		return;
	}
	err = strlen(session) < STORE_SESSION_MAX
		      ? store_code_get(api->st, session, &pending) : -ENOENT;
	/* a session of another number is no session at all for this one */
	if (err == -ENOENT || (!err && strcmp(pending.number, number) != 0)) {
		metrics_code_verification(METRICS_VERIFY_NO_PENDING);
		http_reply_error(req, ROUTE_VERIFY, 404, "no_pending_code",
				 "no such registration session for this number; "
				 "request a code", NULL);
		return;
	}
	if (err) {
		http_reg_internal(req, ROUTE_VERIFY, "code lookup", err);
		return;
	}

	switch (code_check(&pending, code, strlen(code), now,
			   api->cfg.code_max_tries)) {
	case CODE_TOO_MANY_TRIES:
		metrics_code_verification(METRICS_VERIFY_TOO_MANY_TRIES);
		http_reply_error(req, ROUTE_VERIFY, 429, "too_many_tries",
				 "too many wrong codes; request a new code", NULL);
		return;
	case CODE_EXPIRED:
		metrics_code_verification(METRICS_VERIFY_EXPIRED);
		http_reply_error(req, ROUTE_VERIFY, 410, "code_expired",
				 "the code has expired; request a new code", NULL);
		return;
	case CODE_INVALID:
		err = store_code_add_try(api->st, session, &tries);
		if (err) {
			http_reg_internal(req, ROUTE_VERIFY, "code try", err);
			return;
		}
		metrics_code_verification(METRICS_VERIFY_INVALID_CODE);
		log_info("http: wrong code for %s (%d of %d)", number, tries,
			 api->cfg.code_max_tries);
		http_reply_error(req, ROUTE_VERIFY, 403, "invalid_code",
				 "wrong code",
				 json_pack("{s:i}", "tries_left",
					   tries < api->cfg.code_max_tries
						   ? api->cfg.code_max_tries - tries : 0));
		return;
	case CODE_OK:
		break;
	}
	/* after the code, so that only the number's owner learns this */
	err = store_count_number_devices(api->st, number, &ndev);
	if (err) {
		http_reg_internal(req, ROUTE_VERIFY, "device count", err);
		return;
	}
	if (ndev >= (uint64_t)api->cfg.max_devices_per_number) {
		log_info("http: number %s has %llu devices, at the cap", number,
			 (unsigned long long)ndev);
		http_reply_error(req, ROUTE_VERIFY, 409, "too_many_devices",
				 "this number has the most devices allowed; "
				 "remove one first",
				 json_pack("{s:i}", "max_devices",
					   api->cfg.max_devices_per_number));
		return;
	}
	err = http_reg_new_device(api, number, session, now, &cr);
	if (err) {
		http_reg_internal(req, ROUTE_VERIFY, "creating the device", err);
		return;
	}
	metrics_code_verification(METRICS_VERIFY_OK);
	http_reg_update_gauges(api);
	log_info("http: number %s verified, new device %s", number, cr.dev.username);
	http_reply_json(req, ROUTE_VERIFY, 200, http_reg_creds_json(api, &cr));
	OPENSSL_cleanse(&cr, sizeof(cr));
}
