/* --plot FILE.svg: a self-contained SVG (no scripts, no external files) that a browser
 * shows as is. Top: latency over time (p50, p99 and max per timeline slice, log scale) with
 * the rate of received messages behind it; bottom: the latency distribution as a
 * percentile spectrum (x: 0%, 90%, 99%, 99.9%, ... on a log scale). Runs without latency
 * samples (connect, idle, churn) draw connections ready per second and the connect-time
 * distribution instead.
 */
#ifndef TIDEGATE_BENCH_PLOT_H
#define TIDEGATE_BENCH_PLOT_H

#include "bench/params.h"
#include "bench/result.h"

/* Writes the plot of `r` to `path` with `title` on top. Returns 0 or -1 with `err`. */
int bench_plot_svg(const char *path, const struct bench_result *r, const char *title,
                   char err[BENCH_ERROR_BYTES]);

#endif
