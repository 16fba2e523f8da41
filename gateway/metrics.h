/* Per-worker counters and their Prometheus rendering.
 *
 * Each worker owns one struct gw_metrics and is its only writer; the admin thread reads
 * them while the workers run. Fields are relaxed atomics written with a plain load + store
 * (gw_metric_add), which costs the hot path no locked instruction and gives the reader
 * torn-free, slightly stale values, which is all a scrape needs.
 */
#ifndef TIDEGATE_GATEWAY_METRICS_H
#define TIDEGATE_GATEWAY_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "core/ws_handshake.h"

/* Why a connection ended: the `reason` label of tidegate_connections_closed_total. */
enum gw_close_reason {
    GW_CLOSE_CLIENT,          /* the client started the close handshake */
    GW_CLOSE_PROTOCOL_ERROR,  /* we closed with 1002 */
    GW_CLOSE_INVALID_PAYLOAD, /* we closed with 1007 */
    GW_CLOSE_MESSAGE_TOO_BIG, /* we closed with 1009 */
    GW_CLOSE_SLOW_CONSUMER,   /* we closed with 1008: send queue over its limit */
    GW_CLOSE_IDLE_TIMEOUT,    /* we closed with 1001: nothing received for idle_timeout */
    GW_CLOSE_PEER_GONE,       /* TCP ended (EOF, reset) without a close handshake */
    GW_CLOSE_HANDSHAKE,       /* the upgrade failed; see handshake_failures */
    GW_CLOSE_SHUTDOWN,        /* we closed with 1001: the server is stopping */
    GW_CLOSE_INTERNAL,        /* we closed with 1011: out of memory */
    GW_CLOSE_REASON_COUNT
};

const char *gw_close_reason_name(enum gw_close_reason reason);

struct gw_metrics {
    _Alignas(64) _Atomic uint64_t connections_open;
    _Atomic uint64_t connections_accepted;
    _Atomic uint64_t connections_rejected_limit; /* max_connections reached: 503 */
    _Atomic uint64_t connections_closed[GW_CLOSE_REASON_COUNT];
    _Atomic uint64_t handshake_failures[WS_HS_ERROR_COUNT];
    _Atomic uint64_t frames_received;
    _Atomic uint64_t frames_sent;       /* queued for sending */
    _Atomic uint64_t messages_received; /* whole data messages */
    _Atomic uint64_t bytes_received;    /* TCP payload bytes read */
    _Atomic uint64_t bytes_sent;        /* TCP payload bytes written */
    _Atomic uint64_t pings_sent;
    _Atomic uint64_t recv_buffers_exhausted; /* multishot recv ended with ENOBUFS */
    _Atomic uint64_t send_queue_bytes;       /* gauge: unsent bytes queued on the worker */
};

static inline void gw_metric_add(_Atomic uint64_t *m, uint64_t n)
{
    atomic_store_explicit(m, atomic_load_explicit(m, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline void gw_metric_sub(_Atomic uint64_t *m, uint64_t n)
{
    atomic_store_explicit(m, atomic_load_explicit(m, memory_order_relaxed) - n,
                          memory_order_relaxed);
}

/* Writes every metric of `count` workers in Prometheus text format 0.0.4, HELP and TYPE
 * first, one sample per worker (label worker="i"). */
void gw_metrics_render(FILE *out, const struct gw_metrics *const *workers, unsigned count);

#endif
