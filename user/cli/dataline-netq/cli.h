/*
 * cli: internals of the dataline-netq command (one file per subcommand).
 */
#ifndef DATALINE_NETQ_CLI_H
#define DATALINE_NETQ_CLI_H

#include <dataline/netq.h>

/* Exit statuses (also in --help and docs/netq.md). */
enum {
	EX_NQ_OK = 0,         /* success; `decide`: data */
	EX_NQ_ERR = 1,        /* other error */
	EX_NQ_USAGE = 2,      /* bad command line */
	EX_NQ_FALLBACK = 3,   /* `decide`: fallback (ask: carrier or quit) */
	EX_NQ_PERM = 4,       /* no BPF permission */
	EX_NQ_NODEV = 5,      /* unknown interface */
	EX_NQ_NOTATT = 6,     /* not attached (no pinned maps) */
	EX_NQ_BPFFS = 7,      /* pin dir not on a bpffs / cannot mount it */
	EX_NQ_PROBE = 8,      /* probe: no echo / host unreachable */
};

struct cli {
	const char *pin_dir;  /* NULL: env or default */
	int verbose;
};

/* Prints a clear message for err (-errno) and returns the exit status. */
int cli_fail(const char *what, const char *arg, int err);

int cmd_attach(struct cli *c, int argc, char **argv);
int cmd_detach(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_show(struct cli *c, int argc, char **argv);
int cmd_probe(struct cli *c, int argc, char **argv);
int cmd_echo(struct cli *c, int argc, char **argv);
int cmd_decide(struct cli *c, int argc, char **argv);

#endif
