#include "gateway/storage_metrics.h"

#include <stddef.h>

#include "gateway/metrics_family.h"

#define FIELD(f) offsetof(struct pg_writer_metrics, f)
static const struct metric_family storage_plain[] = {
    {"tidegate_storage_connection_state", "gauge",
     "The writer's database link: 0 down (waiting to retry), 1 connecting, 2 up, 3 closed.",
     FIELD(conn.state)},
    {"tidegate_storage_connects_total", "counter", "Database links established.",
     FIELD(conn.connects_total)},
    {"tidegate_storage_connect_failures_total", "counter",
     "Attempts to reach the database that failed or timed out.", FIELD(conn.connect_failures)},
    {"tidegate_storage_disconnects_total", "counter", "Database links lost.",
     FIELD(conn.disconnects_total)},
    {"tidegate_storage_enqueued_total", "counter", "Messages accepted into the writer's queue.",
     FIELD(enqueued_total)},
    {"tidegate_storage_refused_total", "counter",
     "Messages refused because the queue was full (durable: storage_unavailable; others: "
     "delivered unstored).",
     FIELD(refused_full_total)},
    {"tidegate_storage_stored_total", "counter", "Messages committed (or found already stored).",
     FIELD(stored_total)},
    {"tidegate_storage_rows_written_total", "counter", "Rows the database inserted.",
     FIELD(rows_inserted_total)},
    {"tidegate_storage_rejected_total", "counter",
     "Messages the database refused for their data; not stored.", FIELD(rejected_total)},
    {"tidegate_storage_abandoned_total", "counter",
     "Messages dropped unstored when the writer was destroyed at exit.", FIELD(abandoned_total)},
    {"tidegate_storage_batches_total", "counter", "Batches committed.", FIELD(batches_total)},
    {"tidegate_storage_write_errors_total", "counter",
     "Batch attempts that failed and were retried.", FIELD(batch_errors_total)},
    {"tidegate_storage_maintain_total", "counter",
     "Partition upkeep runs (worker 0, hourly and at each new link: partitions for the next "
     "days, postgres_retain_days).",
     FIELD(maintain_total)},
    {"tidegate_storage_maintain_errors_total", "counter", "Partition upkeep runs that failed.",
     FIELD(maintain_errors_total)},
    {"tidegate_storage_queue_messages", "gauge", "Messages queued, in flight included.",
     FIELD(queue_messages)},
    {"tidegate_storage_queue_bytes", "gauge", "Field bytes of the queued messages.",
     FIELD(queue_bytes)},
};
#undef FIELD

#define FIELD(f) offsetof(struct pg_reader_metrics, f)
static const struct metric_family reader_plain[] = {
    {"tidegate_storage_reader_connection_state", "gauge",
     "The history reader's database link: 0 down (waiting to retry), 1 connecting, 2 up, 3 "
     "closed.",
     FIELD(conn.state)},
    {"tidegate_storage_reader_disconnects_total", "counter", "History reader links lost.",
     FIELD(conn.disconnects_total)},
    {"tidegate_storage_reads_total", "counter",
     "Reads accepted: history pages and join replays past the in-memory ring, and channel "
     "resumes.",
     FIELD(requests_total)},
    {"tidegate_storage_read_refusals_total", "counter",
     "Reads refused at once: database unreachable or too many waiting (history: "
     "storage_unavailable; joins: recovered false).",
     FIELD(refused_total)},
    {"tidegate_storage_read_failures_total", "counter",
     "Reads answered with a database error, a timeout or a lost link.", FIELD(failed_total)},
    {"tidegate_storage_rows_read_total", "counter", "Stored messages read for history and replays.",
     FIELD(rows_read_total)},
    {"tidegate_storage_reads_inflight", "gauge", "Reads waiting or in flight.",
     FIELD(requests_inflight)},
};
#undef FIELD

void gw_storage_render_metrics(FILE *out, const struct pg_writer_metrics *const *writers,
                               const struct pg_reader_metrics *const *readers, unsigned count)
{
    const void *const *w = (const void *const *)writers;
    metrics_render_families(out, storage_plain, sizeof storage_plain / sizeof storage_plain[0], w,
                            count);
    metrics_render_pg_hist(out, "tidegate_storage_batch_messages", "Messages per committed batch.",
                           1.0, w, offsetof(struct pg_writer_metrics, batch_messages), count);
    metrics_render_pg_hist(out, "tidegate_storage_flush_latency_seconds",
                           "From a batch sent to its commit confirmed.", 1e-6, w,
                           offsetof(struct pg_writer_metrics, flush_latency_us), count);
    metrics_render_pg_hist(out, "tidegate_storage_stored_latency_seconds",
                           "From a message queued to it reported stored.", 1e-6, w,
                           offsetof(struct pg_writer_metrics, stored_latency_us), count);
    const void *const *r = (const void *const *)readers;
    metrics_render_families(out, reader_plain, sizeof reader_plain / sizeof reader_plain[0], r,
                            count);
    metrics_render_pg_hist(out, "tidegate_storage_read_latency_seconds",
                           "From a read accepted to its answer (history, replays, resumes).", 1e-6,
                           r, offsetof(struct pg_reader_metrics, latency_us), count);
}
