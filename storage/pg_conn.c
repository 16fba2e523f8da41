/* A non-blocking libpq connection driven by io_uring polls: see pg_conn.h. The one thing to
 * know before changing it: the owner's callbacks may call back into this file (fail the
 * link, queue more commands), so after every callback the code re-checks that the link it
 * was working on is still the current one before touching libpq again. */
#include "storage/pg_conn.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

static void pg_conn_set_state(struct pg_conn *c, enum pg_conn_state state)
{
    c->state = state;
    pg_metric_set(&c->metrics->state, (uint64_t)state);
}

void pg_conn_one_line(char *out, size_t out_bytes, const char *text)
{
    assert(out_bytes > 0);
    size_t n = 0;
    bool space = false;
    for (const char *p = text != NULL ? text : ""; *p != '\0' && n + 1 < out_bytes; p++) {
        bool ws = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
        if (ws) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < out_bytes)
            out[n++] = ' ';
        space = false;
        out[n++] = *p == '"' ? '\'' : *p;
    }
    out[n] = '\0';
}

static void pg_conn_arm(struct pg_conn *c, struct pg_poll *p)
{
    assert(c->pg != NULL && !p->armed);
    int fd = PQsocket(c->pg);
    assert(fd >= 0);
    struct io_uring_sqe *sqe = loop_sqe(c->loop);
    io_uring_prep_poll_add(sqe, fd, p->write ? POLLOUT : POLLIN);
    io_uring_sqe_set_data64(sqe, loop_udata(p, c->tag));
    p->armed = true;
}

static void pg_conn_cancel(struct pg_conn *c, struct pg_poll *p)
{
    if (!p->armed)
        return;
    struct io_uring_sqe *sqe = loop_sqe(c->loop);
    io_uring_prep_cancel64(sqe, loop_udata(p, c->tag), 0);
    io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
}

/* A small xorshift for jitter: spreads the reconnects of many workers after an outage. */
static uint32_t pg_conn_jitter(struct pg_conn *c, uint32_t span)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return span == 0 ? 0 : (uint32_t)(c->rng % span);
}

/* Drops the libpq connection (if any) and its polls; no callback. */
static void pg_conn_teardown(struct pg_conn *c)
{
    pg_conn_cancel(c, &c->rd);
    pg_conn_cancel(c, &c->wr);
    if (c->pg != NULL) {
        /* The polls hold their own reference to the socket's file until they complete, so
         * closing the descriptor here cannot confuse them. */
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->syncs_pending = 0;
    tw_cancel(&c->loop->wheel, &c->timer);
}

/* After a failure: wait, then try again. */
static void pg_conn_schedule_retry(struct pg_conn *c)
{
    pg_conn_set_state(c, PG_CONN_DOWN);
    uint32_t wait_ms = c->backoff_ms / 2 + pg_conn_jitter(c, c->backoff_ms / 2 + 1);
    tw_arm(&c->loop->wheel, &c->timer, c->loop->now_ms + wait_ms);
    uint64_t next = (uint64_t)c->backoff_ms * 2;
    c->backoff_ms = next > c->backoff_max_ms ? c->backoff_max_ms : (uint32_t)next;
}

static void pg_conn_attempt_failed(struct pg_conn *c, const char *why)
{
    pg_conn_one_line(c->error, sizeof c->error, why);
    pg_conn_teardown(c);
    pg_metric_add(&c->metrics->connect_failures, 1);
    c->failures++;
    /* Say it on the first failure, then at powers of two: an outage of hours logs a few
     * dozen lines, not one per attempt. */
    if ((c->failures & (c->failures - 1)) == 0)
        log_warn("storage", "could not connect to PostgreSQL; retrying",
                 "conn=%s attempts=%u retry_in_ms_max=%u error=\"%s\"", c->name, c->failures,
                 c->backoff_ms, c->error);
    pg_conn_schedule_retry(c);
    c->ops->down(c->owner, c->error);
}

static void pg_conn_notice(void *arg, const char *message)
{
    struct pg_conn *c = arg;
    char line[PG_CONN_ERROR_BYTES];
    pg_conn_one_line(line, sizeof line, message);
    log_debug("storage", "notice from PostgreSQL", "conn=%s text=\"%s\"", c->name, line);
}

static void pg_conn_start(struct pg_conn *c)
{
    assert(c->pg == NULL && !pg_conn_busy(c));
    c->start_pending = false;
    if (c->application_name != NULL) {
        /* The connection string is expanded in place of dbname; what it sets wins over the
         * fallback. */
        const char *const keywords[] = {"dbname", "fallback_application_name", NULL};
        const char *const values[] = {c->conninfo, c->application_name, NULL};
        c->pg = PQconnectStartParams(keywords, values, 1);
    } else {
        c->pg = PQconnectStart(c->conninfo);
    }
    if (c->pg == NULL) {
        pg_conn_attempt_failed(c, "out of memory for a libpq connection");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        char why[PG_CONN_ERROR_BYTES];
        pg_conn_one_line(why, sizeof why, PQerrorMessage(c->pg));
        pg_conn_attempt_failed(c, why);
        return;
    }
    PQsetNoticeProcessor(c->pg, pg_conn_notice, c);
    pg_conn_set_state(c, PG_CONN_CONNECTING);
    tw_arm(&c->loop->wheel, &c->timer, c->loop->now_ms + c->connect_timeout_ms);
    /* "Just after PQconnectStart, behave as if PQconnectPoll last returned WRITING." */
    pg_conn_arm(c, &c->wr);
}

int pg_conn_init(struct pg_conn *c, struct loop *loop, unsigned tag,
                 const struct pg_conn_params *params, const struct pg_conn_ops *ops, void *owner,
                 struct pg_conn_metrics *metrics, char err[PG_CONN_ERROR_BYTES])
{
    assert(params->backoff_min_ms > 0 && params->backoff_max_ms >= params->backoff_min_ms);
    assert(params->connect_timeout_ms > 0 && params->reply_timeout_ms > 0 && tag < 8);
    memset(c, 0, sizeof *c);
    const char *conninfo = params->conninfo != NULL ? params->conninfo : "";
    char *parse_error = NULL;
    PQconninfoOption *parsed = PQconninfoParse(conninfo, &parse_error);
    if (parsed == NULL) {
        char line[PG_CONN_ERROR_BYTES - 40]; /* room for the sentence around it */
        pg_conn_one_line(line, sizeof line, parse_error != NULL ? parse_error : "out of memory");
        snprintf(err, PG_CONN_ERROR_BYTES, "bad PostgreSQL connection string: %s", line);
        PQfreemem(parse_error);
        return -1;
    }
    PQconninfoFree(parsed);
    c->conninfo = strdup(conninfo);
    if (params->application_name != NULL)
        c->application_name = strdup(params->application_name);
    if (c->conninfo == NULL || (params->application_name != NULL && c->application_name == NULL)) {
        free(c->conninfo);
        free(c->application_name);
        c->conninfo = c->application_name = NULL;
        snprintf(err, PG_CONN_ERROR_BYTES, "out of memory");
        return -1;
    }
    c->rd.conn = c->wr.conn = c;
    c->wr.write = true;
    c->loop = loop;
    c->tag = tag;
    c->ops = ops;
    c->owner = owner;
    c->name = params->name;
    c->connect_timeout_ms = params->connect_timeout_ms;
    c->reply_timeout_ms = params->reply_timeout_ms;
    c->backoff_min_ms = c->backoff_ms = params->backoff_min_ms;
    c->backoff_max_ms = params->backoff_max_ms;
    c->metrics = metrics;
    c->rng = (uint64_t)(uintptr_t)c ^ ((uint64_t)time(NULL) << 20) ^ 0x9e3779b97f4a7c15u;
    tw_timer_init(&c->timer);
    pg_conn_start(c);
    return 0;
}

static void pg_conn_lost(struct pg_conn *c, const char *why)
{
    pg_conn_one_line(c->error, sizeof c->error, why);
    pg_conn_teardown(c);
    pg_metric_add(&c->metrics->disconnects_total, 1);
    c->failures++;
    /* A healthy link lost logs at once (failures was reset when it proved itself); a server
     * that keeps refusing the setup logs at powers of two. */
    if ((c->failures & (c->failures - 1)) == 0)
        log_warn("storage", "lost the PostgreSQL connection; reconnecting",
                 "conn=%s retry_in_ms_max=%u error=\"%s\"", c->name, c->backoff_ms, c->error);
    pg_conn_schedule_retry(c);
    c->ops->down(c->owner, c->error);
}

void pg_conn_fail(struct pg_conn *c, const char *why)
{
    if (c->state == PG_CONN_UP)
        pg_conn_lost(c, why);
    else if (c->state == PG_CONN_CONNECTING)
        pg_conn_attempt_failed(c, why);
}

static void pg_conn_flush(struct pg_conn *c)
{
    int ret = PQflush(c->pg);
    if (ret < 0) {
        pg_conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    if (ret == 1 && !c->wr.armed)
        pg_conn_arm(c, &c->wr);
}

void pg_conn_sync(struct pg_conn *c)
{
    assert(c->state == PG_CONN_UP);
    if (PQpipelineSync(c->pg) != 1) {
        pg_conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->syncs_pending++ == 0)
        tw_arm(&c->loop->wheel, &c->timer, c->loop->now_ms + c->reply_timeout_ms);
    pg_conn_flush(c);
}

static void pg_conn_connected(struct pg_conn *c)
{
    tw_cancel(&c->loop->wheel, &c->timer);
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        pg_conn_attempt_failed(c, PQerrorMessage(c->pg));
        return;
    }
    pg_conn_set_state(c, PG_CONN_UP);
    pg_metric_add(&c->metrics->connects_total, 1);
    log_info("storage", "connected to PostgreSQL", "conn=%s server_version=%d after_failures=%u",
             c->name, PQserverVersion(c->pg), c->failures);
    pg_conn_arm(c, &c->rd);
    c->ops->up(c->owner);
}

static void pg_conn_continue_connect(struct pg_conn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_OK:
        pg_conn_connected(c);
        break;
    case PGRES_POLLING_READING:
        pg_conn_arm(c, &c->rd);
        break;
    case PGRES_POLLING_WRITING:
        pg_conn_arm(c, &c->wr);
        break;
    default: /* PGRES_POLLING_FAILED */
        pg_conn_attempt_failed(c, PQerrorMessage(c->pg));
        break;
    }
}

/* Hands every complete result to the owner. Stops when libpq needs more input, when no sync
 * group is outstanding, or when a callback ended this link. */
static void pg_conn_drain(struct pg_conn *c)
{
    PGconn *pg = c->pg;
    int nulls = 0;
    while (c->pg == pg && c->syncs_pending > 0 && !PQisBusy(pg)) {
        PGresult *res = PQgetResult(pg);
        if (res == NULL) {
            /* One NULL ends each statement's results; two in a row mean libpq has nothing
             * outstanding although a sync is owed: the pipeline lost track. */
            if (++nulls > 1) {
                pg_conn_lost(c, "libpq pipeline has no result for an outstanding sync");
                return;
            }
            continue;
        }
        nulls = 0;
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_PIPELINE_SYNC)
            c->syncs_pending--;
        if (c->syncs_pending > 0)
            tw_arm(&c->loop->wheel, &c->timer, c->loop->now_ms + c->reply_timeout_ms);
        else
            tw_cancel(&c->loop->wheel, &c->timer);
        c->ops->result(c->owner, res);
        PQclear(res);
    }
}

static void pg_conn_on_readable(struct pg_conn *c)
{
    if (PQconsumeInput(c->pg) != 1) {
        pg_conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    pg_conn_drain(c);
    if (c->state == PG_CONN_UP && PQstatus(c->pg) == CONNECTION_BAD) {
        pg_conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->state == PG_CONN_UP && !c->rd.armed)
        pg_conn_arm(c, &c->rd);
}

void pg_conn_dispatch(void *owner, const struct io_uring_cqe *cqe)
{
    struct pg_poll *p = owner;
    struct pg_conn *c = p->conn;
    assert(p->armed);
    p->armed = false;
    if (c->state == PG_CONN_DOWN || c->state == PG_CONN_CLOSED) {
        /* A poll of a link already torn down (cancelled or raced): nothing to do, unless
         * the backoff ended while it was in flight. */
        if (c->start_pending && !pg_conn_busy(c))
            pg_conn_start(c);
        return;
    }
    if (cqe->res < 0 && cqe->res != -ECANCELED) {
        char why[PG_CONN_ERROR_BYTES];
        snprintf(why, sizeof why, "io_uring poll on the PostgreSQL socket failed: %s",
                 strerror(-cqe->res));
        pg_conn_fail(c, why);
        return;
    }
    if (c->state == PG_CONN_CONNECTING) {
        pg_conn_continue_connect(c);
        return;
    }
    if (p->write)
        pg_conn_flush(c);
    else
        pg_conn_on_readable(c);
}

bool pg_conn_on_timer(struct pg_conn *c, struct tw_timer *t)
{
    if (t != &c->timer)
        return false;
    char why[PG_CONN_ERROR_BYTES];
    switch (c->state) {
    case PG_CONN_DOWN:
        if (pg_conn_busy(c))
            c->start_pending = true;
        else
            pg_conn_start(c);
        break;
    case PG_CONN_CONNECTING:
        snprintf(why, sizeof why, "no connection within connect_timeout_ms=%u",
                 c->connect_timeout_ms);
        pg_conn_attempt_failed(c, why);
        break;
    case PG_CONN_UP:
        snprintf(why, sizeof why, "no reply within reply_timeout_ms=%u", c->reply_timeout_ms);
        pg_conn_lost(c, why);
        break;
    case PG_CONN_CLOSED:
        break;
    }
    return true;
}

void pg_conn_close(struct pg_conn *c)
{
    if (c->state == PG_CONN_CLOSED)
        return;
    pg_conn_teardown(c);
    c->start_pending = false;
    pg_conn_set_state(c, PG_CONN_CLOSED);
}

void pg_conn_proven(struct pg_conn *c)
{
    c->failures = 0;
    c->backoff_ms = c->backoff_min_ms;
}

void pg_conn_free(struct pg_conn *c)
{
    assert(c->state == PG_CONN_CLOSED);
    free(c->conninfo);
    c->conninfo = NULL;
    free(c->application_name);
    c->application_name = NULL;
}
