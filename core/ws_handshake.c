/* The WebSocket opening handshake (RFC 6455 section 4): see ws_handshake.h.
 *
 * The one thing to know before changing it: the order of the checks in ws_handshake_check is
 * part of the contract (it decides which error, and so which status, a request with several
 * faults gets), and every error response text lives in the table below, one row per error.
 * wolfCrypt's Base64_Decode is lenient (it skips whitespace and accepts non-canonical
 * padding bits), so keys are checked character by character before they are decoded.
 */
#include "core/ws_handshake.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/sha.h>

#include <assert.h>
#include <stdio.h>
#include <string.h>

enum {
    WS_KEY_CHARS = 24,     /* base64 of 16 bytes: 22 characters and "==" */
    WS_KEY_BYTES = 16,     /* RFC 6455 section 4.1: a random 16-byte nonce */
    WS_ACCEPT_CHARS = 28,  /* base64 of a 20-byte SHA-1 digest */
    WS_KEY_DECODE_CAP = 24 /* wolfCrypt wants room for the undecoded length's 3/4 */
};

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* One row per error: the status, its reason phrase, the metric label, and the body. */
struct ws_error_info {
    int status;
    const char *reason;
    const char *name;
    const char *body;
};

static const struct ws_error_info ws_errors[WS_HS_ERROR_COUNT] = {
    [WS_HS_OK] = {101, "Switching Protocols", "ok", ""},
    [WS_HS_MALFORMED] = {400, "Bad Request", "malformed",
                         "The request head is not valid HTTP/1.1 (CRLF line endings, no space "
                         "before a colon, visible ASCII only); fix the client's request."},
    [WS_HS_HEAD_TOO_LARGE] = {431, "Request Header Fields Too Large", "head_too_large",
                              "The request head is larger than this server accepts; send fewer "
                              "or shorter headers (large cookies are the usual cause)."},
    [WS_HS_TOO_MANY_HEADERS] = {431, "Request Header Fields Too Large", "too_many_headers",
                                "The request has more header fields than this server accepts; "
                                "send fewer headers."},
    [WS_HS_HTTP_VERSION] = {505, "HTTP Version Not Supported", "http_version",
                            "Only an HTTP/1.1 request can be upgraded to a WebSocket; send the "
                            "upgrade request as HTTP/1.1."},
    [WS_HS_METHOD] = {405, "Method Not Allowed", "bad_method",
                      "A WebSocket upgrade must use the GET method; send the request as GET."},
    [WS_HS_HOST] = {400, "Bad Request", "bad_host",
                    "The request must carry exactly one non-empty Host header; send one."},
    [WS_HS_UPGRADE] = {426, "Upgrade Required", "bad_upgrade",
                       "This endpoint only speaks WebSocket; send Upgrade: websocket and "
                       "Connection: Upgrade."},
    [WS_HS_CONNECTION] = {400, "Bad Request", "bad_connection",
                          "The Connection header must contain Upgrade; send Connection: Upgrade."},
    [WS_HS_KEY] = {400, "Bad Request", "bad_key",
                   "Sec-WebSocket-Key must appear once and be the base64 of 16 random bytes "
                   "(24 characters ending in ==); send a fresh key."},
    [WS_HS_VERSION] = {426, "Upgrade Required", "bad_ws_version",
                       "Sec-WebSocket-Version must be 13; this server speaks RFC 6455 only."},
    [WS_HS_ORIGIN] = {403, "Forbidden", "origin_refused",
                      "This Origin may not open WebSockets here; connect from an allowed origin "
                      "or ask the operator to allow yours."},
    [WS_HS_SUBPROTOCOL] = {400, "Bad Request", "no_subprotocol",
                           "None of the offered Sec-WebSocket-Protocol values is spoken here; "
                           "offer one that this server supports."},
    [WS_HS_TIMEOUT] = {408, "Request Timeout", "timeout",
                       "The upgrade request did not arrive in time; send the whole request "
                       "head promptly."},
    [WS_HS_NOT_FOUND] = {404, "Not Found", "not_found",
                         "No WebSocket endpoint is served at this path; check the URL."},
    [WS_HS_OVERLOADED] = {503, "Service Unavailable", "overloaded",
                          "The server is at its connection limit; retry later with backoff."},
};

/* True when any header called `name` holds `token` in its comma list (RFC 9110 section
 * 5.3: repeated list headers are one list). */
static bool headers_have_token(const struct http_header *headers, size_t count, const char *name,
                               const char *token)
{
    assert(headers != NULL || count == 0);
    assert(name != NULL && token != NULL);
    for (size_t i = 0; i < count; i++) {
        if (http_span_equal_nocase(headers[i].name, name) &&
            http_list_contains_token(headers[i].value, token))
            return true;
    }
    return false;
}

/* Exactly 24 characters: 22 from the base64 alphabet, the last of which carries only the
 * 2 bits left of the 16th byte (so the encoding is canonical), then "==". */
static bool key_is_canonical_base64(struct http_span key)
{
    if (key.len != WS_KEY_CHARS || key.ptr[22] != '=' || key.ptr[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        if (key.ptr[i] == '\0' || strchr(base64_alphabet, key.ptr[i]) == NULL)
            return false;
    }
    size_t last = (size_t)(strchr(base64_alphabet, key.ptr[21]) - base64_alphabet);
    return (last & 0x0f) == 0;
}

static bool key_is_valid(struct http_span key)
{
    if (!key_is_canonical_base64(key))
        return false;
    byte decoded[WS_KEY_DECODE_CAP];
    word32 decoded_len = sizeof decoded;
    int ret = Base64_Decode((const byte *)key.ptr, (word32)key.len, decoded, &decoded_len);
    return ret == 0 && decoded_len == WS_KEY_BYTES;
}

/* The checks that do not depend on the policy, in the documented order. */
static enum ws_handshake_error check_request(const struct http_request *req)
{
    const struct http_header *h = req->headers;
    size_t n = req->header_count;
    struct http_span value;
    if (req->method.len != 3 || memcmp(req->method.ptr, "GET", 3) != 0)
        return WS_HS_METHOD;
    if (http_header_find(h, n, "Host", &value) != 1 || value.len == 0)
        return WS_HS_HOST;
    if (!headers_have_token(h, n, "Upgrade", "websocket"))
        return WS_HS_UPGRADE;
    if (!headers_have_token(h, n, "Connection", "upgrade"))
        return WS_HS_CONNECTION;
    if (http_header_find(h, n, "Sec-WebSocket-Version", &value) != 1 || value.len != 2 ||
        memcmp(value.ptr, "13", 2) != 0)
        return WS_HS_VERSION;
    if (http_header_find(h, n, "Sec-WebSocket-Key", &value) != 1 || !key_is_valid(value))
        return WS_HS_KEY;
    return WS_HS_OK;
}

static enum ws_handshake_error check_origin(const struct http_request *req,
                                            const struct ws_handshake_policy *policy)
{
    assert(policy->allowed_origins != NULL || policy->allowed_origin_count == 0);
    struct http_span origin;
    size_t count = http_header_find(req->headers, req->header_count, "Origin", &origin);
    if (count == 0)
        return policy->origin_required ? WS_HS_ORIGIN : WS_HS_OK;
    if (count > 1)
        return WS_HS_ORIGIN;
    if (policy->allowed_origin_count == 0)
        return WS_HS_OK;
    for (size_t i = 0; i < policy->allowed_origin_count; i++) {
        const char *allowed = policy->allowed_origins[i];
        assert(allowed != NULL);
        if (strcmp(allowed, "*") == 0 || http_span_equal_nocase(origin, allowed))
            return WS_HS_OK;
    }
    return WS_HS_ORIGIN;
}

/* Whether the client offered `ours` in any Sec-WebSocket-Protocol header. Subprotocol names
 * are tokens compared exactly (RFC 6455 section 11.3.4 registers them case-sensitively). */
static bool client_offers(const struct http_request *req, const char *ours)
{
    size_t ours_len = strlen(ours);
    for (size_t i = 0; i < req->header_count; i++) {
        if (!http_span_equal_nocase(req->headers[i].name, "Sec-WebSocket-Protocol"))
            continue;
        size_t pos = 0;
        struct http_span offer;
        while (http_list_next(req->headers[i].value, &pos, &offer)) {
            if (offer.len == ours_len && memcmp(offer.ptr, ours, ours_len) == 0)
                return true;
        }
    }
    return false;
}

static enum ws_handshake_error choose_subprotocol(const struct http_request *req,
                                                  const struct ws_handshake_policy *policy,
                                                  const char **chosen)
{
    assert(policy->subprotocols != NULL || policy->subprotocol_count == 0);
    *chosen = NULL;
    for (size_t i = 0; i < policy->subprotocol_count; i++) {
        assert(policy->subprotocols[i] != NULL);
        if (client_offers(req, policy->subprotocols[i])) {
            *chosen = policy->subprotocols[i];
            return WS_HS_OK;
        }
    }
    return policy->subprotocol_required ? WS_HS_SUBPROTOCOL : WS_HS_OK;
}

enum ws_handshake_error ws_handshake_check(const struct http_request *req,
                                           const struct ws_handshake_policy *policy,
                                           struct ws_handshake_result *res)
{
    assert(req != NULL && policy != NULL && res != NULL);
    assert(req->headers != NULL || req->header_count == 0);
    *res = (struct ws_handshake_result){.error = WS_HS_OK, .subprotocol = NULL};
    enum ws_handshake_error error = check_request(req);
    if (error == WS_HS_OK)
        error = check_origin(req, policy);
    if (error == WS_HS_OK)
        error = choose_subprotocol(req, policy, &res->subprotocol);
    if (error == WS_HS_OK) {
        struct http_span key;
        http_header_find(req->headers, req->header_count, "Sec-WebSocket-Key", &key);
        /* SHA-1 and Base64 of a validated 24-byte key only fail on bad arguments: refuse
         * the key rather than answer with a wrong accept value. */
        bool computed = ws_handshake_accept_compute(key.ptr, key.len, res->accept);
        assert(computed);
        error = computed ? WS_HS_OK : WS_HS_KEY;
    }
    if (error != WS_HS_OK)
        *res = (struct ws_handshake_result){.error = error, .subprotocol = NULL};
    res->error = error;
    return error;
}

static const struct ws_error_info *error_info(enum ws_handshake_error error)
{
    assert(error >= WS_HS_OK && error < WS_HS_ERROR_COUNT);
    if (error < WS_HS_OK || error >= WS_HS_ERROR_COUNT)
        return NULL;
    return &ws_errors[error];
}

int ws_handshake_error_status(enum ws_handshake_error error)
{
    const struct ws_error_info *info = error_info(error);
    return info != NULL ? info->status : 500;
}

const char *ws_handshake_error_name(enum ws_handshake_error error)
{
    const struct ws_error_info *info = error_info(error);
    return info != NULL ? info->name : "unknown";
}

/* snprintf into `out`: the length written, or 0 when it failed or did not fit. */
static size_t finish_write(int written, size_t cap)
{
    if (written < 0 || (size_t)written >= cap)
        return 0;
    return (size_t)written;
}

size_t ws_handshake_write_101(char *out, size_t cap, const struct ws_handshake_result *res)
{
    assert(out != NULL && res != NULL);
    assert(res->error == WS_HS_OK && strlen(res->accept) == WS_ACCEPT_CHARS);
    if (res->error != WS_HS_OK || strlen(res->accept) != WS_ACCEPT_CHARS)
        return 0;
    const char *protocol = res->subprotocol;
    int written = snprintf(out, cap,
                           "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: %s\r\n"
                           "%s%s%s"
                           "\r\n",
                           res->accept, protocol != NULL ? "Sec-WebSocket-Protocol: " : "",
                           protocol != NULL ? protocol : "", protocol != NULL ? "\r\n" : "");
    return finish_write(written, cap);
}

/* The headers a status requires besides the common ones (RFC 9110 sections 15.5.6, 15.5.22;
 * RFC 6455 section 4.4). A sender of Upgrade must also list it in Connection. */
static const char *error_extra_headers(int status)
{
    if (status == 405)
        return "Allow: GET\r\nConnection: close\r\n";
    if (status == 426)
        return "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nConnection: close, Upgrade\r\n";
    return "Connection: close\r\n";
}

size_t ws_handshake_write_error(char *out, size_t cap, enum ws_handshake_error error)
{
    assert(out != NULL);
    assert(error != WS_HS_OK);
    const struct ws_error_info *info = error_info(error);
    if (info == NULL || error == WS_HS_OK)
        return 0;
    int written = snprintf(out, cap,
                           "HTTP/1.1 %d %s\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Length: %zu\r\n"
                           "%s"
                           "\r\n"
                           "%s\n",
                           info->status, info->reason, strlen(info->body) + 1,
                           error_extra_headers(info->status), info->body);
    return finish_write(written, cap);
}

static bool sha1_key_guid(const char *key, size_t key_len, byte digest[WC_SHA_DIGEST_SIZE])
{
    wc_Sha sha;
    if (wc_InitSha(&sha) != 0)
        return false;
    bool ok = wc_ShaUpdate(&sha, (const byte *)key, (word32)key_len) == 0 &&
              wc_ShaUpdate(&sha, (const byte *)ws_guid, (word32)(sizeof ws_guid - 1)) == 0 &&
              wc_ShaFinal(&sha, digest) == 0;
    wc_ShaFree(&sha);
    return ok;
}

/* Base64 of `len` bytes into `out` of `cap` bytes, NUL-terminated, exactly `chars` long. */
static bool base64_encode(const byte *in, word32 len, char *out, word32 cap, word32 chars)
{
    assert(cap > chars);
    word32 out_len = cap;
    int ret = Base64_Encode_NoNl(in, len, (byte *)out, &out_len);
    if (ret != 0 || out_len != chars) {
        out[0] = '\0';
        return false;
    }
    out[chars] = '\0';
    return true;
}

bool ws_handshake_accept_compute(const char *key, size_t key_len, char out[29])
{
    assert(key != NULL || key_len == 0);
    assert(out != NULL);
    out[0] = '\0';
    byte digest[WC_SHA_DIGEST_SIZE];
    if (key_len > UINT32_MAX || !sha1_key_guid(key, key_len, digest))
        return false;
    return base64_encode(digest, sizeof digest, out, WS_ACCEPT_CHARS + 1, WS_ACCEPT_CHARS);
}

bool ws_handshake_client_key(const uint8_t random16[16], char out[25])
{
    assert(random16 != NULL && out != NULL);
    return base64_encode(random16, WS_KEY_BYTES, out, WS_KEY_CHARS + 1, WS_KEY_CHARS);
}

/* No control characters: they would end a line of the request early. */
static bool text_is_clean(const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            return false;
    }
    return true;
}

size_t ws_handshake_client_request(char *out, size_t cap, const char *host, const char *path,
                                   const char *key, const char *protocols, const char *origin)
{
    assert(out != NULL && host != NULL && path != NULL && key != NULL);
    assert(cap > 0);
    if (path[0] != '/' || !text_is_clean(host) || !text_is_clean(path) || !text_is_clean(key) ||
        (protocols != NULL && !text_is_clean(protocols)) ||
        (origin != NULL && !text_is_clean(origin)))
        return 0;
    int written = snprintf(out, cap,
                           "GET %s HTTP/1.1\r\n"
                           "Host: %s\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "%s%s%s%s%s%s"
                           "\r\n",
                           path, host, key, protocols != NULL ? "Sec-WebSocket-Protocol: " : "",
                           protocols != NULL ? protocols : "", protocols != NULL ? "\r\n" : "",
                           origin != NULL ? "Origin: " : "", origin != NULL ? origin : "",
                           origin != NULL ? "\r\n" : "");
    return finish_write(written, cap);
}

bool ws_handshake_client_check(const struct http_response *res, const char *key)
{
    assert(res != NULL && key != NULL);
    assert(res->headers != NULL || res->header_count == 0);
    const struct http_header *h = res->headers;
    size_t n = res->header_count;
    struct http_span accept;
    if (res->status != 101 || !headers_have_token(h, n, "Upgrade", "websocket") ||
        !headers_have_token(h, n, "Connection", "upgrade"))
        return false;
    if (http_header_find(h, n, "Sec-WebSocket-Accept", &accept) != 1)
        return false;
    /* We never offer extensions, so a server that names one has broken RFC 6455 4.1. */
    struct http_span extensions;
    if (http_header_find(h, n, "Sec-WebSocket-Extensions", &extensions) != 0)
        return false;
    char expected[WS_ACCEPT_CHARS + 1];
    if (!ws_handshake_accept_compute(key, strlen(key), expected))
        return false;
    return accept.len == WS_ACCEPT_CHARS && memcmp(accept.ptr, expected, WS_ACCEPT_CHARS) == 0;
}
