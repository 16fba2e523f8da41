/* A worker: one pinned thread with its own io_uring loop, listening socket (SO_REUSEPORT),
 * provided receive buffers, connections and timers. Workers share nothing mutable; the
 * server thread talks to them only through atomics and MSG_RING wake-ups.
 */
#ifndef TIDEGATE_GATEWAY_WORKER_H
#define TIDEGATE_GATEWAY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bufring.h"
#include "core/loop.h"
#include "core/mailbox.h"
#include "core/outq.h"
#include "core/ws_handshake.h"
#include "gateway/api.h"
#include "gateway/hub.h"
#include "gateway/jwt.h"
#include "gateway/metrics.h"
#include "gateway/options.h"

struct cidr_list;
struct conn;
struct ip_limit;
struct send_ctx;
struct tls_current;
struct user_status;
struct user_status_metrics;

/* Tags of the worker's io_uring operations (loop_udata). */
enum worker_op_tag {
    WORKER_OP_REDIS = 0,      /* owner: struct redis_poll (storage/redis_conn.h): user status;
                                 0 is a tag like the others (the owner is never NULL) */
    WORKER_OP_ACCEPT = 1,     /* owner: struct worker */
    WORKER_OP_WAKE = 2,       /* owner: struct worker (MSG_RING: stop request or mailbox items) */
    WORKER_OP_RECV = 3,       /* owner: struct conn */
    WORKER_OP_SEND = 4,       /* owner: struct send_ctx */
    WORKER_OP_API = 5,        /* owner: struct api_op (gateway/api.h): the server API's I/O */
    WORKER_OP_ACCEPT_TLS = 6, /* owner: struct worker (the wss listener) */
    WORKER_OP_STORAGE = 7,    /* owner: struct pg_poll (storage/pg_conn.h): the batch writer */
};

/* What every worker reads and nobody writes once the workers run. */
struct worker_shared {
    const struct gw_options *opts;
    const struct ws_handshake_policy *policy;
    _Atomic uint64_t connections_open;     /* all workers, for max_connections */
    _Atomic uint64_t channels_open;        /* all workers, for max_channels */
    _Atomic uint64_t api_connections_open; /* all workers, for api_max_connections */
    uint64_t started_at_ms;                /* wall clock at start (the API's /api/info) */
    struct mailbox_grid *grid;             /* between every pair of workers (gateway/hub.h) */
    const struct jwt_keyset *jwt_keys;     /* client tokens (gateway/auth_keys.h) */
    const struct jwt_policy *jwt_policy;
    const struct cidr_list *proxy_trusted; /* proxy_trusted parsed; NULL when proxy_protocol
                                              is off */
    struct ip_limit *ip_limit; /* the per-IP limits (thread-safe); NULL when they are off */
    struct tls_current *tls;   /* the certificates new wss connections get (thread-safe);
                                  NULL when wss is off */
};

struct worker {
    unsigned index;
    int cpu; /* pinned core, or -1 when pinning failed */
    pthread_t thread;
    struct worker_shared *shared;
    struct gw_metrics *metrics; /* owned, 64-byte aligned */
    int listen_fd;              /* owned; -1 once closed */
    int tls_listen_fd;          /* owned: the wss listener; -1 when off or closed */

    /* Thread-owned state below: touched only by the worker thread while it runs. */
    struct loop loop;
    struct bufring recv_buffers;
    struct outq_pool outq_pool;
    struct conn *conns; /* every live connection (doubly linked) */
    uint64_t conn_count;
    struct conn *flush_list;      /* connections with output to submit this turn */
    struct send_ctx *send_free;   /* recycled send contexts */
    uint64_t send_ctx_count;      /* allocated (bounded by connections sending at once) */
    struct tw_timer accept_retry; /* re-arms accept after EMFILE and the like */
    struct hub hub;               /* channels: owned ones and local subscriptions */
    struct api_worker api;        /* the server API's listener and connections */
    uint64_t session_serial;      /* client ids */
    bool accept_armed;
    bool tls_accept_armed;
    bool stopping;
    bool exiting; /* left the loop: connections are freed whatever still refers to them */
    uint64_t stop_deadline_ms;

    /* PostgreSQL history (postgres_url set; else pg is NULL): the batch writer, stopped
     * when the worker is about to exit and destroyed at teardown. */
    struct pg_writer *pg;         /* owned; freed by worker_join (its metrics are read by
                                     the server thread until then) */
    struct pg_reader *pg_reader;  /* owned like pg: the channels' stored state at first touch */
    bool pg_stop_called;          /* pg_writer_stop was called */
    bool pg_stopped;              /* ... and its `stopped` came */
    bool pg_closing;              /* pg_writer_destroy runs: abandoned publishes get no reply */
    uint64_t pg_stop_deadline_ms; /* the exit waits for `stopped` until then */

    /* Redis user status (redis_url set; else NULL): gateway/user_status_gw.h. */
    struct user_status *status;                 /* owned; freed by worker_join */
    struct user_status_metrics *status_metrics; /* owned like status; read by the server thread */
    bool status_live;                           /* initialised and not yet destroyed */
    bool status_left;                           /* user_status_leave was called */
    uint64_t status_leave_deadline_ms;          /* the exit waits for Redis until then */

    /* The drain (worker_begin_stop): OPEN connections get their notice and 1001 one after
     * another, evenly over drain_window. */
    struct tw_timer drain_timer;
    struct conn *drain_next; /* next connection of the walk; conn.c moves it on when it
                                frees that one */
    uint64_t drain_start_ms; /* loop time the stop began */
    uint64_t drain_total;    /* connections OPEN when it began */
    uint64_t drain_done;     /* notified so far */

    /* Handover with the server thread. */
    _Atomic bool stop_requested;
    _Atomic int started; /* 0 starting, 1 running, -1 failed (see start_error) */
    _Atomic bool exited; /* the thread has finished; worker_join will not block */
    char start_error[LOOP_ERROR_BYTES];
};

/* Starts the worker thread on `listen_fd` and, unless they are -1 (off), the wss listener
 * `tls_fd` and the server API's `api_fd` (ownership of all three passes to the worker).
 * Returns 0 or -1 with w->start_error; the caller waits for w->started to leave 0
 * (worker_wait_started). */
int worker_start(struct worker *w, unsigned index, struct worker_shared *shared, int listen_fd,
                 int tls_fd, int api_fd);

/* Blocks until the worker has either started (0) or failed (-1, w->start_error). */
int worker_wait_started(struct worker *w);

/* Asks the worker to stop: listeners close, connections still handshaking are closed, and
 * OPEN ones get `disconnect` and 1001 spread over drain_window; then it exits (at the latest
 * drain_window + close_timeout later). `waker` is the caller's loop, used to send the
 * MSG_RING wake-up. */
void worker_request_stop(struct worker *w, struct loop *waker);

/* Joins the thread and frees what the worker owns. */
void worker_join(struct worker *w);

#endif
