/*
 * carrier: runs one carrier fallback backend for a text (patent step C22):
 * the modem (ModemManager through user/modem) or a log file in the state
 * directory for devices without one. See include/dataline/carrier.h for
 * the contract and docs/handset.md for the user's view.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataline/carrier.h"
#include "dataline/log.h"
#include "dataline/modem.h"

/* A 1600-byte text of control characters escapes to 6 bytes each. */
#define CARRIER_LINE_MAX (6 * MODEM_SMS_TEXT_MAX + 256)

static const char *const carrier_names[] = {
	[CARRIER_MODEM] = "modem",
	[CARRIER_LOG]   = "log",
};

int carrier_backend_parse(const char *name, enum carrier_backend *out)
{
	for (size_t i = 0; name && i < sizeof(carrier_names) / sizeof(carrier_names[0]); i++) {
		if (strcmp(name, carrier_names[i]) == 0) {
			*out = (enum carrier_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *carrier_backend_name(enum carrier_backend b)
{
	return (size_t)b < sizeof(carrier_names) / sizeof(carrier_names[0]) ?
	       carrier_names[b] : "?";
}

int carrier_log_format(time_t t, const char *number, const char *text,
		       char *buf, size_t cap, size_t *len)
{
	char when[32];
	struct tm tm;
	json_t *o;
	size_t n;

	if (!number || !text || !gmtime_r(&t, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -EINVAL;
	/* json_pack refuses strings that are not UTF-8 */
	o = json_pack("{s:s, s:s, s:s}", "time", when, "number", number,
		      "text", text);
	if (!o)
		return -EINVAL;
	n = json_dumpb(o, buf, cap, JSON_COMPACT);
	json_decref(o);
	if (n == 0)
		return -EINVAL;
	if (n + 2 > cap)
		return -ENOSPC;
	buf[n++] = '\n';
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Appends LINE to PATH with one write(2) (O_APPEND keeps concurrent
 * writers' lines whole) and fsyncs it: on disk means sent. */
static int carrier_append(const char *path, const char *line, size_t len)
{
	size_t off = 0;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, line + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		r = -errno;
out:
	if (close(fd) != 0 && r == 0)
		r = -errno;
	return r;
}

/* Appends LINE to STATE_DIR/FILE (made 0700 if missing); REF gets the
 * file's path. */
static int carrier_log_line(const struct carrier *c, const char *file, const char *line,
			    size_t len, char ref[CARRIER_REF_MAX])
{
	char path[PATH_MAX];
	int r, n;

	if (!c->state_dir || !c->state_dir[0])
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s/%s", c->state_dir, file);
	if (n < 0 || (size_t)n >= sizeof(path) || (size_t)n >= CARRIER_REF_MAX)
		return -ENAMETOOLONG;
	if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
		r = -errno;
		log_warn("carrier: log backend: mkdir %s: %s", c->state_dir, strerror(-r));
		return r;
	}
	r = carrier_append(path, line, len);
	if (r < 0) {
		log_warn("carrier: log backend: %s: %s", path, strerror(-r));
		return r;
	}
	if (ref)
		snprintf(ref, CARRIER_REF_MAX, "%s", path);
	return 0;
}

static int carrier_log_send(const struct carrier *c, const char *number,
			    const char *text, char ref[CARRIER_REF_MAX])
{
	char line[CARRIER_LINE_MAX];
	size_t len;
	int r;

	r = carrier_log_format(time(NULL), number, text, line, sizeof(line), &len);
	if (r < 0)
		return r;
	return carrier_log_line(c, CARRIER_LOG_FILE, line, len, ref);
}

static int carrier_modem_send(const char *number, const char *text,
			      char ref[CARRIER_REF_MAX])
{
	char path[MODEM_SMS_PATH_MAX];
	struct modem *m;
	int r;

	r = modem_open(&m);
	if (r < 0) {
		log_warn("carrier: no modem: %s", r == -EHOSTUNREACH ?
			 "ModemManager is not running" : r == -ENODEV ?
			 "ModemManager has no modem" : strerror(-r));
		return r;
	}
	r = modem_sms_send(m, number, text, path);
	modem_close(m);
	if (r == 0 && ref)
		snprintf(ref, CARRIER_REF_MAX, "%s", path);
	return r;
}

int carrier_sms_send(const struct carrier *c, const char *number,
		     const char *text, char ref[CARRIER_REF_MAX])
{
	int r;

	r = modem_sms_check(number, text);
	if (r < 0) {
		if (r == -EMSGSIZE)
			log_warn("carrier: text is %zu bytes, more than the %d an SMS may take",
				 strlen(text), MODEM_SMS_TEXT_MAX);
		else
			log_warn("carrier: not sent: the number must be [+]1-%d digits and the text non-empty UTF-8",
				 MODEM_SMS_NUMBER_MAX);
		return r;
	}
	switch (c->backend) {
	case CARRIER_MODEM:
		r = carrier_modem_send(number, text, ref);
		break;
	case CARRIER_LOG:
		r = carrier_log_send(c, number, text, ref);
		break;
	default:
		return -EINVAL;
	}
	if (r == 0)
		log_info("carrier: SMS to %s sent by %s (%zu bytes)", number,
			 carrier_backend_name(c->backend), strlen(text));
	return r;
}

/* ------------------------------------------------------------ calls */

static int carrier_log_call(const struct carrier *c, const char *number,
			    char ref[CARRIER_REF_MAX])
{
	char line[256], when[32];
	time_t t = time(NULL);
	struct tm tm;
	int n;

	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -EINVAL;
	/* NUMBER passed modem_number_check: digits and '+' need no escaping */
	n = snprintf(line, sizeof(line), "{\"time\":\"%s\",\"number\":\"%s\",\"call\":\"voice\"}\n",
		     when, number);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENOSPC;
	return carrier_log_line(c, CARRIER_CALL_LOG_FILE, line, (size_t)n, ref);
}

static int carrier_modem_call(const char *number, char ref[CARRIER_REF_MAX])
{
	char path[MODEM_CALL_PATH_MAX];
	struct modem *m;
	int r;

	r = modem_open(&m);
	if (r < 0) {
		log_warn("carrier: no modem for the call: %s", r == -EHOSTUNREACH ?
			 "ModemManager is not running" : r == -ENODEV ?
			 "ModemManager has no modem" : strerror(-r));
		return r;
	}
	r = modem_voice_call(m, number, path);
	modem_close(m);
	if (r == 0 && ref)
		snprintf(ref, CARRIER_REF_MAX, "%s", path);
	return r;
}

int carrier_call_start(const struct carrier *c, const char *number,
		       char ref[CARRIER_REF_MAX])
{
	int r;

	if (modem_number_check(number) < 0) {
		log_warn("carrier: no call: the number must be [+]1-%d digits",
			 MODEM_SMS_NUMBER_MAX);
		return -EINVAL;
	}
	switch (c->backend) {
	case CARRIER_MODEM:
		r = carrier_modem_call(number, ref);
		break;
	case CARRIER_LOG:
		r = carrier_log_call(c, number, ref);
		break;
	default:
		return -EINVAL;
	}
	if (r == 0)
		log_info("carrier: voice call to %s placed by %s", number,
			 carrier_backend_name(c->backend));
	return r;
}
