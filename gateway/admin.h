/* The admin listener: a small HTTP/1.1 server on its own port (loopback by default) for
 * operators and scrapers: GET /healthz, /readyz, /metrics. One request per connection
 * (Connection: close), bounded request size and time, so a stuck scraper costs nothing.
 *
 * It runs on the server thread's loop, never on a worker: a scrape never delays a message.
 */
#ifndef TIDEGATE_GATEWAY_ADMIN_H
#define TIDEGATE_GATEWAY_ADMIN_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/loop.h"

/* Tags the admin uses on the server loop (the server keeps the others). */
enum admin_op_tag {
    ADMIN_OP_ACCEPT = 1, /* owner: struct admin */
    ADMIN_OP_RECV = 2,   /* owner: struct admin_conn */
    ADMIN_OP_SEND = 3,   /* owner: struct admin_conn */
};

enum {
    ADMIN_REQUEST_BYTES_MAX = 4096,
    ADMIN_CONNS_MAX = 64,
    ADMIN_DEADLINE_MS = 10000,
    ADMIN_ACCEPT_RETRY_MS = 100,
};

/* What the admin asks of the server it belongs to. */
struct admin_hooks {
    bool (*ready)(void *ctx);                     /* /readyz: true when serving */
    void (*render_metrics)(void *ctx, FILE *out); /* /metrics body */
    void *ctx;
};

struct admin_conn;

struct admin {
    struct loop *loop; /* the server thread's loop; not owned */
    struct admin_hooks hooks;
    int listen_fd; /* owned */
    bool accept_armed;
    struct tw_timer accept_retry; /* re-arms accept after EMFILE and the like */
    struct admin_conn *conns;     /* open admin connections (doubly linked) */
    size_t conn_count;            /* at most ADMIN_CONNS_MAX; more are closed at once */
};

/* Starts accepting on `listen_fd` (ownership passes to the admin). */
void admin_start(struct admin *a, struct loop *loop, int listen_fd,
                 const struct admin_hooks *hooks);

/* Handles a completion whose tag is one of enum admin_op_tag. */
void admin_dispatch(struct admin *a, const struct io_uring_cqe *cqe);

/* Returns true and handles the timer when `t` belongs to an admin connection. */
bool admin_on_timer(struct admin *a, struct tw_timer *t);

/* Stops accepting and closes every connection; completions still in flight find their
 * connections marked closed and free them. Call admin_idle to know when that is done. */
void admin_stop(struct admin *a);
bool admin_idle(const struct admin *a);

#endif
