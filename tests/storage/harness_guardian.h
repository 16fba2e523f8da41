/* What the throwaway-server harnesses (pg_harness.h, redis_harness.h) share: a free loopback
 * port, and a guardian process that cleans up after the test process whatever way it ends.
 *
 * The guardian is forked at start, in a session of its own (a kill of the test's process
 * group, as a ctest timeout does, does not reach it), ignoring SIGINT and SIGTERM. It waits
 * for EOF on a pipe only the test process holds: the test closed it (harness_guardian_stop)
 * or ended (returned, failed an assertion, crashed). Then it calls `stop_server(arg)` to stop
 * the server, removes `dir` with `rm -rf`, and exits. */
#ifndef TIDEGATE_TESTS_HARNESS_GUARDIAN_H
#define TIDEGATE_TESTS_HARNESS_GUARDIAN_H

#include <sys/types.h>

struct harness_guardian {
    pid_t pid;    /* 0 when none runs */
    int write_fd; /* the pipe's write end; -1 when none */
};

/* Forks the guardian. `stop_server` runs in the guardian's process with `arg` as it was at
 * the fork (a copy), so it must read what it needs from files (a pid file), not from memory
 * the test changes later. `dir` is copied. Returns 0, or -1 with errno set. */
int harness_guardian_start(struct harness_guardian *g, const char *dir,
                           void (*stop_server)(const void *arg), const void *arg);

/* Closes the pipe and waits for the guardian to stop the server and remove the directory. */
void harness_guardian_stop(struct harness_guardian *g);

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. The caller retries when a server
 * then fails to bind it (another process may take it in between). */
int harness_free_port(void);

#endif
