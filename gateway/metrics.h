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

#include "core/ip_limit.h"
#include "core/proxy_proto.h"
#include "core/tls.h"
#include "core/ws_handshake.h"
#include "gateway/api_http.h"
#include "gateway/jwt.h"
#include "gateway/proto.h"

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
    GW_CLOSE_BINARY,          /* we closed with 1003: a binary message (protocol mode) */
    GW_CLOSE_AUTH_FAILED,     /* 4001 */
    GW_CLOSE_TOKEN_EXPIRED,   /* 4002 */
    GW_CLOSE_KICKED,          /* 4003 */
    GW_CLOSE_TOO_MANY_ERRORS, /* 4004 */
    GW_CLOSE_CONNECT_TIMEOUT, /* 4005 */
    GW_CLOSE_RECONNECT,       /* 4006 */
    GW_CLOSE_USER_LIMIT,      /* 4007: user_max_connections (Redis user status) */
    GW_CLOSE_PROXY,           /* no PROXY header where one was required, or a bad one */
    GW_CLOSE_IP_LIMIT,        /* refused by the per-IP limits (429) */
    GW_CLOSE_TLS,             /* wss: the TLS session failed; see tls_failures */
    GW_CLOSE_DEMO_PAGE,       /* a browser fetched the demo page (docs/demo.md) */
    GW_CLOSE_REASON_COUNT
};

const char *gw_close_reason_name(enum gw_close_reason reason);

/* The reason counted for a close the server starts with `code` (1001 counts as shutdown). */
enum gw_close_reason gw_close_reason_for_code(uint16_t code);

/* Why a delivery did not reach a subscriber: `reason` of tidegate_deliveries_dropped_total. */
enum gw_drop_reason {
    GW_DROP_MAILBOX_FULL,       /* a worker-to-worker ring and its overflow were full */
    GW_DROP_SLOW_CONSUMER_SKIP, /* slow_consumer = skip: not queued (a gap follows) */
    GW_DROP_TYPING_BUSY,        /* typing event met a send queue over half its limit */
    GW_DROP_TYPING_RATE,        /* typing event over typing_per_s */
    GW_DROP_REASON_COUNT
};

/* Why a PROXY header was refused: the `reason` of tidegate_proxy_failures_total. The parser's
 * refusals keep their enum proxy_result numbers (PROXY_ABSENT .. PROXY_V2_BAD_CRC32C; ABSENT
 * counts only where a header is required); the connection adds a peer outside proxy_trusted in
 * required mode and a header still incomplete at handshake_timeout. */
enum {
    GW_PROXY_FAIL_FIRST = PROXY_ABSENT,
    GW_PROXY_FAIL_UNTRUSTED = PROXY_RESULT_COUNT,
    GW_PROXY_FAIL_TIMEOUT,
    GW_PROXY_FAIL_COUNT
};

/* The label of a GW_PROXY_FAIL_FIRST..GW_PROXY_FAIL_COUNT-1 reason ("v2_bad_crc32c"). */
const char *gw_proxy_failure_name(int reason);

/* Why a wss connection's TLS failed: the `reason` of tidegate_tls_failures_total. Slot 0 is
 * a TLS handshake unfinished at handshake_timeout; slot -e - 1 is the tls_error e
 * (TLS_ERR_VERSION .. TLS_ERR_INTERNAL; TLS_PEER_CLOSED is no failure and has none). */
enum { GW_TLS_FAIL_TIMEOUT = 0, GW_TLS_FAIL_COUNT = -TLS_ERROR_MIN };

static inline int gw_tls_failure_slot(int tls_error)
{
    return -tls_error - 1;
}

/* The label of a slot ("timeout", "tls_version", ...). */
const char *gw_tls_failure_name(int slot);

/* `reason` label for auth failures that are not JWT errors (anonymous refused). */
enum { GW_AUTH_ANONYMOUS_REFUSED = JWT_ERROR_COUNT, GW_AUTH_REASON_COUNT };

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
    /* Channels (gateway/hub*.c, gateway/session.c). */
    _Atomic uint64_t channels;           /* gauge: channels this worker owns */
    _Atomic uint64_t subscriptions;      /* gauge: subscriptions of this worker's connections */
    _Atomic uint64_t sessions_connected; /* connections that completed `connect` */
    _Atomic uint64_t requests;           /* client protocol messages handled */
    _Atomic uint64_t publishes;          /* messages given an offset by this worker (owner) */
    _Atomic uint64_t deliveries;         /* message frames queued to subscribers */
    _Atomic uint64_t deliveries_dropped[GW_DROP_REASON_COUNT];
    _Atomic uint64_t hub_requests_sent;     /* requests sent to another worker's channels */
    _Atomic uint64_t hub_requests_received; /* requests received for channels owned here */
    _Atomic uint64_t errors_sent[PROTO_ERROR_COUNT];
    _Atomic uint64_t auth_failures[GW_AUTH_REASON_COUNT];
    /* Server API (gateway/api*.c). */
    _Atomic uint64_t api_connections_open;                               /* gauge */
    _Atomic uint64_t api_auth_failures;                                  /* 401 answers */
    _Atomic uint64_t api_requests[API_ENDPOINT_COUNT][API_STATUS_COUNT]; /* by api_statuses */
    /* The edge (gateway/conn_edge.c). */
    _Atomic uint64_t proxy_headers[2];                          /* accepted: [0] v1, [1] v2 */
    _Atomic uint64_t proxy_failures[GW_PROXY_FAIL_COUNT];       /* from GW_PROXY_FAIL_FIRST on */
    _Atomic uint64_t ip_limit_refusals[IP_LIMIT_VERDICT_COUNT]; /* [IP_LIMIT_OK] stays 0 */
    /* TLS (gateway/conn_tls.c). */
    _Atomic uint64_t tls_sessions_open;               /* gauge: wss connections holding a session */
    _Atomic uint64_t tls_handshakes[2][2];            /* [TLS 1.3][resumed] */
    _Atomic uint64_t tls_failures[GW_TLS_FAIL_COUNT]; /* by gw_tls_failure_slot */
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

struct mailbox_grid;

/* Writes the lanes between workers: tidegate_mailbox_depth{from,to} (items waiting in the
 * ring), tidegate_mailbox_overflowed_total and tidegate_mailbox_dropped_total. Racy reads of
 * other threads' counters, torn-free. */
void gw_metrics_render_mailbox(FILE *out, const struct mailbox_grid *grid);

/* Writes the process-wide figures of the per-IP limits: tidegate_ip_limit_tracked_addresses
 * and tidegate_ip_limit_evictions_total (0 when `stats` is NULL: the limits are off). */
void gw_metrics_render_ip_limit(FILE *out, const struct ip_limit_stats *stats);

/* Writes every metric of `count` workers in Prometheus text format 0.0.4, HELP and TYPE
 * first, one sample per worker (label worker="i"). */
void gw_metrics_render(FILE *out, const struct gw_metrics *const *workers, unsigned count);

#endif
