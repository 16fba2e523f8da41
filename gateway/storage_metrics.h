/* The PostgreSQL batch writers' and history readers' metrics (storage/pg_metrics.h) in
 * Prometheus text, one series per worker, for /metrics on the admin listener. Rendered only when
 * postgres_url is set. Reads relaxed atomics that the workers update: values are slightly stale,
 * never torn.
 */
#ifndef TIDEGATE_GATEWAY_STORAGE_METRICS_H
#define TIDEGATE_GATEWAY_STORAGE_METRICS_H

#include <stdio.h>

#include "storage/pg_metrics.h"

/* Renders `count` workers' writer and reader metrics; writers[i] and readers[i] are worker
 * i's (NULL: that worker has none, it is skipped). The structs must stay in memory during
 * the call. */
void gw_storage_render_metrics(FILE *out, const struct pg_writer_metrics *const *writers,
                               const struct pg_reader_metrics *const *readers, unsigned count);

#endif
