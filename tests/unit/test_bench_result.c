/* tidegate-bench results: what threads and processes measured adds up to one result, in
 * any order, with timelines of different slice lengths; and what receivers count (new,
 * reordered, duplicated) lets the end say exactly how many messages were lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/payload.h"
#include "bench/result.h"

enum { MS = 1000000 };

static struct bench_result *new_result(uint64_t slice_ns)
{
    struct bench_result *r = malloc(sizeof *r);
    assert_non_null(r);
    bench_result_init(r, slice_ns);
    return r;
}

/* A process's result: `n` deliveries at latencies base..base+n-1 us, spread over time. */
static struct bench_result *process_result(uint64_t n, uint64_t base_us, uint64_t span_ms)
{
    struct bench_result *r = new_result(100 * MS);
    r->counters[BENCH_C_conn_ready] = n / 10;
    r->counters[BENCH_C_deliveries] = n;
    r->counters[BENCH_C_msgs_sent] = n / 100;
    for (uint64_t i = 0; i < n; i++)
        bench_result_record_latency(r, i * span_ms * MS / n, (base_us + i) * 1000);
    bench_result_record_connect(r, 0, 5 * MS);
    for (uint64_t i = 0; i < n / 100; i++) /* the publishes' acks */
        hist_record(&r->ack_ns, (base_us + 10 * i) * 1000);
    bench_codes_add(&r->close_codes, 1008, n % 7);
    return r;
}

static void processes_merge_into_the_sum_of_their_figures(void **state)
{
    (void)state;
    struct bench_result *a = process_result(30000, 100, 5000);
    struct bench_result *b = process_result(20000, 500, 12000);  /* a longer run */
    struct bench_result *c = process_result(10000, 2000, 45000); /* coarsened slices */
    assert_true(c->slice_ns > a->slice_ns);
    struct bench_result *all = new_result(100 * MS);
    bench_result_merge(all, a);
    bench_result_merge(all, b);
    bench_result_merge(all, c);
    assert_int_equal(all->counters[BENCH_C_deliveries], 60000);
    assert_int_equal(all->counters[BENCH_C_conn_ready], 6000);
    assert_int_equal(all->counters[BENCH_C_msgs_sent], 600);
    assert_int_equal(all->latency_ns.count, 60000);
    assert_int_equal(all->connect_ns.count, 3);
    assert_int_equal(all->latency_ns.min, 100 * 1000);
    assert_int_equal(all->latency_ns.max, (100 + 29999) * 1000); /* a's last */
    assert_int_equal(all->ack_ns.count, 600);                    /* apart from deliveries */
    assert_int_equal(all->ack_ns.min, 100 * 1000);
    assert_int_equal(all->ack_ns.max, (100 + 10 * 299) * 1000); /* a's last */
    assert_int_equal(all->slice_ns, c->slice_ns);               /* the longest slice length wins */
    uint64_t in_slices = 0, ready = 0;
    for (uint32_t i = 0; i < all->slices_used; i++) {
        in_slices += all->slices[i].latency_count;
        ready += all->slices[i].ready;
    }
    assert_int_equal(in_slices, 60000);
    assert_int_equal(ready, 3);
    uint64_t closes = 0;
    for (int i = 0; i < BENCH_CODES_MAX; i++)
        closes += all->close_codes.code[i] == 1008 ? all->close_codes.count[i] : 0;
    assert_int_equal(closes, 30000 % 7 + 20000 % 7 + 10000 % 7);
    free(a);
    free(b);
    free(c);
    free(all);
}

static void merging_in_another_order_gives_the_same_figures(void **state)
{
    (void)state;
    struct bench_result *parts[3] = {process_result(5000, 10, 800),
                                     process_result(7000, 300, 40000),
                                     process_result(9000, 50, 3000)};
    struct bench_result *x = new_result(100 * MS), *y = new_result(100 * MS);
    for (int i = 0; i < 3; i++)
        bench_result_merge(x, parts[i]);
    for (int i = 2; i >= 0; i--)
        bench_result_merge(y, parts[i]);
    assert_memory_equal(x->counters, y->counters, sizeof x->counters);
    assert_memory_equal(&x->latency_ns, &y->latency_ns, sizeof x->latency_ns);
    assert_memory_equal(&x->ack_ns, &y->ack_ns, sizeof x->ack_ns);
    assert_int_equal(x->slice_ns, y->slice_ns);
    assert_int_equal(x->slices_used, y->slices_used);
    assert_memory_equal(x->slices, y->slices, sizeof x->slices[0] * x->slices_used);
    for (int i = 0; i < 3; i++)
        free(parts[i]);
    free(x);
    free(y);
}

static void a_long_run_coarsens_its_timeline_and_keeps_every_sample(void **state)
{
    (void)state;
    struct bench_result *r = new_result(100 * MS);
    uint64_t n = 0;
    for (uint64_t t_ms = 0; t_ms < 200000; t_ms += 7, n++) /* 200 s at 100 ms slices: 2000 */
        bench_result_record_latency(r, t_ms * MS, 1000);
    assert_true(r->slices_used <= BENCH_SLICES_MAX);
    assert_int_equal(r->slice_ns, 800 * MS); /* 100 ms doubled three times */
    uint64_t total = 0;
    for (uint32_t i = 0; i < r->slices_used; i++)
        total += r->slices[i].latency_count;
    assert_int_equal(total, n);
    free(r);
}

static void the_first_slice_length_is_round_and_gives_about_200_slices(void **state)
{
    (void)state;
    assert_int_equal(bench_slice_ns_for(1000), 100 * MS);
    assert_int_equal(bench_slice_ns_for(20000), 100 * MS);
    assert_int_equal(bench_slice_ns_for(30000), 200 * MS);
    assert_int_equal(bench_slice_ns_for(600000), 5000ull * MS);
}

static void code_tables_count_codes_and_overflow_into_other(void **state)
{
    (void)state;
    struct bench_codes t;
    memset(&t, 0, sizeof t);
    for (uint16_t code = 4000; code < 4000 + BENCH_CODES_MAX + 3; code++)
        bench_codes_add(&t, code, 2);
    bench_codes_add(&t, 4000, 5);
    assert_int_equal(t.code[0], 4000);
    assert_int_equal(t.count[0], 7);
    assert_int_equal(t.other, 6);
}

static void protocol_error_codes_map_to_their_names(void **state)
{
    (void)state;
    unsigned i = bench_proto_error_index("rate_limited", 12);
    assert_string_equal(bench_proto_error_name(i), "rate_limited");
    assert_string_equal(bench_proto_error_name(bench_proto_error_index("made_up", 7)), "other");
    assert_string_equal(bench_proto_error_name(bench_proto_error_index("rate_limite", 11)),
                        "other");
}

static void in_order_delivery_counts_every_message_once(void **state)
{
    (void)state;
    struct seq_track t = {0};
    for (uint32_t s = 0; s < 1000; s++)
        assert_int_equal(seq_track_see(&t, s), SEQ_NEW);
    assert_int_equal(t.received, 1000);
    assert_int_equal(t.next, 1000);
}

static void late_messages_are_reordered_and_repeats_are_duplicates(void **state)
{
    (void)state;
    struct seq_track t = {0};
    assert_int_equal(seq_track_see(&t, 0), SEQ_NEW);
    assert_int_equal(seq_track_see(&t, 3), SEQ_NEW);       /* 1 and 2 missing for now */
    assert_int_equal(seq_track_see(&t, 1), SEQ_REORDERED); /* arrives late */
    assert_int_equal(seq_track_see(&t, 1), SEQ_DUPLICATE);
    assert_int_equal(seq_track_see(&t, 3), SEQ_DUPLICATE);
    assert_int_equal(seq_track_see(&t, 0), SEQ_DUPLICATE);
    assert_int_equal(t.received, 3);
    /* 2 never comes: of 4 sent, 3 distinct arrived, so 1 is lost. */
    assert_int_equal(4 - t.received, 1);
}

static void a_jump_beyond_the_window_forgets_what_is_below_it(void **state)
{
    (void)state;
    struct seq_track t = {0};
    assert_int_equal(seq_track_see(&t, 0), SEQ_NEW);
    assert_int_equal(seq_track_see(&t, 100), SEQ_NEW);
    assert_int_equal(seq_track_see(&t, 40), SEQ_REORDERED); /* 59 below: inside the window */
    assert_int_equal(seq_track_see(&t, 20), SEQ_DUPLICATE); /* 79 below: cannot tell, counted */
    assert_int_equal(seq_track_see(&t, 101), SEQ_NEW);
    assert_int_equal(seq_track_see(&t, 40), SEQ_DUPLICATE);
    assert_int_equal(t.received, 4);
}

static void payloads_round_trip_and_garbage_is_refused(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct payload in = {.sender = 0xdeadbeef, .seq = 42, .sent_ns = 0x0123456789abcdefull};
    payload_write(buf, sizeof buf, &in);
    assert_int_equal(buf[0], 'T');
    assert_int_equal(buf[63], '.');
    struct payload out;
    assert_true(payload_read(buf, sizeof buf, &out));
    assert_int_equal(out.sender, in.sender);
    assert_int_equal(out.seq, in.seq);
    assert_int_equal(out.sent_ns, in.sent_ns);
    assert_true(payload_read(buf, PAYLOAD_HEAD_BYTES, &out)); /* padding is not read */
    assert_false(payload_read(buf, PAYLOAD_HEAD_BYTES - 1, &out));
    buf[5] = 'G';
    assert_false(payload_read(buf, sizeof buf, &out));
    assert_false(payload_read((const uint8_t *)"hello, world, this is not a payload", 35, &out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(processes_merge_into_the_sum_of_their_figures),
        cmocka_unit_test(merging_in_another_order_gives_the_same_figures),
        cmocka_unit_test(a_long_run_coarsens_its_timeline_and_keeps_every_sample),
        cmocka_unit_test(the_first_slice_length_is_round_and_gives_about_200_slices),
        cmocka_unit_test(code_tables_count_codes_and_overflow_into_other),
        cmocka_unit_test(protocol_error_codes_map_to_their_names),
        cmocka_unit_test(in_order_delivery_counts_every_message_once),
        cmocka_unit_test(late_messages_are_reordered_and_repeats_are_duplicates),
        cmocka_unit_test(a_jump_beyond_the_window_forgets_what_is_below_it),
        cmocka_unit_test(payloads_round_trip_and_garbage_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
