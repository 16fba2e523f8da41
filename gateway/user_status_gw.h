/* The worker's side of Redis user status (storage/user_status.h, docs/storage.md): with
 * redis_url set, each worker runs one struct user_status on its loop, with its own Redis
 * link. Sessions count their users' connections in it (session.c), the server API reads it
 * (api_user_status.c), /metrics renders its counters (user_status_metrics.c).
 *
 * Life: built by worker_setup, ended when the worker could exit (the incarnation leaves
 * Redis once every connection has closed and been written), destroyed at teardown before
 * the connections and API connections that still wait are freed, freed by worker_join
 * (the server thread reads the metrics until then). Redis slow or gone never holds the
 * worker: the leave is waited for at most GW_USER_STATUS_LEAVE_MS.
 */
#ifndef TIDEGATE_GATEWAY_USER_STATUS_GW_H
#define TIDEGATE_GATEWAY_USER_STATUS_GW_H

#include <stdbool.h>

#include "gateway/worker.h"
#include "storage/user_status.h"

enum {
    GW_USER_STATUS_LEAVE_MS = 1000, /* a stopping worker waits this long for Redis at most */
};

/* With redis_url: builds w->status and w->status_metrics and starts the link (tag
 * WORKER_OP_REDIS). Without: nothing. Returns 0, or -1 with w->start_error. */
int gw_user_status_start(struct worker *w);

/* The worker could exit (every connection closed): ends its incarnation in Redis the first
 * time, then says whether Redis answered everything sent (or the wait is over). True at
 * once without redis_url. */
bool gw_user_status_stopped(struct worker *w);

/* Closes the link and drops what is in flight without callbacks (teardown; also a failed
 * setup). Afterwards gw_user_status_of answers NULL. */
void gw_user_status_close(struct worker *w);

/* Frees what gw_user_status_start allocated (worker_join, after the thread ended). */
void gw_user_status_free(struct worker *w);

/* The worker's user status, or NULL when redis_url is not set or it was closed. */
static inline struct user_status *gw_user_status_of(const struct worker *w)
{
    return w->status_live ? w->status : NULL;
}

#endif
