/* The WebSocket opening handshake (RFC 6455 section 4), both sides.
 *
 * Server: ws_handshake_check validates a parsed upgrade request against a policy (Origin
 * allow-list, subprotocols) and computes Sec-WebSocket-Accept; the response writers produce
 * either the 101 or a complete HTTP error reply. Client (bench harness): build a request,
 * then check the server's 101 and its accept value.
 *
 * Keys and accept values are computed with wolfCrypt's SHA-1 and Base64.
 */
#ifndef TIDEGATE_CORE_WS_HANDSHAKE_H
#define TIDEGATE_CORE_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http.h"

/* Why a handshake was refused. Stable names (ws_handshake_error_name) are metric labels. */
enum ws_handshake_error {
    WS_HS_OK = 0,
    WS_HS_MALFORMED,        /* 400: the head did not parse (see http_parse_result) */
    WS_HS_HEAD_TOO_LARGE,   /* 431: more header bytes than allowed (set by the caller) */
    WS_HS_TOO_MANY_HEADERS, /* 431 */
    WS_HS_HTTP_VERSION,     /* 505: not HTTP/1.1 */
    WS_HS_METHOD,           /* 405: not GET (Allow: GET) */
    WS_HS_HOST,             /* 400: Host missing or repeated */
    WS_HS_UPGRADE,          /* 426: Upgrade header lacks "websocket" (Upgrade: websocket) */
    WS_HS_CONNECTION,       /* 400: Connection header lacks "upgrade" */
    WS_HS_KEY,              /* 400: Sec-WebSocket-Key missing, repeated or not 16 bytes b64 */
    WS_HS_VERSION,          /* 426: Sec-WebSocket-Version not 13 (Sec-WebSocket-Version: 13) */
    WS_HS_ORIGIN,           /* 403: Origin not in the allow-list */
    WS_HS_SUBPROTOCOL,      /* 400: client requires subprotocols, none of which we speak
                               (only when the policy says subprotocol_required) */
    WS_HS_TIMEOUT,          /* 408: the head did not arrive in time (set by the caller) */
    WS_HS_NOT_FOUND,        /* 404: path not served (set by the caller) */
    WS_HS_OVERLOADED,       /* 503: connection limit reached (set by the caller) */
    WS_HS_ERROR_COUNT
};

struct ws_handshake_policy {
    const char *const *allowed_origins; /* exact, case-insensitive "scheme://host[:port]";
                                           a single "*" or a count of 0 allows any */
    size_t allowed_origin_count;
    bool origin_required;            /* refuse requests without an Origin header */
    const char *const *subprotocols; /* ours, in order of preference */
    size_t subprotocol_count;
    bool subprotocol_required; /* refuse a client whose offer has none of ours */
};

struct ws_handshake_result {
    enum ws_handshake_error error;
    char accept[29];         /* Sec-WebSocket-Accept, NUL-terminated, when error == OK */
    const char *subprotocol; /* chosen one, from policy->subprotocols, or NULL */
};

/* Validates `req` (parsed with http_request_parse). Returns res->error. The checks and
 * their order: method, Host (exactly one), Upgrade contains "websocket", Connection
 * contains "upgrade", Sec-WebSocket-Version is exactly "13", Sec-WebSocket-Key is exactly
 * one base64 value decoding to 16 bytes (24 characters, canonical, no whitespace), Origin
 * allowed, subprotocol negotiated (the first of ours, in our order, that the client
 * offered). */
enum ws_handshake_error ws_handshake_check(const struct http_request *req,
                                           const struct ws_handshake_policy *policy,
                                           struct ws_handshake_result *res);

/* HTTP status for an error (400, 403, 405, 426, ...) and its stable name ("bad_key"). */
int ws_handshake_error_status(enum ws_handshake_error error);
const char *ws_handshake_error_name(enum ws_handshake_error error);

/* Writes the "101 Switching Protocols" response. Returns bytes written, or 0 when `cap`
 * is too small (512 bytes always suffice). */
size_t ws_handshake_write_101(char *out, size_t cap, const struct ws_handshake_result *res);

/* Writes a complete error response with Connection: close, a one-sentence text/plain body
 * that says what was wrong, and the headers the status requires (Sec-WebSocket-Version: 13
 * and Upgrade: websocket with 426, Allow: GET with 405). Returns bytes written, or 0 when
 * `cap` is too small (1024 bytes always suffice). */
size_t ws_handshake_write_error(char *out, size_t cap, enum ws_handshake_error error);

/* Sec-WebSocket-Accept for `key` (as sent, base64): base64(SHA-1(key + GUID)). Returns false,
 * with `out` an empty string, when wolfCrypt fails (it does not with valid arguments). */
bool ws_handshake_accept_compute(const char *key, size_t key_len, char out[29]);

/* Client side. Base64 of 16 random bytes (the caller supplies them). Returns false, with `out`
 * an empty string, when wolfCrypt fails. */
bool ws_handshake_client_key(const uint8_t random16[16], char out[25]);

/* Writes a GET upgrade request. `protocols` is a comma-separated offer or NULL, `origin` NULL
 * for none. Returns bytes written, or 0 when `cap` is too small, `path` does not start with
 * '/', or an argument holds a control character (which would split the head). */
size_t ws_handshake_client_request(char *out, size_t cap, const char *host, const char *path,
                                   const char *key, const char *protocols, const char *origin);

/* Checks a parsed response: status 101, Upgrade websocket, Connection upgrade, exactly one
 * accept value matching `key`, and no Sec-WebSocket-Extensions (we never offer any). Returns
 * true when the connection is open. */
bool ws_handshake_client_check(const struct http_response *res, const char *key);

#endif
