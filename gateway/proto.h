/* The client protocol's input side: one whole WebSocket text message in, one checked request
 * out (docs/protocol.md sections 2, 4.1 and 6). Pure functions: no allocation, no I/O, no
 * connection state; the caller (gateway/session.c) applies the checks that need state (rate,
 * connected or not, permissions) in the order of protocol.md section 2.5.
 *
 * Spans in a parsed request point into the caller's message buffer, which must outlive the
 * request. `channel` is the one exception: it is decoded (JSON-unescaped) into the request
 * itself, since names are compared and hashed after unescaping.
 */
#ifndef TIDEGATE_GATEWAY_PROTO_H
#define TIDEGATE_GATEWAY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"

enum {
    PROTO_JSON_DEPTH_MAX = 32,     /* the message object included */
    PROTO_MEMBERS_MAX = 16,        /* top-level members read; more is bad_request */
    PROTO_ID_BYTES_MAX = 64,       /* a string id, as sent between its quotes */
    PROTO_CHANNEL_BYTES_MAX = 255, /* a channel name after unescaping */
    PROTO_EPOCH_BYTES_MAX = 32,    /* since.epoch after unescaping */
    PROTO_NAMESPACE_BYTES_MAX = 64,
    PROTO_ERROR_TEXT_BYTES = 256, /* room for an error sentence */
};

#define PROTO_INT_MAX 9007199254740991ull /* 2^53 - 1: ids, offsets, limits */

enum proto_type {
    PROTO_CONNECT,
    PROTO_JOIN_CHANNEL,
    PROTO_LEAVE_CHANNEL,
    PROTO_SEND_MESSAGE,
    PROTO_USER_TYPING,
    PROTO_PRESENCE,
    PROTO_HISTORY,
    PROTO_PING,
    PROTO_TYPE_COUNT
};

/* Error codes of protocol.md section 9, in that table's order. */
enum proto_error {
    PROTO_OK = 0,
    PROTO_ERR_BAD_REQUEST,
    PROTO_ERR_UNKNOWN_TYPE,
    PROTO_ERR_NOT_CONNECTED,
    PROTO_ERR_ALREADY_CONNECTED,
    PROTO_ERR_CHANNEL_NAME_INVALID,
    PROTO_ERR_UNKNOWN_NAMESPACE,
    PROTO_ERR_NOT_AUTHORIZED,
    PROTO_ERR_ALREADY_JOINED,
    PROTO_ERR_NOT_JOINED,
    PROTO_ERR_TOO_MANY_CHANNELS,
    PROTO_ERR_RATE_LIMITED,
    PROTO_ERR_MESSAGE_TOO_LARGE,
    PROTO_ERR_PRESENCE_DISABLED,
    PROTO_ERR_TYPING_DISABLED,
    PROTO_ERR_HISTORY_DISABLED,
    PROTO_ERR_EPOCH_MISMATCH,
    PROTO_ERR_CHANNEL_FULL,
    PROTO_ERR_SERVER_BUSY,
    PROTO_ERR_STORAGE_UNAVAILABLE,
    PROTO_ERR_INTERNAL,
    PROTO_ERROR_COUNT
};

/* "bad_request", "join_channel" ...: static strings, never NULL ("ok" for PROTO_OK; values
 * out of range give "unknown"). */
const char *proto_error_name(enum proto_error error);
const char *proto_type_name(enum proto_type type);
/* Whether the error takes a token from the connection's error bucket (section 9). */
bool proto_error_strikes(enum proto_error error);

/* A channel name after unescaping: 1..255 bytes of A-Z a-z 0-9 _ - . : @ / = */
struct proto_channel {
    char name[PROTO_CHANNEL_BYTES_MAX + 1]; /* NUL-terminated */
    uint16_t len;
    uint16_t namespace_len; /* bytes before the first ':', 0 when there is none ("default") */
    /* The name has a ':'. A name starting with ':' (":lobby") has has_namespace true and
     * namespace_len 0: an empty namespace, which is never configured (unknown_namespace),
     * not "default". */
    bool has_namespace;
};

struct proto_since {
    uint64_t offset;                       /* 0..PROTO_INT_MAX */
    char epoch[PROTO_EPOCH_BYTES_MAX + 1]; /* NUL-terminated, 1..32 bytes after unescaping */
    uint8_t epoch_len;
};

struct proto_request {
    enum proto_type type;
    bool has_id;
    struct json_span id; /* raw as sent: a string with its quotes, or an integer */
    bool has_channel;
    struct proto_channel channel; /* join, leave, send, typing, presence, history */
    bool has_since;
    struct proto_since since; /* join, history */
    bool has_token;
    struct json_span token; /* connect: the raw JSON string, quotes included */
    bool has_data;
    struct json_span data; /* send_message: raw value, exactly as sent */
    bool typing;           /* user_typing; default true */
    /* history: 1..PROTO_INT_MAX as sent, 0 when absent (the caller applies the default 50).
     * The upper bound history_page_max is configurable, so the caller checks it (bad_request,
     * step 5 of section 2.5, before any state check). */
    uint64_t limit;
    bool backward; /* history direction; default forward */
};

/* The outcome of parsing. On failure `error` is PROTO_ERR_BAD_REQUEST, _UNKNOWN_TYPE or
 * _CHANNEL_NAME_INVALID, `text` a sentence for the `message` field naming what was wrong
 * ("invalid JSON at byte 17: trailing comma", "unknown field \"sinse\" in join_channel",
 * "channel \"a b\" has ' ' at byte 1; names use A-Z a-z 0-9 _ - . : @ / ="), and the request
 * holds what could be read before the failure: has_id/id when the id was valid, `type`
 * valid when type_known, has_channel only when the channel was valid.
 *
 * `text` is NUL-terminated valid UTF-8 without control characters; any part of it taken from
 * the message (a field name, a type, a channel name) is quoted as a JSON string would be
 * (\" \\ \u0000 ...), cut after 64 bytes with "...". The caller still JSON-escapes the
 * whole sentence when it writes the reply. On success `text` is "". */
struct proto_parse_result {
    enum proto_error error;
    bool type_known; /* `type` was read and names a client message */
    char text[PROTO_ERROR_TEXT_BYTES];
};

/* Parses one client message (a whole text message, already valid UTF-8) in the order of
 * protocol.md section 2.5 steps 1, 2, 4, 5 and 7 (the name part): JSON, id, type, fields,
 * channel name. Step 3 (rate) comes between id and type and belongs to the caller, who
 * therefore calls proto_parse_head first and proto_parse_body after taking the token.
 * Both fill `req` and `res`; both return res->error.
 *
 * proto_parse_head clears `req` (typing true, everything else zero), scans the JSON into
 * `members` (pointing into `msg`) and reads `id`: PROTO_OK or PROTO_ERR_BAD_REQUEST.
 * proto_parse_body takes the members and the request as proto_parse_head left them, and
 * reads `type`, every field, then the channel name. Within step 5 the first member (in the
 * order sent) that is unknown or wrong is reported; missing required fields after that.
 * Step 6 (connection state) sits between the fields and the channel name and also belongs
 * to the caller: PROTO_ERR_CHANNEL_NAME_INVALID therefore means steps 4 and 5 passed, and
 * the caller answers not_connected instead when the connection state says so. */
enum proto_error proto_parse_head(const char *msg, size_t len, struct proto_request *req,
                                  struct json_member members[PROTO_MEMBERS_MAX],
                                  size_t *member_count, struct proto_parse_result *res);
enum proto_error proto_parse_body(const struct json_member *members, size_t member_count,
                                  struct proto_request *req, struct proto_parse_result *res);

/* Validates a decoded channel name (protocol.md 4.1) and fills `out` (name, len,
 * namespace_len, has_namespace); `name` may be out->name itself. On failure writes the
 * sentence into text (PROTO_ERROR_TEXT_BYTES), leaves `out` untouched and returns false; on
 * success `text` is untouched. Used by the parser and by the server API. */
bool proto_channel_check(const char *name, size_t len, struct proto_channel *out, char *text);

/* A namespace name as the configuration allows it: 1..64 of a-z 0-9 _ - */
bool proto_namespace_name_valid(const char *name, size_t len);

#endif
