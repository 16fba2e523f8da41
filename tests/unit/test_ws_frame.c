/* Unit tests for core/ws_frame: header decode (every length form, incomplete and malformed
 * headers), encode and round trips, masking at every offset and alignment, opcode and close
 * code tables, close payload building with truncation on a UTF-8 boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"
#include "core/ws_frame.h"

static const uint8_t test_mask[4] = {0x37, 0xFA, 0x21, 0x3D};

static void decode_short_unmasked_text(void **unused)
{
    (void)unused;
    const uint8_t p[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    struct ws_frame_header h;
    assert_int_equal(ws_frame_header_decode(p, sizeof(p), &h), 2);
    assert_true(h.fin);
    assert_int_equal(h.rsv, 0);
    assert_int_equal(h.opcode, WS_OP_TEXT);
    assert_false(h.masked);
    assert_int_equal(h.payload_len, 5);
}

static void decode_masked_text_from_rfc_example(void **unused)
{
    (void)unused;
    /* RFC 6455 section 5.7: a single-frame masked text message "Hello". */
    uint8_t p[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct ws_frame_header h;
    assert_int_equal(ws_frame_header_decode(p, sizeof(p), &h), 6);
    assert_true(h.masked);
    assert_memory_equal(h.mask, test_mask, 4);
    assert_int_equal(h.payload_len, 5);
    assert_int_equal(ws_mask_apply(p + 6, 5, h.mask, 0), 1);
    assert_memory_equal(p + 6, "Hello", 5);
}

static void decode_16bit_and_64bit_lengths(void **unused)
{
    (void)unused;
    const uint8_t p16[] = {0x82, 0x7E, 0x01, 0x00};
    const uint8_t p64[] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4};
    struct ws_frame_header h;
    assert_int_equal(ws_frame_header_decode(p16, sizeof(p16), &h), 4);
    assert_int_equal(h.payload_len, 256);
    assert_int_equal(ws_frame_header_decode(p64, sizeof(p64), &h), 14);
    assert_true(h.payload_len == (uint64_t)INT64_MAX);
    assert_true(h.masked);
    assert_int_equal(h.mask[3], 4);
}

static void decode_accepts_non_minimal_lengths(void **unused)
{
    (void)unused;
    const uint8_t p16[] = {0x82, 0x7E, 0x00, 0x05};
    const uint8_t p64[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 200};
    const uint8_t p64_small16[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    struct ws_frame_header h;
    assert_int_equal(ws_frame_header_decode(p16, sizeof(p16), &h), 4);
    assert_int_equal(h.payload_len, 5);
    assert_int_equal(ws_frame_header_decode(p64, sizeof(p64), &h), 10);
    assert_int_equal(h.payload_len, 200);
    assert_int_equal(ws_frame_header_decode(p64_small16, sizeof(p64_small16), &h), 10);
    assert_int_equal(h.payload_len, 65535);
}

static void decode_reports_raw_rsv_and_unknown_opcodes(void **unused)
{
    (void)unused;
    struct ws_frame_header h;
    for (unsigned rsv = 0; rsv < 8; rsv++) {
        for (unsigned op = 0; op < 16; op++) {
            const uint8_t p[] = {(uint8_t)(rsv << 4 | op), 0x00};
            assert_int_equal(ws_frame_header_decode(p, sizeof(p), &h), 2);
            assert_int_equal(h.rsv, rsv);
            assert_int_equal(h.opcode, op);
            assert_false(h.fin);
        }
    }
}

static void decode_asks_for_more_bytes_at_every_short_prefix(void **unused)
{
    (void)unused;
    const uint8_t p[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4};
    struct ws_frame_header h;
    for (size_t len = 0; len < sizeof(p); len++) {
        assert_int_equal(ws_frame_header_decode(p, len, &h), 0);
    }
    assert_int_equal(ws_frame_header_decode(p, sizeof(p), &h), 14);
    assert_int_equal(h.payload_len, 65536);
}

static void decode_rejects_64bit_length_with_high_bit_as_soon_as_seen(void **unused)
{
    (void)unused;
    const uint8_t p[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t all_ones[] = {0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    struct ws_frame_header h;
    assert_int_equal(ws_frame_header_decode(p, 2, &h), 0);
    for (size_t len = 3; len <= sizeof(p); len++) {
        assert_int_equal(ws_frame_header_decode(p, len, &h), -1);
    }
    assert_int_equal(ws_frame_header_decode(all_ones, sizeof(all_ones), &h), -1);
}

static void encode_uses_minimal_length_forms(void **unused)
{
    (void)unused;
    static const struct {
        uint64_t len;
        size_t header_bytes;
        uint8_t len7;
    } cases[] = {
        {0, 2, 0},
        {125, 2, 125},
        {126, 4, 126},
        {65535, 4, 126},
        {65536, 10, 127},
        {1ull << 32, 10, 127},
        {(uint64_t)INT64_MAX, 10, 127},
    };
    uint8_t out[WS_FRAME_HEADER_BYTES_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = ws_frame_header_encode(out, WS_OP_BINARY, true, cases[i].len, NULL);
        assert_int_equal(n, cases[i].header_bytes);
        assert_int_equal(out[0], 0x82);
        assert_int_equal(out[1], cases[i].len7);
    }
    assert_int_equal(ws_frame_header_encode(out, WS_OP_TEXT, false, 65536, NULL), 10);
    const uint8_t expect[] = {0x01, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_memory_equal(out, expect, sizeof(expect));
}

static void encode_masked_header_carries_the_mask(void **unused)
{
    (void)unused;
    uint8_t out[WS_FRAME_HEADER_BYTES_MAX];
    size_t n = ws_frame_header_encode(out, WS_OP_PING, true, 5, test_mask);
    assert_int_equal(n, 6);
    assert_int_equal(out[0], 0x89);
    assert_int_equal(out[1], 0x85);
    assert_memory_equal(out + 2, test_mask, 4);
    assert_int_equal(ws_frame_header_encode(out, WS_OP_BINARY, true, 1u << 20, test_mask), 14);
}

static void encode_decode_round_trip(void **unused)
{
    (void)unused;
    const uint8_t opcodes[] = {WS_OP_CONTINUATION, WS_OP_TEXT, WS_OP_BINARY,
                               WS_OP_CLOSE,        WS_OP_PING, WS_OP_PONG};
    const uint64_t lens[] = {0, 1, 124, 125, 126, 127, 65535, 65536, 1ull << 40, INT64_MAX};
    for (size_t o = 0; o < sizeof(opcodes); o++) {
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
            bool control = ws_opcode_is_control(opcodes[o]);
            if (control && lens[l] > WS_CONTROL_PAYLOAD_BYTES_MAX) {
                continue;
            }
            for (int masked = 0; masked < 2; masked++) {
                bool fin = control || (l % 2 == 0);
                uint8_t out[WS_FRAME_HEADER_BYTES_MAX];
                size_t n = ws_frame_header_encode(out, opcodes[o], fin, lens[l],
                                                  masked ? test_mask : NULL);
                struct ws_frame_header h;
                assert_int_equal(ws_frame_header_decode(out, n, &h), (int)n);
                assert_int_equal(h.opcode, opcodes[o]);
                assert_int_equal(h.fin, fin);
                assert_int_equal(h.masked, masked);
                assert_true(h.payload_len == lens[l]);
                assert_int_equal(h.rsv, 0);
            }
        }
    }
}

static void mask_bytewise(uint8_t *data, size_t len, const uint8_t mask[4], unsigned offset)
{
    for (size_t i = 0; i < len; i++) {
        data[i] ^= mask[(offset + i) % 4];
    }
}

static void mask_matches_bytewise_at_every_offset_and_alignment(void **unused)
{
    (void)unused;
    enum { LEN_MAX = 41 };
    uint8_t buf[LEN_MAX + 8];
    uint8_t want[LEN_MAX];
    for (unsigned offset = 0; offset < 8; offset++) {
        for (size_t align = 0; align < 8; align++) {
            for (size_t len = 0; len <= LEN_MAX; len++) {
                for (size_t i = 0; i < len; i++) {
                    buf[align + i] = want[i] = (uint8_t)(i * 7 + len);
                }
                mask_bytewise(want, len, test_mask, offset);
                unsigned next = ws_mask_apply(buf + align, len, test_mask, offset);
                assert_int_equal(next, (offset + len) % 4);
                assert_memory_equal(buf + align, want, len);
            }
        }
    }
}

static void mask_in_pieces_equals_mask_whole(void **unused)
{
    (void)unused;
    enum { LEN = 100 };
    uint8_t whole[LEN];
    uint8_t pieces[LEN];
    for (size_t i = 0; i < LEN; i++) {
        whole[i] = pieces[i] = (uint8_t)i;
    }
    ws_mask_apply(whole, LEN, test_mask, 0);
    unsigned offset = 0;
    size_t pos = 0;
    for (size_t piece = 1; pos < LEN; piece = piece % 9 + 1) {
        size_t n = piece < LEN - pos ? piece : LEN - pos;
        offset = ws_mask_apply(pieces + pos, n, test_mask, offset);
        pos += n;
    }
    assert_memory_equal(whole, pieces, LEN);
    ws_mask_apply(whole, LEN, test_mask, 0);
    for (size_t i = 0; i < LEN; i++) {
        assert_int_equal(whole[i], i);
    }
}

static void mask_of_nothing_changes_nothing(void **unused)
{
    (void)unused;
    assert_int_equal(ws_mask_apply(NULL, 0, test_mask, 0), 0);
    assert_int_equal(ws_mask_apply(NULL, 0, test_mask, 3), 3);
    assert_int_equal(ws_mask_apply(NULL, 0, test_mask, 6), 2);
}

static void opcode_table(void **unused)
{
    (void)unused;
    const bool known[16] = {true, true, true, false, false, false, false, false,
                            true, true, true, false, false, false, false, false};
    for (uint8_t op = 0; op < 16; op++) {
        assert_int_equal(ws_opcode_known(op), known[op]);
        assert_int_equal(ws_opcode_is_control(op), op >= 8);
    }
}

static void close_code_table(void **unused)
{
    (void)unused;
    const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                              1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    /* The Autobahn 7.9.x list plus the edges of every range. */
    const uint16_t invalid[] = {0,    1,    999,  1004, 1005, 1006, 1015, 1016,
                                1100, 2000, 2999, 5000, 5001, 9999, 65535};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        assert_true(ws_close_code_valid(valid[i]));
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        assert_false(ws_close_code_valid(invalid[i]));
    }
    size_t count = 0;
    for (uint32_t code = 0; code <= UINT16_MAX; code++) {
        count += ws_close_code_valid((uint16_t)code);
    }
    assert_int_equal(count, 4 + 8 + 2000);
}

static void close_payload_with_short_reason(void **unused)
{
    (void)unused;
    uint8_t out[WS_CONTROL_PAYLOAD_BYTES_MAX];
    size_t n = ws_close_payload_encode(out, WS_CLOSE_GOING_AWAY, "server draining");
    assert_int_equal(n, 2 + 15);
    assert_int_equal(out[0], 0x03);
    assert_int_equal(out[1], 0xE9);
    assert_memory_equal(out + 2, "server draining", 15);
    assert_int_equal(ws_close_payload_encode(out, 4999, NULL), 2);
    assert_int_equal(out[0], 0x13);
    assert_int_equal(out[1], 0x87);
    assert_int_equal(ws_close_payload_encode(out, WS_CLOSE_NORMAL, ""), 2);
}

/* A reason of `ascii` ASCII bytes followed by `tail`, encoded; returns the reason length. */
static size_t close_reason_len(size_t ascii, const char *tail, uint8_t *out)
{
    char reason[256];
    memset(reason, 'r', ascii);
    strcpy(reason + ascii, tail);
    size_t n = ws_close_payload_encode(out, WS_CLOSE_POLICY_VIOLATION, reason);
    assert_true(n >= 2 && n <= WS_CONTROL_PAYLOAD_BYTES_MAX);
    assert_true(utf8_is_valid(out + 2, n - 2));
    assert_memory_equal(out + 2, reason, n - 2);
    return n - 2;
}

static void close_reason_truncates_on_a_character_boundary(void **unused)
{
    (void)unused;
    uint8_t out[WS_CONTROL_PAYLOAD_BYTES_MAX];
    assert_int_equal(close_reason_len(123, "", out), 123);
    assert_int_equal(close_reason_len(124, "", out), 123);
    assert_int_equal(close_reason_len(200, "", out), 123);
    assert_int_equal(close_reason_len(121, "\xC3\xA9", out), 123);     /* fits exactly */
    assert_int_equal(close_reason_len(122, "\xC3\xA9", out), 122);     /* 2-byte cut */
    assert_int_equal(close_reason_len(121, "\xE2\x82\xAC", out), 121); /* 3-byte cut at 2 */
    assert_int_equal(close_reason_len(122, "\xE2\x82\xAC", out), 122); /* 3-byte cut at 1 */
    assert_int_equal(close_reason_len(119, "\xF0\x9F\x98\x80", out), 123);
    assert_int_equal(close_reason_len(120, "\xF0\x9F\x98\x80", out), 120);
    assert_int_equal(close_reason_len(121, "\xF0\x9F\x98\x80", out), 121);
    assert_int_equal(close_reason_len(122, "\xF0\x9F\x98\x80", out), 122);
    assert_int_equal(close_reason_len(0, "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC", out),
                     12);
}

static void close_reason_that_is_not_utf8_is_left_out(void **unused)
{
    (void)unused;
    uint8_t out[WS_CONTROL_PAYLOAD_BYTES_MAX];
    assert_int_equal(ws_close_payload_encode(out, WS_CLOSE_NORMAL, "bad \xFF byte"), 2);
    assert_int_equal(ws_close_payload_encode(out, WS_CLOSE_NORMAL, "\xED\xA0\x80"), 2);
    assert_int_equal(ws_close_payload_encode(out, WS_CLOSE_NORMAL, "cut \xC3"), 2);
    assert_int_equal(close_reason_len(10, "\x80\x80\x80\x80", out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_short_unmasked_text),
        cmocka_unit_test(decode_masked_text_from_rfc_example),
        cmocka_unit_test(decode_16bit_and_64bit_lengths),
        cmocka_unit_test(decode_accepts_non_minimal_lengths),
        cmocka_unit_test(decode_reports_raw_rsv_and_unknown_opcodes),
        cmocka_unit_test(decode_asks_for_more_bytes_at_every_short_prefix),
        cmocka_unit_test(decode_rejects_64bit_length_with_high_bit_as_soon_as_seen),
        cmocka_unit_test(encode_uses_minimal_length_forms),
        cmocka_unit_test(encode_masked_header_carries_the_mask),
        cmocka_unit_test(encode_decode_round_trip),
        cmocka_unit_test(mask_matches_bytewise_at_every_offset_and_alignment),
        cmocka_unit_test(mask_in_pieces_equals_mask_whole),
        cmocka_unit_test(mask_of_nothing_changes_nothing),
        cmocka_unit_test(opcode_table),
        cmocka_unit_test(close_code_table),
        cmocka_unit_test(close_payload_with_short_reason),
        cmocka_unit_test(close_reason_truncates_on_a_character_boundary),
        cmocka_unit_test(close_reason_that_is_not_utf8_is_left_out),
    };
    return cmocka_run_group_tests_name("ws_frame", tests, NULL, NULL);
}
