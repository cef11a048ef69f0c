/*
 * tool_netns: moves the calling thread into a named network namespace
 * (/var/run/netns/NAME, as `ip netns add` makes it), for the test tools
 * that must act inside the namespaces the tests create. 0 or -errno.
 */
#ifndef DATALINE_TOOL_NETNS_H
#define DATALINE_TOOL_NETNS_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

static inline int enter_netns(const char *name)
{
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(fd);
	return err;
}

#endif
