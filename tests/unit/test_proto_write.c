/* Server message builders: each message of docs/protocol.md sections 7 and 13
 * built and compared byte for byte with the document's example; ids kept raw;
 * null user ids; escaping of caller strings; every output valid JSON; close
 * code reasons; the buffer's limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/jbuf.h"
#include "core/json.h"
#include "gateway/proto.h"
#include "gateway/proto_write.h"

/* A raw client id, as proto_parse leaves it: the JSON text exactly as sent. */
#define ID(raw) (&(const struct json_span){"" raw, sizeof(raw) - 1})
#define LOBBY   "chat:lobby", 10
#define EPOCH   "h7Kq2cXz"

static const struct proto_limits default_limits = {
    .max_publish_bytes = 65536,
    .max_channels_per_connection = 128,
    .messages_per_s = 50,
    .messages_burst = 100,
    .typing_per_s = 1,
    .history_page_max = 100,
};

static int jbuf_setup(void **state)
{
    static struct jbuf jb;
    jbuf_init(&jb, 1u << 20);
    *state = &jb;
    return 0;
}

static int jbuf_teardown(void **state)
{
    jbuf_free(*state);
    return 0;
}

/* The buffer holds one valid JSON object within the protocol's depth; empties
 * it after. */
static void expect_valid(struct jbuf *jb)
{
    assert_false(jb->failed);
    assert_non_null(jb->data);
    struct json_result res;
    assert_int_equal(json_validate(jb->data, jb->len, PROTO_JSON_DEPTH_MAX, &res), JSON_OK);
    assert_int_equal(jb->data[0], '{');
    jbuf_reset(jb);
}

/* The buffer holds exactly `want`, which is valid; empties it for the next
 * message. */
static void expect(struct jbuf *jb, const char *want)
{
    assert_false(jb->failed);
    assert_non_null(jb->data);
    assert_string_equal(jb->data, want);
    assert_int_equal(jb->len, strlen(want));
    expect_valid(jb);
}

/* One stored message of chat:lobby, as a list element or a live event. */
static void write_message(struct jbuf *jb, uint64_t offset, uint64_t timestamp_ms,
                          const char *user_id, const char *data)
{
    proto_write_message_head(jb, LOBBY, offset, EPOCH, timestamp_ms, user_id,
                             user_id ? strlen(user_id) : 0);
    jbuf_raw(jb, data, strlen(data));
    proto_write_message_tail(jb);
}

static void connected_with_and_without_id(void **state)
{
    struct jbuf *jb = *state;
    proto_write_connected(jb, ID("1"), "w3-000017a2", "alice", 5, 1718003630000, 25000,
                          &default_limits);
    expect(jb,
           "{\"type\":\"connected\",\"id\":1,\"client_id\":\"w3-000017a2\",\"user_id\":\"alice\","
           "\"expires_at\":1718003630000,\"protocol\":1,\"ping_interval_ms\":25000,\"limits\":{"
           "\"max_publish_bytes\":65536,\"max_channels_per_connection\":128,\"messages_per_s\":50,"
           "\"messages_burst\":100,\"typing_per_s\":1,\"history_page_max\":100}}");
    /* Section 13: the token came in the URL, so no request and no id. */
    proto_write_connected(jb, NULL, "w1-00002f10", "alice", 5, 1718003630000, 25000,
                          &default_limits);
    expect(jb, "{\"type\":\"connected\",\"client_id\":\"w1-00002f10\",\"user_id\":\"alice\","
               "\"expires_at\":1718003630000,\"protocol\":1,\"ping_interval_ms\":25000,\"limits\":{"
               "\"max_publish_bytes\":65536,\"max_channels_per_connection\":128,\"messages_per_s\":"
               "50,\"messages_burst\":100,\"typing_per_s\":1,\"history_page_max\":100}}");
}

static void connected_anonymous_has_null_user_and_expiry(void **state)
{
    struct jbuf *jb = *state;
    struct proto_limits limits = {1, 2, 0, 4, 5, 6};
    proto_write_connected(jb, ID("\"c\""), "w0-00000001", NULL, 0, -1, 0, &limits);
    expect(jb, "{\"type\":\"connected\",\"id\":\"c\",\"client_id\":\"w0-00000001\",\"user_id\":"
               "null,\"expires_at\":null,\"protocol\":1,\"ping_interval_ms\":0,\"limits\":{\"max_"
               "publish_bytes\":1,\"max_channels_per_connection\":2,\"messages_per_s\":0,"
               "\"messages_burst\":4,\"typing_per_s\":5,\"history_page_max\":6}}");
}

static void joined_with_replayed_messages(void **state)
{
    struct jbuf *jb = *state;
    proto_write_joined_head(jb, ID("3"), LOBBY, EPOCH, 44, true);
    proto_write_list_sep(jb, true);
    write_message(jb, 42, 1718000012345, "bob", "\"hi\"");
    proto_write_list_sep(jb, false);
    write_message(jb, 43, 1718000013001, NULL, "{\"notice\":\"deploy at 5\"}");
    proto_write_list_sep(jb, false);
    write_message(jb, 44, 1718000014200, "bob", "\"anyone?\"");
    proto_write_joined_tail(jb);
    expect(jb,
           "{\"type\":\"joined\",\"id\":3,\"channel\":\"chat:lobby\",\"epoch\":\"h7Kq2cXz\","
           "\"offset\":44,\"recovered\":true,\"messages\":[{\"type\":\"message\",\"channel\":"
           "\"chat:lobby\",\"offset\":42,\"epoch\":\"h7Kq2cXz\",\"timestamp\":1718000012345,\"user_"
           "id\":\"bob\",\"data\":\"hi\"},{\"type\":\"message\",\"channel\":\"chat:lobby\","
           "\"offset\":43,\"epoch\":\"h7Kq2cXz\",\"timestamp\":1718000013001,\"user_id\":null,"
           "\"data\":{\"notice\":\"deploy at "
           "5\"}},{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":44,\"epoch\":"
           "\"h7Kq2cXz\",\"timestamp\":1718000014200,\"user_id\":\"bob\",\"data\":\"anyone?\"}]}");
}

static void joined_without_recovery_has_an_empty_list(void **state)
{
    struct jbuf *jb = *state;
    proto_write_joined_head(jb, ID("3"), LOBBY, EPOCH, 41, false);
    proto_write_joined_tail(jb);
    expect(jb, "{\"type\":\"joined\",\"id\":3,\"channel\":\"chat:lobby\",\"epoch\":\"h7Kq2cXz\","
               "\"offset\":41,\"recovered\":false,\"messages\":[]}");
    proto_write_joined_head(jb, NULL, LOBBY, EPOCH, 0, false);
    proto_write_joined_tail(jb);
    expect(jb, "{\"type\":\"joined\",\"channel\":\"chat:lobby\",\"epoch\":\"h7Kq2cXz\",\"offset\":"
               "0,\"recovered\":false,\"messages\":[]}");
}

static void left_as_reply_and_as_event(void **state)
{
    struct jbuf *jb = *state;
    proto_write_left(jb, ID("4"), LOBBY, "client");
    expect(jb, "{\"type\":\"left\",\"id\":4,\"channel\":\"chat:lobby\",\"reason\":\"client\"}");
    proto_write_left(jb, NULL, LOBBY, "epoch_changed");
    expect(jb, "{\"type\":\"left\",\"channel\":\"chat:lobby\",\"reason\":\"epoch_changed\"}");
}

static void message_event_with_user_and_anonymous(void **state)
{
    struct jbuf *jb = *state;
    write_message(jb, 45, 1718000015020, "alice", "{\"text\":\"hello\"}");
    expect(jb,
           "{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":45,\"epoch\":\"h7Kq2cXz\","
           "\"timestamp\":1718000015020,\"user_id\":\"alice\",\"data\":{\"text\":\"hello\"}}");
    write_message(jb, 43, 1718000013001, NULL, "{\"notice\":\"deploy at 5\"}");
    expect(jb,
           "{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":43,\"epoch\":\"h7Kq2cXz\","
           "\"timestamp\":1718000013001,\"user_id\":null,\"data\":{\"notice\":\"deploy at 5\"}}");
}

/* data is the publisher's bytes: whitespace and escapes inside it are kept as
 * sent. */
static void message_data_is_copied_byte_for_byte(void **state)
{
    struct jbuf *jb = *state;
    write_message(jb, 1, 2, "u", "[ 1 , \"\\u00e9\\n\" ,{ } ]");
    expect(jb,
           "{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":1,\"epoch\":\"h7Kq2cXz\","
           "\"timestamp\":2,\"user_id\":\"u\",\"data\":[ 1 , \"\\u00e9\\n\" ,{ } ]}");
}

static void ack_of_a_publish(void **state)
{
    struct jbuf *jb = *state;
    proto_write_ack(jb, ID("5"), LOBBY, 45, EPOCH, 1718000015020);
    expect(jb, "{\"type\":\"ack\",\"id\":5,\"channel\":\"chat:lobby\",\"offset\":45,\"epoch\":"
               "\"h7Kq2cXz\",\"timestamp\":1718000015020}");
    proto_write_ack(jb, NULL, LOBBY, PROTO_INT_MAX, EPOCH, 0);
    expect(jb, "{\"type\":\"ack\",\"channel\":\"chat:lobby\",\"offset\":9007199254740991,\"epoch\":"
               "\"h7Kq2cXz\",\"timestamp\":0}");
}

static void errors_with_all_and_no_optional_fields(void **state)
{
    struct jbuf *jb = *state;
    proto_write_error(jb, ID("9"), PROTO_ERR_RATE_LIMITED,
                      "more than 50 messages a second (burst 100) on this connection; retry in "
                      "120 ms",
                      "send_message", "chat:lobby", 120);
    expect(jb, "{\"type\":\"error\",\"id\":9,\"code\":\"rate_limited\",\"message\":\"more than 50 "
               "messages a second (burst 100) on this connection; retry in 120 "
               "ms\",\"request_type\":\"send_message\",\"channel\":\"chat:lobby\",\"retry_after_"
               "ms\":120}");
    proto_write_error(jb, NULL, PROTO_ERR_BAD_REQUEST, "invalid JSON at byte 17: trailing comma",
                      NULL, NULL, -1);
    expect(jb, "{\"type\":\"error\",\"code\":\"bad_request\",\"message\":\"invalid JSON at byte "
               "17: trailing comma\"}");
    proto_write_error(jb, ID("1"), PROTO_ERR_NOT_CONNECTED,
                      "send connect with a token before join_channel", "join_channel", NULL, -1);
    expect(jb, "{\"type\":\"error\",\"id\":1,\"code\":\"not_connected\",\"message\":\"send connect "
               "with a token before join_channel\",\"request_type\":\"join_channel\"}");
    proto_write_error(jb, ID("1"), PROTO_ERR_SERVER_BUSY, "busy", NULL, NULL, 0);
    expect(jb, "{\"type\":\"error\",\"id\":1,\"code\":\"server_busy\",\"message\":\"busy\",\"retry_"
               "after_ms\":0}");
}

/* The quotes in the sentence are escaped (section 13's not_authorized). */
static void error_message_quotes_are_escaped(void **state)
{
    struct jbuf *jb = *state;
    proto_write_error(jb, ID("4"), PROTO_ERR_NOT_AUTHORIZED,
                      "the token's caps.join has no pattern matching \"admin:ops\"", "join_channel",
                      "admin:ops", -1);
    expect(jb, "{\"type\":\"error\",\"id\":4,\"code\":\"not_authorized\",\"message\":\"the token's "
               "caps.join has no pattern matching "
               "\\\"admin:ops\\\"\",\"request_type\":\"join_channel\",\"channel\":\"admin:ops\"}");
}

/* Every error code is written under its section 9 name. */
static void every_error_code_is_written_by_name(void **state)
{
    struct jbuf *jb = *state;
    for (int code = PROTO_OK + 1; code < PROTO_ERROR_COUNT; code++) {
        proto_write_error(jb, NULL, (enum proto_error)code, "m", NULL, NULL, -1);
        const char *name = proto_error_name((enum proto_error)code);
        assert_string_not_equal(name, "unknown");
        char want[128];
        snprintf(want, sizeof(want), "{\"type\":\"error\",\"code\":\"%s\",\"message\":\"m\"}",
                 name);
        expect(jb, want);
    }
}

static void presence_events_online_and_offline(void **state)
{
    struct jbuf *jb = *state;
    proto_write_presence_event(jb, true, LOBBY, "carol", 5, 1718000016000);
    expect(jb, "{\"type\":\"user_online\",\"channel\":\"chat:lobby\",\"user_id\":\"carol\","
               "\"timestamp\":1718000016000}");
    proto_write_presence_event(jb, false, LOBBY, "carol", 5, 1718000099000);
    expect(jb, "{\"type\":\"user_offline\",\"channel\":\"chat:lobby\",\"user_id\":\"carol\","
               "\"timestamp\":1718000099000}");
}

static void typing_event(void **state)
{
    struct jbuf *jb = *state;
    proto_write_typing(jb, LOBBY, "bob", 3, true, 1718000017500);
    expect(jb, "{\"type\":\"user_typing\",\"channel\":\"chat:lobby\",\"user_id\":\"bob\","
               "\"typing\":true,\"timestamp\":1718000017500}");
    proto_write_typing(jb, LOBBY, "bob", 3, false, 1718000018000);
    expect(jb, "{\"type\":\"user_typing\",\"channel\":\"chat:lobby\",\"user_id\":\"bob\","
               "\"typing\":false,\"timestamp\":1718000018000}");
}

static void presence_snapshot_with_members(void **state)
{
    struct jbuf *jb = *state;
    proto_write_presence_head(jb, ID("6"), LOBBY, 2);
    proto_write_presence_member(jb, true, "alice", 5, 2, 1717999990000);
    proto_write_presence_member(jb, false, "bob", 3, 1, 1718000001000);
    proto_write_presence_tail(jb, false);
    expect(jb, "{\"type\":\"presence\",\"id\":6,\"channel\":\"chat:lobby\",\"count\":2,\"members\":"
               "[{\"user_id\":\"alice\",\"connections\":2,\"joined_at\":1717999990000},{\"user_"
               "id\":\"bob\",\"connections\":1,\"joined_at\":1718000001000}],\"truncated\":false}");
}

static void presence_snapshot_empty_and_truncated(void **state)
{
    struct jbuf *jb = *state;
    proto_write_presence_head(jb, NULL, LOBBY, 0);
    proto_write_presence_tail(jb, false);
    expect(jb, "{\"type\":\"presence\",\"channel\":\"chat:lobby\",\"count\":0,\"members\":[],"
               "\"truncated\":false}");
    proto_write_presence_head(jb, ID("\"p\""), LOBBY, 1001);
    proto_write_presence_member(jb, true, "a", 1, 1, 5);
    proto_write_presence_tail(jb, true);
    expect(
        jb,
        "{\"type\":\"presence\",\"id\":\"p\",\"channel\":\"chat:lobby\",\"count\":1001,\"members\":"
        "[{\"user_id\":\"a\",\"connections\":1,\"joined_at\":5}],\"truncated\":true}");
}

static void history_page(void **state)
{
    struct jbuf *jb = *state;
    proto_write_history_head(jb, ID("7"), LOBBY, EPOCH, 45, 1);
    proto_write_list_sep(jb, true);
    write_message(jb, 43, 1718000013001, NULL, "{\"notice\":\"deploy at 5\"}");
    proto_write_list_sep(jb, false);
    write_message(jb, 42, 1718000012345, "bob", "\"hi\"");
    proto_write_history_tail(jb, true);
    expect(jb, "{\"type\":\"history\",\"id\":7,\"channel\":\"chat:lobby\",\"epoch\":\"h7Kq2cXz\","
               "\"offset\":45,\"oldest\":1,\"messages\":[{\"type\":\"message\",\"channel\":\"chat:"
               "lobby\",\"offset\":43,\"epoch\":\"h7Kq2cXz\",\"timestamp\":1718000013001,\"user_"
               "id\":null,\"data\":{\"notice\":\"deploy at "
               "5\"}},{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":42,\"epoch\":"
               "\"h7Kq2cXz\",\"timestamp\":1718000012345,\"user_id\":\"bob\",\"data\":\"hi\"}],"
               "\"more\":true}");
    proto_write_history_head(jb, NULL, LOBBY, EPOCH, 0, 1);
    proto_write_history_tail(jb, false);
    expect(jb, "{\"type\":\"history\",\"channel\":\"chat:lobby\",\"epoch\":\"h7Kq2cXz\",\"offset\":"
               "0,\"oldest\":1,\"messages\":[],\"more\":false}");
}

static void pong_with_string_integer_and_no_id(void **state)
{
    struct jbuf *jb = *state;
    proto_write_pong(jb, ID("8"));
    expect(jb, "{\"type\":\"pong\",\"id\":8}");
    proto_write_pong(jb, ID("\"p0\""));
    expect(jb, "{\"type\":\"pong\",\"id\":\"p0\"}");
    proto_write_pong(jb, NULL);
    expect(jb, "{\"type\":\"pong\"}");
}

/* The id comes back byte for byte as sent, escapes and all (section 2.3). */
static void ids_are_echoed_raw(void **state)
{
    struct jbuf *jb = *state;
    proto_write_pong(jb, ID("\"a\\u0062\""));
    expect(jb, "{\"type\":\"pong\",\"id\":\"a\\u0062\"}");
    proto_write_pong(jb, ID("9007199254740991"));
    expect(jb, "{\"type\":\"pong\",\"id\":9007199254740991}");
    proto_write_left(jb, ID("\"\\\"q\\\\\""), LOBBY, "client");
    expect(jb, "{\"type\":\"left\",\"id\":\"\\\"q\\\\\",\"channel\":\"chat:lobby\",\"reason\":"
               "\"client\"}");
}

static void gap_event(void **state)
{
    struct jbuf *jb = *state;
    proto_write_gap(jb, "prices:eurusd", 13, "Q1w2E3r4", 120, 135, "slow_consumer");
    expect(jb, "{\"type\":\"gap\",\"channel\":\"prices:eurusd\",\"epoch\":\"Q1w2E3r4\",\"from\":"
               "120,\"to\":135,\"reason\":\"slow_consumer\"}");
    proto_write_gap(jb, "p", 1, "e", 7, 7, "dropped");
    expect(jb, "{\"type\":\"gap\",\"channel\":\"p\",\"epoch\":\"e\",\"from\":7,\"to\":7,\"reason\":"
               "\"dropped\"}");
}

static void disconnect_notice(void **state)
{
    struct jbuf *jb = *state;
    proto_write_disconnect(jb, 4002, proto_close_reason(4002),
                           "the token expired at 2024-06-10T07:13:50Z; reconnect with a new token",
                           true);
    expect(
        jb,
        "{\"type\":\"disconnect\",\"code\":4002,\"reason\":\"token_expired\",\"message\":\"the "
        "token expired at 2024-06-10T07:13:50Z; reconnect with a new token\",\"reconnect\":true}");
    proto_write_disconnect(jb, 1001, "server_shutdown", "the server is stopping", true);
    expect(jb, "{\"type\":\"disconnect\",\"code\":1001,\"reason\":\"server_shutdown\",\"message\":"
               "\"the server is stopping\",\"reconnect\":true}");
    proto_write_disconnect(jb, 4004, proto_close_reason(4004), "too many errors", false);
    expect(jb, "{\"type\":\"disconnect\",\"code\":4004,\"reason\":\"too_many_errors\",\"message\":"
               "\"too many errors\",\"reconnect\":false}");
}

/* Every server line of section 13, in order. */
static void the_whole_session_of_section_13(void **state)
{
    struct jbuf *jb = *state;
    proto_write_connected(jb, ID("2"), "w3-000017a2", "alice", 5, 1718003630000, 25000,
                          &default_limits);
    expect(jb,
           "{\"type\":\"connected\",\"id\":2,\"client_id\":\"w3-000017a2\",\"user_id\":\"alice\","
           "\"expires_at\":1718003630000,\"protocol\":1,\"ping_interval_ms\":25000,\"limits\":{"
           "\"max_publish_bytes\":65536,\"max_channels_per_connection\":128,\"messages_per_s\":50,"
           "\"messages_burst\":100,\"typing_per_s\":1,\"history_page_max\":100}}");
    proto_write_presence_event(jb, true, LOBBY, "alice", 5, 1718000010100);
    expect(jb, "{\"type\":\"user_online\",\"channel\":\"chat:lobby\",\"user_id\":\"alice\","
               "\"timestamp\":1718000010100}");
    write_message(jb, 42, 1718000011000, "alice", "{\"text\":\"hello\"}");
    expect(jb,
           "{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":42,\"epoch\":\"h7Kq2cXz\","
           "\"timestamp\":1718000011000,\"user_id\":\"alice\",\"data\":{\"text\":\"hello\"}}");
    proto_write_ack(jb, ID("5"), LOBBY, 42, EPOCH, 1718000011000);
    expect(jb, "{\"type\":\"ack\",\"id\":5,\"channel\":\"chat:lobby\",\"offset\":42,\"epoch\":"
               "\"h7Kq2cXz\",\"timestamp\":1718000011000}");
    proto_write_typing(jb, LOBBY, "bob", 3, true, 1718000012000);
    expect(jb, "{\"type\":\"user_typing\",\"channel\":\"chat:lobby\",\"user_id\":\"bob\","
               "\"typing\":true,\"timestamp\":1718000012000}");
    write_message(jb, 43, 1718000013001, "bob", "\"hi alice\"");
    expect(jb,
           "{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":43,\"epoch\":\"h7Kq2cXz\","
           "\"timestamp\":1718000013001,\"user_id\":\"bob\",\"data\":\"hi alice\"}");
    proto_write_presence_head(jb, ID("6"), LOBBY, 2);
    proto_write_presence_member(jb, true, "alice", 5, 1, 1718000010100);
    proto_write_presence_member(jb, false, "bob", 3, 1, 1718000001000);
    proto_write_presence_tail(jb, false);
    expect(jb, "{\"type\":\"presence\",\"id\":6,\"channel\":\"chat:lobby\",\"count\":2,\"members\":"
               "[{\"user_id\":\"alice\",\"connections\":1,\"joined_at\":1718000010100},{\"user_"
               "id\":\"bob\",\"connections\":1,\"joined_at\":1718000001000}],\"truncated\":false}");
    proto_write_history_head(jb, ID("7"), LOBBY, EPOCH, 43, 1);
    proto_write_list_sep(jb, true);
    write_message(jb, 43, 1718000013001, "bob", "\"hi alice\"");
    proto_write_list_sep(jb, false);
    write_message(jb, 42, 1718000011000, "alice", "{\"text\":\"hello\"}");
    proto_write_history_tail(jb, true);
    expect(jb, "{\"type\":\"history\",\"id\":7,\"channel\":\"chat:lobby\",\"epoch\":\"h7Kq2cXz\","
               "\"offset\":43,\"oldest\":1,\"messages\":[{\"type\":\"message\",\"channel\":\"chat:"
               "lobby\",\"offset\":43,\"epoch\":\"h7Kq2cXz\",\"timestamp\":1718000013001,\"user_"
               "id\":\"bob\",\"data\":\"hi "
               "alice\"},{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":42,\"epoch\":"
               "\"h7Kq2cXz\",\"timestamp\":1718000011000,\"user_id\":\"alice\",\"data\":{\"text\":"
               "\"hello\"}}],\"more\":true}");
    proto_write_joined_head(jb, ID("1"), LOBBY, EPOCH, 45, true);
    proto_write_list_sep(jb, true);
    write_message(jb, 44, 1718000050000, "bob", "\"still there?\"");
    proto_write_list_sep(jb, false);
    write_message(jb, 45, 1718000051000, "bob", "\"ok, later\"");
    proto_write_joined_tail(jb);
    expect(
        jb,
        "{\"type\":\"joined\",\"id\":1,\"channel\":\"chat:lobby\",\"epoch\":\"h7Kq2cXz\","
        "\"offset\":45,\"recovered\":true,\"messages\":[{\"type\":\"message\",\"channel\":\"chat:"
        "lobby\",\"offset\":44,\"epoch\":\"h7Kq2cXz\",\"timestamp\":1718000050000,\"user_id\":"
        "\"bob\",\"data\":\"still "
        "there?\"},{\"type\":\"message\",\"channel\":\"chat:lobby\",\"offset\":45,\"epoch\":"
        "\"h7Kq2cXz\",\"timestamp\":1718000051000,\"user_id\":\"bob\",\"data\":\"ok, later\"}]}");
    proto_write_presence_event(jb, true, LOBBY, "alice", 5, 1718000060000);
    expect(jb, "{\"type\":\"user_online\",\"channel\":\"chat:lobby\",\"user_id\":\"alice\","
               "\"timestamp\":1718000060000}");
    proto_write_left(jb, ID("2"), LOBBY, "client");
    expect(jb, "{\"type\":\"left\",\"id\":2,\"channel\":\"chat:lobby\",\"reason\":\"client\"}");
}

static void close_reasons_follow_section_10(void **state)
{
    (void)state;
    static const struct {
        uint16_t code;
        const char *reason;
    } table[] = {
        {1000, "normal"},
        {1002, "protocol_error"},
        {1003, "binary_not_supported"},
        {1007, "invalid_utf8"},
        {1008, "slow_consumer"},
        {1009, "message_too_big"},
        {1011, "internal_error"},
        {4001, "auth_failed"},
        {4002, "token_expired"},
        {4003, "kicked"},
        {4004, "too_many_errors"},
        {4005, "connect_timeout"},
        {4006, "reconnect_requested"},
        {4007, "too_many_user_connections"},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        assert_string_equal(proto_close_reason(table[i].code), table[i].reason);
    /* 1001 has two reasons; the rest are not protocol close codes. */
    static const uint16_t none[] = {0, 999, 1001, 1004, 1005, 1006, 1010, 1012, 4000, 4008, 65535};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        assert_null(proto_close_reason(none[i]));
}

/* Channel names cannot hold such bytes, but user ids come from tokens: they are
 * escaped. */
static void user_ids_and_channels_are_escaped(void **state)
{
    struct jbuf *jb = *state;
    const char user[] = "o\"brien\\\n\x01\xc3\xa9";
    proto_write_presence_event(jb, true, "a\"b", 3, user, sizeof(user) - 1, 1);
    expect(jb, "{\"type\":\"user_online\",\"channel\":\"a\\\"b\",\"user_id\":"
               "\"o\\\"brien\\\\\\n\\u0001\xc3\xa9\",\"timestamp\":1}");
    proto_write_connected(jb, NULL, "w0-1", user, sizeof(user) - 1, 0, 0, &default_limits);
    assert_non_null(strstr(jb->data, "\"user_id\":\"o\\\"brien\\\\\\n\\u0001\xc3\xa9\","));
    expect_valid(jb);
}

/* A message that does not fit the buffer's limit leaves it failed, not
 * truncated-and-valid. */
static void a_message_past_the_limit_fails_the_buffer(void **state)
{
    (void)state;
    struct jbuf small;
    jbuf_init(&small, 128);
    proto_write_history_head(&small, ID("7"), LOBBY, EPOCH, 45, 1);
    assert_false(small.failed);
    write_message(&small, 43, 1718000013001, NULL, "\"x\"");
    proto_write_history_tail(&small, true);
    assert_true(small.failed);
    assert_true(small.len <= 128);
    jbuf_reset(&small);
    proto_write_pong(&small, ID("1"));
    assert_false(small.failed);
    assert_string_equal(small.data, "{\"type\":\"pong\",\"id\":1}");
    jbuf_free(&small);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, jbuf_setup, jbuf_teardown)
    const struct CMUnitTest tests[] = {
        T(connected_with_and_without_id),
        T(connected_anonymous_has_null_user_and_expiry),
        T(joined_with_replayed_messages),
        T(joined_without_recovery_has_an_empty_list),
        T(left_as_reply_and_as_event),
        T(message_event_with_user_and_anonymous),
        T(message_data_is_copied_byte_for_byte),
        T(ack_of_a_publish),
        T(errors_with_all_and_no_optional_fields),
        T(error_message_quotes_are_escaped),
        T(every_error_code_is_written_by_name),
        T(presence_events_online_and_offline),
        T(typing_event),
        T(presence_snapshot_with_members),
        T(presence_snapshot_empty_and_truncated),
        T(history_page),
        T(pong_with_string_integer_and_no_id),
        T(ids_are_echoed_raw),
        T(gap_event),
        T(disconnect_notice),
        T(the_whole_session_of_section_13),
        T(close_reasons_follow_section_10),
        T(user_ids_and_channels_are_escaped),
        T(a_message_past_the_limit_fails_the_buffer),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
