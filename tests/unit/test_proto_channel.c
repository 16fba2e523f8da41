/* Unit tests for channel names (docs/protocol.md 4.1) and namespace names (4.2) in
 * gateway/proto_parse: which bytes a name may hold, its length after unescaping, where its
 * namespace ends, and the sentences that quote a refused name: escaped, bounded, valid
 * UTF-8, whatever the name held. The parser's other rules are in test_proto_parse.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"
#include "gateway/proto.h"

static const char allowed[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:@/=";

static void text_check(const char *text)
{
    size_t n = strnlen(text, PROTO_ERROR_TEXT_BYTES);
    assert_true(n > 0 && n < PROTO_ERROR_TEXT_BYTES);
    assert_true(utf8_is_valid((const uint8_t *)text, n));
    for (size_t i = 0; i < n; i++) {
        assert_true((uint8_t)text[i] >= 0x20 && text[i] != 0x7F);
    }
}

/* Parses a join_channel whose "channel" member is `raw` (a JSON value as sent). */
static enum proto_error join(const char *raw, struct proto_request *req,
                             struct proto_parse_result *res)
{
    static char msg[4096];
    int n = snprintf(msg, sizeof(msg), "{\"type\":\"join_channel\",\"channel\":%s}", raw);
    assert_true(n > 0 && (size_t)n < sizeof(msg));
    struct json_member members[PROTO_MEMBERS_MAX];
    size_t count = 0;
    enum proto_error err = proto_parse_head(msg, (size_t)n, req, members, &count, res);
    assert_int_equal(err, PROTO_OK);
    err = proto_parse_body(members, count, req, res);
    if (err != PROTO_OK) {
        text_check(res->text);
        assert_false(req->has_channel);
    }
    return err;
}

static void every_allowed_character_in_one_name(void **state)
{
    (void)state;
    struct proto_request req;
    struct proto_parse_result res;
    char raw[128];
    snprintf(raw, sizeof(raw), "\"%s\"", allowed);
    assert_int_equal(join(raw, &req, &res), PROTO_OK);
    assert_true(req.has_channel);
    assert_string_equal(req.channel.name, allowed);
    assert_int_equal(req.channel.len, strlen(allowed));
    assert_int_equal(req.channel.namespace_len, strchr(allowed, ':') - allowed);
    assert_true(req.channel.has_namespace);
}

/* proto_channel_check over every byte value, alone and inside a name. */
static void every_byte_is_allowed_or_named(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        struct proto_channel ch;
        char text[PROTO_ERROR_TEXT_BYTES] = "untouched";
        char name[3] = {'a', (char)c, 'b'};
        bool ok = proto_channel_check(name, sizeof(name), &ch, text);
        bool expected = c != 0 && strchr(allowed, (int)c) != NULL;
        assert_int_equal(ok, expected);
        if (ok) {
            assert_string_equal(text, "untouched");
            assert_int_equal(ch.len, 3);
            assert_memory_equal(ch.name, name, 3);
            assert_int_equal(ch.name[3], '\0');
            continue;
        }
        text_check(text);
        char at[32];
        snprintf(at, sizeof(at), " at byte 1; names use ");
        assert_non_null(strstr(text, at));
    }
}

static void forbidden_characters_through_the_parser(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        const char *text;
    } cases[] = {
        {"\"a b\"", "channel \"a b\" has ' ' at byte 1; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"a*\"", "channel \"a*\" has '*' at byte 1; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"+a\"", "channel \"+a\" has '+' at byte 0; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"a#b\"", "channel \"a#b\" has '#' at byte 1; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"a?\"", "channel \"a?\" has '?' at byte 1; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"a&b\"", "channel \"a&b\" has '&' at byte 1; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"50%\"", "channel \"50%\" has '%' at byte 2; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"caf\xc3\xa9\"",
         "channel \"caf\xc3\xa9\" has U+00E9 at byte 3; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"caf\\u00e9\"",
         "channel \"caf\xc3\xa9\" has U+00E9 at byte 3; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"\\ud83d\\ude00\"",
         "channel \"\xf0\x9f\x98\x80\" has U+1F600 at byte 0; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"a\\u0000\"", "channel \"a\\u0000\" has U+0000 at byte 1; names use A-Z a-z 0-9 _ - . "
                         ": @ / ="},
        {"\"a\\n\"", "channel \"a\\u000a\" has U+000A at byte 1; names use A-Z a-z 0-9 _ - . : @ "
                     "/ ="},
        {"\"a\\\"b\"",
         "channel \"a\\\"b\" has '\"' at byte 1; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"a\\\\b\"",
         "channel \"a\\\\b\" has '\\' at byte 1; names use A-Z a-z 0-9 _ - . : @ / ="},
        {"\"\"",
         "the channel name is empty; names are 1 to 255 bytes of A-Z a-z 0-9 _ - . : @ / ="},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proto_request req;
        struct proto_parse_result res;
        assert_int_equal(join(cases[i].raw, &req, &res), PROTO_ERR_CHANNEL_NAME_INVALID);
        assert_string_equal(res.text, cases[i].text);
        assert_true(res.type_known);
    }
}

static void length_255_accepted_256_refused(void **state)
{
    (void)state;
    struct proto_request req;
    struct proto_parse_result res;
    char raw[2048];
    memset(raw, 'a', sizeof(raw));
    raw[0] = '"';
    raw[256] = '"';
    raw[257] = '\0';
    assert_int_equal(join(raw, &req, &res), PROTO_OK);
    assert_int_equal(req.channel.len, 255);

    raw[256] = 'a';
    raw[257] = '"';
    raw[258] = '\0';
    assert_int_equal(join(raw, &req, &res), PROTO_ERR_CHANNEL_NAME_INVALID);
    assert_string_equal(res.text,
                        "channel \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                        "aaaaaaaaa...\" is longer than 255 bytes; names are 1 to 255 "
                        "bytes of A-Z a-z 0-9 _ - . : @ / =");

    /* Length counts after unescaping: 255 escapes (1530 bytes as sent) are 255 bytes. */
    int n = snprintf(raw, sizeof(raw), "\"");
    for (int i = 0; i < 255; i++) {
        n += snprintf(raw + n, sizeof(raw) - (size_t)n, "\\u0062");
    }
    snprintf(raw + n, sizeof(raw) - (size_t)n, "\"");
    assert_int_equal(join(raw, &req, &res), PROTO_OK);
    assert_int_equal(req.channel.len, 255);
    assert_int_equal(req.channel.name[254], 'b');
    assert_int_equal(req.channel.name[255], '\0');

    struct proto_channel ch;
    char text[PROTO_ERROR_TEXT_BYTES];
    char name[300];
    memset(name, 'z', sizeof(name));
    assert_true(proto_channel_check(name, 255, &ch, text));
    assert_false(proto_channel_check(name, 256, &ch, text));
    assert_non_null(strstr(text, "...\" is 256 bytes long; names are 1 to 255 bytes"));
    assert_false(proto_channel_check(name, 0, &ch, text));
    assert_false(proto_channel_check(NULL, 0, &ch, text));
}

static void escaped_names_decode_before_the_check(void **state)
{
    (void)state;
    struct proto_request req;
    struct proto_parse_result res;
    assert_int_equal(join("\"chat\\u003alobby\"", &req, &res), PROTO_OK);
    assert_string_equal(req.channel.name, "chat:lobby");
    assert_int_equal(req.channel.namespace_len, 4);
    assert_int_equal(join("\"a\\/b\"", &req, &res), PROTO_OK);
    assert_string_equal(req.channel.name, "a/b");
    assert_int_equal(join("\"\\u0041\\u003d\"", &req, &res), PROTO_OK);
    assert_string_equal(req.channel.name, "A=");
}

static void namespace_is_the_part_before_the_first_colon(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint16_t namespace_len;
        bool has_namespace;
    } cases[] = {
        {"lobby", 0, false}, {"chat:lobby", 4, true}, {"a:b:c", 1, true},
        {":x", 0, true},     {"x:", 1, true},         {"@user", 0, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proto_channel ch;
        char text[PROTO_ERROR_TEXT_BYTES];
        assert_true(proto_channel_check(cases[i].name, strlen(cases[i].name), &ch, text));
        assert_string_equal(ch.name, cases[i].name);
        assert_int_equal(ch.namespace_len, cases[i].namespace_len);
        assert_int_equal(ch.has_namespace, cases[i].has_namespace);
    }
}

static void check_may_validate_in_place(void **state)
{
    (void)state;
    struct proto_channel ch;
    char text[PROTO_ERROR_TEXT_BYTES];
    memcpy(ch.name, "ns:room", 8);
    assert_true(proto_channel_check(ch.name, 7, &ch, text));
    assert_string_equal(ch.name, "ns:room");
    assert_int_equal(ch.len, 7);
    assert_int_equal(ch.namespace_len, 2);

    /* Refused: `out` is left as it was. */
    struct proto_channel before = ch;
    assert_false(proto_channel_check("x y", 3, &ch, text));
    assert_memory_equal(&ch, &before, sizeof(ch));
}

/* Names from the server API need not be UTF-8: the sentence stays valid UTF-8 anyway. */
static void sentences_stay_bounded_and_valid(void **state)
{
    (void)state;
    struct proto_channel ch;
    char text[PROTO_ERROR_TEXT_BYTES];
    assert_false(proto_channel_check("a\xff", 2, &ch, text));
    assert_string_equal(text, "channel \"a\\ufffd\" has byte 0xFF at byte 1; names use A-Z a-z "
                              "0-9 _ - . : @ / =");
    assert_false(proto_channel_check("ab\xc3", 3, &ch, text));
    assert_string_equal(text, "channel \"ab\\ufffd\" has byte 0xC3 at byte 2; names use A-Z a-z "
                              "0-9 _ - . : @ / =");
    assert_false(proto_channel_check("\xed\xa0\x80", 3, &ch, text)); /* a surrogate */
    text_check(text);

    /* 200 control characters: each would take 6 bytes quoted; the quote stops at 64. */
    char name[255];
    memset(name, 0x01, sizeof(name));
    assert_false(proto_channel_check(name, sizeof(name), &ch, text));
    text_check(text);
    assert_non_null(strstr(text, "\\u0001...\" has U+0001 at byte 0"));
    assert_true(strlen(text) < 160);

    /* Two-byte characters are never cut in half by the bound. */
    for (size_t i = 0; i + 1 < sizeof(name); i += 2) {
        name[i] = (char)0xC3;
        name[i + 1] = (char)0xA9;
    }
    assert_false(proto_channel_check(name, 254, &ch, text));
    text_check(text);
    assert_non_null(strstr(text, "\xc3\xa9...\" has U+00E9 at byte 0"));

    /* A long name whose bad byte comes late names it by offset. */
    memset(name, 'a', sizeof(name));
    name[250] = '!';
    assert_false(proto_channel_check(name, sizeof(name), &ch, text));
    assert_non_null(strstr(text, "...\" has '!' at byte 250;"));
}

static void namespace_names(void **state)
{
    (void)state;
    static const char *const good[] = {"chat", "a", "a-b_c9", "default", "0"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(proto_namespace_name_valid(good[i], strlen(good[i])));
    }
    static const char *const bad[] = {"", "Chat", "a.b", "a:b", "a b", "caf\xc3\xa9", "a/b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(proto_namespace_name_valid(bad[i], strlen(bad[i])));
    }
    char name[65];
    memset(name, 'n', sizeof(name));
    assert_true(proto_namespace_name_valid(name, 64));
    assert_false(proto_namespace_name_valid(name, 65));
    assert_false(proto_namespace_name_valid("a\0b", 3));
    assert_false(proto_namespace_name_valid(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_allowed_character_in_one_name),
        cmocka_unit_test(every_byte_is_allowed_or_named),
        cmocka_unit_test(forbidden_characters_through_the_parser),
        cmocka_unit_test(length_255_accepted_256_refused),
        cmocka_unit_test(escaped_names_decode_before_the_check),
        cmocka_unit_test(namespace_is_the_part_before_the_first_colon),
        cmocka_unit_test(check_may_validate_in_place),
        cmocka_unit_test(sentences_stay_bounded_and_valid),
        cmocka_unit_test(namespace_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
