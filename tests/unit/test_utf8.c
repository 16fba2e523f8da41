/* Unit tests for core/utf8: what is valid, what is not, exactly where invalid input is
 * rejected (fail fast, RFC 6455 section 8.1), and that feeding in pieces changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"

struct utf8_case {
    const char *name;
    const char *bytes;
    size_t len;
};

#define CASE(name, lit)                                                                            \
    {                                                                                              \
        name, lit, sizeof(lit) - 1                                                                 \
    }

static const struct utf8_case valid_cases[] = {
    CASE("empty", ""),
    CASE("ascii", "Hello, tidegate!"),
    CASE("nul byte", "a\0b"),
    CASE("U+007F", "\x7F"),
    CASE("U+0080", "\xC2\x80"),
    CASE("U+07FF", "\xDF\xBF"),
    CASE("U+0800", "\xE0\xA0\x80"),
    CASE("U+D7FF", "\xED\x9F\xBF"),
    CASE("U+E000", "\xEE\x80\x80"),
    CASE("U+FFFD", "\xEF\xBF\xBD"),
    CASE("U+FFFF", "\xEF\xBF\xBF"),
    CASE("U+10000", "\xF0\x90\x80\x80"),
    CASE("U+FFFFF", "\xF3\xBF\xBF\xBF"),
    CASE("U+100000", "\xF4\x80\x80\x80"),
    CASE("U+10FFFF", "\xF4\x8F\xBF\xBF"),
    CASE("kosme", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"),
    CASE("mixed long", "Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!"),
};

/* Each invalid case with the index of the first byte that can never be valid. */
struct utf8_bad_case {
    const char *name;
    const char *bytes;
    size_t len;
    size_t reject_at;
};

#define BAD(name, lit, at)                                                                         \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, at                                                             \
    }

static const struct utf8_bad_case invalid_cases[] = {
    BAD("lone continuation 80", "\x80", 0),
    BAD("lone continuation BF", "\xBF", 0),
    BAD("continuation after ascii", "ab\x80", 2),
    BAD("C0 is always overlong", "\xC0\x80", 0),
    BAD("C1 is always overlong", "\xC1\xBF", 0),
    BAD("overlong 3-byte NUL", "\xE0\x80\x80", 1),
    BAD("overlong 3-byte U+07FF", "\xE0\x9F\xBF", 1),
    BAD("overlong 4-byte NUL", "\xF0\x80\x80\x80", 1),
    BAD("overlong 4-byte U+FFFF", "\xF0\x8F\xBF\xBF", 1),
    BAD("surrogate U+D800", "\xED\xA0\x80", 1),
    BAD("surrogate U+DFFF", "\xED\xBF\xBF", 1),
    BAD("surrogate pair", "\xED\xA0\x80\xED\xB0\x80", 1),
    BAD("U+110000", "\xF4\x90\x80\x80", 1),
    BAD("lead F5", "\xF5\x80\x80\x80", 0),
    BAD("lead F8 (5-byte form)", "\xF8\x88\x80\x80\x80", 0),
    BAD("lead FC (6-byte form)", "\xFC\x84\x80\x80\x80\x80", 0),
    BAD("byte FE", "\xFE", 0),
    BAD("byte FF", "\xFF", 0),
    BAD("2-byte lead then ascii", "\xC2\x41", 1),
    BAD("3-byte lead cut by ascii", "\xE1\x80\x41", 2),
    BAD("4-byte lead cut by ascii", "\xF1\x80\x80\x41", 3),
    BAD("lead after lead", "\xC2\xC2\x80", 1),
    BAD("kosme then surrogate",
        "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80"
        "ed",
        12),
    BAD("late error after ascii words", "0123456789abcdefghij\xC0", 20),
};

/* Incomplete at the end: never rejected, never accepted. */
static const struct utf8_case truncated_cases[] = {
    CASE("2-byte lead", "\xC2"),
    CASE("3-byte, 1 of 3", "\xE0"),
    CASE("3-byte, 2 of 3", "\xE0\xA0"),
    CASE("4-byte, 3 of 4", "\xF4\x8F\xBF"),
    CASE("ascii then lead", "abcdefghijk\xF0\x90"),
};

static utf8_state feed_bytewise(const uint8_t *bytes, size_t len, size_t *reject_at)
{
    utf8_state state = UTF8_ACCEPT;
    for (size_t i = 0; i < len; i++) {
        state = utf8_validate_step(state, bytes + i, 1);
        if (state == UTF8_REJECT) {
            *reject_at = i;
            return state;
        }
    }
    return state;
}

static void valid_input_is_accepted_whole_and_at_every_split(void **unused)
{
    (void)unused;
    for (size_t c = 0; c < sizeof(valid_cases) / sizeof(valid_cases[0]); c++) {
        const uint8_t *b = (const uint8_t *)valid_cases[c].bytes;
        size_t len = valid_cases[c].len;
        assert_true(utf8_is_valid(b, len));
        for (size_t split = 0; split <= len; split++) {
            utf8_state s = utf8_validate_step(UTF8_ACCEPT, b, split);
            assert_int_not_equal(s, UTF8_REJECT);
            assert_int_equal(utf8_validate_step(s, b + split, len - split), UTF8_ACCEPT);
        }
    }
}

static void invalid_input_is_rejected_at_the_first_impossible_byte(void **unused)
{
    (void)unused;
    for (size_t c = 0; c < sizeof(invalid_cases) / sizeof(invalid_cases[0]); c++) {
        const struct utf8_bad_case *bad = &invalid_cases[c];
        const uint8_t *b = (const uint8_t *)bad->bytes;
        size_t at = SIZE_MAX;
        assert_false(utf8_is_valid(b, bad->len));
        assert_int_equal(utf8_validate_step(UTF8_ACCEPT, b, bad->len), UTF8_REJECT);
        assert_int_equal(feed_bytewise(b, bad->len, &at), UTF8_REJECT);
        if (at != bad->reject_at) {
            fail_msg("%s: rejected at byte %zu, expected %zu", bad->name, at, bad->reject_at);
        }
        /* The prefix before the bad byte is still a possible start of valid text. */
        assert_int_not_equal(utf8_validate_step(UTF8_ACCEPT, b, bad->reject_at), UTF8_REJECT);
    }
}

static void truncated_input_is_neither_accepted_nor_rejected(void **unused)
{
    (void)unused;
    for (size_t c = 0; c < sizeof(truncated_cases) / sizeof(truncated_cases[0]); c++) {
        const uint8_t *b = (const uint8_t *)truncated_cases[c].bytes;
        utf8_state s = utf8_validate_step(UTF8_ACCEPT, b, truncated_cases[c].len);
        assert_int_not_equal(s, UTF8_ACCEPT);
        assert_int_not_equal(s, UTF8_REJECT);
        assert_false(utf8_is_valid(b, truncated_cases[c].len));
    }
}

static void rejection_is_sticky(void **unused)
{
    (void)unused;
    const uint8_t ascii[] = "plain ascii after the error";
    utf8_state s = utf8_validate_step(UTF8_ACCEPT, (const uint8_t *)"\xFF", 1);
    assert_int_equal(s, UTF8_REJECT);
    assert_int_equal(utf8_validate_step(s, ascii, sizeof(ascii) - 1), UTF8_REJECT);
    assert_int_equal(utf8_validate_step(s, ascii, 0), UTF8_REJECT);
}

static void empty_step_keeps_the_state(void **unused)
{
    (void)unused;
    utf8_state mid = utf8_validate_step(UTF8_ACCEPT, (const uint8_t *)"\xF0\x90", 2);
    assert_int_equal(utf8_validate_step(mid, NULL, 0), mid);
    assert_int_equal(utf8_validate_step(UTF8_ACCEPT, NULL, 0), UTF8_ACCEPT);
    assert_true(utf8_is_valid(NULL, 0));
}

/* The ASCII fast path reads 8 bytes at a time: a bad or multi-byte character at any
 * position and any buffer alignment must be seen. */
static void fast_path_sees_every_position_and_alignment(void **unused)
{
    (void)unused;
    enum { BUF_BYTES = 64, TEXT_BYTES = 40 };
    uint8_t buf[BUF_BYTES];
    for (size_t align = 0; align < 8; align++) {
        for (size_t pos = 0; pos < TEXT_BYTES; pos++) {
            uint8_t *text = buf + align;
            memset(text, 'a', TEXT_BYTES);
            text[pos] = 0x80;
            assert_false(utf8_is_valid(text, TEXT_BYTES));
            size_t at = SIZE_MAX;
            assert_int_equal(feed_bytewise(text, TEXT_BYTES, &at), UTF8_REJECT);
            assert_int_equal(at, pos);
            if (pos + 2 <= TEXT_BYTES) {
                memcpy(text + pos, "\xC3\xA9", 2);
                assert_true(utf8_is_valid(text, TEXT_BYTES));
            }
        }
    }
}

static void character_split_across_steps_is_completed(void **unused)
{
    (void)unused;
    const uint8_t four[] = {0xF0, 0x9F, 0x98, 0x80}; /* U+1F600 */
    utf8_state s = UTF8_ACCEPT;
    for (size_t i = 0; i < sizeof(four); i++) {
        s = utf8_validate_step(s, four + i, 1);
        if (i + 1 < sizeof(four)) {
            assert_int_not_equal(s, UTF8_ACCEPT);
            assert_int_not_equal(s, UTF8_REJECT);
        }
    }
    assert_int_equal(s, UTF8_ACCEPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_input_is_accepted_whole_and_at_every_split),
        cmocka_unit_test(invalid_input_is_rejected_at_the_first_impossible_byte),
        cmocka_unit_test(truncated_input_is_neither_accepted_nor_rejected),
        cmocka_unit_test(rejection_is_sticky),
        cmocka_unit_test(empty_step_keeps_the_state),
        cmocka_unit_test(fast_path_sees_every_position_and_alignment),
        cmocka_unit_test(character_split_across_steps_is_completed),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
