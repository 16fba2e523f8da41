/* The gateway's options: one struct, one table. The table (options.c) is the single source
 * for the config file, the command line, --help and docs/configuration.md. */
#ifndef TIDEGATE_GATEWAY_OPTIONS_H
#define TIDEGATE_GATEWAY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

enum { GW_WORKERS_MAX = 256 };

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
};

extern const struct config_option gw_option_table[];
extern const size_t gw_option_count;

/* Applies defaults; returns 0 or -1 with err. */
int gw_options_defaults(struct gw_options *o, char err[CONFIG_ERROR_BYTES]);

/* Cross-option checks that one option's range cannot express. Returns 0 or -1 with err. */
int gw_options_validate(const struct gw_options *o, char err[CONFIG_ERROR_BYTES]);

void gw_options_free(struct gw_options *o);

#endif
