/*
 * state: the handset's state directory. state.json holds the provisioning
 * server, the number, the TLS trust decision and the SIP credentials; it
 * is written to a temporary file of mode 0600, fsync'd and renamed over the
 * old one, so a crash never leaves half a file and the password is never
 * readable by other users. The directory itself is created with mode 0700.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dataline/log.h"

int cli_state_dir_default(char *buf, size_t len)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (x && x[0] == '/')
		n = snprintf(buf, len, "%s/dataline", x);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/var/lib/dataline");
	else if (home && home[0])
		n = snprintf(buf, len, "%s/.local/state/dataline", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p with mode 0700 for the last component. */
static int cli_mkdirs(const char *dir)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cli_state_load(const char *dir, const char *file, json_t **out)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *st;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, F_OK) < 0)
		return -errno;
	st = json_load_file(path, 0, &jerr);
	if (!st || !json_is_object(st)) {
		log_err("%s: %s", path, st ? "not a JSON object" : jerr.text);
		json_decref(st);
		return -EINVAL;
	}
	*out = st;
	return 0;
}

int cli_state_save(const char *dir, const char *file, json_t *st)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	char *text;
	size_t len, off = 0;
	int fd, r;

	r = cli_mkdirs(dir);
	if (r < 0)
		return r;
	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, file, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	text = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	/* O_CREAT's mode is masked by the umask; make 0600 explicit. */
	if (fchmod(fd, 0600) < 0)
		r = -errno;
	while (r == 0 && off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			r = -errno;
		else
			off += (size_t)w;
	}
	if (r == 0 && (write(fd, "\n", 1) != 1 || fsync(fd) < 0))
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
out:
	free(text);
	return r;
}

const char *cli_json_str(json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

void cli_trust_from_state(json_t *st, struct agent_trust *trust)
{
	json_t *t = json_object_get(st, "trust");

	memset(trust, 0, sizeof(*trust));
	if (!json_is_object(t))
		return;
	trust->ca_file = cli_json_str(t, "ca_file");
	trust->pin_sha256 = cli_json_str(t, "pin_sha256");
	trust->tofu = json_is_true(json_object_get(t, "tofu"));
}
