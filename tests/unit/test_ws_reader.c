/* Unit tests for core/ws_reader, valid streams: every way of feeding (whole, byte by byte,
 * split at every point, odd chunks) must give the same messages, control frames and
 * outcome, in both roles. Violations are in test_ws_reader_errors.c. */
#include "ws_reader_harness.h"

/* ---- valid streams ---- */

static void single_text_frame(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "Hello")};
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    static const struct frame_spec want[] = {FRAME(WS_OP_TEXT, "Hello")};
    expect_log(o, "M", want);
    assert_int_equal(o->consumed, 2 + 4 + 5);
    outcome_free(o);
}

static void build_binary_all_bytes(struct stream *s)
{
    uint8_t all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (uint8_t)i;
    }
    stream_frame(s, FIN | WS_OP_BINARY, all, sizeof(all));
}

static void binary_frame_with_every_byte_value_and_16bit_length(void **unused)
{
    (void)unused;
    struct outcome *o = expect_valid(BUILT(build_binary_all_bytes), 256);
    assert_int_equal(o->messages, 1);
    assert_int_equal(o->log.len, 6 + 256);
    for (int i = 0; i < 256; i++) {
        assert_int_equal(o->log.bytes[6 + i], i);
    }
    outcome_free(o);
}

static void empty_messages_are_reported_once_with_len_0(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(FIN | WS_OP_TEXT, ""),   FRAME(FIN | WS_OP_BINARY, ""),       FRAME(WS_OP_TEXT, ""),
        FRAME(WS_OP_CONTINUATION, ""), FRAME(FIN | WS_OP_CONTINUATION, ""),
    };
    struct outcome *o = expect_valid(FRAMES(f), MAX_NONE);
    assert_int_equal(o->messages, 3);
    assert_int_equal(o->data_calls, 3);
    assert_int_equal(o->empty_calls, 3);
    outcome_free(o);
}

static void fragmented_messages_with_empty_fragments_and_split_characters(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(WS_OP_TEXT, ""),
        FRAME(WS_OP_CONTINUATION, "Hel"),
        FRAME(WS_OP_CONTINUATION, ""),
        FRAME(WS_OP_CONTINUATION, "lo \xE2\x82"),
        FRAME(WS_OP_CONTINUATION, "\xAC"),
        FRAME(FIN | WS_OP_CONTINUATION, ""),
        FRAME(WS_OP_BINARY, "ab"),
        FRAME(FIN | WS_OP_CONTINUATION, "cd"),
    };
    struct outcome *o = expect_valid(FRAMES(f), 10);
    static const struct frame_spec want[] = {FRAME(WS_OP_TEXT, "Hello \xE2\x82\xAC"),
                                             FRAME(WS_OP_BINARY, "abcd")};
    expect_log(o, "MM", want);
    outcome_free(o);
}

static void control_frames_interleaved_in_a_fragmented_message(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(WS_OP_TEXT, "part one, "),         FRAME(FIN | WS_OP_PING, P125),
        FRAME(WS_OP_CONTINUATION, "part two, "), FRAME(FIN | WS_OP_PONG, ""),
        FRAME(FIN | WS_OP_CONTINUATION, "done"), FRAME(FIN | WS_OP_PING, "after"),
    };
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    static const struct frame_spec want[] = {
        FRAME(WS_OP_PING, P125),
        FRAME(WS_OP_PONG, ""),
        FRAME(WS_OP_TEXT, "part one, part two, done"),
        FRAME(WS_OP_PING, "after"),
    };
    expect_log(o, "CCMC", want);
    assert_int_equal(o->frames, 6);
    outcome_free(o);
}

static void close_frame_ends_reading_and_later_bytes_are_ignored(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(FIN | WS_OP_TEXT, "bye"),
        FRAME(FIN | WS_OP_CLOSE, "\x03\xE8"
                                 "done \xC3\xA9"),
        FRAME(FIN | WS_OP_TEXT, "never seen"),
        FRAME(0xFF, "not even a valid frame"),
    };
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    assert_true(o->closed);
    static const struct frame_spec want[] = {FRAME(WS_OP_TEXT, "bye"),
                                             FRAME(WS_OP_CLOSE, "\x03\xE8"
                                                                "done \xC3\xA9")};
    expect_log(o, "MC", want);
    assert_int_equal(o->frames, 2); /* nothing after the close is counted */
    /* Consumed: the text frame and the close frame, no more. */
    assert_int_equal(o->consumed, (2 + 4 + 3) + (2 + 4 + 9));
    outcome_free(o);
}

static void empty_close_inside_a_fragmented_message(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {FRAME(WS_OP_TEXT, "open message"),
                                          FRAME(FIN | WS_OP_CLOSE, "")};
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    assert_true(o->closed);
    assert_int_equal(o->messages, 0);
    assert_int_equal(o->message_len, 12);
    outcome_free(o);
}

static void close_with_every_valid_code_and_a_full_reason(void **unused)
{
    (void)unused;
    const uint16_t codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                              1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < COUNT(codes); i++) {
        char payload[WS_CONTROL_PAYLOAD_BYTES_MAX] = {(char)(codes[i] >> 8), (char)codes[i]};
        memset(payload + 2, 'x', sizeof(payload) - 2);
        struct frame_spec f[] = {{FIN | WS_OP_CLOSE, payload, i % 2 ? 2 : sizeof(payload)}};
        struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
        assert_true(o->closed);
        f[0].b0 = WS_OP_CLOSE;
        expect_log(o, "C", f);
        outcome_free(o);
    }
}

static void build_long_lengths(struct stream *s)
{
    static uint8_t big[65536 + 5];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)(i * 31);
    }
    stream_frame(s, FIN | WS_OP_BINARY, big, 300);         /* 16-bit length */
    stream_frame(s, FIN | WS_OP_BINARY, big, sizeof(big)); /* 64-bit length */
}

static void frames_with_16bit_and_64bit_lengths(void **unused)
{
    (void)unused;
    struct outcome *o = expect_valid(BUILT(build_long_lengths), 65536 + 5);
    assert_int_equal(o->messages, 2);
    assert_int_equal(o->log.len, 6 + 300 + 6 + 65536 + 5);
    outcome_free(o);
}

static void non_minimal_length_encodings_are_accepted(void **unused)
{
    (void)unused;
    const uint8_t stream16[] = {0x82, 0x7E, 0x00, 0x03, 'a', 'b', 'c'};
    const uint8_t stream64[] = {0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x02, 'o', 'k'};
    struct stream s;
    stream_init(&s, false);
    stream_raw(&s, stream16, sizeof(stream16));
    stream_raw(&s, stream64, sizeof(stream64));
    struct outcome *o = run_all_ways(&s, WS_ROLE_CLIENT, NO_LIMIT);
    assert_int_equal(o->status, 0);
    static const struct frame_spec want[] = {FRAME(WS_OP_BINARY, "abc"), FRAME(WS_OP_TEXT, "ok")};
    expect_log(o, "MM", want);
    free(s.bytes);
    outcome_free(o);
}

static void messages_exactly_at_the_size_limit(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(WS_OP_BINARY, "12345"),
        FRAME(FIN | WS_OP_CONTINUATION, "67890"),
        FRAME(FIN | WS_OP_TEXT, "0123456789"),
    };
    struct outcome *o = expect_valid(FRAMES(f), 10);
    assert_int_equal(o->messages, 2);
    outcome_free(o);
}

static void binary_payload_is_not_checked_for_utf8(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {FRAME(FIN | WS_OP_BINARY, "\xFF\xED\xA0\x80\xC0")};
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    assert_int_equal(o->messages, 1);
    outcome_free(o);
}

static void cut_last_two_bytes(struct stream *s)
{
    s->len -= 2;
}

static void incomplete_control_frame_is_left_for_the_caller(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "whole"),
                                          FRAME(FIN | WS_OP_PING, "12345")};
    struct outcome *o = expect_valid(FRAMES_THEN(f, cut_last_two_bytes), NO_LIMIT);
    assert_int_equal(o->messages, 1);
    assert_int_equal(o->controls, 0);
    assert_int_equal(o->consumed, 2 + 4 + 5);
    assert_int_equal(o->carry_max, 2 + 4 + 3);
    assert_int_equal(o->frames, 1); /* the incomplete ping is not counted yet */
    outcome_free(o);
}

/* A data frame whose header is whole is consumed at once, its payload as it comes. */
static void data_header_is_consumed_before_its_payload(void **unused)
{
    (void)unused;
    struct stream s;
    stream_init(&s, true);
    stream_str(&s, FIN | WS_OP_TEXT, "abcdefghij");
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_SERVER, NO_LIMIT);
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, s.bytes, 5, &rec_ops, o), 0); /* header needs 6 */
    assert_int_equal(ws_reader_feed(&r, s.bytes, 6, &rec_ops, o), 6);
    assert_int_equal(o->data_calls, 0);
    assert_true(ws_reader_in_message(&r));
    assert_int_equal(ws_reader_feed(&r, s.bytes + 6, 3, &rec_ops, o), 3);
    assert_int_equal(o->data_calls, 1);
    assert_int_equal(o->messages, 0);
    assert_int_equal(ws_reader_feed(&r, s.bytes + 9, 7, &rec_ops, o), 7);
    assert_int_equal(o->data_calls, 2);
    assert_int_equal(o->messages, 1);
    assert_memory_equal(o->log.bytes + 6, "abcdefghij", 10);
    assert_false(ws_reader_in_message(&r));
    free(s.bytes);
    outcome_free(o);
}

struct big_check {
    uint64_t offset;
    size_t calls;
    bool ended;
};

static void big_on_data(void *ctx, uint8_t opcode, const uint8_t *data, size_t len, bool end)
{
    struct big_check *c = ctx;
    assert_int_equal(opcode, WS_OP_BINARY);
    assert_false(c->ended);
    for (size_t i = 0; i < len; i++) {
        if (data[i] != (uint8_t)((c->offset + i) * 13)) {
            fail_msg("byte %zu of piece %zu is wrong", i, c->calls);
        }
    }
    c->offset += len;
    c->calls++;
    c->ended = end;
}

static void big_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    fail_msg("unexpected control frame %u of %zu bytes", opcode, len);
}

/* A 16 MiB frame in 16 KiB receive buffers: reported piece by piece, unmasked in place,
 * with nothing carried. */
static void large_frame_is_reported_in_pieces_as_it_arrives(void **unused)
{
    (void)unused;
    enum { PAYLOAD = 16 << 20, FEED = 16 << 10, HEADER = 14 };
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t *stream = malloc(HEADER + PAYLOAD);
    assert_non_null(stream);
    assert_int_equal(ws_frame_header_encode(stream, WS_OP_BINARY, true, PAYLOAD, mask), HEADER);
    for (size_t i = 0; i < PAYLOAD; i++) {
        stream[HEADER + i] = (uint8_t)(i * 13);
    }
    ws_mask_apply(stream + HEADER, PAYLOAD, mask, 0);
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_SERVER, PAYLOAD);
    const struct ws_reader_ops ops = {big_on_data, big_on_control};
    struct big_check c = {0};
    size_t feeds = 0;
    for (size_t pos = 0; pos < HEADER + PAYLOAD; pos += FEED, feeds++) {
        size_t n = HEADER + PAYLOAD - pos < FEED ? HEADER + PAYLOAD - pos : FEED;
        assert_int_equal(ws_reader_feed(&r, stream + pos, n, &ops, &c), n);
    }
    assert_true(c.ended);
    assert_int_equal(c.offset, PAYLOAD);
    assert_int_equal(c.calls, feeds);
    free(stream);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_text_frame),
        cmocka_unit_test(binary_frame_with_every_byte_value_and_16bit_length),
        cmocka_unit_test(empty_messages_are_reported_once_with_len_0),
        cmocka_unit_test(fragmented_messages_with_empty_fragments_and_split_characters),
        cmocka_unit_test(control_frames_interleaved_in_a_fragmented_message),
        cmocka_unit_test(close_frame_ends_reading_and_later_bytes_are_ignored),
        cmocka_unit_test(empty_close_inside_a_fragmented_message),
        cmocka_unit_test(close_with_every_valid_code_and_a_full_reason),
        cmocka_unit_test(frames_with_16bit_and_64bit_lengths),
        cmocka_unit_test(non_minimal_length_encodings_are_accepted),
        cmocka_unit_test(messages_exactly_at_the_size_limit),
        cmocka_unit_test(binary_payload_is_not_checked_for_utf8),
        cmocka_unit_test(incomplete_control_frame_is_left_for_the_caller),
        cmocka_unit_test(data_header_is_consumed_before_its_payload),
        cmocka_unit_test(large_frame_is_reported_in_pieces_as_it_arrives),
    };
    return cmocka_run_group_tests_name("ws_reader", tests, NULL, NULL);
}
