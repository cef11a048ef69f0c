/*
 * svc_priv: what the files of the handset service share (svc.c: life and
 * the C22 check; svc_out.c: the outbox pump; svc_in.c: texts and reports
 * coming in; svc_notice.c: the delivery notifications we owe;
 * svc_carrier.c: carrier sends on a thread; svc_bus*.c: the D-Bus
 * interface).
 */
#ifndef DATALINE_SVC_PRIV_H
#define DATALINE_SVC_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "dataline/netq.h"
#include "dataline/svc.h"

struct event;
struct netq;
struct svc_bus;
struct svc_cjob;
struct csync_job;
struct csync_result;
struct csync_problem;

typedef void (*svc_sync_done)(void *arg, const struct csync_result *r);
typedef void (*svc_problem_fn)(void *arg, const struct csync_problem *p);
struct svc_import {
	size_t cards, bad_cards, numbers, problems;
	int not_vcard;
};
#define SVC_SYNC_MAX_WAIT 8
struct svc_sync_waiter {
	svc_sync_done done;
	void *arg;
};

/* A delivery notification in flight (svc_notice.c). */
#define SVC_NOTICE_WINDOW 4
struct svc_nslot {
	struct svc *s;
	struct agent_req *req;      /* NULL: free */
	int64_t id, attempts;
	char peer[E164_MAX];
	char call_id[HSTORE_ID_MAX + 40];
};

struct svc {
	struct event_base *base;
	struct agent *agent;
	struct hstore *hs;
	char number[32];
	char domain[256];
	char cc[8];
	struct carrier carrier;
	char carrier_dir[4096];
	enum agent_state ast;
	int online;                 /* registered on the current flow */

	/* netq for the link check; NULL when not attached (logged once) */
	struct netq *nq;
	struct event *nq_ev;

	/* the outbox pump: a batch of pending texts read from the store,
	 * sent one at a time (svc_out.c) */
	struct hstore_out *pend;
	size_t npend, ipend;
	int dirty;                  /* added since the batch was read */
	struct agent_req *inflight;
	int64_t inflight_id;
	char inflight_mid[HSTORE_ID_MAX];
	struct event *retry_ev;
	char call_id[HSTORE_ID_MAX + 40];

	/* delivery notifications owed (svc_notice.c): a batch read from
	 * the store, a few in flight */
	struct hstore_notice *nt_batch;
	size_t nt_n, nt_i;
	struct svc_nslot nt_slot[SVC_NOTICE_WINDOW];
	struct event *nt_ev;

	/* carrier sends (svc_carrier.c): a thread, a pipe back */
	pthread_t cthread;
	int cthread_up;
	pthread_mutex_t cmu;
	pthread_cond_t ccv;
	struct svc_cjob *cq_head, *cq_tail;
	int cstop;
	int cpipe[2];
	struct event *cpipe_ev;

	struct svc_bus *bus;

	void (*figures)(void *arg, struct hpres_status *out);
	void *figures_arg;

	/* contacts (svc_contacts.c) */
	char state_dir[4096];
	uint32_t contacts_sync_s;   /* 0: no periodic sync */
	struct csync_job *sync_job;
	struct event *sync_ev;
	struct svc_sync_waiter wait[SVC_SYNC_MAX_WAIT];
	int nwait;
	int synced_once;

	/* calls (svc_call.c) */
	struct svc_calls *calls;    /* owned */
	int answer_auto;
	char answer_in[4096], answer_out[4096];  /* incoming calls' audio; "": none */
	uint32_t call_min_kbps;
};

/* svc_out.c */
void svc_out_kick(struct svc *s);
void svc_out_stop(struct svc *s);
int svc_out_add(struct svc *s, const char *number, const char *text,
		size_t len, int64_t *id, char mid[HSTORE_ID_MAX]);

/* svc_notice.c */
void svc_notice_kick(struct svc *s);
void svc_notice_stop(struct svc *s);

/* svc_in.c */
int svc_in_attach(struct svc *s);

/* svc_contacts.c */
int svc_contacts_sync(struct svc *s, svc_sync_done done, void *arg);
int svc_contacts_import(struct svc *s, const void *buf, size_t len,
			svc_problem_fn fn, void *arg, struct svc_import *out);
void svc_contacts_registered(struct svc *s);
void svc_contacts_stop(struct svc *s);

/* svc_carrier.c */
int svc_carrier_start(struct svc *s);
void svc_carrier_stop(struct svc *s);
int svc_carrier_send(struct svc *s, const char *number, const char *text,
		     svc_send_done done, void *arg);

/* svc.c: the C22 check (TEXT) or the C2 check (VOICE, threshold 1 =
 * MIN_KBPS, 0: netq's default). 1 over data, 0 not (REASON says why). */
int svc_net_ok(struct svc *s, enum netq_service svc, uint32_t min_kbps,
	       char *reason, size_t len);

/* svc_call.c */
struct svc_calls;
int svc_call_start(struct svc *s);
void svc_call_stop(struct svc *s);
/* One row of ListCalls; FN per live call. */
typedef int (*svc_call_row_fn)(void *arg, uint32_t id, const char *dir,
			       const char *peer, const char *state);
int svc_call_list(struct svc *s, svc_call_row_fn fn, void *arg);

/* svc_bus.c: NULL-safe; the core reports, the bus turns into signals */
int svc_bus_open(struct svc *s, const char *bus);
void svc_bus_close(struct svc *s);
void svc_bus_text_received(struct svc *s, int64_t id, const char *from,
			   const char *mid, const char *ctype,
			   const void *body, size_t len);
void svc_bus_report(struct svc *s, int64_t id, const char *mid,
		    enum hstore_out_state st, const char *status);
void svc_bus_contacts_changed(struct svc *s, uint32_t changed);
void svc_bus_call_state(struct svc *s, uint32_t id, const char *state,
			const char *details);

#endif
