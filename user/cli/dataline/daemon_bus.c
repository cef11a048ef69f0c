/*
 * daemon_bus: which D-Bus the daemon serves org.dataline.Handset1 on.
 * `--bus system|session|ADDRESS` is used as given. Without it ("auto"):
 * the system bus when the daemon may own the name there (a phone with
 * dist/dbus/org.dataline.Handset1.conf installed); otherwise a private
 * bus of its own, a dbus-daemon child listening on STATE_DIR/bus.PID, so that
 * `dataline daemon` works out of the box on a machine without a system
 * bus or without our policy file. The address goes into daemon.json, where
 * the client commands find it (docs/handset.md "D-Bus interface").
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "cli.h"
#include "dataline/log.h"
#include "dataline/svc.h"

/* 1 if we may own our name on the system bus (asked, then released). */
static int system_bus_usable(void)
{
	sd_bus *bus = NULL;
	int r = svc_bus_connect("system", &bus);

	if (r >= 0) {
		r = sd_bus_request_name(bus, SVC_BUS_NAME, 0);
		if (r >= 0)
			sd_bus_release_name(bus, SVC_BUS_NAME);
		else
			log_info("daemon: the system bus does not let us own %s (%s); "
				 "install dist/dbus/%s.conf to serve there",
				 SVC_BUS_NAME, strerror(-r), SVC_BUS_NAME);
	}
	sd_bus_flush_close_unref(bus);
	return r >= 0;
}

/* Removes the sockets of private buses whose daemon is gone. */
static void stale_buses(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[4096];
		long pid;

		if (sscanf(e->d_name, "bus.%ld", &pid) != 1 || pid <= 0 ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;   /* not ours, or its daemon still runs */
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	}
	if (d)
		closedir(d);
}

/*
 * Starts dbus-daemon on STATE_DIR/bus.PID; its pid in *pid. The socket is
 * named after this daemon: the bus of a daemon that was killed may still
 * be shutting down (it goes with its parent, PR_SET_PDEATHSIG), and a new
 * daemon must never reach it.
 */
static int private_bus(const char *state_dir, char *addr, size_t len, pid_t *pid)
{
	char path[4096], dir[PATH_MAX];
	struct stat st;
	pid_t p;

	/* absolute: clients elsewhere read the address from daemon.json */
	if (!realpath(state_dir, dir))
		return -errno;
	stale_buses(dir);
	if (snprintf(path, sizeof(path), "%s/bus.%ld", dir, (long)getpid()) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	unlink(path);
	snprintf(addr, len, "unix:path=%s", path);
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		/* it goes when we go, even after a SIGKILL */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork",
		       "--nopidfile", "--address", addr, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		int status;

		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			*pid = p;
			log_info("daemon: serving D-Bus on a private bus, %s", addr);
			return 0;
		}
		if (waitpid(p, &status, WNOHANG) == p)
			return -ENOENT;     /* dbus-daemon missing or failed */
		usleep(50 * 1000);
	}
	kill(p, SIGTERM);
	waitpid(p, NULL, 0);
	return -ETIMEDOUT;
}

int cli_daemon_bus(struct cli_opts *o, char *addr, size_t len, pid_t *pid)
{
	int r;

	*pid = 0;
	if (o->bus && strcmp(o->bus, "auto") != 0) {
		snprintf(addr, len, "%s", o->bus);
		return 0;
	}
	if (system_bus_usable()) {
		snprintf(addr, len, "system");
		return 0;
	}
	r = private_bus(o->state_dir, addr, len, pid);
	if (r < 0)
		fprintf(stderr, "dataline: no system bus to serve on, and no private "
			"one: dbus-daemon: %s (scripts/install-deps.sh installs dbus)\n",
			strerror(-r));
	return r;
}

void cli_daemon_bus_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}
