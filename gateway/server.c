/* The server thread: starts everything, then runs a small loop of its own for the admin
 * listener and for signals (a signalfd read through io_uring). On SIGTERM/SIGINT it turns
 * /readyz to 503 and stops the workers through MSG_RING (they drain their clients over
 * drain_window) and waits for them; on SIGHUP it reloads what may change live. Workers never
 * block on it.
 */
#include "gateway/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/cidr.h"
#include "core/ip_limit.h"
#include "core/log.h"
#include "core/proxy_proto.h"
#include "gateway/admin.h"
#include "gateway/listener.h"
#include "gateway/storage_metrics.h"
#include "gateway/user_status_metrics.h"
#include "gateway/metrics.h"
#include "gateway/hub.h"
#include "gateway/tls_setup.h"
#include "gateway/worker.h"
#include "storage/pg_reader.h"

enum {
    SERVER_OP_SIGNAL = 4, /* owner: struct server; tags 1..3 are the admin's */
    SERVER_SQ_ENTRIES = 256,
    SERVER_CQ_ENTRIES = 1024,
    SERVER_WAIT_MAX_MS = 100,
};

struct server {
    const struct gw_options *opts;
    const struct gw_auth *auth; /* borrowed from main: JWT keys and policy */
    struct gw_tls *tls;         /* borrowed from main: the wss certificates (tls->on) */
    struct ws_handshake_policy policy;
    struct worker_shared shared;
    struct mailbox_grid grid; /* between the workers; drained and freed after they stop */
    struct worker *workers;
    unsigned worker_count;
    unsigned workers_started;
    struct loop loop;
    struct admin admin;
    struct server_reload reload; /* what SIGHUP runs (from main) */
    struct cidr_list *trusted;   /* proxy_trusted parsed; NULL when proxy_protocol is off */
    struct ip_limit *ip_limit;   /* the per-IP limits; NULL when off */
    int signal_fd;
    struct signalfd_siginfo siginfo;
    bool signal_armed;
    bool stopping;
};

static void server_arm_signal(struct server *s)
{
    struct io_uring_sqe *sqe = loop_sqe(&s->loop);
    io_uring_prep_read(sqe, s->signal_fd, &s->siginfo, sizeof s->siginfo, 0);
    io_uring_sqe_set_data64(sqe, loop_udata(s, SERVER_OP_SIGNAL));
    s->signal_armed = true;
}

static void server_begin_stop(struct server *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = true; /* /readyz answers 503 from now on */
    log_info("main", "stopping: draining connections with 1001",
             "cause=%s drain_window_ms=%llu "
             "close_timeout_ms=%llu",
             why, (unsigned long long)s->opts->drain_window_ms,
             (unsigned long long)s->opts->close_timeout_ms);
    for (unsigned i = 0; i < s->workers_started; i++)
        worker_request_stop(&s->workers[i], &s->loop);
}

static void server_on_signal(struct server *s, int res)
{
    s->signal_armed = false;
    if (res != (int)sizeof s->siginfo) {
        log_error("main", "reading the signalfd failed; stopping", "result=%d", res);
        server_begin_stop(s, "signalfd_error");
        return;
    }
    if (s->siginfo.ssi_signo == SIGHUP) {
        /* What may change live: the options main reads again (log_level) and, through
         * them, the TLS certificates (main.c calls gw_tls_reload with the fresh options). */
        log_info("main", "SIGHUP: reloading what may change while running", NULL);
        if (s->reload.fn != NULL)
            s->reload.fn(s->reload.ctx);
    } else {
        server_begin_stop(s, s->siginfo.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
    }
    server_arm_signal(s); /* a second stop signal during the stop is read and ignored */
}

static void server_dispatch(void *ctx, const struct io_uring_cqe *cqe)
{
    struct server *s = ctx;
    if (loop_udata_tag(cqe->user_data) == SERVER_OP_SIGNAL)
        server_on_signal(s, cqe->res);
    else
        admin_dispatch(&s->admin, cqe);
}

static void server_timer_expired(struct tw_timer *t, void *ctx)
{
    struct server *s = ctx;
    if (!admin_on_timer(&s->admin, t))
        log_error("main", "a timer fired that nobody owns", NULL);
}

static bool server_ready(void *ctx)
{
    const struct server *s = ctx;
    return !s->stopping;
}

static void server_render_metrics(void *ctx, FILE *out)
{
    const struct server *s = ctx;
    const struct gw_metrics *metrics[GW_WORKERS_MAX];
    for (unsigned i = 0; i < s->worker_count; i++)
        metrics[i] = s->workers[i].metrics;
    gw_metrics_render(out, metrics, s->worker_count);
    gw_metrics_render_mailbox(out, &s->grid);
    struct ip_limit_stats stats;
    if (s->ip_limit != NULL)
        ip_limit_stats(s->ip_limit, &stats);
    gw_metrics_render_ip_limit(out, s->ip_limit != NULL ? &stats : NULL);
    gw_tls_render_metrics(out, s->tls);
    const struct pg_writer_metrics *writers[GW_WORKERS_MAX];
    const struct pg_reader_metrics *readers[GW_WORKERS_MAX];
    bool any_writer = false;
    for (unsigned i = 0; i < s->worker_count; i++) {
        const struct pg_writer *pw = s->workers[i].pg; /* set before the worker started */
        const struct pg_reader *pr = s->workers[i].pg_reader;
        writers[i] = pw != NULL ? &pw->metrics : NULL;
        readers[i] = pr != NULL ? &pr->metrics : NULL;
        any_writer = any_writer || pw != NULL;
    }
    if (any_writer)
        gw_storage_render_metrics(out, writers, readers, s->worker_count);
    const struct user_status_metrics *status[GW_WORKERS_MAX];
    bool any_status = false;
    for (unsigned i = 0; i < s->worker_count; i++) {
        status[i] = s->workers[i].status_metrics; /* set before the worker started */
        any_status = any_status || status[i] != NULL;
    }
    if (any_status)
        gw_user_status_render_metrics(out, status, s->worker_count);
}

static void server_close_fds(const int *fds, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Opens one SO_REUSEPORT socket per worker on `addr`; with port 0 the first socket's port is
 * reused for the others. Returns 0, or -1 with `err` after closing what it opened. */
static int server_open_reuseport(struct server *s, const struct config_addr *addr, int *fds,
                                 struct config_addr *bound, char err[LISTENER_ERROR_BYTES])
{
    *bound = *addr;
    for (unsigned i = 0; i < s->worker_count; i++) {
        fds[i] = listener_open((struct sockaddr *)&bound->addr, bound->addr_len, true,
                               (int)s->opts->listen_backlog, err);
        if (fds[i] < 0) {
            server_close_fds(fds, i);
            return -1;
        }
        if (i == 0 && listener_local_addr(fds[0], &bound->addr, &bound->addr_len) != 0) {
            snprintf(err, LISTENER_ERROR_BYTES, "getsockname on the listener failed: %s",
                     strerror(errno));
            close(fds[0]);
            return -1;
        }
    }
    config_addr_format((struct sockaddr *)&bound->addr, bound->text, sizeof bound->text);
    return 0;
}

/* The public WebSocket listeners. Returns 0, or -1 after logging. */
static int server_open_listeners(struct server *s, int *fds, struct config_addr *bound)
{
    char err[LISTENER_ERROR_BYTES];
    if (server_open_reuseport(s, &s->opts->listen, fds, bound, err) == 0)
        return 0;
    log_error("main", "cannot open the WebSocket listener", "error=\"%s\"", err);
    return -1;
}

/* The wss listeners (docs/tls.md), or every fd -1 when TLS is off. Returns 0, or -1 after
 * logging. */
static int server_open_tls(struct server *s, int *fds, struct config_addr *bound)
{
    char err[LISTENER_ERROR_BYTES];
    if (!s->tls->on) {
        for (unsigned i = 0; i < s->worker_count; i++)
            fds[i] = -1;
        return 0;
    }
    if (server_open_reuseport(s, &s->opts->tls_listen, fds, bound, err) == 0)
        return 0;
    log_error("main", "cannot open the wss listener (tls_listen)", "error=\"%s\"", err);
    return -1;
}

/* The server API's listeners (docs/api.md 1), or every fd -1 when no api_keys are set.
 * Returns 0, or -1 after logging. */
static int server_open_api(struct server *s, int *fds, struct config_addr *bound)
{
    char err[LISTENER_ERROR_BYTES];
    if (s->opts->api_keys.count == 0) {
        for (unsigned i = 0; i < s->worker_count; i++)
            fds[i] = -1;
        log_info("main", "server API off: no api_keys configured", NULL);
        return 0;
    }
    if (server_open_reuseport(s, &s->opts->api_listen, fds, bound, err) == 0)
        return 0;
    log_error("main", "cannot open the server API listener", "error=\"%s\"", err);
    return -1;
}

static int server_open_admin(struct server *s, struct config_addr *bound)
{
    char err[LISTENER_ERROR_BYTES];
    *bound = s->opts->admin_listen;
    int fd = listener_open((struct sockaddr *)&bound->addr, bound->addr_len, false, 64, err);
    if (fd < 0) {
        log_error("main", "cannot open the admin listener", "error=\"%s\"", err);
        return -1;
    }
    if (listener_local_addr(fd, &bound->addr, &bound->addr_len) != 0) {
        close(fd);
        return -1;
    }
    config_addr_format((struct sockaddr *)&bound->addr, bound->text, sizeof bound->text);
    return fd;
}

static unsigned server_worker_count(const struct gw_options *o)
{
    if (o->workers != 0)
        return (unsigned)o->workers;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return 1;
    return cpus > GW_WORKERS_MAX ? GW_WORKERS_MAX : (unsigned)cpus;
}

static int server_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    signal(SIGPIPE, SIG_IGN); /* sends use MSG_NOSIGNAL; this covers every other write */
    return pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Starts the workers one by one; each takes its listeners. Returns 0 or -1 (logged). */
static int server_start_workers(struct server *s, int *fds, int *tls_fds, int *api_fds)
{
    for (unsigned i = 0; i < s->worker_count; i++) {
        struct worker *w = &s->workers[i];
        if (worker_start(w, i, &s->shared, fds[i], tls_fds[i], api_fds[i]) != 0 ||
            worker_wait_started(w) != 0) {
            log_error("main", "a worker failed to start", "worker=%u error=\"%s\"", i,
                      w->start_error);
            if (atomic_load(&w->started) < 0) {
                worker_join(w);
            } else {
                close(fds[i]);
                server_close_fds(&tls_fds[i], 1);
                server_close_fds(&api_fds[i], 1);
            }
            server_close_fds(fds + i + 1, s->worker_count - i - 1);
            server_close_fds(tls_fds + i + 1, s->worker_count - i - 1);
            server_close_fds(api_fds + i + 1, s->worker_count - i - 1);
            return -1;
        }
        s->workers_started++;
    }
    return 0;
}

static int server_init_loop(struct server *s, int admin_fd, const sigset_t *signals)
{
    char err[LOOP_ERROR_BYTES];
    struct loop_params params = {
        .sq_entries = SERVER_SQ_ENTRIES,
        .cq_entries = SERVER_CQ_ENTRIES,
        .dispatch = server_dispatch,
        .flush = NULL,
        .timer_expire = server_timer_expired,
        .ctx = s,
    };
    if (loop_init(&s->loop, &params, err) != 0) {
        log_error("main", "cannot create the server loop", "error=\"%s\"", err);
        return -1;
    }
    s->signal_fd = signalfd(-1, signals, SFD_CLOEXEC);
    if (s->signal_fd < 0) {
        log_error("main", "signalfd failed", "error=\"%s\"", strerror(errno));
        loop_destroy(&s->loop);
        return -1;
    }
    server_arm_signal(s);
    struct admin_hooks hooks = {
        .ready = server_ready, .render_metrics = server_render_metrics, .ctx = s};
    admin_start(&s->admin, &s->loop, admin_fd, &hooks);
    return 0;
}

static void server_serve(struct server *s)
{
    bool admin_stopped = false;
    for (;;) {
        int ret = loop_run_once(&s->loop, SERVER_WAIT_MAX_MS);
        if (ret < 0) {
            log_error("main", "io_uring_enter failed on the server loop", "error=\"%s\"",
                      strerror(-ret));
            server_begin_stop(s, "loop_error");
        }
        if (!s->stopping)
            continue;
        bool workers_done = true;
        for (unsigned i = 0; i < s->worker_count; i++)
            workers_done = workers_done && atomic_load(&s->workers[i].exited);
        if (workers_done && !admin_stopped) {
            admin_stop(&s->admin);
            admin_stopped = true;
        }
        if (admin_stopped && admin_idle(&s->admin))
            return;
    }
}

static void server_policy_init(struct server *s)
{
    const struct gw_options *o = s->opts;
    s->policy.allowed_origins = (const char *const *)o->allowed_origins.items;
    s->policy.allowed_origin_count = o->allowed_origins.count;
    s->policy.origin_required = false;
    s->policy.subprotocols = (const char *const *)o->subprotocols.items;
    s->policy.subprotocol_count = o->subprotocols.count;
    s->policy.subprotocol_required = false;
}

/* A seed for the per-IP table's hash, so a client cannot aim its addresses at one shard. */
static uint64_t server_random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) == (ssize_t)sizeof seed)
        return seed;
    log_warn("main", "getrandom failed; seeding the per-IP table from the clock", "error=\"%s\"",
             strerror(errno));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return ((uint64_t)now.tv_sec * 1000000007u) ^ (uint64_t)now.tv_nsec ^ (uint64_t)getpid();
}

/* The edge's shared state (docs/edge.md): the trusted ranges and the per-IP table. Returns 0,
 * or -1 after logging. */
static int server_edge_init(struct server *s)
{
    const struct gw_options *o = s->opts;
    if (o->proxy_protocol != PROXY_MODE_OFF) {
        char err[CIDR_ERROR_BYTES];
        s->trusted = malloc(sizeof *s->trusted);
        if (s->trusted == NULL || !cidr_list_from_items((const char *const *)o->proxy_trusted.items,
                                                        o->proxy_trusted.count, s->trusted, err)) {
            log_error("main", "cannot use proxy_trusted", "error=\"%s\"",
                      s->trusted == NULL ? "out of memory" : err);
            return -1;
        }
        s->shared.proxy_trusted = s->trusted;
    }
    struct ip_limit_config limits = {
        .connections_max = (uint32_t)o->max_connections_per_ip,
        .new_connections = {.rate_per_s = (uint32_t)o->new_connections_per_ip_per_s,
                            .burst = (uint32_t)o->new_connections_per_ip_burst},
        .ipv6_prefix_bits = (uint32_t)o->ip_limit_ipv6_prefix_bits,
        .addresses_max = (uint32_t)o->ip_limit_tracked_max,
        .hash_seed = server_random_seed(),
    };
    if (!ip_limit_enabled(&limits))
        return 0;
    s->ip_limit = ip_limit_create(&limits);
    if (s->ip_limit == NULL) {
        log_error("main", "out of memory for the per-IP limits",
                  "ip_limit_tracked_max=%llu hint=\"lower ip_limit_tracked_max\"",
                  (unsigned long long)o->ip_limit_tracked_max);
        return -1;
    }
    s->shared.ip_limit = s->ip_limit;
    return 0;
}

/* With every worker stopped. */
static void server_edge_free(struct server *s)
{
    if (s->ip_limit != NULL)
        ip_limit_destroy(s->ip_limit);
    free(s->trusted);
    s->ip_limit = NULL;
    s->trusted = NULL;
}

static void server_discard_item(void *ctx, unsigned from, void *item)
{
    (void)ctx;
    (void)from;
    hub_item_discard(item);
}

/* With every worker stopped: frees what was still on its way between them. */
static void server_grid_free(struct server *s)
{
    size_t left = mailbox_grid_drain(&s->grid, server_discard_item, NULL);
    if (left > 0)
        log_debug("main", "discarded items still queued between workers", "items=%zu", left);
    mailbox_grid_destroy(&s->grid);
}

/* Start-up failed after some workers started: stop them (each notices stop_requested
 * within a loop turn) and free what the server holds. */
static void server_abort_start(struct server *s)
{
    s->stopping = true;
    for (unsigned i = 0; i < s->workers_started; i++) {
        atomic_store(&s->workers[i].stop_requested, true);
        worker_join(&s->workers[i]);
    }
    free(s->workers);
    server_grid_free(s);
    server_edge_free(s);
}

int server_run(const struct gw_options *opts, const struct gw_auth *auth, struct gw_tls *tls,
               const struct server_reload *reload)
{
    char err[LOOP_ERROR_BYTES];
    if (loop_probe(err) != 0) {
        log_error("main", "this system cannot run tidegate", "error=\"%s\"", err);
        return 1;
    }
    struct server s = {.opts = opts, .auth = auth, .tls = tls, .signal_fd = -1};
    if (reload != NULL)
        s.reload = *reload;
    s.worker_count = server_worker_count(opts);
    server_policy_init(&s);
    s.shared.opts = opts;
    s.shared.policy = &s.policy;
    s.shared.jwt_keys = &auth->keys;
    s.shared.jwt_policy = &auth->policy;
    s.shared.grid = &s.grid;
    s.shared.tls = tls->on ? &tls->current : NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    s.shared.started_at_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    if (server_edge_init(&s) != 0) {
        server_edge_free(&s);
        return 1;
    }
    if (mailbox_grid_init(&s.grid, s.worker_count, (unsigned)opts->mailbox_ring_slots,
                          (size_t)opts->mailbox_overflow_max) != 0) {
        log_error("main", "out of memory for the mailboxes between workers", NULL);
        server_edge_free(&s);
        return 1;
    }
    sigset_t signals;
    int fds[GW_WORKERS_MAX], tls_fds[GW_WORKERS_MAX], api_fds[GW_WORKERS_MAX];
    struct config_addr ws_addr, wss_addr, admin_addr, api_addr;
    s.workers = calloc(s.worker_count, sizeof *s.workers);
    if (s.workers == NULL || server_block_signals(&signals) != 0 ||
        server_open_listeners(&s, fds, &ws_addr) != 0) {
        free(s.workers);
        mailbox_grid_destroy(&s.grid);
        server_edge_free(&s);
        return 1;
    }
    if (server_open_tls(&s, tls_fds, &wss_addr) != 0) {
        server_close_fds(fds, s.worker_count);
        free(s.workers);
        mailbox_grid_destroy(&s.grid);
        server_edge_free(&s);
        return 1;
    }
    if (server_open_api(&s, api_fds, &api_addr) != 0) {
        server_close_fds(fds, s.worker_count);
        server_close_fds(tls_fds, s.worker_count);
        free(s.workers);
        mailbox_grid_destroy(&s.grid);
        server_edge_free(&s);
        return 1;
    }
    int admin_fd = server_open_admin(&s, &admin_addr);
    if (admin_fd < 0 || server_start_workers(&s, fds, tls_fds, api_fds) != 0) {
        if (admin_fd >= 0) {
            close(admin_fd);
        } else {
            server_close_fds(fds, s.worker_count);
            server_close_fds(tls_fds, s.worker_count);
            server_close_fds(api_fds, s.worker_count);
        }
        server_abort_start(&s);
        return 1;
    }
    if (server_init_loop(&s, admin_fd, &signals) != 0) {
        close(admin_fd);
        server_abort_start(&s);
        return 1;
    }
    log_info("main", "listening", "kind=ws addr=%s workers=%u proxy_protocol=%s", ws_addr.text,
             s.worker_count, proxy_mode_names[opts->proxy_protocol]);
    if (tls->on) {
        log_info("main", "listening", "kind=wss addr=%s tls_min_version=%s tickets=%s",
                 wss_addr.text, gw_tls_versions[opts->tls_min_version],
                 opts->tls_tickets ? "on" : "off");
        gw_tls_log_certificates(tls);
    }
    log_info("main", "listening", "kind=admin addr=%s", admin_addr.text);
    if (opts->api_keys.count > 0)
        log_info("main", "listening", "kind=api addr=%s", api_addr.text);
    log_info("main", "ready", "version=%s echo=%s", TIDEGATE_VERSION, opts->echo ? "on" : "off");
    server_serve(&s);
    for (unsigned i = 0; i < s.worker_count; i++)
        worker_join(&s.workers[i]);
    close(s.signal_fd);
    loop_destroy(&s.loop);
    free(s.workers);
    server_grid_free(&s);
    server_edge_free(&s);
    log_info("main", "stopped", NULL);
    return 0;
}
