/* Asynchronous reads from PostgreSQL for a channel's owner: history pages older than the
 * in-memory ring, and the stored state a channel's stream continues from after a restart.
 *
 * One reader per owner worker, on its own link (storage/pg_conn.h), so a long page never
 * waits behind a batch of writes. Requests are pipelined: each is one prepared statement and
 * one sync group, answered in order. A request accepted while the link is being made waits
 * for it; while the database is known to be unreachable (the last attempt failed) requests
 * are refused at once, so the owner can answer `storage_unavailable` without waiting.
 *
 * Every accepted request gets exactly one callback, from the loop (never from inside the
 * call that made it): OK with its rows, or an error status. Rows point into libpq's result
 * and are valid only during the callback. Requests copy what they are given; the caller's
 * strings need not outlive the call.
 *
 * Timers: request_timer and conn.timer go to pg_reader_on_timer; completions with the
 * reader's tag go to pg_conn_dispatch. Single-threaded.
 */
#ifndef TIDEGATE_STORAGE_PG_READER_H
#define TIDEGATE_STORAGE_PG_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "storage/pg_conn.h"
#include "storage/pg_metrics.h"

struct pg_reader_config {
    const char *conninfo;         /* libpq connection string; copied */
    const char *application_name; /* in pg_stat_activity unless conninfo names one; or NULL */
    uint32_t requests_max;        /* waiting or in flight (default 1024; 1..65536) */
    uint32_t request_timeout_ms;  /* answered with PG_READ_TIMEOUT after this (default 5000) */
    uint32_t page_rows_max;       /* the largest `limit` of a history read (default 1000) */
    uint32_t connect_timeout_ms;  /* default 5000 */
    uint32_t backoff_min_ms;      /* default 100 */
    uint32_t backoff_max_ms;      /* default 5000 */
};

void pg_reader_config_defaults(struct pg_reader_config *c);

enum pg_read_status {
    PG_READ_OK,
    PG_READ_UNAVAILABLE, /* the link was lost, or could not be made, before the answer */
    PG_READ_TIMEOUT,     /* no answer within request_timeout_ms */
    PG_READ_FAILED,      /* the database answered with an error (logged) */
    PG_READ_CANCELLED,   /* pg_reader_destroy */
};

enum pg_direction { PG_FORWARD, PG_BACKWARD };

/* Messages of one channel and epoch with from_offset <= offset <= to_offset: `forward`
 * returns the lowest offsets first, `backward` the highest first; at most `limit`. */
struct pg_history_query {
    const char *channel;
    const char *epoch;
    uint32_t channel_len, epoch_len; /* 1..1024 and 1..64 bytes */
    uint64_t from_offset, to_offset;
    enum pg_direction direction;
    uint32_t limit; /* 1..page_rows_max */
};

struct pg_history_row {
    uint64_t offset;
    uint64_t timestamp_ms;
    const char *user_id; /* NULL when the message had none */
    const char *data;    /* the JSON as stored, byte for byte */
    uint32_t user_id_len, data_len;
};

/* `more`: further messages exist in the range beyond the last one returned. */
typedef void (*pg_history_fn)(void *cookie, enum pg_read_status status,
                              const struct pg_history_row *rows, uint32_t count, bool more);

/* The stored state of a channel (tidegate_channel_resume in the schema). */
struct pg_resume_state {
    bool found;        /* false: nothing stored for the channel; the rest is zero */
    const char *epoch; /* valid during the callback */
    uint32_t epoch_len;
    uint64_t last_offset;       /* the newest stored offset of that epoch */
    uint64_t last_timestamp_ms; /* its timestamp */
    bool drained; /* the run that owned the channel stopped with every message stored */
};

typedef void (*pg_resume_fn)(void *cookie, enum pg_read_status status,
                             const struct pg_resume_state *state);

/* A request: waiting for the link, or sent and waiting for its answer (pg_reader.c). */
struct pg_read_req;

struct pg_reader {
    struct pg_conn conn;
    struct loop *loop;
    struct pg_reader_config cfg;
    struct pg_read_req **reqs; /* FIFO ring of requests_max; the first `sent` are on the wire */
    uint32_t head, count, sent;
    bool ready;         /* the link is up and the statements are prepared */
    bool setup_pending; /* the first sync group on the link is the setup */
    bool setup_failed;
    struct pg_history_row *rows;   /* page_rows_max + 1, for the callback */
    struct tw_timer request_timer; /* the oldest unanswered request's deadline */
    struct pg_reader_metrics metrics;
};

/* Builds the reader and starts connecting. Returns 0, or -1 with `err`. */
int pg_reader_init(struct pg_reader *r, struct loop *loop, unsigned tag,
                   const struct pg_reader_config *cfg, char err[PG_CONN_ERROR_BYTES]);

/* Reads a page of history. Returns 0 (the callback will come), or -1 when refused at once:
 * the database is unreachable, requests_max requests are waiting, the query is out of its
 * limits, or out of memory (counted). */
int pg_reader_history(struct pg_reader *r, const struct pg_history_query *q, pg_history_fn fn,
                      void *cookie);

/* Reads the stored state of `channel` and claims the channel for `run_id` (the writer's
 * run_id of this owner): if this run in turn stops without draining, the next owner is told
 * the stored stream may be incomplete. Returns 0 or -1 as pg_reader_history. */
int pg_reader_resume(struct pg_reader *r, const char *channel, uint32_t channel_len,
                     uint64_t run_id, pg_resume_fn fn, void *cookie);

/* True when `t` belongs to this reader (it has then been handled). */
bool pg_reader_on_timer(struct pg_reader *r, struct tw_timer *t);

/* Closes the link, answers every request PG_READ_CANCELLED and frees them; the struct must
 * stay in memory until pg_conn_busy(&r->conn) is false or the loop is destroyed. */
void pg_reader_destroy(struct pg_reader *r);

#endif
