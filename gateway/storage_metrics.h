/* The PostgreSQL batch writers' metrics (storage/pg_metrics.h) in Prometheus text, one
 * series per worker, for /metrics on the admin listener. Rendered only when postgres_url is
 * set. Reads relaxed atomics that the workers update: values are slightly stale, never torn.
 */
#ifndef TIDEGATE_GATEWAY_STORAGE_METRICS_H
#define TIDEGATE_GATEWAY_STORAGE_METRICS_H

#include <stdio.h>

#include "storage/pg_metrics.h"

/* Renders `count` writers' metrics; writers[i] is worker i's (NULL: that worker has none, it
 * is skipped). The structs must stay in memory during the call. */
void gw_storage_render_metrics(FILE *out, const struct pg_writer_metrics *const *writers,
                               unsigned count);

#endif
