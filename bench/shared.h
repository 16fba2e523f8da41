/* Memory shared by the coordinating parent and every harness process (one anonymous
 * MAP_SHARED mapping made before fork, so pointers in it are valid in all of them).
 *
 * The parent alone moves the phase forward; threads poll it every few milliseconds. The
 * times a phase needs (the run's start and end) are written before the phase is stored
 * with release order, and read after it is loaded with acquire order. Live counters are
 * running totals that threads add to (relaxed) so the parent can show progress and decide
 * when a phase is over; the exact figures come from the per-process results at the end.
 */
#ifndef TIDEGATE_BENCH_SHARED_H
#define TIDEGATE_BENCH_SHARED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/params.h"
#include "bench/result.h"

enum bench_phase {
    PHASE_INIT,  /* threads set up their rings */
    PHASE_RAMP,  /* connections are opened */
    PHASE_RUN,   /* the measured phase: send, hold, churn (storm: hold) */
    PHASE_DRAIN, /* sending stopped; waiting for what is on its way */
    PHASE_STORM, /* everyone reconnects at once */
    PHASE_DONE,  /* threads count what was lost and exit */
};

enum bench_live {
    LIVE_STARTED,
    LIVE_READY,
    LIVE_FAILED,
    LIVE_LOST,
    LIVE_CLOSED,
    LIVE_SENT,
    LIVE_RECEIVED, /* deliveries and echo replies */
    LIVE_EXPECTED, /* what should arrive for what was sent so far */
    LIVE_THREADS_UP,
    LIVE_THREADS_DONE,
    LIVE_THREADS_FAILED,
    LIVE_COUNT
};

struct bench_shared {
    _Atomic int phase;
    uint64_t origin_ns;              /* timeline origin: the start of the ramp */
    _Atomic uint64_t run_start_ns;   /* when senders start (set before PHASE_RUN) */
    _Atomic uint64_t storm_start_ns; /* set before PHASE_STORM */
    _Atomic uint64_t live[LIVE_COUNT];
    _Atomic uint32_t *subs_ready; /* fanout: ready subscribers per channel */
    _Atomic uint64_t *published;  /* fanout: messages written per publisher */
    struct bench_result *results; /* one per process, written once at its end */
    size_t mapping_bytes;
};

/* Maps the shared block for `p` (p->threads already resolved). NULL on failure. */
struct bench_shared *bench_shared_create(const struct bench_params *p);
void bench_shared_destroy(struct bench_shared *s);

static inline uint64_t bench_live(struct bench_shared *s, enum bench_live which)
{
    return atomic_load_explicit(&s->live[which], memory_order_relaxed);
}

#endif
