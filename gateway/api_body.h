/* The server API's request bodies and query strings (docs/api.md section 5) as pure
 * functions: one parser per endpoint, each checking everything the request itself decides
 * (JSON, fields, names, namespaces, sizes) and nothing that needs a channel's state.
 *
 * JSON bodies follow the client protocol's rules: strict RFC 8259, one object, nesting at
 * most 32, no duplicate keys, unknown fields refused. Query values are percent-decoded ('+'
 * is a space); a parameter the endpoint does not define, or one given twice, is refused.
 * Within a request the first problem in this order is reported: syntax, then each field or
 * parameter in the order sent (unknown, mistyped, out of range), then missing ones, then
 * channel names, then namespaces, then sizes.
 *
 * No allocation. Spans in the results point into the caller's body, which must outlive
 * them. tests/unit/test_api_body.c and tests/fuzz/fuzz_api.c exercise every parser.
 */
#ifndef TIDEGATE_GATEWAY_API_BODY_H
#define TIDEGATE_GATEWAY_API_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http.h"
#include "core/json.h"
#include "gateway/api_http.h"
#include "gateway/namespace.h"
#include "gateway/proto.h"

enum {
    API_JSON_DEPTH_MAX = 32,
    API_BODY_MEMBERS_MAX = 8, /* top-level fields read; more is bad_request */
    API_USER_ID_BYTES_MAX = 128,
    API_CLIENT_ID_BYTES_MAX = 32,
    API_DISCONNECT_MESSAGE_BYTES_MAX = 200,
    API_BROADCAST_CHANNELS_MAX = 1000,
    API_PRESENCE_MEMBERS_MAX = 10000,
    API_PAGE_LIMIT_MAX = 1000, /* history and channels pages */
    API_PAGE_LIMIT_DEFAULT = 100,
    API_QUERY_PARAMS_MAX = 8,
};

/* What the parsers need from the configuration. */
struct api_body_rules {
    const struct gw_namespaces *namespaces;
    uint64_t max_publish_bytes;
};

/* A user id as the API takes it: 1..128 bytes of UTF-8 without control characters. */
struct api_user_id {
    uint8_t len; /* 0: none */
    char text[API_USER_ID_BYTES_MAX + 1];
};

/* POST /api/publish */
struct api_publish_req {
    struct proto_channel channel;
    const struct ns_config *ns;
    struct json_span data; /* raw, exactly as sent */
    struct api_user_id user;
};

/* One name of a broadcast, in the caller's arena. */
struct api_name {
    uint32_t offset;
    uint16_t len;
};

/* POST /api/broadcast. The caller provides `arena` with room for `arena_cap` bytes, at
 * least the body's length (decoded names are never longer than their JSON). */
struct api_broadcast_req {
    size_t count;
    struct api_name names[API_BROADCAST_CHANNELS_MAX]; /* decoded names, in order sent */
    char *arena;
    size_t arena_cap;
    struct json_span data;
    struct api_user_id user;
};

/* POST /api/disconnect: exactly one of user_id and client_id. */
struct api_disconnect_req {
    bool by_client_id;
    struct api_user_id user; /* user_id, or client_id (1..32 bytes) */
    bool reconnect;
    bool has_message;
    uint8_t message_len;
    char message[API_DISCONNECT_MESSAGE_BYTES_MAX + 1]; /* NUL-terminated */
};

/* GET /api/presence */
struct api_presence_req {
    struct proto_channel channel;
    const struct ns_config *ns;
};

/* GET /api/history */
struct api_history_req {
    struct proto_channel channel;
    const struct ns_config *ns;
    bool has_since;
    uint64_t since;
    bool has_epoch;
    char epoch[PROTO_EPOCH_BYTES_MAX + 1]; /* NUL-terminated */
    uint32_t limit;                        /* 1..API_PAGE_LIMIT_MAX */
    bool backward;
};

/* GET /api/channels: names are of the channel character set; empty means absent. */
struct api_channels_req {
    uint16_t prefix_len;
    char prefix[PROTO_CHANNEL_BYTES_MAX + 1];
    uint16_t cursor_len;
    char cursor[PROTO_CHANNEL_BYTES_MAX + 1];
    uint32_t limit; /* 1..API_PAGE_LIMIT_MAX */
};

/* Each returns API_OK with `out` filled (and `err` cleared: code API_OK, message ""), or the
 * error code with `err` filled. */
enum api_code api_parse_publish(const char *body, size_t len, const struct api_body_rules *rules,
                                struct api_publish_req *out, struct api_error *err);
enum api_code api_parse_broadcast(const char *body, size_t len, const struct api_body_rules *rules,
                                  struct api_broadcast_req *out, struct api_error *err);
enum api_code api_parse_disconnect(const char *body, size_t len, struct api_disconnect_req *out,
                                   struct api_error *err);
enum api_code api_parse_presence(struct http_span query, const struct api_body_rules *rules,
                                 struct api_presence_req *out, struct api_error *err);
enum api_code api_parse_history(struct http_span query, const struct api_body_rules *rules,
                                struct api_history_req *out, struct api_error *err);
enum api_code api_parse_channels(struct http_span query, struct api_channels_req *out,
                                 struct api_error *err);
/* For endpoints without parameters (the POST ones and /api/info): the query must be empty. */
enum api_code api_parse_no_query(struct http_span query, enum api_endpoint endpoint,
                                 struct api_error *err);

/* The namespace of a valid channel name, or NULL when it is not configured (":room" names
 * the empty namespace, which never is). */
const struct ns_config *api_channel_namespace(const struct gw_namespaces *namespaces,
                                              const struct proto_channel *channel);

#endif
