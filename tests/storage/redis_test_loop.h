/* An io_uring loop for the Redis tests: completions with tag REDIS_TEST_TAG go to
 * redis_conn_dispatch (the owner is a struct redis_poll), timer expiries are offered to the
 * registered owners in turn; runs until a condition holds or a deadline passes.
 *
 * A ticker timer fires every REDIS_TEST_TICK_MS while the loop runs and records how late it
 * ran at most: a test shows that nothing stalled the loop (a blocking connect, a wait for
 * Redis) by that lateness staying small. */
#ifndef TIDEGATE_TESTS_REDIS_TEST_LOOP_H
#define TIDEGATE_TESTS_REDIS_TEST_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"

enum { REDIS_TEST_TAG = 1, REDIS_TEST_OWNERS_MAX = 8, REDIS_TEST_TICK_MS = 5 };

typedef bool (*redis_test_timer_fn)(void *owner, struct tw_timer *t);

struct redis_test_loop {
    struct loop loop;
    struct {
        redis_test_timer_fn fn;
        void *owner;
    } owners[REDIS_TEST_OWNERS_MAX];
    struct tw_timer tick;
    uint64_t tick_late_ms_max; /* the ticker's worst lateness since init (or a reset to 0) */
};

/* Creates the loop in this thread; returns 0 or -1 after printing why. */
int redis_test_loop_init(struct redis_test_loop *t);
/* Registers `owner`'s timers (e.g. redis_conn_on_timer); the first free slot. */
void redis_test_loop_add(struct redis_test_loop *t, redis_test_timer_fn fn, void *owner);
void redis_test_loop_remove(struct redis_test_loop *t, const void *owner);

/* Runs turns until done(arg) is true (checked before each turn) or `timeout_ms` passes.
 * Returns whether done() became true. */
bool redis_test_loop_run(struct redis_test_loop *t, bool (*done)(void *arg), void *arg,
                         uint64_t timeout_ms);
/* Runs turns for `ms` milliseconds. */
void redis_test_loop_spin(struct redis_test_loop *t, uint64_t ms);

void redis_test_loop_destroy(struct redis_test_loop *t);

#endif
