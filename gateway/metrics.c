/* Prometheus rendering of the per-worker counters: see metrics.h. Metric names follow the
 * Prometheus conventions (base units, _total on counters) and are documented in
 * docs/operations.md; renaming one breaks dashboards. */
#include "gateway/metrics.h"

#include <assert.h>
#include <stddef.h>

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
};

const char *gw_close_reason_name(enum gw_close_reason reason)
{
    assert(reason < GW_CLOSE_REASON_COUNT);
    return close_reason_names[reason];
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
}
