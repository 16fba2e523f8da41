#include "gateway/user_status_metrics.h"

#include <stddef.h>

#include "gateway/metrics_family.h"

#define FIELD(f) offsetof(struct user_status_metrics, f)
static const struct metric_family status_plain[] = {
    {"tidegate_redis_connection_state", "gauge",
     "The worker's Redis link: 0 down (waiting to retry), 1 connecting, 2 up, 3 closed.",
     FIELD(redis.state)},
    {"tidegate_redis_connects_total", "counter", "Redis links established (handshake answered).",
     FIELD(redis.connects_total)},
    {"tidegate_redis_connect_failures_total", "counter",
     "Attempts to reach Redis that failed or timed out.", FIELD(redis.connect_failures)},
    {"tidegate_redis_disconnects_total", "counter", "Redis links lost after being up.",
     FIELD(redis.disconnects_total)},
    {"tidegate_redis_operations_total", "counter", "Commands sent to Redis (scripts included).",
     FIELD(redis.commands_total)},
    {"tidegate_redis_pending", "gauge", "Commands sent and not yet answered.",
     FIELD(redis.pending)},
    {"tidegate_redis_user_connects_total", "counter",
     "Authenticated connections counted in user status.", FIELD(connects_total)},
    {"tidegate_redis_user_disconnects_total", "counter", "Counted connections that closed.",
     FIELD(disconnects_total)},
    {"tidegate_redis_user_limit_checks_total", "counter",
     "user_max_connections checks sent to Redis.", FIELD(limit_checks_total)},
    {"tidegate_redis_user_limit_refused_total", "counter",
     "Connections refused by user_max_connections (close 4007).", FIELD(limit_refused_total)},
    {"tidegate_redis_user_unchecked_total", "counter",
     "Connections allowed without a limit check because Redis could not answer.",
     FIELD(unchecked_total)},
    {"tidegate_redis_user_writes_total", "counter", "Connection counts written to Redis.",
     FIELD(writes_total)},
    {"tidegate_redis_user_writes_failed_total", "counter",
     "Count writes refused or failed; each user is written again later.",
     FIELD(writes_failed_total)},
    {"tidegate_redis_user_resyncs_total", "counter",
     "New incarnations of the worker in Redis, each rewriting every user it holds.",
     FIELD(resyncs_total)},
    {"tidegate_redis_user_heartbeats_total", "counter", "Heartbeats Redis answered.",
     FIELD(heartbeats_total)},
    {"tidegate_redis_user_expired_total", "counter",
     "Heartbeats that found this worker's incarnation expired (then resynced).",
     FIELD(expired_total)},
    {"tidegate_redis_user_swept_total", "counter",
     "Counts of dead incarnations removed by this worker's sweeps.", FIELD(swept_total)},
    {"tidegate_redis_user_gets_total", "counter",
     "Status reads answered (GET /api/users/{id}/status).", FIELD(gets_total)},
    {"tidegate_redis_user_gets_refused_total", "counter",
     "Status reads refused at once: Redis unavailable (503).", FIELD(gets_refused_total)},
    {"tidegate_redis_user_gets_failed_total", "counter",
     "Status reads sent and then lost (timeout, link lost: 503).", FIELD(gets_failed_total)},
    {"tidegate_redis_users", "gauge", "Users with connections on this worker.", FIELD(users)},
    {"tidegate_redis_user_connections", "gauge", "Their connections on this worker.",
     FIELD(connections)},
};

/* tidegate_redis_errors_total{kind}. */
static const struct {
    const char *kind;
    size_t offset;
} status_errors[] = {
    {"error_reply", FIELD(redis.error_replies_total)},
    {"timeout", FIELD(redis.timeouts_total)},
    {"unavailable", FIELD(redis.unavailable_total)},
    {"refused_down", FIELD(redis.refused_down_total)},
    {"refused_full", FIELD(redis.refused_full_total)},
};
#undef FIELD

static uint64_t field(const struct user_status_metrics *m, size_t offset)
{
    return pg_metric_get((const _Atomic uint64_t *)((const char *)m + offset));
}

void gw_user_status_render_metrics(FILE *out, const struct user_status_metrics *const *workers,
                                   unsigned count)
{
    metrics_render_families(out, status_plain, sizeof status_plain / sizeof status_plain[0],
                            (const void *const *)workers, count);
    const char *errors = "tidegate_redis_errors_total";
    fprintf(out,
            "# HELP %s Redis commands that failed, by kind: error_reply, timeout (the link "
            "was dropped), unavailable (lost with the link), refused_down (no link), "
            "refused_full (too many waiting).\n# TYPE %s counter\n",
            errors, errors);
    for (unsigned w = 0; w < count; w++) {
        if (workers[w] == NULL)
            continue;
        for (size_t k = 0; k < sizeof status_errors / sizeof status_errors[0]; k++)
            fprintf(out, "%s{worker=\"%u\",kind=\"%s\"} %llu\n", errors, w, status_errors[k].kind,
                    (unsigned long long)field(workers[w], status_errors[k].offset));
    }
    metrics_render_pg_hist(out, "tidegate_redis_latency_seconds",
                           "From a command sent to its answer (millisecond resolution).", 1e-6,
                           (const void *const *)workers,
                           offsetof(struct user_status_metrics, redis.latency_us), count);
}
