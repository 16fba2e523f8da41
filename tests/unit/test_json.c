/* Unit tests for core/json: what strict RFC 8259 accepts and refuses, exactly which byte a
 * refusal names, nesting limits, the member spans a protocol message is routed by, key
 * lookup through escapes, string decoding, integer conversion and array iteration. Invalid
 * inputs outnumber valid ones, and every error code is produced and checked at its offset. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"

/* Offset meaning "at the end of the text", for JSON_ERR_TRUNCATED and JSON_ERR_EMPTY. */
#define AT_END SIZE_MAX

struct doc_case {
    const char *name;
    const char *text;
    size_t len;
    unsigned depth_max;
    enum json_error error;
    size_t offset;
};

#define OK(name, lit)                                                                              \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, 16, JSON_OK, AT_END                                            \
    }
#define BAD(name, lit, err, at)                                                                    \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, 16, err, at                                                    \
    }
#define BAD_DEPTH(name, lit, depth, at)                                                            \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, depth, JSON_ERR_DEPTH, at                                      \
    }

static const struct doc_case valid_docs[] = {
    OK("empty object", "{}"),
    OK("empty array", "[]"),
    OK("whitespace everywhere", " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \n"),
    OK("zero", "0"),
    OK("minus zero", "-0"),
    OK("minus zero fraction", "-0.0"),
    OK("exponent", "1E+3"),
    OK("negative exponent", "1e-3"),
    OK("zero exponent", "0e0"),
    OK("full number", "-123.456E-7"),
    OK("integer beyond 64 bits is still JSON", "123456789012345678901234567890"),
    OK("true", "true"),
    OK("false", "false"),
    OK("null", "null"),
    OK("empty string", "\"\""),
    OK("all simple escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
    OK("escaped NUL", "\"\\u0000\""),
    OK("surrogate pair upper case", "\"\\uD83D\\uDE00\""),
    OK("surrogate pair lower case", "\"\\ud83d\\ude00\""),
    OK("highest code point escaped", "\"\\uDBFF\\uDFFF\""),
    OK("BMP escapes next to surrogates", "\"\\uD7FF\\uE000\\uFFFF\""),
    OK("raw 4-byte UTF-8", "\"\xF0\x9F\x98\x80\""),
    OK("raw U+10FFFF", "\"\xF4\x8F\xBF\xBF\""),
    OK("raw euro sign", "\"\xE2\x82\xAC\""),
    OK("BOM inside a string", "\"\xEF\xBB\xBF\""),
    OK("DEL needs no escape", "\"\x7F\""),
    OK("nested mix", "[1,[2,[3]],{\"a\":{}},\"x\",true,false,null]"),
    OK("empty key", "{\"\":0}"),
    OK("duplicate keys are valid JSON", "{\"a\":1,\"a\":2}"),
    OK("numbers in an array", "[1e0,0.5,-0,0e+1,10]"),
    OK("protocol message",
       "{\"type\":\"send_message\",\"channel\":\"chat:1\",\"data\":{\"text\":\"hi\"},\"id\":7}"),
};

static const struct doc_case invalid_docs[] = {
    BAD("empty text", "", JSON_ERR_EMPTY, 0),
    BAD("only whitespace", " \t\r\n", JSON_ERR_EMPTY, 4),

    BAD("trailing comma in array", "[1,]", JSON_ERR_SYNTAX, 3),
    BAD("trailing comma in object", "{\"a\":1,}", JSON_ERR_SYNTAX, 7),
    BAD("leading comma", "[,1]", JSON_ERR_SYNTAX, 1),
    BAD("double comma", "[1,,2]", JSON_ERR_SYNTAX, 3),
    BAD("missing comma", "[1 2]", JSON_ERR_SYNTAX, 3),
    BAD("strings without comma", "[\"a\"\"b\"]", JSON_ERR_SYNTAX, 4),
    BAD("missing colon", "{\"a\" 1}", JSON_ERR_SYNTAX, 5),
    BAD("double colon", "{\"a\"::1}", JSON_ERR_SYNTAX, 5),
    BAD("missing value", "{\"a\":}", JSON_ERR_SYNTAX, 5),
    BAD("members without comma", "{\"a\":1 \"b\":2}", JSON_ERR_SYNTAX, 7),
    BAD("bare key", "{a:1}", JSON_ERR_SYNTAX, 1),
    BAD("single-quoted key", "{'a':1}", JSON_ERR_SYNTAX, 1),
    BAD("single-quoted string", "'single'", JSON_ERR_SYNTAX, 0),
    BAD("comma as object", "{,}", JSON_ERR_SYNTAX, 1),
    BAD("array closed by brace", "[1}", JSON_ERR_SYNTAX, 2),
    BAD("object closed by bracket", "{\"a\":1]", JSON_ERR_SYNTAX, 6),
    BAD("NaN", "[NaN]", JSON_ERR_SYNTAX, 1),
    BAD("Infinity", "[Infinity]", JSON_ERR_SYNTAX, 1),
    BAD("fraction without integer", "[.1]", JSON_ERR_SYNTAX, 1),
    BAD("plus sign", "[+1]", JSON_ERR_SYNTAX, 1),
    BAD("hex number", "[0x10]", JSON_ERR_SYNTAX, 2),
    BAD("two dots", "[1.5.3]", JSON_ERR_SYNTAX, 4),
    BAD("misspelt true", "[tru]", JSON_ERR_SYNTAX, 4),
    BAD("capital True", "[True]", JSON_ERR_SYNTAX, 1),
    BAD("nulL", "[nulL]", JSON_ERR_SYNTAX, 4),
    BAD("byte order mark", "\xEF\xBB\xBF{}", JSON_ERR_SYNTAX, 0),
    BAD("comment", "/* c */ 1", JSON_ERR_SYNTAX, 0),
    BAD("form feed is not whitespace", "[\f1]", JSON_ERR_SYNTAX, 1),
    BAD("vertical tab is not whitespace", "[1,\v2]", JSON_ERR_SYNTAX, 3),
    BAD("no-break space is not whitespace", "\xC2\xA0[]", JSON_ERR_SYNTAX, 0),

    BAD("open array", "[", JSON_ERR_TRUNCATED, AT_END),
    BAD("after comma", "[1,", JSON_ERR_TRUNCATED, AT_END),
    BAD("after element and space", "[1 ", JSON_ERR_TRUNCATED, AT_END),
    BAD("after key", "{\"a\"", JSON_ERR_TRUNCATED, AT_END),
    BAD("after colon", "{\"a\":", JSON_ERR_TRUNCATED, AT_END),
    BAD("nested open", "{\"a\":[1,{", JSON_ERR_TRUNCATED, AT_END),
    BAD("open string", "\"abc", JSON_ERR_TRUNCATED, AT_END),
    BAD("literal cut", "tru", JSON_ERR_TRUNCATED, AT_END),
    BAD("lone minus", "-", JSON_ERR_TRUNCATED, AT_END),
    BAD("dot at end", "1.", JSON_ERR_TRUNCATED, AT_END),
    BAD("exponent mark at end", "1e", JSON_ERR_TRUNCATED, AT_END),
    BAD("exponent sign at end", "1e+", JSON_ERR_TRUNCATED, AT_END),
    BAD("backslash at end", "\"\\", JSON_ERR_TRUNCATED, AT_END),
    BAD("short \\u at end", "\"\\u12", JSON_ERR_TRUNCATED, AT_END),
    BAD("high surrogate at end", "\"\\ud800", JSON_ERR_TRUNCATED, AT_END),
    BAD("high surrogate then backslash at end", "\"\\ud800\\", JSON_ERR_TRUNCATED, AT_END),
    BAD("UTF-8 lead at end", "\"\xC3", JSON_ERR_TRUNCATED, AT_END),
    BAD("3 of 4 UTF-8 bytes at end", "\"\xF0\x9F\x98", JSON_ERR_TRUNCATED, AT_END),

    BAD("second value", "1 2", JSON_ERR_TRAILING, 2),
    BAD("extra brace", "{}}", JSON_ERR_TRAILING, 2),
    BAD("garbage after array", "[]x", JSON_ERR_TRAILING, 2),
    BAD("second string", "\"a\" \"b\"", JSON_ERR_TRAILING, 4),
    BAD("trailing comma at top", "null,", JSON_ERR_TRAILING, 4),
    BAD("NUL after value", "{} \0", JSON_ERR_TRAILING, 3),
    BAD("number with two dots at top", "1.5.3", JSON_ERR_TRAILING, 3),

    BAD_DEPTH("array in array at depth 1", "[[1]]", 1, 1),
    BAD_DEPTH("array in object at depth 1", "{\"a\":[]}", 1, 5),
    BAD_DEPTH("array at depth 0", "[]", 0, 0),
    BAD_DEPTH("object at depth 0", " {}", 0, 1),

    BAD("leading zero", "[01]", JSON_ERR_NUMBER, 2),
    BAD("negative leading zero", "[-01]", JSON_ERR_NUMBER, 3),
    BAD("double zero at top", "00", JSON_ERR_NUMBER, 1),
    BAD("minus alone", "[-]", JSON_ERR_NUMBER, 2),
    BAD("minus letter", "-a", JSON_ERR_NUMBER, 1),
    BAD("minus Infinity", "-Infinity", JSON_ERR_NUMBER, 1),
    BAD("minus dot", "[-.5]", JSON_ERR_NUMBER, 2),
    BAD("dot without digits", "[1.]", JSON_ERR_NUMBER, 3),
    BAD("dot then exponent", "[1.e5]", JSON_ERR_NUMBER, 3),
    BAD("exponent without digits", "[1e]", JSON_ERR_NUMBER, 3),
    BAD("exponent sign without digits", "[1e+]", JSON_ERR_NUMBER, 4),
    BAD("exponent sign then letter", "[1E-x]", JSON_ERR_NUMBER, 4),
    BAD("double exponent mark", "[1ee2]", JSON_ERR_NUMBER, 3),

    BAD("raw NUL in string", "[\"\0\"]", JSON_ERR_STRING, 2),
    BAD("raw U+001F in string", "[\"a\x1F\"]", JSON_ERR_STRING, 3),
    BAD("raw tab in string", "\"\t\"", JSON_ERR_STRING, 1),
    BAD("raw newline in string", "\"\n\"", JSON_ERR_STRING, 1),
    BAD("lone continuation byte", "[\"\x80\"]", JSON_ERR_STRING, 2),
    BAD("overlong C0", "\"\xC0\xAF\"", JSON_ERR_STRING, 1),
    BAD("overlong C1", "\"\xC1\xBF\"", JSON_ERR_STRING, 1),
    BAD("overlong 3-byte", "\"\xE0\x80\xAF\"", JSON_ERR_STRING, 2),
    BAD("overlong 4-byte", "\"\xF0\x8F\xBF\xBF\"", JSON_ERR_STRING, 2),
    BAD("surrogate encoded in UTF-8", "\"\xED\xA0\x80\"", JSON_ERR_STRING, 2),
    BAD("above U+10FFFF", "\"\xF4\x90\x80\x80\"", JSON_ERR_STRING, 2),
    BAD("lead F5", "\"\xF5\x80\x80\x80\"", JSON_ERR_STRING, 1),
    BAD("byte FF", "\"\xFF\"", JSON_ERR_STRING, 1),
    BAD("lead then ASCII", "\"\xC3\x28\"", JSON_ERR_STRING, 2),
    BAD("3-byte cut by quote", "\"\xE2\x82\"", JSON_ERR_STRING, 3),
    BAD("4-byte cut by quote", "\"\xF0\x90\x80\"", JSON_ERR_STRING, 4),

    BAD("\\x escape", "[\"\\x41\"]", JSON_ERR_ESCAPE, 3),
    BAD("\\a escape", "\"\\a\"", JSON_ERR_ESCAPE, 2),
    BAD("\\' escape", "\"\\'\"", JSON_ERR_ESCAPE, 2),
    BAD("\\U escape", "\"\\U0041\"", JSON_ERR_ESCAPE, 2),
    BAD("non-hex digit", "\"\\u12G4\"", JSON_ERR_ESCAPE, 5),
    BAD("signed \\u", "\"\\u-123\"", JSON_ERR_ESCAPE, 3),
    BAD("short \\u before quote", "\"\\u00\"", JSON_ERR_ESCAPE, 5),
    BAD("lone high surrogate", "[\"\\ud800\"]", JSON_ERR_ESCAPE, 8),
    BAD("high surrogate then letter", "\"\\ud800x\"", JSON_ERR_ESCAPE, 7),
    BAD("high surrogate then \\n", "\"\\ud800\\n\"", JSON_ERR_ESCAPE, 8),
    BAD("high surrogate then BMP", "\"\\ud800\\u0041\"", JSON_ERR_ESCAPE, 9),
    BAD("high surrogate then D7FF", "\"\\ud800\\uD7FF\"", JSON_ERR_ESCAPE, 10),
    BAD("two high surrogates", "\"\\ud800\\ud800\"", JSON_ERR_ESCAPE, 10),
    BAD("lone low surrogate", "\"\\uDFFF\"", JSON_ERR_ESCAPE, 4),
    BAD("low before high", "[\"\\udc00\\ud800\"]", JSON_ERR_ESCAPE, 5),
};

static size_t expected_offset(const struct doc_case *c)
{
    return c->offset == AT_END ? c->len : c->offset;
}

static void check_doc(const struct doc_case *c)
{
    struct json_result res = {JSON_ERROR_COUNT, SIZE_MAX};
    enum json_error err = json_validate(c->text, c->len, c->depth_max, &res);
    if (err != c->error || res.error != err || res.offset != expected_offset(c)) {
        fail_msg("%s: got %s at %zu, want %s at %zu", c->name, json_error_name(res.error),
                 res.offset, json_error_name(c->error), expected_offset(c));
    }
}

static void test_valid_documents_are_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid_docs) / sizeof(valid_docs[0]); i++) {
        check_doc(&valid_docs[i]);
    }
}

static void test_invalid_documents_are_refused_at_the_first_bad_byte(void **state)
{
    (void)state;
    assert_true(sizeof(invalid_docs) > sizeof(valid_docs));
    for (size_t i = 0; i < sizeof(invalid_docs) / sizeof(invalid_docs[0]); i++) {
        check_doc(&invalid_docs[i]);
    }
}

/* A nesting of `levels` arrays (or objects {"k": ...}) around 0. */
static size_t make_nested(char *buf, size_t cap, unsigned levels, bool objects)
{
    size_t n = 0;
    for (unsigned i = 0; i < levels; i++) {
        const char *open = objects ? "{\"k\":" : "[";
        assert_true(n + strlen(open) < cap);
        memcpy(buf + n, open, strlen(open));
        n += strlen(open);
    }
    assert_true(n + 1 + levels < cap);
    buf[n++] = '0';
    for (unsigned i = 0; i < levels; i++) {
        buf[n++] = objects ? '}' : ']';
    }
    return n;
}

static void test_depth_exactly_at_the_limit_passes_and_one_more_fails(void **state)
{
    (void)state;
    char buf[1024];
    struct json_result res;
    for (int objects = 0; objects <= 1; objects++) {
        size_t opener = objects ? 5 : 1;
        size_t n = make_nested(buf, sizeof(buf), 64, objects);
        assert_int_equal(json_validate(buf, n, 64, &res), JSON_OK);
        assert_int_equal(res.offset, n);
        n = make_nested(buf, sizeof(buf), 65, objects);
        assert_int_equal(json_validate(buf, n, 64, &res), JSON_ERR_DEPTH);
        assert_int_equal(res.offset, 64 * opener);
        assert_int_equal(json_validate(buf, n, 65, &res), JSON_OK);
    }
    assert_int_equal(json_validate("7", 1, 0, &res), JSON_OK);
}

static void test_depth_above_the_hard_max_counts_as_the_hard_max(void **state)
{
    (void)state;
    char buf[2 * JSON_DEPTH_HARD_MAX + 8];
    struct json_result res;
    size_t n = make_nested(buf, sizeof(buf), JSON_DEPTH_HARD_MAX, false);
    assert_int_equal(json_validate(buf, n, UINT_MAX, &res), JSON_OK);
    n = make_nested(buf, sizeof(buf), JSON_DEPTH_HARD_MAX + 1, false);
    assert_int_equal(json_validate(buf, n, UINT_MAX, &res), JSON_ERR_DEPTH);
    assert_int_equal(res.offset, JSON_DEPTH_HARD_MAX);
}

static void test_deep_nesting_far_beyond_any_limit_is_refused_without_recursion(void **state)
{
    (void)state;
    static char buf[1 << 20];
    memset(buf, '[', sizeof(buf));
    struct json_result res;
    assert_int_equal(json_validate(buf, sizeof(buf), 32, &res), JSON_ERR_DEPTH);
    assert_int_equal(res.offset, 32);
}

/* ---- json_object_scan ---- */

#define MSG                                                                                        \
    "{\"type\":\"send_message\",\"channel\":\"chat:1\","                                           \
    "\"data\":{\"text\":\"hi\",\"tags\":[\"a\",\"b\"],\"n\":1.5},\"id\":7}"

static void expect_span(struct json_span span, const char *text)
{
    if (span.len != strlen(text) || memcmp(span.ptr, text, span.len) != 0) {
        fail_msg("span \"%.*s\", want \"%s\"", (int)span.len, span.ptr, text);
    }
}

static void test_protocol_message_members_are_exact_spans(void **state)
{
    (void)state;
    const char *text = MSG;
    struct json_member m[8];
    size_t count = 99;
    struct json_result res;
    assert_int_equal(json_object_scan(text, strlen(text), 8, m, 8, &count, &res), JSON_OK);
    assert_int_equal(res.offset, strlen(text));
    assert_int_equal(count, 4);
    expect_span(m[0].key, "\"type\"");
    expect_span(m[0].value, "\"send_message\"");
    assert_int_equal(m[0].type, JSON_STRING);
    expect_span(m[1].value, "\"chat:1\"");
    expect_span(m[2].key, "\"data\"");
    expect_span(m[2].value, "{\"text\":\"hi\",\"tags\":[\"a\",\"b\"],\"n\":1.5}");
    assert_int_equal(m[2].type, JSON_OBJECT);
    expect_span(m[3].value, "7");
    assert_int_equal(m[3].type, JSON_NUMBER);
    /* The data span is forwarded as is: it points into the message, it is not a copy. */
    assert_ptr_equal(m[2].value.ptr, strstr(text, "{\"text\""));
    int64_t id = 0;
    assert_true(json_number_to_i64(m[3].value, &id));
    assert_int_equal(id, 7);
    char channel[16];
    assert_int_equal(json_string_decode(m[1].value, channel, sizeof(channel)), 6);
    assert_memory_equal(channel, "chat:1", 6);
}

static void test_member_spans_exclude_surrounding_whitespace(void **state)
{
    (void)state;
    const char *text =
        " {\n \"data\" : [ 1, 2 ] ,\t\"id\":-3 , \"t\":true,\"s\":\"\",\"z\":null } ";
    struct json_member m[8];
    size_t count = 0;
    struct json_result res;
    assert_int_equal(json_object_scan(text, strlen(text), 4, m, 8, &count, &res), JSON_OK);
    assert_int_equal(count, 5);
    expect_span(m[0].value, "[ 1, 2 ]");
    assert_int_equal(m[0].type, JSON_ARRAY);
    expect_span(m[1].value, "-3");
    expect_span(m[2].value, "true");
    assert_int_equal(m[2].type, JSON_TRUE);
    expect_span(m[3].value, "\"\"");
    expect_span(m[4].value, "null");
    assert_int_equal(m[4].type, JSON_NULL);
}

static void test_empty_object_has_no_members_even_with_no_room(void **state)
{
    (void)state;
    size_t count = 99;
    struct json_result res;
    assert_int_equal(json_object_scan(" { } ", 5, 1, NULL, 0, &count, &res), JSON_OK);
    assert_int_equal(count, 0);
}

struct object_case {
    const char *name;
    const char *text;
    size_t members_max;
    unsigned depth_max;
    enum json_error error;
    size_t offset;
};

static const struct object_case object_cases[] = {
    {"nested duplicates are allowed", "{\"a\":{\"x\":1,\"x\":2},\"b\":[{\"y\":1,\"y\":1}]}", 4, 8,
     JSON_OK, 0},
    {"different after unescaping", "{\"a\":1,\"\\u0062\":2,\"ab\":3}", 4, 8, JSON_OK, 0},
    {"exactly members_max members", "{\"a\":1,\"b\":2}", 2, 8, JSON_OK, 0},
    {"empty text", "", 4, 8, JSON_ERR_EMPTY, 0},
    {"only whitespace", "  ", 4, 8, JSON_ERR_EMPTY, 2},
    {"array", "[1]", 4, 8, JSON_ERR_NOT_OBJECT, 0},
    {"string after whitespace", "  \"x\"", 4, 8, JSON_ERR_NOT_OBJECT, 2},
    {"number", "1", 4, 8, JSON_ERR_NOT_OBJECT, 0},
    {"not read past the first byte", "[", 4, 8, JSON_ERR_NOT_OBJECT, 0},
    {"one member too many", "{\"a\":1,\"b\":2,\"c\":3}", 2, 8, JSON_ERR_TOO_MANY_MEMBERS, 13},
    {"no room at all", "{\"a\":1}", 0, 8, JSON_ERR_TOO_MANY_MEMBERS, 1},
    {"too many before a later error", "{\"a\":1,\"b\":}", 1, 8, JSON_ERR_TOO_MANY_MEMBERS, 7},
    {"same key", "{\"a\":1,\"a\":2}", 4, 8, JSON_ERR_DUPLICATE_KEY, 7},
    {"\\u0061 is a", "{\"a\":1,\"\\u0061\":2}", 4, 8, JSON_ERR_DUPLICATE_KEY, 7},
    {"\\u00e9 is raw e-acute", "{\"\xC3\xA9\":1,\"\\u00e9\":2}", 4, 8, JSON_ERR_DUPLICATE_KEY, 8},
    {"surrogate pair is raw emoji", "{\"\xF0\x9F\x98\x80\":1,\"\\ud83d\\ude00\":2}", 4, 8,
     JSON_ERR_DUPLICATE_KEY, 10},
    {"\\/ is /", "{\"a/b\":1,\"a\\/b\":2}", 4, 8, JSON_ERR_DUPLICATE_KEY, 9},
    {"duplicate after a nested value", "{\"d\":{\"d\":[]},\"x\":0,\"d\":1}", 4, 8,
     JSON_ERR_DUPLICATE_KEY, 20},
    {"duplicate before a later error", "{\"a\":1,\"a\":}", 4, 8, JSON_ERR_DUPLICATE_KEY, 7},
    {"number error before a duplicate", "{\"a\":01,\"a\":1}", 4, 8, JSON_ERR_NUMBER, 6},
    {"trailing comma", "{\"a\":1,}", 4, 8, JSON_ERR_SYNTAX, 7},
    {"bad escape in a value", "{\"a\":\"\\ud800\"}", 4, 8, JSON_ERR_ESCAPE, 12},
    {"bad UTF-8 in a key", "{\"\xC0\x80\":1}", 4, 8, JSON_ERR_STRING, 2},
    {"bytes after the object", "{\"a\":1} {}", 4, 8, JSON_ERR_TRAILING, 8},
    {"unterminated", "{\"a\":[1,2", 4, 8, JSON_ERR_TRUNCATED, 9},
    {"member value too deep", "{\"a\":[1]}", 4, 1, JSON_ERR_DEPTH, 5},
    {"the root counts as a level", "{}", 4, 0, JSON_ERR_DEPTH, 0},
};

static void test_object_scan_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(object_cases) / sizeof(object_cases[0]); i++) {
        const struct object_case *c = &object_cases[i];
        struct json_member m[4];
        size_t count = 99;
        struct json_result res = {JSON_ERROR_COUNT, SIZE_MAX};
        size_t len = strlen(c->text);
        enum json_error err =
            json_object_scan(c->text, len, c->depth_max, m, c->members_max, &count, &res);
        size_t want = c->error == JSON_OK ? len : c->offset;
        if (err != c->error || res.error != err || res.offset != want) {
            fail_msg("%s: got %s at %zu, want %s at %zu", c->name, json_error_name(err), res.offset,
                     json_error_name(c->error), want);
        }
        if (err != JSON_OK) {
            assert_int_equal(count, 0);
        }
    }
}

/* ---- coverage of the error list ---- */

static void test_every_error_code_is_produced_by_some_scenario(void **state)
{
    (void)state;
    bool seen[JSON_ERROR_COUNT] = {false};
    for (size_t i = 0; i < sizeof(invalid_docs) / sizeof(invalid_docs[0]); i++) {
        seen[invalid_docs[i].error] = true;
    }
    for (size_t i = 0; i < sizeof(object_cases) / sizeof(object_cases[0]); i++) {
        seen[object_cases[i].error] = true;
    }
    for (int e = 0; e < JSON_ERROR_COUNT; e++) {
        if (!seen[e]) {
            fail_msg("no scenario produces %s", json_error_name((enum json_error)e));
        }
    }
}

static void test_error_names_are_distinct_and_texts_are_sentences(void **state)
{
    (void)state;
    for (int e = 0; e < JSON_ERROR_COUNT; e++) {
        const char *name = json_error_name((enum json_error)e);
        const char *text = json_error_text((enum json_error)e);
        assert_non_null(name);
        assert_non_null(text);
        assert_true(strlen(name) > 1 && strlen(text) > 10);
        for (int other = 0; other < e; other++) {
            assert_string_not_equal(name, json_error_name((enum json_error)other));
        }
    }
    assert_string_equal(json_error_name(JSON_ERR_DEPTH), "depth");
}

/* ---- json_member_find ---- */

static void test_member_find_matches_keys_through_escapes(void **state)
{
    (void)state;
    const char *text = "{\"ty\\u0070e\":\"join\",\"a\\/b\":1,\"\\u00E9t\\u00e9\":2,"
                       "\"nul\\u0000\":3,\"\\ud83d\\ude00\":4,\"tab\\t\":5}";
    struct json_member m[8];
    size_t count = 0;
    struct json_result res;
    assert_int_equal(json_object_scan(text, strlen(text), 2, m, 8, &count, &res), JSON_OK);
    assert_int_equal(count, 6);
    assert_ptr_equal(json_member_find(m, count, "type"), &m[0]);
    assert_ptr_equal(json_member_find(m, count, "a/b"), &m[1]);
    assert_ptr_equal(json_member_find(m, count, "\xC3\xA9t\xC3\xA9"), &m[2]);
    assert_ptr_equal(json_member_find(m, count, "\xF0\x9F\x98\x80"), &m[4]);
    assert_ptr_equal(json_member_find(m, count, "tab\t"), &m[5]);
    assert_null(json_member_find(m, count, "typ"));
    assert_null(json_member_find(m, count, "types"));
    assert_null(json_member_find(m, count, "nul"));
    assert_null(json_member_find(m, count, "TYPE"));
    assert_null(json_member_find(m, 0, "type"));
}

/* ---- strings ---- */

static struct json_span span_of(const char *lit)
{
    return (struct json_span){lit, strlen(lit)};
}

static void test_string_decode_unescapes_into_utf8(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(json_string_decode(span_of("\"hi\""), out, sizeof(out)), 2);
    assert_memory_equal(out, "hi", 2);
    assert_int_equal(json_string_decode(span_of("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), out, 32), 8);
    assert_memory_equal(out, "\"\\/\b\f\n\r\t", 8);
    assert_int_equal(json_string_decode(span_of("\"\\u00e9\\u20AC\\ud83d\\ude00\""), out, 32), 9);
    assert_memory_equal(out, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9);
    assert_int_equal(json_string_decode(span_of("\"\\uDBFF\\uDFFF\""), out, 32), 4);
    assert_memory_equal(out, "\xF4\x8F\xBF\xBF", 4);
    assert_int_equal(json_string_decode(span_of("\"a\\u0000b\""), out, 32), 3);
    assert_memory_equal(out, "a\0b", 3);
    assert_int_equal(json_string_decode(span_of("\"\xCE\xBA\xF0\x9F\x98\x80\""), out, 32), 6);
    assert_memory_equal(out, "\xCE\xBA\xF0\x9F\x98\x80", 6);
}

static void test_string_decode_refuses_a_buffer_too_small(void **state)
{
    (void)state;
    char out[8];
    struct json_span pair = span_of("\"x\\ud83d\\ude00\"");
    assert_int_equal(json_string_decode(pair, out, 5), 5);
    assert_int_equal(json_string_decode(pair, out, 4), -1);
    assert_int_equal(json_string_decode(pair, out, 2), -1);
    assert_int_equal(json_string_decode(span_of("\"\""), NULL, 0), 0);
    assert_int_equal(json_string_decode(span_of("\"a\""), NULL, 0), -1);
}

static void test_string_decode_refuses_spans_that_are_not_one_string(void **state)
{
    (void)state;
    char out[32];
    static const char *const bad[] = {"\"abc",       "abc",          "\"",
                                      "\"\\ud800\"", "\"a\"b\"",     "\"\\q\"",
                                      "\"\x01\"",    "\"\xC0\x80\"", "\"a\" "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (json_string_decode(span_of(bad[i]), out, sizeof(out)) != -1) {
            fail_msg("decoded invalid span %s", bad[i]);
        }
        assert_false(json_string_equals(span_of(bad[i]), "abc"));
    }
    assert_int_equal(json_string_decode((struct json_span){"\"\"", 0}, out, 32), -1);
}

static void test_string_equals_compares_decoded_bytes(void **state)
{
    (void)state;
    assert_true(json_string_equals(span_of("\"ty\\u0070e\""), "type"));
    assert_true(json_string_equals(span_of("\"\""), ""));
    assert_false(json_string_equals(span_of("\"type\""), "typ"));
    assert_false(json_string_equals(span_of("\"typ\""), "type"));
    assert_false(json_string_equals(span_of("\"\\u0000\""), ""));
    assert_true(json_string_equals(span_of("\"\\ud83d\\ude00\""), "\xF0\x9F\x98\x80"));
    assert_false(json_string_equals(span_of("\"\\ud83d\\ude00\""), "\xF0\x9F\x98"));
}

/* ---- numbers ---- */

static void test_i64_accepts_integers_in_range_only(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool ok;
        int64_t value;
    } cases[] = {
        {"0", true, 0},
        {"-0", true, 0},
        {"7", true, 7},
        {"-7", true, -7},
        {"9223372036854775807", true, INT64_MAX},
        {"-9223372036854775808", true, INT64_MIN},
        {"9223372036854775808", false, 0},
        {"-9223372036854775809", false, 0},
        {"18446744073709551616", false, 0},
        {"1.0", false, 0},
        {"1e3", false, 0},
        {"01", false, 0},
        {"", false, 0},
        {"-", false, 0},
        {"+1", false, 0},
        {"1 ", false, 0},
        {"\"1\"", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t out = 42;
        bool ok = json_number_to_i64(span_of(cases[i].text), &out);
        if (ok != cases[i].ok || out != (ok ? cases[i].value : 42)) {
            fail_msg("i64 \"%s\": got %d %lld", cases[i].text, ok, (long long)out);
        }
    }
}

static void test_u64_accepts_integers_in_range_only(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool ok;
        uint64_t value;
    } cases[] = {
        {"0", true, 0},
        {"-0", true, 0},
        {"9223372036854775808", true, 9223372036854775808ull},
        {"18446744073709551615", true, UINT64_MAX},
        {"18446744073709551616", false, 0},
        {"99999999999999999999", false, 0},
        {"-1", false, 0},
        {"1.5", false, 0},
        {"2E2", false, 0},
        {"00", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t out = 42;
        bool ok = json_number_to_u64(span_of(cases[i].text), &out);
        if (ok != cases[i].ok || out != (ok ? cases[i].value : 42)) {
            fail_msg("u64 \"%s\": got %d %llu", cases[i].text, ok, (unsigned long long)out);
        }
    }
}

/* ---- arrays ---- */

static void test_array_iteration_steps_over_nested_values(void **state)
{
    (void)state;
    const char *text = "[ 1, [2, [3]], {\"a\": [4, {\"b\": \"]\"}]}, \"x]\\\"\" ,true,null,"
                       "-1.5e3,[] ]";
    struct json_result res;
    assert_int_equal(json_validate(text, strlen(text), 4, &res), JSON_OK);
    static const struct {
        const char *span;
        enum json_type type;
    } want[] = {
        {"1", JSON_NUMBER},
        {"[2, [3]]", JSON_ARRAY},
        {"{\"a\": [4, {\"b\": \"]\"}]}", JSON_OBJECT},
        {"\"x]\\\"\"", JSON_STRING},
        {"true", JSON_TRUE},
        {"null", JSON_NULL},
        {"-1.5e3", JSON_NUMBER},
        {"[]", JSON_ARRAY},
    };
    size_t pos = 0;
    struct json_span element;
    enum json_type type;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_true(json_array_next(span_of(text), &pos, &element, &type));
        expect_span(element, want[i].span);
        assert_int_equal(type, want[i].type);
        assert_int_equal(json_type_of(element), type);
    }
    assert_false(json_array_next(span_of(text), &pos, &element, &type));
    assert_false(json_array_next(span_of(text), &pos, &element, &type));
}

static void test_array_iteration_of_empty_arrays_and_member_values(void **state)
{
    (void)state;
    size_t pos = 0;
    struct json_span element;
    enum json_type type;
    assert_false(json_array_next(span_of("[]"), &pos, &element, &type));
    pos = 0;
    assert_false(json_array_next(span_of("[ \n\t]"), &pos, &element, &type));

    const char *text = MSG;
    struct json_member m[8];
    size_t count = 0;
    struct json_result res;
    assert_int_equal(json_object_scan(text, strlen(text), 8, m, 8, &count, &res), JSON_OK);
    const struct json_member *data = json_member_find(m, count, "data");
    assert_non_null(data);
    struct json_member inner[4];
    size_t inner_count = 0;
    assert_int_equal(
        json_object_scan(data->value.ptr, data->value.len, 7, inner, 4, &inner_count, &res),
        JSON_OK);
    const struct json_member *tags = json_member_find(inner, inner_count, "tags");
    assert_non_null(tags);
    pos = 0;
    assert_true(json_array_next(tags->value, &pos, &element, &type));
    assert_true(json_string_equals(element, "a"));
    assert_true(json_array_next(tags->value, &pos, &element, &type));
    assert_true(json_string_equals(element, "b"));
    assert_false(json_array_next(tags->value, &pos, &element, &type));
}

static void test_type_of_reads_the_first_byte(void **state)
{
    (void)state;
    assert_int_equal(json_type_of(span_of("null")), JSON_NULL);
    assert_int_equal(json_type_of(span_of("false")), JSON_FALSE);
    assert_int_equal(json_type_of(span_of("true")), JSON_TRUE);
    assert_int_equal(json_type_of(span_of("-1")), JSON_NUMBER);
    assert_int_equal(json_type_of(span_of("0.5")), JSON_NUMBER);
    assert_int_equal(json_type_of(span_of("\"s\"")), JSON_STRING);
    assert_int_equal(json_type_of(span_of("[]")), JSON_ARRAY);
    assert_int_equal(json_type_of(span_of("{}")), JSON_OBJECT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents_are_accepted),
        cmocka_unit_test(test_invalid_documents_are_refused_at_the_first_bad_byte),
        cmocka_unit_test(test_depth_exactly_at_the_limit_passes_and_one_more_fails),
        cmocka_unit_test(test_depth_above_the_hard_max_counts_as_the_hard_max),
        cmocka_unit_test(test_deep_nesting_far_beyond_any_limit_is_refused_without_recursion),
        cmocka_unit_test(test_protocol_message_members_are_exact_spans),
        cmocka_unit_test(test_member_spans_exclude_surrounding_whitespace),
        cmocka_unit_test(test_empty_object_has_no_members_even_with_no_room),
        cmocka_unit_test(test_object_scan_scenarios),
        cmocka_unit_test(test_every_error_code_is_produced_by_some_scenario),
        cmocka_unit_test(test_error_names_are_distinct_and_texts_are_sentences),
        cmocka_unit_test(test_member_find_matches_keys_through_escapes),
        cmocka_unit_test(test_string_decode_unescapes_into_utf8),
        cmocka_unit_test(test_string_decode_refuses_a_buffer_too_small),
        cmocka_unit_test(test_string_decode_refuses_spans_that_are_not_one_string),
        cmocka_unit_test(test_string_equals_compares_decoded_bytes),
        cmocka_unit_test(test_i64_accepts_integers_in_range_only),
        cmocka_unit_test(test_u64_accepts_integers_in_range_only),
        cmocka_unit_test(test_array_iteration_steps_over_nested_values),
        cmocka_unit_test(test_array_iteration_of_empty_arrays_and_member_values),
        cmocka_unit_test(test_type_of_reads_the_first_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
