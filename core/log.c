/* Structured logging: see log.h. The level is a relaxed atomic so every thread may read it
 * on the hot path for free; each line is built on the stack and written with one write(2),
 * which keeps lines from different threads whole (stderr is unbuffered and lines stay under
 * PIPE_BUF in the common case). */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { LOG_LINE_BYTES_MAX = 2048 };

static _Atomic int log_min_level = LOG_INFO;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

void log_level_set(enum log_level level)
{
    atomic_store_explicit(&log_min_level, (int)level, memory_order_relaxed);
}

bool log_level_parse(const char *text, enum log_level *level)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcmp(text, log_level_names[i]) == 0) {
            *level = (enum log_level)i;
            return true;
        }
    }
    return false;
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&log_min_level, memory_order_relaxed);
}

void log_emit(enum log_level level, const char *comp, const char *msg, const char *kv_fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[LOG_LINE_BYTES_MAX];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int used = snprintf(line, sizeof line,
                        "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s msg=\"%s\"",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, now.tv_nsec / 1000000L, log_level_names[level], comp, msg);
    if (used < 0)
        return;
    size_t len = (size_t)used < sizeof line ? (size_t)used : sizeof line - 1;
    if (kv_fmt != NULL && len + 2 < sizeof line) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, kv_fmt);
        int more = vsnprintf(line + len, sizeof line - len, kv_fmt, ap);
        va_end(ap);
        if (more > 0)
            len += (size_t)more < sizeof line - len ? (size_t)more : sizeof line - len - 1;
    }
    if (len >= sizeof line - 1)
        memcpy(line + sizeof line - 5, "...", 3), len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len); /* nowhere to report a failed log write */
    (void)ignored;
}
