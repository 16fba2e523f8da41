/* Prometheus rendering of the per-worker counters: see metrics.h. Metric names follow the
 * Prometheus conventions (base units, _total on counters) and are documented in
 * docs/operations.md; renaming one breaks dashboards. */
#include "gateway/metrics.h"

#include <assert.h>
#include <stddef.h>

#include "core/mailbox.h"

static const char *const close_reason_names[GW_CLOSE_REASON_COUNT] = {
    [GW_CLOSE_CLIENT] = "client_close",
    [GW_CLOSE_PROTOCOL_ERROR] = "protocol_error",
    [GW_CLOSE_INVALID_PAYLOAD] = "invalid_payload",
    [GW_CLOSE_MESSAGE_TOO_BIG] = "message_too_big",
    [GW_CLOSE_SLOW_CONSUMER] = "slow_consumer",
    [GW_CLOSE_IDLE_TIMEOUT] = "idle_timeout",
    [GW_CLOSE_PEER_GONE] = "peer_gone",
    [GW_CLOSE_HANDSHAKE] = "handshake_failed",
    [GW_CLOSE_SHUTDOWN] = "server_shutdown",
    [GW_CLOSE_INTERNAL] = "internal_error",
    [GW_CLOSE_BINARY] = "binary_not_supported",
    [GW_CLOSE_AUTH_FAILED] = "auth_failed",
    [GW_CLOSE_TOKEN_EXPIRED] = "token_expired",
    [GW_CLOSE_KICKED] = "kicked",
    [GW_CLOSE_TOO_MANY_ERRORS] = "too_many_errors",
    [GW_CLOSE_CONNECT_TIMEOUT] = "connect_timeout",
    [GW_CLOSE_RECONNECT] = "reconnect_requested",
    [GW_CLOSE_USER_LIMIT] = "too_many_user_connections",
    [GW_CLOSE_PROXY] = "proxy_refused",
    [GW_CLOSE_IP_LIMIT] = "ip_limit",
    [GW_CLOSE_TLS] = "tls_failed",
    [GW_CLOSE_DEMO_PAGE] = "demo_page",
};

static const char *const drop_reason_names[GW_DROP_REASON_COUNT] = {
    [GW_DROP_MAILBOX_FULL] = "mailbox_full",
    [GW_DROP_SLOW_CONSUMER_SKIP] = "slow_consumer_skip",
    [GW_DROP_TYPING_BUSY] = "typing_queue_busy",
    [GW_DROP_TYPING_RATE] = "typing_rate",
};

enum gw_close_reason gw_close_reason_for_code(uint16_t code)
{
    switch (code) {
    case 1001:
        return GW_CLOSE_SHUTDOWN;
    case 1002:
        return GW_CLOSE_PROTOCOL_ERROR;
    case 1003:
        return GW_CLOSE_BINARY;
    case 1007:
        return GW_CLOSE_INVALID_PAYLOAD;
    case 1008:
        return GW_CLOSE_SLOW_CONSUMER;
    case 1009:
        return GW_CLOSE_MESSAGE_TOO_BIG;
    case 4001:
        return GW_CLOSE_AUTH_FAILED;
    case 4002:
        return GW_CLOSE_TOKEN_EXPIRED;
    case 4003:
        return GW_CLOSE_KICKED;
    case 4004:
        return GW_CLOSE_TOO_MANY_ERRORS;
    case 4005:
        return GW_CLOSE_CONNECT_TIMEOUT;
    case 4006:
        return GW_CLOSE_RECONNECT;
    case 4007:
        return GW_CLOSE_USER_LIMIT;
    default:
        return GW_CLOSE_INTERNAL;
    }
}

const char *gw_close_reason_name(enum gw_close_reason reason)
{
    assert(reason < GW_CLOSE_REASON_COUNT);
    return close_reason_names[reason];
}

const char *gw_proxy_failure_name(int reason)
{
    assert(reason >= GW_PROXY_FAIL_FIRST && reason < GW_PROXY_FAIL_COUNT);
    if (reason == GW_PROXY_FAIL_UNTRUSTED)
        return "untrusted";
    if (reason == GW_PROXY_FAIL_TIMEOUT)
        return "timeout";
    return proxy_result_name((enum proxy_result)reason);
}

const char *gw_tls_failure_name(int slot)
{
    assert(slot >= 0 && slot < GW_TLS_FAIL_COUNT);
    return slot == GW_TLS_FAIL_TIMEOUT ? "timeout" : tls_error_name(-slot - 1);
}

/* A plain per-worker metric: a field of struct gw_metrics with its name, type and help. */
struct metric_desc {
    const char *name;
    const char *type;
    const char *help;
    size_t offset;
};

#define FIELD(f) offsetof(struct gw_metrics, f)
static const struct metric_desc plain_metrics[] = {
    {"tidegate_connections_open", "gauge", "WebSocket and handshaking connections open now.",
     FIELD(connections_open)},
    {"tidegate_connections_accepted_total", "counter", "TCP connections accepted.",
     FIELD(connections_accepted)},
    {"tidegate_connections_rejected_total", "counter",
     "Connections refused with 503 because max_connections was reached.",
     FIELD(connections_rejected_limit)},
    {"tidegate_frames_received_total", "counter", "WebSocket frames received.",
     FIELD(frames_received)},
    {"tidegate_frames_sent_total", "counter", "WebSocket frames queued for sending.",
     FIELD(frames_sent)},
    {"tidegate_messages_received_total", "counter", "Whole WebSocket data messages received.",
     FIELD(messages_received)},
    {"tidegate_bytes_received_total", "counter", "Bytes read from client sockets.",
     FIELD(bytes_received)},
    {"tidegate_bytes_sent_total", "counter", "Bytes written to client sockets.", FIELD(bytes_sent)},
    {"tidegate_pings_sent_total", "counter", "Server pings sent to quiet connections.",
     FIELD(pings_sent)},
    {"tidegate_recv_buffers_exhausted_total", "counter",
     "Times a receive found no free provided buffer (raise recv_buffer_count if it grows).",
     FIELD(recv_buffers_exhausted)},
    {"tidegate_send_queue_bytes", "gauge", "Bytes queued for sending and not yet written.",
     FIELD(send_queue_bytes)},
    {"tidegate_channels", "gauge", "Channels held by their owner worker.", FIELD(channels)},
    {"tidegate_subscriptions", "gauge", "Channel subscriptions of the worker's connections.",
     FIELD(subscriptions)},
    {"tidegate_sessions_connected_total", "counter",
     "Connections that completed connect (token accepted, or anonymous).",
     FIELD(sessions_connected)},
    {"tidegate_requests_total", "counter", "Client protocol messages handled.", FIELD(requests)},
    {"tidegate_publishes_total", "counter", "Messages given an offset by their channel's owner.",
     FIELD(publishes)},
    {"tidegate_deliveries_total", "counter", "Message frames queued to subscribers.",
     FIELD(deliveries)},
    {"tidegate_hub_requests_sent_total", "counter",
     "Channel requests sent to the channel's owner on another worker.", FIELD(hub_requests_sent)},
    {"tidegate_hub_requests_received_total", "counter",
     "Channel requests received from other workers for channels owned here.",
     FIELD(hub_requests_received)},
    {"tidegate_api_connections_open", "gauge", "Server API connections open now.",
     FIELD(api_connections_open)},
    {"tidegate_api_auth_failures_total", "counter",
     "Server API requests refused with 401 (no key, or not a configured key).",
     FIELD(api_auth_failures)},
    {"tidegate_tls_sessions_open", "gauge",
     "wss connections holding TLS state (from their first bytes to their end).",
     FIELD(tls_sessions_open)},
};
#undef FIELD

static uint64_t metric_load(const _Atomic uint64_t *m)
{
    return atomic_load_explicit(m, memory_order_relaxed);
}

static void render_plain(FILE *out, const struct metric_desc *d,
                         const struct gw_metrics *const *workers, unsigned count)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
    for (unsigned w = 0; w < count; w++) {
        const _Atomic uint64_t *m =
            (const _Atomic uint64_t *)((const char *)workers[w] + d->offset);
        fprintf(out, "%s{worker=\"%u\"} %llu\n", d->name, w, (unsigned long long)metric_load(m));
    }
}

static void render_closed(FILE *out, const struct gw_metrics *const *workers, unsigned count)
{
    const char *name = "tidegate_connections_closed_total";
    fprintf(out, "# HELP %s Connections closed, by reason.\n# TYPE %s counter\n", name, name);
    for (unsigned w = 0; w < count; w++)
        for (int r = 0; r < GW_CLOSE_REASON_COUNT; r++)
            fprintf(out, "%s{worker=\"%u\",reason=\"%s\"} %llu\n", name, w, close_reason_names[r],
                    (unsigned long long)metric_load(&workers[w]->connections_closed[r]));
}

static void render_handshake(FILE *out, const struct gw_metrics *const *workers, unsigned count)
{
    const char *name = "tidegate_handshake_failures_total";
    fprintf(out, "# HELP %s WebSocket upgrade requests refused, by reason.\n# TYPE %s counter\n",
            name, name);
    for (unsigned w = 0; w < count; w++)
        for (int e = WS_HS_OK + 1; e < WS_HS_ERROR_COUNT; e++)
            fprintf(out, "%s{worker=\"%u\",reason=\"%s\"} %llu\n", name, w,
                    ws_handshake_error_name((enum ws_handshake_error)e),
                    (unsigned long long)metric_load(&workers[w]->handshake_failures[e]));
}

/* A counter array labelled by `label` with names from `names(i)`. */
static void render_labelled(FILE *out, const char *name, const char *help, const char *label,
                            size_t array_offset, int n, const char *(*names)(int),
                            const struct gw_metrics *const *workers, unsigned count)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (unsigned w = 0; w < count; w++) {
        const _Atomic uint64_t *a =
            (const _Atomic uint64_t *)((const char *)workers[w] + array_offset);
        for (int i = 0; i < n; i++)
            fprintf(out, "%s{worker=\"%u\",%s=\"%s\"} %llu\n", name, w, label, names(i),
                    (unsigned long long)metric_load(&a[i]));
    }
}

static const char *drop_name(int i)
{
    return drop_reason_names[i];
}
/* Errors and auth reasons skip index 0 (PROTO_OK, JWT_OK). */
static const char *error_name_from_one(int i)
{
    return proto_error_name((enum proto_error)(i + 1));
}
static const char *auth_name_from_one(int i)
{
    return i + 1 == GW_AUTH_ANONYMOUS_REFUSED ? "anonymous_refused"
                                              : jwt_error_name((enum jwt_error)(i + 1));
}

static const char *proxy_version_name(int i)
{
    return i == 0 ? "1" : "2";
}
static const char *proxy_failure_name_from_first(int i)
{
    return gw_proxy_failure_name(i + GW_PROXY_FAIL_FIRST);
}
static const char *ip_limit_name_from_one(int i)
{
    return ip_limit_verdict_name((enum ip_limit_verdict)(i + 1));
}

static void render_edge(FILE *out, const struct gw_metrics *const *workers, unsigned count)
{
    const size_t slot = sizeof(_Atomic uint64_t);
    render_labelled(out, "tidegate_proxy_headers_total",
                    "PROXY protocol headers accepted, by version.", "version",
                    offsetof(struct gw_metrics, proxy_headers), 2, proxy_version_name, workers,
                    count);
    render_labelled(
        out, "tidegate_proxy_failures_total",
        "Connections closed without a reply for their PROXY header, by reason.", "reason",
        offsetof(struct gw_metrics, proxy_failures) + GW_PROXY_FAIL_FIRST * slot,
        GW_PROXY_FAIL_COUNT - GW_PROXY_FAIL_FIRST, proxy_failure_name_from_first, workers, count);
    render_labelled(out, "tidegate_ip_limit_refusals_total",
                    "Connections refused by the per-IP limits, by reason.", "reason",
                    offsetof(struct gw_metrics, ip_limit_refusals) + slot,
                    IP_LIMIT_VERDICT_COUNT - 1, ip_limit_name_from_one, workers, count);
}

/* TLS handshakes by version and resumption, failures by reason (timeout first). */
static void render_tls(FILE *out, const struct gw_metrics *const *workers, unsigned count)
{
    const char *name = "tidegate_tls_handshakes_total";
    fprintf(out,
            "# HELP %s TLS handshakes completed, by version and resumption.\n"
            "# TYPE %s counter\n",
            name, name);
    for (unsigned w = 0; w < count; w++)
        for (int v13 = 0; v13 < 2; v13++)
            for (int resumed = 0; resumed < 2; resumed++)
                fprintf(out, "%s{worker=\"%u\",version=\"%s\",resumed=\"%s\"} %llu\n", name, w,
                        v13 ? "1.3" : "1.2", resumed ? "true" : "false",
                        (unsigned long long)metric_load(&workers[w]->tls_handshakes[v13][resumed]));
    render_labelled(out, "tidegate_tls_failures_total",
                    "wss connections closed because TLS failed, by reason.", "reason",
                    offsetof(struct gw_metrics, tls_failures), GW_TLS_FAIL_COUNT,
                    gw_tls_failure_name, workers, count);
}

void gw_metrics_render_ip_limit(FILE *out, const struct ip_limit_stats *stats)
{
    fprintf(out,
            "# HELP tidegate_ip_limit_tracked_addresses Client addresses the per-IP limits track "
            "now.\n"
            "# TYPE tidegate_ip_limit_tracked_addresses gauge\n"
            "tidegate_ip_limit_tracked_addresses %llu\n"
            "# HELP tidegate_ip_limit_evictions_total Idle addresses forgotten to make room for "
            "new ones.\n"
            "# TYPE tidegate_ip_limit_evictions_total counter\n"
            "tidegate_ip_limit_evictions_total %llu\n",
            stats != NULL ? (unsigned long long)stats->tracked : 0ull,
            stats != NULL ? (unsigned long long)stats->evicted : 0ull);
}

/* Server API answers by endpoint and status. A series appears with its first answer: most
 * of the 112 pairs never happen (a GET endpoint never answers 411), and with the API off
 * (the default) none does. */
static void render_api_requests(FILE *out, const struct gw_metrics *const *workers, unsigned count)
{
    const char *name = "tidegate_api_requests_total";
    fprintf(out,
            "# HELP %s Server API requests answered, by endpoint and status.\n"
            "# TYPE %s counter\n",
            name, name);
    for (unsigned w = 0; w < count; w++)
        for (int e = 0; e < API_ENDPOINT_COUNT; e++)
            for (int s = 0; s < API_STATUS_COUNT; s++) {
                uint64_t v = metric_load(&workers[w]->api_requests[e][s]);
                if (v != 0)
                    fprintf(out, "%s{worker=\"%u\",endpoint=\"%s\",status=\"%u\"} %llu\n", name, w,
                            api_endpoint_name((enum api_endpoint)e), (unsigned)api_statuses[s],
                            (unsigned long long)v);
            }
}

void gw_metrics_render(FILE *out, const struct gw_metrics *const *workers, unsigned count)
{
    assert(out != NULL && workers != NULL);
    fprintf(out,
            "# HELP tidegate_build_info Version of the running binary.\n"
            "# TYPE tidegate_build_info gauge\n"
            "tidegate_build_info{version=\"%s\"} 1\n"
            "# HELP tidegate_workers Worker threads running.\n"
            "# TYPE tidegate_workers gauge\n"
            "tidegate_workers %u\n",
            TIDEGATE_VERSION, count);
    for (size_t i = 0; i < sizeof plain_metrics / sizeof plain_metrics[0]; i++)
        render_plain(out, &plain_metrics[i], workers, count);
    render_closed(out, workers, count);
    render_handshake(out, workers, count);
    render_labelled(out, "tidegate_deliveries_dropped_total",
                    "Deliveries that did not reach a subscriber, by reason.", "reason",
                    offsetof(struct gw_metrics, deliveries_dropped), GW_DROP_REASON_COUNT,
                    drop_name, workers, count);
    render_labelled(out, "tidegate_errors_sent_total", "Protocol error replies, by code.", "code",
                    offsetof(struct gw_metrics, errors_sent) + sizeof(_Atomic uint64_t),
                    PROTO_ERROR_COUNT - 1, error_name_from_one, workers, count);
    render_labelled(out, "tidegate_auth_failures_total", "Refused tokens and connects, by reason.",
                    "reason", offsetof(struct gw_metrics, auth_failures) + sizeof(_Atomic uint64_t),
                    GW_AUTH_REASON_COUNT - 1, auth_name_from_one, workers, count);
    render_api_requests(out, workers, count);
    render_edge(out, workers, count);
    render_tls(out, workers, count);
}

void gw_metrics_render_mailbox(FILE *out, const struct mailbox_grid *grid)
{
    static const char *const names[3] = {"tidegate_mailbox_depth",
                                         "tidegate_mailbox_overflowed_total",
                                         "tidegate_mailbox_dropped_total"};
    static const char *const help[3] = {
        "Items waiting in the ring from one worker to another.",
        "Items that waited in a lane's overflow queue because its ring was full.",
        "Items refused because a lane's ring and overflow queue were full."};
    static const char *const types[3] = {"gauge", "counter", "counter"};
    for (int k = 0; k < 3; k++) {
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", names[k], help[k], names[k], types[k]);
        for (unsigned from = 0; from < grid->workers; from++) {
            for (unsigned to = 0; to < grid->workers; to++) {
                if (from == to)
                    continue;
                const struct mailbox_lane *lane = mailbox_lane(grid, from, to);
                uint64_t v = k == 0 ? mailbox_depth(grid, from, to)
                             : k == 1
                                 ? atomic_load_explicit(&lane->overflowed, memory_order_relaxed)
                                 : atomic_load_explicit(&lane->dropped, memory_order_relaxed);
                fprintf(out, "%s{from=\"%u\",to=\"%u\"} %llu\n", names[k], from, to,
                        (unsigned long long)v);
            }
        }
    }
}
