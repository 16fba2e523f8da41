/* The worker's Redis user status: see user_status_gw.h. */
#include "gateway/user_status_gw.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

enum { HOST_BYTES_SHOWN = 40 }; /* the instance is at most 64 bytes: host:port/worker */

/* The listener's port as bound (listen may say port 0), or 0 when unknown. */
static unsigned listen_port(const struct worker *w)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (w->listen_fd < 0 || getsockname(w->listen_fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* "HOST:PORT/WORKER": a name for this worker in Redis, for people reading the registry. Two
 * processes may share it (SO_REUSEPORT during a restart): each incarnation adds a random
 * suffix, so the name need not be unique. */
static void instance_name(const struct worker *w, char out[USER_STATUS_INSTANCE_BYTES_MAX + 1])
{
    char host[HOST_BYTES_SHOWN + 1];
    char full[256];
    if (gethostname(full, sizeof full) != 0 || full[0] == '\0')
        snprintf(full, sizeof full, "unknown");
    full[sizeof full - 1] = '\0';
    size_t len = strnlen(full, HOST_BYTES_SHOWN);
    memcpy(host, full, len);
    host[len] = '\0';
    snprintf(out, USER_STATUS_INSTANCE_BYTES_MAX + 1, "%s:%u/%u", host, listen_port(w), w->index);
}

int gw_user_status_start(struct worker *w)
{
    const struct gw_options *o = w->shared->opts;
    if (o->redis_url[0] == '\0')
        return 0;
    char instance[USER_STATUS_INSTANCE_BYTES_MAX + 1];
    instance_name(w, instance);
    struct user_status_params p;
    user_status_params_defaults(&p);
    p.redis.name = "status";
    p.redis.url = o->redis_url;
    p.instance = instance;
    p.key_prefix = o->redis_key_prefix;
    p.ttl_ms = (uint32_t)o->user_status_ttl_ms;
    p.heartbeat_ms = p.ttl_ms / 3;
    p.max_connections = (uint32_t)o->user_max_connections;
    w->status_metrics = calloc(1, sizeof *w->status_metrics);
    w->status = calloc(1, sizeof *w->status);
    if (w->status == NULL || w->status_metrics == NULL) {
        snprintf(w->start_error, sizeof w->start_error, "out of memory for the user status");
        gw_user_status_free(w);
        return -1;
    }
    char err[REDIS_CONN_ERROR_BYTES];
    if (user_status_init(w->status, &w->loop, WORKER_OP_REDIS, &p, w->status_metrics, err) != 0) {
        snprintf(w->start_error, sizeof w->start_error, "redis_url: %s", err);
        gw_user_status_free(w);
        return -1;
    }
    w->status_live = true;
    log_debug("worker", "user status on", "worker=%u instance=\"%s\" max_connections=%u", w->index,
              instance, p.max_connections);
    return 0;
}

bool gw_user_status_stopped(struct worker *w)
{
    if (!w->status_live)
        return true;
    if (!w->status_left) {
        w->status_left = true;
        w->status_leave_deadline_ms = w->loop.now_ms + GW_USER_STATUS_LEAVE_MS;
        user_status_leave(w->status); /* after the connections' own writes, in order */
    }
    return pg_metric_get(&w->status_metrics->redis.pending) == 0 ||
           w->loop.now_ms >= w->status_leave_deadline_ms;
}

void gw_user_status_close(struct worker *w)
{
    if (!w->status_live)
        return;
    w->status_live = false;
    user_status_destroy(w->status); /* its polls in flight go with the loop */
}

void gw_user_status_free(struct worker *w)
{
    assert(!w->status_live); /* closed by the thread, or never opened */
    free(w->status);
    w->status = NULL;
    free(w->status_metrics);
    w->status_metrics = NULL;
}
