/* The storage tests' loop: see storage_test_loop.h. */
#include "storage_test_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/pg_conn.h"
#include "storage/redis_conn.h"

static void test_dispatch(void *ctx, const struct io_uring_cqe *cqe)
{
    (void)ctx;
    switch (loop_udata_tag(cqe->user_data)) {
    case STORAGE_TEST_TAG_PG:
        pg_conn_dispatch(loop_udata_owner(cqe->user_data), cqe);
        return;
    case STORAGE_TEST_TAG_REDIS:
        redis_conn_dispatch(loop_udata_owner(cqe->user_data), cqe);
        return;
    default:
        fprintf(stderr, "storage_test_loop: completion with unknown tag %u\n",
                loop_udata_tag(cqe->user_data));
        abort();
    }
}

static void test_timer(struct tw_timer *timer, void *ctx)
{
    struct storage_test_loop *t = ctx;
    if (timer == &t->tick) {
        uint64_t now_ms = t->loop.now_ms;
        uint64_t late_ms = now_ms > timer->expires_ms ? now_ms - timer->expires_ms : 0;
        if (late_ms > t->tick_late_ms_max)
            t->tick_late_ms_max = late_ms;
        tw_arm(&t->loop.wheel, &t->tick, now_ms + STORAGE_TEST_TICK_MS);
        return;
    }
    for (int i = 0; i < STORAGE_TEST_OWNERS_MAX; i++)
        if (t->owners[i].fn != NULL && t->owners[i].fn(t->owners[i].owner, timer))
            return;
    fprintf(stderr, "storage_test_loop: a timer nobody owns expired\n");
    abort();
}

int storage_test_loop_init(struct storage_test_loop *t)
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
        fprintf(stderr, "storage_test_loop: %s\n", err);
        return -1;
    }
    tw_timer_init(&t->tick);
    tw_arm(&t->loop.wheel, &t->tick, t->loop.now_ms + STORAGE_TEST_TICK_MS);
    return 0;
}

void storage_test_loop_add(struct storage_test_loop *t, storage_test_timer_fn fn, void *owner)
{
    for (int i = 0; i < STORAGE_TEST_OWNERS_MAX; i++)
        if (t->owners[i].fn == NULL) {
            t->owners[i].fn = fn;
            t->owners[i].owner = owner;
            return;
        }
    fprintf(stderr, "storage_test_loop: more than %d timer owners\n", STORAGE_TEST_OWNERS_MAX);
    abort();
}

void storage_test_loop_remove(struct storage_test_loop *t, const void *owner)
{
    for (int i = 0; i < STORAGE_TEST_OWNERS_MAX; i++) {
        if (t->owners[i].owner == owner) {
            t->owners[i].fn = NULL;
            t->owners[i].owner = NULL;
        }
    }
}

bool storage_test_loop_run(struct storage_test_loop *t, bool (*done)(void *arg), void *arg,
                           uint64_t timeout_ms)
{
    uint64_t deadline_ms = loop_clock_ms() + timeout_ms;
    /* Time spent outside the loop (the test's own steps) is not a stall of the loop. */
    tw_arm(&t->loop.wheel, &t->tick, loop_clock_ms() + STORAGE_TEST_TICK_MS);
    while (!done(arg)) {
        if (loop_clock_ms() >= deadline_ms)
            return false;
        if (t->on_turn != NULL)
            t->on_turn(t->on_turn_arg);
        uint64_t wait_ms = t->wait_ms_max > 0 ? t->wait_ms_max : STORAGE_TEST_WAIT_MS_DEFAULT;
        if (loop_run_once(&t->loop, wait_ms) != 0) {
            fprintf(stderr, "storage_test_loop: io_uring_enter failed\n");
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

void storage_test_loop_spin(struct storage_test_loop *t, uint64_t ms)
{
    storage_test_loop_run(t, test_never, NULL, ms);
}

void storage_test_loop_destroy(struct storage_test_loop *t)
{
    loop_destroy(&t->loop);
}
