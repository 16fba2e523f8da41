/* libFuzzer target for the server API's pure request checks: gateway/api_http (heads) and
 * gateway/api_body (bodies and query strings). The first input byte picks the parser, the
 * rest is its input. Besides "never crash" it checks what the contracts promise:
 *   - a head is INCOMPLETE only while it holds no CRLFCRLF and is under 8 KiB; an accepted
 *     head names an endpoint, lies inside the input and has a body within the limit;
 *   - every result is API_OK with an empty sentence, or an error code with a non-empty,
 *     NUL-terminated, valid UTF-8 sentence that api_write_error turns into valid JSON;
 *   - what a parser accepts obeys its rules: names valid and in a configured namespace,
 *     `data` one JSON value inside the input and within max_publish_bytes, ids and messages
 *     within their lengths, no duplicate broadcast names, limits and offsets in range.
 * Seeds: tests/fuzz/corpus/api/ (tests/fuzz/make_seeds_api.py). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jbuf.h"
#include "core/json.h"
#include "core/utf8.h"
#include "gateway/api_body.h"
#include "gateway/api_http.h"
#include "gateway/api_write.h"

enum { MAX_BODY = 4096, MAX_PUBLISH = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char key_a[] = "alpha-0123456789abcdefghijklmnopqrstuv";
static char key_b[] = "bravo-0123456789abcdefghijklmnopqrstuv";
static char *key_items[] = {key_a, key_b};
static const struct config_list keys = {key_items, 2};
static struct ns_config ns_items[2] = {
    {.name = "default", .history_size = 100},
    {.name = "chat", .history_size = 100, .presence = true},
};
static const struct gw_namespaces namespaces = {ns_items, 2};
static const struct api_body_rules body_rules = {&namespaces, MAX_PUBLISH};

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool inside(const void *p, size_t len, const char *buf, size_t size)
{
    return len == 0 || ((const char *)p >= buf && (const char *)p + len <= buf + size);
}

static void check_error(enum api_code code, const struct api_error *err)
{
    size_t n = strnlen(err->message, sizeof err->message);
    require(n < sizeof err->message);
    require(utf8_is_valid((const uint8_t *)err->message, n));
    if (code == API_OK) {
        require(n == 0);
        return;
    }
    require(code < API_CODE_COUNT && err->code == code && n > 0);
    require(api_status_index(api_code_status(code)) >= 0);
    struct jbuf jb;
    jbuf_init(&jb, 4096);
    api_write_error(&jb, code, err->message);
    struct json_result res;
    require(!jb.failed && json_validate(jb.data, jb.len, 2, &res) == JSON_OK);
    jbuf_free(&jb);
}

static void check_channel(const struct proto_channel *ch, const struct ns_config *ns)
{
    struct proto_channel again;
    char text[PROTO_ERROR_TEXT_BYTES];
    require(proto_channel_check(ch->name, ch->len, &again, text));
    require(ns != NULL && ns == api_channel_namespace(&namespaces, ch));
}

static void check_user(const struct api_user_id *user, size_t max)
{
    require(user->len <= max && user->text[user->len] == '\0');
    for (size_t i = 0; i < user->len; i++)
        require((uint8_t)user->text[i] >= 0x20 && user->text[i] != 0x7f);
}

static void check_data(struct json_span data, const char *buf, size_t size)
{
    struct json_result res;
    require(data.len > 0 && data.len <= MAX_PUBLISH && inside(data.ptr, data.len, buf, size));
    require(json_validate(data.ptr, data.len, API_JSON_DEPTH_MAX, &res) == JSON_OK);
}

static void fuzz_head(const char *buf, size_t size)
{
    struct api_head_rules rules = {&keys, MAX_BODY};
    struct api_head head;
    struct api_error err;
    enum api_head_result res = api_head_check(buf, size, &rules, &head, &err);
    bool blank =
        memmem(buf, size < API_HEAD_BYTES_MAX ? size : API_HEAD_BYTES_MAX, "\r\n\r\n", 4) != NULL;
    if (res == API_HEAD_INCOMPLETE) {
        require(!blank && size < API_HEAD_BYTES_MAX && err.code == API_OK);
        return;
    }
    check_error(res == API_HEAD_OK ? API_OK : err.code, &err);
    if (head.head_bytes > 0) {
        require(head.head_bytes <= size && head.head_bytes <= API_HEAD_BYTES_MAX);
        require(inside(head.path.ptr, head.path.len, buf, head.head_bytes));
        require(inside(head.query.ptr, head.query.len, buf, head.head_bytes));
    }
    if (res == API_HEAD_OK) {
        require(head.head_bytes > 0 && head.endpoint < API_EP_NONE && head.body_framed);
        require(head.content_length <= MAX_BODY);
        require(api_endpoint_is_post(head.endpoint) || head.content_length == 0);
    }
}

static void fuzz_publish(const char *buf, size_t size)
{
    struct api_publish_req req;
    struct api_error err;
    enum api_code code = api_parse_publish(buf, size, &body_rules, &req, &err);
    check_error(code, &err);
    if (code != API_OK)
        return;
    check_channel(&req.channel, req.ns);
    check_data(req.data, buf, size);
    check_user(&req.user, API_USER_ID_BYTES_MAX);
}

static int name_cmp(const struct api_broadcast_req *req, size_t a, size_t b)
{
    const struct api_name *x = &req->names[a], *y = &req->names[b];
    if (x->len != y->len)
        return 1;
    return memcmp(req->arena + x->offset, req->arena + y->offset, x->len);
}

static void fuzz_broadcast(const char *buf, size_t size)
{
    struct api_broadcast_req *req = malloc(sizeof *req);
    char *arena = malloc(size ? size : 1);
    require(req != NULL && arena != NULL);
    req->arena = arena;
    req->arena_cap = size;
    struct api_error err;
    enum api_code code = api_parse_broadcast(buf, size, &body_rules, req, &err);
    check_error(code, &err);
    if (code == API_OK) {
        require(req->count >= 1 && req->count <= API_BROADCAST_CHANNELS_MAX);
        check_data(req->data, buf, size);
        check_user(&req->user, API_USER_ID_BYTES_MAX);
        for (size_t i = 0; i < req->count; i++) {
            const struct api_name *n = &req->names[i];
            require(n->offset + n->len <= size);
            struct proto_channel ch;
            char text[PROTO_ERROR_TEXT_BYTES];
            require(proto_channel_check(arena + n->offset, n->len, &ch, text));
            require(api_channel_namespace(&namespaces, &ch) != NULL);
            for (size_t j = 0; j < i && req->count <= 64; j++)
                require(name_cmp(req, i, j) != 0);
        }
    }
    free(arena);
    free(req);
}

static void fuzz_disconnect(const char *buf, size_t size)
{
    struct api_disconnect_req req;
    struct api_error err;
    enum api_code code = api_parse_disconnect(buf, size, &req, &err);
    check_error(code, &err);
    if (code != API_OK)
        return;
    require(req.user.len >= 1);
    check_user(&req.user, req.by_client_id ? API_CLIENT_ID_BYTES_MAX : API_USER_ID_BYTES_MAX);
    require(req.message_len <= API_DISCONNECT_MESSAGE_BYTES_MAX);
    require(!req.has_message || req.message[req.message_len] == '\0');
}

static void fuzz_queries(const char *buf, size_t size, unsigned which)
{
    struct http_span query = {buf, size};
    struct api_error err;
    enum api_code code;
    if (which == 0) {
        struct api_presence_req req;
        code = api_parse_presence(query, &body_rules, &req, &err);
        if (code == API_OK)
            check_channel(&req.channel, req.ns);
    } else if (which == 1) {
        struct api_history_req req;
        code = api_parse_history(query, &body_rules, &req, &err);
        if (code == API_OK) {
            check_channel(&req.channel, req.ns);
            require(req.limit >= 1 && req.limit <= API_PAGE_LIMIT_MAX);
            require(!req.has_since || req.since <= PROTO_INT_MAX);
            require(!req.has_epoch || (req.has_since && req.epoch[0] != '\0'));
        }
    } else if (which == 2) {
        struct api_channels_req req;
        code = api_parse_channels(query, &req, &err);
        if (code == API_OK) {
            require(req.limit >= 1 && req.limit <= API_PAGE_LIMIT_MAX);
            require(req.prefix_len <= PROTO_CHANNEL_BYTES_MAX && req.prefix[req.prefix_len] == 0);
            require(req.cursor_len <= PROTO_CHANNEL_BYTES_MAX && req.cursor[req.cursor_len] == 0);
        }
    } else {
        code = api_parse_no_query(query, API_EP_INFO, &err);
    }
    check_error(code, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *buf = (const char *)data + 1;
    size--;
    switch (data[0] % 8) {
    case 0:
        fuzz_head(buf, size);
        break;
    case 1:
        fuzz_publish(buf, size);
        break;
    case 2:
        fuzz_broadcast(buf, size);
        break;
    case 3:
        fuzz_disconnect(buf, size);
        break;
    default:
        fuzz_queries(buf, size, (unsigned)(data[0] % 8) - 4);
        break;
    }
    return 0;
}
