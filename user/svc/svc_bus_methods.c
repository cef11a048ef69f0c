/*
 * svc_bus_methods: the methods of org.dataline.Handset1 (docs/handset.md
 * "D-Bus interface"). Lists are aa{sv}, one dictionary per row with the
 * field names of `dataline inbox|outbox --json`, so any D-Bus client
 * (busctl, python-dbus, GNOME software) reads them without our headers.
 * sd-bus checks each call's signature against the vtable and answers a
 * call with wrong types org.freedesktop.DBus.Error.InvalidArgs itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "dataline/csync.h"
#include "dataline/log.h"
#include "svc_bus.h"

#define LIST_DEFAULT 100
#define LIST_MAX 10000

/* ------------------------------------------------------------ a{sv} */

static int kv_s(sd_bus_message *m, const char *k, const char *v)
{
	return sd_bus_message_append(m, "{sv}", k, "s", v ? v : "");
}

static int kv_x(sd_bus_message *m, const char *k, int64_t v)
{
	return sd_bus_message_append(m, "{sv}", k, "x", v);
}

static int kv_i(sd_bus_message *m, const char *k, int32_t v)
{
	return sd_bus_message_append(m, "{sv}", k, "i", v);
}

static int kv_u(sd_bus_message *m, const char *k, uint32_t v)
{
	return sd_bus_message_append(m, "{sv}", k, "u", v);
}

static int kv_t(sd_bus_message *m, const char *k, uint64_t v)
{
	return sd_bus_message_append(m, "{sv}", k, "t", v);
}

static int kv_b(sd_bus_message *m, const char *k, int v)
{
	return sd_bus_message_append(m, "{sv}", k, "b", v);
}

/* The body as "body" when it is UTF-8, else as "body_base64". */
static int kv_body(sd_bus_message *m, const struct hstore_msg *msg)
{
	char *b64;
	int r;

	if (svc_utf8_valid(msg->body, msg->body_len))
		return kv_s(m, "body", msg->body);
	b64 = malloc(4 * ((msg->body_len + 2) / 3) + 1);
	if (!b64)
		return -ENOMEM;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)msg->body,
			(int)msg->body_len);
	r = kv_s(m, "body_base64", b64);
	free(b64);
	return r;
}

static int kv_msg(sd_bus_message *m, const struct hstore_msg *msg)
{
	int r = kv_x(m, "id", msg->id);

	if (r >= 0)
		r = kv_s(m, "peer", msg->peer);
	if (r >= 0)
		r = kv_s(m, "message_id", msg->message_id);
	if (r >= 0)
		r = kv_s(m, "content_type", msg->content_type);
	if (r >= 0)
		r = kv_body(m, msg);
	return r;
}

static int out_row(sd_bus_message *m, const void *p)
{
	const struct hstore_out *o = p;
	int r = kv_msg(m, &o->msg);

	if (r >= 0)
		r = kv_x(m, "created", o->created);
	if (r >= 0)
		r = kv_x(m, "updated", o->updated);
	if (r >= 0)
		r = kv_s(m, "state", hstore_out_state_name(o->state));
	if (r >= 0)
		r = kv_i(m, "attempts", o->attempts);
	if (r >= 0)
		r = kv_s(m, "last_status", o->last_status);
	if (r >= 0)
		r = kv_x(m, "next_at", o->next_at);
	return r;
}

static int in_row(sd_bus_message *m, const void *p)
{
	const struct hstore_in *i = p;
	int r = kv_msg(m, &i->msg);

	if (r >= 0)
		r = kv_x(m, "received", i->received);
	if (r >= 0)
		r = kv_b(m, "read", i->read);
	return r;
}

static int contact_row(sd_bus_message *m, const void *p)
{
	const struct hstore_contact *c = p;
	int r = kv_s(m, "number", c->number);

	if (r >= 0)
		r = kv_s(m, "name", c->name);
	if (r >= 0)
		r = kv_s(m, "source", c->source);
	if (r >= 0)
		r = kv_i(m, "registered", (int32_t)c->registered);
	if (r >= 0)
		r = kv_x(m, "synced", c->synced);
	return r;
}

/* ------------------------------------------------------------ lists */

static size_t list_limit(uint32_t limit)
{
	return limit == 0 ? LIST_DEFAULT : limit > LIST_MAX ? LIST_MAX : limit;
}

static int store_error(sd_bus_error *err, int r)
{
	return sd_bus_error_setf(err, SVC_ERR_STORE, "local store: %s", strerror(-r));
}

/* Replies with the N rows at V (SZ bytes each), each ROW() inside a{sv}. */
static int reply_rows(sd_bus_message *call, const void *v, size_t n, size_t sz,
		      int (*row)(sd_bus_message *, const void *))
{
	sd_bus_message *rep = NULL;
	int r = sd_bus_message_new_method_return(call, &rep);

	if (r >= 0)
		r = sd_bus_message_open_container(rep, 'a', "a{sv}");
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = sd_bus_message_open_container(rep, 'a', "{sv}");
		if (r >= 0)
			r = row(rep, (const char *)v + i * sz);
		if (r >= 0)
			r = sd_bus_message_close_container(rep);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(rep);
	if (r >= 0)
		r = sd_bus_send(NULL, rep, NULL);
	sd_bus_message_unref(rep);
	return r;
}

/* ListInbox and ListOutbox: the same arguments, one table each. */
static int m_list_texts(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	int outbox = strcmp(sd_bus_message_get_member(m), "ListOutbox") == 0;
	struct svc *s = ud;
	struct hstore_out *vo = NULL;
	struct hstore_in *vi = NULL;
	enum hstore_order order;
	uint32_t limit, offset;
	int newest, r;
	size_t n = 0;

	r = sd_bus_message_read(m, "uub", &limit, &offset, &newest);
	if (r < 0)
		return r;
	order = newest ? HSTORE_NEWEST_FIRST : HSTORE_OLDEST_FIRST;
	r = outbox ? hstore_outbox_list(s->hs, order, list_limit(limit), offset, &vo, &n)
		   : hstore_inbox_list(s->hs, order, list_limit(limit), offset, &vi, &n);
	if (r < 0)
		return store_error(err, r);
	if (outbox) {
		r = reply_rows(m, vo, n, sizeof(*vo), out_row);
		hstore_outbox_free(vo, n);
	} else {
		r = reply_rows(m, vi, n, sizeof(*vi), in_row);
		hstore_inbox_free(vi, n);
	}
	return r < 0 ? r : 1;
}

static int m_list_contacts(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct svc *s = ud;
	struct hstore_contact *v = NULL;
	uint32_t limit, offset;
	size_t n = 0;
	int r;

	r = sd_bus_message_read(m, "uu", &limit, &offset);
	if (r < 0)
		return r;
	r = hstore_contacts_list(s->hs, list_limit(limit), offset, &v, &n);
	if (r < 0)
		return store_error(err, r);
	r = reply_rows(m, v, n, sizeof(*v), contact_row);
	hstore_contacts_free(v, n);
	return r < 0 ? r : 1;
}

static int m_mark_read(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct svc *s = ud;
	int64_t id;
	int read, r;

	r = sd_bus_message_read(m, "xb", &id, &read);
	if (r < 0)
		return r;
	r = hstore_inbox_set_read(s->hs, id, read);
	if (r == -ENOENT)
		return sd_bus_error_setf(err, SD_BUS_ERROR_INVALID_ARGS,
					 "no inbox text %lld", (long long)id);
	if (r < 0)
		return store_error(err, r);
	return sd_bus_reply_method_return(m, "");
}

/* ------------------------------------------------------------ sending */

struct send_call {
	struct svc_bus *b;
	sd_bus_message *m;
};

static void send_done(void *arg, const struct svc_send_result *res)
{
	struct send_call *c = arg;
	int r;

	if (res->err)
		r = sd_bus_reply_method_errorf(c->m, SVC_ERR_CARRIER,
					       "carrier SMS not sent: %s", res->detail);
	else
		r = sd_bus_reply_method_return(c->m, "xss", (int64_t)res->id,
					       res->route == SVC_ROUTE_DATA ? "data"
									   : "carrier",
					       res->message_id);
	if (r < 0)
		log_warn("svc: reply to Send lost: %s", strerror(-r));
	svc_bus_rearm(c->b);
	sd_bus_message_unref(c->m);
	free(c);
}

static int m_send(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct svc *s = ud;
	const char *num, *text, *fbs;
	enum svc_fallback fb;
	struct send_call *c;
	char why[256];
	int r;

	r = sd_bus_message_read(m, "sss", &num, &text, &fbs);
	if (r < 0)
		return r;
	/* "ask" cannot be asked here: the client asks its user (the CLI on
	 * its terminal) and calls again with "carrier". */
	if (!fbs[0] || strcmp(fbs, "quit") == 0 || strcmp(fbs, "ask") == 0)
		fb = SVC_FB_QUIT;
	else if (strcmp(fbs, "carrier") == 0)
		fb = SVC_FB_CARRIER;
	else
		return sd_bus_error_setf(err, SD_BUS_ERROR_INVALID_ARGS,
					 "fallback is quit, carrier or ask, not '%s'", fbs);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->b = s->bus;
	c->m = sd_bus_message_ref(m);
	r = svc_send(s, num, text, strlen(text), fb, send_done, c);
	if (r == 0)
		return 1;       /* answered by send_done */
	sd_bus_message_unref(c->m);
	free(c);
	switch (r) {
	case -ENETUNREACH:
		svc_data_ok(s, why, sizeof(why));
		return sd_bus_error_setf(err, SVC_ERR_NOT_CONNECTED,
					 "not connected to the data network: %s", why);
	case -EINVAL:
		return sd_bus_error_setf(err, SD_BUS_ERROR_INVALID_ARGS,
					 "'%s' is not a phone number, or the text is "
					 "empty or not UTF-8", num);
	case -EMSGSIZE:
		return sd_bus_error_setf(err, SD_BUS_ERROR_INVALID_ARGS,
					 "text too long: at most %d bytes over data",
					 SVC_TEXT_MAX);
	default:
		return store_error(err, r);
	}
}

/* ------------------------------------------------------------ contacts */

#define IMPORT_MAX (16u << 20)   /* bytes of one vCard file */
#define IMPORT_REPORTS 1000      /* problems listed in the answer */

struct import_call {
	sd_bus_message *rep;
	int r;
	unsigned listed;
};

static void import_problem(void *arg, const struct csync_problem *p)
{
	struct import_call *c = arg;

	if (c->r < 0 || c->listed >= IMPORT_REPORTS)
		return;
	c->listed++;
	c->r = sd_bus_message_append(c->rep, "(uss)", p->line, p->what,
				     svc_utf8_valid(p->detail, strlen(p->detail))
				     ? p->detail : "(not UTF-8)");
}

static int m_import(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct svc *s = ud;
	struct import_call c = { 0 };
	struct svc_import res = { 0 };
	const void *buf;
	size_t len;
	int r;

	r = sd_bus_message_read_array(m, 'y', &buf, &len);
	if (r < 0)
		return r;
	if (len > IMPORT_MAX)
		return sd_bus_error_setf(err, SD_BUS_ERROR_INVALID_ARGS,
					 "vCard file too large (%zu bytes, at most %u)",
					 len, IMPORT_MAX);
	/* the answer is built while the file is read: the problems first */
	r = sd_bus_message_new_method_return(m, &c.rep);
	if (r >= 0)
		r = sd_bus_message_open_container(c.rep, 'a', "(uss)");
	if (r < 0) {
		sd_bus_message_unref(c.rep);
		return r;
	}
	r = svc_contacts_import(s, buf, len, import_problem, &c, &res);
	if (r < 0 || c.r < 0) {
		sd_bus_message_unref(c.rep);
		return r < 0 ? store_error(err, r) : c.r;
	}
	r = sd_bus_message_close_container(c.rep);
	if (r >= 0)
		r = sd_bus_message_append(c.rep, "uuub", (uint32_t)res.numbers,
					  (uint32_t)res.cards, (uint32_t)res.bad_cards,
					  res.not_vcard);
	if (r >= 0)
		r = sd_bus_send(NULL, c.rep, NULL);
	sd_bus_message_unref(c.rep);
	return r < 0 ? r : 1;
}

struct sync_call {
	struct svc_bus *b;
	sd_bus_message *m;
};

static void sync_replied(void *arg, const struct csync_result *res)
{
	struct sync_call *c = arg;
	int r;

	if (res->err == -EAGAIN)
		r = sd_bus_reply_method_errorf(c->m, SVC_ERR_SYNC, "the server limits "
					       "lookups: try again in %u s", res->retry_after);
	else if (res->err)
		r = sd_bus_reply_method_errorf(c->m, SVC_ERR_SYNC, "sync failed: %s%s%s",
					       strerror(-res->err), res->error[0] ? ": " : "",
					       res->error);
	else
		r = sd_bus_reply_method_return(c->m, "uuu", (uint32_t)res->asked,
					       (uint32_t)res->counts.registered,
					       (uint32_t)res->marks_changed);
	if (r < 0)
		log_warn("svc: reply to SyncContacts lost: %s", strerror(-r));
	svc_bus_rearm(c->b);
	sd_bus_message_unref(c->m);
	free(c);
}

static int m_sync(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct svc *s = ud;
	struct sync_call *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->b = s->bus;
	c->m = sd_bus_message_ref(m);
	r = svc_contacts_sync(s, sync_replied, c);
	if (r == 0)
		return 1;       /* answered when the sync ends */
	sd_bus_message_unref(c->m);
	free(c);
	return sd_bus_error_setf(err, SVC_ERR_SYNC, "sync not started: %s",
				 r == -EBUSY ? "too many callers waiting" : strerror(-r));
}

static int m_check_data(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct svc *s = ud;
	char why[256];
	int ok = svc_data_ok(s, why, sizeof(why));

	(void)err;
	return sd_bus_reply_method_return(m, "bs", ok, why);
}

/* The figures the daemon publishes (hpres), only those it has. */
static int status_figures(struct svc *s, sd_bus_message *rep)
{
	struct hpres_status st;
	const struct pidf_netq *q = &st.netq;
	int r;

	memset(&st, 0, sizeof(st));
	s->figures(s->figures_arg, &st);
	r = kv_b(rep, "published", st.published);
	if (r >= 0)
		r = kv_t(rep, "probe_bytes_hour", st.spent_hour);
	if (r >= 0)
		r = kv_t(rep, "probe_budget", st.budget);
	if (r >= 0 && (q->have & PIDF_NETQ_LINK))
		r = kv_s(rep, "link", q->link == PIDF_LINK_UP ? "up" : "down");
	if (r >= 0 && (q->have & PIDF_NETQ_RATE)) {
		r = kv_u(rep, "rate_kbps", q->rate_kbps);
		if (r >= 0)
			r = kv_b(rep, "rate_probed", q->probed);
	}
	if (r >= 0 && (q->have & PIDF_NETQ_RTT))
		r = kv_u(rep, "rtt_ms", q->rtt_ms);
	if (r >= 0 && (q->have & PIDF_NETQ_LOSS))
		r = kv_u(rep, "loss_ppm", q->loss_ppm);
	if (r >= 0 && (q->have & PIDF_NETQ_AGE))
		r = kv_u(rep, "figures_age_s", q->age_s);
	return r;
}

static int m_status(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct svc *s = ud;
	sd_bus_message *rep = NULL;
	char why[256];
	int ok = svc_data_ok(s, why, sizeof(why)), r;

	(void)err;
	r = sd_bus_message_new_method_return(m, &rep);
	if (r >= 0)
		r = sd_bus_message_open_container(rep, 'a', "{sv}");
	if (r >= 0)
		r = kv_s(rep, "number", s->number);
	if (r >= 0)
		r = kv_s(rep, "sip_state", agent_state_name(s->ast));
	if (r >= 0)
		r = kv_b(rep, "data", ok);
	if (r >= 0)
		r = kv_s(rep, "reason", why);
	if (r >= 0)
		r = kv_b(rep, "netq", s->nq != NULL);
	if (r >= 0)
		r = kv_s(rep, "carrier", carrier_backend_name(s->carrier.backend));
	if (r >= 0 && s->figures)
		r = status_figures(s, rep);
	if (r >= 0)
		r = sd_bus_message_close_container(rep);
	if (r >= 0)
		r = sd_bus_send(NULL, rep, NULL);
	sd_bus_message_unref(rep);
	return r < 0 ? r : 1;
}

const sd_bus_vtable svc_bus_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD_WITH_NAMES("Send", "sss", SD_BUS_PARAM(number)
				 SD_BUS_PARAM(text) SD_BUS_PARAM(fallback),
				 "xss", SD_BUS_PARAM(id) SD_BUS_PARAM(route)
				 SD_BUS_PARAM(message_id), m_send,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("CheckData", "", , "bs", SD_BUS_PARAM(connected)
				 SD_BUS_PARAM(reason), m_check_data,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListInbox", "uub", SD_BUS_PARAM(limit)
				 SD_BUS_PARAM(offset) SD_BUS_PARAM(newest_first),
				 "aa{sv}", SD_BUS_PARAM(texts), m_list_texts,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListOutbox", "uub", SD_BUS_PARAM(limit)
				 SD_BUS_PARAM(offset) SD_BUS_PARAM(newest_first),
				 "aa{sv}", SD_BUS_PARAM(texts), m_list_texts,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListContacts", "uu", SD_BUS_PARAM(limit)
				 SD_BUS_PARAM(offset), "aa{sv}",
				 SD_BUS_PARAM(contacts), m_list_contacts,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ImportContacts", "ay", SD_BUS_PARAM(vcard),
				 "a(uss)uuub", SD_BUS_PARAM(problems) SD_BUS_PARAM(numbers)
				 SD_BUS_PARAM(cards) SD_BUS_PARAM(bad_cards)
				 SD_BUS_PARAM(not_vcard), m_import,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("SyncContacts", "", , "uuu", SD_BUS_PARAM(asked)
				 SD_BUS_PARAM(registered) SD_BUS_PARAM(changed),
				 m_sync, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("MarkRead", "xb", SD_BUS_PARAM(id)
				 SD_BUS_PARAM(read), "", , m_mark_read,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("GetStatus", "", , "a{sv}", SD_BUS_PARAM(status),
				 m_status, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_NAMES("TextReceived", "xssss", SD_BUS_PARAM(id)
				 SD_BUS_PARAM(from) SD_BUS_PARAM(message_id)
				 SD_BUS_PARAM(content_type) SD_BUS_PARAM(text), 0),
	SD_BUS_SIGNAL_WITH_NAMES("DeliveryReport", "xsss", SD_BUS_PARAM(id)
				 SD_BUS_PARAM(message_id) SD_BUS_PARAM(state)
				 SD_BUS_PARAM(status), 0),
	SD_BUS_SIGNAL_WITH_NAMES("ContactsChanged", "u", SD_BUS_PARAM(changed), 0),
	SD_BUS_METHOD_WITH_NAMES("Call", "sa{ss}", SD_BUS_PARAM(number)
				 SD_BUS_PARAM(options), "uss", SD_BUS_PARAM(id)
				 SD_BUS_PARAM(route) SD_BUS_PARAM(detail), svc_bus_m_call,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Answer", "u", SD_BUS_PARAM(id), "", , svc_bus_m_answer,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Hangup", "u", SD_BUS_PARAM(id), "", , svc_bus_m_hangup,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListCalls", "", , "aa{sv}", SD_BUS_PARAM(calls),
				 svc_bus_m_list_calls, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_NAMES("CallState", "uss", SD_BUS_PARAM(id)
				 SD_BUS_PARAM(state) SD_BUS_PARAM(details), 0),
	SD_BUS_VTABLE_END
};
