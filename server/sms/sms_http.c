/*
 * sms_http: the Kannel-compatible HTTP SMS gateway (Kannel's sendsms
 * interface: GET /cgi-bin/sendsms?...&to=...&text=...; see the Kannel
 * user guide, "Sending SMS messages"). The operator's URL template carries
 * %to and %text placeholders which are replaced URL-encoded (RFC 3986
 * percent-encoding of everything but the unreserved characters).
 *
 * One keep-alive evhttp connection (HTTP/1.1, RFC 9112) carries one
 * request at a time. Any 2xx means the gateway accepted the SMS; any other
 * status, a connection error or a timeout is a failure that the queue
 * retries later (sms.c).
 */
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/log.h"
#include "sms_impl.h"

/* Appends SRC[0..n) to the growing string *p (len *len). */
static int sms_append(char **p, size_t *len, const char *src, size_t n)
{
	char *q = realloc(*p, *len + n + 1);

	if (!q)
		return -ENOMEM;
	memcpy(q + *len, src, n);
	*len += n;
	q[*len] = '\0';
	*p = q;
	return 0;
}

int sms_http_expand(const char *tmpl, const char *to, const char *text,
		    char **out)
{
	char *res = NULL, *enc_to, *enc_text;
	size_t len = 0;
	const char *s = tmpl;
	int err = 0;

	if (!tmpl || !to || !text || !out)
		return -EINVAL;
	enc_to = evhttp_uriencode(to, -1, 0);
	enc_text = evhttp_uriencode(text, -1, 0);
	if (!enc_to || !enc_text) {
		err = -ENOMEM;
		goto out;
	}
	err = sms_append(&res, &len, "", 0);
	while (!err && *s) {
		if (strncmp(s, "%to", 3) == 0) {
			err = sms_append(&res, &len, enc_to, strlen(enc_to));
			s += 3;
		} else if (strncmp(s, "%text", 5) == 0) {
			err = sms_append(&res, &len, enc_text, strlen(enc_text));
			s += 5;
		} else {
			err = sms_append(&res, &len, s, 1);
			s++;
		}
	}
	if (!err) {
		*out = res;
		res = NULL;
	}
out:
	free(res);
	free(enc_to);
	free(enc_text);
	return err;
}

int sms_http_init(struct sms_gateway *gw, const char *tmpl)
{
	struct evhttp_uri *uri = NULL;
	char *probe = NULL;
	const char *host, *scheme;
	int err = 0;

	if (strncmp(tmpl, "https://", 8) == 0) {
		log_err("sms: https gateways are not supported; use http:// on a trusted network");
		return -ENOTSUP;
	}
	/* the host part must not depend on the placeholders */
	err = sms_http_expand(tmpl, "+10000000000", "x", &probe);
	if (err)
		return err;
	uri = evhttp_uri_parse(probe);
	scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
	host = uri ? evhttp_uri_get_host(uri) : NULL;
	if (!scheme || strcmp(scheme, "http") != 0 || !host || !*host) {
		/* not echoed: it may hold the gateway's password */
		log_err("sms: bad gateway URL template (want http://HOST[:PORT]/PATH?...%%to...%%text)");
		err = -EINVAL;
		goto out;
	}
	gw->url_tmpl = strdup(tmpl);
	gw->host = strdup(host);
	if (!gw->url_tmpl || !gw->host) {
		err = -ENOMEM;
		goto out;
	}
	gw->port = evhttp_uri_get_port(uri);
	if (gw->port <= 0)
		gw->port = 80;
	/* names need a resolver; IP literals connect directly */
	if (strspn(host, "0123456789.") != strlen(host) && !strchr(host, ':'))
		gw->dns = evdns_base_new(gw->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	gw->conn = evhttp_connection_base_new(gw->base, gw->dns, gw->host,
					      (unsigned short)gw->port);
	if (!gw->conn) {
		err = -ENOMEM;
		goto out;
	}
	evhttp_connection_set_retries(gw->conn, 0);
out:
	if (uri)
		evhttp_uri_free(uri);
	free(probe);
	return err;
}

void sms_http_fini(struct sms_gateway *gw)
{
	/* frees a pending request too, without calling its callback: the
	 * message stays queued for the next start */
	if (gw->conn)
		evhttp_connection_free(gw->conn);
	gw->conn = NULL;
	if (gw->dns)
		evdns_base_free(gw->dns, 0);
	gw->dns = NULL;
	free(gw->url_tmpl);
	free(gw->host);
}

static const char *sms_http_errstr(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT: return "timeout";
	case EVREQ_HTTP_EOF: return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER: return "invalid response";
	case EVREQ_HTTP_BUFFER_ERROR: return "connection error";
	case EVREQ_HTTP_REQUEST_CANCEL: return "cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG: return "response too long";
	}
	return "error";
}

static void sms_http_error_cb(enum evhttp_request_error e, void *arg)
{
	struct sms_gateway *gw = arg;

	snprintf(gw->inflight_err, sizeof(gw->inflight_err), "%s",
		 sms_http_errstr(e));
}

static void sms_http_done_cb(struct evhttp_request *req, void *arg)
{
	struct sms_gateway *gw = arg;
	int64_t id = gw->inflight_id;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	char err[160];

	gw->inflight_id = -1;
	if (code >= 200 && code < 300) {
		sms_delivered(gw, id, gw->inflight_attempts, NULL);
	} else {
		if (code)
			snprintf(err, sizeof(err), "gateway answered HTTP %d", code);
		else
			snprintf(err, sizeof(err), "gateway %s:%d: %s", gw->host,
				 gw->port, gw->inflight_err[0] ? gw->inflight_err
							       : "connection failed");
		sms_delivered(gw, id, gw->inflight_attempts, err);
	}
	/* the next request starts from the event loop, not from inside
	 * libevent's completion of this one */
	sms_kick(gw);
}

int sms_http_start(struct sms_gateway *gw, int64_t id, int attempts,
		   const char *to, const char *text)
{
	struct evhttp_request *req;
	struct evhttp_uri *uri = NULL;
	char *url = NULL, *target = NULL;
	const char *path, *query;
	int err;

	err = sms_http_expand(gw->url_tmpl, to, text, &url);
	if (err)
		return err;
	uri = evhttp_uri_parse(url);
	if (!uri) {
		err = -EINVAL;
		goto out;
	}
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	if (asprintf(&target, "%s%s%s", path && *path ? path : "/",
		     query ? "?" : "", query ? query : "") < 0) {
		target = NULL;
		err = -ENOMEM;
		goto out;
	}
	req = evhttp_request_new(sms_http_done_cb, gw);
	if (!req) {
		err = -ENOMEM;
		goto out;
	}
	evhttp_request_set_error_cb(req, sms_http_error_cb);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", gw->host);
	evhttp_connection_set_timeout(gw->conn, gw->timeout);
	gw->inflight_err[0] = '\0';
	gw->inflight_id = id;
	gw->inflight_attempts = attempts;
	if (evhttp_make_request(gw->conn, req, EVHTTP_REQ_GET, target) != 0) {
		/* libevent has freed req */
		gw->inflight_id = -1;
		err = -EIO;
		goto out;
	}
	/* the URL holds the code and the gateway's password: not logged */
	log_debug("sms: message %lld sent to gateway %s:%d", (long long)id,
		  gw->host, gw->port);
out:
	if (uri)
		evhttp_uri_free(uri);
	free(url);
	free(target);
	return err;
}
