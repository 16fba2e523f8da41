/* One run of a scenario: the parent process forks the harness processes, moves the
 * phases forward (shared.h), shows progress, measures the server around the phases, and
 * merges what every process measured.
 *
 * Phases per scenario (each one bounded in time; --max-time bounds them all):
 *   connect  RAMP (until every attempt is ready or failed, or --ramp-timeout), RUN for
 *            --duration (a hold, 0 by default), DONE
 *   idle     RAMP, RUN for --duration (the hold; server memory is read at its end), DONE
 *   echo,    RAMP, RUN for --duration (senders send on schedule), DRAIN (until everything
 *   fanout   sent has arrived, or --drain), DONE (losses are counted)
 *   churn    RAMP, RUN for --duration (cycles at --churn-per-s), DRAIN (until everyone is
 *            back, or --drain), DONE
 *   storm    RAMP, RUN for --hold, STORM (every connection drops and reconnects at once;
 *            until all are back, or --ramp-timeout), DONE
 */
#ifndef TIDEGATE_BENCH_RUN_H
#define TIDEGATE_BENCH_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/params.h"
#include "bench/result.h"

/* Readings of the server processes (--server-pids) and the kernel at one moment. */
struct bench_reading {
    bool server_ok; /* rss and cpu were read */
    uint64_t server_rss_bytes;
    uint64_t server_cpu_us;
    bool slab_ok;
    uint64_t slab_bytes;
    bool available_ok;
    uint64_t available_bytes; /* MemAvailable: what the whole machine has left */
    int64_t tcp_inuse;        /* -1 unknown */
    int64_t tcp_mem_bytes;    /* -1 unknown */
};

struct bench_run {
    const struct bench_params *params;
    struct bench_result *result; /* merged over every process */
    uint64_t origin_ns;          /* absolute CLOCK_MONOTONIC times below; 0: not reached */
    uint64_t ramp_end_ns;        /* every first attempt ready or failed */
    uint64_t run_start_ns;
    uint64_t run_end_ns;
    uint64_t storm_start_ns;
    uint64_t storm_end_ns; /* everyone back */
    uint64_t done_ns;
    bool ramp_timed_out, drain_timed_out, storm_timed_out, max_time_hit;
    bool interrupted;           /* ended early by ^C (SIGINT); a second one exits at once */
    uint64_t ready_at_ramp_end; /* connections ready when the ramp ended */
    uint64_t open_at_run_end;   /* connections open when the measured phase ended */
    uint64_t open_before_storm;
    struct bench_reading before; /* before the ramp */
    struct bench_reading at_run; /* at the end of the ramp */
    struct bench_reading at_end; /* at the end of the measured phase (idle: after the hold) */
    struct bench_reading at_done;
    uint64_t bench_cpu_us;     /* every harness process, whole run (RUSAGE_CHILDREN) */
    uint64_t bench_max_rss_kb; /* largest harness process */
    unsigned procs_failed;     /* processes that exited with an error */
    char error[BENCH_ERROR_BYTES];
};

/* Runs the scenario in `p` (threads resolved). Returns 0 when the run completed (its
 * figures may still show failures), or -1 with run->error when it could not run. */
int bench_run(const struct bench_params *p, struct bench_run *run);

void bench_run_free(struct bench_run *run);

#endif
