/*
 * svc_bus_calls: the call methods of org.dataline.Handset1 (docs/calls.md
 * "The handset's call flow", docs/handset.md "D-Bus interface"):
 *   Call(s number, a{ss} options) -> (u id, s route, s detail)
 *       options: fallback = quit|carrier|ask ("ask" is the client's to
 *       ask: it means quit here), route = carrier (straight to the
 *       carrier), audio_in / audio_out (WAV path or "alsa"), duration
 *       (seconds, then hang up). route "data": id is the call's, detail
 *       its Call-ID; "carrier": id 0, detail the carrier's reference.
 *       Below threshold 1 with fallback quit: error NotConnected.
 *   Answer(u id), Hangup(u id)
 *   ListCalls() -> aa{sv} {id u, direction s, peer s, state s}
 *   signal CallState(u id, s state, s details): calling, ringing,
 *       progress, incoming, confirmed, ended (details: the statistics),
 *       failed, refused (488 + Warning 370: the server's C3 gate),
 *       carrier (the fallback placed it), media-failed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "svc_bus.h"

static int call_opts(sd_bus_message *m, struct svc_call_opts *o, sd_bus_error *err)
{
	const char *k, *v;
	int r;

	if ((r = sd_bus_message_enter_container(m, 'a', "{ss}")) < 0)
		return r;
	while ((r = sd_bus_message_read(m, "{ss}", &k, &v)) > 0) {
		if (strcmp(k, "fallback") == 0 && strcmp(v, "carrier") == 0)
			o->fb = SVC_FB_CARRIER;
		else if (strcmp(k, "fallback") == 0 && strcmp(v, "quit") && strcmp(v, "ask"))
			return sd_bus_error_setf(err, SD_BUS_ERROR_INVALID_ARGS,
						 "fallback is quit, carrier or ask");
		else if (strcmp(k, "route") == 0)
			o->carrier = strcmp(v, "carrier") == 0;
		else if (strcmp(k, "audio_in") == 0)
			o->audio_in = v[0] ? v : NULL;
		else if (strcmp(k, "audio_out") == 0)
			o->audio_out = v[0] ? v : NULL;
		else if (strcmp(k, "duration") == 0)
			o->duration_s = (uint32_t)strtoul(v, NULL, 10);
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

int svc_bus_m_call(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct svc *s = ud;
	struct svc_call_opts o = { .fb = SVC_FB_QUIT };
	struct svc_call_result res;
	const char *num;
	int r;

	if ((r = sd_bus_message_read(m, "s", &num)) < 0 || (r = call_opts(m, &o, err)) < 0)
		return r;
	if (sd_bus_error_is_set(err))
		return -EINVAL;
	r = svc_call(s, num, &o, &res);
	if (r == -ENETUNREACH)
		return sd_bus_error_setf(err, SVC_ERR_NOT_CONNECTED,
					 "no call over data: %s", res.detail);
	if (r == -EINVAL)
		return sd_bus_error_setf(err, SD_BUS_ERROR_INVALID_ARGS,
					 "'%s' is not a phone number", num);
	if (r < 0 && strncmp(res.detail, "carrier", 7) == 0)
		return sd_bus_error_setf(err, SVC_ERR_CARRIER, "%s", res.detail);
	if (r < 0)
		return sd_bus_error_setf(err, SD_BUS_ERROR_FAILED, "call not placed: %s",
					 res.detail[0] ? res.detail : strerror(-r));
	return sd_bus_reply_method_return(m, "uss", res.id, res.route == SVC_ROUTE_CARRIER ?
					  "carrier" : "data", res.detail);
}

static int call_id_method(sd_bus_message *m, struct svc *s, sd_bus_error *err,
			  int (*fn)(struct svc *, uint32_t))
{
	uint32_t id;
	int r;

	if ((r = sd_bus_message_read(m, "u", &id)) < 0)
		return r;
	r = fn(s, id);
	if (r == -ENOENT)
		return sd_bus_error_setf(err, SD_BUS_ERROR_INVALID_ARGS, "no call %u", id);
	if (r < 0 && r != -EALREADY)
		return sd_bus_error_set_errno(err, r);
	return sd_bus_reply_method_return(m, "");
}

int svc_bus_m_answer(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	return call_id_method(m, ud, err, svc_call_answer);
}

int svc_bus_m_hangup(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	return call_id_method(m, ud, err, svc_call_hangup);
}

static int list_row(void *arg, uint32_t id, const char *dir, const char *peer,
		    const char *state)
{
	return sd_bus_message_append(arg, "a{sv}", 4, "id", "u", id, "direction", "s", dir,
				     "peer", "s", peer, "state", "s", state);
}

int svc_bus_m_list_calls(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	sd_bus_message *rep = NULL;
	int r = sd_bus_message_new_method_return(m, &rep);

	if (r >= 0)
		r = sd_bus_message_open_container(rep, 'a', "a{sv}");
	if (r >= 0)
		r = svc_call_list(ud, list_row, rep);
	if (r >= 0)
		r = sd_bus_message_close_container(rep);
	if (r >= 0)
		r = sd_bus_send(NULL, rep, NULL);
	sd_bus_message_unref(rep);
	return r < 0 ? r : 1;
}
