/*
 * log: levelled logging to stderr (or a file that SIGHUP can reopen),
 * shared by the handset and the server. Thread-safe: one write(2) per line.
 */
#ifndef DATALINE_LOG_H
#define DATALINE_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the threshold; lines above it are dropped. Default: info. */
void log_set_level(enum log_level lvl);
/* Parses "error|warn|info|debug"; returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
/* Logs to PATH (appending) instead of stderr; NULL goes back to stderr.
 * Calling it again with the same path reopens the file (log rotation).
 * Returns 0 or -errno. */
int log_open(const char *path);
int log_reopen(void);
void log_close(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

#define log_err(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
