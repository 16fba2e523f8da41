/* Worker thread: pins itself, builds its loop and receive buffers, accepts on its own
 * SO_REUSEPORT sockets (ws, and wss when TLS is on), dispatches completions to connections,
 * batches their sends once per loop turn, and on a stop request drains: its connections get
 * their `disconnect` and 1001 spread evenly over drain_window, and every close is done within
 * close_timeout after that.
 */
#include "gateway/worker.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/tls.h"
#include "gateway/conn.h"
#include "gateway/jwt.h"
#include "gateway/user_status_gw.h"
#include "storage/pg_reader.h"
#include "storage/pg_writer.h"

enum {
    WORKER_SQ_ENTRIES = 4096,
    WORKER_CQ_ENTRIES = 16384,
    WORKER_RECV_GROUP = 0,
    WORKER_ACCEPT_RETRY_MS = 100,
    WORKER_WAIT_MAX_MS = 1000,
    WORKER_WAIT_STOPPING_MS = 50,      /* while stopping: notice soon that the others are done */
    WORKER_WAIT_OVERFLOW_MS = 1,       /* items held back for a full ring: retry soon */
    WORKER_MAILBOX_BATCH = 1024,       /* items taken per ring pass, then the flush runs */
    WORKER_STORAGE_STOP_MIN_MS = 1000, /* the writer's last batch, even past the deadline */
    WORKER_STORAGE_MAINTAIN_MS = 3600 * 1000, /* worker 0: partitions ahead and retention */
};

/* Arms the multishot accept of the ws listener, or of the wss one when `tls`. */
static void worker_arm_accept(struct worker *w, bool tls)
{
    int fd = tls ? w->tls_listen_fd : w->listen_fd;
    bool *armed = tls ? &w->tls_accept_armed : &w->accept_armed;
    assert(!*armed && fd >= 0);
    struct io_uring_sqe *sqe = loop_sqe(&w->loop);
    io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, loop_udata(w, tls ? WORKER_OP_ACCEPT_TLS : WORKER_OP_ACCEPT));
    *armed = true;
}

/* Arms every listener that is open and not armed (at start, and after an accept error). */
static void worker_arm_accepts(struct worker *w)
{
    if (!w->accept_armed && w->listen_fd >= 0)
        worker_arm_accept(w, false);
    if (!w->tls_accept_armed && w->tls_listen_fd >= 0)
        worker_arm_accept(w, true);
}

static void worker_on_accept(struct worker *w, const struct io_uring_cqe *cqe, bool tls)
{
    bool *armed = tls ? &w->tls_accept_armed : &w->accept_armed;
    if (!(cqe->flags & IORING_CQE_F_MORE))
        *armed = false;
    if (cqe->res >= 0) {
        if (w->stopping)
            close(cqe->res);
        else
            conn_accept(w, cqe->res, tls);
    } else if (cqe->res != -ECANCELED) {
        /* EMFILE, ENFILE, ENOBUFS: retry later instead of spinning on the error. */
        log_warn("worker", "accept failed; retrying shortly",
                 "worker=%u error=\"%s\" hint=\"raise LimitNOFILE if this is EMFILE\"", w->index,
                 strerror(-cqe->res));
        if (!*armed && !w->stopping)
            tw_arm(&w->loop.wheel, &w->accept_retry, w->loop.now_ms + WORKER_ACCEPT_RETRY_MS);
        return;
    }
    if (!*armed && !w->stopping)
        worker_arm_accept(w, tls);
}

/* Notifies the OPEN connections whose turn has come. The k-th of drain_total (from 0) goes at
 * drain_start + k * drain_window / drain_total: the first at once, the rest evenly spread, the
 * last one a step before the window ends. Connections that leave on their own meanwhile are
 * simply not met by the walk. */
static void worker_drain_step(struct worker *w)
{
    uint64_t window_ms = w->shared->opts->drain_window_ms;
    uint64_t elapsed_ms = w->loop.now_ms - w->drain_start_ms;
    uint64_t due = w->drain_total;
    if (window_ms != 0 && elapsed_ms < window_ms)
        due = w->drain_total * elapsed_ms / window_ms + 1;
    while (w->drain_done < due && w->drain_next != NULL) {
        struct conn *c = w->drain_next;
        w->drain_next = c->next; /* before the drain: conn.c also moves it if c->next goes */
        if (conn_drain(c))
            w->drain_done++;
    }
    if (w->drain_done >= w->drain_total)
        w->drain_next = NULL; /* nothing can become OPEN any more: the walk is over */
    if (w->drain_next == NULL)
        return;
    assert(window_ms != 0 && w->drain_total > 0);
    tw_arm(&w->loop.wheel, &w->drain_timer,
           w->drain_start_ms + w->drain_done * window_ms / w->drain_total);
}

/* Starts the drain: counts the OPEN connections (the ones still handshaking were closed) and
 * notifies the first. */
static void worker_begin_drain(struct worker *w)
{
    w->drain_start_ms = w->loop.now_ms;
    w->drain_total = 0;
    w->drain_done = 0;
    for (const struct conn *c = w->conns; c != NULL; c = c->next)
        if (c->state == CONN_OPEN)
            w->drain_total++;
    w->drain_next = w->conns;
    if (w->drain_total > 0)
        log_debug("worker", "draining", "worker=%u connections=%llu window_ms=%llu", w->index,
                  (unsigned long long)w->drain_total,
                  (unsigned long long)w->shared->opts->drain_window_ms);
    worker_drain_step(w);
}

/* A worker whose own connections are gone stays while other workers' clients may still use
 * the channels it owns: until the drain window is over, or no client is left anywhere. */
static bool worker_drain_over(const struct worker *w)
{
    if (w->loop.now_ms >= w->drain_start_ms + w->shared->opts->drain_window_ms)
        return true;
    return atomic_load(&w->shared->connections_open) == 0 &&
           atomic_load(&w->shared->api_connections_open) == 0;
}

static void worker_begin_stop(struct worker *w)
{
    if (w->stopping)
        return;
    const struct gw_options *o = w->shared->opts;
    w->stopping = true;
    w->stop_deadline_ms = w->loop.now_ms + o->drain_window_ms + o->close_timeout_ms;
    tw_cancel(&w->loop.wheel, &w->accept_retry);
    /* Cancel the multishot accept, then close the listener: with SO_REUSEPORT the kernel
     * sends new connections to the sockets still open (other processes on the port). */
    if (w->accept_armed) {
        struct io_uring_sqe *sqe = loop_sqe(&w->loop);
        io_uring_prep_cancel64(sqe, loop_udata(w, WORKER_OP_ACCEPT), 0);
        io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
    }
    if (w->tls_accept_armed) {
        struct io_uring_sqe *sqe = loop_sqe(&w->loop);
        io_uring_prep_cancel64(sqe, loop_udata(w, WORKER_OP_ACCEPT_TLS), 0);
        io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
    }
    if (w->listen_fd >= 0) {
        shutdown(w->listen_fd, SHUT_RDWR);
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    if (w->tls_listen_fd >= 0) {
        shutdown(w->tls_listen_fd, SHUT_RDWR);
        close(w->tls_listen_fd);
        w->tls_listen_fd = -1;
    }
    api_begin_stop(&w->api);
    for (struct conn *c = w->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_begin_shutdown(c);
    }
    worker_begin_drain(w);
}

static void worker_dispatch(void *ctx, const struct io_uring_cqe *cqe)
{
    struct worker *w = ctx;
    void *owner = loop_udata_owner(cqe->user_data);
    switch (loop_udata_tag(cqe->user_data)) {
    case WORKER_OP_ACCEPT:
        worker_on_accept(w, cqe, false);
        break;
    case WORKER_OP_ACCEPT_TLS:
        worker_on_accept(w, cqe, true);
        break;
    case WORKER_OP_WAKE: /* mailbox items are read in worker_flush, every turn */
        if (atomic_load(&w->stop_requested))
            worker_begin_stop(w);
        break;
    case WORKER_OP_RECV:
        conn_on_recv(owner, cqe);
        break;
    case WORKER_OP_SEND:
        conn_on_send(owner, cqe);
        break;
    case WORKER_OP_API:
        api_dispatch(&w->api, owner, cqe);
        break;
    case WORKER_OP_STORAGE:
        pg_conn_dispatch(owner, cqe);
        break;
    case WORKER_OP_REDIS:
        user_status_dispatch(owner, cqe);
        break;
    default:
        log_error("worker", "completion with an unknown tag", "user_data=%llu",
                  (unsigned long long)cqe->user_data);
        assert(!"unknown completion tag");
    }
}

/* Every turn: what other workers sent (deliveries, requests, replies), then the sends, then
 * the wake-ups for what this turn sent to other workers. */
static void worker_flush(void *ctx)
{
    struct worker *w = ctx;
    struct mailbox_grid *grid = w->shared->grid;
    for (int pass = 0; pass < 8; pass++)
        if (mailbox_receive(grid, w->index, hub_on_item, &w->hub, WORKER_MAILBOX_BATCH) <
            WORKER_MAILBOX_BATCH)
            break;
    while (w->flush_list != NULL) {
        struct conn *c = w->flush_list;
        w->flush_list = c->flush_next;
        c->flush_next = NULL;
        c->flush_queued = false;
        conn_flush(c);
    }
    mailbox_flush(grid, w->index, &w->loop);
}

static void worker_timer_expired(struct tw_timer *t, void *ctx)
{
    struct worker *w = ctx;
    if (t == &w->accept_retry) {
        if (!w->stopping)
            worker_arm_accepts(w);
        return;
    }
    if (t == &w->drain_timer) {
        worker_drain_step(w);
        return;
    }
    if (t == &w->hub.sweep_timer) {
        hub_on_sweep(&w->hub);
        return;
    }
    if (w->pg != NULL && pg_writer_on_timer(w->pg, t))
        return;
    if (w->pg_reader != NULL && pg_reader_on_timer(w->pg_reader, t))
        return;
    if (w->status_live && user_status_on_timer(w->status, t))
        return;
    if (api_on_timer(&w->api, t))
        return;
    conn_on_timer(conn_from_timer(t));
}

static void worker_pin(struct worker *w)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    w->cpu = -1;
    if (cpus <= 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(w->index % (unsigned)cpus), &set);
    int ret = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (ret == 0)
        w->cpu = (int)(w->index % (unsigned)cpus);
    else
        log_warn("worker", "could not pin the worker to a core; running unpinned",
                 "worker=%u error=\"%s\"", w->index, strerror(ret));
}

/* With postgres_url: builds this worker's batch writer (it starts connecting at once). */
static int worker_storage_init(struct worker *w)
{
    const struct gw_options *o = w->shared->opts;
    if (o->postgres_url[0] == '\0')
        return 0;
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    char label[96];
    snprintf(label, sizeof label, "%s/worker %u", host, w->index);
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.conninfo = o->postgres_url;
    cfg.label = label;
    char writer_name[48], reader_name[48];
    snprintf(writer_name, sizeof writer_name, "tidegate writer %u", w->index);
    snprintf(reader_name, sizeof reader_name, "tidegate reader %u", w->index);
    cfg.application_name = writer_name;
    cfg.queue_messages_max = (uint32_t)o->postgres_queue_messages;
    cfg.batch_messages_max = (uint32_t)o->postgres_batch_messages;
    cfg.flush_delay_ms = (uint32_t)o->postgres_flush_delay_ms;
    if (cfg.batch_messages_max > cfg.queue_messages_max) /* a small queue: smaller batches */
        cfg.batch_messages_max = cfg.queue_messages_max;
    if (w->index == 0) { /* partition upkeep: one worker is enough (docs/storage.md) */
        cfg.maintain_interval_ms = WORKER_STORAGE_MAINTAIN_MS;
        cfg.retain_days = (uint32_t)o->postgres_retain_days;
    }
    w->pg = malloc(sizeof *w->pg);
    if (w->pg == NULL) {
        snprintf(w->start_error, sizeof w->start_error, "out of memory for the batch writer");
        return -1;
    }
    char err[PG_CONN_ERROR_BYTES];
    if (pg_writer_init(w->pg, &w->loop, WORKER_OP_STORAGE, &cfg, hub_on_stored, &w->hub, err) !=
        0) {
        snprintf(w->start_error, sizeof w->start_error, "postgres_url: %s", err);
        free(w->pg);
        w->pg = NULL;
        return -1;
    }
    struct pg_reader_config rcfg;
    pg_reader_config_defaults(&rcfg);
    rcfg.conninfo = o->postgres_url;
    rcfg.application_name = reader_name;
    /* A join's stored replay is one read (gateway/hub_stored.c): room for the largest.
     * recovery_max_messages is at most 100000 (options.c), the reader's own limit. */
    if (o->recovery_max_messages > rcfg.page_rows_max)
        rcfg.page_rows_max = (uint32_t)o->recovery_max_messages;
    w->pg_reader = malloc(sizeof *w->pg_reader);
    if (w->pg_reader == NULL ||
        pg_reader_init(w->pg_reader, &w->loop, WORKER_OP_STORAGE, &rcfg, err) != 0) {
        snprintf(w->start_error, sizeof w->start_error, "postgres_url: %s",
                 w->pg_reader == NULL ? "out of memory for the reader" : err);
        free(w->pg_reader);
        w->pg_reader = NULL;
        w->pg_closing = true;
        pg_writer_destroy(w->pg); /* nothing queued yet; its polls go with the loop */
        return -1;
    }
    return 0;
}

static void worker_on_storage_stopped(void *ctx, bool drained)
{
    struct worker *w = ctx;
    w->pg_stopped = true;
    if (!drained)
        log_warn("worker", "the batch writer stopped with messages not stored", "worker=%u",
                 w->index);
}

/* Called when the worker could exit: stops the writer the first time, then says whether
 * its last batch is done (or the wait is over). */
static bool worker_storage_done(struct worker *w)
{
    if (w->pg == NULL || w->pg_stopped)
        return true;
    if (!w->pg_stop_called) {
        w->pg_stop_called = true;
        uint64_t min_ms = w->loop.now_ms + WORKER_STORAGE_STOP_MIN_MS;
        w->pg_stop_deadline_ms = w->stop_deadline_ms > min_ms ? w->stop_deadline_ms : min_ms;
        pg_writer_stop(w->pg, worker_on_storage_stopped, w);
    }
    return w->pg_stopped || w->loop.now_ms >= w->pg_stop_deadline_ms;
}

/* Abandons what the writer still holds (no replies: the worker is leaving). */
static void worker_storage_close(struct worker *w)
{
    if (w->pg == NULL)
        return;
    w->pg_closing = true;
    pg_reader_destroy(w->pg_reader); /* held requests are freed (pg_closing) */
    pg_writer_destroy(w->pg);
}

static int worker_setup(struct worker *w)
{
    const struct gw_options *o = w->shared->opts;
    struct loop_params params = {
        .sq_entries = WORKER_SQ_ENTRIES,
        .cq_entries = WORKER_CQ_ENTRIES,
        .dispatch = worker_dispatch,
        .flush = worker_flush,
        .timer_expire = worker_timer_expired,
        .ctx = w,
    };
    if (loop_init(&w->loop, &params, w->start_error) != 0)
        return -1;
    int ret = bufring_init(&w->recv_buffers, &w->loop.ring, WORKER_RECV_GROUP,
                           (uint32_t)o->recv_buffer_count, (uint32_t)o->recv_buffer_bytes);
    if (ret != 0) {
        snprintf(w->start_error, sizeof w->start_error,
                 "could not set up %llu receive buffers of %llu bytes: %s",
                 (unsigned long long)o->recv_buffer_count, (unsigned long long)o->recv_buffer_bytes,
                 strerror(-ret));
        loop_destroy(&w->loop);
        return -1;
    }
    if (gw_user_status_start(w) != 0) {
        bufring_destroy(&w->recv_buffers, &w->loop.ring);
        loop_destroy(&w->loop);
        return -1;
    }
    if (worker_storage_init(w) != 0) {
        gw_user_status_close(w);
        bufring_destroy(&w->recv_buffers, &w->loop.ring);
        loop_destroy(&w->loop);
        return -1;
    }
    outq_pool_init(&w->outq_pool);
    tw_timer_init(&w->accept_retry);
    tw_timer_init(&w->drain_timer);
    hub_init(&w->hub, w);
    api_worker_start(&w->api, w);
    mailbox_grid_attach(w->shared->grid, w->index, &w->loop, loop_udata(w, WORKER_OP_WAKE));
    worker_arm_accepts(w);
    return 0;
}

/* Connections still held only by replies that will never come (their worker stopped first):
 * free them now that nothing can deliver to them. */
static void worker_free_waiting(struct worker *w)
{
    w->exiting = true;
    while (w->conns != NULL) {
        struct conn *c = w->conns;
        assert(c->state == CONN_CLOSED && !c->recv_armed && !c->send_inflight);
        conn_release(c);
    }
}

static void worker_teardown(struct worker *w)
{
    worker_storage_close(w);
    gw_user_status_close(w); /* before the connections and API requests still waiting go */
    mailbox_grid_detach(w->shared->grid, w->index);
    tw_cancel(&w->loop.wheel, &w->drain_timer);
    w->drain_next = NULL;
    worker_free_waiting(w);
    api_worker_destroy(&w->api);
    assert(w->flush_list == NULL);
    hub_destroy(&w->hub);
    jwt_thread_exit();
    if (w->shared->tls != NULL)
        tls_thread_end(); /* wolfSSL's per-thread ECC table (the sessions are gone) */
    conn_send_ctx_free_all(w);
    outq_pool_destroy(&w->outq_pool);
    bufring_destroy(&w->recv_buffers, &w->loop.ring);
    loop_destroy(&w->loop); /* w->pg's polls went with it; its metrics stay until the join */
}

/* True when every connection left is closed and held only by awaited replies. */
static bool worker_only_waiting(const struct worker *w)
{
    for (const struct conn *c = w->conns; c != NULL; c = c->next)
        if (c->state != CONN_CLOSED || c->recv_armed || c->send_inflight || c->flush_queued)
            return false;
    return true;
}

/* Runs until stopped and every connection is gone (or the stop deadline forced them). */
static void worker_run(struct worker *w)
{
    for (;;) {
        bool held_back = mailbox_has_overflow(w->shared->grid, w->index);
        int ret = loop_run_once(&w->loop, held_back     ? WORKER_WAIT_OVERFLOW_MS
                                          : w->stopping ? WORKER_WAIT_STOPPING_MS
                                                        : WORKER_WAIT_MAX_MS);
        if (ret < 0) {
            log_error("worker", "io_uring_enter failed; stopping the worker",
                      "worker=%u error=\"%s\"", w->index, strerror(-ret));
            worker_begin_stop(w);
        }
        if (!w->stopping && atomic_load_explicit(&w->stop_requested, memory_order_relaxed))
            worker_begin_stop(w); /* covers a wake-up sent before the ring existed */
        if (!w->stopping)
            continue;
        if (w->loop.now_ms >= w->stop_deadline_ms) {
            for (struct conn *c = w->conns, *next; c != NULL; c = next) {
                next = c->next;
                conn_abort(c, GW_CLOSE_SHUTDOWN);
            }
            api_abort_all(&w->api);
        }
        bool accepting = w->accept_armed || w->tls_accept_armed;
        if (w->conns == NULL && !accepting && api_idle(&w->api) && worker_drain_over(w) &&
            worker_storage_done(w) && gw_user_status_stopped(w)) {
            worker_flush(w);
            return;
        }
        if (w->loop.now_ms >= w->stop_deadline_ms && !accepting && worker_only_waiting(w) &&
            !w->api.accept_armed && api_only_waiting(&w->api) && worker_storage_done(w) &&
            gw_user_status_stopped(w)) {
            worker_flush(w);
            return; /* what is left waits for replies from workers that have stopped */
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    worker_pin(w);
    if (worker_setup(w) != 0) {
        atomic_store(&w->started, -1);
        return NULL;
    }
    atomic_store(&w->started, 1);
    log_debug("worker", "worker running", "worker=%u cpu=%d", w->index, w->cpu);
    worker_run(w);
    worker_teardown(w);
    atomic_store(&w->exited, true);
    return NULL;
}

int worker_start(struct worker *w, unsigned index, struct worker_shared *shared, int listen_fd,
                 int tls_fd, int api_fd)
{
    memset(w, 0, sizeof *w);
    w->index = index;
    w->shared = shared;
    w->listen_fd = listen_fd;
    w->tls_listen_fd = tls_fd;
    w->api.listen_fd = api_fd;
    w->cpu = -1;
    w->metrics = aligned_alloc(64, sizeof *w->metrics);
    if (w->metrics == NULL) {
        snprintf(w->start_error, sizeof w->start_error, "out of memory for worker metrics");
        return -1;
    }
    memset(w->metrics, 0, sizeof *w->metrics);
    int ret = pthread_create(&w->thread, NULL, worker_main, w);
    if (ret != 0) {
        snprintf(w->start_error, sizeof w->start_error, "could not start worker thread: %s",
                 strerror(ret));
        free(w->metrics);
        w->metrics = NULL;
        return -1;
    }
    return 0;
}

int worker_wait_started(struct worker *w)
{
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
    while (atomic_load(&w->started) == 0)
        nanosleep(&pause, NULL);
    return atomic_load(&w->started) > 0 ? 0 : -1;
}

void worker_request_stop(struct worker *w, struct loop *waker)
{
    atomic_store(&w->stop_requested, true);
    if (atomic_load(&w->started) > 0)
        loop_wake_other(waker, &w->loop, loop_udata(w, WORKER_OP_WAKE));
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
    if (w->listen_fd >= 0) {
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    if (w->tls_listen_fd >= 0) { /* the worker never started */
        close(w->tls_listen_fd);
        w->tls_listen_fd = -1;
    }
    if (w->api.listen_fd >= 0) { /* the worker never started */
        close(w->api.listen_fd);
        w->api.listen_fd = -1;
    }
    free(w->metrics);
    w->metrics = NULL;
    free(w->pg); /* destroyed by the thread; kept for /metrics until now */
    w->pg = NULL;
    free(w->pg_reader);
    w->pg_reader = NULL;
    gw_user_status_free(w); /* closed by the thread; kept for /metrics until now */
}
