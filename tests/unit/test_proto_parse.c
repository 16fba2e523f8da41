/* Unit tests for gateway/proto_parse: every client request of docs/protocol.md section 6 with
 * its field combinations, ids (2.3), unknown fields (2.4), the order of checks (2.5), the
 * JSON limits (2.2), and the error table (9). Channel names and the sentences that quote
 * them are in test_proto_channel.c.
 *
 * Every parse goes through proto_parse_head then proto_parse_body, as the session does, and
 * every result's text is checked: NUL-terminated, valid UTF-8, no control characters, empty
 * exactly on success. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"
#include "gateway/proto.h"

struct parse {
    struct proto_request req;
    struct proto_parse_result res;
    struct json_member members[PROTO_MEMBERS_MAX];
    size_t count;
    enum proto_error head; /* what proto_parse_head returned */
};

static void text_check(const struct proto_parse_result *res)
{
    size_t n = strnlen(res->text, PROTO_ERROR_TEXT_BYTES);
    assert_true(n < PROTO_ERROR_TEXT_BYTES);
    assert_true(utf8_is_valid((const uint8_t *)res->text, n));
    for (size_t i = 0; i < n; i++) {
        assert_true((uint8_t)res->text[i] >= 0x20 && res->text[i] != 0x7F);
    }
    assert_int_equal(n == 0, res->error == PROTO_OK);
}

static enum proto_error parse_len(struct parse *p, const char *msg, size_t len)
{
    memset(p, 0xA5, sizeof(*p)); /* nothing may be read before it is written */
    p->head = proto_parse_head(msg, len, &p->req, p->members, &p->count, &p->res);
    assert_int_equal(p->head, p->res.error);
    assert_true(p->head == PROTO_OK || p->head == PROTO_ERR_BAD_REQUEST);
    assert_false(p->res.type_known);
    text_check(&p->res);
    if (p->head != PROTO_OK) {
        return p->head;
    }
    enum proto_error body = proto_parse_body(p->members, p->count, &p->req, &p->res);
    assert_int_equal(body, p->res.error);
    text_check(&p->res);
    return p->res.error;
}

static enum proto_error parse(struct parse *p, const char *msg)
{
    return parse_len(p, msg, strlen(msg));
}

static bool span_is(struct json_span span, const char *text)
{
    return span.len == strlen(text) && memcmp(span.ptr, text, span.len) == 0;
}

/* Parses `msg`, asserts success with `type`, returns the request. */
static const struct proto_request *parse_ok(struct parse *p, const char *msg, enum proto_type type)
{
    enum proto_error err = parse(p, msg);
    if (err != PROTO_OK) {
        fail_msg("%s: %s: %s", msg, proto_error_name(err), p->res.text);
    }
    assert_true(p->res.type_known);
    assert_int_equal(p->req.type, type);
    return &p->req;
}

/* Parses `msg`, asserts `error` with exactly `text` (or any text when NULL). */
static void parse_fails(struct parse *p, const char *msg, enum proto_error error, const char *text)
{
    enum proto_error err = parse(p, msg);
    if (err != error) {
        fail_msg("%s: expected %s, got %s (%s)", msg, proto_error_name(error),
                 proto_error_name(err), p->res.text);
    }
    if (text != NULL) {
        assert_string_equal(p->res.text, text);
    }
}

static const char *const id_sentence =
    "\"id\" must be a string of 1 to 64 bytes or an integer from 0 to 9007199254740991";

/* ---- every request type ---- */

static void connect_with_and_without_token(void **state)
{
    (void)state;
    struct parse p;
    const struct proto_request *req = parse_ok(&p, "{\"type\":\"connect\"}", PROTO_CONNECT);
    assert_false(req->has_token);
    assert_false(req->has_id);
    assert_false(req->has_channel);

    req = parse_ok(&p, "{\"type\":\"connect\",\"id\":1,\"token\" : \"ey.J\\u0068.s\" }",
                   PROTO_CONNECT);
    assert_true(req->has_token);
    assert_true(span_is(req->token, "\"ey.J\\u0068.s\""));
    assert_true(req->has_id);
    assert_true(span_is(req->id, "1"));

    parse_fails(&p, "{\"type\":\"connect\",\"token\":null}", PROTO_ERR_BAD_REQUEST,
                "field \"token\" must be a string (a JWT)");
    parse_fails(&p, "{\"type\":\"connect\",\"channel\":\"a\"}", PROTO_ERR_BAD_REQUEST,
                "unknown field \"channel\" in connect");
}

static void join_channel_with_and_without_since(void **state)
{
    (void)state;
    struct parse p;
    const struct proto_request *req =
        parse_ok(&p, "{\"type\":\"join_channel\",\"channel\":\"chat:lobby\"}", PROTO_JOIN_CHANNEL);
    assert_true(req->has_channel);
    assert_string_equal(req->channel.name, "chat:lobby");
    assert_int_equal(req->channel.len, 10);
    assert_int_equal(req->channel.namespace_len, 4);
    assert_false(req->has_since);

    req = parse_ok(&p,
                   "{\"since\":{\"epoch\":\"h7Kq2cXz\",\"offset\":41},\"id\":\"j\","
                   "\"channel\":\"chat:lobby\",\"type\":\"join_channel\"}",
                   PROTO_JOIN_CHANNEL);
    assert_true(req->has_since);
    assert_int_equal(req->since.offset, 41);
    assert_string_equal(req->since.epoch, "h7Kq2cXz");
    assert_int_equal(req->since.epoch_len, 8);
    assert_true(span_is(req->id, "\"j\""));

    parse_fails(&p, "{\"type\":\"join_channel\"}", PROTO_ERR_BAD_REQUEST,
                "missing field \"channel\" in join_channel");
    parse_fails(&p, "{\"type\":\"join_channel\",\"channel\":\"a\",\"sinse\":{}}",
                PROTO_ERR_BAD_REQUEST, "unknown field \"sinse\" in join_channel");
    parse_fails(&p, "{\"type\":\"join_channel\",\"channel\":\"a\",\"limit\":5}",
                PROTO_ERR_BAD_REQUEST, "unknown field \"limit\" in join_channel");
}

static void leave_channel_and_presence_take_only_a_channel(void **state)
{
    (void)state;
    struct parse p;
    const struct proto_request *req =
        parse_ok(&p, "{\"type\":\"leave_channel\",\"id\":4,\"channel\":\"chat:lobby\"}",
                 PROTO_LEAVE_CHANNEL);
    assert_string_equal(req->channel.name, "chat:lobby");
    req = parse_ok(&p, "{\"type\":\"presence\",\"channel\":\"room\"}", PROTO_PRESENCE);
    assert_string_equal(req->channel.name, "room");
    assert_int_equal(req->channel.namespace_len, 0);
    assert_false(req->channel.has_namespace);

    parse_fails(&p, "{\"type\":\"leave_channel\"}", PROTO_ERR_BAD_REQUEST,
                "missing field \"channel\" in leave_channel");
    parse_fails(&p, "{\"type\":\"presence\",\"channel\":\"a\",\"since\":{}}", PROTO_ERR_BAD_REQUEST,
                "unknown field \"since\" in presence");
    parse_fails(&p, "{\"type\":\"leave_channel\",\"channel\":7}", PROTO_ERR_BAD_REQUEST,
                "field \"channel\" must be a string");
}

static void send_message_data_is_kept_byte_for_byte(void **state)
{
    (void)state;
    struct parse p;
    const struct proto_request *req = parse_ok(&p,
                                               "{ \"type\" : \"send_message\" , \"channel\":\"c\","
                                               "\"data\" :  {\"text\":\"h\\u00e9llo\" , "
                                               "\"n\":1.50}\t\r\n}",
                                               PROTO_SEND_MESSAGE);
    assert_true(req->has_data);
    assert_true(span_is(req->data, "{\"text\":\"h\\u00e9llo\" , \"n\":1.50}"));

    static const char *const values[] = {"null",  "0",  "-1.5e3", "\"x\"", "[ 1 , [] ]",
                                         "false", "{}", "true",   "\"\""};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char msg[128];
        snprintf(msg, sizeof(msg), "{\"data\":%s,\"type\":\"send_message\",\"channel\":\"c\"}",
                 values[i]);
        req = parse_ok(&p, msg, PROTO_SEND_MESSAGE);
        assert_true(req->has_data);
        assert_true(span_is(req->data, values[i]));
        assert_ptr_equal(req->data.ptr, msg + strlen("{\"data\":"));
    }
    parse_fails(&p, "{\"type\":\"send_message\",\"channel\":\"c\"}", PROTO_ERR_BAD_REQUEST,
                "missing field \"data\" in send_message");
    parse_fails(&p, "{\"type\":\"send_message\",\"data\":1}", PROTO_ERR_BAD_REQUEST,
                "missing field \"channel\" in send_message");
    parse_fails(&p, "{\"type\":\"send_message\",\"channel\":\"c\",\"data\":1,\"typing\":true}",
                PROTO_ERR_BAD_REQUEST, "unknown field \"typing\" in send_message");
}

static void user_typing_defaults_to_true(void **state)
{
    (void)state;
    struct parse p;
    const char *msgs[] = {"{\"type\":\"user_typing\",\"channel\":\"c\"}",
                          "{\"type\":\"user_typing\",\"channel\":\"c\",\"typing\":true}",
                          "{\"type\":\"user_typing\",\"channel\":\"c\",\"typing\":false}"};
    const bool expected[] = {true, true, false};
    for (size_t i = 0; i < 3; i++) {
        const struct proto_request *req = parse_ok(&p, msgs[i], PROTO_USER_TYPING);
        assert_int_equal(req->typing, expected[i]);
        assert_string_equal(req->channel.name, "c");
    }
    static const char *const bad[] = {"\"true\"", "1", "null", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[128];
        snprintf(msg, sizeof(msg), "{\"type\":\"user_typing\",\"channel\":\"c\",\"typing\":%s}",
                 bad[i]);
        parse_fails(&p, msg, PROTO_ERR_BAD_REQUEST, "field \"typing\" must be true or false");
    }
}

/* All eight combinations of since, limit and direction. */
static void history_every_field_combination(void **state)
{
    (void)state;
    struct parse p;
    for (unsigned mask = 0; mask < 8; mask++) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "{\"type\":\"history\",\"id\":7,\"channel\":\"chat:lobby\"%s%s%s}",
                 mask & 1 ? ",\"since\":{\"offset\":44,\"epoch\":\"h7Kq2cXz\"}" : "",
                 mask & 2 ? ",\"limit\":2" : "", mask & 4 ? ",\"direction\":\"backward\"" : "");
        const struct proto_request *req = parse_ok(&p, msg, PROTO_HISTORY);
        assert_int_equal(req->has_since, (mask & 1) != 0);
        if (mask & 1) {
            assert_int_equal(req->since.offset, 44);
            assert_string_equal(req->since.epoch, "h7Kq2cXz");
        }
        assert_int_equal(req->limit, (mask & 2) ? 2 : 0);
        assert_int_equal(req->backward, (mask & 4) != 0);
    }
    const struct proto_request *req = parse_ok(
        &p, "{\"type\":\"history\",\"channel\":\"c\",\"direction\":\"forward\",\"limit\":1}",
        PROTO_HISTORY);
    assert_false(req->backward);
    assert_int_equal(req->limit, 1);
    req = parse_ok(&p,
                   "{\"type\":\"history\",\"channel\":\"c\",\"direction\":\"b\\u0061ckward\","
                   "\"limit\":9007199254740991}",
                   PROTO_HISTORY);
    assert_true(req->backward);
    assert_int_equal(req->limit, 9007199254740991ull);
}

static void history_limit_and_direction_out_of_range(void **state)
{
    (void)state;
    struct parse p;
    static const char *const limits[] = {"0",
                                         "-1",
                                         "-0",
                                         "1.0",
                                         "1e2",
                                         "2.5",
                                         "\"5\"",
                                         "null",
                                         "9007199254740992",
                                         "18446744073709551616"};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        char msg[128];
        snprintf(msg, sizeof(msg), "{\"type\":\"history\",\"channel\":\"c\",\"limit\":%s}",
                 limits[i]);
        parse_fails(&p, msg, PROTO_ERR_BAD_REQUEST,
                    "field \"limit\" must be an integer from 1 to 9007199254740991 (the "
                    "server's page maximum applies)");
    }
    static const char *const directions[] = {"\"sideways\"", "\"Forward\"", "\"\"", "1",
                                             "\"forward \"", "null"};
    for (size_t i = 0; i < sizeof(directions) / sizeof(directions[0]); i++) {
        char msg[128];
        snprintf(msg, sizeof(msg), "{\"type\":\"history\",\"channel\":\"c\",\"direction\":%s}",
                 directions[i]);
        parse_fails(&p, msg, PROTO_ERR_BAD_REQUEST,
                    "field \"direction\" must be \"forward\" or \"backward\"");
    }
    parse_fails(&p, "{\"type\":\"history\",\"channel\":\"c\",\"data\":1}", PROTO_ERR_BAD_REQUEST,
                "unknown field \"data\" in history");
}

static void ping_takes_no_fields(void **state)
{
    (void)state;
    struct parse p;
    const struct proto_request *req = parse_ok(&p, "{\"type\":\"ping\",\"id\":8}", PROTO_PING);
    assert_false(req->has_channel || req->has_since || req->has_token || req->has_data);
    assert_true(req->typing);
    assert_int_equal(req->limit, 0);
    assert_false(req->backward);
    parse_fails(&p, "{\"type\":\"ping\",\"channel\":\"a\"}", PROTO_ERR_BAD_REQUEST,
                "unknown field \"channel\" in ping");
    parse_fails(&p, "{\"type\":\"ping\",\"Type\":\"ping\"}", PROTO_ERR_BAD_REQUEST,
                "unknown field \"Type\" in ping");
}

/* ---- since ---- */

static void since_edge_cases(void **state)
{
    (void)state;
    struct parse p;
    static const struct {
        const char *since;
        const char *text; /* NULL: accepted */
    } cases[] = {
        {"{\"offset\":0,\"epoch\":\"a\"}", NULL},
        {"{\"offset\":9007199254740991,\"epoch\":\"A-z_09\"}", NULL},
        {"{ \"epoch\" : \"e\\u0070och\" , \"offset\" : 3 }", NULL},
        {"{\"offset\":1,\"epoch\":\"12345678901234567890123456789012\"}", NULL},
        {"[]", "field \"since\" must be an object {\"offset\": integer, \"epoch\": string}"},
        {"null", "field \"since\" must be an object {\"offset\": integer, \"epoch\": string}"},
        {"\"41\"", "field \"since\" must be an object {\"offset\": integer, \"epoch\": string}"},
        {"{}", "missing field \"offset\" in since"},
        {"{\"offset\":1}", "missing field \"epoch\" in since"},
        {"{\"epoch\":\"a\"}", "missing field \"offset\" in since"},
        {"{\"offset\":1,\"epoch\":\"a\",\"ofset\":2}", "unknown field \"ofset\" in since"},
        {"{\"offset\":1,\"offset\":2,\"epoch\":\"a\"}",
         "key \"offset\" appears twice in field \"since\"; give each field once"},
        {"{\"offset\":-1,\"epoch\":\"a\"}",
         "field \"since.offset\" must be an integer from 0 to 9007199254740991"},
        {"{\"offset\":-0,\"epoch\":\"a\"}",
         "field \"since.offset\" must be an integer from 0 to 9007199254740991"},
        {"{\"offset\":1.0,\"epoch\":\"a\"}",
         "field \"since.offset\" must be an integer from 0 to 9007199254740991"},
        {"{\"offset\":1e2,\"epoch\":\"a\"}",
         "field \"since.offset\" must be an integer from 0 to 9007199254740991"},
        {"{\"offset\":9007199254740992,\"epoch\":\"a\"}",
         "field \"since.offset\" must be an integer from 0 to 9007199254740991"},
        {"{\"offset\":\"1\",\"epoch\":\"a\"}",
         "field \"since.offset\" must be an integer from 0 to 9007199254740991"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg), "{\"type\":\"join_channel\",\"channel\":\"c\",\"since\":%s}",
                 cases[i].since);
        if (cases[i].text == NULL) {
            assert_true(parse_ok(&p, msg, PROTO_JOIN_CHANNEL)->has_since);
        } else {
            parse_fails(&p, msg, PROTO_ERR_BAD_REQUEST, cases[i].text);
            assert_false(p.req.has_since);
        }
    }
    const struct proto_request *req = parse_ok(
        &p,
        "{\"type\":\"history\",\"channel\":\"c\",\"since\":{\"epoch\":\"e\\u0070och\",\"offset\":"
        "9007199254740991}}",
        PROTO_HISTORY);
    assert_string_equal(req->since.epoch, "epoch");
    assert_int_equal(req->since.epoch_len, 5);
    assert_int_equal(req->since.offset, 9007199254740991ull);
}

static void since_epoch_rules(void **state)
{
    (void)state;
    struct parse p;
    static const char *const bad[] = {"\"\"",           "\"123456789012345678901234567890123\"",
                                      "\"a.b\"",        "\"a b\"",
                                      "\"caf\\u00e9\"", "\"caf\xc3\xa9\"",
                                      "\"a\\u0000\"",   "7",
                                      "null",           "\"a:b\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[256];
        snprintf(
            msg, sizeof(msg),
            "{\"type\":\"join_channel\",\"channel\":\"c\",\"since\":{\"offset\":1,\"epoch\":%s}}",
            bad[i]);
        parse_fails(
            &p, msg, PROTO_ERR_BAD_REQUEST,
            "field \"since.epoch\" must be a string of 1 to 32 bytes of A-Z a-z 0-9 _ -, as "
            "the server sent it");
    }
    /* 32 bytes after unescaping, 192 as sent. */
    char msg[512];
    int n = snprintf(
        msg, sizeof(msg), "%s",
        "{\"type\":\"join_channel\",\"channel\":\"c\",\"since\":{\"offset\":1,\"epoch\":\"");
    for (int i = 0; i < 32; i++) {
        n += snprintf(msg + n, sizeof(msg) - (size_t)n, "\\u0041");
    }
    snprintf(msg + n, sizeof(msg) - (size_t)n, "\"}}");
    const struct proto_request *req = parse_ok(&p, msg, PROTO_JOIN_CHANNEL);
    assert_int_equal(req->since.epoch_len, 32);
    assert_string_equal(req->since.epoch, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
}

/* ---- id (2.3) ---- */

static void ids_accepted_as_sent(void **state)
{
    (void)state;
    struct parse p;
    static const char *const ids[] = {
        "\"a\"",
        "\"a\\u0062\"",
        "0",
        "7",
        "9007199254740991",
        "\"\\\"\"",
        "\"1234567890123456789012345678901234567890123456789012345678901234\"",
        "\"caf\xc3\xa9\"",
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\": %s }", ids[i]);
        const struct proto_request *req = parse_ok(&p, msg, PROTO_PING);
        assert_true(req->has_id);
        assert_true(span_is(req->id, ids[i]));
        assert_ptr_equal(req->id.ptr, msg + strlen("{\"type\":\"ping\",\"id\": "));
    }
}

static void ids_refused_without_id(void **state)
{
    (void)state;
    struct parse p;
    static const char *const ids[] = {
        "\"\"",
        "\"12345678901234567890123456789012345678901234567890123456789012345\"",
        "\"\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\"",
        "9007199254740992",
        "18446744073709551616",
        "1.0",
        "1e2",
        "-1",
        "-0",
        "null",
        "true",
        "{}",
        "{\"a\":1}",
        "[1]",
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":%s}", ids[i]);
        parse_fails(&p, msg, PROTO_ERR_BAD_REQUEST, id_sentence);
        assert_int_equal(p.head, PROTO_ERR_BAD_REQUEST);
        assert_false(p.req.has_id);
    }
}

/* ---- the order of checks (2.5) ---- */

static void precedence_json_before_id(void **state)
{
    (void)state;
    struct parse p;
    parse_fails(&p, "{\"id\":null,\"type\":\"ping\",}", PROTO_ERR_BAD_REQUEST, NULL);
    assert_non_null(strstr(p.res.text, "invalid JSON at byte 25: "));
    assert_false(p.req.has_id);
    parse_fails(&p, "{\"id\":1,\"id\":2}", PROTO_ERR_BAD_REQUEST,
                "key \"id\" appears twice in the message; give each field once");
    assert_false(p.req.has_id);
}

static void precedence_id_before_type(void **state)
{
    (void)state;
    struct parse p;
    parse_fails(&p, "{\"id\":-1,\"type\":\"nope\"}", PROTO_ERR_BAD_REQUEST, id_sentence);
    assert_false(p.req.has_id);
    assert_false(p.res.type_known);
    parse_fails(&p, "{\"id\":\"\"}", PROTO_ERR_BAD_REQUEST, id_sentence);

    /* The head alone accepts a message whose type is wrong: the caller takes its rate token
     * in between. */
    struct proto_request req;
    struct proto_parse_result res;
    struct json_member members[PROTO_MEMBERS_MAX];
    size_t count = 0;
    static const char msg[] = "{\"type\":\"nope\",\"id\":3}";
    assert_int_equal(proto_parse_head(msg, sizeof(msg) - 1, &req, members, &count, &res), PROTO_OK);
    assert_int_equal(count, 2);
    assert_true(req.has_id);
    assert_string_equal(res.text, "");
    assert_int_equal(proto_parse_body(members, count, &req, &res), PROTO_ERR_UNKNOWN_TYPE);
    assert_true(req.has_id);
}

static void precedence_type_before_fields(void **state)
{
    (void)state;
    struct parse p;
    parse_fails(&p, "{\"id\":1}", PROTO_ERR_BAD_REQUEST,
                "missing field \"type\": every message names its type, one of connect, "
                "join_channel, leave_channel, send_message, user_typing, presence, history, "
                "ping");
    assert_true(p.req.has_id);
    assert_false(p.res.type_known);
    parse_fails(&p, "{\"type\":7,\"limit\":0}", PROTO_ERR_BAD_REQUEST,
                "field \"type\" must be a string, not a number");
    parse_fails(&p, "{\"type\":null}", PROTO_ERR_BAD_REQUEST,
                "field \"type\" must be a string, not null");
    parse_fails(&p, "{\"type\":\"nope\",\"limit\":0,\"channel\":\"a b\"}", PROTO_ERR_UNKNOWN_TYPE,
                "unknown type \"nope\"; client messages are connect, join_channel, "
                "leave_channel, send_message, user_typing, presence, history, ping");
    assert_false(p.res.type_known);
    parse_fails(&p, "{\"type\":\"Ping\"}", PROTO_ERR_UNKNOWN_TYPE, NULL);
    parse_fails(&p, "{\"type\":\"ping\\u0000\"}", PROTO_ERR_UNKNOWN_TYPE, NULL);
    assert_non_null(strstr(p.res.text, "unknown type \"ping\\u0000\";"));
    parse_ok(&p, "{\"type\":\"p\\u0069ng\"}", PROTO_PING);
}

static void precedence_fields_before_channel_name(void **state)
{
    (void)state;
    struct parse p;
    parse_fails(&p, "{\"type\":\"history\",\"channel\":\"a b\",\"limit\":0}", PROTO_ERR_BAD_REQUEST,
                "field \"limit\" must be an integer from 1 to 9007199254740991 (the server's "
                "page maximum applies)");
    assert_true(p.res.type_known);
    assert_false(p.req.has_channel);
    parse_fails(&p, "{\"type\":\"send_message\",\"channel\":\"a b\"}", PROTO_ERR_BAD_REQUEST,
                "missing field \"data\" in send_message");
    parse_fails(&p, "{\"type\":\"join_channel\",\"channel\":\"\",\"sinse\":1}",
                PROTO_ERR_BAD_REQUEST, "unknown field \"sinse\" in join_channel");

    /* Everything else right: the name is the answer, with the id and the type. */
    parse_fails(&p, "{\"type\":\"join_channel\",\"id\":\"x\",\"channel\":\"a b\"}",
                PROTO_ERR_CHANNEL_NAME_INVALID,
                "channel \"a b\" has ' ' at byte 1; names use A-Z a-z 0-9 _ - . : @ / =");
    assert_true(p.req.has_id);
    assert_true(p.res.type_known);
    assert_int_equal(p.req.type, PROTO_JOIN_CHANNEL);
    assert_false(p.req.has_channel);
}

static void precedence_first_bad_field_in_order_then_missing(void **state)
{
    (void)state;
    struct parse p;
    parse_fails(&p, "{\"type\":\"history\",\"direction\":\"up\",\"limit\":0}",
                PROTO_ERR_BAD_REQUEST, "field \"direction\" must be \"forward\" or \"backward\"");
    parse_fails(&p, "{\"type\":\"history\",\"limit\":0,\"direction\":\"up\"}",
                PROTO_ERR_BAD_REQUEST,
                "field \"limit\" must be an integer from 1 to 9007199254740991 (the server's "
                "page maximum applies)");
    parse_fails(&p, "{\"type\":\"history\",\"lmit\":0}", PROTO_ERR_BAD_REQUEST,
                "unknown field \"lmit\" in history");
}

/* ---- JSON (2.2) ---- */

static void json_errors_name_the_byte(void **state)
{
    (void)state;
    struct parse p;
    char expected[PROTO_ERROR_TEXT_BYTES];
    snprintf(expected, sizeof(expected), "invalid JSON at byte 15: %s",
             json_error_text(JSON_ERR_TRAILING));
    parse_fails(&p, "{\"type\":\"ping\"}x", PROTO_ERR_BAD_REQUEST, expected);
    snprintf(expected, sizeof(expected), "invalid JSON at byte 15: %s",
             json_error_text(JSON_ERR_SYNTAX));
    parse_fails(&p, "{\"type\":\"ping\",}", PROTO_ERR_BAD_REQUEST, expected);
    snprintf(expected, sizeof(expected), "invalid JSON at byte 0: %s",
             json_error_text(JSON_ERR_EMPTY));
    parse_fails(&p, "", PROTO_ERR_BAD_REQUEST, expected);
    snprintf(expected, sizeof(expected), "invalid JSON at byte 14: %s",
             json_error_text(JSON_ERR_TRUNCATED));
    parse_fails(&p, "{\"type\":\"ping\"", PROTO_ERR_BAD_REQUEST, expected);
    parse_fails(&p, "{\"type\":\"ping\",\"n\":01}", PROTO_ERR_BAD_REQUEST, NULL);
    parse_fails(&p, "{\"type\":\"ping\",\"n\":NaN}", PROTO_ERR_BAD_REQUEST, NULL);
    parse_fails(&p, "{\"type\":\"ping\" /* */}", PROTO_ERR_BAD_REQUEST, NULL);
    parse_fails(&p, "{\"type\":\"\\ud800\"}", PROTO_ERR_BAD_REQUEST, NULL);
    parse_fails(&p, "{\"type\":\"a\tb\"}", PROTO_ERR_BAD_REQUEST, NULL);
    assert_int_equal(parse_len(&p, "{\"type\":\"ping\"}\0", 16), PROTO_ERR_BAD_REQUEST);

    static const char *const not_objects[] = {"[]", "\"ping\"", "1", "null", "x", " [{}]"};
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
        parse_fails(&p, not_objects[i], PROTO_ERR_BAD_REQUEST, "the message must be a JSON object");
    }
}

static void duplicate_and_too_many_keys(void **state)
{
    (void)state;
    struct parse p;
    parse_fails(&p, "{\"type\":\"ping\",\"type\":\"ping\"}", PROTO_ERR_BAD_REQUEST,
                "key \"type\" appears twice in the message; give each field once");
    parse_fails(&p, "{\"type\":\"ping\",\"\\u0074ype\":\"ping\"}", PROTO_ERR_BAD_REQUEST,
                "key \"type\" appears twice in the message; give each field once");
    /* Only top-level keys are the protocol's; duplicates inside data are the sender's. */
    parse_ok(&p, "{\"type\":\"send_message\",\"channel\":\"c\",\"data\":{\"a\":1,\"a\":2}}",
             PROTO_SEND_MESSAGE);

    char msg[512] = "{\"type\":\"ping\"";
    for (int i = 0; i < PROTO_MEMBERS_MAX; i++) {
        snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), ",\"k%d\":%d", i, i);
    }
    strcat(msg, "}");
    parse_fails(&p, msg, PROTO_ERR_BAD_REQUEST,
                "the message has more than 16 members; no request has that many");
}

/* A data value nested `levels` deep inside the message object. */
static void nested_message(char *msg, size_t cap, int levels)
{
    int n = snprintf(msg, cap, "{\"type\":\"send_message\",\"channel\":\"c\",\"data\":");
    for (int i = 0; i < levels; i++) {
        msg[n++] = (i % 2) ? '[' : '{';
        if (i % 2 == 0) {
            n += snprintf(msg + n, cap - (size_t)n, "\"k\":");
        }
    }
    msg[n++] = '1';
    for (int i = levels - 1; i >= 0; i--) {
        msg[n++] = (i % 2) ? ']' : '}';
    }
    msg[n++] = '}';
    msg[n] = '\0';
}

static void depth_32_accepted_33_refused(void **state)
{
    (void)state;
    struct parse p;
    char msg[512];
    nested_message(msg, sizeof(msg), PROTO_JSON_DEPTH_MAX - 1);
    const struct proto_request *req = parse_ok(&p, msg, PROTO_SEND_MESSAGE);
    assert_int_equal(req->data.len, strlen(msg) - strlen("{\"type\":\"send_message\",\"channel\":"
                                                         "\"c\",\"data\":}"));
    nested_message(msg, sizeof(msg), PROTO_JSON_DEPTH_MAX);
    parse_fails(&p, msg, PROTO_ERR_BAD_REQUEST, NULL);
    assert_non_null(strstr(p.res.text, "nesting deeper than 32 levels"));
}

/* ---- the error table (9) ---- */

static void error_names_and_strikes(void **state)
{
    (void)state;
    static const struct {
        enum proto_error error;
        const char *name;
        bool strikes;
    } table[] = {
        {PROTO_ERR_BAD_REQUEST, "bad_request", true},
        {PROTO_ERR_UNKNOWN_TYPE, "unknown_type", true},
        {PROTO_ERR_NOT_CONNECTED, "not_connected", true},
        {PROTO_ERR_ALREADY_CONNECTED, "already_connected", true},
        {PROTO_ERR_CHANNEL_NAME_INVALID, "channel_name_invalid", true},
        {PROTO_ERR_UNKNOWN_NAMESPACE, "unknown_namespace", true},
        {PROTO_ERR_NOT_AUTHORIZED, "not_authorized", true},
        {PROTO_ERR_ALREADY_JOINED, "already_joined", true},
        {PROTO_ERR_NOT_JOINED, "not_joined", true},
        {PROTO_ERR_TOO_MANY_CHANNELS, "too_many_channels", true},
        {PROTO_ERR_RATE_LIMITED, "rate_limited", true},
        {PROTO_ERR_MESSAGE_TOO_LARGE, "message_too_large", true},
        {PROTO_ERR_PRESENCE_DISABLED, "presence_disabled", true},
        {PROTO_ERR_TYPING_DISABLED, "typing_disabled", true},
        {PROTO_ERR_HISTORY_DISABLED, "history_disabled", true},
        {PROTO_ERR_EPOCH_MISMATCH, "epoch_mismatch", false},
        {PROTO_ERR_CHANNEL_FULL, "channel_full", false},
        {PROTO_ERR_SERVER_BUSY, "server_busy", false},
        {PROTO_ERR_STORAGE_UNAVAILABLE, "storage_unavailable", false},
        {PROTO_ERR_INTERNAL, "internal_error", false},
    };
    assert_int_equal(sizeof(table) / sizeof(table[0]), PROTO_ERROR_COUNT - 1);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_int_equal(table[i].error, (enum proto_error)(i + 1)); /* section 9's order */
        assert_string_equal(proto_error_name(table[i].error), table[i].name);
        assert_int_equal(proto_error_strikes(table[i].error), table[i].strikes);
    }
    assert_string_equal(proto_error_name(PROTO_OK), "ok");
    assert_false(proto_error_strikes(PROTO_OK));
    assert_string_equal(proto_error_name(PROTO_ERROR_COUNT), "unknown");
    assert_string_equal(proto_error_name((enum proto_error) - 1), "unknown");
    assert_false(proto_error_strikes(PROTO_ERROR_COUNT));

    static const char *const types[PROTO_TYPE_COUNT] = {
        "connect",     "join_channel", "leave_channel", "send_message",
        "user_typing", "presence",     "history",       "ping"};
    for (unsigned t = 0; t < PROTO_TYPE_COUNT; t++) {
        assert_string_equal(proto_type_name((enum proto_type)t), types[t]);
    }
    assert_string_equal(proto_type_name(PROTO_TYPE_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_with_and_without_token),
        cmocka_unit_test(join_channel_with_and_without_since),
        cmocka_unit_test(leave_channel_and_presence_take_only_a_channel),
        cmocka_unit_test(send_message_data_is_kept_byte_for_byte),
        cmocka_unit_test(user_typing_defaults_to_true),
        cmocka_unit_test(history_every_field_combination),
        cmocka_unit_test(history_limit_and_direction_out_of_range),
        cmocka_unit_test(ping_takes_no_fields),
        cmocka_unit_test(since_edge_cases),
        cmocka_unit_test(since_epoch_rules),
        cmocka_unit_test(ids_accepted_as_sent),
        cmocka_unit_test(ids_refused_without_id),
        cmocka_unit_test(precedence_json_before_id),
        cmocka_unit_test(precedence_id_before_type),
        cmocka_unit_test(precedence_type_before_fields),
        cmocka_unit_test(precedence_fields_before_channel_name),
        cmocka_unit_test(precedence_first_bad_field_in_order_then_missing),
        cmocka_unit_test(json_errors_name_the_byte),
        cmocka_unit_test(duplicate_and_too_many_keys),
        cmocka_unit_test(depth_32_accepted_33_refused),
        cmocka_unit_test(error_names_and_strikes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
