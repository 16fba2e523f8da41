/* A throwaway Redis server for the storage tests.
 *
 * redis_harness_start creates a temporary directory and starts `redis-server` (Debian's
 * redis-server package, 7.x) in the foreground as a child of the test, on a free 127.0.0.1
 * port and on the unix socket DIR/redis.sock, with persistence off (`--save ''
 * --appendonly no`), its log and pid file in that directory. It never uses a system Redis (Debian
 * starts one on port 6379 when the package is installed; the tests neither need nor touch it).
 *
 * Cleanup does not depend on the test ending well: the server dies with the test process
 * (PR_SET_PDEATHSIG), and a guardian process forked at start waits for the test process to
 * end (EOF on a pipe only the test holds), then kills whatever server the pid file names
 * (checking it is a redis-server) and deletes the directory, whether the test returned,
 * failed an assertion, crashed or was killed by a ctest timeout.
 */
#ifndef TIDEGATE_TESTS_REDIS_HARNESS_H
#define TIDEGATE_TESTS_REDIS_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <sys/types.h>

#include "harness_guardian.h"

enum { REDIS_HARNESS_ARGS_MAX = 8 };

struct redis_harness {
    char dir[128];                    /* the temporary directory: redis.log, redis.pid */
    char binary[64];                  /* redis-server */
    int port;                         /* 127.0.0.1 */
    pid_t pid;                        /* the server, 0 while stopped */
    bool paused;                      /* SIGSTOPped */
    struct harness_guardian guardian; /* cleans up when this process ends */
    const char *extra[REDIS_HARNESS_ARGS_MAX + 1]; /* more server arguments, NULL-ended */
    char url[96];                                  /* redis://127.0.0.1:port */
};

/* Starts a server; `extra` (NULL or NULL-ended, at most 8, static strings) adds arguments
 * such as "--requirepass", "secret". Returns 0, or -1 after printing why on stderr (the
 * server log's tail included). */
int redis_harness_start(struct redis_harness *h, const char *const *extra);

/* Kills the server with SIGKILL (a crash: no goodbye to its clients) and waits for it. */
int redis_harness_kill(struct redis_harness *h);
/* Starts it again on the same port (empty: persistence is off). */
int redis_harness_restart(struct redis_harness *h);
/* SIGSTOP / SIGCONT: a server that hangs, with its sockets still open. */
int redis_harness_pause(struct redis_harness *h);
int redis_harness_resume(struct redis_harness *h);

/* Kills the server and removes the directory (the guardian does it; this waits for it). */
void redis_harness_destroy(struct redis_harness *h);

/* A blocking client (for checks beside the code under test; `password` may be NULL). NULL
 * after printing why. */
redisContext *redis_harness_connect(const struct redis_harness *h, const char *password);

/* Runs a command (printf-like, hiredis's format) on `ctx` and returns its integer reply, or
 * -1 after printing why (an error, another type). A nil reply gives 0. */
long long redis_harness_int(redisContext *ctx, const char *format, ...);

#endif
