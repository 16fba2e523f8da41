/* An io_uring loop for the storage tests and the storage benchmark: completions go to
 * pg_conn_dispatch (tag STORAGE_TEST_TAG_PG; the owner is a struct pg_conn's poll) or
 * redis_conn_dispatch (tag STORAGE_TEST_TAG_REDIS), timer expiries are offered to the
 * registered owners in turn, and it runs until a condition holds or a deadline passes.
 *
 * A ticker timer fires every STORAGE_TEST_TICK_MS while the loop runs and records how late
 * it ran at most: a test shows that nothing stalled the loop (a blocking connect, a wait for
 * a server) by that lateness staying small. */
#ifndef TIDEGATE_TESTS_STORAGE_TEST_LOOP_H
#define TIDEGATE_TESTS_STORAGE_TEST_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"

enum {
    STORAGE_TEST_TAG_PG = 1,
    STORAGE_TEST_TAG_REDIS = 2,
    STORAGE_TEST_OWNERS_MAX = 8,
    STORAGE_TEST_TICK_MS = 5,
    STORAGE_TEST_WAIT_MS_DEFAULT = 50,
};

/* Offered every expired timer that is not the ticker; true when it was `owner`'s. */
typedef bool (*storage_test_timer_fn)(void *owner, struct tw_timer *t);

struct storage_test_loop {
    struct loop loop;
    struct {
        storage_test_timer_fn fn;
        void *owner;
    } owners[STORAGE_TEST_OWNERS_MAX];
    struct tw_timer tick;
    uint64_t tick_late_ms_max;  /* the ticker's worst lateness since init (or a reset to 0) */
    void (*on_turn)(void *arg); /* optional: called once per turn (tests that feed load) */
    void *on_turn_arg;
    uint64_t wait_ms_max; /* longest sleep of a turn; 0 means 50 (a paced feeder wants 1) */
};

/* Creates the loop in this thread; returns 0 or -1 after printing why. */
int storage_test_loop_init(struct storage_test_loop *t);

/* Registers `owner`'s timers (e.g. a wrapper of redis_conn_on_timer) in the first free slot;
 * aborts when all STORAGE_TEST_OWNERS_MAX are taken. */
void storage_test_loop_add(struct storage_test_loop *t, storage_test_timer_fn fn, void *owner);
/* Forgets every registration of `owner`. */
void storage_test_loop_remove(struct storage_test_loop *t, const void *owner);

/* Runs turns until done(arg) is true (checked before each turn) or `timeout_ms` passes.
 * Returns whether done() became true. */
bool storage_test_loop_run(struct storage_test_loop *t, bool (*done)(void *arg), void *arg,
                           uint64_t timeout_ms);
/* Runs turns for `ms` milliseconds. */
void storage_test_loop_spin(struct storage_test_loop *t, uint64_t ms);

void storage_test_loop_destroy(struct storage_test_loop *t);

#endif
