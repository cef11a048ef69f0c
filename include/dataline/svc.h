/*
 * svc: the handset's service, what `dataline daemon` runs (patent steps
 * C11/C22 and claim 3 on the handset; docs/handset.md "The service").
 *
 * On the daemon's libevent loop, with the agent (SIP flow to the server)
 * and the local store (hstore):
 *  - texts out: a text the user sends is committed to the outbox first,
 *    then sent as a MESSAGE (RFC 3428) carrying message/cpim (RFC 3862)
 *    with its imdn.Message-ID and a request for delivery notifications
 *    (RFC 5438); one at a time, oldest first, so the recipient sees them
 *    in order; resent after a failure or a restart until the server's 202;
 *  - the C22 check before a text goes over data: the data link is up with
 *    a default route (libnetq, when netq is attached) and the server is
 *    reachable (the SIP registration is up). Otherwise the caller's
 *    fallback: carrier SMS (include/dataline/carrier.h) or nothing;
 *  - texts in: stored in the inbox (deduplicated by sender and
 *    Message-ID) before the 200, answered with an IMDN "delivered" when
 *    the sender asked; IMDNs for our texts move the outbox forward;
 *  - a D-Bus interface (sd-bus) for the CLI and other clients: methods to
 *    send and list, signals for a text received, a delivery report and
 *    changed contacts (docs/handset.md "D-Bus interface").
 */
#ifndef DATALINE_SVC_H
#define DATALINE_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "dataline/agent.h"
#include "dataline/carrier.h"
#include "dataline/hpres.h"
#include "dataline/hstore.h"

struct event_base;

/* The D-Bus names (docs/handset.md "D-Bus interface"). */
#define SVC_BUS_NAME   "org.dataline.Handset1"
#define SVC_BUS_PATH   "/org/dataline/Handset1"
#define SVC_BUS_IFACE  "org.dataline.Handset1"
#define SVC_ERR_NOT_CONNECTED "org.dataline.Handset1.Error.NotConnected"
#define SVC_ERR_CARRIER       "org.dataline.Handset1.Error.CarrierFailed"
#define SVC_ERR_STORE         "org.dataline.Handset1.Error.Store"
#define SVC_ERR_SYNC          "org.dataline.Handset1.Error.SyncFailed"

/* Biggest text body over data: what fits a MESSAGE with its CPIM
 * wrapping in the agent's AGENT_BODY_MAX. */
#define SVC_TEXT_MAX 3500

struct svc_config {
	struct event_base *base;
	struct agent *agent;        /* borrowed; svc hooks its MESSAGE handler */
	struct hstore *hs;          /* borrowed */
	const char *number;         /* our E.164 number */
	const char *domain;         /* SIP domain */
	const char *country_code;   /* for national numbers, e.g. "49"; may be NULL */
	struct carrier carrier;     /* backend for the carrier fallback */
	const char *netq_pin_dir;   /* NULL: $DATALINE_PIN_DIR or the default */
	const char *bus;            /* "system", "session", a D-Bus address, or
				     * NULL for no bus (tests of the core) */
	const char *state_dir;      /* state.json: the account for contact sync */
	/* the network figures for GetStatus (the daemon's hpres); may be NULL */
	void (*figures)(void *arg, struct hpres_status *out);
	void *figures_arg;
	uint32_t contacts_sync_s;   /* re-sync interval; 0: only on request */
	/* calls (svc_call.c) */
	int answer_auto;            /* incoming calls: 0 ring, 1 answer at once */
	/* incoming calls' audio (media_config's audio_in/out: a WAV file or
	 * alsa[:DEV]); NULL: none. A gateway plays a prompt, a test a known
	 * speech file; each call's recording replaces the last one's. */
	const char *answer_audio_in, *answer_audio_out;
	uint32_t call_min_kbps;     /* threshold 1 (C2); 0: NETQ_VOICE_MIN_KBPS */
};

struct svc;

/* Opens netq (optional: the C22 check then uses the registration only,
 * logged once) and the bus (required when cfg->bus is set). CFG's strings
 * are copied. -EACCES: the bus refused our name (policy file missing);
 * -EEXIST: another daemon owns it. */
int svc_new(const struct svc_config *cfg, struct svc **out);
void svc_free(struct svc *s);

/* The daemon forwards every agent state change: registered -> the outbox
 * is sent; anything else -> sending pauses. */
void svc_agent_state(struct svc *s, enum agent_state st);

/* The C22 check: 1 connected to the data network and the server, 0 not
 * (REASON says why, e.g. "link down on a0", "not registered with the
 * server (backoff)"). */
int svc_data_ok(struct svc *s, char *reason, size_t len);

enum svc_fallback { SVC_FB_QUIT = 0, SVC_FB_CARRIER = 1 };
enum svc_route { SVC_ROUTE_DATA = 0, SVC_ROUTE_CARRIER = 1 };

struct svc_send_result {
	int err;                    /* 0, or -errno */
	enum svc_route route;
	int64_t id;                 /* outbox id */
	char message_id[HSTORE_ID_MAX];
	char detail[512];           /* reason not connected / carrier error / ref */
};
/* Called on the loop; RES is valid during the call. */
typedef void (*svc_send_done)(void *arg, const struct svc_send_result *res);

/*
 * Sends TEXT (len bytes of UTF-8) to NUMBER (E.164, or national with the
 * configured country code). Over data when svc_data_ok(): committed to the
 * outbox (DONE then runs, route data, before the MESSAGE leaves). Not
 * connected: FB_CARRIER hands it to the carrier backend on a thread (DONE
 * when it answered, route carrier; the outbox keeps it as
 * sent_by_carrier); FB_QUIT gives -ENETUNREACH with the reason in
 * detail. -EINVAL bad number or text, -EMSGSIZE too long. DONE may run
 * before svc_send returns.
 */
int svc_send(struct svc *s, const char *number, const char *text, size_t len,
	     enum svc_fallback fb, svc_send_done done, void *arg);

/*
 * Calls (patent C1-C3, D; svc_call.c, docs/calls.md "The handset's call
 * flow"). Before any INVITE the C2 check: the own rate from libnetq
 * against threshold 1 (and RTT/loss, netq's voice defaults) and the
 * registration. Below it, or not connected: FB_CARRIER places a carrier
 * voice call (carrier_call_start), FB_QUIT gives -ENETUNREACH with the
 * reason. Else an INVITE with the media engine's offer. The server's 488
 * with Warning 370 (C3) is the same choice, taken when the answer comes.
 */
struct svc_call_opts {
	enum svc_fallback fb;
	int carrier;                /* 1: straight to the carrier */
	const char *audio_in, *audio_out; /* media_config's; NULL: none */
	uint32_t duration_s;        /* hang up after this long; 0: never */
};
struct svc_call_result {
	enum svc_route route;
	uint32_t id;                /* the call's id (data), 0 for carrier */
	char detail[512];           /* carrier reference / reason */
};
int svc_call(struct svc *s, const char *number, const struct svc_call_opts *o,
	     struct svc_call_result *out);
int svc_call_answer(struct svc *s, uint32_t id);
int svc_call_hangup(struct svc *s, uint32_t id);
/* The C2 check for voice: 1 over data, 0 fallback (REASON says why). */
int svc_call_ok(struct svc *s, char *reason, size_t len);

/* Connects to WHICH: "system", "session" or a D-Bus address (as the
 * daemon's --bus); for the service and its clients (the CLI). */
struct sd_bus;
int svc_bus_connect(const char *which, struct sd_bus **out);

/* Pure helpers, exposed for tests. */
/* 1 if a final status is worth another attempt later (408, 480, 5xx, a
 * local failure such as a lost flow), 0 if the text failed for good. */
int svc_status_retryable(int status);
/* Seconds before attempt ATTEMPTS+1: 2 s doubling to 300 s, or the
 * server's Retry-After when it is longer (capped at 3600). */
uint32_t svc_retry_delay(unsigned attempts, uint32_t retry_after);
/* 1 if the LEN bytes at P are valid UTF-8 without NUL. */
int svc_utf8_valid(const void *p, size_t len);

#endif
