/* User status across the nodes of a cluster, kept in Redis: whether a user is online, how
 * many connections they hold, when they were last seen, and an optional cluster-wide limit
 * on their connections.
 *
 * One `struct user_status` per worker, on that worker's loop, with its own Redis link
 * (redis_conn.h). The worker is one *incarnation* in Redis: `instance` (node and worker)
 * plus a random suffix, registered with an expiry that a heartbeat pushes forward. Each
 * incarnation writes, per user, the number of connections it holds; a reader sums the
 * counts of the incarnations that have not expired. So a node that crashes stops counting
 * `ttl_ms` after its last heartbeat at the latest, without anyone deleting anything; the
 * sweep (every heartbeat, by every node) then removes the dead counts for good. Keys, TTLs
 * and scripts: docs/storage.md (Redis) and user_status_lua.h.
 *
 * The worker's own count is the truth, Redis a copy of it: every change is written as the
 * absolute count (idempotent), a write that fails is written again, and every new link
 * to Redis starts a new incarnation (ending the previous one) and rewrites every user the
 * worker holds. So an outage, a Redis restart that lost the data, or a FLUSHALL heals by
 * itself. Users who left during an outage read as offline once the link is back, last seen
 * when the old incarnation ended (it expired, or the new one replaced it).
 *
 * Redis down never holds a connection up: user_status_connect answers at once (allowed,
 * counted as unchecked) whenever Redis cannot be asked now; a limit check waits for Redis
 * only while the link is up, for at most the command timeout. user_status_get is refused at
 * once while Redis is away (the caller answers "unavailable").
 *
 * Single-threaded: everything runs on the thread that owns `loop`.
 */
#ifndef TIDEGATE_STORAGE_USER_STATUS_H
#define TIDEGATE_STORAGE_USER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hmap.h"
#include "storage/redis_conn.h"
#include "storage/user_status_lua.h"

enum {
    USER_STATUS_USER_BYTES_MAX = 128,    /* a user id (JWT `sub`, API user_id) */
    USER_STATUS_INSTANCE_BYTES_MAX = 64, /* `instance` */
    USER_STATUS_PREFIX_BYTES_MAX = 64,   /* `key_prefix` */
    USER_STATUS_INC_BYTES = USER_STATUS_INSTANCE_BYTES_MAX + 18, /* instance#16hex + NUL */
};

struct user_status_params {
    struct redis_conn_params redis; /* url and the link's timeouts and limits */
    const char *instance;          /* this worker in the cluster, e.g. "gw-a:8080/0": 1..64 bytes */
    const char *key_prefix;        /* "tidegate:" by default; one per cluster */
    uint32_t ttl_ms;               /* a silent incarnation's counts stop counting after this */
    uint32_t heartbeat_ms;         /* heartbeat, sweep and retry period; below ttl_ms / 2 */
    uint64_t seen_ttl_ms;          /* how long `last seen` is kept after the last connection */
    uint32_t max_connections;      /* per user, across the cluster; 0 = no limit */
    uint32_t sweep_batch;          /* dead counts removed per sweep */
    uint32_t rewrite_inflight_max; /* rewrites in flight at once (a resync's pace) */
};

/* Fills the defaults: redis_conn_params_defaults, key_prefix "tidegate:", ttl_ms 30000,
 * heartbeat_ms 10000, seen_ttl_ms 30 days, no limit, sweep_batch 1000,
 * rewrite_inflight_max 1024. `redis.url` and `instance` have no default. */
void user_status_params_defaults(struct user_status_params *p);

struct user_status_metrics {
    struct redis_conn_metrics redis;
    _Atomic uint64_t connects_total; /* user_status_connect calls counted */
    _Atomic uint64_t disconnects_total;
    _Atomic uint64_t limit_checks_total;  /* limit checks sent to Redis */
    _Atomic uint64_t limit_refused_total; /* connections refused by the limit */
    _Atomic uint64_t unchecked_total;     /* allowed without a limit check: Redis unavailable */
    _Atomic uint64_t writes_total;        /* counts written (sent) */
    _Atomic uint64_t writes_failed_total; /* writes refused or failed: written again later */
    _Atomic uint64_t resyncs_total;       /* new incarnations (each rewrites every user) */
    _Atomic uint64_t heartbeats_total;    /* heartbeats answered */
    _Atomic uint64_t expired_total;       /* heartbeats that found this incarnation expired */
    _Atomic uint64_t swept_total;         /* dead counts removed by this worker's sweeps */
    _Atomic uint64_t gets_total;          /* user_status_get answered with a status */
    _Atomic uint64_t gets_refused_total;  /* refused at once: Redis unavailable */
    _Atomic uint64_t gets_failed_total;   /* accepted, then failed (timeout, lost link) */
    _Atomic uint64_t users;               /* gauge: users with connections on this worker */
    _Atomic uint64_t connections;         /* gauge: their connections */
};

/* A verdict on one connection of a user. */
enum user_status_admit {
    USER_STATUS_ALLOWED,   /* counted: no limit configured, or within it */
    USER_STATUS_UNCHECKED, /* counted, allowed without a limit check (Redis unavailable) */
    USER_STATUS_REFUSED,   /* over the limit: not counted; refuse the connection */
    USER_STATUS_PENDING,   /* (user_status_connect only) the check is in flight */
    USER_STATUS_NOMEM,     /* (user_status_connect only) not counted: out of memory */
};
const char *user_status_admit_name(enum user_status_admit admit);

/* The verdict of a pending check: ALLOWED, UNCHECKED or REFUSED; `connections` is the
 * user's count across the cluster that Redis answered (this one included when allowed; 0
 * when unchecked). May call user_status_connect, _disconnect, _get and _cancel (of other
 * checks); not _destroy. */
typedef void (*user_status_admit_fn)(void *ctx, enum user_status_admit verdict,
                                     uint32_t connections);

struct user_status_info {
    bool online;
    uint32_t connections;  /* across the cluster */
    uint64_t last_seen_ms; /* Unix ms, Redis's clock: now when online; 0 = never or forgotten */
};

/* `info` is NULL when Redis could not answer (timeout, lost link). */
typedef void (*user_status_get_fn)(void *ctx, const struct user_status_info *info);

struct user_status_check; /* a limit check in flight (user_status.c) */
struct us_user;           /* one user held by this worker (user_status.c) */

struct user_status {
    struct redis_conn conn;
    struct loop *loop;
    struct hmap users;        /* struct us_user by XXH3 of the id */
    struct us_user *dirty;    /* users whose count must be written again (a stack) */
    uint32_t writes_inflight; /* writes sent and not answered */
    bool link_up;             /* since the `up` of the current link */
    bool rewriting;           /* flushing dirty users as answers come back (a resync, a
                                 heartbeat) until a write fails or none is left */
    bool destroying;
    struct tw_timer timer; /* heartbeat */
    char prefix[USER_STATUS_PREFIX_BYTES_MAX + 1];
    char instance[USER_STATUS_INSTANCE_BYTES_MAX + 1];
    char inc[USER_STATUS_INC_BYTES];                 /* the current incarnation */
    char inc_prev[USER_STATUS_INC_BYTES];            /* the one it replaced ("" at first) */
    char field[USER_STATUS_INC_BYTES + 2];           /* "c:" + inc: this incarnation's field */
    char inst_key[USER_STATUS_PREFIX_BYTES_MAX + 8]; /* prefix + "inst" */
    char users_key[USER_STATUS_PREFIX_BYTES_MAX + USER_STATUS_INC_BYTES + 16]; /* its users */
    char sha[US_SCRIPT_COUNT][US_SCRIPT_SHA_BYTES];
    uint32_t ttl_ms, heartbeat_ms, max_connections, sweep_batch, rewrite_inflight_max;
    uint64_t seen_ttl_ms;
    uint64_t rng;
    uint64_t errors;                     /* error replies seen (logged at powers of two) */
    struct user_status_metrics *metrics; /* not owned */
};

/* Checks the parameters, starts the Redis link (its first attempt on the loop's next turn)
 * and the heartbeat. `tag` is the loop tag whose completions go to user_status_dispatch.
 * Returns 0, or -1 with `err` saying what is wrong. `metrics` must outlive `us`. */
int user_status_init(struct user_status *us, struct loop *loop, unsigned tag,
                     const struct user_status_params *params, struct user_status_metrics *metrics,
                     char err[REDIS_CONN_ERROR_BYTES]);

/* A connection of `user` (1..128 bytes, any bytes) is opening. ALLOWED and UNCHECKED: it is
 * counted now (call user_status_disconnect when it closes). REFUSED never comes from here.
 * PENDING (only when max_connections is set and Redis can be asked now): `fn` gives the
 * verdict later, exactly once, unless cancelled; `*check` names the check for
 * user_status_cancel. NOMEM: not counted. Never blocks, never calls `fn` from here. */
enum user_status_admit user_status_connect(struct user_status *us, const char *user,
                                           size_t user_len, user_status_admit_fn fn, void *ctx,
                                           struct user_status_check **check);

/* The connection whose check is pending closed first: `fn` will not be called, and the
 * connection is not counted whatever Redis answers. */
void user_status_cancel(struct user_status *us, struct user_status_check *check);

/* A counted connection of `user` closed (one call per ALLOWED or UNCHECKED verdict). */
void user_status_disconnect(struct user_status *us, const char *user, size_t user_len);

/* Asks Redis for `user`'s status. Returns 0 (`fn` is called exactly once, from the loop), or
 * -1 at once when Redis cannot be asked now (down, or too many commands waiting). */
int user_status_get(struct user_status *us, const char *user, size_t user_len,
                    user_status_get_fn fn, void *ctx);

/* For a graceful stop, after the worker's connections have closed: ends this incarnation
 * in Redis now, so whatever it still counts stops counting at once. Best effort. */
void user_status_leave(struct user_status *us);

/* A completion with the tag given to user_status_init. */
void user_status_dispatch(void *owner, const struct io_uring_cqe *cqe);

/* True when `t` belongs to `us` (then it has been handled). */
bool user_status_on_timer(struct user_status *us, struct tw_timer *t);

/* Closes the link and frees every user. Pending checks and gets are dropped without their
 * callbacks (their connections are going away with the worker). Not from a callback. The
 * struct must stay in memory until user_status_busy is false or the loop is destroyed. */
void user_status_destroy(struct user_status *us);

static inline bool user_status_busy(const struct user_status *us)
{
    return redis_conn_busy(&us->conn);
}

#endif
