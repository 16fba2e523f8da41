/* Outbound queue: order, partial writes, shared chunks, and the entry pool that keeps
 * fan-out free of per-connection allocations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/outq.h"

static struct out_chunk *chunk_of(const char *text)
{
    struct out_chunk *c = out_chunk_new(strlen(text));
    assert_non_null(c);
    memcpy(c->data, text, strlen(text));
    return c;
}

/* Concatenates what outq_iov exposes, to compare with the expected bytes. */
static void assert_pending(const struct outq *q, const char *expected)
{
    struct iovec iov[OUTQ_IOV_MAX];
    unsigned n = outq_iov(q, iov, OUTQ_IOV_MAX);
    char joined[256] = {0};
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        assert_true(len + iov[i].iov_len < sizeof joined);
        memcpy(joined + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    assert_int_equal(len, strlen(expected));
    assert_int_equal(q->bytes, strlen(expected));
    assert_memory_equal(joined, expected, len);
}

static void queued_chunks_come_out_in_order(void **state)
{
    (void)state;
    struct outq_pool pool;
    struct outq q;
    outq_pool_init(&pool);
    outq_init(&q);
    const char *parts[] = {"alpha", "beta", "gamma"};
    for (int i = 0; i < 3; i++) {
        struct out_chunk *c = chunk_of(parts[i]);
        assert_true(outq_push(&q, &pool, c));
        out_chunk_unref(c);
    }
    assert_int_equal(q.chunk_count, 3);
    assert_pending(&q, "alphabetagamma");
    outq_clear(&q, &pool);
    assert_true(outq_empty(&q));
    outq_pool_destroy(&pool);
}

static void partial_writes_resume_mid_chunk(void **state)
{
    (void)state;
    struct outq_pool pool;
    struct outq q;
    outq_pool_init(&pool);
    outq_init(&q);
    struct out_chunk *a = chunk_of("hello "), *b = chunk_of("world");
    assert_true(outq_push(&q, &pool, a));
    assert_true(outq_push(&q, &pool, b));
    outq_consume(&q, &pool, 3);
    assert_pending(&q, "lo world");
    outq_consume(&q, &pool, 3); /* exactly the end of the first chunk */
    assert_int_equal(q.chunk_count, 1);
    assert_int_equal(a->refs, 1); /* the queue let go of it */
    assert_pending(&q, "world");
    outq_consume(&q, &pool, 5);
    assert_true(outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    out_chunk_unref(a);
    out_chunk_unref(b);
    outq_pool_destroy(&pool);
}

static void one_chunk_is_shared_by_many_queues(void **state)
{
    (void)state;
    enum { QUEUES = 100 };
    struct outq_pool pool;
    struct outq queues[QUEUES];
    outq_pool_init(&pool);
    struct out_chunk *frame = chunk_of("frame");
    for (int i = 0; i < QUEUES; i++) {
        outq_init(&queues[i]);
        assert_true(outq_push(&queues[i], &pool, frame));
    }
    assert_int_equal(frame->refs, QUEUES + 1);
    for (int i = 0; i < QUEUES; i++)
        outq_consume(&queues[i], &pool, 5);
    assert_int_equal(frame->refs, 1);
    out_chunk_unref(frame);
    outq_pool_destroy(&pool);
}

static void pool_entries_are_recycled_not_reallocated(void **state)
{
    (void)state;
    struct outq_pool pool;
    struct outq q;
    outq_pool_init(&pool);
    outq_init(&q);
    struct out_chunk *c = chunk_of("x");
    for (int round = 0; round < 10 * OUTQ_SLAB_ENTRIES; round++) {
        assert_true(outq_push(&q, &pool, c));
        outq_consume(&q, &pool, 1);
    }
    assert_int_equal(pool.entries_total, OUTQ_SLAB_ENTRIES); /* one slab served it all */
    for (int i = 0; i < OUTQ_SLAB_ENTRIES + 1; i++)
        assert_true(outq_push(&q, &pool, c));
    assert_int_equal(pool.entries_total, 2 * OUTQ_SLAB_ENTRIES);
    outq_clear(&q, &pool);
    out_chunk_unref(c);
    outq_pool_destroy(&pool);
}

static void iov_is_capped_and_empty_chunks_are_skipped(void **state)
{
    (void)state;
    struct outq_pool pool;
    struct outq q;
    outq_pool_init(&pool);
    outq_init(&q);
    struct out_chunk *c = chunk_of("ab"), *empty = out_chunk_new(0);
    assert_non_null(empty);
    for (int i = 0; i < OUTQ_IOV_MAX + 10; i++)
        assert_true(outq_push(&q, &pool, c));
    struct iovec iov[OUTQ_IOV_MAX];
    assert_int_equal(outq_iov(&q, iov, OUTQ_IOV_MAX), OUTQ_IOV_MAX);
    outq_clear(&q, &pool);
    assert_true(outq_push(&q, &pool, c));
    assert_true(outq_push(&q, &pool, empty));
    outq_consume(&q, &pool, 2); /* the trailing empty chunk is finished too */
    assert_true(outq_empty(&q));
    out_chunk_unref(c);
    out_chunk_unref(empty);
    outq_pool_destroy(&pool);
}

static void impossible_chunk_sizes_are_refused(void **state)
{
    (void)state;
    assert_null(out_chunk_new((size_t)UINT32_MAX));
    assert_null(out_chunk_new(SIZE_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queued_chunks_come_out_in_order),
        cmocka_unit_test(partial_writes_resume_mid_chunk),
        cmocka_unit_test(one_chunk_is_shared_by_many_queues),
        cmocka_unit_test(pool_entries_are_recycled_not_reallocated),
        cmocka_unit_test(iov_is_capped_and_empty_chunks_are_skipped),
        cmocka_unit_test(impossible_chunk_sizes_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
