/* The server: owns the options, the workers and the server thread's loop (admin listener
 * and signals). server_run is the whole life of the process after option parsing. */
#ifndef TIDEGATE_GATEWAY_SERVER_H
#define TIDEGATE_GATEWAY_SERVER_H

#include "gateway/auth_keys.h"
#include "gateway/options.h"
#include "gateway/tls_setup.h"

/* What SIGHUP runs on the server thread: the caller reads its options again and applies the
 * ones that may change while running (main.c: log_level, and the TLS certificates through
 * gw_tls_reload). */
struct server_reload {
    void (*fn)(void *ctx);
    void *ctx;
};

/* Probes io_uring, opens the listeners, starts the workers, serves until SIGTERM or SIGINT,
 * then drains: /readyz turns 503, listeners close, every connection gets its `disconnect`
 * notice and close 1001 spread over drain_window, and what is left after drain_window +
 * close_timeout is cut; then frees everything. SIGHUP calls `reload` (may be NULL).
 * `auth` (the JWT keys and policy, gateway/auth_keys.h), `tls` (the wss certificates,
 * gateway/tls_setup.h: with tls->on the wss listener opens on tls_listen) and `reload` are
 * borrowed: the caller keeps them until server_run returns (`tls` changes only by
 * gw_tls_reload, on this thread). Returns the process exit code: 0 after a clean stop, 1
 * when it could not start. */
int server_run(const struct gw_options *opts, const struct gw_auth *auth, struct gw_tls *tls,
               const struct server_reload *reload);

#endif
