/* The live progress line: one line on stderr, rewritten in place about twice a second,
 * saying which phase the run is in and how it is going (connections ready and failed with
 * their rate during ramps; messages sent and received with their rates while sending).
 * Shown when stderr is a terminal, or always/never with --progress on/off.
 */
#ifndef TIDEGATE_BENCH_PROGRESS_H
#define TIDEGATE_BENCH_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/params.h"

struct bench_shared;
struct bench_run;

struct progress {
    bool enabled;
    bool tty; /* rewrite in place; otherwise one line per update */
    uint64_t total;
    uint64_t last_ns;
    uint64_t last_ready, last_sent, last_received;
    int shown; /* characters of the last line, to clear */
};

void progress_init(struct progress *pr, const struct bench_params *p, uint64_t total);
void progress_update(struct progress *pr, struct bench_shared *sh, const struct bench_run *run,
                     int phase, uint64_t now_ns);
/* Ends the line so the summary starts on a fresh one. */
void progress_finish(struct progress *pr);

#endif
