/* The batch writer: stores a worker's channel messages in PostgreSQL, many per transaction.
 *
 * One writer per owner worker, on that worker's thread and io_uring (storage/pg_conn.h). The
 * owner enqueues messages; the writer sends them as one batch when `batch_messages_max`
 * are waiting, when they hold `batch_bytes_max` bytes, or `flush_delay_ms` after the oldest
 * arrived, whichever comes first. A batch is one prepared statement over binary arrays
 * (INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING, plus the channels' newest
 * offsets in tidegate_channel_state) followed by a pipeline sync: one round trip, one
 * transaction. One batch is in flight at a time; the next is built while it runs.
 *
 * Durability: a message is reported PG_MSG_STORED only after its batch's transaction
 * committed. When the link fails or the outcome of a batch is unknown, the same messages
 * are sent again once a new link is up: the primary key makes a resend store each message
 * once. When the database refuses a batch for its data (a data or constraint error), the
 * batch is resent as one transaction per message so that only the bad message fails
 * (PG_MSG_REJECTED). Any other error retries the batch after a backoff, for ever: the
 * bounded queue is what turns a long outage into refusals.
 *
 * Every accepted message gets exactly one `done` callback, in enqueue order, from the loop
 * (never from inside pg_writer_enqueue): STORED, REJECTED, or ABANDONED at pg_writer_destroy.
 * `done` may enqueue more and may call pg_writer_stop; it must not destroy the writer.
 * The message's bytes are not copied: the spans given to pg_writer_enqueue must stay valid
 * and unchanged until that callback.
 *
 * Timers: flush_timer and retry_timer here, and conn.timer; the wheel's expiry callback
 * passes them to pg_writer_on_timer. Completions with the writer's tag go to
 * pg_conn_dispatch. Single-threaded.
 */
#ifndef TIDEGATE_STORAGE_PG_WRITER_H
#define TIDEGATE_STORAGE_PG_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/jbuf.h"
#include "core/loop.h"
#include "storage/pg_conn.h"
#include "storage/pg_metrics.h"

struct pg_writer_config {
    const char *conninfo;          /* libpq connection string; copied */
    const char *label;             /* this writer in tidegate_writer_runs ("host/worker 1") */
    const char *application_name;  /* in pg_stat_activity unless conninfo names one; or NULL */
    uint32_t batch_messages_max;   /* flush at this many waiting (default 1000; 1..10000) */
    uint32_t batch_bytes_max;      /* ... or this many bytes (default 4 MiB) */
    uint32_t flush_delay_ms;       /* ... or this long after the oldest arrived (default 5) */
    uint32_t queue_messages_max;   /* accepted and not yet stored (default 100000) */
    uint64_t queue_bytes_max;      /* bytes of their fields (default 64 MiB) */
    uint32_t connect_timeout_ms;   /* default 5000 */
    uint32_t reply_timeout_ms;     /* a batch unanswered this long: dead link (default 30000) */
    uint32_t backoff_min_ms;       /* reconnect and retry backoff (default 100) */
    uint32_t backoff_max_ms;       /* (default 5000) */
    uint32_t maintain_interval_ms; /* run tidegate_history_maintain this often; 0 never */
    uint32_t maintain_days_ahead;  /* partitions created ahead (default 3) */
    uint32_t retain_days;          /* partitions dropped after; 0 keeps everything */
};

/* Fills `c` with the defaults above (conninfo and label NULL, maintenance off). */
void pg_writer_config_defaults(struct pg_writer_config *c);

/* One message to store. The spans are not copied (see above). */
struct pg_msg {
    const char *channel;
    const char *epoch;
    const char *user_id; /* NULL: no user (anonymous, or the server API) */
    const char *data;    /* the publisher's JSON, as sent */
    uint32_t channel_len, epoch_len, user_id_len, data_len;
    uint64_t offset;       /* >= 1 */
    uint64_t timestamp_ms; /* Unix time in ms, as sent to clients */
};

enum pg_msg_status {
    PG_MSG_STORED,    /* committed (or found already stored) */
    PG_MSG_REJECTED,  /* the database refused this message's data; it is not stored */
    PG_MSG_ABANDONED, /* the writer was destroyed before it could store it */
};

typedef void (*pg_writer_done_fn)(void *ctx, void *cookie, enum pg_msg_status status);

enum pg_enqueue_result {
    PG_ENQUEUE_OK,
    PG_ENQUEUE_FULL,     /* the queue holds queue_messages_max messages or would exceed
                            queue_bytes_max bytes: the database is slow or gone */
    PG_ENQUEUE_STOPPING, /* pg_writer_stop was called */
};

/* Called once when a stop finished: `drained` true when every message accepted in this
 * run was stored and the run is marked drained in tidegate_writer_runs. */
typedef void (*pg_writer_stopped_fn)(void *ctx, bool drained);

/* A queued message: the span, the owner's cookie, when it arrived. */
struct pg_entry {
    struct pg_msg msg;
    void *cookie;
    uint64_t enqueued_us;
};

/* What one sync group sent on the link stands for (pg_writer.c). */
struct pg_op {
    uint8_t kind;
    bool failed;
    char sqlstate[6];
    uint32_t count;    /* BATCH: messages in the group */
    uint64_t inserted; /* BATCH: rows the statement inserted */
};

struct pg_writer {
    struct pg_conn conn;
    struct loop *loop;
    pg_writer_done_fn done;
    void *ctx;
    uint64_t run_id; /* this writer's row in tidegate_writer_runs; random, fixed for life */
    char *label;     /* owned */
    struct pg_writer_config cfg;
    /* The queue: a ring of `cap` entries (a power of two, grown up to queue_messages_max);
     * [head, head + count) are waiting, the first `inflight` of them sent in this round. */
    struct pg_entry *ring;
    uint32_t cap, head, count, inflight;
    uint64_t bytes; /* sum of the queued messages' field bytes */
    /* The sync groups sent and not yet answered, oldest first (a ring of op_cap). */
    struct pg_op *ops;
    uint32_t op_cap, op_head, op_count;
    uint32_t round_groups; /* BATCH groups of the round still unanswered */
    bool round_failed;     /* a group of the round failed: the rest is resent */
    bool round_data_error; /* ... with a data error: resend one message per group */
    bool split;            /* the next round sends one message per group */
    bool in_round;         /* groups of a round are in flight */
    bool retry_wait;       /* retry_timer runs: no round before it fires */
    bool ready;            /* the link is up and its setup succeeded */
    bool stopping;         /* pg_writer_stop was called */
    bool stop_marking;     /* the drain mark is in flight */
    bool lossy;            /* a message of this run was refused or rejected */
    uint64_t round_sent_us;
    struct tw_timer flush_timer;    /* the oldest waiting message's flush_delay_ms */
    struct tw_timer retry_timer;    /* backoff before resending a failed batch */
    struct tw_timer maintain_timer; /* next partition maintenance */
    uint32_t retry_backoff_ms;
    pg_writer_stopped_fn stopped;
    void *stopped_ctx;
    struct jbuf params[6]; /* the batch's binary arrays, reused */
    struct pg_writer_metrics metrics;
};

/* Builds the writer and starts connecting. `tag` is the loop tag the owner routes to
 * pg_conn_dispatch. Returns 0, or -1 with `err` saying why (a bad configuration value, out
 * of memory). */
int pg_writer_init(struct pg_writer *w, struct loop *loop, unsigned tag,
                   const struct pg_writer_config *cfg, pg_writer_done_fn done, void *ctx,
                   char err[PG_CONN_ERROR_BYTES]);

/* Queues one message. Hot path: no allocation except while the ring grows, no copy of the
 * message's bytes. Refusals are counted; the owner decides (a durable publish answers
 * `storage_unavailable`, a non-durable one is delivered unstored). */
enum pg_enqueue_result pg_writer_enqueue(struct pg_writer *w, const struct pg_msg *m, void *cookie);

/* Whether a message of `bytes` field bytes would be accepted now: lets an owner refuse a
 * durable publish before giving it an offset. */
bool pg_writer_has_room(const struct pg_writer *w, uint64_t bytes);

/* The bytes a message counts against queue_bytes_max. */
static inline uint64_t pg_msg_bytes(const struct pg_msg *m)
{
    return (uint64_t)m->channel_len + m->epoch_len + m->user_id_len + m->data_len;
}

/* Stops accepting, sends everything queued at once, then (when nothing was refused,
 * rejected or abandoned in this run) marks the run drained; then calls `stopped`. Keeps
 * retrying while the database is away: the caller bounds the wait and then destroys. */
void pg_writer_stop(struct pg_writer *w, pg_writer_stopped_fn stopped, void *ctx);

/* True when `t` belongs to this writer (it has then been handled). */
bool pg_writer_on_timer(struct pg_writer *w, struct tw_timer *t);

/* Closes the link, calls `done` with PG_MSG_ABANDONED for every message still queued, and
 * releases what the writer owns except its own memory, which must stay until
 * pg_conn_busy(&w->conn) is false or the loop is destroyed. */
void pg_writer_destroy(struct pg_writer *w);

#endif
