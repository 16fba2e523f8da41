/* A hiredis asynchronous connection driven by io_uring polls: see redis_conn.h.
 *
 * The one thing to know before changing it: hiredis may free its context from inside any
 * call into it (redisAsyncHandleRead/Write on an error or EOF, redisAsyncFree), after
 * answering every waiting command with a NULL reply and calling the cleanup hook. So every
 * call into hiredis is bracketed by `in_hiredis`; the cleanup hook clears `c->ac`; and what
 * follows from a freed context (state, backoff, the owner's `down`) happens only after
 * hiredis has returned (rc_after_hiredis). We never free the context from inside one of its
 * callbacks: redis_conn_fail there only sets `fail_pending`. */
#include "storage/redis_conn.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

enum { RC_HANDSHAKE_MAX = 3 }; /* AUTH, SELECT, PING */

const char *redis_conn_state_name(enum redis_conn_state state)
{
    switch (state) {
    case REDIS_CONN_DOWN:
        return "down";
    case REDIS_CONN_CONNECTING:
        return "connecting";
    case REDIS_CONN_UP:
        return "up";
    case REDIS_CONN_CLOSED:
        return "closed";
    }
    return "unknown";
}

const char *redis_status_name(enum redis_status status)
{
    switch (status) {
    case REDIS_STATUS_REPLY:
        return "reply";
    case REDIS_STATUS_ERROR:
        return "error";
    case REDIS_STATUS_TIMEOUT:
        return "timeout";
    case REDIS_STATUS_UNAVAILABLE:
        return "unavailable";
    case REDIS_STATUS_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

void redis_conn_params_defaults(struct redis_conn_params *p)
{
    *p = (struct redis_conn_params){
        .name = "redis",
        .url = NULL,
        .connect_timeout_ms = 1000,
        .command_timeout_ms = 1000,
        .backoff_min_ms = 100,
        .backoff_max_ms = 5000,
        .pending_max = 4096,
    };
}

static void rc_set_state(struct redis_conn *c, enum redis_conn_state state)
{
    c->state = state;
    pg_metric_set(&c->metrics->state, (uint64_t)state);
}

/* ---- polls: hiredis's event hooks on io_uring ---- */

static void rc_arm(struct redis_conn *c, struct redis_poll *p)
{
    assert(c->ac != NULL && c->fd >= 0 && !p->armed);
    struct io_uring_sqe *sqe = loop_sqe(c->loop);
    io_uring_prep_poll_add(sqe, c->fd, p->write ? POLLOUT : POLLIN);
    io_uring_sqe_set_data64(sqe, loop_udata(p, c->tag));
    p->armed = true;
}

static void rc_cancel(struct redis_conn *c, struct redis_poll *p)
{
    if (!p->armed)
        return;
    struct io_uring_sqe *sqe = loop_sqe(c->loop);
    io_uring_prep_cancel64(sqe, loop_udata(p, c->tag), 0);
    io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
}

/* The hooks are idempotent, as hiredis requires: a poll is armed at most once. */
static void rc_ev_add(struct redis_conn *c, struct redis_poll *p)
{
    p->wanted = true;
    if (!p->armed)
        rc_arm(c, p);
}

static void rc_ev_add_read(void *privdata)
{
    struct redis_conn *c = privdata;
    rc_ev_add(c, &c->rd);
}

static void rc_ev_del_read(void *privdata)
{
    struct redis_conn *c = privdata;
    c->rd.wanted = false; /* a poll in flight completes and is ignored */
}

static void rc_ev_add_write(void *privdata)
{
    struct redis_conn *c = privdata;
    rc_ev_add(c, &c->wr);
}

static void rc_ev_del_write(void *privdata)
{
    struct redis_conn *c = privdata;
    c->wr.wanted = false;
}

/* hiredis is about to free the context and close its socket (the polls in flight hold
 * their own reference to the file, so they are cancelled, not confused). May be called
 * twice for one context. */
static void rc_ev_cleanup(void *privdata)
{
    struct redis_conn *c = privdata;
    if (c->ac == NULL)
        return;
    /* Our own teardowns and redis_conn_fail wrote the reason already. */
    if (!c->freeing && !c->fail_pending)
        snprintf(c->error, sizeof c->error, "%s",
                 c->ac->errstr != NULL && c->ac->err != 0 ? c->ac->errstr
                                                          : "the connection was closed");
    c->rd.wanted = c->wr.wanted = false;
    rc_cancel(c, &c->rd);
    rc_cancel(c, &c->wr);
    c->ac = NULL;
    c->fd = -1;
    c->dying = true;
}

/* ---- the ring of commands awaiting answers ---- */

static struct redis_cmd *rc_head(struct redis_conn *c)
{
    assert(c->cmds_count > 0);
    return &c->cmds[c->cmds_head];
}

static void rc_arm_command_deadline(struct redis_conn *c)
{
    if (c->cmds_count > 0)
        tw_arm(&c->loop->wheel, &c->timer, rc_head(c)->deadline_ms);
    else
        tw_cancel(&c->loop->wheel, &c->timer);
}

static void rc_handshake_reply(struct redis_conn *c, const char *what, const redisReply *reply)
{
    assert(c->handshake_left > 0);
    c->handshake_left--;
    if (reply == NULL || c->fail_pending)
        return; /* the attempt is going away already */
    if (reply->type == REDIS_REPLY_ERROR) {
        c->fail_pending = true;
        snprintf(c->error, sizeof c->error, "Redis refused %s: %s", what,
                 reply->str != NULL ? reply->str : "(no message)");
        return;
    }
    if (c->handshake_left == 0)
        c->handshake_done = true; /* the PING: up once hiredis returns */
}

static enum redis_status rc_status_of(struct redis_conn *c, const struct redis_cmd *cmd,
                                      const redisReply *reply)
{
    if (reply != NULL)
        return reply->type == REDIS_REPLY_ERROR ? REDIS_STATUS_ERROR : REDIS_STATUS_REPLY;
    if (c->closing)
        return REDIS_STATUS_CANCELLED;
    if (c->timing_out && cmd->deadline_ms <= c->loop->now_ms)
        return REDIS_STATUS_TIMEOUT;
    return REDIS_STATUS_UNAVAILABLE;
}

static void rc_count(struct redis_conn *c, enum redis_status status, const struct redis_cmd *cmd)
{
    struct redis_conn_metrics *m = c->metrics;
    switch (status) {
    case REDIS_STATUS_ERROR:
        pg_metric_add(&m->error_replies_total, 1);
        /* fall through */
    case REDIS_STATUS_REPLY: {
        pg_metric_add(&m->replies_total, 1);
        uint64_t now_ms = loop_clock_ms();
        pg_hist_observe(&m->latency_us, now_ms > cmd->sent_ms ? (now_ms - cmd->sent_ms) * 1000 : 0);
        break;
    }
    case REDIS_STATUS_TIMEOUT:
        pg_metric_add(&m->timeouts_total, 1);
        break;
    case REDIS_STATUS_UNAVAILABLE:
        pg_metric_add(&m->unavailable_total, 1);
        break;
    case REDIS_STATUS_CANCELLED:
        break;
    }
}

/* Every command's callback in hiredis: answers arrive in the order of the ring. A NULL
 * reply means hiredis is tearing the link down and answers everything still waiting. */
static void rc_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct redis_conn *c = ac->data;
    const redisReply *reply = r;
    (void)privdata; /* the head of the ring, in answer order (checked in debug builds) */
    assert(privdata == rc_head(c));
    struct redis_cmd cmd = *rc_head(c);
    c->cmds_head = (c->cmds_head + 1) % c->cmds_cap;
    c->cmds_count--;
    if (reply == NULL)
        c->dying = true; /* commands sent from the callbacks below are refused */
    else if (c->state == REDIS_CONN_UP)
        rc_arm_command_deadline(c);
    if (cmd.fn == NULL) {
        rc_handshake_reply(c, cmd.ctx, reply);
        return;
    }
    pg_metric_set(&c->metrics->pending, c->cmds_count);
    enum redis_status status = rc_status_of(c, &cmd, reply);
    rc_count(c, status, &cmd);
    cmd.fn(cmd.ctx, status, reply);
}

/* Appends one command to hiredis's output buffer and the ring. */
static enum redis_refusal rc_send(struct redis_conn *c, int argc, const char *const *argv,
                                  const size_t *argvlen, redis_reply_fn fn, void *ctx,
                                  uint64_t deadline_ms)
{
    assert(c->ac != NULL && c->cmds_count < c->cmds_cap);
    assert(argc >= 1 && argc <= REDIS_CONN_ARGS_MAX);
    struct redis_cmd *slot = &c->cmds[(c->cmds_head + c->cmds_count) % c->cmds_cap];
    *slot = (struct redis_cmd){
        .fn = fn, .ctx = ctx, .sent_ms = loop_clock_ms(), .deadline_ms = deadline_ms};
    /* hiredis takes `const char **`; it does not write through it. */
    if (redisAsyncCommandArgv(c->ac, rc_on_reply, slot, argc, (const char **)argv, argvlen) !=
        REDIS_OK)
        return REDIS_REFUSED_NOMEM;
    c->cmds_count++;
    return REDIS_ACCEPTED;
}

bool redis_conn_ready(const struct redis_conn *c)
{
    return c->state == REDIS_CONN_UP && !c->dying && !c->fail_pending && c->ac != NULL &&
           c->cmds_count < c->pending_max;
}

enum redis_refusal redis_conn_command(struct redis_conn *c, int argc, const char *const *argv,
                                      const size_t *argvlen, redis_reply_fn fn, void *ctx)
{
    assert(fn != NULL);
    if (c->state != REDIS_CONN_UP || c->dying || c->fail_pending || c->ac == NULL) {
        pg_metric_add(&c->metrics->refused_down_total, 1);
        return REDIS_REFUSED_DOWN;
    }
    if (c->cmds_count >= c->pending_max) {
        pg_metric_add(&c->metrics->refused_full_total, 1);
        return REDIS_REFUSED_FULL;
    }
    /* The clock now, not the turn's: a command sent late in a turn (or from outside the loop)
     * gets its whole timeout. */
    uint64_t deadline_ms = loop_clock_ms() + c->command_timeout_ms;
    enum redis_refusal r = rc_send(c, argc, argv, argvlen, fn, ctx, deadline_ms);
    if (r != REDIS_ACCEPTED) {
        pg_metric_add(&c->metrics->refused_down_total, 1);
        return r;
    }
    if (c->cmds_count == 1)
        rc_arm_command_deadline(c);
    pg_metric_add(&c->metrics->commands_total, 1);
    pg_metric_set(&c->metrics->pending, c->cmds_count);
    return REDIS_ACCEPTED;
}

/* ---- the link's life ---- */

/* A small xorshift for jitter: spreads the reconnects of many workers after an outage. */
static uint32_t rc_jitter(struct redis_conn *c, uint32_t span)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return span == 0 ? 0 : (uint32_t)(c->rng % span);
}

static void rc_schedule_retry(struct redis_conn *c)
{
    rc_set_state(c, REDIS_CONN_DOWN);
    uint32_t wait_ms = c->backoff_ms / 2 + rc_jitter(c, c->backoff_ms / 2 + 1);
    tw_arm(&c->loop->wheel, &c->timer, c->loop->now_ms + wait_ms);
    uint64_t next = (uint64_t)c->backoff_ms * 2;
    c->backoff_ms = next > c->backoff_max_ms ? c->backoff_max_ms : (uint32_t)next;
}

/* The context is gone (freed by hiredis or by us) and every command was answered: count,
 * log, back off, tell the owner. */
static void rc_link_gone(struct redis_conn *c)
{
    assert(c->ac == NULL && c->cmds_count == 0);
    bool was_up = c->state == REDIS_CONN_UP;
    c->handshake_left = 0;
    c->fail_pending = c->handshake_done = false;
    pg_metric_set(&c->metrics->pending, 0);
    tw_cancel(&c->loop->wheel, &c->timer);
    c->failures++;
    char where[96];
    redis_url_describe(&c->url, where, sizeof where);
    /* A healthy link lost logs at once (failures was reset when it came up); attempts that
     * keep failing log at powers of two: an outage of hours is a few dozen lines. */
    bool log_now = (c->failures & (c->failures - 1)) == 0;
    /* A link that was up but never proven (its owner's setup was refused) logs like a
     * failed attempt: at powers of two. */
    if (was_up) {
        pg_metric_add(&c->metrics->disconnects_total, 1);
        if (log_now)
            log_warn("redis", "lost the Redis connection; reconnecting",
                     "conn=%s redis=\"%s\" retry_in_ms_max=%u error=\"%s\"", c->name, where,
                     c->backoff_ms, c->error);
    } else {
        pg_metric_add(&c->metrics->connect_failures, 1);
        if (log_now)
            log_warn("redis", "could not connect to Redis; retrying",
                     "conn=%s redis=\"%s\" attempts=%u retry_in_ms_max=%u error=\"%s\"", c->name,
                     where, c->failures, c->backoff_ms, c->error);
    }
    rc_schedule_retry(c);
    c->ops->down(c->owner, c->error);
}

/* Frees the context ourselves (not from inside hiredis): every waiting command is answered
 * (CANCELLED when closing, TIMEOUT past its deadline when timing out, else UNAVAILABLE). */
static void rc_free_context(struct redis_conn *c)
{
    assert(!c->in_hiredis);
    if (c->ac == NULL)
        return;
    c->dying = c->freeing = c->in_hiredis = true;
    redisAsyncFree(c->ac);
    c->freeing = c->in_hiredis = false;
    assert(c->ac == NULL); /* the cleanup hook ran */
}

/* Drops the link for `why` (NULL: c->error says it already) and backs off. */
static void rc_drop(struct redis_conn *c, const char *why)
{
    if (why != NULL)
        snprintf(c->error, sizeof c->error, "%s", why);
    rc_free_context(c);
    rc_link_gone(c);
}

static void rc_on_connect(const redisAsyncContext *ac, int status)
{
    struct redis_conn *c = ac->data;
    if (status == REDIS_OK)
        c->tcp_connected = true; /* a failure is taken up by the cleanup hook */
}

static bool rc_send_handshake(struct redis_conn *c, const char *what, int argc,
                              const char *const *argv)
{
    size_t lens[3];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    /* The handshake is bounded by the connect deadline, not by command deadlines. */
    if (rc_send(c, argc, argv, lens, NULL, (void *)what, UINT64_MAX) != REDIS_ACCEPTED)
        return false;
    c->handshake_left++;
    return true;
}

static bool rc_queue_handshake(struct redis_conn *c)
{
    char db[16];
    snprintf(db, sizeof db, "%d", c->url.db);
    const char *auth_user[] = {"AUTH", c->url.user, c->url.password};
    const char *auth[] = {"AUTH", c->url.password};
    const char *select[] = {"SELECT", db};
    const char *ping[] = {"PING"};
    if (c->url.password[0] != '\0') {
        bool sent = c->url.user[0] != '\0' ? rc_send_handshake(c, "AUTH", 3, auth_user)
                                           : rc_send_handshake(c, "AUTH", 2, auth);
        if (!sent)
            return false;
    }
    if (c->url.db > 0 && !rc_send_handshake(c, "SELECT", 2, select))
        return false;
    return rc_send_handshake(c, "PING", 1, ping);
}

static redisAsyncContext *rc_connect(struct redis_conn *c)
{
    if (c->url.unix_socket)
        return redisAsyncConnectUnix(c->url.path);
    return redisAsyncConnect(c->url.address, c->url.port);
}

static void rc_start(struct redis_conn *c)
{
    assert(c->ac == NULL && !redis_conn_busy(c) && c->cmds_count == 0);
    c->start_pending = c->dying = c->tcp_connected = false;
    c->fail_pending = c->handshake_done = false;
    redisAsyncContext *ac = rc_connect(c);
    if (ac == NULL || ac->err != 0) {
        snprintf(c->error, sizeof c->error, "%s",
                 ac == NULL ? "out of memory for a hiredis context" : ac->errstr);
        if (ac != NULL)
            redisAsyncFree(ac); /* no hooks yet: nothing is called back */
        rc_link_gone(c);
        return;
    }
    c->ac = ac;
    c->fd = ac->c.fd;
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = rc_ev_add_read;
    ac->ev.delRead = rc_ev_del_read;
    ac->ev.addWrite = rc_ev_add_write;
    ac->ev.delWrite = rc_ev_del_write;
    ac->ev.cleanup = rc_ev_cleanup;
    rc_set_state(c, REDIS_CONN_CONNECTING);
    tw_arm(&c->loop->wheel, &c->timer, c->loop->now_ms + c->connect_timeout_ms);
    if (!c->url.unix_socket && redisEnableKeepAlive(&ac->c) != REDIS_OK)
        log_debug("redis", "could not enable TCP keepalive", "conn=%s", c->name);
    /* Connected is signalled by the first writable event; the callback arms it. */
    if (redisAsyncSetConnectCallback(ac, rc_on_connect) != REDIS_OK || !rc_queue_handshake(c))
        rc_drop(c, "out of memory queueing the Redis handshake");
}

static void rc_became_up(struct redis_conn *c)
{
    assert(c->cmds_count == 0 && c->handshake_left == 0);
    tw_cancel(&c->loop->wheel, &c->timer);
    rc_set_state(c, REDIS_CONN_UP);
    pg_metric_add(&c->metrics->connects_total, 1);
    char where[96];
    redis_url_describe(&c->url, where, sizeof where);
    log_info("redis", "connected to Redis", "conn=%s redis=\"%s\" after_failures=%u", c->name,
             where, c->failures);
    c->ops->up(c->owner);
}

void redis_conn_proven(struct redis_conn *c)
{
    c->failures = 0;
    c->backoff_ms = c->backoff_min_ms;
}

/* What follows a call into hiredis, now that it has returned. */
static void rc_after_hiredis(struct redis_conn *c)
{
    c->in_hiredis = false;
    if (c->ac == NULL) {
        rc_link_gone(c); /* hiredis freed the context: an error, EOF or a refused connect */
        return;
    }
    if (c->fail_pending) {
        rc_drop(c, NULL);
        return;
    }
    if (c->handshake_done && c->state == REDIS_CONN_CONNECTING) {
        c->handshake_done = false;
        rc_became_up(c);
    }
}

void redis_conn_dispatch(void *poll, const struct io_uring_cqe *cqe)
{
    struct redis_poll *p = poll;
    struct redis_conn *c = p->conn;
    assert(p->armed && !c->in_hiredis);
    p->armed = false;
    if (c->ac == NULL) {
        /* A poll of a link already torn down: nothing to do, unless the backoff ended while
         * it was in flight. */
        if (c->start_pending && !redis_conn_busy(c) && c->state == REDIS_CONN_DOWN)
            rc_start(c);
        return;
    }
    if (!p->wanted)
        return; /* hiredis took it back (delWrite) while it was in flight */
    if (cqe->res < 0) {
        char why[REDIS_CONN_ERROR_BYTES];
        snprintf(why, sizeof why, "io_uring poll on the Redis socket failed: %s",
                 strerror(-cqe->res));
        rc_drop(c, why);
        return;
    }
    c->in_hiredis = true;
    if (p->write)
        redisAsyncHandleWrite(c->ac);
    else
        redisAsyncHandleRead(c->ac);
    rc_after_hiredis(c);
}

bool redis_conn_on_timer(struct redis_conn *c, struct tw_timer *t)
{
    if (t != &c->timer)
        return false;
    char why[REDIS_CONN_ERROR_BYTES];
    switch (c->state) {
    case REDIS_CONN_DOWN:
        if (redis_conn_busy(c))
            c->start_pending = true;
        else
            rc_start(c);
        break;
    case REDIS_CONN_CONNECTING:
        snprintf(why, sizeof why, "%s within connect_timeout_ms=%u",
                 c->tcp_connected ? "no answer to the handshake (AUTH/SELECT/PING)"
                                  : "no connection",
                 c->connect_timeout_ms);
        rc_drop(c, why);
        break;
    case REDIS_CONN_UP:
        if (c->cmds_count == 0 || rc_head(c)->deadline_ms > c->loop->now_ms) {
            rc_arm_command_deadline(c); /* a deadline that moved: wait for the new one */
            break;
        }
        snprintf(why, sizeof why, "no reply within command_timeout_ms=%u (%u commands waiting)",
                 c->command_timeout_ms, c->cmds_count);
        c->timing_out = true;
        rc_drop(c, why);
        c->timing_out = false;
        break;
    case REDIS_CONN_CLOSED:
        break;
    }
    return true;
}

void redis_conn_fail(struct redis_conn *c, const char *why)
{
    if (c->ac == NULL || c->dying)
        return;
    if (c->in_hiredis) {
        if (!c->fail_pending) {
            c->fail_pending = true;
            snprintf(c->error, sizeof c->error, "%s", why);
        }
        return;
    }
    rc_drop(c, why);
}

int redis_conn_init(struct redis_conn *c, struct loop *loop, unsigned tag,
                    const struct redis_conn_params *params, const struct redis_conn_ops *ops,
                    void *owner, struct redis_conn_metrics *metrics,
                    char err[REDIS_CONN_ERROR_BYTES])
{
    assert(tag < 8 && ops != NULL && ops->up != NULL && ops->down != NULL);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    if (params->connect_timeout_ms == 0 || params->command_timeout_ms == 0 ||
        params->backoff_min_ms == 0 || params->backoff_max_ms < params->backoff_min_ms ||
        params->pending_max == 0 || params->pending_max > REDIS_CONN_PENDING_MAX) {
        snprintf(err, REDIS_CONN_ERROR_BYTES,
                 "bad Redis connection limits: timeouts and backoff_min_ms must be > 0, "
                 "backoff_max_ms >= backoff_min_ms, pending_max 1..%d",
                 REDIS_CONN_PENDING_MAX);
        return -1;
    }
    char url_err[REDIS_URL_ERROR_BYTES];
    if (redis_url_parse(params->url, &c->url, url_err) != 0) {
        snprintf(err, REDIS_CONN_ERROR_BYTES, "%s", url_err);
        return -1;
    }
    c->cmds_cap = params->pending_max + RC_HANDSHAKE_MAX;
    c->cmds = calloc(c->cmds_cap, sizeof *c->cmds);
    if (c->cmds == NULL) {
        snprintf(err, REDIS_CONN_ERROR_BYTES, "out of memory for %u Redis commands",
                 params->pending_max);
        return -1;
    }
    c->rd.conn = c->wr.conn = c;
    c->wr.write = true;
    c->loop = loop;
    c->tag = tag;
    c->ops = ops;
    c->owner = owner;
    c->name = params->name != NULL ? params->name : "redis";
    c->connect_timeout_ms = params->connect_timeout_ms;
    c->command_timeout_ms = params->command_timeout_ms;
    c->backoff_min_ms = c->backoff_ms = params->backoff_min_ms;
    c->backoff_max_ms = params->backoff_max_ms;
    c->pending_max = params->pending_max;
    c->metrics = metrics;
    pg_hist_init(&metrics->latency_us, pg_hist_bounds_latency_us, pg_hist_bounds_latency_us_count);
    pg_metric_set(&metrics->pending_max, params->pending_max);
    c->rng = (uint64_t)(uintptr_t)c ^ ((uint64_t)time(NULL) << 20) ^ 0x9e3779b97f4a7c15u;
    tw_timer_init(&c->timer);
    /* The first attempt starts on the loop's next turn, so `down` never runs from here. */
    rc_set_state(c, REDIS_CONN_DOWN);
    tw_arm(&loop->wheel, &c->timer, loop->now_ms);
    return 0;
}

void redis_conn_close(struct redis_conn *c)
{
    assert(!c->in_hiredis);
    if (c->state == REDIS_CONN_CLOSED)
        return;
    c->closing = true;
    rc_free_context(c);
    c->closing = false;
    assert(c->cmds_count == 0);
    c->handshake_left = 0;
    c->start_pending = false;
    tw_cancel(&c->loop->wheel, &c->timer);
    pg_metric_set(&c->metrics->pending, 0);
    rc_set_state(c, REDIS_CONN_CLOSED);
}

void redis_conn_free(struct redis_conn *c)
{
    assert(c->state == REDIS_CONN_CLOSED);
    free(c->cmds);
    c->cmds = NULL;
}
