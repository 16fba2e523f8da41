/* The per-thread event loop: see loop.h. The one thing to know before changing it: with
 * DEFER_TASKRUN, completions only appear when this thread enters the kernel to wait, so
 * every turn must go through io_uring_submit_and_wait_timeout; peeking the CQ alone will
 * starve. */
#include "core/loop.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

enum { LOOP_SQE_RETRIES_MAX = 64, LOOP_CQE_BATCH = 256 };

uint64_t loop_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads /proc/sys/kernel/io_uring_disabled (Linux 6.6+): 0 allowed, 1 root or the
 * io_uring_group only, 2 disabled. Returns -1 when the file does not exist. */
static int loop_sysctl_disabled(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (f == NULL)
        return -1;
    int value = -1;
    if (fscanf(f, "%d", &value) != 1)
        value = -1;
    fclose(f);
    return value;
}

static int loop_probe_setup(struct io_uring *ring, char err[LOOP_ERROR_BYTES])
{
    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int ret = io_uring_queue_init_params(8, ring, &p);
    if (ret == 0) {
        if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
            io_uring_queue_exit(ring);
            snprintf(err, LOOP_ERROR_BYTES,
                     "io_uring lacks the EXT_ARG or NODROP feature (kernel older than 5.11); "
                     "tidegate needs Linux 6.1 or newer");
            return -1;
        }
        return 0;
    }
    if (ret == -ENOSYS || ret == -EPERM) {
        int disabled = loop_sysctl_disabled();
        if (disabled > 0)
            snprintf(err, LOOP_ERROR_BYTES,
                     "io_uring is disabled by sysctl kernel.io_uring_disabled=%d; set it to 0 "
                     "(sysctl -w kernel.io_uring_disabled=0)",
                     disabled);
        else
            snprintf(err, LOOP_ERROR_BYTES,
                     "io_uring_setup is not permitted (%s): a seccomp profile blocks it, as "
                     "Docker's default does; run with a profile that allows io_uring_setup, "
                     "io_uring_enter and io_uring_register (docker run --security-opt "
                     "seccomp=unconfined, or a custom profile)",
                     strerror(-ret));
    } else if (ret == -EINVAL) {
        snprintf(err, LOOP_ERROR_BYTES,
                 "io_uring refused SINGLE_ISSUER and DEFER_TASKRUN (kernel older than 6.1); "
                 "tidegate needs Linux 6.1 or newer");
    } else {
        snprintf(err, LOOP_ERROR_BYTES, "io_uring_setup failed: %s", strerror(-ret));
    }
    return -1;
}

int loop_probe(char err[LOOP_ERROR_BYTES])
{
    struct io_uring ring;
    if (loop_probe_setup(&ring, err) != 0)
        return -1;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
    if (probe == NULL) {
        io_uring_queue_exit(&ring);
        snprintf(err, LOOP_ERROR_BYTES, "io_uring opcode probe failed (kernel older than 5.6)");
        return -1;
    }
    static const struct {
        int op;
        const char *name;
    } needed[] = {
        {IORING_OP_ACCEPT, "ACCEPT"},
        {IORING_OP_RECV, "RECV"},
        {IORING_OP_SEND, "SEND"},
        {IORING_OP_SENDMSG, "SENDMSG"},
        {IORING_OP_MSG_RING, "MSG_RING"},
        {IORING_OP_READ, "READ"},
        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    };
    int ret = 0;
    for (size_t i = 0; i < sizeof needed / sizeof needed[0] && ret == 0; i++) {
        if (!io_uring_opcode_supported(probe, needed[i].op)) {
            snprintf(err, LOOP_ERROR_BYTES,
                     "io_uring lacks IORING_OP_%s (blocked by policy or kernel too old); "
                     "tidegate needs Linux 6.1 or newer",
                     needed[i].name);
            ret = -1;
        }
    }
    io_uring_free_probe(probe);
    if (ret == 0) {
        /* Provided buffer rings and multishot recv arrived in 5.19 with the same code. */
        struct io_uring_buf_reg reg = {0};
        static _Alignas(4096) uint8_t page[4096];
        reg.ring_addr = (uint64_t)(uintptr_t)page;
        reg.ring_entries = 1;
        reg.bgid = 0;
        int r = io_uring_register_buf_ring(&ring, &reg, 0);
        if (r != 0) {
            snprintf(err, LOOP_ERROR_BYTES,
                     "io_uring cannot register a provided-buffer ring (%s; kernel older than "
                     "5.19); tidegate needs Linux 6.1 or newer",
                     strerror(-r));
            ret = -1;
        } else {
            io_uring_unregister_buf_ring(&ring, 0);
        }
    }
    io_uring_queue_exit(&ring);
    return ret;
}

int loop_init(struct loop *l, const struct loop_params *params, char err[LOOP_ERROR_BYTES])
{
    assert(params->dispatch != NULL && params->timer_expire != NULL);
    assert(params->cq_entries >= params->sq_entries);
    memset(l, 0, sizeof *l);
    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = params->cq_entries;
    int ret = io_uring_queue_init_params(params->sq_entries, &l->ring, &p);
    if (ret != 0) {
        snprintf(err, LOOP_ERROR_BYTES, "io_uring_setup with %u entries failed: %s",
                 params->sq_entries, strerror(-ret));
        return -1;
    }
    l->dispatch = params->dispatch;
    l->flush = params->flush;
    l->ctx = params->ctx;
    l->now_ms = loop_clock_ms();
    tw_init(&l->wheel, l->now_ms, params->timer_expire, params->ctx);
    return 0;
}

struct io_uring_sqe *loop_sqe(struct loop *l)
{
    for (int attempt = 0; attempt < LOOP_SQE_RETRIES_MAX; attempt++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
        if (sqe != NULL)
            return sqe;
        l->sqe_waits++;
        /* The SQ is full: hand it to the kernel. -EBUSY means the CQ is backed up; fetching
         * completions into the CQ (not dispatching them) makes room. */
        int ret = io_uring_submit(&l->ring);
        if (ret == -EBUSY || ret == -EAGAIN)
            io_uring_get_events(&l->ring);
    }
    log_error("loop", "submission queue stays full", "retries=%d", LOOP_SQE_RETRIES_MAX);
    abort();
}

static void loop_dispatch_ready(struct loop *l)
{
    struct io_uring_cqe *cqes[LOOP_CQE_BATCH];
    for (;;) {
        unsigned n = io_uring_peek_batch_cqe(&l->ring, cqes, LOOP_CQE_BATCH);
        if (n == 0)
            return;
        for (unsigned i = 0; i < n; i++) {
            if (cqes[i]->user_data != LOOP_UDATA_IGNORE)
                l->dispatch(l->ctx, cqes[i]);
        }
        io_uring_cq_advance(&l->ring, n);
        if (n < LOOP_CQE_BATCH)
            return;
    }
}

int loop_run_once(struct loop *l, uint64_t max_wait_ms)
{
    if (l->flush != NULL)
        l->flush(l->ctx);
    uint64_t wait_ms = tw_next_timeout_ms(&l->wheel);
    uint64_t lag_ms = l->now_ms > l->wheel.now_ms ? l->now_ms - l->wheel.now_ms : 0;
    wait_ms = wait_ms > lag_ms ? wait_ms - lag_ms : 0;
    if (wait_ms > max_wait_ms)
        wait_ms = max_wait_ms;
    struct __kernel_timespec ts = {.tv_sec = (long long)(wait_ms / 1000),
                                   .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
    struct io_uring_cqe *cqe = NULL;
    int ret = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
    l->now_ms = loop_clock_ms();
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
        return ret;
    loop_dispatch_ready(l);
    tw_advance(&l->wheel, l->now_ms);
    return 0;
}

void loop_wake_other(struct loop *l, const struct loop *target, uint64_t user_data)
{
    struct io_uring_sqe *sqe = loop_sqe(l);
    io_uring_prep_msg_ring(sqe, target->ring.ring_fd, 0, user_data, 0);
    io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
}

void loop_destroy(struct loop *l)
{
    tw_cancel_all(&l->wheel);
    io_uring_queue_exit(&l->ring);
}
