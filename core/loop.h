/* The per-thread event loop: one io_uring, one timing wheel, one dispatch function.
 *
 * Every in-flight operation carries a user_data that packs an owner pointer (8-byte
 * aligned) with a 3-bit tag (loop_udata); the loop hands each completion to the owner's
 * dispatch function, which switches on the tag. So an owner needs no per-operation struct,
 * which keeps idle connections small.
 *
 * The ring is created with SINGLE_ISSUER and DEFER_TASKRUN: only the thread that calls
 * loop_init may touch it afterwards (other threads wake it with MSG_RING through their own
 * ring). Time is read once per turn (loop->now_ms) and drives the timing wheel; the wait for
 * completions is bounded by the wheel's next expiry through io_uring's own timeout argument,
 * so timers cost no extra SQE and no timerfd.
 */
#ifndef TIDEGATE_CORE_LOOP_H
#define TIDEGATE_CORE_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/timer_wheel.h"

enum { LOOP_ERROR_BYTES = 512 };

/* Tags 0..7 are the owner's to define; user_data 0 is reserved for "ignore this CQE". */
#define LOOP_UDATA_IGNORE ((uint64_t)0)
static inline uint64_t loop_udata(void *owner, unsigned tag)
{
    return (uint64_t)(uintptr_t)owner | (tag & 7u);
}
static inline void *loop_udata_owner(uint64_t user_data)
{
    return (void *)(uintptr_t)(user_data & ~(uint64_t)7);
}
static inline unsigned loop_udata_tag(uint64_t user_data)
{
    return (unsigned)(user_data & 7u);
}

/* Called once per completion (never for LOOP_UDATA_IGNORE). */
typedef void (*loop_dispatch_fn)(void *ctx, const struct io_uring_cqe *cqe);
/* Called once per turn after completions and timers are processed and before the loop
 * submits and sleeps: where owners batch their sends. May be NULL. */
typedef void (*loop_flush_fn)(void *ctx);

struct loop {
    struct io_uring ring;
    struct timer_wheel wheel;
    uint64_t now_ms; /* monotonic milliseconds, refreshed every turn */
    loop_dispatch_fn dispatch;
    loop_flush_fn flush;
    void *ctx;
    uint64_t sqe_waits; /* times the SQ was full and had to be submitted early */
};

struct loop_params {
    unsigned sq_entries; /* power of two, 1..32768 */
    unsigned cq_entries; /* power of two >= sq_entries */
    loop_dispatch_fn dispatch;
    loop_flush_fn flush;
    tw_expire_fn timer_expire; /* the wheel's expiry callback */
    void *ctx;                 /* passed to all three */
};

/* Checks, once per process, that this kernel gives tidegate every io_uring feature it
 * relies on. Returns 0, or -1 with `err` saying what is missing and how to allow it (for
 * example, a seccomp profile that blocks io_uring_setup, as Docker's default does). */
int loop_probe(char err[LOOP_ERROR_BYTES]);

/* Creates the ring (SINGLE_ISSUER, DEFER_TASKRUN, CQSIZE) in the calling thread. */
int loop_init(struct loop *l, const struct loop_params *params, char err[LOOP_ERROR_BYTES]);

/* Returns an SQE, submitting pending ones first when the SQ is full. Never NULL: if the
 * ring cannot take more even after a submit, it reaps completions until it can. */
struct io_uring_sqe *loop_sqe(struct loop *l);

/* One turn: flush, submit and wait (at most `max_wait_ms`, or less when a timer is due),
 * dispatch every ready completion, advance the wheel. Returns 0, or a negative errno from
 * io_uring_enter that is not EINTR/ETIME/EAGAIN/EBUSY (the caller logs it and stops). */
int loop_run_once(struct loop *l, uint64_t max_wait_ms);

/* Asks the loop of another thread to wake: posts a CQE with `user_data` on `target` through
 * this loop's ring (IORING_OP_MSG_RING). */
void loop_wake_other(struct loop *l, const struct loop *target, uint64_t user_data);

void loop_destroy(struct loop *l);

/* Monotonic clock in milliseconds. */
uint64_t loop_clock_ms(void);

#endif
