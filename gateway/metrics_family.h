/* Prometheus text for per-worker metric structs described by tables: a family is a name, a
 * type, a help sentence and the offset of one `_Atomic uint64_t` (or one struct pg_hist) in
 * the struct every worker fills. Used by the storage and Redis metrics, whose structs live
 * in storage/ and are updated with relaxed atomics (storage/pg_metrics.h): values read here
 * are slightly stale, never torn.
 */
#ifndef TIDEGATE_GATEWAY_METRICS_FAMILY_H
#define TIDEGATE_GATEWAY_METRICS_FAMILY_H

#include <stddef.h>
#include <stdio.h>

struct metric_family {
    const char *name;
    const char *type; /* "counter" or "gauge" */
    const char *help;
    size_t offset; /* of the _Atomic uint64_t in each worker's struct */
};

/* For each family: its HELP and TYPE lines, then `name{worker="W"} value` for every worker
 * W < count whose structs[W] is not NULL. */
void metrics_render_families(FILE *out, const struct metric_family *families, size_t family_count,
                             const void *const *structs, unsigned count);

/* A histogram family from the struct pg_hist at `hist_offset` in each worker's struct:
 * cumulative `_bucket{worker,le}` series (bounds times `scale`, e.g. 1e-6 for microseconds
 * shown as seconds), `_sum` (times `scale`) and `_count`. */
void metrics_render_pg_hist(FILE *out, const char *name, const char *help, double scale,
                            const void *const *structs, size_t hist_offset, unsigned count);

#endif
