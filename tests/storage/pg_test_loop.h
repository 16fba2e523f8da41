/* An io_uring loop for the storage tests: routes completions with tag PG_TEST_TAG to
 * pg_conn_dispatch and timer expiries to the writers and readers it knows, and runs until a
 * condition holds or a deadline passes. */
#ifndef TIDEGATE_TESTS_PG_TEST_LOOP_H
#define TIDEGATE_TESTS_PG_TEST_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "storage/pg_reader.h"
#include "storage/pg_writer.h"

enum { PG_TEST_TAG = 1, PG_TEST_OWNERS_MAX = 4 };

struct pg_test_loop {
    struct loop loop;
    struct pg_writer *writers[PG_TEST_OWNERS_MAX];
    struct pg_reader *readers[PG_TEST_OWNERS_MAX];
    void (*on_turn)(void *arg); /* optional: called once per turn (tests that feed load) */
    void *on_turn_arg;
    uint64_t wait_ms_max; /* longest sleep of a turn; 0 means 50 (a paced feeder wants 1) */
};

/* Creates the loop in this thread; returns 0 or -1 after printing why. */
int pg_test_loop_init(struct pg_test_loop *t);
/* Registers a writer or reader for its timers (the first free slot). */
void pg_test_loop_add_writer(struct pg_test_loop *t, struct pg_writer *w);
void pg_test_loop_add_reader(struct pg_test_loop *t, struct pg_reader *r);
void pg_test_loop_remove(struct pg_test_loop *t, const void *owner);

/* Runs turns until done(arg) is true (checked before each turn) or `timeout_ms` passes.
 * Returns whether done() became true. */
bool pg_test_loop_run(struct pg_test_loop *t, bool (*done)(void *arg), void *arg,
                      uint64_t timeout_ms);
/* Runs turns for `ms` milliseconds. */
void pg_test_loop_spin(struct pg_test_loop *t, uint64_t ms);

void pg_test_loop_destroy(struct pg_test_loop *t);

#endif
