/* The server: owns the options, the workers and the server thread's loop (admin listener
 * and signals). server_run is the whole life of the process after option parsing. */
#ifndef TIDEGATE_GATEWAY_SERVER_H
#define TIDEGATE_GATEWAY_SERVER_H

#include "gateway/auth_keys.h"
#include "gateway/options.h"

/* Probes io_uring, opens the listeners, starts the workers, serves until SIGTERM or SIGINT,
 * then closes every connection with 1001 (within close_timeout) and frees everything.
 * `auth` (the JWT keys and policy, gateway/auth_keys.h) is borrowed: the caller keeps it,
 * unchanged, until server_run returns. Returns the process exit code: 0 after a clean stop,
 * 1 when it could not start. */
int server_run(const struct gw_options *opts, const struct gw_auth *auth);

#endif
