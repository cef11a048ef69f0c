/*
 * sms_spool: the embedded SMS "gateway": one line per SMS appended to a
 * file and fsync'd before the SMS counts as sent, in the format
 *   <ISO-8601 UTC time>\t<to E.164>\t<text>\n
 * (docs/operations.md). Operators tail it; tests read codes from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sms_impl.h"

int sms_spool_format(char *buf, size_t cap, long long unix_time,
		     const char *to, const char *text, size_t *len_out)
{
	time_t t = (time_t)unix_time;
	struct tm tm;
	size_t n, tl = strlen(to), xl = strlen(text);

	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ\t", &tm);
	if (n == 0 || n + tl + 1 + xl + 2 > cap)
		return -ENOSPC;
	memcpy(buf + n, to, tl);
	n += tl;
	buf[n++] = '\t';
	/* one SMS, one line: control characters would break the format */
	for (size_t i = 0; i < xl; i++) {
		unsigned char c = (unsigned char)text[i];

		buf[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	*len_out = n;
	return 0;
}

int sms_spool_write(const char *path, const char *to, const char *text,
		    char *err, size_t errcap)
{
	char line[2048];
	size_t len, off = 0;
	int fd, rc;

	rc = sms_spool_format(line, sizeof(line), (long long)time(NULL), to,
			      text, &len);
	if (rc) {
		snprintf(err, errcap, "message too long for the spool");
		return rc;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errcap, "open %s: %s", path, strerror(errno));
		return rc;
	}
	/* O_APPEND: one write() per line keeps lines whole between writers */
	while (off < len) {
		ssize_t w = write(fd, line + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			snprintf(err, errcap, "write %s: %s", path, strerror(-rc));
			close(fd);
			return rc;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = -errno;
		snprintf(err, errcap, "fsync %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}
