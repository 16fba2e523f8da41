/* The live progress line: see progress.h. */
#include "bench/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "bench/run.h"
#include "bench/shared.h"

enum { PROGRESS_INTERVAL_MS = 500, PROGRESS_PIPE_INTERVAL_MS = 5000 };

static const char *const phase_names[] = {"init", "ramp", "run", "drain", "storm", "done"};

void progress_init(struct progress *pr, const struct bench_params *p, uint64_t total)
{
    pr->tty = isatty(STDERR_FILENO) == 1;
    pr->enabled =
        p->progress == BENCH_PROGRESS_ON || (p->progress == BENCH_PROGRESS_AUTO && pr->tty);
    pr->total = total;
    pr->last_ns = 0;
    pr->last_ready = pr->last_sent = pr->last_received = 0;
    pr->shown = 0;
}

void progress_update(struct progress *pr, struct bench_shared *sh, const struct bench_run *run,
                     int phase, uint64_t now_ns)
{
    if (!pr->enabled)
        return;
    uint64_t interval_ns =
        (uint64_t)(pr->tty ? PROGRESS_INTERVAL_MS : PROGRESS_PIPE_INTERVAL_MS) * 1000000u;
    if (pr->last_ns != 0 && now_ns - pr->last_ns < interval_ns)
        return;
    double dt = pr->last_ns == 0 ? 0 : (double)(now_ns - pr->last_ns) / 1e9;
    uint64_t ready = bench_live(sh, LIVE_READY), failed = bench_live(sh, LIVE_FAILED);
    uint64_t lost = bench_live(sh, LIVE_LOST), closed = bench_live(sh, LIVE_CLOSED);
    uint64_t sent = bench_live(sh, LIVE_SENT), received = bench_live(sh, LIVE_RECEIVED);
    uint64_t open = ready > lost + closed ? ready - lost - closed : 0;
    char line[256];
    int n = snprintf(
        line, sizeof line, "[%-5s %6.1fs] open %llu/%llu (+%.0f/s) failed %llu lost %llu",
        phase >= 0 && phase <= 5 ? phase_names[phase] : "?",
        (double)(now_ns - run->origin_ns) / 1e9, (unsigned long long)open,
        (unsigned long long)pr->total, dt > 0 ? (double)(ready - pr->last_ready) / dt : 0.0,
        (unsigned long long)failed, (unsigned long long)lost);
    if ((sent > 0 || received > 0) && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n,
                      " | sent %llu (%.0f/s) received %llu (%.0f/s)", (unsigned long long)sent,
                      dt > 0 ? (double)(sent - pr->last_sent) / dt : 0.0,
                      (unsigned long long)received,
                      dt > 0 ? (double)(received - pr->last_received) / dt : 0.0);
    if (pr->tty)
        fprintf(stderr, "\r%s%*s", line, pr->shown > n ? pr->shown - n : 0, "");
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
    pr->shown = n;
    pr->last_ns = now_ns;
    pr->last_ready = ready;
    pr->last_sent = sent;
    pr->last_received = received;
}

void progress_finish(struct progress *pr)
{
    if (pr->enabled && pr->tty && pr->shown > 0)
        fputc('\n', stderr);
    pr->shown = 0;
}
