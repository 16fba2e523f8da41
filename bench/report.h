/* What a run's numbers mean: derived figures (rates, percentiles, memory and CPU per
 * operation), the readable summary, and the JSON file with every figure and counter.
 *
 * The "operation" CPU is divided by depends on the scenario: a connection (connect, idle:
 * CPU of the ramp), a round trip (echo), a delivery (fanout), a cycle (churn), a reconnect
 * (storm); the run's CPU is measured from the end of the ramp to the end of the run, for
 * the harness processes (getrusage) and for the server processes (/proc/PID/stat).
 */
#ifndef TIDEGATE_BENCH_REPORT_H
#define TIDEGATE_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/params.h"
#include "bench/run.h"

struct bench_latency {
    uint64_t count;
    double p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms;
};

struct bench_figures {
    double ramp_s, run_s, total_s, storm_s;
    double connect_per_s; /* connections ready during the ramp / ramp time */
    struct bench_latency connect, latency, ack, lag;
    double send_window_s;    /* --duration, or less when the run was cut short */
    double sent_per_s;       /* messages written per second of the sending window */
    double receive_window_s; /* from the start of sending to the last message received */
    double received_per_s;   /* deliveries or replies per second of the receive window */
    const char *op_name;     /* what CPU is divided by */
    const char *ops_name;    /* its plural */
    uint64_t ops;
    bool server_cpu_ok;
    double server_cpu_s; /* in the window of the operations */
    double server_cpu_us_per_op;
    bool server_rss_ok;
    double server_rss_before_mib, server_rss_after_mib;
    double server_bytes_per_conn; /* RSS growth over the connections open at the end */
    bool slab_ok;
    double slab_bytes_per_conn; /* kernel slab growth per connection, both ends */
    double bench_cpu_s;         /* in the window of the operations */
    double bench_cpu_us_per_op;
    double bench_cpu_total_s;
    double cpu_window_s;              /* wall time of the window the CPU figures cover */
    double bench_cores, server_cores; /* CPU time / window: cores kept busy */
};

void bench_figures_compute(const struct bench_run *run, struct bench_figures *f);

void bench_report_summary(FILE *out, const struct bench_run *run, const struct bench_figures *f);

/* Writes every figure, counter and the timeline as JSON. Returns 0 or -1 with `err`. */
int bench_report_json(const char *path, const struct bench_run *run, const struct bench_figures *f,
                      char err[BENCH_ERROR_BYTES]);

#endif
