/* JSON output buffer: string escaping, numbers, growth, the byte limit and sticky failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/jbuf.h"
#include "core/json.h"

/* The buffer's text equals `want` (which may hold NUL bytes), and is '\0'-terminated. */
static void assert_text(const struct jbuf *jb, const char *want, size_t want_len)
{
    assert_false(jb->failed);
    assert_int_equal(jb->len, want_len);
    assert_memory_equal(jb->data, want, want_len);
    assert_int_equal(jb->data[jb->len], '\0');
}

#define assert_text_lit(jb, literal) assert_text((jb), "" literal, sizeof(literal) - 1)

static void assert_valid_json(const struct jbuf *jb)
{
    struct json_result res;
    assert_int_equal(json_validate(jb->data, jb->len, 4, &res), JSON_OK);
}

static void a_new_buffer_allocates_nothing_until_written(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    assert_null(jb.data);
    assert_int_equal(jb.len, 0);
    jbuf_lit(&jb, "{}");
    assert_non_null(jb.data);
    assert_text_lit(&jb, "{}");
    jbuf_free(&jb);
    assert_null(jb.data);
    assert_int_equal(jb.max, 1000);
}

static void plain_text_is_copied_between_quotes(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    jbuf_cstr(&jb, "chat:lobby");
    jbuf_char(&jb, ',');
    jbuf_str(&jb, "", 0);
    jbuf_char(&jb, ',');
    jbuf_str(&jb, NULL, 0);
    assert_text_lit(&jb, "\"chat:lobby\",\"\",\"\"");
    jbuf_free(&jb);
}

static void quotes_and_backslashes_are_escaped(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    jbuf_cstr(&jb, "say \"hi\" \\o/ / \\");
    assert_text_lit(&jb, "\"say \\\"hi\\\" \\\\o/ / \\\\\"");
    assert_valid_json(&jb);
    jbuf_free(&jb);
}

/* Every byte 0x00-0x1F, one at a time and all together, against the escape RFC 8259 gives. */
static void every_control_character_is_escaped(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    char all[0x20];
    char want_all[0x20 * 6 + 2] = "\"";
    for (int c = 0; c < 0x20; c++) {
        char want[16];
        switch (c) {
        case '\b':
            strcpy(want, "\"\\b\"");
            break;
        case '\t':
            strcpy(want, "\"\\t\"");
            break;
        case '\n':
            strcpy(want, "\"\\n\"");
            break;
        case '\f':
            strcpy(want, "\"\\f\"");
            break;
        case '\r':
            strcpy(want, "\"\\r\"");
            break;
        default:
            snprintf(want, sizeof(want), "\"\\u%04x\"", (unsigned)c);
        }
        char byte = (char)c;
        jbuf_reset(&jb);
        jbuf_str(&jb, &byte, 1);
        assert_text(&jb, want, strlen(want));
        assert_valid_json(&jb);
        all[c] = byte;
        want[strlen(want) - 1] = '\0';
        strcat(want_all, want + 1);
    }
    strcat(want_all, "\"");
    jbuf_reset(&jb);
    jbuf_str(&jb, all, sizeof(all));
    assert_text(&jb, want_all, strlen(want_all));
    assert_valid_json(&jb);
    jbuf_free(&jb);
}

static void escapes_in_the_middle_keep_the_text_around_them(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    jbuf_str(&jb, "a\nb\x1f\"c", 6);
    assert_text_lit(&jb, "\"a\\nb\\u001f\\\"c\"");
    jbuf_free(&jb);
}

static void utf8_and_delete_pass_through_unescaped(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    /* é, €, U+2028, 😀 (4 bytes), DEL: none needs an escape */
    const char text[] = "\xc3\xa9\xe2\x82\xac\xe2\x80\xa8\xf0\x9f\x98\x80\x7f";
    jbuf_cstr(&jb, text);
    char want[sizeof(text) + 2];
    snprintf(want, sizeof(want), "\"%s\"", text);
    assert_text(&jb, want, strlen(want));
    assert_valid_json(&jb);
    jbuf_free(&jb);
}

static void numbers_are_plain_decimal(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    jbuf_u64(&jb, 0);
    jbuf_char(&jb, ' ');
    jbuf_u64(&jb, 7);
    jbuf_char(&jb, ' ');
    jbuf_u64(&jb, 1718000015020ull);
    jbuf_char(&jb, ' ');
    jbuf_u64(&jb, UINT64_MAX);
    jbuf_char(&jb, ' ');
    jbuf_i64(&jb, 0);
    jbuf_char(&jb, ' ');
    jbuf_i64(&jb, -42);
    jbuf_char(&jb, ' ');
    jbuf_i64(&jb, INT64_MAX);
    jbuf_char(&jb, ' ');
    jbuf_i64(&jb, INT64_MIN);
    assert_text_lit(&jb, "0 7 1718000015020 18446744073709551615 0 -42 9223372036854775807 "
                         "-9223372036854775808");
    jbuf_free(&jb);
}

static void literals_true_false_null(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    jbuf_char(&jb, '[');
    jbuf_bool(&jb, true);
    jbuf_char(&jb, ',');
    jbuf_bool(&jb, false);
    jbuf_char(&jb, ',');
    jbuf_null(&jb);
    jbuf_char(&jb, ']');
    assert_text_lit(&jb, "[true,false,null]");
    assert_valid_json(&jb);
    jbuf_free(&jb);
}

static void raw_bytes_are_copied_even_nul(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1000);
    jbuf_raw(&jb, "a\0b", 3);
    jbuf_raw(&jb, NULL, 0);
    assert_text(&jb, "a\0b", 3);
    jbuf_free(&jb);
}

/* Many small appends: the text grows well past the first allocation and stays intact. */
static void the_buffer_grows_and_keeps_everything(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 1u << 20);
    size_t reallocs = 0;
    size_t cap = 0;
    for (unsigned i = 0; i < 100000; i++) {
        jbuf_char(&jb, (char)('a' + i % 26));
        if (jb.cap != cap) {
            reallocs++;
            cap = jb.cap;
        }
    }
    assert_false(jb.failed);
    assert_int_equal(jb.len, 100000);
    for (unsigned i = 0; i < 100000; i++)
        assert_int_equal(jb.data[i], 'a' + i % 26);
    assert_true(reallocs <= 20); /* geometric: about log2(100000 / 256) + 1 */
    jbuf_free(&jb);
}

/* Exactly `max` bytes fit; one more byte fails the buffer, and it stays failed. */
static void going_past_max_fails_and_stays_failed(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 10);
    jbuf_lit(&jb, "0123456789");
    assert_text_lit(&jb, "0123456789");
    jbuf_char(&jb, 'x');
    assert_true(jb.failed);
    assert_int_equal(jb.len, 10);
    jbuf_lit(&jb, "");
    jbuf_null(&jb);
    jbuf_u64(&jb, 1);
    jbuf_str(&jb, "a", 1);
    assert_true(jb.failed);
    assert_int_equal(jb.len, 10);
    assert_true(jb.cap <= 11);
    jbuf_free(&jb);
}

/* An append that does not fit is not written in part. */
static void an_append_that_does_not_fit_writes_nothing(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 8);
    jbuf_lit(&jb, "12345");
    jbuf_lit(&jb, "6789");
    assert_true(jb.failed);
    assert_int_equal(jb.len, 5);
    assert_string_equal(jb.data, "12345");
    jbuf_free(&jb);
}

/* A string whose escapes push it past max fails, though its raw bytes would fit. */
static void escapes_count_against_max(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 8);
    jbuf_str(&jb, "\x01\x02", 2); /* "\u0001\u0002" is 14 bytes */
    assert_true(jb.failed);
    jbuf_free(&jb);
}

static void a_reset_buffer_is_reused_without_reallocating(void **state)
{
    (void)state;
    struct jbuf jb;
    jbuf_init(&jb, 16);
    jbuf_lit(&jb, "twelve bytes");
    jbuf_lit(&jb, " and more");
    assert_true(jb.failed);
    char *memory = jb.data;
    size_t cap = jb.cap;
    jbuf_reset(&jb);
    assert_false(jb.failed);
    assert_int_equal(jb.len, 0);
    assert_string_equal(jb.data, "");
    jbuf_lit(&jb, "{\"a\":");
    jbuf_u64(&jb, 1);
    jbuf_char(&jb, '}');
    assert_text_lit(&jb, "{\"a\":1}");
    assert_ptr_equal(jb.data, memory);
    assert_int_equal(jb.cap, cap);
    jbuf_free(&jb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_new_buffer_allocates_nothing_until_written),
        cmocka_unit_test(plain_text_is_copied_between_quotes),
        cmocka_unit_test(quotes_and_backslashes_are_escaped),
        cmocka_unit_test(every_control_character_is_escaped),
        cmocka_unit_test(escapes_in_the_middle_keep_the_text_around_them),
        cmocka_unit_test(utf8_and_delete_pass_through_unescaped),
        cmocka_unit_test(numbers_are_plain_decimal),
        cmocka_unit_test(literals_true_false_null),
        cmocka_unit_test(raw_bytes_are_copied_even_nul),
        cmocka_unit_test(the_buffer_grows_and_keeps_everything),
        cmocka_unit_test(going_past_max_fails_and_stays_failed),
        cmocka_unit_test(an_append_that_does_not_fit_writes_nothing),
        cmocka_unit_test(escapes_count_against_max),
        cmocka_unit_test(a_reset_buffer_is_reused_without_reallocating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
