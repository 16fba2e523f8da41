/* Asynchronous history and resume reads: see pg_reader.h. Requests sit in one FIFO: the
 * first `sent` are on the wire (answered in that order), the rest wait for the link. A
 * request that timed out keeps its place until its result arrives (the pipeline must stay
 * in step) but is answered at once and never again (`answered`). */
#include "storage/pg_reader.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "storage/pg_wire.h"

enum { REQ_HISTORY, REQ_RESUME };
enum { READER_CHANNEL_BYTES_MAX = 1024, READER_EPOCH_BYTES_MAX = 64 };

struct pg_read_req {
    uint8_t kind;
    uint8_t direction;
    bool answered;
    uint32_t limit;
    uint64_t from_offset, to_offset; /* HISTORY */
    uint64_t run_id;                 /* RESUME */
    uint64_t accepted_us;
    uint64_t deadline_ms;
    pg_history_fn history_fn;
    pg_resume_fn resume_fn;
    void *cookie;
    char *channel; /* NUL-terminated copies, in `text` */
    char *epoch;
    char text[];
};

static const char reader_forward_sql[] =
    "SELECT msg_offset, published_at, user_id, data FROM tidegate_history"
    " WHERE channel = $1 AND epoch = $2 AND msg_offset BETWEEN $3 AND $4"
    " ORDER BY msg_offset LIMIT $5";
static const char reader_backward_sql[] =
    "SELECT msg_offset, published_at, user_id, data FROM tidegate_history"
    " WHERE channel = $1 AND epoch = $2 AND msg_offset BETWEEN $3 AND $4"
    " ORDER BY msg_offset DESC LIMIT $5";
static const char reader_resume_sql[] =
    "SELECT epoch, last_offset, last_published_at, drained FROM tidegate_channel_resume($1, $2)";
static const Oid reader_history_types[5] = {PG_OID_TEXT, PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8,
                                            PG_OID_INT8};
static const Oid reader_resume_types[2] = {PG_OID_TEXT, PG_OID_INT8};

static uint64_t reader_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void pg_reader_config_defaults(struct pg_reader_config *c)
{
    memset(c, 0, sizeof *c);
    c->requests_max = 1024;
    c->request_timeout_ms = 5000;
    c->page_rows_max = 1000;
    c->connect_timeout_ms = 5000;
    c->backoff_min_ms = 100;
    c->backoff_max_ms = 5000;
}

static struct pg_read_req *reader_at(const struct pg_reader *r, uint32_t i)
{
    assert(i < r->count);
    return r->reqs[(r->head + i) % r->cfg.requests_max];
}

/* ---- answers ---- */

static void reader_answer(struct pg_reader *r, struct pg_read_req *q, enum pg_read_status status,
                          const PGresult *res)
{
    assert(!q->answered);
    q->answered = true;
    pg_metric_add(&r->metrics.requests_inflight, (uint64_t)-1);
    pg_hist_observe(&r->metrics.latency_us, reader_now_us() - q->accepted_us);
    if (status != PG_READ_OK)
        pg_metric_add(&r->metrics.failed_total, 1);
    if (q->kind == REQ_RESUME) {
        struct pg_resume_state st = {0};
        if (res != NULL && PQntuples(res) == 1) {
            st.found = true;
            st.epoch = PQgetvalue(res, 0, 0);
            st.epoch_len = (uint32_t)PQgetlength(res, 0, 0);
            st.last_offset = pg_get_u64((const uint8_t *)PQgetvalue(res, 0, 1));
            st.last_timestamp_ms = pg_unix_ms_from_timestamptz(
                (int64_t)pg_get_u64((const uint8_t *)PQgetvalue(res, 0, 2)));
            st.drained = PQgetvalue(res, 0, 3)[0] != 0;
        }
        q->resume_fn(q->cookie, status, &st);
        return;
    }
    uint32_t count = 0;
    bool more = false;
    if (res != NULL) {
        uint32_t n = (uint32_t)PQntuples(res);
        more = n > q->limit;
        count = more ? q->limit : n;
        for (uint32_t i = 0; i < count; i++) {
            struct pg_history_row *row = &r->rows[i];
            row->offset = pg_get_u64((const uint8_t *)PQgetvalue(res, (int)i, 0));
            row->timestamp_ms = pg_unix_ms_from_timestamptz(
                (int64_t)pg_get_u64((const uint8_t *)PQgetvalue(res, (int)i, 1)));
            bool anonymous = PQgetisnull(res, (int)i, 2);
            row->user_id = anonymous ? NULL : PQgetvalue(res, (int)i, 2);
            row->user_id_len = anonymous ? 0 : (uint32_t)PQgetlength(res, (int)i, 2);
            row->data = PQgetvalue(res, (int)i, 3);
            row->data_len = (uint32_t)PQgetlength(res, (int)i, 3);
        }
        pg_metric_add(&r->metrics.rows_read_total, count);
    }
    q->history_fn(q->cookie, status, r->rows, count, more);
}

/* Checks the shape of a result before reader_answer reads it in binary. */
static bool reader_result_ok(const struct pg_read_req *q, const PGresult *res)
{
    int rows = PQntuples(res);
    if (q->kind == REQ_RESUME) {
        if (PQnfields(res) != 4 || rows > 1)
            return false;
        return rows == 0 || (PQgetlength(res, 0, 1) == 8 && PQgetlength(res, 0, 2) == 8 &&
                             PQgetlength(res, 0, 3) == 1);
    }
    if (PQnfields(res) != 4 || (uint32_t)rows > q->limit + 1)
        return false;
    for (int i = 0; i < rows; i++)
        if (PQgetlength(res, i, 0) != 8 || PQgetlength(res, i, 1) != 8)
            return false;
    return true;
}

static void reader_pop(struct pg_reader *r)
{
    assert(r->count > 0 && r->sent > 0);
    struct pg_read_req *q = reader_at(r, 0);
    r->head = (r->head + 1) % r->cfg.requests_max;
    r->count--;
    r->sent--;
    free(q);
}

/* Answers every request that was sent (UNAVAILABLE) and, when `all`, every waiting one too. */
static void reader_fail_requests(struct pg_reader *r, bool all)
{
    uint32_t n = all ? r->count : r->sent;
    for (uint32_t i = 0; i < n; i++) {
        struct pg_read_req *q = reader_at(r, 0);
        if (!q->answered)
            reader_answer(r, q, PG_READ_UNAVAILABLE, NULL);
        r->head = (r->head + 1) % r->cfg.requests_max;
        r->count--;
        free(q);
    }
    r->sent = 0;
}

/* ---- sending ---- */

static void reader_send(struct pg_reader *r, struct pg_read_req *q)
{
    char from[24], to[24], limit[16], run[24];
    int ok;
    if (q->kind == REQ_HISTORY) {
        snprintf(from, sizeof from, "%llu", (unsigned long long)q->from_offset);
        snprintf(to, sizeof to, "%llu", (unsigned long long)q->to_offset);
        snprintf(limit, sizeof limit, "%u", q->limit + 1);
        const char *values[5] = {q->channel, q->epoch, from, to, limit};
        ok = PQsendQueryPrepared(r->conn.pg,
                                 q->direction == PG_FORWARD ? "tidegate_fwd" : "tidegate_bwd", 5,
                                 values, NULL, NULL, 1);
    } else {
        snprintf(run, sizeof run, "%llu", (unsigned long long)q->run_id);
        const char *values[2] = {q->channel, run};
        ok = PQsendQueryPrepared(r->conn.pg, "tidegate_resume", 2, values, NULL, NULL, 1);
    }
    r->sent++;
    if (ok != 1) {
        pg_conn_fail(&r->conn, PQerrorMessage(r->conn.pg));
        return;
    }
    pg_conn_sync(&r->conn);
}

/* Sends every waiting request (skipping those already answered by a timeout). */
static void reader_send_waiting(struct pg_reader *r)
{
    while (r->ready && r->sent < r->count) {
        struct pg_read_req *q = reader_at(r, r->sent);
        if (q->answered) {
            /* Timed out before it was sent: never goes on the wire. Waiting requests follow
             * the sent ones, so this one is at index `sent`; move the rest up. */
            for (uint32_t i = r->sent; i + 1 < r->count; i++)
                r->reqs[(r->head + i) % r->cfg.requests_max] =
                    r->reqs[(r->head + i + 1) % r->cfg.requests_max];
            r->count--;
            free(q);
            continue;
        }
        reader_send(r, q);
    }
}

static void reader_arm_deadline(struct pg_reader *r)
{
    for (uint32_t i = 0; i < r->count; i++) {
        struct pg_read_req *q = reader_at(r, i);
        if (!q->answered) {
            tw_arm(&r->loop->wheel, &r->request_timer, q->deadline_ms);
            return;
        }
    }
    tw_cancel(&r->loop->wheel, &r->request_timer);
}

/* ---- the link ---- */

static void reader_on_up(void *owner)
{
    struct pg_reader *r = owner;
    assert(r->sent == 0);
    PGconn *pg = r->conn.pg;
    r->setup_pending = true;
    r->setup_failed = false;
    if (PQsendPrepare(pg, "tidegate_fwd", reader_forward_sql, 5, reader_history_types) != 1 ||
        PQsendPrepare(pg, "tidegate_bwd", reader_backward_sql, 5, reader_history_types) != 1 ||
        PQsendPrepare(pg, "tidegate_resume", reader_resume_sql, 2, reader_resume_types) != 1) {
        pg_conn_fail(&r->conn, PQerrorMessage(pg));
        return;
    }
    pg_conn_sync(&r->conn);
}

static void reader_on_down(void *owner, const char *why)
{
    struct pg_reader *r = owner;
    (void)why;
    r->ready = false;
    r->setup_pending = false;
    reader_fail_requests(r, true);
    reader_arm_deadline(r);
}

static void reader_log_error(struct pg_reader *r, const char *what, const PGresult *res)
{
    uint64_t failed = pg_metric_get(&r->metrics.failed_total);
    if ((failed & (failed - 1)) != 0)
        return; /* the first error, then at powers of two */
    char line[PG_CONN_ERROR_BYTES];
    pg_conn_one_line(line, sizeof line, PQresultErrorMessage(res));
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    log_warn("storage", "PostgreSQL refused a read", "while=\"%s\" sqlstate=%s error=\"%s\"", what,
             state != NULL ? state : "", line);
}

static void reader_setup_result(struct pg_reader *r, PGresult *res)
{
    ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_COMMAND_OK)
        return;
    if (status != PGRES_PIPELINE_SYNC) {
        if (!r->setup_failed)
            reader_log_error(r, "preparing the read statements", res);
        r->setup_failed = true;
        return;
    }
    r->setup_pending = false;
    if (r->setup_failed) {
        pg_conn_fail(&r->conn, "could not prepare the read statements");
        return;
    }
    pg_conn_proven(&r->conn);
    r->ready = true;
    reader_send_waiting(r);
}

/* An error that says the server or the link is going away (connection exceptions, class 08;
 * shutdown and crash recovery, 57P01..57P03) rather than that the read is wrong. */
static bool reader_link_error(const struct pg_reader *r, const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQstatus(r->conn.pg) == CONNECTION_BAD || state == NULL)
        return true;
    return strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
}

static void reader_on_result(void *owner, PGresult *res)
{
    struct pg_reader *r = owner;
    if (r->setup_pending) {
        reader_setup_result(r, res);
        return;
    }
    assert(r->sent > 0);
    struct pg_read_req *q = reader_at(r, 0);
    switch (PQresultStatus(res)) {
    case PGRES_PIPELINE_SYNC:
        if (!q->answered)
            reader_answer(r, q, PG_READ_FAILED, NULL);
        reader_pop(r);
        reader_arm_deadline(r);
        return;
    case PGRES_TUPLES_OK:
        if (!q->answered) {
            bool ok = reader_result_ok(q, res);
            if (!ok)
                log_warn("storage", "PostgreSQL answered a read in an unexpected shape", NULL);
            reader_answer(r, q, ok ? PG_READ_OK : PG_READ_FAILED, ok ? res : NULL);
        }
        return;
    default:
        if (!q->answered) {
            bool gone = reader_link_error(r, res);
            reader_answer(r, q, gone ? PG_READ_UNAVAILABLE : PG_READ_FAILED, NULL);
            if (!gone)
                reader_log_error(
                    r, q->kind == REQ_RESUME ? "resuming a channel" : "reading history", res);
        }
        return;
    }
}

static const struct pg_conn_ops reader_conn_ops = {
    .up = reader_on_up,
    .result = reader_on_result,
    .down = reader_on_down,
};

/* ---- the interface ---- */

int pg_reader_init(struct pg_reader *r, struct loop *loop, unsigned tag,
                   const struct pg_reader_config *cfg, char err[PG_CONN_ERROR_BYTES])
{
    memset(r, 0, sizeof *r);
    if (cfg->requests_max < 1 || cfg->requests_max > 65536 || cfg->page_rows_max < 1 ||
        cfg->page_rows_max > 100000 || cfg->request_timeout_ms < 1) {
        snprintf(err, PG_CONN_ERROR_BYTES,
                 "storage reader: requests_max must be 1..65536, page_rows_max 1..100000 and "
                 "request_timeout_ms at least 1");
        return -1;
    }
    r->loop = loop;
    r->cfg = *cfg;
    r->cfg.conninfo = r->cfg.application_name = NULL; /* copied by pg_conn_init */
    r->reqs = calloc(cfg->requests_max, sizeof *r->reqs);
    r->rows = calloc((size_t)cfg->page_rows_max + 1, sizeof *r->rows);
    tw_timer_init(&r->request_timer);
    pg_hist_init(&r->metrics.latency_us, pg_hist_bounds_latency_us,
                 pg_hist_bounds_latency_us_count);
    struct pg_conn_params params = {
        .name = "reader",
        .conninfo = cfg->conninfo,
        .application_name = cfg->application_name,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        /* A slow page is answered TIMEOUT on its own; a link silent for twice that is dead. */
        .reply_timeout_ms = cfg->request_timeout_ms * 2,
        .backoff_min_ms = cfg->backoff_min_ms,
        .backoff_max_ms = cfg->backoff_max_ms,
    };
    if (r->reqs == NULL || r->rows == NULL)
        snprintf(err, PG_CONN_ERROR_BYTES, "storage reader: out of memory");
    if (r->reqs == NULL || r->rows == NULL ||
        pg_conn_init(&r->conn, loop, tag, &params, &reader_conn_ops, r, &r->metrics.conn, err) !=
            0) {
        free(r->reqs);
        free(r->rows);
        r->reqs = NULL;
        r->rows = NULL;
        return -1;
    }
    return 0;
}

/* Accepts a request: refused when the database is unreachable or the FIFO is full. */
static struct pg_read_req *reader_accept(struct pg_reader *r, const char *channel,
                                         uint32_t channel_len, const char *epoch,
                                         uint32_t epoch_len)
{
    if (r->conn.state == PG_CONN_DOWN || r->conn.state == PG_CONN_CLOSED ||
        r->count >= r->cfg.requests_max || channel_len < 1 ||
        channel_len > READER_CHANNEL_BYTES_MAX || epoch_len > READER_EPOCH_BYTES_MAX) {
        pg_metric_add(&r->metrics.refused_total, 1);
        return NULL;
    }
    struct pg_read_req *q = malloc(sizeof *q + channel_len + epoch_len + 2);
    if (q == NULL) {
        pg_metric_add(&r->metrics.refused_total, 1);
        return NULL;
    }
    memset(q, 0, sizeof *q);
    q->channel = q->text;
    memcpy(q->channel, channel, channel_len);
    q->channel[channel_len] = '\0';
    q->epoch = q->text + channel_len + 1;
    if (epoch_len > 0)
        memcpy(q->epoch, epoch, epoch_len);
    q->epoch[epoch_len] = '\0';
    q->accepted_us = reader_now_us();
    /* The real time, not the loop's (read at the start of the turn, which may have been long). */
    q->deadline_ms = q->accepted_us / 1000u + r->cfg.request_timeout_ms;
    return q;
}

static void reader_queue(struct pg_reader *r, struct pg_read_req *q)
{
    r->reqs[(r->head + r->count) % r->cfg.requests_max] = q;
    r->count++;
    pg_metric_add(&r->metrics.requests_total, 1);
    pg_metric_add(&r->metrics.requests_inflight, 1);
    if (!tw_armed(&r->request_timer))
        tw_arm(&r->loop->wheel, &r->request_timer, q->deadline_ms);
    if (r->ready && r->sent == r->count - 1)
        reader_send(r, q);
}

int pg_reader_history(struct pg_reader *r, const struct pg_history_query *hq, pg_history_fn fn,
                      void *cookie)
{
    assert(fn != NULL);
    if (hq->limit < 1 || hq->limit > r->cfg.page_rows_max || hq->epoch_len < 1 ||
        hq->from_offset > INT64_MAX || hq->to_offset > INT64_MAX) {
        pg_metric_add(&r->metrics.refused_total, 1);
        return -1;
    }
    struct pg_read_req *q =
        reader_accept(r, hq->channel, hq->channel_len, hq->epoch, hq->epoch_len);
    if (q == NULL)
        return -1;
    q->kind = REQ_HISTORY;
    q->direction = (uint8_t)hq->direction;
    q->limit = hq->limit;
    q->from_offset = hq->from_offset;
    q->to_offset = hq->to_offset;
    q->history_fn = fn;
    q->cookie = cookie;
    reader_queue(r, q);
    return 0;
}

int pg_reader_resume(struct pg_reader *r, const char *channel, uint32_t channel_len,
                     uint64_t run_id, pg_resume_fn fn, void *cookie)
{
    assert(fn != NULL);
    struct pg_read_req *q = reader_accept(r, channel, channel_len, "", 0);
    if (q == NULL)
        return -1;
    q->kind = REQ_RESUME;
    q->run_id = run_id;
    q->resume_fn = fn;
    q->cookie = cookie;
    reader_queue(r, q);
    return 0;
}

bool pg_reader_on_timer(struct pg_reader *r, struct tw_timer *t)
{
    if (t != &r->request_timer)
        return pg_conn_on_timer(&r->conn, t);
    uint64_t now_ms = reader_now_us() / 1000u;
    for (uint32_t i = 0; i < r->count; i++) {
        struct pg_read_req *q = reader_at(r, i);
        if (q->answered)
            continue;
        if (q->deadline_ms > now_ms)
            break;
        reader_answer(r, q, PG_READ_TIMEOUT, NULL);
    }
    reader_arm_deadline(r);
    return true;
}

void pg_reader_destroy(struct pg_reader *r)
{
    if (r->reqs == NULL)
        return;
    pg_conn_close(&r->conn);
    tw_cancel(&r->loop->wheel, &r->request_timer);
    while (r->count > 0) {
        struct pg_read_req *q = reader_at(r, 0);
        if (!q->answered)
            reader_answer(r, q, PG_READ_CANCELLED, NULL);
        r->head = (r->head + 1) % r->cfg.requests_max;
        r->count--;
        free(q);
    }
    r->sent = 0;
    free(r->reqs);
    free(r->rows);
    r->reqs = NULL;
    r->rows = NULL;
    pg_conn_free(&r->conn);
}
