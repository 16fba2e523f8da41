/* PostgreSQL binary formats built by storage/pg_wire.c, checked byte by byte against the
 * layout array_recv reads, and the storage histograms. No server needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "storage/pg_metrics.h"
#include "storage/pg_wire.h"

static void test_text_array_layout(void **state)
{
    (void)state;
    struct jbuf b;
    jbuf_init(&b, 1024);
    pg_array_begin(&b, PG_OID_TEXT, 2);
    pg_array_bytes(&b, "ab", 2);
    pg_array_bytes(&b, "", 0);
    static const uint8_t want[] = {
        0, 0, 0, 1,  /* one dimension */
        0, 0, 0, 0,  /* no NULLs */
        0, 0, 0, 25, /* text */
        0, 0, 0, 2,  /* two elements */
        0, 0, 0, 1,  /* from index 1 */
        0, 0, 0, 2,  'a', 'b', 0, 0, 0, 0,
    };
    assert_false(b.failed);
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    jbuf_free(&b);
}

static void test_a_null_element_sets_the_flag(void **state)
{
    (void)state;
    struct jbuf b;
    jbuf_init(&b, 1024);
    pg_array_begin(&b, PG_OID_TEXT, 2);
    pg_array_bytes(&b, "x", 1);
    pg_array_null(&b);
    assert_int_equal(pg_get_u32((const uint8_t *)b.data + 4), 1);
    assert_int_equal(pg_get_u32((const uint8_t *)b.data + 25), UINT32_MAX); /* length -1 */
    assert_int_equal(b.len, 29);
    /* Reused for the next batch: the flag starts clear again. */
    pg_array_begin(&b, PG_OID_TEXT, 1);
    pg_array_bytes(&b, "y", 1);
    assert_int_equal(pg_get_u32((const uint8_t *)b.data + 4), 0);
    jbuf_free(&b);
}

static void test_int8_elements_are_big_endian(void **state)
{
    (void)state;
    struct jbuf b;
    jbuf_init(&b, 1024);
    pg_array_begin(&b, PG_OID_INT8, 1);
    pg_array_int8(&b, -2);
    static const uint8_t elem[] = {0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    assert_int_equal(b.len, 20 + sizeof elem);
    assert_memory_equal(b.data + 20, elem, sizeof elem);
    assert_int_equal(pg_get_u32((const uint8_t *)b.data + 8), PG_OID_INT8);
    jbuf_free(&b);
}

static void test_an_array_over_its_limit_fails(void **state)
{
    (void)state;
    struct jbuf b;
    jbuf_init(&b, 30);
    pg_array_begin(&b, PG_OID_JSON, 1);
    pg_array_bytes(&b, "\"0123456789\"", 12);
    assert_true(b.failed);
    jbuf_free(&b);
}

static void test_timestamps_convert_both_ways(void **state)
{
    (void)state;
    assert_int_equal(pg_timestamptz_from_unix_ms(946684800000ull), 0);
    assert_int_equal(pg_timestamptz_from_unix_ms(946684800001ull), 1000);
    assert_int_equal(pg_timestamptz_from_unix_ms(0), -946684800000000ll);
    uint64_t samples[] = {
        0, 1, 999, 946684799999ull, 946684800000ull, 1718000015020ull, 4102444800000ull};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        assert_int_equal(pg_unix_ms_from_timestamptz(pg_timestamptz_from_unix_ms(samples[i])),
                         samples[i]);
    /* Microseconds round down to the millisecond, also before 2000. */
    assert_int_equal(pg_unix_ms_from_timestamptz(1999), 946684800001ull);
    assert_int_equal(pg_unix_ms_from_timestamptz(-1), 946684799999ull);
    assert_int_equal(pg_unix_ms_from_timestamptz(INT64_MIN / 2), 0);
}

static void test_integers_round_trip(void **state)
{
    (void)state;
    uint8_t b[8];
    pg_put_u64(b, 0x0102030405060708ull);
    static const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(b, want, 8);
    assert_int_equal(pg_get_u64(b), 0x0102030405060708ull);
    pg_put_u32(b, 0xfedcba98u);
    assert_int_equal(pg_get_u32(b), 0xfedcba98u);
}

static void test_histogram_buckets_and_quantiles(void **state)
{
    (void)state;
    struct pg_hist h;
    pg_hist_init(&h, pg_hist_bounds_messages, pg_hist_bounds_messages_count);
    assert_int_equal(h.bucket_count, pg_hist_bounds_messages_count + 1);
    assert_int_equal(pg_hist_quantile(&h, 0.5), 0);
    pg_hist_observe(&h, 1);      /* le 1 */
    pg_hist_observe(&h, 10);     /* le 10 */
    pg_hist_observe(&h, 11);     /* le 50 */
    pg_hist_observe(&h, 1000);   /* le 1000 */
    pg_hist_observe(&h, 999999); /* +Inf */
    assert_int_equal(pg_metric_get(&h.buckets[0]), 1);
    assert_int_equal(pg_metric_get(&h.buckets[1]), 1);
    assert_int_equal(pg_metric_get(&h.buckets[2]), 1);
    assert_int_equal(pg_metric_get(&h.buckets[6]), 1);
    assert_int_equal(pg_metric_get(&h.buckets[h.bucket_count - 1]), 1);
    assert_int_equal(pg_metric_get(&h.count), 5);
    assert_int_equal(pg_metric_get(&h.sum), 1 + 10 + 11 + 1000 + 999999);
    assert_int_equal(pg_hist_quantile(&h, 0.2), 1);
    assert_int_equal(pg_hist_quantile(&h, 0.6), 50);
    assert_int_equal(pg_hist_quantile(&h, 0.8), 1000);
    assert_int_equal(pg_hist_quantile(&h, 1.0), 10001); /* in +Inf: past the last bound */
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(pg_conn_state_name(PG_CONN_DOWN), "down");
    assert_string_equal(pg_conn_state_name(PG_CONN_CONNECTING), "connecting");
    assert_string_equal(pg_conn_state_name(PG_CONN_UP), "up");
    assert_string_equal(pg_conn_state_name(PG_CONN_CLOSED), "closed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_array_layout),
        cmocka_unit_test(test_a_null_element_sets_the_flag),
        cmocka_unit_test(test_int8_elements_are_big_endian),
        cmocka_unit_test(test_an_array_over_its_limit_fails),
        cmocka_unit_test(test_timestamps_convert_both_ways),
        cmocka_unit_test(test_integers_round_trip),
        cmocka_unit_test(test_histogram_buckets_and_quantiles),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
