/*
 * netq_link: link state for the decision (carrier, default route, link
 * kind, nominal speed), event-driven through a libnl-route cache manager:
 * the caller polls netq_linkstate_fd() and calls netq_linkstate_update();
 * a decision reads the cached result and never queries the kernel.
 * No RFCs (rtnetlink, RFC 3549, only through libnl).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include "netq_priv.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

/* Kind and nominal speed by ioctl: they work in any network namespace
 * (sysfs shows the namespace that mounted it, so it is used only to spot
 * wireless devices, after checking the ifindex matches). */
void netq_link_probe_static(const char *ifname, struct netq_lstate *ls)
{
	struct ethtool_cmd ec;
	struct ifreq ifr;
	char path[128], buf[32];
	int fd, t = -1, f;
	ssize_t n;

	ls->kind = NETQ_KIND_UNKNOWN;
	ls->speed_mbps = 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		t = ifr.ifr_hwaddr.sa_family;
	memset(&ec, 0, sizeof(ec));
	ec.cmd = ETHTOOL_GSET;
	ifr.ifr_data = (void *)&ec;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0) {
		uint32_t sp = ethtool_cmd_speed(&ec);

		if (sp != (uint32_t)SPEED_UNKNOWN && sp != 0xffff)
			ls->speed_mbps = sp;
	}
	close(fd);
	switch (t) {
	case ARPHRD_ETHER:
		ls->kind = NETQ_KIND_ETHERNET;
		snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", ifname);
		f = open(path, O_RDONLY | O_CLOEXEC);
		if (f < 0)
			break;
		n = read(f, buf, sizeof(buf) - 1);
		close(f);
		if (n <= 0)
			break;
		buf[n] = 0;
		if ((unsigned)atoi(buf) != if_nametoindex(ifname))
			break;
		snprintf(path, sizeof(path), "/sys/class/net/%s/wireless",
			 ifname);
		if (access(path, F_OK) == 0)
			ls->kind = NETQ_KIND_WIFI;
		break;
	case ARPHRD_NONE: case 519 /* ARPHRD_RAWIP */: case ARPHRD_PPP:
		ls->kind = NETQ_KIND_WWAN;
		break;
	case -1:
		break;
	default:
		ls->kind = NETQ_KIND_OTHER;
	}
}

struct route_scan {
	uint32_t ifindex[NETQ_MAX_IFACES];
	int n;
};

static void nh_cb(struct rtnl_nexthop *nh, void *arg)
{
	struct route_scan *rs = arg;

	if (rs->n < NETQ_MAX_IFACES)
		rs->ifindex[rs->n++] = (uint32_t)rtnl_route_nh_get_ifindex(nh);
}

static void route_cb(struct nl_object *obj, void *arg)
{
	struct rtnl_route *r = (struct rtnl_route *)obj;
	struct nl_addr *dst = rtnl_route_get_dst(r);

	if (rtnl_route_get_type(r) != RTN_UNICAST)
		return;
	if (dst && nl_addr_get_prefixlen(dst) != 0)
		return;
	rtnl_route_foreach_nexthop(r, nh_cb, arg);
}

void netq_lstate_refresh(struct netq *q)
{
	struct route_scan rs = { .n = 0 };
	int slot, i;

	if (!q->mngr)
		return;
	nl_cache_foreach(q->routes, route_cb, &rs);
	for (slot = 0; slot < NETQ_MAX_IFACES; slot++) {
		struct netq_lstate *ls = &q->lstate[slot];
		uint32_t ifx = q->ifmap[slot].ifindex;
		struct rtnl_link *l;
		unsigned fl;

		memset(ls, 0, sizeof(*ls));
		if (!ifx || q->ifmap[slot].netns_ino != q->my_netns)
			continue;
		l = rtnl_link_get(q->links, (int)ifx);
		if (!l)
			continue;
		fl = rtnl_link_get_flags(l);
		ls->up = (fl & IFF_UP) && (fl & IFF_LOWER_UP);
		netq_link_probe_static(rtnl_link_get_name(l), ls);
		rtnl_link_put(l);
		for (i = 0; i < rs.n; i++)
			if (rs.ifindex[i] == ifx)
				ls->default_route = 1;
	}
	q->have_lstate = 1;
}

static void change_cb(struct nl_cache *c, struct nl_object *o, int act,
		      void *arg)
{
	netq_lstate_refresh(arg);
}

int netq_lstate_open(struct netq *q)
{
	int err;

	/* Flags 0, not NL_AUTO_PROVIDE: a provided cache is libnl's global
	 * state, and with two handles in one process (the daemon's service and
	 * its presence prober each open one) libnl 3.7 leaked the caches of
	 * the handle freed last. Nothing here looks a link up by name. */
	err = nl_cache_mngr_alloc(NULL, NETLINK_ROUTE, 0, &q->mngr);
	if (err < 0)
		goto fail;
	err = nl_cache_mngr_add(q->mngr, "route/link", change_cb, q,
				&q->links);
	if (err < 0)
		goto fail;
	err = nl_cache_mngr_add(q->mngr, "route/route", change_cb, q,
				&q->routes);
	if (err < 0)
		goto fail;
	netq_lstate_refresh(q);
	return 0;
fail:
	netq_lstate_close(q);
	return err == -NLE_PERM ? -EPERM : -EIO;
}

void netq_lstate_close(struct netq *q)
{
	if (q->mngr)
		nl_cache_mngr_free(q->mngr);
	q->mngr = NULL;
	q->links = q->routes = NULL;
}

int netq_linkstate_fd(const struct netq *q)
{
	if (!q || !q->mngr)
		return -ENOTCONN;
	return nl_cache_mngr_get_fd(q->mngr);
}

int netq_linkstate_update(struct netq *q)
{
	int err;

	if (!q || !q->mngr)
		return -ENOTCONN;
	err = nl_cache_mngr_data_ready(q->mngr);
	if (err < 0)
		return -EIO;
	/* new slots (attach by another process) show up here too */
	netq_lstate_refresh(q);
	return 0;
}

int netq_default_ifaces(char names[][16], int max)
{
	struct route_scan rs = { .n = 0 };
	struct nl_cache *routes = NULL;
	struct nl_sock *sk;
	int i, j, n = 0, err;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (!err)
		err = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes);
	if (err) {
		nl_socket_free(sk);
		return -EIO;
	}
	nl_cache_foreach(routes, route_cb, &rs);
	for (i = 0; i < rs.n && n < max; i++) {
		char buf[IF_NAMESIZE];

		if (!if_indextoname(rs.ifindex[i], buf))
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(names[j], buf))
				break;
		if (j == n)
			snprintf(names[n++], 16, "%s", buf);
	}
	nl_cache_free(routes);
	nl_socket_free(sk);
	return n;
}
