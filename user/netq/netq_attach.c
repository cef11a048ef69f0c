/*
 * netq_attach: the loader. Loads bpf/netq.bpf.c once per interface (the
 * slot is a load-time constant, patched into the tc programs' code, so the
 * per-packet path needs no lookup and no .rodata read),
 * attaches it with tcx links where the kernel has them and clsact filters
 * otherwise, pins links and maps under the pin dir so the attachment
 * outlives the loader, and cleans up what a crashed run left behind.
 * No RFCs.
 * The pin dir and its cleanup: netq_pins.c.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "netq.skel.h"
#include "netq_priv.h"

#define NETQ_TCX_INGRESS 46   /* BPF_TCX_INGRESS; the 6.1 uapi lacks it */
#define NETQ_TCX_EGRESS  47

/*
 * Writes the slot into the immediate of the tc program's slot instruction
 * (tc_slot() in bpf/netq.bpf.c: "r = NETQ_SLOT_IMM"), between open and
 * load. An immediate costs nothing per packet; the .rodata constant it
 * replaces cost a load from another page (docs/netq.md, "Per-packet cost").
 * Returns 0 or -errno (-ENOENT: the program has no such instruction).
 */
static int patch_slot(struct bpf_program *p, uint32_t slot)
{
	size_t i, n = bpf_program__insn_cnt(p);
	struct bpf_insn *cp;
	int found = 0, err;

	cp = malloc(n * sizeof(*cp));
	if (!cp)
		return -ENOMEM;
	memcpy(cp, bpf_program__insns(p), n * sizeof(*cp));
	for (i = 0; i < n; i++) {
		if (cp[i].code == (BPF_ALU64 | BPF_MOV | BPF_K) &&
		    cp[i].imm == NETQ_SLOT_IMM) {
			cp[i].imm = (int32_t)slot;
			found++;
		}
	}
	err = found ? bpf_program__set_insns(p, cp, n) : -ENOENT;
	free(cp);
	return err;
}

/* Loads the TCP tracepoint programs once per pin dir: tp_btf, else raw_tp. */
static int attach_tcp(const char *dir)
{
	static const char *want[2][2] = {
		{ "netq_tcp_probe", "netq_tcp_retrans" },
		{ "netq_tcp_probe_raw", "netq_tcp_retrans_raw" },
	};
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir);
	struct bpf_program *p;
	struct netq_bpf *skel;
	struct bpf_link *l;
	char path[600];
	int v, err = 0, fd;

	fd = netq_pinned_fd(dir, NETQ_LINK_TCP_PROBE);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	for (v = 0; v < 2; v++) {
		skel = netq_bpf__open_opts(&oo);
		if (!skel)
			return -errno;
		bpf_object__for_each_program(p, skel->obj) {
			const char *n = bpf_program__name(p);

			bpf_program__set_autoload(p, !strcmp(n, want[v][0]) ||
						     !strcmp(n, want[v][1]));
		}
		err = netq_bpf__load(skel);
		if (!err)
			break;
		netq_bpf__destroy(skel);
		skel = NULL;
	}
	if (!skel)
		return err;
	bpf_object__for_each_program(p, skel->obj) {
		const char *n = bpf_program__name(p);

		if (!bpf_program__autoload(p))
			continue;
		l = bpf_program__attach(p);
		if (!l) {
			err = -errno;
			break;
		}
		netq_pin_path(path, sizeof(path), dir,
			 strstr(n, "retrans") ? NETQ_LINK_TCP_RETRANS :
						NETQ_LINK_TCP_PROBE);
		err = bpf_link__pin(l, path);
		bpf_link__destroy(l);
		if (err)
			break;
	}
	netq_bpf__destroy(skel);
	return err;
}

/* tx after the qdisc: tp_btf/net_dev_xmit, once per pin dir. 1 if it is
 * attached (the tc egress program then leaves tx to it), 0 if not. */
static int attach_xmit(const char *dir)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir);
	struct bpf_program *p;
	struct netq_bpf *skel;
	struct bpf_link *l;
	char path[600];
	int fd, err;

	fd = netq_pinned_fd(dir, NETQ_LINK_XMIT);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	skel = netq_bpf__open_opts(&oo);
	if (!skel)
		return 0;
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == skel->progs.netq_xmit);
	err = netq_bpf__load(skel);
	l = err ? NULL : bpf_program__attach(skel->progs.netq_xmit);
	if (l) {
		netq_pin_path(path, sizeof(path), dir, NETQ_LINK_XMIT);
		err = bpf_link__pin(l, path);
		bpf_link__destroy(l);
	}
	netq_bpf__destroy(skel);
	return l && !err;
}

static int find_slot(const char *dir, uint32_t ifindex, uint32_t ns,
		     uint32_t *slot, int *existing)
{
	struct netq_ifmap m;
	uint32_t s, mode;
	int fi, fm, free_slot = -1, err = -ENOSPC;

	fi = netq_pinned_fd(dir, NETQ_MAP_IFACES);
	fm = netq_pinned_fd(dir, NETQ_MAP_IFMAP);
	if (fi < 0 || fm < 0) {
		/* first attach in this pin dir */
		*slot = 0;
		*existing = 0;
		err = 0;
		goto out;
	}
	for (s = 0; s < NETQ_MAX_IFACES; s++) {
		if (netq_slot_read(fi, fm, s, &m, &mode) < 0)
			continue;
		if (m.ifindex == ifindex && m.netns_ino == ns) {
			*slot = s;
			*existing = 1;
			err = 0;
			goto out;
		}
		if (!m.ifindex && free_slot < 0)
			free_slot = s;
	}
	if (free_slot >= 0) {
		*slot = free_slot;
		*existing = 0;
		err = 0;
	}
out:
	if (fi >= 0)
		close(fi);
	if (fm >= 0)
		close(fm);
	return err;
}

static int attach_tc(const char *dir, struct netq_bpf *skel, uint32_t slot,
		     uint32_t ifindex, int force_clsact, uint32_t *mode)
{
	int fds[2] = { bpf_program__fd(skel->progs.netq_tc_ingress),
		       bpf_program__fd(skel->progs.netq_tc_egress) };
	const char *sfx[2] = { "in", "eg" };
	char name[32], path[600];
	int i, lfd, err = 0;

	if (!force_clsact) {
		for (i = 0; i < 2; i++) {
			lfd = bpf_link_create(fds[i], ifindex,
					      i ? NETQ_TCX_EGRESS :
						  NETQ_TCX_INGRESS, NULL);
			if (lfd < 0) {
				err = -errno;
				break;
			}
			snprintf(name, sizeof(name), "s%u_%s", slot, sfx[i]);
			netq_pin_path(path, sizeof(path), dir, name);
			unlink(path);
			if (bpf_obj_pin(lfd, path) < 0)
				err = -errno;
			close(lfd); /* the pin keeps it */
			if (err)
				break;
		}
		if (!err) {
			*mode = NETQ_MODE_TCX;
			return 0;
		}
		netq_slot_release(dir, slot, ifindex, NETQ_MODE_TCX, 1);
		if (err != -EINVAL && err != -EOPNOTSUPP && err != -524 /* ENOTSUPP */)
			return err;
	}
	for (i = 0; i < 2; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex,
			.attach_point = i ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = fds[i],
			.handle = NETQ_TC_HANDLE, .priority = NETQ_TC_PRIO,
			.flags = BPF_TC_F_REPLACE);

		err = bpf_tc_hook_create(&h);
		if (err && err != -EEXIST)
			return err;
		err = bpf_tc_attach(&h, &o);
		if (err)
			return err;
		snprintf(name, sizeof(name), "s%u_%s", slot, sfx[i]);
		netq_pin_path(path, sizeof(path), dir, name);
		unlink(path);
		if (bpf_obj_pin(fds[i], path) < 0)
			return -errno;
	}
	*mode = NETQ_MODE_CLSACT;
	return 0;
}

int netq_attach(const struct netq_attach_opts *o, const char *ifname,
		enum netq_attach_mode *mode_out)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo);
	static struct netq_iface rec; /* 16 kB: not on the stack */
	struct netq_bpf *skel = NULL;
	struct netq_ifmap m;
	char dir[512];
	uint32_t ifindex, ns, slot, mode = 0;
	int err, lk = -1, existing = 0, xmit_ok;

	netq_verbose = o ? o->verbose : 0;
	libbpf_set_print(netq_libbpf_print);
	netq_pin_dir(o ? o->pin_dir : NULL, dir, sizeof(dir));
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	ns = netq_netns_ino();
	err = netq_bpffs_ensure(dir);
	if (err < 0)
		return err;
	err = netq_mkdir_p(dir);
	if (err)
		return err;
	lk = netq_lock_dir(dir);
	if (lk < 0)
		return lk;
	netq_clean_locked(dir);
	err = netq_mkdir_p(dir); /* cleaning may have removed an empty dir */
	if (err)
		goto out;

	err = find_slot(dir, ifindex, ns, &slot, &existing);
	if (err)
		goto out;
	if (existing) {
		int fi = netq_pinned_fd(dir, NETQ_MAP_IFACES), fm = netq_pinned_fd(dir,
							NETQ_MAP_IFMAP);
		if (fi >= 0 && fm >= 0 &&
		    netq_slot_read(fi, fm, slot, &m, &mode) == 0 &&
		    netq_slot_alive(dir, slot, &m, mode)) {
			close(fi);
			close(fm);
			err = attach_tcp(dir); /* repair if missing */
			if (mode_out)
				*mode_out = mode;
			goto out;
		}
		if (fi >= 0)
			close(fi);
		if (fm >= 0)
			close(fm);
	}

	/* maps and the global hooks first: the slot records whether the
	 * transmit tracepoint counts its txw stream */
	xmit_ok = attach_xmit(dir);
	oo.pin_root_path = dir;
	skel = netq_bpf__open_opts(&oo);
	if (!skel) {
		err = -errno;
		goto out;
	}
	skel->rodata->netq_slot = slot;
	skel->rodata->netq_l2_hlen = netq_l2_hlen_of(ifname);
	bpf_program__set_autoload(skel->progs.netq_tcp_probe, false);
	bpf_program__set_autoload(skel->progs.netq_tcp_retrans, false);
	bpf_program__set_autoload(skel->progs.netq_tcp_probe_raw, false);
	bpf_program__set_autoload(skel->progs.netq_tcp_retrans_raw, false);
	bpf_program__set_autoload(skel->progs.netq_xmit, false);
	err = patch_slot(skel->progs.netq_tc_ingress, slot);
	if (!err)
		err = patch_slot(skel->progs.netq_tc_egress, slot);
	if (!err)
		err = netq_bpf__load(skel);
	if (err)
		goto out;

	/* a fresh record before the programs start counting into it */
	memset(&rec, 0, sizeof(rec));
	rec.ifindex = ifindex;
	rec.netns_ino = ns;
	snprintf(rec.ifname, sizeof(rec.ifname), "%s", ifname);
	rec.attach_ns = netq_now_ns();
	rec.flags = xmit_ok ? NETQ_IF_TXW : 0;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.netq_ifaces), &slot,
				&rec, BPF_ANY) < 0) {
		err = -errno;
		goto out;
	}
	err = attach_tc(dir, skel, slot, ifindex,
			o ? o->force_clsact : 0, &mode);
	if (err)
		goto out;
	rec.attach_mode = mode;
	bpf_map_update_elem(bpf_map__fd(skel->maps.netq_ifaces), &slot, &rec,
			    BPF_ANY);
	m.ifindex = ifindex;
	m.netns_ino = ns;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.netq_ifmap), &slot, &m,
				BPF_ANY) < 0) {
		err = -errno;
		goto out;
	}
	netq_update_ifbits(dir);
	err = attach_tcp(dir);
	if (err && netq_verbose)
		fprintf(stderr, "netq: TCP tracepoints unavailable: %s\n",
			strerror(-err));
	err = 0; /* counters work without the TCP part */
	if (mode_out)
		*mode_out = mode;
out:
	if (skel)
		netq_bpf__destroy(skel);
	if (lk >= 0)
		close(lk);
	return err;
}

int netq_detach(const struct netq_attach_opts *o, const char *ifname)
{
	struct netq_ifmap m;
	char dir[512];
	uint32_t slot, mode, ifindex = 0, ns = netq_netns_ino();
	int fi, fm, lk, found = 0, used = 0, err = 0;

	netq_pin_dir(o ? o->pin_dir : NULL, dir, sizeof(dir));
	if (ifname) {
		ifindex = if_nametoindex(ifname);
		if (!ifindex)
			return -ENODEV;
	}
	lk = netq_lock_dir(dir);
	if (lk < 0) /* no pin dir: nothing attached */
		return lk;
	fi = netq_pinned_fd(dir, NETQ_MAP_IFACES);
	fm = netq_pinned_fd(dir, NETQ_MAP_IFMAP);
	if (fi < 0 || fm < 0) {
		err = -ENOENT;
		if (!ifname) {
			for (slot = 0; slot < NETQ_MAX_IFACES; slot++)
				netq_slot_release(dir, slot, 0, 0, 0);
			netq_unpin_all(dir);
		}
		goto out;
	}
	for (slot = 0; slot < NETQ_MAX_IFACES; slot++) {
		if (netq_slot_read(fi, fm, slot, &m, &mode) < 0 || !m.ifindex)
			continue;
		if (ifname && !(m.ifindex == ifindex && m.netns_ino == ns)) {
			used++;
			continue;
		}
		netq_slot_release(dir, slot, m.ifindex, mode, m.netns_ino == ns);
		netq_slot_clear(fi, fm, slot);
		found++;
	}
	/* programs of slots that never made it into the table */
	if (!ifname)
		for (slot = 0; slot < NETQ_MAX_IFACES; slot++) {
			struct netq_ifmap r = { 0, 0 };

			netq_slot_record(fi, slot, &r);
			netq_slot_release(dir, slot, r.ifindex, 0,
				     r.ifindex && r.netns_ino == ns);
			netq_slot_clear(fi, fm, slot);
		}
	if (!found)
		err = -ENOENT; /* nothing was attached (leftovers are gone) */
	if (!used)
		netq_unpin_all(dir);
	else
		netq_update_ifbits(dir);
out:
	if (fi >= 0)
		close(fi);
	if (fm >= 0)
		close(fm);
	close(lk);
	netq_wait_progs_gone();
	return err;
}

int netq_attached(const char *pin_dir, const char *ifname)
{
	struct netq_ifmap m;
	char dir[512];
	uint32_t slot, mode, ifindex, ns = netq_netns_ino();
	int fi, fm, alive = 0;

	netq_pin_dir(pin_dir, dir, sizeof(dir));
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	fi = netq_pinned_fd(dir, NETQ_MAP_IFACES);
	fm = netq_pinned_fd(dir, NETQ_MAP_IFMAP);
	for (slot = 0; fi >= 0 && fm >= 0 && slot < NETQ_MAX_IFACES; slot++)
		if (netq_slot_read(fi, fm, slot, &m, &mode) == 0 &&
		    m.ifindex == ifindex && m.netns_ino == ns) {
			alive = netq_slot_alive(dir, slot, &m, mode);
			break;
		}
	if (fi >= 0)
		close(fi);
	if (fm >= 0)
		close(fm);
	return alive;
}
