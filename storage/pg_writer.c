/* The batch writer: see pg_writer.h. The one thing to know before changing it: the owner's
 * `done` callback runs in the middle of result handling and may enqueue again, so every
 * decision to send is taken by writer_kick, which does nothing while a round is in flight
 * (`in_round`), and rounds end only in writer_round_done. */
#include "storage/pg_writer.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"
#include "storage/pg_wire.h"

enum {
    OP_SETUP,    /* prepare the batch statement, register the run */
    OP_BATCH,    /* one transaction of `count` messages */
    OP_MAINTAIN, /* tidegate_history_maintain */
    OP_DRAIN,    /* mark the run drained */
};

enum { WRITER_RING_MIN = 256, WRITER_PARAMS = 7, WRITER_QUEUE_BYTES_MAX = 1 << 30 };

static const char writer_batch_name[] = "tidegate_batch";

/* $1..$6 the messages' columns as arrays, $7 this writer's run. The newest message of each
 * channel in the batch moves tidegate_channel_state forward (never back: a resent older
 * batch changes nothing). Returns how many rows were inserted, not already there. */
static const char writer_batch_sql[] =
    "WITH batch AS ("
    " SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::timestamptz[],"
    " $5::text[], $6::json[]) AS b(channel, epoch, msg_offset, published_at, user_id, data)"
    "), stored AS ("
    " INSERT INTO tidegate_history (channel, epoch, msg_offset, published_at, user_id, data)"
    " SELECT channel, epoch, msg_offset, published_at, user_id, data FROM batch"
    " ON CONFLICT DO NOTHING RETURNING 1"
    "), newest AS ("
    " SELECT DISTINCT ON (channel) channel, epoch, msg_offset, published_at FROM batch"
    " ORDER BY channel, published_at DESC, msg_offset DESC"
    "), state AS ("
    " INSERT INTO tidegate_channel_state AS s"
    " (channel, epoch, last_offset, last_published_at, run_id)"
    " SELECT channel, epoch, msg_offset, published_at, $7 FROM newest"
    " ON CONFLICT (channel) DO UPDATE SET epoch = excluded.epoch,"
    " last_offset = excluded.last_offset, last_published_at = excluded.last_published_at,"
    " run_id = excluded.run_id, updated_at = now()"
    " WHERE CASE WHEN s.epoch = excluded.epoch THEN excluded.last_offset > s.last_offset"
    " ELSE excluded.last_published_at >= s.last_published_at END"
    ") SELECT count(*) FROM stored";

static const Oid writer_batch_types[WRITER_PARAMS] = {
    PG_OID_TEXT_ARRAY, PG_OID_TEXT_ARRAY, PG_OID_INT8_ARRAY, PG_OID_TIMESTAMPTZ_ARRAY,
    PG_OID_TEXT_ARRAY, PG_OID_JSON_ARRAY, PG_OID_INT8};

static uint64_t writer_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void pg_writer_config_defaults(struct pg_writer_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch_messages_max = 1000;
    c->batch_bytes_max = 4u << 20;
    c->flush_delay_ms = 5;
    c->queue_messages_max = 100000;
    c->queue_bytes_max = (uint64_t)64 << 20;
    c->connect_timeout_ms = 5000;
    c->reply_timeout_ms = 30000;
    c->backoff_min_ms = 100;
    c->backoff_max_ms = 5000;
    c->maintain_days_ahead = 3;
}

static int writer_check_config(const struct pg_writer_config *c, char err[PG_CONN_ERROR_BYTES])
{
    const char *what = NULL;
    if (c->batch_messages_max < 1 || c->batch_messages_max > 10000)
        what = "batch_messages_max must be 1..10000";
    else if (c->batch_bytes_max < 1024 || c->batch_bytes_max > (256u << 20))
        what = "batch_bytes_max must be 1 KiB..256 MiB";
    else if (c->flush_delay_ms > 10000)
        what = "flush_delay_ms must be 0..10000";
    else if (c->queue_messages_max < c->batch_messages_max || c->queue_messages_max > (1u << 24))
        what = "queue_messages_max must be batch_messages_max..16777216";
    else if (c->queue_bytes_max < c->batch_bytes_max || c->queue_bytes_max > WRITER_QUEUE_BYTES_MAX)
        what = "queue_bytes_max must be batch_bytes_max..1 GiB";
    else if (c->connect_timeout_ms < 1 || c->reply_timeout_ms < 1)
        what = "connect_timeout_ms and reply_timeout_ms must be at least 1";
    else if (c->backoff_min_ms < 1 || c->backoff_max_ms < c->backoff_min_ms)
        what = "backoff_min_ms must be at least 1 and at most backoff_max_ms";
    else if (c->maintain_days_ahead > 366)
        what = "maintain_days_ahead must be 0..366";
    if (what == NULL)
        return 0;
    snprintf(err, PG_CONN_ERROR_BYTES, "storage writer: %s", what);
    return -1;
}

static struct pg_entry *writer_at(const struct pg_writer *w, uint32_t i)
{
    assert(i < w->count);
    return &w->ring[(w->head + i) & (w->cap - 1)];
}

static void writer_gauges(struct pg_writer *w)
{
    pg_metric_set(&w->metrics.queue_messages, w->count);
    pg_metric_set(&w->metrics.queue_bytes, w->bytes);
}

/* ---- sync groups in flight ---- */

static struct pg_op *writer_op_push(struct pg_writer *w, uint8_t kind, uint32_t count)
{
    assert(w->op_count < w->op_cap);
    struct pg_op *op = &w->ops[(w->op_head + w->op_count++) % w->op_cap];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->count = count;
    return op;
}

/* A data or constraint error, or a value over a limit: the batch's content is at fault, so
 * sending it again unchanged would fail again. SQLSTATE classes 22, 23, 54. */
static bool writer_data_error(const char sqlstate[6])
{
    return (sqlstate[0] == '2' && (sqlstate[1] == '2' || sqlstate[1] == '3')) ||
           (sqlstate[0] == '5' && sqlstate[1] == '4');
}

/* Pops the `n` oldest messages, reporting each to the owner. */
static void writer_pop(struct pg_writer *w, uint32_t n, enum pg_msg_status status)
{
    assert(n <= w->inflight && n <= w->count);
    uint64_t now_us = status == PG_MSG_STORED ? writer_now_us() : 0;
    for (uint32_t i = 0; i < n; i++) {
        struct pg_entry e = *writer_at(w, 0);
        w->head = (w->head + 1) & (w->cap - 1);
        w->count--;
        w->inflight--;
        w->bytes -= pg_msg_bytes(&e.msg);
        if (status == PG_MSG_STORED) {
            pg_metric_add(&w->metrics.stored_total, 1);
            pg_hist_observe(&w->metrics.stored_latency_us, now_us - e.enqueued_us);
        } else {
            pg_metric_add(&w->metrics.rejected_total, 1);
            w->lossy = true;
        }
        w->done(w->ctx, e.cookie, status);
    }
    writer_gauges(w);
}

/* ---- sending ---- */

/* Encodes messages [first, first + n) into the six arrays and sends them as one transaction.
 * Returns false when the message cannot be encoded (then nothing was sent). */
static bool writer_encode(struct pg_writer *w, uint32_t first, uint32_t n)
{
    static const uint32_t oids[6] = {PG_OID_TEXT,        PG_OID_TEXT, PG_OID_INT8,
                                     PG_OID_TIMESTAMPTZ, PG_OID_TEXT, PG_OID_JSON};
    for (int p = 0; p < 6; p++)
        pg_array_begin(&w->params[p], oids[p], n);
    for (uint32_t i = first; i < first + n; i++) {
        const struct pg_msg *m = &writer_at(w, i)->msg;
        pg_array_bytes(&w->params[0], m->channel, m->channel_len);
        pg_array_bytes(&w->params[1], m->epoch, m->epoch_len);
        pg_array_int8(&w->params[2], (int64_t)m->offset);
        pg_array_int8(&w->params[3], pg_timestamptz_from_unix_ms(m->timestamp_ms));
        if (m->user_id != NULL)
            pg_array_bytes(&w->params[4], m->user_id, m->user_id_len);
        else
            pg_array_null(&w->params[4]);
        pg_array_bytes(&w->params[5], m->data, m->data_len);
    }
    for (int p = 0; p < 6; p++)
        if (w->params[p].failed)
            return false;
    return true;
}

static void writer_send_group(struct pg_writer *w, uint32_t n)
{
    uint8_t run_be[8];
    pg_put_u64(run_be, w->run_id);
    const char *values[WRITER_PARAMS];
    int lengths[WRITER_PARAMS], formats[WRITER_PARAMS];
    for (int p = 0; p < 6; p++) {
        values[p] = w->params[p].data;
        lengths[p] = (int)w->params[p].len;
        formats[p] = 1;
    }
    values[6] = (const char *)run_be;
    lengths[6] = sizeof run_be;
    formats[6] = 1;
    writer_op_push(w, OP_BATCH, n);
    w->round_groups++;
    if (PQsendQueryPrepared(w->conn.pg, writer_batch_name, WRITER_PARAMS, values, lengths, formats,
                            1) != 1) {
        pg_conn_fail(&w->conn, PQerrorMessage(w->conn.pg));
        return;
    }
    pg_conn_sync(&w->conn);
}

static void writer_round_done(struct pg_writer *w);

/* Sends the next round: up to batch_messages_max messages and batch_bytes_max bytes (at
 * least one message), as one group, or one group per message after a data error. */
static void writer_send_round(struct pg_writer *w)
{
    assert(!w->in_round && w->inflight == 0 && w->count > 0);
    uint32_t n = 0;
    uint64_t bytes = 0;
    while (n < w->count && n < w->cfg.batch_messages_max) {
        uint64_t b = pg_msg_bytes(&writer_at(w, n)->msg);
        if (n > 0 && bytes + b > w->cfg.batch_bytes_max)
            break;
        bytes += b;
        n++;
    }
    w->in_round = true;
    w->inflight = n;
    w->round_groups = 0;
    w->round_sent_us = writer_now_us();
    uint32_t per_group = w->split ? 1 : n;
    for (uint32_t first = 0; first < n && w->in_round; first += per_group) {
        if (!writer_encode(w, first, per_group)) {
            /* Only out of memory (the arrays' limit exceeds what the queue can hold): what
             * was sent completes, the rest goes again after a backoff. */
            log_warn("storage", "out of memory encoding a batch; retrying", "messages=%u",
                     per_group);
            w->round_failed = true;
            if (w->round_groups == 0)
                writer_round_done(w);
            return;
        }
        writer_send_group(w, per_group);
    }
}

static void writer_send_simple(struct pg_writer *w, uint8_t kind, const char *sql, int nparams,
                               const char *const *values, const int *lengths, const int *formats)
{
    writer_op_push(w, kind, 0);
    if (PQsendQueryParams(w->conn.pg, sql, nparams, NULL, values, lengths, formats, 0) != 1) {
        pg_conn_fail(&w->conn, PQerrorMessage(w->conn.pg));
        return;
    }
    pg_conn_sync(&w->conn);
}

static void writer_send_drain(struct pg_writer *w)
{
    uint8_t run_be[8];
    pg_put_u64(run_be, w->run_id);
    const char *values[1] = {(const char *)run_be};
    int lengths[1] = {8}, formats[1] = {1};
    w->stop_marking = true;
    writer_send_simple(w, OP_DRAIN,
                       "UPDATE tidegate_writer_runs SET drained_at = now() WHERE run_id = $1::int8",
                       1, values, lengths, formats);
}

static void writer_send_maintain(struct pg_writer *w)
{
    char ahead[16], retain[16];
    snprintf(ahead, sizeof ahead, "%u", w->cfg.maintain_days_ahead);
    snprintf(retain, sizeof retain, "%u", w->cfg.retain_days);
    const char *values[2] = {ahead, retain};
    writer_send_simple(w, OP_MAINTAIN,
                       "SELECT created, dropped FROM tidegate_history_maintain($1::int, $2::int)",
                       2, values, NULL, NULL);
}

static void writer_finish_stop(struct pg_writer *w, bool drained)
{
    pg_writer_stopped_fn stopped = w->stopped;
    w->stopped = NULL;
    if (stopped != NULL)
        stopped(w->stopped_ctx, drained);
}

/* Decides what to send now: a round when one is due, else arms the flush timer; at a stop,
 * the drain mark once the queue is empty. */
static void writer_kick(struct pg_writer *w)
{
    if (w->in_round)
        return;
    if (w->count == 0 && w->stopping && w->lossy && w->stopped != NULL) {
        writer_finish_stop(w, false); /* nothing to mark: the run cannot claim it drained */
        return;
    }
    if (!w->ready || w->retry_wait || !pg_conn_is_up(&w->conn))
        return;
    if (w->count == 0) {
        tw_cancel(&w->loop->wheel, &w->flush_timer);
        if (w->stopping && !w->stop_marking && w->stopped != NULL)
            writer_send_drain(w);
        return;
    }
    uint64_t waited_us = writer_now_us() - writer_at(w, 0)->enqueued_us;
    uint64_t delay_us = (uint64_t)w->cfg.flush_delay_ms * 1000u;
    bool due = w->split || w->stopping || w->count >= w->cfg.batch_messages_max ||
               w->bytes >= w->cfg.batch_bytes_max || waited_us >= delay_us;
    if (due) {
        tw_cancel(&w->loop->wheel, &w->flush_timer);
        writer_send_round(w);
        return;
    }
    if (!tw_armed(&w->flush_timer)) {
        uint64_t left_ms = (delay_us - waited_us + 999) / 1000;
        tw_arm(&w->loop->wheel, &w->flush_timer, w->loop->now_ms + left_ms);
    }
}

/* ---- results ---- */

static void writer_round_done(struct pg_writer *w)
{
    assert(w->in_round && w->round_groups == 0);
    w->in_round = false;
    w->inflight = 0;
    if (w->round_failed) {
        w->round_failed = false;
        if (w->round_data_error) {
            w->round_data_error = false;
            w->split = true; /* at once, one transaction per message */
        } else {
            w->retry_wait = true;
            tw_arm(&w->loop->wheel, &w->retry_timer, w->loop->now_ms + w->retry_backoff_ms);
            uint64_t next = (uint64_t)w->retry_backoff_ms * 2;
            w->retry_backoff_ms =
                next > w->cfg.backoff_max_ms ? w->cfg.backoff_max_ms : (uint32_t)next;
        }
    } else {
        w->split = false;
        w->retry_backoff_ms = w->cfg.backoff_min_ms;
        pg_hist_observe(&w->metrics.flush_latency_us, writer_now_us() - w->round_sent_us);
    }
    writer_kick(w);
}

/* A message the database refuses for its content: logged (the first, then at powers of
 * two), then dropped by the caller. */
static void writer_log_rejected(struct pg_writer *w, const struct pg_op *op)
{
    uint64_t rejected = pg_metric_get(&w->metrics.rejected_total) + 1;
    if ((rejected & (rejected - 1)) != 0)
        return;
    const struct pg_msg *m = &writer_at(w, 0)->msg;
    log_warn("storage", "PostgreSQL refused a message; it is not stored",
             "sqlstate=%s channel=\"%.*s\" epoch=\"%.*s\" offset=%llu data_bytes=%u rejected=%llu",
             op->sqlstate, (int)(m->channel_len > 200 ? 200 : m->channel_len), m->channel,
             (int)(m->epoch_len > 64 ? 64 : m->epoch_len), m->epoch, (unsigned long long)m->offset,
             m->data_len, (unsigned long long)rejected);
}

static void writer_batch_done(struct pg_writer *w, const struct pg_op *op)
{
    assert(w->round_groups > 0);
    if (!w->round_failed) {
        if (!op->failed) {
            pg_metric_add(&w->metrics.batches_total, 1);
            pg_metric_add(&w->metrics.rows_inserted_total, op->inserted);
            pg_metric_add(&w->metrics.duplicates_total,
                          op->count > op->inserted ? op->count - op->inserted : 0);
            pg_hist_observe(&w->metrics.batch_messages, op->count);
            writer_pop(w, op->count, PG_MSG_STORED);
        } else if (writer_data_error(op->sqlstate) && op->count == 1) {
            writer_log_rejected(w, op);
            writer_pop(w, 1, PG_MSG_REJECTED);
        } else {
            w->round_failed = true;
            w->round_data_error = writer_data_error(op->sqlstate);
        }
    }
    if (--w->round_groups == 0)
        writer_round_done(w);
}

static void writer_op_done(struct pg_writer *w, const struct pg_op *op)
{
    switch (op->kind) {
    case OP_SETUP:
        if (op->failed) {
            /* Logged with the server's message when the error arrived. */
            pg_conn_fail(&w->conn, "could not prepare the batch statement");
            return;
        }
        pg_conn_proven(&w->conn);
        w->ready = true;
        if (w->cfg.maintain_interval_ms > 0) {
            writer_send_maintain(w);
            tw_arm(&w->loop->wheel, &w->maintain_timer,
                   w->loop->now_ms + w->cfg.maintain_interval_ms);
        }
        writer_kick(w);
        break;
    case OP_BATCH:
        writer_batch_done(w, op);
        break;
    case OP_MAINTAIN:
        pg_metric_add(op->failed ? &w->metrics.maintain_errors_total : &w->metrics.maintain_total,
                      1);
        break;
    case OP_DRAIN:
        w->stop_marking = false;
        writer_finish_stop(w, !op->failed);
        break;
    }
}

static void writer_log_error(struct pg_writer *w, const struct pg_op *op, const PGresult *res)
{
    static const char *const what[] = {"preparing the batch statement", "storing a batch",
                                       "partition maintenance", "marking the run drained"};
    char line[PG_CONN_ERROR_BYTES];
    pg_conn_one_line(line, sizeof line, PQresultErrorMessage(res));
    bool schema = strcmp(op->sqlstate, "42P01") == 0 || strcmp(op->sqlstate, "42883") == 0;
    /* Errors repeat at every retry: log the first and then at powers of two (of the batch
     * errors, or of the failed links for the setup). */
    uint64_t errors = op->kind == OP_BATCH   ? pg_metric_get(&w->metrics.batch_errors_total)
                      : op->kind == OP_SETUP ? (uint64_t)w->conn.failures + 1
                                             : 1;
    if ((errors & (errors - 1)) == 0)
        log_warn("storage", "PostgreSQL refused a statement",
                 "while=\"%s\" sqlstate=%s%s error=\"%s\"", what[op->kind], op->sqlstate,
                 schema ? " hint=\"apply the schema: tidegate migrate\"" : "", line);
}

static void writer_on_result(void *owner, PGresult *res)
{
    struct pg_writer *w = owner;
    assert(w->op_count > 0);
    struct pg_op *op = &w->ops[w->op_head];
    switch (PQresultStatus(res)) {
    case PGRES_PIPELINE_SYNC: {
        struct pg_op done = *op;
        w->op_head = (w->op_head + 1) % w->op_cap;
        w->op_count--;
        writer_op_done(w, &done);
        return;
    }
    case PGRES_TUPLES_OK:
        if (op->kind == OP_BATCH && PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 8)
            op->inserted = pg_get_u64((const uint8_t *)PQgetvalue(res, 0, 0));
        return;
    case PGRES_COMMAND_OK:
        return;
    case PGRES_PIPELINE_ABORTED:
        op->failed = true;
        return;
    default: {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        op->failed = true;
        snprintf(op->sqlstate, sizeof op->sqlstate, "%s", state != NULL ? state : "XX000");
        if (op->kind == OP_BATCH)
            pg_metric_add(&w->metrics.batch_errors_total, 1);
        if (!(op->kind == OP_BATCH && op->count == 1 && writer_data_error(op->sqlstate)))
            writer_log_error(w, op, res);
        return;
    }
    }
}

/* ---- the link ---- */

static void writer_on_up(void *owner)
{
    struct pg_writer *w = owner;
    assert(w->op_count == 0 && !w->in_round);
    PGconn *pg = w->conn.pg;
    writer_op_push(w, OP_SETUP, 0);
    uint8_t run_be[8];
    pg_put_u64(run_be, w->run_id);
    const char *values[2] = {(const char *)run_be, w->label};
    int lengths[2] = {8, 0}, formats[2] = {1, 0};
    if (PQsendPrepare(pg, writer_batch_name, writer_batch_sql, WRITER_PARAMS, writer_batch_types) !=
            1 ||
        PQsendQueryParams(pg,
                          "INSERT INTO tidegate_writer_runs (run_id, label) VALUES ($1::int8, $2)"
                          " ON CONFLICT (run_id) DO NOTHING",
                          2, NULL, values, lengths, formats, 0) != 1) {
        pg_conn_fail(&w->conn, PQerrorMessage(pg));
        return;
    }
    pg_conn_sync(&w->conn);
}

static void writer_on_down(void *owner, const char *why)
{
    struct pg_writer *w = owner;
    (void)why;
    /* Every group in flight has an unknown outcome: its messages stay at the head of the
     * queue and go again on the next link. */
    w->op_head = w->op_count = 0;
    w->in_round = w->round_failed = w->round_data_error = false;
    w->round_groups = w->inflight = 0;
    w->ready = w->stop_marking = false;
    tw_cancel(&w->loop->wheel, &w->flush_timer);
    tw_cancel(&w->loop->wheel, &w->maintain_timer);
}

static const struct pg_conn_ops writer_conn_ops = {
    .up = writer_on_up,
    .result = writer_on_result,
    .down = writer_on_down,
};

/* ---- the interface ---- */

static uint64_t writer_random_run_id(void)
{
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
        id = writer_now_us() ^ ((uint64_t)(uintptr_t)&id << 16);
    id &= INT64_MAX; /* a positive bigint */
    return id != 0 ? id : 1;
}

int pg_writer_init(struct pg_writer *w, struct loop *loop, unsigned tag,
                   const struct pg_writer_config *cfg, pg_writer_done_fn done, void *ctx,
                   char err[PG_CONN_ERROR_BYTES])
{
    assert(done != NULL);
    memset(w, 0, sizeof *w);
    if (writer_check_config(cfg, err) != 0)
        return -1;
    w->loop = loop;
    w->done = done;
    w->ctx = ctx;
    w->cfg = *cfg;
    w->run_id = writer_random_run_id();
    w->label = strdup(cfg->label != NULL ? cfg->label : "tidegate");
    w->op_cap = cfg->batch_messages_max + 4;
    w->ops = calloc(w->op_cap, sizeof *w->ops);
    w->cap = WRITER_RING_MIN;
    w->ring = calloc(w->cap, sizeof *w->ring);
    if (w->label == NULL || w->ops == NULL || w->ring == NULL) {
        free(w->label);
        free(w->ops);
        free(w->ring);
        snprintf(err, PG_CONN_ERROR_BYTES, "storage writer: out of memory");
        return -1;
    }
    w->cfg.conninfo = w->cfg.label = w->cfg.application_name = NULL; /* copies: conn, label */
    w->retry_backoff_ms = cfg->backoff_min_ms;
    /* An array holds at most a round's bytes (batch_bytes_max, or one message of up to
     * queue_bytes_max) plus 20 bytes of header and 12 per element. */
    for (int p = 0; p < 6; p++)
        jbuf_init(&w->params[p],
                  (size_t)cfg->queue_bytes_max + 20 + (size_t)12 * cfg->batch_messages_max);
    tw_timer_init(&w->flush_timer);
    tw_timer_init(&w->retry_timer);
    tw_timer_init(&w->maintain_timer);
    pg_hist_init(&w->metrics.batch_messages, pg_hist_bounds_messages,
                 pg_hist_bounds_messages_count);
    pg_hist_init(&w->metrics.flush_latency_us, pg_hist_bounds_latency_us,
                 pg_hist_bounds_latency_us_count);
    pg_hist_init(&w->metrics.stored_latency_us, pg_hist_bounds_latency_us,
                 pg_hist_bounds_latency_us_count);
    pg_metric_set(&w->metrics.queue_messages_max, cfg->queue_messages_max);
    pg_metric_set(&w->metrics.queue_bytes_max, cfg->queue_bytes_max);
    struct pg_conn_params params = {
        .name = "writer",
        .conninfo = cfg->conninfo,
        .application_name = cfg->application_name,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .reply_timeout_ms = cfg->reply_timeout_ms,
        .backoff_min_ms = cfg->backoff_min_ms,
        .backoff_max_ms = cfg->backoff_max_ms,
    };
    if (pg_conn_init(&w->conn, loop, tag, &params, &writer_conn_ops, w, &w->metrics.conn, err) !=
        0) {
        w->conn.state = PG_CONN_CLOSED;
        pg_writer_destroy(w);
        return -1;
    }
    return 0;
}

/* Doubles the ring (up to the power of two that holds queue_messages_max). */
static bool writer_grow(struct pg_writer *w)
{
    if (w->cap >= w->cfg.queue_messages_max)
        return false;
    uint32_t cap = w->cap * 2;
    struct pg_entry *ring = malloc((size_t)cap * sizeof *ring);
    if (ring == NULL)
        return false;
    for (uint32_t i = 0; i < w->count; i++)
        ring[i] = *writer_at(w, i);
    free(w->ring);
    w->ring = ring;
    w->cap = cap;
    w->head = 0;
    return true;
}

bool pg_writer_has_room(const struct pg_writer *w, uint64_t bytes)
{
    return !w->stopping && w->count < w->cfg.queue_messages_max &&
           w->bytes + bytes <= w->cfg.queue_bytes_max;
}

enum pg_enqueue_result pg_writer_enqueue(struct pg_writer *w, const struct pg_msg *m, void *cookie)
{
    assert(m->offset >= 1 && m->channel != NULL && m->epoch != NULL && m->data != NULL);
    if (w->stopping)
        return PG_ENQUEUE_STOPPING;
    uint64_t bytes = pg_msg_bytes(m);
    if (!pg_writer_has_room(w, bytes) || (w->count == w->cap && !writer_grow(w))) {
        pg_metric_add(&w->metrics.refused_full_total, 1);
        w->lossy = true;
        return PG_ENQUEUE_FULL;
    }
    struct pg_entry *e = &w->ring[(w->head + w->count) & (w->cap - 1)];
    e->msg = *m;
    e->cookie = cookie;
    e->enqueued_us = writer_now_us();
    w->count++;
    w->bytes += bytes;
    pg_metric_add(&w->metrics.enqueued_total, 1);
    writer_gauges(w);
    if (!w->in_round && (w->count >= w->cfg.batch_messages_max ||
                         w->bytes >= w->cfg.batch_bytes_max || !tw_armed(&w->flush_timer)))
        writer_kick(w);
    return PG_ENQUEUE_OK;
}

void pg_writer_stop(struct pg_writer *w, pg_writer_stopped_fn stopped, void *ctx)
{
    assert(!w->stopping && stopped != NULL);
    w->stopping = true;
    w->stopped = stopped;
    w->stopped_ctx = ctx;
    writer_kick(w);
}

bool pg_writer_on_timer(struct pg_writer *w, struct tw_timer *t)
{
    if (t == &w->flush_timer) {
        writer_kick(w);
        return true;
    }
    if (t == &w->retry_timer) {
        w->retry_wait = false;
        writer_kick(w);
        return true;
    }
    if (t == &w->maintain_timer) {
        if (w->ready && pg_conn_is_up(&w->conn)) {
            writer_send_maintain(w);
            tw_arm(&w->loop->wheel, &w->maintain_timer,
                   w->loop->now_ms + w->cfg.maintain_interval_ms);
        }
        return true;
    }
    return pg_conn_on_timer(&w->conn, t);
}

void pg_writer_destroy(struct pg_writer *w)
{
    pg_conn_close(&w->conn);
    tw_cancel(&w->loop->wheel, &w->flush_timer);
    tw_cancel(&w->loop->wheel, &w->retry_timer);
    tw_cancel(&w->loop->wheel, &w->maintain_timer);
    while (w->count > 0) {
        struct pg_entry e = *writer_at(w, 0);
        w->head = (w->head + 1) & (w->cap - 1);
        w->count--;
        w->bytes -= pg_msg_bytes(&e.msg);
        pg_metric_add(&w->metrics.abandoned_total, 1);
        w->done(w->ctx, e.cookie, PG_MSG_ABANDONED);
    }
    w->inflight = 0;
    writer_gauges(w);
    for (int p = 0; p < 6; p++)
        jbuf_free(&w->params[p]);
    free(w->ring);
    free(w->ops);
    free(w->label);
    w->ring = NULL;
    w->ops = NULL;
    w->label = NULL;
    pg_conn_free(&w->conn);
}
