/* One non-blocking libpq connection in pipeline mode, driven by the owning thread's io_uring:
 * readiness of PQsocket comes from one-shot IORING_OP_POLL_ADD operations, and libpq does
 * its own non-blocking reads and writes when told the socket is ready. Nothing here blocks,
 * provided the connection string names hosts by address or a unix socket directory (a host
 * *name* makes PQconnectStart call getaddrinfo, which may block: resolve names before).
 *
 * The connection reconnects by itself: a failed attempt or a lost link waits a backoff that
 * doubles from backoff_min_ms to backoff_max_ms (with jitter), then tries again. Its owner
 * (the batch writer, the reader) sees three events, in this order per link:
 *   up      the link is ready (pipeline mode, non-blocking): queue the setup commands;
 *   result  one result of the commands the owner queued, in order (never the NULLs that
 *           separate statements; PGRES_PIPELINE_SYNC ends each sync group);
 *   down    the link is gone, with every command not yet answered (their outcome is
 *           unknown), or an attempt to make one failed. Not called for pg_conn_close.
 * The owner queues commands with libpq's PQsend* functions on `pg` and ends each group with
 * pg_conn_sync. A sync group unanswered for reply_timeout_ms counts as a dead link.
 *
 * io_uring bookkeeping: each poll's user_data is loop_udata(&conn->rd or &conn->wr, tag); the
 * owner's dispatch passes completions with that tag to pg_conn_dispatch. The timer is
 * conn->timer on the loop's wheel; the wheel's expiry callback passes it to
 * pg_conn_on_timer. A new connection is never started while a poll of the previous one is
 * still in flight, so a completion always belongs to the socket it was armed on.
 *
 * Single-threaded: everything runs on the thread that owns `loop`.
 */
#ifndef TIDEGATE_STORAGE_PG_CONN_H
#define TIDEGATE_STORAGE_PG_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "storage/pg_metrics.h"

enum { PG_CONN_ERROR_BYTES = 256 };

struct pg_conn_ops {
    void (*up)(void *owner);
    void (*result)(void *owner, PGresult *res); /* `res` is cleared after the call */
    void (*down)(void *owner, const char *why);
};

struct pg_conn_params {
    const char *name;             /* for logs: "writer", "reader" (static string) */
    const char *conninfo;         /* libpq keyword/value string or URI; copied */
    const char *application_name; /* libpq fallback_application_name: how the link shows in
                                     pg_stat_activity unless conninfo sets application_name;
                                     copied; NULL for none */
    uint32_t connect_timeout_ms;  /* one attempt: TCP, TLS, startup and authentication */
    uint32_t reply_timeout_ms;    /* a sync group unanswered this long means a dead link */
    uint32_t backoff_min_ms;      /* first wait after a failure */
    uint32_t backoff_max_ms;      /* the doubling stops here */
};

/* The owner of one poll operation: the connection has one for reading, one for writing. */
struct pg_poll {
    struct pg_conn *conn;
    bool armed; /* in flight (a cancelled poll stays armed until its completion arrives) */
    bool write;
};

struct pg_conn {
    struct pg_poll rd, wr;
    PGconn *pg; /* NULL unless connecting or up */
    struct loop *loop;
    unsigned tag;
    const struct pg_conn_ops *ops;
    void *owner;
    const char *name;
    char *conninfo;         /* owned */
    char *application_name; /* owned; NULL for none */
    uint32_t connect_timeout_ms, reply_timeout_ms, backoff_min_ms, backoff_max_ms;
    uint32_t backoff_ms;             /* the next wait */
    uint32_t failures;               /* consecutive failed attempts or links that never answered */
    uint32_t syncs_pending;          /* sync groups sent and not yet answered */
    enum pg_conn_state state;        /* mirrored into metrics->state */
    bool start_pending;              /* the backoff ended while an old poll was still in flight */
    struct tw_timer timer;           /* backoff, connect deadline or reply deadline */
    uint64_t rng;                    /* backoff jitter */
    struct pg_conn_metrics *metrics; /* not owned */
    char error[PG_CONN_ERROR_BYTES]; /* why the last attempt or link failed, one line */
};

/* Checks and copies the connection string and starts the first attempt (its failure is
 * reported through `down` like any other). Returns 0, or -1 with `err` saying why (a
 * connection string libpq cannot parse, out of memory). `metrics` must outlive the
 * connection. */
int pg_conn_init(struct pg_conn *c, struct loop *loop, unsigned tag,
                 const struct pg_conn_params *params, const struct pg_conn_ops *ops, void *owner,
                 struct pg_conn_metrics *metrics, char err[PG_CONN_ERROR_BYTES]);

/* A completion whose user_data carries the connection's tag; `poll` is its owner pointer. */
void pg_conn_dispatch(void *poll, const struct io_uring_cqe *cqe);

/* True when `t` is this connection's timer (then it has been handled). */
bool pg_conn_on_timer(struct pg_conn *c, struct tw_timer *t);

static inline bool pg_conn_is_up(const struct pg_conn *c)
{
    return c->state == PG_CONN_UP;
}

/* Ends the sync group the owner has just queued with PQsend* and starts sending. A libpq
 * failure here fails the link (the owner then sees `down`). */
void pg_conn_sync(struct pg_conn *c);

/* Gives up the current link: the owner sees `down` with `why`, then the backoff runs. For
 * an owner that finds the link unusable (a PQsend* call failed, a reply made no sense). */
void pg_conn_fail(struct pg_conn *c, const char *why);

/* Tells the connection its link works (the owner's setup succeeded): the next failure
 * starts the backoff from backoff_min_ms again. Until then failures keep doubling it, so a
 * server that accepts links and then refuses the setup is not hammered. */
void pg_conn_proven(struct pg_conn *c);

/* Closes the link for good (no `down`, no reconnect). Polls still in flight are cancelled;
 * the struct must stay in memory until pg_conn_busy is false or the loop is destroyed. */
void pg_conn_close(struct pg_conn *c);

static inline bool pg_conn_busy(const struct pg_conn *c)
{
    return c->rd.armed || c->wr.armed;
}

/* Releases the copied connection string; after pg_conn_close (asserted). */
void pg_conn_free(struct pg_conn *c);

/* `text` (a libpq error message: several lines, a trailing newline) as one line in `out`. */
void pg_conn_one_line(char *out, size_t out_bytes, const char *text);

#endif
