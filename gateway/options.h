/* The gateway's options: one struct, one table. The table (options.c) is the single source
 * for the config file, the command line, --help and docs/configuration.md. */
#ifndef TIDEGATE_GATEWAY_OPTIONS_H
#define TIDEGATE_GATEWAY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "gateway/namespace.h"

enum {
    GW_WORKERS_MAX = 256,
    GW_API_KEYS_MAX = 16,      /* api_keys items */
    GW_API_KEY_BYTES_MIN = 32, /* one API key: printable ASCII, no space or comma */
    GW_API_KEY_BYTES_MAX = 256,
};

struct gw_options {
    struct config_addr listen;       /* public WebSocket listener */
    struct config_addr admin_listen; /* /healthz, /readyz, /metrics */
    uint64_t workers;                /* 0: one per online CPU */
    bool echo;                       /* echo every data message (conformance, Autobahn) */
    uint64_t max_message_bytes;
    uint64_t max_header_bytes;
    uint64_t max_headers;
    uint64_t handshake_timeout_ms;
    uint64_t ping_interval_ms; /* 0: no server pings */
    uint64_t idle_timeout_ms;  /* 0: never */
    uint64_t close_timeout_ms;
    struct config_list allowed_origins; /* empty: any Origin */
    struct config_list subprotocols;    /* ours, in order of preference */
    uint64_t send_queue_bytes_max;
    uint64_t max_connections; /* per process */
    uint64_t recv_buffer_bytes;
    uint64_t recv_buffer_count;
    uint64_t listen_backlog;
    unsigned log_level; /* index into log level names */

    /* Client authentication (docs/protocol.md 3). gateway/auth_keys.h turns these into a
     * key set and a policy. */
    struct config_list jwt_keys; /* "kid:alg:SOURCE" items, at most JWT_KEYS_MAX (16) */
    char *jwt_audience;          /* never NULL after defaults; "" = `aud` not checked */
    char *jwt_issuer;            /* never NULL after defaults; "" = `iss` not checked */
    uint64_t jwt_leeway_ms;      /* 0..5 min; used in whole seconds */
    uint64_t max_token_bytes;    /* 512..8k */
    bool allow_anonymous;        /* a `connect` without token is accepted */
    uint64_t connect_timeout_ms; /* from the 101 to `connected` */

    /* Client protocol limits (docs/protocol.md 11). */
    uint64_t max_publish_bytes;           /* `data` of send_message; < max_message_bytes
                                             unless echo (no protocol then) */
    uint64_t max_channels_per_connection; /* channels joined at once */
    uint64_t client_messages_per_s;       /* every client message; 0: no limit */
    uint64_t client_messages_burst;
    uint64_t typing_per_s;         /* user_typing; burst twice the rate */
    uint64_t error_burst;          /* errors before close 4004; refill 1/s */
    uint64_t history_page_max;     /* `limit` of a history request */
    uint64_t presence_max_members; /* members listed in a presence reply */
    uint64_t recovery_max_messages;
    uint64_t recovery_max_bytes;
    uint64_t max_channels; /* channels existing at once, per process */

    /* Server API (docs/api.md). */
    struct config_addr api_listen;
    struct config_list api_keys; /* empty: the API listener is not opened */
    uint64_t api_max_connections;
    uint64_t api_max_body_bytes;

    /* The edge (docs/edge.md): PROXY protocol, per-IP limits, graceful drain. */
    unsigned proxy_protocol;               /* enum proxy_mode (core/proxy_proto.h) */
    struct config_list proxy_trusted;      /* CIDR ranges (core/cidr.h); checked by validate */
    uint64_t proxy_header_bytes_max;       /* largest v2 header, TLVs included */
    uint64_t max_connections_per_ip;       /* open connections per client address; 0: no limit */
    uint64_t new_connections_per_ip_per_s; /* token bucket rate; 0: no limit */
    uint64_t new_connections_per_ip_burst;
    uint64_t ip_limit_ipv6_prefix_bits; /* IPv6 clients counted per prefix of this length */
    uint64_t ip_limit_tracked_max;      /* client addresses tracked per process */
    uint64_t drain_window_ms;           /* the 1001s of a stop spread over it; 0: at once */

    /* TLS (docs/tls.md): the wss listener, opened only when tls_certs is set. */
    struct config_addr tls_listen;
    struct config_list tls_certs;    /* "cert.pem:key.pem" items; checked by validate */
    unsigned tls_min_version;        /* index into gw_tls_versions: 0 = 1.2, 1 = 1.3 */
    bool tls_tickets;                /* resumption by session ticket */
    uint64_t tls_ticket_lifetime_ms; /* 60 s .. 7 d, used in whole seconds */

    /* The demo page (docs/demo.md, gateway/demo_page.h). */
    bool demo_page; /* a plain GET / or /demo on the public listeners gets the page */

    /* PostgreSQL history (docs/storage.md): one batch writer per worker when set. */
    char *postgres_url;               /* never NULL after defaults; "" = no database */
    bool postgres_migrate;            /* apply storage/migrations/ at start */
    uint64_t postgres_queue_messages; /* per worker: accepted and not yet stored */
    uint64_t postgres_batch_messages; /* a batch is written at this many waiting ... */
    uint64_t postgres_flush_delay_ms; /* ... or this long after the oldest arrived */
    uint64_t postgres_retain_days;    /* daily history partitions dropped after; 0 = keep */

    /* Redis user status (docs/storage.md): one user_status per worker when set. */
    char *redis_url;               /* never NULL after defaults; "" = user status off */
    char *redis_key_prefix;        /* never NULL after defaults; at most 64 bytes */
    uint64_t user_max_connections; /* per user across the cluster; 0: no limit */
    uint64_t user_status_ttl_ms;   /* a silent node's users stop counting after this */

    /* Worker-to-worker mailboxes (core/mailbox.h). */
    uint64_t mailbox_ring_slots;   /* items per ring; a power of two, 64..65536 */
    uint64_t mailbox_overflow_max; /* items a worker may hold back when a ring is full */

    struct gw_namespaces namespaces; /* `namespace.NAME.OPTION`; items[0] is "default" */
};

/* Values of tls_min_version: "1.2", "1.3" (NULL-terminated). */
extern const char *const gw_tls_versions[];

extern const struct config_option gw_option_table[];
extern const size_t gw_option_count;

/* Applies defaults; returns 0 or -1 with err. */
int gw_options_defaults(struct gw_options *o, char err[CONFIG_ERROR_BYTES]);

/* Cross-option checks that one option's range cannot express: recv_buffer_count and
 * mailbox_ring_slots powers of two, idle_timeout > ping_interval, max_publish_bytes <
 * max_message_bytes (unless echo), at most 16 jwt_keys, api_keys well-formed (never quoted
 * in err), durable namespaces only with postgres_url, redis_url parsable (storage/redis_url.h),
 * redis_key_prefix at most 64 bytes, user_max_connections only with redis_url, proxy_trusted valid
 * ranges and set whenever proxy_protocol is not off, tls_certs well-formed (at most 32 `cert:key`
 * pairs) and tls_listen on another port than listen, not both demo_page and echo. The certificate
 * files themselves are read by gw_tls_init (gateway/tls_setup.h). Returns 0 or -1 with err. */
int gw_options_validate(const struct gw_options *o, char err[CONFIG_ERROR_BYTES]);

/* Frees every owned string, list and the namespaces. */
void gw_options_free(struct gw_options *o);

#endif
