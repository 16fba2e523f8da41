/* The process's TLS server for wss (docs/tls.md): the tls_* options turned into a
 * tls_current (core/tls.h) once at start, and rebuilt from the files on SIGHUP.
 *
 * Every certificate and key file is read and checked at start (main.c, before the server
 * starts and for --check-config), so a missing file or a key that does not belong to its
 * certificate stops the start with a sentence instead of failing the first handshake.
 *
 * Threads: init, reload and destroy run on the main thread (the server thread); workers only
 * call tls_current_acquire on `current`, which is thread-safe.
 */
#ifndef TIDEGATE_GATEWAY_TLS_SETUP_H
#define TIDEGATE_GATEWAY_TLS_SETUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/tls.h"
#include "gateway/options.h"

struct gw_tls {
    bool on;                    /* tls_certs was set at start: the wss listener is open */
    bool tickets;               /* tls_tickets at start (they cannot be turned on later) */
    struct tls_current current; /* valid when on */
    uint64_t reloads_ok;        /* SIGHUP reloads that swapped the certificates in */
    uint64_t reloads_failed;    /* ... that kept the old ones */
};

/* Builds the server from o->tls_certs, tls_min_version, tls_tickets, tls_ticket_lifetime.
 * With no tls_certs, TLS is off (t->on false) and nothing is read. Returns 0, or -1 with a
 * sentence in err that names the option and the file ("tls_certs: tls_key /etc/b.key: does
 * not match the certificate in /etc/a.pem"). */
int gw_tls_init(struct gw_tls *t, const struct gw_options *o, char err[CONFIG_ERROR_BYTES]);

/* SIGHUP: reads the files `fresh` names again (tls_certs, tls_min_version, tls_tickets, which
 * can be turned off but not on) and makes the result the server for new connections; open
 * connections keep theirs. On failure the old server stays. Logs the outcome and counts it.
 * Does nothing when TLS is off. */
void gw_tls_reload(struct gw_tls *t, const struct gw_options *fresh);

/* Logs, at info, each certificate new connections may get: its file and its names. */
void gw_tls_log_certificates(struct gw_tls *t);

/* Writes tidegate_tls_reloads_total{result} and tidegate_tls_certificates (the certificate
 * pairs new connections get; 0 when TLS is off). */
void gw_tls_render_metrics(FILE *out, struct gw_tls *t);

/* Frees the server; every worker (and so every session) must be gone. */
void gw_tls_destroy(struct gw_tls *t);

#endif
