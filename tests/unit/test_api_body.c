/* Unit tests for gateway/api_body: the server API's request bodies and query strings
 * (docs/api.md section 5): what each endpoint takes, `data` kept byte for byte, every way a
 * field or parameter can be wrong, and the order of the checks (fields in the order sent,
 * then missing ones, then names, namespaces and sizes).
 *
 * The configuration has `default` and `chat` (with presence); max_publish_bytes is 64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"
#include "gateway/api_body.h"

static struct ns_config ns_items[2] = {
    {.name = "default", .history_size = 100},
    {.name = "chat", .history_size = 100, .presence = true},
};
static const struct gw_namespaces namespaces = {ns_items, 2};
static const struct api_body_rules rules = {&namespaces, 64};

static void message_check(const struct api_error *err, enum api_code code)
{
    size_t n = strnlen(err->message, sizeof err->message);
    assert_true(n < sizeof err->message);
    assert_true(utf8_is_valid((const uint8_t *)err->message, n));
    if (code != API_OK)
        assert_true(n > 0);
}

static enum api_code publish(const char *body, struct api_publish_req *out, struct api_error *err)
{
    memset(out, 0xA5, sizeof *out);
    memset(err, 0, sizeof *err);
    enum api_code code = api_parse_publish(body, strlen(body), &rules, out, err);
    if (code != API_OK)
        assert_int_equal(err->code, code);
    message_check(err, code);
    return code;
}

/* Asserts publish `body` fails with `code` and a message containing `words`. */
static void publish_refused(const char *body, enum api_code code, const char *words)
{
    struct api_publish_req req;
    struct api_error err;
    enum api_code got = publish(body, &req, &err);
    if (got != code || strstr(err.message, words) == NULL)
        fail_msg("%s\nanswered %s (%s), expected %s with \"%s\"", body, api_code_name(got),
                 err.message, api_code_name(code), words);
}

static void publish_takes_channel_data_and_user_id(void **state)
{
    (void)state;
    struct api_publish_req req;
    struct api_error err;
    const char *body = "{\"channel\":\"chat:lobby\",\"data\": {\"notice\" : [1, 2.5e3]} ,"
                       "\"user_id\":\"carol\"}";
    assert_int_equal(publish(body, &req, &err), API_OK);
    assert_string_equal(req.channel.name, "chat:lobby");
    assert_int_equal(req.channel.namespace_len, 4);
    assert_ptr_equal(req.ns, &ns_items[1]);
    assert_int_equal(req.data.len, strlen("{\"notice\" : [1, 2.5e3]}"));
    assert_memory_equal(req.data.ptr, "{\"notice\" : [1, 2.5e3]}", req.data.len);
    assert_int_equal(req.user.len, 5);
    assert_string_equal(req.user.text, "carol");

    assert_int_equal(publish("{\"data\":null,\"channel\":\"lobby\"}", &req, &err), API_OK);
    assert_ptr_equal(req.ns, &ns_items[0]);
    assert_int_equal(req.user.len, 0);
    assert_memory_equal(req.data.ptr, "null", 4);
    /* names and user ids are read after unescaping */
    assert_int_equal(
        publish("{\"channel\":\"ch\\u0061t:x\",\"data\":1,\"user_id\":\"\\u00e9\"}", &req, &err),
        API_OK);
    assert_string_equal(req.channel.name, "chat:x");
    assert_string_equal(req.user.text, "\xc3\xa9");
}

/* {"channel":"a","data":[[...]]} with `arrays` levels of arrays. */
static const char *nested(char out[200], int arrays)
{
    size_t n = (size_t)snprintf(out, 200, "{\"channel\":\"a\",\"data\":");
    for (int i = 0; i < arrays; i++)
        out[n++] = '[';
    for (int i = 0; i < arrays; i++)
        out[n++] = ']';
    memcpy(out + n, "}", 2);
    return out;
}

static void publish_refuses_what_is_not_one_strict_object(void **state)
{
    (void)state;
    publish_refused("", API_BAD_REQUEST, "invalid JSON at byte 0");
    publish_refused("[1]", API_BAD_REQUEST, "one JSON object");
    publish_refused("{\"channel\":\"a\",\"data\":1,}", API_BAD_REQUEST, "invalid JSON at byte 24");
    publish_refused("{\"channel\":\"a\",\"data\":1} x", API_BAD_REQUEST, "invalid JSON");
    publish_refused("{\"channel\":\"a\",\"data\":NaN}", API_BAD_REQUEST, "invalid JSON");
    publish_refused("{\"channel\":\"a\",\"channel\":\"b\",\"data\":1}", API_BAD_REQUEST,
                    "appears twice");
    publish_refused("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9}",
                    API_BAD_REQUEST, "more than 8 fields");
    char deep[200];
    struct api_publish_req req;
    struct api_error err;
    assert_int_equal(publish(nested(deep, 31), &req, &err), API_OK); /* 32 with the object */
    publish_refused(nested(deep, 32), API_BAD_REQUEST, "nested too deeply");
}

static void publish_fields_are_checked_in_the_order_sent(void **state)
{
    (void)state;
    publish_refused("{\"chanel\":\"a\",\"data\":1}", API_BAD_REQUEST,
                    "unknown field \"chanel\"; publish takes channel, data and user_id");
    publish_refused("{\"channel\":7,\"data\":1}", API_BAD_REQUEST,
                    "field \"channel\" must be a string");
    publish_refused("{\"channel\":\"a\",\"data\":1,\"user_id\":null}", API_BAD_REQUEST,
                    "field \"user_id\"");
    publish_refused("{\"channel\":\"a\",\"data\":1,\"user_id\":\"\"}", API_BAD_REQUEST,
                    "1 to 128 bytes");
    publish_refused("{\"channel\":\"a\",\"data\":1,\"user_id\":\"a\\nb\"}", API_BAD_REQUEST,
                    "control characters");
    char long_user[200];
    snprintf(long_user, sizeof long_user, "{\"channel\":\"a\",\"data\":1,\"user_id\":\"%0129d\"}",
             0);
    publish_refused(long_user, API_BAD_REQUEST, "1 to 128 bytes");
    snprintf(long_user, sizeof long_user, "{\"channel\":\"a\",\"data\":1,\"user_id\":\"%0128d\"}",
             0);
    struct api_publish_req req;
    struct api_error err;
    assert_int_equal(publish(long_user, &req, &err), API_OK); /* 128 bytes */
    assert_int_equal(req.user.len, 128);
    /* an unknown field is reported before a missing one; missing before a bad name */
    publish_refused("{\"x\":1}", API_BAD_REQUEST, "unknown field \"x\"");
    publish_refused("{\"data\":1}", API_BAD_REQUEST, "field \"channel\" is required");
    publish_refused("{\"channel\":\"a b\"}", API_BAD_REQUEST, "field \"data\" is required");
}

static void publish_names_then_namespaces_then_size(void **state)
{
    (void)state;
    char big[200];
    snprintf(big, sizeof big, "{\"channel\":\"%s\",\"data\":\"%070d\"}", "nope:a#b", 0);
    publish_refused(big, API_CHANNEL_NAME_INVALID, "'#' at byte 6");
    snprintf(big, sizeof big, "{\"channel\":\"%s\",\"data\":\"%070d\"}", "nope:ab", 0);
    publish_refused(big, API_UNKNOWN_NAMESPACE, "namespace \"nope\"");
    snprintf(big, sizeof big, "{\"channel\":\"%s\",\"data\":\"%070d\"}", "chat:ab", 0);
    publish_refused(big, API_MESSAGE_TOO_LARGE, "data is 72 bytes; at most 64");
    publish_refused("{\"channel\":\":room\",\"data\":1}", API_UNKNOWN_NAMESPACE, "namespace \"\"");
    publish_refused("{\"channel\":\"\",\"data\":1}", API_CHANNEL_NAME_INVALID, "empty");
    char long_name[400];
    int n = snprintf(long_name, sizeof long_name, "{\"channel\":\"");
    memset(long_name + n, 'a', 256);
    snprintf(long_name + n + 256, sizeof long_name - (size_t)n - 256, "\",\"data\":1}");
    publish_refused(long_name, API_CHANNEL_NAME_INVALID, "is 256 bytes long");
    char huge[1200];
    n = snprintf(huge, sizeof huge, "{\"channel\":\"");
    memset(huge + n, 'a', 1000);
    snprintf(huge + n + 1000, sizeof huge - (size_t)n - 1000, "\",\"data\":1}");
    publish_refused(huge, API_CHANNEL_NAME_INVALID, "longer than 255 bytes");
    snprintf(big, sizeof big, "{\"channel\":\"chat:ab\",\"data\":\"%062d\"}", 0);
    struct api_publish_req req;
    struct api_error err;
    assert_int_equal(publish(big, &req, &err), API_OK); /* 64 bytes exactly */
}

/* ---- broadcast ---- */

struct broadcast {
    struct api_broadcast_req req;
    char arena[8192];
};

static enum api_code broadcast(struct broadcast *b, const char *body, struct api_error *err)
{
    memset(b, 0xA5, sizeof *b);
    b->req.arena = b->arena;
    b->req.arena_cap = sizeof b->arena;
    assert_true(strlen(body) <= sizeof b->arena);
    enum api_code code = api_parse_broadcast(body, strlen(body), &rules, &b->req, err);
    message_check(err, code);
    return code;
}

static void broadcast_refused(const char *body, enum api_code code, const char *words)
{
    struct broadcast *b = malloc(sizeof *b);
    struct api_error err;
    enum api_code got = broadcast(b, body, &err);
    free(b);
    if (got != code || strstr(err.message, words) == NULL)
        fail_msg("%s\nanswered %s (%s), expected %s with \"%s\"", body, api_code_name(got),
                 err.message, api_code_name(code), words);
}

static void broadcast_takes_distinct_names(void **state)
{
    (void)state;
    struct broadcast *b = malloc(sizeof *b);
    struct api_error err;
    assert_int_equal(broadcast(b,
                               "{\"channels\":[\"user:alice\",\"user:bob\",\"chat:x\"],"
                               "\"data\":{\"k\":1},\"user_id\":\"carol\"}",
                               &err),
                     API_UNKNOWN_NAMESPACE); /* "user" is not configured */
    assert_int_equal(broadcast(b,
                               "{\"channels\":[\"alice\",\"chat:bob\",\"ch\\u0061t:x\"],"
                               "\"data\":{\"k\":1},\"user_id\":\"carol\"}",
                               &err),
                     API_OK);
    assert_int_equal(b->req.count, 3);
    const char *want[] = {"alice", "chat:bob", "chat:x"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(b->req.names[i].len, strlen(want[i]));
        assert_memory_equal(b->arena + b->req.names[i].offset, want[i], strlen(want[i]));
    }
    assert_memory_equal(b->req.data.ptr, "{\"k\":1}", b->req.data.len);
    assert_string_equal(b->req.user.text, "carol");
    free(b);
}

static void broadcast_refuses_bad_lists(void **state)
{
    (void)state;
    broadcast_refused("{\"channels\":[],\"data\":1}", API_BAD_REQUEST, "at least one");
    broadcast_refused("{\"channels\":\"a\",\"data\":1}", API_BAD_REQUEST, "an array");
    broadcast_refused("{\"channels\":[\"a\",2],\"data\":1}", API_BAD_REQUEST,
                      "channels[1] must be a string");
    broadcast_refused("{\"channels\":[\"a\",\"b#\"],\"data\":1}", API_CHANNEL_NAME_INVALID,
                      "channels[1]: channel \"b#\"");
    broadcast_refused("{\"channels\":[\"chat:a\",\"b\",\"ch\\u0061t:a\"],\"data\":1}",
                      API_BAD_REQUEST, "\"chat:a\" is listed twice");
    broadcast_refused("{\"channels\":[\"a\",\"x:a\"],\"data\":1}", API_UNKNOWN_NAMESPACE,
                      "namespace \"x\"");
    broadcast_refused("{\"channels\":[\"a\"],\"data\":\"" /* 70 bytes */
                      "0123456789012345678901234567890123456789012345678901234567890123456"
                      "\"}",
                      API_MESSAGE_TOO_LARGE, "at most 64");
    broadcast_refused("{\"channels\":[\"a\"]}", API_BAD_REQUEST, "\"data\" is required");
    broadcast_refused("{\"data\":1,\"channel\":\"a\"}", API_BAD_REQUEST,
                      "unknown field \"channel\"");
}

static void broadcast_takes_at_most_1000_names(void **state)
{
    (void)state;
    size_t cap = 1001 * 12 + 64;
    char *body = malloc(cap);
    struct broadcast *b = malloc(sizeof *b);
    size_t n = (size_t)snprintf(body, cap, "{\"data\":0,\"channels\":[");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s\"c%d\"", i ? "," : "", i);
    snprintf(body + n, cap - n, "]}");
    struct api_broadcast_req *req = &b->req;
    char *arena = malloc(cap);
    req->arena = arena;
    req->arena_cap = cap;
    struct api_error err;
    assert_int_equal(api_parse_broadcast(body, strlen(body), &rules, req, &err), API_OK);
    assert_int_equal(req->count, 1000);
    snprintf(body + n, cap - n, ",\"c1000\"]}");
    assert_int_equal(api_parse_broadcast(body, strlen(body), &rules, req, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "more than 1000"));
    free(arena);
    free(b);
    free(body);
}

/* ---- disconnect ---- */

static enum api_code disconnect(const char *body, struct api_disconnect_req *out,
                                struct api_error *err)
{
    memset(out, 0xA5, sizeof *out);
    enum api_code code = api_parse_disconnect(body, strlen(body), out, err);
    message_check(err, code);
    return code;
}

static void disconnect_by_user_or_by_client(void **state)
{
    (void)state;
    struct api_disconnect_req req;
    struct api_error err;
    assert_int_equal(
        disconnect("{\"user_id\":\"mallory\",\"message\":\"account suspended\"}", &req, &err),
        API_OK);
    assert_false(req.by_client_id);
    assert_string_equal(req.user.text, "mallory");
    assert_false(req.reconnect);
    assert_true(req.has_message);
    assert_string_equal(req.message, "account suspended");
    assert_int_equal(disconnect("{\"reconnect\":true,\"client_id\":\"w1-0000002a\"}", &req, &err),
                     API_OK);
    assert_true(req.by_client_id);
    assert_true(req.reconnect);
    assert_false(req.has_message);
    assert_string_equal(req.user.text, "w1-0000002a");

    assert_int_equal(disconnect("{\"user_id\":\"a\",\"client_id\":\"b\"}", &req, &err),
                     API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "exactly one"));
    assert_int_equal(disconnect("{\"reconnect\":false}", &req, &err), API_BAD_REQUEST);
    assert_int_equal(disconnect("{\"user_id\":\"a\",\"reconnect\":1}", &req, &err),
                     API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "true or false"));
    assert_int_equal(
        disconnect("{\"client_id\":\"012345678901234567890123456789012\"}", &req, &err),
        API_BAD_REQUEST); /* 33 bytes */
    assert_int_equal(disconnect("{\"user_id\":\"a\",\"why\":\"x\"}", &req, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "unknown field \"why\""));
}

static void disconnect_message_is_at_most_200_bytes(void **state)
{
    (void)state;
    char body[400];
    struct api_disconnect_req req;
    struct api_error err;
    snprintf(body, sizeof body, "{\"user_id\":\"a\",\"message\":\"%0200d\"}", 0);
    assert_int_equal(disconnect(body, &req, &err), API_OK);
    assert_int_equal(req.message_len, 200);
    snprintf(body, sizeof body, "{\"user_id\":\"a\",\"message\":\"%0201d\"}", 0);
    assert_int_equal(disconnect(body, &req, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "over 200 bytes"));
    assert_int_equal(disconnect("{\"user_id\":\"a\",\"message\":\"\"}", &req, &err), API_OK);
    assert_true(req.has_message);
    assert_int_equal(req.message_len, 0);
}

/* ---- queries ---- */

static struct http_span span(const char *s)
{
    return (struct http_span){s, strlen(s)};
}

static void presence_query(void **state)
{
    (void)state;
    struct api_presence_req req;
    struct api_error err;
    assert_int_equal(api_parse_presence(span("channel=chat%3Alobby"), &rules, &req, &err), API_OK);
    assert_string_equal(req.channel.name, "chat:lobby");
    assert_ptr_equal(req.ns, &ns_items[1]);
    assert_int_equal(api_parse_presence(span("&channel=chat:a&"), &rules, &req, &err), API_OK);
    assert_int_equal(api_parse_presence(span(""), &rules, &req, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "\"channel\" is required"));
    assert_int_equal(api_parse_presence(span("channel=a+b"), &rules, &req, &err),
                     API_CHANNEL_NAME_INVALID);
    assert_int_equal(api_parse_presence(span("channel=a%2"), &rules, &req, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "percent-encoded"));
    assert_int_equal(api_parse_presence(span("channel=a&channel=b"), &rules, &req, &err),
                     API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "given twice"));
    assert_int_equal(api_parse_presence(span("channel=a&limit=2"), &rules, &req, &err),
                     API_BAD_REQUEST);
    assert_non_null(
        strstr(err.message, "unknown parameter \"limit\"; /api/presence takes channel"));
    assert_int_equal(api_parse_presence(span("channel=x:a"), &rules, &req, &err),
                     API_UNKNOWN_NAMESPACE);
    assert_int_equal(api_parse_presence(span("channel"), &rules, &req, &err),
                     API_CHANNEL_NAME_INVALID); /* present but empty */
}

static void history_query(void **state)
{
    (void)state;
    struct api_history_req req;
    struct api_error err;
    assert_int_equal(api_parse_history(span("channel=chat:a"), &rules, &req, &err), API_OK);
    assert_false(req.has_since);
    assert_false(req.has_epoch);
    assert_int_equal(req.limit, 100);
    assert_false(req.backward);
    assert_int_equal(api_parse_history(span("direction=backward&limit=1000&since=0&epoch=h7Kq-_2"
                                            "&channel=chat:a"),
                                       &rules, &req, &err),
                     API_OK);
    assert_true(req.has_since);
    assert_int_equal(req.since, 0);
    assert_true(req.has_epoch);
    assert_string_equal(req.epoch, "h7Kq-_2");
    assert_int_equal(req.limit, 1000);
    assert_true(req.backward);
    assert_int_equal(
        api_parse_history(span("channel=a&since=9007199254740991"), &rules, &req, &err), API_OK);
    assert_int_equal(req.since, 9007199254740991ull);

    static const char *const bad[] = {
        "channel=a&since=9007199254740992",
        "channel=a&since=-1",
        "channel=a&since=01",
        "channel=a&since=",
        "channel=a&since=1.0",
        "channel=a&limit=0",
        "channel=a&limit=1001",
        "channel=a&limit=01",
        "channel=a&direction=up",
        "channel=a&epoch=",
        "channel=a&epoch=%0A",
        "channel=a&epoch=x",
        "since=1",
        "channel=a&before=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (api_parse_history(span(bad[i]), &rules, &req, &err) != API_BAD_REQUEST)
            fail_msg("%s accepted", bad[i]);
        message_check(&err, API_BAD_REQUEST);
    }
    assert_int_equal(api_parse_history(span("channel=a&epoch=x"), &rules, &req, &err),
                     API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "only meaningful with \"since\""));
}

static void channels_query(void **state)
{
    (void)state;
    struct api_channels_req req;
    struct api_error err;
    assert_int_equal(api_parse_channels(span(""), &req, &err), API_OK);
    assert_int_equal(req.prefix_len, 0);
    assert_int_equal(req.cursor_len, 0);
    assert_int_equal(req.limit, 100);
    assert_int_equal(
        api_parse_channels(span("prefix=chat:&cursor=chat:team-7&limit=2"), &req, &err), API_OK);
    assert_string_equal(req.prefix, "chat:");
    assert_int_equal(req.prefix_len, 5);
    assert_string_equal(req.cursor, "chat:team-7");
    assert_int_equal(req.limit, 2);
    assert_int_equal(api_parse_channels(span("prefix=&cursor="), &req, &err), API_OK);
    assert_int_equal(req.prefix_len, 0);
    assert_int_equal(api_parse_channels(span("prefix=a*"), &req, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "parameter \"prefix\""));
    assert_int_equal(api_parse_channels(span("cursor=a%20b"), &req, &err), API_BAD_REQUEST);
    assert_int_equal(api_parse_channels(span("limit=1001"), &req, &err), API_BAD_REQUEST);
    assert_int_equal(api_parse_channels(span("channel=a"), &req, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "/api/channels takes prefix, cursor and limit"));
}

static void endpoints_without_parameters_take_none(void **state)
{
    (void)state;
    struct api_error err;
    assert_int_equal(api_parse_no_query(span(""), API_EP_INFO, &err), API_OK);
    assert_int_equal(api_parse_no_query(span("&&"), API_EP_INFO, &err), API_OK);
    assert_int_equal(api_parse_no_query(span("verbose=1"), API_EP_INFO, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "/api/info takes no query parameters"));
    assert_int_equal(api_parse_no_query(span("x"), API_EP_PUBLISH, &err), API_BAD_REQUEST);
    assert_non_null(strstr(err.message, "/api/publish"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_takes_channel_data_and_user_id),
        cmocka_unit_test(publish_refuses_what_is_not_one_strict_object),
        cmocka_unit_test(publish_fields_are_checked_in_the_order_sent),
        cmocka_unit_test(publish_names_then_namespaces_then_size),
        cmocka_unit_test(broadcast_takes_distinct_names),
        cmocka_unit_test(broadcast_refuses_bad_lists),
        cmocka_unit_test(broadcast_takes_at_most_1000_names),
        cmocka_unit_test(disconnect_by_user_or_by_client),
        cmocka_unit_test(disconnect_message_is_at_most_200_bytes),
        cmocka_unit_test(presence_query),
        cmocka_unit_test(history_query),
        cmocka_unit_test(channels_query),
        cmocka_unit_test(endpoints_without_parameters_take_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
