/* The event loop on a real io_uring: multishot recv through the provided-buffer ring,
 * timers driving the wait, MSG_RING wake-ups between two loops, and the start-up probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/bufring.h"
#include "core/loop.h"

enum { TAG_RECV = 1, TAG_WAKE = 2 };

struct fixture {
    struct loop loop;
    struct bufring buffers;
    char received[8192];
    size_t received_len;
    int recv_completions;
    int recv_ended;
    int wakes;
    uint64_t wake_data;
    int timers_fired;
    uint64_t fired_at_ms;
};

static void on_cqe(void *ctx, const struct io_uring_cqe *cqe)
{
    struct fixture *f = ctx;
    switch (loop_udata_tag(cqe->user_data)) {
    case TAG_RECV:
        f->recv_completions++;
        if (cqe->res > 0) {
            uint16_t id = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            assert_true(cqe->flags & IORING_CQE_F_BUFFER);
            assert_true(f->received_len + (size_t)cqe->res <= sizeof f->received);
            memcpy(f->received + f->received_len, bufring_buffer(&f->buffers, id),
                   (size_t)cqe->res);
            f->received_len += (size_t)cqe->res;
            bufring_recycle(&f->buffers, id);
        }
        if (!(cqe->flags & IORING_CQE_F_MORE))
            f->recv_ended++;
        break;
    case TAG_WAKE:
        f->wakes++;
        f->wake_data = cqe->user_data;
        break;
    default:
        fail_msg("unexpected tag %u", loop_udata_tag(cqe->user_data));
    }
}

static void on_timer(struct tw_timer *t, void *ctx)
{
    struct fixture *f = ctx;
    (void)t;
    f->timers_fired++;
    f->fired_at_ms = f->loop.now_ms;
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    char err[LOOP_ERROR_BYTES];
    struct loop_params p = {.sq_entries = 64,
                            .cq_entries = 256,
                            .dispatch = on_cqe,
                            .timer_expire = on_timer,
                            .ctx = &f};
    assert_int_equal(loop_init(&f.loop, &p, err), 0);
    assert_int_equal(bufring_init(&f.buffers, &f.loop.ring, 7, 16, 64), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    bufring_destroy(&f->buffers, &f->loop.ring);
    loop_destroy(&f->loop);
    return 0;
}

static void arm_recv(struct fixture *f, int fd)
{
    struct io_uring_sqe *sqe = loop_sqe(&f->loop);
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = f->buffers.group_id;
    io_uring_sqe_set_data64(sqe, loop_udata(f, TAG_RECV));
}

static void this_kernel_passes_the_probe(void **state)
{
    (void)state;
    char err[LOOP_ERROR_BYTES] = "";
    assert_int_equal(loop_probe(err), 0);
    assert_string_equal(err, "");
}

static void multishot_recv_reads_through_provided_buffers(void **state)
{
    struct fixture *f = *state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    arm_recv(f, sv[0]);
    /* 1000 bytes through 64-byte buffers: many completions from one submission. */
    char sent[1000];
    for (size_t i = 0; i < sizeof sent; i++)
        sent[i] = (char)('a' + i % 26);
    for (int round = 0; round < 50 && f->received_len < sizeof sent; round++) {
        if (round == 0)
            assert_int_equal(write(sv[1], sent, sizeof sent), (ssize_t)sizeof sent);
        assert_int_equal(loop_run_once(&f->loop, 100), 0);
    }
    assert_int_equal(f->received_len, sizeof sent);
    assert_memory_equal(f->received, sent, sizeof sent);
    close(sv[1]); /* EOF ends the multishot */
    for (int round = 0; round < 50 && f->recv_ended == 0; round++)
        assert_int_equal(loop_run_once(&f->loop, 100), 0);
    assert_int_equal(f->recv_ended, 1);
    close(sv[0]);
}

static void the_wait_ends_when_a_timer_is_due(void **state)
{
    struct fixture *f = *state;
    struct tw_timer t;
    tw_timer_init(&t);
    uint64_t start = loop_clock_ms();
    tw_arm(&f->loop.wheel, &t, start + 30);
    for (int round = 0; round < 100 && f->timers_fired == 0; round++)
        assert_int_equal(loop_run_once(&f->loop, 10000), 0);
    assert_int_equal(f->timers_fired, 1);
    assert_true(f->fired_at_ms >= start + 30); /* never early */
}

static void msg_ring_wakes_another_loop(void **state)
{
    struct fixture *target = *state;
    static struct fixture other;
    memset(&other, 0, sizeof other);
    char err[LOOP_ERROR_BYTES];
    struct loop_params p = {.sq_entries = 8,
                            .cq_entries = 16,
                            .dispatch = on_cqe,
                            .timer_expire = on_timer,
                            .ctx = &other};
    assert_int_equal(loop_init(&other.loop, &p, err), 0);
    loop_wake_other(&other.loop, &target->loop, loop_udata(target, TAG_WAKE));
    assert_int_equal(loop_run_once(&other.loop, 0), 0); /* submits the MSG_RING */
    for (int round = 0; round < 20 && target->wakes == 0; round++)
        assert_int_equal(loop_run_once(&target->loop, 100), 0);
    assert_int_equal(target->wakes, 1);
    assert_int_equal(loop_udata_owner(target->wake_data), target);
    loop_destroy(&other.loop);
}

static void udata_packs_owner_and_tag(void **state)
{
    (void)state;
    static _Alignas(8) char owner[8];
    for (unsigned tag = 0; tag < 8; tag++) {
        uint64_t u = loop_udata(owner, tag);
        assert_ptr_equal(loop_udata_owner(u), owner);
        assert_int_equal(loop_udata_tag(u), tag);
    }
    assert_int_equal(loop_udata_tag(loop_udata(owner, 9)), 1); /* only 3 bits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(this_kernel_passes_the_probe),
        cmocka_unit_test(udata_packs_owner_and_tag),
        cmocka_unit_test_setup_teardown(multishot_recv_reads_through_provided_buffers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_wait_ends_when_a_timer_is_due, setup, teardown),
        cmocka_unit_test_setup_teardown(msg_ring_wakes_another_loop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
