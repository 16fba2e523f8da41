/* The option table of the gateway. Adding an option: add the field to struct gw_options,
 * a row here, and a line to docs/configuration.md (tests/integration/test_config_cli.py
 * checks that --help and the doc list the same options). */
#include "gateway/options.h"

#include <stdio.h>
#include <string.h>

#define OPT(field) offsetof(struct gw_options, field)
#define KIB        ((uint64_t)1024)
#define MIB        (KIB * 1024)
#define SEC        ((uint64_t)1000)

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

const struct config_option gw_option_table[] = {
    {"listen", CONFIG_ADDR, OPT(listen), "0.0.0.0:8080", 0, 0, NULL,
     "Address of the public WebSocket listener; port 0 picks a free port shared by all "
     "workers."},
    {"admin_listen", CONFIG_ADDR, OPT(admin_listen), "127.0.0.1:9090", 0, 0, NULL,
     "Address of the admin listener (/healthz, /readyz, /metrics); keep it private."},
    {"workers", CONFIG_UINT, OPT(workers), "0", 0, GW_WORKERS_MAX, NULL,
     "Worker threads, each pinned to a core with its own io_uring; 0 means one per online "
     "CPU."},
    {"echo", CONFIG_BOOL, OPT(echo), "false", 0, 0, NULL,
     "Echo every data message back to its sender (for conformance tests and the Autobahn "
     "testsuite)."},
    {"max_message_bytes", CONFIG_SIZE, OPT(max_message_bytes), "1m", 1, 256 * MIB, NULL,
     "Largest data message a client may send, all fragments together; larger ones are "
     "closed with 1009."},
    {"max_header_bytes", CONFIG_SIZE, OPT(max_header_bytes), "8k", 256, 64 * KIB, NULL,
     "Largest HTTP upgrade request head; larger ones get 431."},
    {"max_headers", CONFIG_UINT, OPT(max_headers), "32", 4, 128, NULL,
     "Most header lines in the upgrade request; more get 431."},
    {"handshake_timeout", CONFIG_DURATION, OPT(handshake_timeout_ms), "5s", 100, 120 * SEC, NULL,
     "Time a new connection has to send its whole upgrade request; then 408."},
    {"ping_interval", CONFIG_DURATION, OPT(ping_interval_ms), "25s", 0, 3600 * SEC, NULL,
     "Interval of server pings on quiet connections, well inside load balancer idle "
     "timeouts; 0 disables."},
    {"idle_timeout", CONFIG_DURATION, OPT(idle_timeout_ms), "60s", 0, 24 * 3600 * SEC, NULL,
     "A connection that sends nothing (not even a pong) for this long is closed with 1001; "
     "0 disables."},
    {"close_timeout", CONFIG_DURATION, OPT(close_timeout_ms), "5s", 100, 120 * SEC, NULL,
     "Time a peer has to answer our close frame (or read an error reply) before the TCP "
     "connection is cut."},
    {"allowed_origins", CONFIG_LIST, OPT(allowed_origins), "", 0, 0, NULL,
     "Origins allowed to connect, e.g. https://app.example.com; empty allows any (browsers "
     "then need another defence against cross-site WebSocket hijacking)."},
    {"subprotocols", CONFIG_LIST, OPT(subprotocols), "", 0, 0, NULL,
     "Subprotocols we speak, in order of preference; empty negotiates none."},
    {"send_queue_bytes_max", CONFIG_SIZE, OPT(send_queue_bytes_max), "1m", 4 * KIB, 1024 * MIB,
     NULL,
     "Unsent bytes a connection may have queued before more are refused and it is closed "
     "with 1008 (slow consumer)."},
    {"max_connections", CONFIG_UINT, OPT(max_connections), "100000", 1, 100000000, NULL,
     "Open connections per process; further ones get 503."},
    {"recv_buffer_bytes", CONFIG_SIZE, OPT(recv_buffer_bytes), "16k", 1 * KIB, 1 * MIB, NULL,
     "Size of each provided receive buffer (shared by a worker's connections)."},
    {"recv_buffer_count", CONFIG_UINT, OPT(recv_buffer_count), "512", 16, 32768, NULL,
     "Provided receive buffers per worker; a power of two."},
    {"listen_backlog", CONFIG_UINT, OPT(listen_backlog), "4096", 16, 65535, NULL,
     "Accept backlog of each listening socket (capped by net.core.somaxconn)."},
    {"log_level", CONFIG_ENUM, OPT(log_level), "info", 0, 0, log_levels,
     "Lowest level logged to stderr: debug, info, warn or error."},
};
const size_t gw_option_count = sizeof gw_option_table / sizeof gw_option_table[0];

int gw_options_defaults(struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    memset(o, 0, sizeof *o);
    return config_defaults(gw_option_table, gw_option_count, o, err);
}

int gw_options_validate(const struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    uint64_t n = o->recv_buffer_count;
    if ((n & (n - 1)) != 0) {
        snprintf(err, CONFIG_ERROR_BYTES,
                 "recv_buffer_count = %llu: expected a power of two (16, 32, ... 32768)",
                 (unsigned long long)n);
        return -1;
    }
    if (o->idle_timeout_ms != 0 && o->ping_interval_ms != 0 &&
        o->idle_timeout_ms <= o->ping_interval_ms) {
        snprintf(err, CONFIG_ERROR_BYTES,
                 "idle_timeout (%llums) must be longer than ping_interval (%llums), or clients "
                 "answering our pings would still time out",
                 (unsigned long long)o->idle_timeout_ms, (unsigned long long)o->ping_interval_ms);
        return -1;
    }
    return 0;
}

void gw_options_free(struct gw_options *o)
{
    config_free(gw_option_table, gw_option_count, o);
}
