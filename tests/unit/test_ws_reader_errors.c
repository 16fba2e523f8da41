/* Unit tests for core/ws_reader, protocol violations: each must fail with the right close
 * code (1002, 1007, 1009) in both roles whatever the feeding, and the reader must stay
 * failed. Valid streams are in test_ws_reader.c. */
#include "ws_reader_harness.h"

/* ---- protocol errors: 1002 ---- */

static void unmasked_frame_to_server_and_masked_frame_to_client(void **unused)
{
    (void)unused;
    for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
        struct stream s;
        stream_init(&s, role == WS_ROLE_CLIENT); /* the wrong way round */
        stream_str(&s, FIN | WS_OP_TEXT, "hi");
        struct outcome *o = run_all_ways(&s, (enum ws_role)role, NO_LIMIT);
        assert_int_equal(o->error, WS_CLOSE_PROTOCOL_ERROR);
        assert_int_equal(o->messages, 0);
        outcome_free(o);
        s.len = 0;
        stream_str(&s, FIN | WS_OP_PING, "");
        o = run_all_ways(&s, (enum ws_role)role, NO_LIMIT);
        assert_int_equal(o->error, WS_CLOSE_PROTOCOL_ERROR);
        assert_int_equal(o->controls, 0);
        outcome_free(o);
        free(s.bytes);
    }
}

static void reserved_bits_are_rejected(void **unused)
{
    (void)unused;
    const uint8_t rsv[] = {0x40, 0x20, 0x10, 0x70};
    const uint8_t ops[] = {WS_OP_TEXT, WS_OP_BINARY, WS_OP_PING};
    for (size_t i = 0; i < sizeof(rsv); i++) {
        for (size_t j = 0; j < sizeof(ops); j++) {
            struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "fine"),
                                     FRAME((uint8_t)(FIN | rsv[i] | ops[j]), "x")};
            expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
        }
    }
}

static void unknown_opcodes_are_rejected(void **unused)
{
    (void)unused;
    const uint8_t unknown[] = {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < sizeof(unknown); i++) {
        struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "fine"),
                                 FRAME((uint8_t)(FIN | unknown[i]), "x")};
        expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
        f[1].b0 = unknown[i];
        expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    }
}

static void control_frames_too_long_or_fragmented(void **unused)
{
    (void)unused;
    static const struct frame_spec long_ping[] = {FRAME(FIN | WS_OP_PING, P125 "p")};
    static const struct frame_spec long_close[] = {FRAME(FIN | WS_OP_CLOSE, "\x03\xE8" P125)};
    static const struct frame_spec fragmented_pong[] = {FRAME(WS_OP_PONG, "frag"),
                                                        FRAME(FIN | WS_OP_CONTINUATION, "ment")};
    expect_error(FRAMES(long_ping), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(long_close), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(fragmented_pong), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
}

static void fragmentation_order_is_enforced(void **unused)
{
    (void)unused;
    static const struct frame_spec orphan[] = {FRAME(FIN | WS_OP_CONTINUATION, "orphan")};
    static const struct frame_spec orphan_after[] = {FRAME(FIN | WS_OP_TEXT, "done"),
                                                     FRAME(WS_OP_CONTINUATION, "orphan")};
    static const struct frame_spec text_in_text[] = {FRAME(WS_OP_TEXT, "open"),
                                                     FRAME(FIN | WS_OP_TEXT, "again")};
    static const struct frame_spec binary_in_text[] = {
        FRAME(WS_OP_TEXT, "open"), FRAME(FIN | WS_OP_PING, "ok"), FRAME(WS_OP_BINARY, "again")};
    expect_error(FRAMES(orphan), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(orphan_after), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(text_in_text), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(binary_in_text), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
}

static void build_length_high_bit(struct stream *s)
{
    const uint8_t masked[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    const uint8_t plain[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
    if (s->masked) {
        stream_raw(s, masked, sizeof(masked));
    } else {
        stream_raw(s, plain, sizeof(plain));
    }
}

static void length_with_high_bit_set_is_rejected_at_its_first_byte(void **unused)
{
    (void)unused;
    expect_error(BUILT(build_length_high_bit), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_CLIENT, NO_LIMIT);
    uint8_t three[] = {0x82, 0x7F, 0x80};
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, three, sizeof(three), &rec_ops, o), -1);
    assert_int_equal(r.error, WS_CLOSE_PROTOCOL_ERROR);
    outcome_free(o);
}

static void close_payload_of_one_byte(void **unused)
{
    (void)unused;
    static const struct frame_spec alone[] = {FRAME(FIN | WS_OP_CLOSE, "\x03")};
    /* 0x10 then the next frame's first byte 0x81 would read as code 4225, a valid one: the
     * reader must not look past the payload. */
    static const struct frame_spec before_frame[] = {FRAME(FIN | WS_OP_CLOSE, "\x10"),
                                                     FRAME(FIN | WS_OP_TEXT, "")};
    expect_error(FRAMES(alone), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(before_frame), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
}

static void close_codes_a_peer_may_not_send(void **unused)
{
    (void)unused;
    const uint16_t codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < COUNT(codes); i++) {
        const char payload[] = {(char)(codes[i] >> 8), (char)codes[i], 'w', 'h', 'y'};
        struct frame_spec f[] = {{FIN | WS_OP_CLOSE, payload, sizeof(payload)}};
        expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    }
}

/* ---- invalid UTF-8: 1007 ---- */

static void text_that_is_not_utf8(void **unused)
{
    (void)unused;
    const char *bad[] = {"\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                         "\xF5", "\xFF",     "ok\xC2",       "cut \xE2\x82", "\xCE\xBA\xE1\xBD"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "valid first"),
                                 {FIN | WS_OP_TEXT, bad[i], strlen(bad[i])}};
        expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_INVALID_PAYLOAD);
    }
}

static void utf8_errors_across_fragments_and_in_close_reasons(void **unused)
{
    (void)unused;
    static const struct frame_spec split[] = {FRAME(WS_OP_TEXT, "abc\xED"),
                                              FRAME(FIN | WS_OP_PING, ""),
                                              FRAME(FIN | WS_OP_CONTINUATION, "\xA0\x80")};
    static const struct frame_spec cut_at_end[] = {FRAME(WS_OP_TEXT, "abc\xF0\x9F"),
                                                   FRAME(WS_OP_CONTINUATION, "\x98"),
                                                   FRAME(FIN | WS_OP_CONTINUATION, "")};
    static const struct frame_spec close_reason[] = {FRAME(FIN | WS_OP_CLOSE, "\x03\xE8"
                                                                              "bad \xC3\x28")};
    expect_error(FRAMES(split), NO_LIMIT, WS_CLOSE_INVALID_PAYLOAD);
    expect_error(FRAMES(cut_at_end), NO_LIMIT, WS_CLOSE_INVALID_PAYLOAD);
    expect_error(FRAMES(close_reason), NO_LIMIT, WS_CLOSE_INVALID_PAYLOAD);
}

/* Fail fast: the error comes at the bad byte, before the rest of the frame arrives. */
static void utf8_error_is_reported_before_the_frame_is_complete(void **unused)
{
    (void)unused;
    char text[1000];
    memset(text, 'a', sizeof(text));
    text[4] = (char)0xF4;
    text[5] = (char)0x90;
    struct stream s;
    stream_init(&s, true);
    stream_frame(&s, FIN | WS_OP_TEXT, text, sizeof(text));
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_SERVER, NO_LIMIT);
    struct outcome *o = outcome_new();
    size_t header = 2 + 2 + 4;
    assert_int_equal(ws_reader_feed(&r, s.bytes, header + 5, &rec_ops, o), header + 5);
    assert_int_equal(ws_reader_feed(&r, s.bytes + header + 5, 1, &rec_ops, o), -1);
    assert_int_equal(r.error, WS_CLOSE_INVALID_PAYLOAD);
    assert_int_equal(ws_reader_feed(&r, s.bytes + header + 6, 10, &rec_ops, o), -1);
    free(s.bytes);
    outcome_free(o);
}

/* ---- size limit: 1009 ---- */

static void messages_over_the_size_limit(void **unused)
{
    (void)unused;
    static const struct frame_spec single[] = {FRAME(FIN | WS_OP_BINARY, "0123456789A")};
    static const struct frame_spec fragments[] = {FRAME(WS_OP_TEXT, "012345"),
                                                  FRAME(FIN | WS_OP_PING, "still fine"),
                                                  FRAME(FIN | WS_OP_CONTINUATION, "6789A")};
    static const struct frame_spec any[] = {FRAME(FIN | WS_OP_TEXT, "x")};
    expect_error(FRAMES(single), 10, WS_CLOSE_MESSAGE_TOO_BIG);
    expect_error(FRAMES(fragments), 10, WS_CLOSE_MESSAGE_TOO_BIG);
    expect_error(FRAMES(any), MAX_NONE, WS_CLOSE_MESSAGE_TOO_BIG);
}

/* The limit is enforced on the header alone: no payload byte needs to arrive. */
static void size_limit_is_reported_from_the_header(void **unused)
{
    (void)unused;
    uint8_t header[WS_FRAME_HEADER_BYTES_MAX];
    size_t n = ws_frame_header_encode(header, WS_OP_BINARY, true, 1ull << 40, NULL);
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_CLIENT, 1 << 20);
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, header, n - 1, &rec_ops, o), 0);
    assert_int_equal(ws_reader_feed(&r, header, n, &rec_ops, o), -1);
    assert_int_equal(r.error, WS_CLOSE_MESSAGE_TOO_BIG);
    outcome_free(o);
}

/* ---- after the end ---- */

static void reader_stays_failed_after_an_error(void **unused)
{
    (void)unused;
    struct stream s;
    stream_init(&s, false);
    stream_str(&s, FIN | WS_OP_CONTINUATION, "bad");
    stream_str(&s, FIN | WS_OP_TEXT, "good");
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_CLIENT, NO_LIMIT);
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, s.bytes, s.len, &rec_ops, o), -1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ws_reader_feed(&r, s.bytes + 5, s.len - 5, &rec_ops, o), -1);
        assert_int_equal(ws_reader_feed(&r, s.bytes, 0, &rec_ops, o), -1);
    }
    assert_int_equal(o->messages, 0);
    assert_int_equal(r.error, WS_CLOSE_PROTOCOL_ERROR);
    free(s.bytes);
    outcome_free(o);
}

static void reader_consumes_nothing_after_close(void **unused)
{
    (void)unused;
    struct stream s;
    stream_init(&s, false);
    stream_frame(&s, FIN | WS_OP_CLOSE, "", 0);
    stream_str(&s, FIN | WS_OP_TEXT, "late");
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_CLIENT, NO_LIMIT);
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, s.bytes, s.len, &rec_ops, o), 2);
    assert_true(r.closed);
    assert_int_equal(ws_reader_feed(&r, s.bytes + 2, s.len - 2, &rec_ops, o), 0);
    assert_int_equal(o->messages, 0);
    assert_int_equal(o->controls, 1);
    free(s.bytes);
    outcome_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unmasked_frame_to_server_and_masked_frame_to_client),
        cmocka_unit_test(reserved_bits_are_rejected),
        cmocka_unit_test(unknown_opcodes_are_rejected),
        cmocka_unit_test(control_frames_too_long_or_fragmented),
        cmocka_unit_test(fragmentation_order_is_enforced),
        cmocka_unit_test(length_with_high_bit_set_is_rejected_at_its_first_byte),
        cmocka_unit_test(close_payload_of_one_byte),
        cmocka_unit_test(close_codes_a_peer_may_not_send),
        cmocka_unit_test(text_that_is_not_utf8),
        cmocka_unit_test(utf8_errors_across_fragments_and_in_close_reasons),
        cmocka_unit_test(utf8_error_is_reported_before_the_frame_is_complete),
        cmocka_unit_test(messages_over_the_size_limit),
        cmocka_unit_test(size_limit_is_reported_from_the_header),
        cmocka_unit_test(reader_stays_failed_after_an_error),
        cmocka_unit_test(reader_consumes_nothing_after_close),
    };
    return cmocka_run_group_tests_name("ws_reader_errors", tests, NULL, NULL);
}
