/* Fixed-bucket histograms for the storage metrics: see pg_metrics.h. */
#include "storage/pg_metrics.h"

#include <assert.h>
#include <string.h>

const uint64_t pg_hist_bounds_messages[] = {1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
const size_t pg_hist_bounds_messages_count =
    sizeof pg_hist_bounds_messages / sizeof pg_hist_bounds_messages[0];

const uint64_t pg_hist_bounds_latency_us[] = {250,    500,     1000,    2500,    5000,
                                              10000,  25000,   50000,   100000,  250000,
                                              500000, 1000000, 2500000, 10000000};
const size_t pg_hist_bounds_latency_us_count =
    sizeof pg_hist_bounds_latency_us / sizeof pg_hist_bounds_latency_us[0];

void pg_hist_init(struct pg_hist *h, const uint64_t *bounds, size_t bound_count)
{
    assert(bound_count + 1 <= PG_HIST_BUCKETS_MAX);
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->bucket_count = (uint32_t)bound_count + 1;
}

void pg_hist_observe(struct pg_hist *h, uint64_t value)
{
    assert(h->bucket_count > 0);
    uint32_t i = 0;
    while (i + 1 < h->bucket_count && value > h->bounds[i])
        i++;
    pg_metric_add(&h->buckets[i], 1);
    pg_metric_add(&h->count, 1);
    pg_metric_add(&h->sum, value);
}

uint64_t pg_hist_quantile(const struct pg_hist *h, double q)
{
    uint64_t total = pg_metric_get(&h->count);
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i + 1 < h->bucket_count; i++) {
        seen += pg_metric_get(&h->buckets[i]);
        if (seen >= rank)
            return h->bounds[i];
    }
    return h->bounds[h->bucket_count - 2] + 1;
}

const char *pg_conn_state_name(enum pg_conn_state state)
{
    switch (state) {
    case PG_CONN_DOWN:
        return "down";
    case PG_CONN_CONNECTING:
        return "connecting";
    case PG_CONN_UP:
        return "up";
    case PG_CONN_CLOSED:
        return "closed";
    }
    return "unknown";
}
