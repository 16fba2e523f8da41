/* libFuzzer target for gateway/proto_parse: the input is one client message, parsed as the
 * session does (proto_parse_head, then proto_parse_body), and also taken as a channel name
 * for proto_channel_check and as a namespace name, both compared with a plain reference.
 *
 * Checked on every input: the error codes each step may return; the error text is
 * NUL-terminated, valid UTF-8, free of control characters, and empty exactly on success;
 * text that json_validate refuses is never accepted; every span lies inside the input; a
 * request holds only the fields its type defines, and on success every field it requires;
 * an id is a string of 1..64 bytes between its quotes or an integer up to 2^53-1; a channel
 * is 1..255 allowed bytes with a consistent namespace, and checks again to the same value;
 * since, limit and data hold their ranges. Seeds: tests/fuzz/corpus/proto/.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "gateway/proto.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *input;
static size_t input_len;

static bool span_inside(struct json_span span)
{
    return span.len > 0 && span.ptr >= input && span.ptr <= input + input_len &&
           span.len <= (size_t)(input + input_len - span.ptr);
}

static void text_check(const struct proto_parse_result *res)
{
    size_t n = strnlen(res->text, PROTO_ERROR_TEXT_BYTES);
    FUZZ_CHECK(n < PROTO_ERROR_TEXT_BYTES);
    FUZZ_CHECK((n == 0) == (res->error == PROTO_OK));
    FUZZ_CHECK(utf8_is_valid((const uint8_t *)res->text, n));
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK((uint8_t)res->text[i] >= 0x20 && res->text[i] != 0x7F);
    }
}

static bool ref_channel_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || c == '@' || c == '/' || c == '=';
}

static bool ref_channel_valid(const char *name, size_t len)
{
    if (len == 0 || len > PROTO_CHANNEL_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!ref_channel_char((uint8_t)name[i])) {
            return false;
        }
    }
    return true;
}

static void channel_check(const struct proto_channel *ch)
{
    FUZZ_CHECK(ref_channel_valid(ch->name, ch->len));
    FUZZ_CHECK(ch->name[ch->len] == '\0');
    const char *colon = memchr(ch->name, ':', ch->len);
    FUZZ_CHECK(ch->has_namespace == (colon != NULL));
    FUZZ_CHECK(ch->namespace_len == (colon != NULL ? (size_t)(colon - ch->name) : 0));

    struct proto_channel again;
    char text[PROTO_ERROR_TEXT_BYTES];
    FUZZ_CHECK(proto_channel_check(ch->name, ch->len, &again, text));
    FUZZ_CHECK(again.len == ch->len && again.namespace_len == ch->namespace_len);
    FUZZ_CHECK(memcmp(again.name, ch->name, ch->len + 1u) == 0);
}

static void id_check(struct json_span id)
{
    FUZZ_CHECK(span_inside(id));
    if (id.ptr[0] == '"') {
        FUZZ_CHECK(id.len >= 3 && id.len <= PROTO_ID_BYTES_MAX + 2u && id.ptr[id.len - 1] == '"');
        return;
    }
    uint64_t v = 0;
    FUZZ_CHECK(id.ptr[0] != '-' && json_number_to_u64(id, &v) && v <= PROTO_INT_MAX);
}

static void since_check(const struct proto_since *since)
{
    FUZZ_CHECK(since->offset <= PROTO_INT_MAX);
    FUZZ_CHECK(since->epoch_len >= 1 && since->epoch_len <= PROTO_EPOCH_BYTES_MAX);
    FUZZ_CHECK(since->epoch[since->epoch_len] == '\0');
    for (size_t i = 0; i < since->epoch_len; i++) {
        uint8_t c = (uint8_t)since->epoch[i];
        FUZZ_CHECK(ref_channel_char(c) && c != '.' && c != ':' && c != '@' && c != '/' && c != '=');
    }
}

/* The fields a parsed request may hold for its type, and those it must hold on success. */
static void fields_check(const struct proto_request *req, enum proto_error error)
{
    enum proto_type t = req->type;
    bool named = t != PROTO_CONNECT && t != PROTO_PING;
    FUZZ_CHECK(!req->has_channel || named);
    FUZZ_CHECK(!req->has_since || t == PROTO_JOIN_CHANNEL || t == PROTO_HISTORY);
    FUZZ_CHECK(!req->has_token || t == PROTO_CONNECT);
    FUZZ_CHECK(!req->has_data || t == PROTO_SEND_MESSAGE);
    FUZZ_CHECK(req->typing || t == PROTO_USER_TYPING);
    FUZZ_CHECK(req->limit == 0 || t == PROTO_HISTORY);
    FUZZ_CHECK(!req->backward || t == PROTO_HISTORY);
    FUZZ_CHECK(req->limit <= PROTO_INT_MAX);
    if (error == PROTO_OK) {
        FUZZ_CHECK(req->has_channel == named);
        FUZZ_CHECK(req->has_data == (t == PROTO_SEND_MESSAGE));
    }
    if (req->has_channel) {
        channel_check(&req->channel);
    }
    if (req->has_since) {
        since_check(&req->since);
    }
    if (req->has_token) {
        FUZZ_CHECK(span_inside(req->token) && req->token.len >= 2);
        FUZZ_CHECK(req->token.ptr[0] == '"' && req->token.ptr[req->token.len - 1] == '"');
    }
    if (req->has_data) {
        struct json_result jr;
        FUZZ_CHECK(span_inside(req->data));
        FUZZ_CHECK(json_validate(req->data.ptr, req->data.len, PROTO_JSON_DEPTH_MAX - 1, &jr) ==
                   JSON_OK);
    }
}

static void message_check(void)
{
    struct proto_request req;
    struct proto_parse_result res;
    struct json_member members[PROTO_MEMBERS_MAX];
    size_t count = 0;
    enum proto_error err = proto_parse_head(input, input_len, &req, members, &count, &res);
    FUZZ_CHECK(err == res.error && !res.type_known);
    FUZZ_CHECK(err == PROTO_OK || err == PROTO_ERR_BAD_REQUEST);
    text_check(&res);
    struct json_result jr;
    if (json_validate(input, input_len, PROTO_JSON_DEPTH_MAX, &jr) != JSON_OK) {
        FUZZ_CHECK(err == PROTO_ERR_BAD_REQUEST && !req.has_id);
    }
    if (err != PROTO_OK) {
        FUZZ_CHECK(!req.has_channel && !req.has_since && !req.has_token && !req.has_data);
        return;
    }
    FUZZ_CHECK(count <= PROTO_MEMBERS_MAX);
    for (size_t i = 0; i < count; i++) {
        FUZZ_CHECK(span_inside(members[i].key) && span_inside(members[i].value));
    }
    if (req.has_id) {
        id_check(req.id);
    }

    bool had_id = req.has_id;
    err = proto_parse_body(members, count, &req, &res);
    FUZZ_CHECK(err == res.error && req.has_id == had_id);
    FUZZ_CHECK(err == PROTO_OK || err == PROTO_ERR_BAD_REQUEST || err == PROTO_ERR_UNKNOWN_TYPE ||
               err == PROTO_ERR_CHANNEL_NAME_INVALID);
    text_check(&res);
    FUZZ_CHECK(err != PROTO_OK || res.type_known);
    FUZZ_CHECK(err != PROTO_ERR_UNKNOWN_TYPE || !res.type_known);
    FUZZ_CHECK(err != PROTO_ERR_CHANNEL_NAME_INVALID || (res.type_known && !req.has_channel));
    if (!res.type_known) {
        FUZZ_CHECK(!req.has_channel && !req.has_since && !req.has_token && !req.has_data);
        return;
    }
    FUZZ_CHECK((unsigned)req.type < PROTO_TYPE_COUNT);
    fields_check(&req, err);
}

static void names_check(void)
{
    size_t len = input_len < 300 ? input_len : 300;
    struct proto_channel ch;
    char text[PROTO_ERROR_TEXT_BYTES];
    bool ok = proto_channel_check(input, len, &ch, text);
    FUZZ_CHECK(ok == ref_channel_valid(input, len));
    if (ok) {
        FUZZ_CHECK(ch.len == len && memcmp(ch.name, input, len) == 0);
        channel_check(&ch);
    } else {
        struct proto_parse_result res = {.error = PROTO_ERR_CHANNEL_NAME_INVALID};
        memcpy(res.text, text, sizeof(text));
        text_check(&res);
    }

    bool ns_ref = len >= 1 && len <= PROTO_NAMESPACE_BYTES_MAX;
    for (size_t i = 0; i < len && ns_ref; i++) {
        uint8_t c = (uint8_t)input[i];
        ns_ref = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    }
    FUZZ_CHECK(proto_namespace_name_valid(input, len) == ns_ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input = size > 0 ? (const char *)data : "";
    input_len = size;
    message_check();
    names_check();
    return 0;
}
