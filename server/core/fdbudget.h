/*
 * fdbudget: splits the process's descriptors (RLIMIT_NOFILE) between the
 * HTTP API's connections and SIP's TCP/TLS connections, so that neither
 * can starve the other or the process itself (store, listeners, logs,
 * SMS). Decisions: docs/decisions.md, "HTTP API hardening"; numbers:
 * docs/operations.md, "Limits against abuse".
 */
#ifndef DATALINE_SERVER_FDBUDGET_H
#define DATALINE_SERVER_FDBUDGET_H

/* Descriptors kept back for the process: a base plus some per worker
 * (its event base, SIP sockets and store connection). */
#define FDBUDGET_RESERVE_BASE 64
#define FDBUDGET_RESERVE_PER_WORKER 16

struct fdbudget {
	long limit;      /* the soft RLIMIT_NOFILE in force */
	long reserve;    /* kept back for the process */
	int http_conns;  /* per HTTP(S) listener */
	int sip_conns;   /* SIP TCP+TLS, all workers */
	int clamped;     /* 1 if the wanted numbers did not fit */
};

/*
 * Pure: fits HTTP_LISTENERS x HTTP_CONNS + SIP_CONNS into LIMIT - RESERVE.
 * If they do not fit, both shrink in proportion to what was asked (each
 * keeps at least 1). 0, or -ENOSPC when not even that fits (b untouched).
 */
int fdbudget_split(long limit, long reserve, int http_listeners,
		   int http_conns, int sip_conns, struct fdbudget *b);

/*
 * Raises the soft RLIMIT_NOFILE to the hard one, then splits as above
 * with the reserve for WORKERS workers. 0 or -errno.
 */
int fdbudget_setup(int workers, int http_listeners, int http_conns,
		   int sip_conns, struct fdbudget *b);

#endif
