/*
 * log: levelled logging. Each line is formatted into one buffer and written
 * with a single write(2), so lines from several threads never interleave.
 * On reopen (SIGHUP rotation) the descriptor is swapped and the old one
 * closed under log_fd_lock, which every line's write(2) holds: without it a
 * thread that had just loaded the old descriptor could write after the
 * close, to nothing or to whatever reused the number (a client's socket,
 * the database). The kernel serialises appends to one file anyway, so the
 * lock costs no parallelism.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataline/log.h"

static _Atomic int log_level_cur = LOG_LVL_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static pthread_mutex_t log_fd_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_path[512];

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level lvl)
{
	atomic_store(&log_level_cur, lvl);
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_open(const char *path)
{
	int fd, old;

	if (!path) {
		pthread_mutex_lock(&log_fd_lock);
		old = atomic_exchange(&log_fd, STDERR_FILENO);
		if (old != STDERR_FILENO)
			close(old);
		pthread_mutex_unlock(&log_fd_lock);
		log_path[0] = '\0';
		return 0;
	}
	if (strlen(path) >= sizeof(log_path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (path != log_path)
		snprintf(log_path, sizeof(log_path), "%s", path);
	pthread_mutex_lock(&log_fd_lock);
	old = atomic_exchange(&log_fd, fd);
	if (old != STDERR_FILENO)
		close(old);
	pthread_mutex_unlock(&log_fd_lock);
	return 0;
}

int log_reopen(void)
{
	return log_path[0] ? log_open(log_path) : 0;
}

void log_close(void)
{
	log_open(NULL);
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char buf[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;

	if ((int)lvl > atomic_load(&log_level_cur))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_names[lvl]);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	pthread_mutex_lock(&log_fd_lock);
	if (write(atomic_load(&log_fd), buf, n) < 0) {
		/* nowhere left to report it */
	}
	pthread_mutex_unlock(&log_fd_lock);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}
