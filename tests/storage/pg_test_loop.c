/* The storage tests' loop: see pg_test_loop.h. */
#include "pg_test_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/pg_conn.h"

static void test_dispatch(void *ctx, const struct io_uring_cqe *cqe)
{
    (void)ctx;
    if (loop_udata_tag(cqe->user_data) != PG_TEST_TAG) {
        fprintf(stderr, "pg_test_loop: completion with unknown tag %u\n",
                loop_udata_tag(cqe->user_data));
        abort();
    }
    pg_conn_dispatch(loop_udata_owner(cqe->user_data), cqe);
}

static void test_timer(struct tw_timer *timer, void *ctx)
{
    struct pg_test_loop *t = ctx;
    for (int i = 0; i < PG_TEST_OWNERS_MAX; i++) {
        if (t->writers[i] != NULL && pg_writer_on_timer(t->writers[i], timer))
            return;
        if (t->readers[i] != NULL && pg_reader_on_timer(t->readers[i], timer))
            return;
    }
    fprintf(stderr, "pg_test_loop: a timer nobody owns expired\n");
    abort();
}

int pg_test_loop_init(struct pg_test_loop *t)
{
    memset(t, 0, sizeof *t);
    struct loop_params params = {
        .sq_entries = 256,
        .cq_entries = 1024,
        .dispatch = test_dispatch,
        .timer_expire = test_timer,
        .ctx = t,
    };
    char err[LOOP_ERROR_BYTES];
    if (loop_init(&t->loop, &params, err) != 0) {
        fprintf(stderr, "pg_test_loop: %s\n", err);
        return -1;
    }
    return 0;
}

void pg_test_loop_add_writer(struct pg_test_loop *t, struct pg_writer *w)
{
    for (int i = 0; i < PG_TEST_OWNERS_MAX; i++)
        if (t->writers[i] == NULL) {
            t->writers[i] = w;
            return;
        }
    abort();
}

void pg_test_loop_add_reader(struct pg_test_loop *t, struct pg_reader *r)
{
    for (int i = 0; i < PG_TEST_OWNERS_MAX; i++)
        if (t->readers[i] == NULL) {
            t->readers[i] = r;
            return;
        }
    abort();
}

void pg_test_loop_remove(struct pg_test_loop *t, const void *owner)
{
    for (int i = 0; i < PG_TEST_OWNERS_MAX; i++) {
        if (t->writers[i] == owner)
            t->writers[i] = NULL;
        if (t->readers[i] == owner)
            t->readers[i] = NULL;
    }
}

bool pg_test_loop_run(struct pg_test_loop *t, bool (*done)(void *arg), void *arg,
                      uint64_t timeout_ms)
{
    uint64_t deadline_ms = loop_clock_ms() + timeout_ms;
    while (!done(arg)) {
        if (loop_clock_ms() >= deadline_ms)
            return false;
        if (t->on_turn != NULL)
            t->on_turn(t->on_turn_arg);
        if (loop_run_once(&t->loop, t->wait_ms_max > 0 ? t->wait_ms_max : 50) != 0) {
            fprintf(stderr, "pg_test_loop: io_uring_enter failed\n");
            abort();
        }
    }
    return true;
}

static bool test_never(void *arg)
{
    (void)arg;
    return false;
}

void pg_test_loop_spin(struct pg_test_loop *t, uint64_t ms)
{
    pg_test_loop_run(t, test_never, NULL, ms);
}

void pg_test_loop_destroy(struct pg_test_loop *t)
{
    loop_destroy(&t->loop);
}
