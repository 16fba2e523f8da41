/* One hiredis asynchronous connection to Redis, driven by the owning thread's io_uring.
 *
 * hiredis does the protocol and its own non-blocking reads and writes; it asks for socket
 * readiness through its event hooks (ev.addRead/delRead/addWrite/delWrite/cleanup), which
 * this file maps onto one-shot IORING_OP_POLL_ADD requests on the worker's loop. Nothing
 * here blocks, provided the URL names an IP address or a unix socket (redis_url.h).
 *
 * What the caller gets:
 *   - Commands (argv form, binary-safe) are sent at once, pipelined, and answered in order
 *     through a per-command callback, exactly once, always from the loop (never from inside
 *     redis_conn_command).
 *   - Redis away never stalls the caller: while there is no link, a command is refused at
 *     once (REDIS_REFUSED_DOWN, counted); at most `pending_max` commands wait for answers
 *     (the next is refused, REDIS_REFUSED_FULL, counted). The caller degrades.
 *   - A command unanswered for `command_timeout_ms` means a dead or hung server: the link is
 *     dropped, that command (and any other past its deadline) is answered TIMEOUT, the rest
 *     UNAVAILABLE (their outcome is unknown: they may or may not have run).
 *   - The link reconnects by itself: a failed attempt or a lost link waits a backoff that
 *     doubles from backoff_min_ms to backoff_max_ms with jitter (so many workers do not
 *     reconnect in step); the backoff resets only when the owner says the link works
 *     (redis_conn_proven), so a server that accepts links and refuses the owner's setup is
 *     not hammered.
 *   - An attempt is: TCP (or unix) connect, AUTH and SELECT when the URL asks for them, and a
 *     PING; all within `connect_timeout_ms`. Only then is the link up and `up` called.
 *
 * The owner (user_status.c) sees `up` (queue setup commands first: they go before anything
 * else on the new link) and `down` (the link is gone or an attempt failed), always from the
 * loop, never from inside a reply callback.
 *
 * io_uring bookkeeping: each poll's user_data is loop_udata(&conn->rd or &conn->wr, tag); the
 * worker's dispatch passes completions with that tag to redis_conn_dispatch. The timer is
 * conn->timer on the loop's wheel; the wheel's expiry callback offers it to
 * redis_conn_on_timer. A new link never starts while a poll of the old one is in flight.
 *
 * Single-threaded: everything runs on the thread that owns `loop`.
 */
#ifndef TIDEGATE_STORAGE_REDIS_CONN_H
#define TIDEGATE_STORAGE_REDIS_CONN_H

#include <hiredis/async.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "storage/pg_metrics.h"
#include "storage/redis_url.h"

enum {
    REDIS_CONN_ERROR_BYTES = 256,
    REDIS_CONN_PENDING_MAX = 65536, /* the largest pending_max accepted */
    REDIS_CONN_ARGS_MAX = 64,       /* arguments of one command */
};

/* Connection states (the `state` gauge): 0 down (waiting to retry), 1 connecting (connect
 * and handshake), 2 up, 3 closed (stopped for good). */
enum redis_conn_state { REDIS_CONN_DOWN, REDIS_CONN_CONNECTING, REDIS_CONN_UP, REDIS_CONN_CLOSED };
const char *redis_conn_state_name(enum redis_conn_state state);

/* How a command ended; exactly one per accepted command. */
enum redis_status {
    REDIS_STATUS_REPLY,       /* `reply` is Redis's answer (not an error reply) */
    REDIS_STATUS_ERROR,       /* `reply` is an error reply (reply->str says what) */
    REDIS_STATUS_TIMEOUT,     /* no answer within command_timeout_ms; the link was dropped */
    REDIS_STATUS_UNAVAILABLE, /* the link was lost before the answer; outcome unknown */
    REDIS_STATUS_CANCELLED,   /* redis_conn_close */
};
const char *redis_status_name(enum redis_status status);

/* Why redis_conn_command refused a command (0 = accepted). */
enum redis_refusal {
    REDIS_ACCEPTED = 0,
    REDIS_REFUSED_DOWN = -1,  /* no link (down, connecting or closed) */
    REDIS_REFUSED_FULL = -2,  /* pending_max commands are waiting for answers */
    REDIS_REFUSED_NOMEM = -3, /* hiredis could not format the command */
};

/* `reply` is NULL unless status is REPLY or ERROR; it belongs to hiredis and is valid only
 * during the call. The callback may send more commands and may call redis_conn_fail (taken
 * up when hiredis returns); it must not call redis_conn_close. */
typedef void (*redis_reply_fn)(void *ctx, enum redis_status status, const redisReply *reply);

struct redis_conn_ops {
    void (*up)(void *owner);
    void (*down)(void *owner, const char *why); /* not called for redis_conn_close */
};

struct redis_conn_params {
    const char *name;            /* for logs ("status"); a static string */
    const char *url;             /* redis_url.h; parsed and kept */
    uint32_t connect_timeout_ms; /* one attempt: connect, AUTH, SELECT, PING */
    uint32_t command_timeout_ms; /* a command unanswered this long drops the link */
    uint32_t backoff_min_ms;     /* first wait after a failure */
    uint32_t backoff_max_ms;     /* the doubling stops here */
    uint32_t pending_max;        /* commands sent and not yet answered, 1..65536 */
};

/* Fills the defaults: 1000 / 1000 / 100 / 5000 ms, 4096 pending. */
void redis_conn_params_defaults(struct redis_conn_params *p);

struct redis_conn_metrics {
    _Atomic uint64_t state;               /* enum redis_conn_state */
    _Atomic uint64_t connects_total;      /* links that answered the handshake */
    _Atomic uint64_t connect_failures;    /* attempts that failed or timed out */
    _Atomic uint64_t disconnects_total;   /* links lost after being up */
    _Atomic uint64_t commands_total;      /* accepted */
    _Atomic uint64_t replies_total;       /* answered by Redis (error replies included) */
    _Atomic uint64_t error_replies_total; /* answered with an error reply */
    _Atomic uint64_t timeouts_total;      /* answered TIMEOUT */
    _Atomic uint64_t unavailable_total;   /* answered UNAVAILABLE (lost with their link) */
    _Atomic uint64_t refused_down_total;  /* refused at once: no link */
    _Atomic uint64_t refused_full_total;  /* refused at once: pending_max reached */
    _Atomic uint64_t pending;             /* gauge: sent, not yet answered */
    _Atomic uint64_t pending_max;
    struct pg_hist latency_us; /* sent -> answered (replies only) */
};

/* The owner of one poll operation: the connection has one for reading, one for writing. */
struct redis_poll {
    struct redis_conn *conn;
    bool armed;  /* in flight (a cancelled poll stays armed until its completion arrives) */
    bool wanted; /* hiredis asked for it (addRead/addWrite) and has not taken it back */
    bool write;
};

/* One command waiting for its answer: a slot of the ring. */
struct redis_cmd {
    redis_reply_fn fn; /* NULL: the handshake's own (AUTH, SELECT, PING) */
    void *ctx;
    uint64_t sent_ms;
    uint64_t deadline_ms;
};

struct redis_conn {
    struct redis_poll rd, wr;
    redisAsyncContext *ac; /* NULL unless connecting or up; hiredis frees it */
    int fd;                /* ac's socket while ac is set */
    struct loop *loop;
    unsigned tag;
    const struct redis_conn_ops *ops;
    void *owner;
    const char *name;
    struct redis_url url;
    uint32_t connect_timeout_ms, command_timeout_ms, backoff_min_ms, backoff_max_ms;
    uint32_t backoff_ms; /* the next wait */
    uint32_t failures;   /* failed attempts and unproven links in a row (logs at powers of 2) */
    enum redis_conn_state state;
    /* The ring of commands awaiting answers, in the order hiredis will answer them. */
    struct redis_cmd *cmds; /* owned; cmds_cap = pending_max + the handshake's 3 */
    uint32_t cmds_cap, cmds_head, cmds_count, pending_max;
    uint32_t handshake_left; /* handshake commands not yet answered */
    bool dying;              /* the link is being torn down: refuse commands */
    bool timing_out;         /* ... because a command passed its deadline */
    bool closing;            /* ... because of redis_conn_close */
    bool freeing;            /* we called redisAsyncFree (our reason is in `error`) */
    bool in_hiredis;         /* inside a call into hiredis: teardown waits until it returns */
    bool fail_pending;       /* redis_conn_fail asked from inside hiredis */
    bool handshake_done;     /* the PING was answered (taken up when hiredis returns) */
    bool tcp_connected;      /* for the error message of a timed-out attempt */
    bool start_pending;      /* the backoff ended while an old poll was still in flight */
    struct tw_timer timer;   /* backoff, connect deadline, or the oldest command's deadline */
    uint64_t rng;            /* backoff jitter */
    struct redis_conn_metrics *metrics; /* not owned */
    char error[REDIS_CONN_ERROR_BYTES]; /* why the last attempt or link failed, one line */
};

/* Parses the URL, allocates the ring and starts the first attempt (its failure is reported
 * through `down` like any other). Returns 0, or -1 with `err` saying why (a bad URL, bad
 * limits, out of memory). `metrics` must outlive the connection; its histogram is set up
 * here. */
int redis_conn_init(struct redis_conn *c, struct loop *loop, unsigned tag,
                    const struct redis_conn_params *params, const struct redis_conn_ops *ops,
                    void *owner, struct redis_conn_metrics *metrics,
                    char err[REDIS_CONN_ERROR_BYTES]);

/* Sends one command: argv[i] of argvlen[i] bytes (binary-safe), argc 1..REDIS_CONN_ARGS_MAX.
 * Returns REDIS_ACCEPTED (fn will be called exactly once, from the loop) or a refusal (fn is
 * never called). Never blocks and never waits for a link. */
enum redis_refusal redis_conn_command(struct redis_conn *c, int argc, const char *const *argv,
                                      const size_t *argvlen, redis_reply_fn fn, void *ctx);

/* True when a command would be accepted now (up, with room). */
bool redis_conn_ready(const struct redis_conn *c);

/* A completion whose user_data carries the connection's tag; `poll` is its owner pointer. */
void redis_conn_dispatch(void *poll, const struct io_uring_cqe *cqe);

/* True when `t` is this connection's timer (then it has been handled). */
bool redis_conn_on_timer(struct redis_conn *c, struct tw_timer *t);

/* Gives up the current link (the owner then sees `down` with `why`; every command waiting
 * is answered UNAVAILABLE), then the backoff runs. For an owner whose setup was refused. */
void redis_conn_fail(struct redis_conn *c, const char *why);

/* Tells the connection its link works (the owner's setup succeeded): the next failure
 * starts the backoff from backoff_min_ms again, and logs at once. */
void redis_conn_proven(struct redis_conn *c);

/* Closes the link for good: commands waiting are answered CANCELLED (from this call), no
 * `down`, no reconnect. Not from inside a reply callback. Polls still in flight are
 * cancelled; the struct must stay in memory until redis_conn_busy is false or the loop is
 * destroyed. */
void redis_conn_close(struct redis_conn *c);

static inline bool redis_conn_busy(const struct redis_conn *c)
{
    return c->rd.armed || c->wr.armed;
}

/* Releases the ring; after redis_conn_close (asserted). */
void redis_conn_free(struct redis_conn *c);

#endif
