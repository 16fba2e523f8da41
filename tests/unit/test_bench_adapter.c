/* tidegate-bench's tidegate adapter reads server messages by JSON syntax, not by field
 * order, and never beyond the bytes it was given; and the senders' pacer hands out
 * connections in due-time order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/adapter.h"
#include "bench/pacer.h"

static struct tg_message read_msg(const char *json)
{
    struct tg_message m;
    tg_message_read((const uint8_t *)json, strlen(json), &m);
    return m;
}

static void assert_value(const struct tg_message *m, const char *want)
{
    assert_int_equal(m->value_len, strlen(want));
    assert_memory_equal(m->value, want, m->value_len);
}

static void a_message_carries_its_data_string(void **state)
{
    (void)state;
    struct tg_message m =
        read_msg("{\"type\":\"message\",\"channel\":\"bench:c1\",\"offset\":45,\"epoch\":\"h7Kq\","
                 "\"timestamp\":1718000015020,\"user_id\":null,\"data\":\"T0000000100000002abc\"}");
    assert_int_equal(m.type, TG_MESSAGE);
    assert_value(&m, "T0000000100000002abc");
}

static void field_order_and_whitespace_do_not_matter(void **state)
{
    (void)state;
    struct tg_message m =
        read_msg(" { \"data\" : \"xyz\" ,\n \"user_id\":{\"a\":[1,{\"type\":\"x\"}]},"
                 " \"type\" : \"message\" } ");
    assert_int_equal(m.type, TG_MESSAGE);
    assert_value(&m, "xyz");
}

static void replies_are_told_apart(void **state)
{
    (void)state;
    struct tg_message m = read_msg("{\"type\":\"pong\",\"id\":\"T00000001\"}");
    assert_int_equal(m.type, TG_PONG);
    assert_value(&m, "T00000001");
    m = read_msg("{\"type\":\"error\",\"id\":2,\"code\":\"rate_limited\",\"message\":\"slow "
                 "down\",\"retry_after_ms\":20}");
    assert_int_equal(m.type, TG_ERROR);
    assert_value(&m, "rate_limited");
    m = read_msg("{\"type\":\"connected\",\"id\":1,\"client_id\":\"w0-1\",\"user_id\":null,"
                 "\"limits\":{\"max_publish_bytes\":65536}}");
    assert_int_equal(m.type, TG_CONNECTED);
    m = read_msg(
        "{\"type\":\"joined\",\"id\":2,\"channel\":\"bench:c0\",\"epoch\":\"e\",\"offset\":"
        "0,\"recovered\":false,\"messages\":[{\"type\":\"message\",\"data\":\"q\"}]}");
    assert_int_equal(m.type, TG_JOINED);
    assert_int_equal(read_msg("{\"type\":\"ack\",\"id\":5,\"offset\":9}").type, TG_ACK);
    /* A publish's id is its payload's head: the ack carries it back for the ack latency. */
    m = read_msg("{\"type\":\"ack\",\"id\":\"T00000001000000020000000000000abc\","
                 "\"channel\":\"bench:c0\",\"offset\":9,\"epoch\":\"e\",\"timestamp\":1}");
    assert_int_equal(m.type, TG_ACK);
    assert_value(&m, "T00000001000000020000000000000abc");
    assert_int_equal(read_msg("{\"type\":\"gap\",\"from\":1,\"to\":4}").type, TG_GAP);
    assert_int_equal(read_msg("{\"type\":\"disconnect\",\"code\":4004}").type, TG_DISCONNECT);
    assert_int_equal(read_msg("{\"type\":\"user_online\",\"channel\":\"c\"}").type, TG_OTHER);
}

static void escaped_quotes_inside_strings_do_not_end_them(void **state)
{
    (void)state;
    struct tg_message m = read_msg("{\"user_id\":\"a\\\"type\\\":\\\"ack\",\"type\":\"message\","
                                   "\"data\":\"ok\"}");
    assert_int_equal(m.type, TG_MESSAGE);
    assert_value(&m, "ok");
}

static void what_is_not_a_protocol_message_is_unknown(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "hello",
                         "[\"type\",\"message\"]",
                         "{\"type\":7}",
                         "{\"kind\":\"message\"}",
                         "{\"type\":\"mess",
                         "{\"type\":\"nonsense\"}",
                         "T0000000100000002"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(read_msg(bad[i]).type, TG_UNKNOWN);
}

static void a_message_cut_off_by_the_head_keeps_what_it_has(void **state)
{
    (void)state;
    const char *full =
        "{\"type\":\"message\",\"channel\":\"c\",\"data\":\"T0000000100000002padding";
    /* Every prefix must be read without reading past it (ASan checks the heap copy). */
    for (size_t len = 0; len <= strlen(full); len++) {
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, full, len);
        struct tg_message m;
        tg_message_read((const uint8_t *)copy, len, &m);
        if (m.value != NULL)
            assert_true(m.value >= (uint8_t *)copy &&
                        m.value + m.value_len <= (uint8_t *)copy + len);
        free(copy);
    }
    struct tg_message m = read_msg(full);
    assert_int_equal(m.type, TG_MESSAGE);
    assert_value(&m, "T0000000100000002padding");
}

static void channel_names_use_the_namespace(void **state)
{
    (void)state;
    struct bench_params p;
    memset(&p, 0, sizeof p);
    strcpy(p.namespace_name, "bench");
    char name[32];
    assert_int_equal(tg_channel_name(&p, 17, name, sizeof name), 9);
    assert_string_equal(name, "bench:c17");
    assert_int_equal(tg_channel_name(&p, 17, name, 5), 0); /* does not fit */
}

static void the_pacer_hands_out_connections_in_due_order(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct pacer p;
    assert_true(pacer_init(&p, N));
    uint64_t seed = 12345;
    for (uint32_t i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        pacer_push(&p, seed >> 20, i);
    }
    assert_non_null(pacer_top(&p));
    uint64_t last = 0;
    uint32_t popped = 0;
    struct pacer_entry e;
    while (pacer_pop(&p, &e)) {
        assert_true(e.due_ns >= last);
        last = e.due_ns;
        popped++;
        if (popped % 3 == 0 && popped < N) /* re-queue some later, as senders do */
            pacer_push(&p, last + 1000, e.conn);
    }
    assert_true(popped > N);
    assert_null(pacer_top(&p));
    pacer_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_message_carries_its_data_string),
        cmocka_unit_test(field_order_and_whitespace_do_not_matter),
        cmocka_unit_test(replies_are_told_apart),
        cmocka_unit_test(escaped_quotes_inside_strings_do_not_end_them),
        cmocka_unit_test(what_is_not_a_protocol_message_is_unknown),
        cmocka_unit_test(a_message_cut_off_by_the_head_keeps_what_it_has),
        cmocka_unit_test(channel_names_use_the_namespace),
        cmocka_unit_test(the_pacer_hands_out_connections_in_due_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
