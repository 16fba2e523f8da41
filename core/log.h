/* Structured logging to stderr, one line per event, in logfmt:
 *
 *   ts=2026-11-23T12:34:56.789Z level=info comp=listener msg="listening" addr=0.0.0.0:8080
 *
 * The message is a constant sentence; details go in key=value pairs so logs can be
 * grepped and parsed. Nothing is logged per message at info level: per-frame and
 * per-request events are debug. Thread-safe: each line is written with one write(2).
 */
#ifndef TIDEGATE_CORE_LOG_H
#define TIDEGATE_CORE_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Sets the lowest level that is written. Default LOG_INFO. */
void log_level_set(enum log_level level);

/* Parses "debug", "info", "warn" or "error"; returns false for anything else. */
bool log_level_parse(const char *text, enum log_level *level);

bool log_enabled(enum log_level level);

/* Writes one line: `comp` names the module, `msg` is a constant sentence (quoted in the
 * output), `kv_fmt` formats the key=value pairs that follow it (may be NULL). Lines longer
 * than 2 KiB are truncated with "..." so a hostile value cannot flood the log. */
void log_emit(enum log_level level, const char *comp, const char *msg, const char *kv_fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(comp, msg, ...)                                                                  \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG))                                                                \
            log_emit(LOG_DEBUG, comp, msg, __VA_ARGS__);                                           \
    } while (0)
#define log_info(comp, msg, ...)  log_emit(LOG_INFO, comp, msg, __VA_ARGS__)
#define log_warn(comp, msg, ...)  log_emit(LOG_WARN, comp, msg, __VA_ARGS__)
#define log_error(comp, msg, ...) log_emit(LOG_ERROR, comp, msg, __VA_ARGS__)

#endif
