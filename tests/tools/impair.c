/* impair: attach, replace, inspect or remove the test tc programs of
 * bpf/impair.bpf.c (random packet loss) and bpf/empty_tc.bpf.c (the empty
 * floor program for benchmarks) on one interface, optionally inside a named
 * network namespace. Used by scripts/netns.sh and tests/bench. No RFC.
 *
 * The programs are attached with clsact (bpf_tc_hook_create/bpf_tc_attach)
 * under fixed priorities, so they stay attached after this loader exits and
 * a second run replaces them in place; netns deletion removes them too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "impair.skel.h"
#include "empty_tc.skel.h"
#include "tool_netns.h"

#define PRIO_IMPAIR 0xc001
#define PRIO_EMPTY  0xc002

struct impair_stats { __u64 seen, dropped; };

static const char usage[] =
"usage: impair [--netns NAME] [--ingress] IFACE LOSS_PCT   drop LOSS_PCT% of packets\n"
"       impair [--netns NAME] [--ingress] --empty IFACE     attach the empty tc program\n"
"       impair [--netns NAME] [--ingress] [--empty] --remove IFACE\n"
"       impair [--netns NAME] [--ingress] --stats IFACE     print seen/dropped\n"
"Default direction is egress. Prints the attached program id.\n"
"EXAMPLES\n"
"  impair --netns n2x-b b0 5        drop 5% of what b0 sends\n"
"  impair --netns n2x-a --ingress --empty a0\n"
"  impair --netns n2x-b --remove b0\n";

/* libbpf's own messages only with IMPAIR_DEBUG set: it warns about the
 * clsact hook that already exists, which is expected here. */
static int libbpf_quiet(enum libbpf_print_level l, const char *f, va_list a)
{
	return getenv("IMPAIR_DEBUG") ? vfprintf(stderr, f, a) : 0;
}

static int do_attach(struct bpf_tc_hook *hook, int prog_fd, __u32 prio)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = prio,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(hook);

	if (err && err != -EEXIST)
		return err;
	err = bpf_tc_attach(hook, &opts);
	if (err)
		return err;
	printf("%u\n", opts.prog_id);
	return 0;
}

static int do_stats(struct bpf_tc_hook *hook)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = PRIO_IMPAIR);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), map_id = 0, key = 0;
	struct impair_stats st;
	int fd, mfd, err;

	err = bpf_tc_query(hook, &opts);
	if (err)
		return err;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return -errno;
	info.nr_map_ids = 1;
	info.map_ids = (__u64)(unsigned long)&map_id;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return -errno;
	mfd = bpf_map_get_fd_by_id(map_id);
	if (mfd < 0)
		return -errno;
	err = bpf_map_lookup_elem(mfd, &key, &st) ? -errno : 0;
	close(mfd);
	if (!err)
		printf("seen %llu dropped %llu\n", (unsigned long long)st.seen,
		       (unsigned long long)st.dropped);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"netns", required_argument, 0, 'n'}, {"ingress", no_argument, 0, 'i'},
		{"empty", no_argument, 0, 'e'}, {"remove", no_argument, 0, 'r'},
		{"stats", no_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0}};
	int c, ingress = 0, empty = 0, remove = 0, stats = 0, err = 0;
	const char *netns = NULL, *ifname;
	struct impair_bpf *imp = NULL;
	struct empty_tc_bpf *emp = NULL;
	double pct = 0;

	while ((c = getopt_long(argc, argv, "n:iersh", lo, NULL)) != -1) {
		switch (c) {
		case 'n': netns = optarg; break;
		case 'i': ingress = 1; break;
		case 'e': empty = 1; break;
		case 'r': remove = 1; break;
		case 's': stats = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind >= argc || (!empty && !remove && !stats && optind + 2 != argc)) {
		fputs(usage, stderr);
		return 2;
	}
	ifname = argv[optind];
	if (!empty && !remove && !stats) {
		char *end;
		pct = strtod(argv[optind + 1], &end);
		if (*end || pct < 0 || pct > 100) {
			fprintf(stderr, "impair: bad LOSS_PCT '%s'\n", argv[optind + 1]);
			return 2;
		}
	}
	libbpf_set_print(libbpf_quiet);
	if (netns && (err = enter_netns(netns))) {
		fprintf(stderr, "impair: netns %s: %s\n", netns, strerror(-err));
		return 1;
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = if_nametoindex(ifname),
		    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	if (!hook.ifindex) {
		fprintf(stderr, "impair: no interface %s\n", ifname);
		return 1;
	}
	if (remove) {
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1,
			    .priority = empty ? PRIO_EMPTY : PRIO_IMPAIR);
		err = bpf_tc_detach(&hook, &opts);
	} else if (stats) {
		err = do_stats(&hook);
	} else if (empty) {
		emp = empty_tc_bpf__open_and_load();
		err = emp ? do_attach(&hook, bpf_program__fd(emp->progs.empty_tc),
				      PRIO_EMPTY) : -errno;
	} else {
		imp = impair_bpf__open();
		if (!imp) {
			err = -errno;
			goto out;
		}
		imp->rodata->loss_ppm = (__u32)(pct * 10000.0 + 0.5);
		err = impair_bpf__load(imp);
		if (!err)
			err = do_attach(&hook, bpf_program__fd(imp->progs.impair_drop),
					PRIO_IMPAIR);
	}
out:
	impair_bpf__destroy(imp);
	empty_tc_bpf__destroy(emp);
	if (err) {
		fprintf(stderr, "impair: %s: %s\n", ifname, strerror(-err));
		return 1;
	}
	return 0;
}
