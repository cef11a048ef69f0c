/*
 * netq_pins: the pin dir of netq (default /sys/fs/bpf/dataline): bpffs
 * mounting, locking, the slot table read through the pinned maps, and the
 * cleanup of what a crashed or killed loader left behind. Used by
 * netq_attach.c. No RFCs.
 *
 * Pin dir layout:
 *   netq_ifaces netq_ifmap netq_probe netq_ctl netq_sk   maps (BTF)
 *   link_tcp_probe link_tcp_retrans link_xmit            tracepoint links
 *   s<slot>_in s<slot>_eg         tcx links, or (clsact) pinned programs
 * The directory itself is the flock(2) target.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "netq_priv.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#define NETQ_LINK_TYPE_TCX 11

int netq_verbose;
int netq_libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG && !netq_verbose)
		return 0;
	if (lvl == LIBBPF_WARN && !netq_verbose)
		return 0; /* we report errors ourselves, clearly */
	return vfprintf(stderr, fmt, ap);
}

const char *netq_pin_dir(const char *pin_dir, char *buf, size_t len)
{
	const char *d = pin_dir;

	if (!d || !*d)
		d = getenv(NETQ_PIN_ENV);
	if (!d || !*d)
		d = NETQ_DEFAULT_PIN_DIR;
	snprintf(buf, len, "%s", d);
	return buf;
}

uint32_t netq_netns_ino(void)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		return 0;
	return (uint32_t)st.st_ino;
}

int netq_bpffs_ensure(const char *pin_dir)
{
	struct statfs fs;
	char parent[512], *p;
	int mounted = 0;

	if (statfs("/sys/fs/bpf", &fs) == 0 && fs.f_type != BPF_FS_MAGIC &&
	    strncmp(pin_dir, "/sys/fs/bpf", 11) == 0) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
			return -errno;
		mounted = 1;
	}
	/* the pin dir itself, or its nearest existing parent, must be bpffs */
	snprintf(parent, sizeof(parent), "%s", pin_dir);
	while (statfs(parent, &fs) < 0) {
		p = strrchr(parent, '/');
		if (!p || p == parent)
			return -ENOENT;
		*p = 0;
	}
	if (fs.f_type != BPF_FS_MAGIC)
		return -EXDEV;
	return mounted;
}

int netq_mkdir_p(const char *dir)
{
	char buf[512];
	size_t i;

	snprintf(buf, sizeof(buf), "%s", dir);
	for (i = 1; buf[i]; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = 0;
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int netq_lock_dir(const char *dir)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/.lock", dir);
	/* bpffs accepts no regular files: lock the directory itself */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

void netq_pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

int netq_pinned_fd(const char *dir, const char *name)
{
	char p[600];
	int fd;

	netq_pin_path(p, sizeof(p), dir, name);
	fd = bpf_obj_get(p);
	return fd < 0 ? -errno : fd;
}

int netq_l2_hlen_of(const char *ifname)
{
	struct ifreq ifr;
	int fd, t;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 14;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	t = ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 ? ifr.ifr_hwaddr.sa_family : 1;
	close(fd);
	switch (t) {
	case ARPHRD_NONE: case 519 /* ARPHRD_RAWIP */: case ARPHRD_PPP:
	case ARPHRD_IPGRE: case ARPHRD_TUNNEL: case ARPHRD_TUNNEL6:
		return 0;
	default:
		return 14;
	}
}

/* Map fd by pin; a pinned map of another layout (older build) is stale. */
static int map_compatible(const char *dir, const char *name, uint32_t vsz)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	int fd = netq_pinned_fd(dir, name), ok;

	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	ok = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	     info.value_size == vsz;
	close(fd);
	return ok ? 0 : -ESTALE;
}

/* tcx link info: the uapi of 6.1 lacks the tcx member; it sits at the
 * start of the union (offset 16) as { ifindex, attach_type }. */
static int link_ifindex(int fd, uint32_t *type, uint32_t *ifindex)
{
	uint64_t raw[16];
	uint32_t len = sizeof(raw);

	memset(raw, 0, sizeof(raw));
	if (bpf_obj_get_info_by_fd(fd, raw, &len) < 0)
		return -errno;
	*type = ((uint32_t *)raw)[0];
	*ifindex = ((uint32_t *)raw)[4];
	return 0;
}

/*
 * Releasing a link is asynchronous in the kernel (bpf_link_put defers to a
 * workqueue), so a program can outlive our unlink(2) by a moment. Detach
 * remembers the ids of the programs it let go and waits until they are
 * gone, so that `bpftool prog` right after `detach` shows nothing of ours.
 */
static uint32_t gone_ids[4 * NETQ_MAX_IFACES + 8];
static int n_gone;

static void note_prog_of(int fd)
{
	char path[64], line[128];
	unsigned id;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "prog_id: %u", &id) == 1 &&
		    n_gone < (int)(sizeof(gone_ids) / sizeof(gone_ids[0])))
			gone_ids[n_gone++] = id;
	fclose(f);
}

void netq_wait_progs_gone(void)
{
	int i, fd, tries;

	for (i = 0; i < n_gone; i++) {
		for (tries = 0; tries < 400; tries++) { /* 2 s at most */
			fd = bpf_prog_get_fd_by_id(gone_ids[i]);
			if (fd < 0)
				break;
			close(fd);
			usleep(5000);
		}
	}
	n_gone = 0;
}

static void unpin(const char *dir, const char *name)
{
	char p[600];
	int fd;

	netq_pin_path(p, sizeof(p), dir, name);
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		note_prog_of(fd);
		close(fd);
	}
	unlink(p);
}

/* netq_ctl.ifbits from the slot table (the xmit tracepoint's filter). */
void netq_update_ifbits(const char *dir)
{
	struct netq_ifmap m;
	struct netq_ctl *ctl;
	uint64_t bits[4] = { 0, 0, 0, 0 };
	uint32_t slot;
	size_t len;
	int fm = netq_pinned_fd(dir, NETQ_MAP_IFMAP), fc = netq_pinned_fd(dir,
								NETQ_MAP_CTL);

	for (slot = 0; fm >= 0 && slot < NETQ_MAX_IFACES; slot++)
		if (bpf_map_lookup_elem(fm, &slot, &m) == 0 && m.ifindex)
			bits[(m.ifindex >> 6) & 3] |= 1ull << (m.ifindex & 63);
	if (fc >= 0 && netq_map_mmap(fc, sizeof(*ctl), 1, (void **)&ctl,
				     &len) == 0) {
		for (slot = 0; slot < 4; slot++)
			__atomic_store_n(&ctl->ifbits[slot], bits[slot],
					 __ATOMIC_RELEASE);
		munmap(ctl, len);
	}
	if (fm >= 0)
		close(fm);
	if (fc >= 0)
		close(fc);
}

/* Detach and unpin one slot's programs; clsact only from its own netns.
 * mode 0 (an attach that died before recording its mode): try both. */
void netq_slot_release(const char *dir, uint32_t slot, uint32_t ifindex,
			 uint32_t mode, int same_ns)
{
	const char *sfx[2] = { "in", "eg" };
	char name[32];
	int i, fd;

	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "s%u_%s", slot, sfx[i]);
		fd = netq_pinned_fd(dir, name);
		if (fd >= 0) {
			note_prog_of(fd);
			if (mode != NETQ_MODE_CLSACT) /* a prog pin: EINVAL */
				bpf_link_detach(fd);
			close(fd);
		}
		if (mode != NETQ_MODE_TCX && same_ns && ifindex) {
			DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex,
				.attach_point = i ? BPF_TC_EGRESS : BPF_TC_INGRESS);
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, o,
				.handle = NETQ_TC_HANDLE,
				.priority = NETQ_TC_PRIO);
			bpf_tc_detach(&h, &o);
		}
		unpin(dir, name);
	}
}

void netq_unpin_all(const char *dir)
{
	static const char *names[] = {
		NETQ_LINK_TCP_PROBE, NETQ_LINK_TCP_RETRANS, NETQ_LINK_XMIT,
		NETQ_MAP_IFACES, NETQ_MAP_IFMAP, NETQ_MAP_PROBE, NETQ_MAP_CTL,
		NETQ_MAP_SK,
	};
	size_t i;
	int fd;

	for (i = 0; i < 3; i++) {
		fd = netq_pinned_fd(dir, names[i]);
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unpin(dir, names[i]);
	rmdir(dir);
}

/* Reads the slot table through the pinned maps (no mmap needed here). */
int netq_slot_read(int fd_ifaces, int fd_ifmap, uint32_t slot,
		     struct netq_ifmap *m, uint32_t *mode)
{
	static struct netq_iface v; /* 16 kB: not on the stack */

	if (bpf_map_lookup_elem(fd_ifmap, &slot, m) < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd_ifaces, &slot, &v) < 0)
		return -errno;
	*mode = v.attach_mode;
	return 0;
}

/* The interface an attach into this slot began with, even if it died
 * before publishing the slot in netq_ifmap (the record is written first). */
int netq_slot_record(int fd_ifaces, uint32_t slot, struct netq_ifmap *m)
{
	static struct netq_iface v;

	if (bpf_map_lookup_elem(fd_ifaces, &slot, &v) < 0)
		return -errno;
	m->ifindex = v.ifindex;
	m->netns_ino = v.netns_ino;
	return 0;
}

int netq_slot_clear(int fd_ifaces, int fd_ifmap, uint32_t slot)
{
	static struct netq_iface zero;
	struct netq_ifmap m = { 0, 0 };

	if (bpf_map_update_elem(fd_ifmap, &slot, &m, BPF_ANY) < 0)
		return -errno;
	if (bpf_map_update_elem(fd_ifaces, &slot, &zero, BPF_ANY) < 0)
		return -errno;
	return 0;
}

/* Is this slot's attachment still alive? 1 yes, 0 no (stale). */
int netq_slot_alive(const char *dir, uint32_t slot, const struct netq_ifmap *m,
		      uint32_t mode)
{
	char name[32];
	uint32_t type = 0, ifx = 0;
	int fd, alive;

	snprintf(name, sizeof(name), "s%u_in", slot);
	fd = netq_pinned_fd(dir, name);
	if (fd < 0)
		return 0;
	if (mode == NETQ_MODE_TCX) {
		alive = link_ifindex(fd, &type, &ifx) == 0 &&
			type == NETQ_LINK_TYPE_TCX && ifx == m->ifindex;
	} else {
		char buf[IF_NAMESIZE];

		/* clsact: checkable only from the interface's netns */
		alive = m->netns_ino != netq_netns_ino() ||
			if_indextoname(m->ifindex, buf) != NULL;
	}
	close(fd);
	return alive;
}

int netq_clean_locked(const char *dir)
{
	struct netq_ifmap m;
	uint32_t slot, mode;
	int fi, fm, removed = 0, used = 0;

	/* a pinned map of another layout: everything of that run goes */
	if (map_compatible(dir, NETQ_MAP_IFACES, sizeof(struct netq_iface)) ==
	    -ESTALE ||
	    map_compatible(dir, NETQ_MAP_IFMAP, sizeof(struct netq_ifmap)) ==
	    -ESTALE) {
		for (slot = 0; slot < NETQ_MAX_IFACES; slot++)
			netq_slot_release(dir, slot, 0, NETQ_MODE_TCX, 0);
		netq_unpin_all(dir);
		return 1;
	}
	fi = netq_pinned_fd(dir, NETQ_MAP_IFACES);
	fm = netq_pinned_fd(dir, NETQ_MAP_IFMAP);
	if (fi < 0 || fm < 0) {
		if (fi >= 0)
			close(fi);
		if (fm >= 0)
			close(fm);
		return 0;
	}
	for (slot = 0; slot < NETQ_MAX_IFACES; slot++) {
		if (netq_slot_read(fi, fm, slot, &m, &mode) < 0)
			continue;
		if (!m.ifindex) {
			/* an attach killed between its record and publishing
			 * the slot: undo what it may have attached */
			struct netq_ifmap r = { 0, 0 };

			if (netq_slot_record(fi, slot, &r) < 0 || !r.ifindex)
				continue;
			netq_slot_release(dir, slot, r.ifindex, mode,
				     r.netns_ino == netq_netns_ino());
			netq_slot_clear(fi, fm, slot);
			removed++;
			continue;
		}
		if (netq_slot_alive(dir, slot, &m, mode)) {
			used++;
			continue;
		}
		netq_slot_release(dir, slot, m.ifindex, mode,
			     m.netns_ino == netq_netns_ino());
		netq_slot_clear(fi, fm, slot);
		removed++;
	}
	close(fi);
	close(fm);
	if (!used) {
		int lf = netq_pinned_fd(dir, NETQ_LINK_TCP_PROBE);

		if (lf >= 0)
			close(lf);
		removed += lf >= 0;
		/* link pins of slots never recorded at all */
		for (slot = 0; slot < NETQ_MAX_IFACES; slot++)
			netq_slot_release(dir, slot, 0, 0, 0);
		netq_unpin_all(dir);
	} else if (removed) {
		netq_update_ifbits(dir);
	}
	netq_wait_progs_gone();
	return removed;
}

int netq_clean_stale(const struct netq_attach_opts *o)
{
	char dir[512];
	int lk, n;

	netq_pin_dir(o ? o->pin_dir : NULL, dir, sizeof(dir));
	lk = netq_lock_dir(dir);
	if (lk < 0)
		return lk == -ENOENT ? 0 : lk;
	n = netq_clean_locked(dir);
	close(lk);
	return n;
}
