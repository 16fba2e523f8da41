/* A throwaway PostgreSQL server for the storage tests and the storage benchmark.
 *
 * pg_harness_start creates a temporary directory, initdb's a cluster in it, starts postgres
 * on a free 127.0.0.1 port with its unix socket in that directory, and creates the database
 * "tidegate" (superuser "tidegate", trust authentication: loopback only, test data only).
 *
 * Running as root: initdb and postgres refuse to run as root, so every server command runs
 * as the unprivileged user `postgres` (created by Debian's postgresql package; `nobody` if
 * it does not exist) through `runuser -u USER --`, and the directory is chowned to it. As
 * any other user, the commands run as that user.
 *
 * Cleanup does not depend on the test ending well: a guardian process forked at start waits
 * for the test process to end (EOF on a pipe only the test holds) and then stops the server
 * (`pg_ctl stop -m immediate`) and deletes the directory, whether the test returned,
 * failed an assertion or crashed.
 */
#ifndef TIDEGATE_TESTS_PG_HARNESS_H
#define TIDEGATE_TESTS_PG_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness_guardian.h"

struct pg_harness {
    char dir[128];                    /* the temporary directory: data/, the socket, server.log */
    char bindir[256];                 /* PostgreSQL's server binaries */
    char user[32];                    /* who runs the server ("" = this process's user) */
    int port;                         /* 127.0.0.1 */
    bool durable;                     /* fsync on (benchmarks); the tests run with fsync off */
    struct harness_guardian guardian; /* cleans up when this process ends */
    char conninfo[384];               /* to database "tidegate" over TCP */
};

/* Starts a server. `durable` keeps fsync and full_page_writes on. Returns 0, or -1 after
 * printing why on stderr (the server log's tail included). */
int pg_harness_start(struct pg_harness *h, bool durable);

/* Stops the server (pg_ctl stop -m fast) / starts it again on the same port and data. */
int pg_harness_server_stop(struct pg_harness *h);
int pg_harness_server_start(struct pg_harness *h);

/* Stops the server and removes the directory (the guardian does it; this waits for it). */
void pg_harness_destroy(struct pg_harness *h);

/* Creates database `name` (an SQL identifier) and writes a connection string for it.
 * Returns 0, or -1 after printing why. */
int pg_harness_create_db(const struct pg_harness *h, const char *name, char *conninfo,
                         size_t conninfo_bytes);

/* A blocking connection to database "tidegate"; NULL after printing why. */
PGconn *pg_harness_connect(const struct pg_harness *h);

/* Runs `sql`; 0 when it succeeded, else -1 after printing the error. */
int pg_harness_exec(PGconn *pg, const char *sql);

/* The first column of the first row of `sql` as an integer; -1 (after printing why) on an
 * error, no row or NULL. */
long long pg_harness_value(PGconn *pg, const char *sql);

#endif
