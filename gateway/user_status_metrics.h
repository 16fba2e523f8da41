/* Each worker's Redis user status (storage/user_status.h: struct user_status_metrics) in
 * Prometheus text for /metrics on the admin listener, one series per worker, names
 * tidegate_redis_* (docs/operations.md). Rendered only when redis_url is set. Reads relaxed
 * atomics that the workers update: values are slightly stale, never torn.
 */
#ifndef TIDEGATE_GATEWAY_USER_STATUS_METRICS_H
#define TIDEGATE_GATEWAY_USER_STATUS_METRICS_H

#include <stdio.h>

#include "storage/user_status.h"

/* Renders `count` workers' metrics; workers[i] is worker i's (NULL: skipped). The structs
 * must stay in memory during the call. */
void gw_user_status_render_metrics(FILE *out, const struct user_status_metrics *const *workers,
                                   unsigned count);

#endif
