/* Counters, gauges and histograms of the PostgreSQL writer and reader, in plain structs the
 * gateway renders in its Prometheus text later.
 *
 * Like gateway/metrics.h: each struct has one writer (the worker thread that owns the writer
 * or reader) and may be read from another thread (the admin thread) while it runs. Fields
 * are relaxed atomics updated with a load + store (pg_metric_add), so the hot path takes no
 * locked instruction and a reader sees torn-free, slightly stale values.
 *
 * Histograms have fixed upper bounds (the `le` labels), listed in pg_hist_bounds_*; bucket i
 * counts observations <= bound i and > bound i-1 (not cumulative: the renderer sums them),
 * the last bucket is +Inf.
 */
#ifndef TIDEGATE_STORAGE_PG_METRICS_H
#define TIDEGATE_STORAGE_PG_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { PG_HIST_BUCKETS_MAX = 16 };

struct pg_hist {
    const uint64_t *bounds; /* static array of `bucket_count - 1` increasing upper bounds */
    uint32_t bucket_count;  /* including +Inf */
    _Atomic uint64_t buckets[PG_HIST_BUCKETS_MAX];
    _Atomic uint64_t count;
    _Atomic uint64_t sum;
};

/* Batch sizes in messages: 1 .. 10000. */
extern const uint64_t pg_hist_bounds_messages[];
extern const size_t pg_hist_bounds_messages_count;
/* Latencies in microseconds: 250 us .. 10 s. */
extern const uint64_t pg_hist_bounds_latency_us[];
extern const size_t pg_hist_bounds_latency_us_count;

static inline void pg_metric_add(_Atomic uint64_t *m, uint64_t n)
{
    atomic_store_explicit(m, atomic_load_explicit(m, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline void pg_metric_set(_Atomic uint64_t *m, uint64_t v)
{
    atomic_store_explicit(m, v, memory_order_relaxed);
}
static inline uint64_t pg_metric_get(const _Atomic uint64_t *m)
{
    return atomic_load_explicit(m, memory_order_relaxed);
}

/* Zeroes `h` and gives it its bounds (one of the pairs above). */
void pg_hist_init(struct pg_hist *h, const uint64_t *bounds, size_t bound_count);
void pg_hist_observe(struct pg_hist *h, uint64_t value);
/* The smallest bound whose cumulative count reaches `q` (0..1) of all observations, or the
 * largest bound + 1 when the quantile falls in +Inf; 0 when empty. For tests and benches. */
uint64_t pg_hist_quantile(const struct pg_hist *h, double q);

/* Connection states (the `state` gauge): 0 down (waiting to retry), 1 connecting, 2 up,
 * 3 closed (stopped for good). */
enum pg_conn_state { PG_CONN_DOWN, PG_CONN_CONNECTING, PG_CONN_UP, PG_CONN_CLOSED };
const char *pg_conn_state_name(enum pg_conn_state state);

/* The connection's own counters, embedded in both metric structs below. */
struct pg_conn_metrics {
    _Atomic uint64_t state;            /* enum pg_conn_state */
    _Atomic uint64_t connects_total;   /* connections established */
    _Atomic uint64_t connect_failures; /* attempts that failed or timed out */
    _Atomic uint64_t disconnects_total;
};

struct pg_writer_metrics {
    struct pg_conn_metrics conn;
    _Atomic uint64_t enqueued_total;      /* messages accepted into the queue */
    _Atomic uint64_t refused_full_total;  /* enqueue refused: queue at its message/byte limit */
    _Atomic uint64_t stored_total;        /* messages reported stored (committed) */
    _Atomic uint64_t rows_inserted_total; /* rows the database inserted (stored - duplicates) */
    _Atomic uint64_t duplicates_total;    /* stored messages that were already in the table */
    _Atomic uint64_t rejected_total;      /* messages the database refused (data errors), dropped */
    _Atomic uint64_t abandoned_total;     /* messages dropped unstored by pg_writer_destroy */
    _Atomic uint64_t batches_total;       /* batches committed */
    _Atomic uint64_t batch_errors_total;  /* batch attempts that failed (then retried) */
    _Atomic uint64_t maintain_total;      /* partition maintenance runs that succeeded */
    _Atomic uint64_t maintain_errors_total;
    _Atomic uint64_t queue_messages; /* gauge: queued, in flight included */
    _Atomic uint64_t queue_bytes;    /* gauge: bytes of the queued messages' fields */
    _Atomic uint64_t queue_messages_max;
    _Atomic uint64_t queue_bytes_max;
    struct pg_hist batch_messages;    /* messages per committed batch */
    struct pg_hist flush_latency_us;  /* batch sent -> commit confirmed */
    struct pg_hist stored_latency_us; /* message enqueued -> reported stored */
};

struct pg_reader_metrics {
    struct pg_conn_metrics conn;
    _Atomic uint64_t requests_total;    /* history and resume requests accepted */
    _Atomic uint64_t refused_total;     /* refused at once: no connection, or too many waiting */
    _Atomic uint64_t failed_total;      /* answered with an error, a timeout or a lost link */
    _Atomic uint64_t rows_read_total;   /* history rows returned */
    _Atomic uint64_t requests_inflight; /* gauge */
    struct pg_hist latency_us;          /* request accepted -> answered */
};

#endif
