/* The server API's head checks and error vocabulary: see api_http.h. The one thing to keep
 * when changing it: the checks run in the order of docs/api.md section 3 and the first
 * failure is the answer, so an unauthenticated caller learns nothing about the paths. */
#include "gateway/api_http.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const endpoint_names[API_ENDPOINT_COUNT] = {
    [API_EP_PUBLISH] = "publish",
    [API_EP_BROADCAST] = "broadcast",
    [API_EP_DISCONNECT] = "disconnect",
    [API_EP_PRESENCE] = "presence",
    [API_EP_HISTORY] = "history",
    [API_EP_CHANNELS] = "channels",
    [API_EP_INFO] = "info",
    [API_EP_USER_STATUS] = "user_status",
    [API_EP_NONE] = "none",
};

static const char *const endpoint_paths[API_EP_NONE] = {
    [API_EP_PUBLISH] = "/api/publish",
    [API_EP_BROADCAST] = "/api/broadcast",
    [API_EP_DISCONNECT] = "/api/disconnect",
    [API_EP_PRESENCE] = "/api/presence",
    [API_EP_HISTORY] = "/api/history",
    [API_EP_CHANNELS] = "/api/channels",
    [API_EP_INFO] = "/api/info",
    [API_EP_USER_STATUS] = "/api/users/{id}/status", /* matched by user_status_path */
};

struct code_desc {
    const char *name;
    uint16_t status;
};

static const struct code_desc codes[API_CODE_COUNT] = {
    [API_OK] = {"ok", 200},
    [API_BAD_REQUEST] = {"bad_request", 400},
    [API_CHANNEL_NAME_INVALID] = {"channel_name_invalid", 400},
    [API_UNKNOWN_NAMESPACE] = {"unknown_namespace", 400},
    [API_MESSAGE_TOO_LARGE] = {"message_too_large", 400},
    [API_UNAUTHORIZED] = {"unauthorized", 401},
    [API_NOT_FOUND] = {"not_found", 404},
    [API_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405},
    [API_REQUEST_TIMEOUT] = {"request_timeout", 408},
    [API_PRESENCE_DISABLED] = {"presence_disabled", 409},
    [API_HISTORY_DISABLED] = {"history_disabled", 409},
    [API_USER_STATUS_DISABLED] = {"user_status_disabled", 409},
    [API_EPOCH_MISMATCH] = {"epoch_mismatch", 409},
    [API_LENGTH_REQUIRED] = {"length_required", 411},
    [API_BODY_TOO_LARGE] = {"body_too_large", 413},
    [API_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415},
    [API_HEAD_TOO_LARGE] = {"head_too_large", 431},
    [API_INTERNAL_ERROR] = {"internal_error", 500},
    [API_SERVER_BUSY] = {"server_busy", 503},
    [API_STORAGE_UNAVAILABLE] = {"storage_unavailable", 503},
    [API_SHUTTING_DOWN] = {"shutting_down", 503},
    [API_TOO_MANY_CONNECTIONS] = {"too_many_connections", 503},
    [API_HTTP_VERSION_NOT_SUPPORTED] = {"http_version_not_supported", 505},
};

const uint16_t api_statuses[API_STATUS_COUNT] = {200, 400, 401, 404, 405, 408, 409,
                                                 411, 413, 415, 431, 500, 503, 505};

const char *api_endpoint_name(enum api_endpoint endpoint)
{
    return (unsigned)endpoint < API_ENDPOINT_COUNT ? endpoint_names[endpoint] : "none";
}

bool api_endpoint_is_post(enum api_endpoint endpoint)
{
    return endpoint == API_EP_PUBLISH || endpoint == API_EP_BROADCAST ||
           endpoint == API_EP_DISCONNECT;
}

const char *api_code_name(enum api_code code)
{
    return (unsigned)code < API_CODE_COUNT ? codes[code].name : "internal_error";
}

unsigned api_code_status(enum api_code code)
{
    return (unsigned)code < API_CODE_COUNT ? codes[code].status : 500;
}

const char *api_status_reason(unsigned status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

int api_status_index(unsigned status)
{
    for (int i = 0; i < API_STATUS_COUNT; i++)
        if (api_statuses[i] == status)
            return i;
    return -1;
}

enum api_code api_error_set(struct api_error *err, enum api_code code, const char *fmt, ...)
{
    assert(err != NULL && fmt != NULL);
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(err->message, sizeof err->message, "%s", api_code_name(code));
    return code;
}

bool api_key_matches(const struct config_list *keys, const char *given, size_t given_len)
{
    assert(keys != NULL && (given != NULL || given_len == 0));
    if (given_len == 0 || given_len > API_KEY_BYTES_MAX)
        return false;
    unsigned matches = 0;
    for (size_t k = 0; k < keys->count; k++) {
        const char *key = keys->items[k];
        size_t key_len = strlen(key);
        unsigned diff = given_len != key_len;
        for (size_t i = 0; i < given_len; i++) {
            unsigned char want = i < key_len ? (unsigned char)key[i] : 0;
            diff |= (unsigned char)given[i] ^ want;
        }
        matches |= diff == 0;
    }
    return matches != 0;
}

/* ---- head checks ---- */

/* The headers the API reads, gathered in one pass. */
struct head_fields {
    size_t host_count, length_count, type_count, auth_count, api_key_count;
    bool transfer_encoding;
    struct http_span length, type, auth, api_key;
};

static void gather(const struct http_request *req, struct api_head *head, struct head_fields *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (http_span_equal_nocase(h->name, "Host")) {
            f->host_count++;
        } else if (http_span_equal_nocase(h->name, "Content-Length")) {
            f->length_count++;
            f->length = h->value;
        } else if (http_span_equal_nocase(h->name, "Content-Type")) {
            f->type_count++;
            f->type = h->value;
        } else if (http_span_equal_nocase(h->name, "Authorization")) {
            f->auth_count++;
            f->auth = h->value;
        } else if (http_span_equal_nocase(h->name, "X-Api-Key")) {
            f->api_key_count++;
            f->api_key = h->value;
        } else if (http_span_equal_nocase(h->name, "Transfer-Encoding")) {
            f->transfer_encoding = true;
        } else if (http_span_equal_nocase(h->name, "Connection")) {
            if (http_list_contains_token(h->value, "close"))
                head->close = true;
        } else if (http_span_equal_nocase(h->name, "Expect")) {
            if (http_list_contains_token(h->value, "100-continue"))
                head->expect_continue = true;
        }
    }
}

/* Content-Length: 1*DIGIT, at most 19 digits (fits in uint64_t). */
static bool parse_length(struct http_span s, uint64_t *out)
{
    if (s.len == 0 || s.len > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s.ptr[i] - '0');
    }
    *out = v;
    return true;
}

static enum api_code syntax_check(const struct head_fields *f, struct api_head *head,
                                  const struct api_head_rules *rules, struct api_error *err)
{
    if (f->host_count != 1)
        return api_error_set(err, API_BAD_REQUEST,
                             "an HTTP/1.1 request needs exactly one Host header; it had %zu",
                             f->host_count);
    const char *dup = f->length_count > 1    ? "Content-Length"
                      : f->type_count > 1    ? "Content-Type"
                      : f->auth_count > 1    ? "Authorization"
                      : f->api_key_count > 1 ? "X-Api-Key"
                                             : NULL;
    if (dup != NULL)
        return api_error_set(err, API_BAD_REQUEST, "the %s header appears more than once", dup);
    if (f->length_count == 1 && !parse_length(f->length, &head->content_length))
        return api_error_set(err, API_BAD_REQUEST,
                             "Content-Length must be a decimal number of bytes");
    head->body_framed = !f->transfer_encoding && head->content_length <= rules->max_body_bytes;
    return API_OK;
}

static bool scheme_is_bearer(struct http_span value, struct http_span *token)
{
    const char *sp = memchr(value.ptr, ' ', value.len);
    if (sp == NULL)
        return false;
    struct http_span scheme = {value.ptr, (size_t)(sp - value.ptr)};
    if (!http_span_equal_nocase(scheme, "Bearer"))
        return false;
    size_t at = scheme.len;
    while (at < value.len && (value.ptr[at] == ' ' || value.ptr[at] == '\t'))
        at++;
    *token = (struct http_span){value.ptr + at, value.len - at};
    return true;
}

static enum api_code key_check(const struct head_fields *f, const struct api_head_rules *rules,
                               struct api_error *err)
{
    struct http_span key;
    if (f->auth_count == 1) {
        if (!scheme_is_bearer(f->auth, &key))
            return api_error_set(err, API_UNAUTHORIZED,
                                 "the Authorization header must be \"Bearer <key>\"");
    } else if (f->api_key_count == 1) {
        key = f->api_key;
    } else {
        return api_error_set(err, API_UNAUTHORIZED,
                             "no API key: send \"Authorization: Bearer <key>\" or "
                             "\"X-Api-Key: <key>\"");
    }
    if (!api_key_matches(rules->keys, key.ptr, key.len))
        return api_error_set(err, API_UNAUTHORIZED,
                             "the API key is not one of the keys this gateway accepts");
    return API_OK;
}

/* "/api/users/{id}/status" with a non-empty {id} without '/': sets head->user. */
static bool user_status_path(struct http_span path, struct api_head *head)
{
    static const char prefix[] = "/api/users/", suffix[] = "/status";
    size_t pre = sizeof prefix - 1, suf = sizeof suffix - 1;
    if (path.len <= pre + suf || memcmp(path.ptr, prefix, pre) != 0 ||
        memcmp(path.ptr + path.len - suf, suffix, suf) != 0)
        return false;
    struct http_span id = {path.ptr + pre, path.len - pre - suf};
    if (memchr(id.ptr, '/', id.len) != NULL)
        return false;
    head->user = id;
    return true;
}

static enum api_code path_check(const struct http_request *req, struct api_head *head,
                                struct api_error *err)
{
    if (user_status_path(req->path, head)) {
        head->endpoint = API_EP_USER_STATUS;
        return API_OK;
    }
    for (int e = 0; e < API_EP_NONE; e++) {
        const char *path = endpoint_paths[e];
        if (e == API_EP_USER_STATUS)
            continue;
        if (req->path.len == strlen(path) && memcmp(req->path.ptr, path, req->path.len) == 0) {
            head->endpoint = (enum api_endpoint)e;
            return API_OK;
        }
    }
    int shown = req->path.len > 64 ? 64 : (int)req->path.len;
    return api_error_set(err, API_NOT_FOUND,
                         "no endpoint at \"%.*s%s\"; the endpoints are /api/publish, "
                         "/api/broadcast, /api/disconnect, /api/presence, /api/history, "
                         "/api/channels, /api/info and /api/users/{id}/status",
                         shown, req->path.ptr, req->path.len > 64 ? "..." : "");
}

static enum api_code method_check(const struct http_request *req, const struct api_head *head,
                                  struct api_error *err)
{
    const char *want = api_endpoint_is_post(head->endpoint) ? "POST" : "GET";
    if (req->method.len == strlen(want) && memcmp(req->method.ptr, want, req->method.len) == 0)
        return API_OK;
    int shown = req->method.len > 32 ? 32 : (int)req->method.len;
    return api_error_set(err, API_METHOD_NOT_ALLOWED, "%s takes %s, not %.*s",
                         endpoint_paths[head->endpoint], want, shown, req->method.ptr);
}

/* application/json, optionally with charset=utf-8 (case-insensitive, the value may be
 * quoted); no other parameter. */
static bool media_type_is_json(struct http_span v)
{
    const char *semi = memchr(v.ptr, ';', v.len);
    struct http_span type = {v.ptr, semi ? (size_t)(semi - v.ptr) : v.len};
    while (type.len > 0 && (type.ptr[type.len - 1] == ' ' || type.ptr[type.len - 1] == '\t'))
        type.len--;
    if (!http_span_equal_nocase(type, "application/json"))
        return false;
    if (semi == NULL)
        return true;
    struct http_span param = {semi + 1, v.len - (size_t)(semi + 1 - v.ptr)};
    while (param.len > 0 && (param.ptr[0] == ' ' || param.ptr[0] == '\t')) {
        param.ptr++;
        param.len--;
    }
    while (param.len > 0 && (param.ptr[param.len - 1] == ' ' || param.ptr[param.len - 1] == '\t'))
        param.len--;
    return http_span_equal_nocase(param, "charset=utf-8") ||
           http_span_equal_nocase(param, "charset=\"utf-8\"");
}

static enum api_code body_check(const struct head_fields *f, const struct api_head *head,
                                const struct api_head_rules *rules, struct api_error *err)
{
    if (!api_endpoint_is_post(head->endpoint)) {
        if (f->transfer_encoding || head->content_length > 0)
            return api_error_set(err, API_BAD_REQUEST, "a GET request takes no body");
        return API_OK;
    }
    if (f->transfer_encoding)
        return api_error_set(err, API_LENGTH_REQUIRED,
                             "send the body with Content-Length, not Transfer-Encoding");
    if (f->length_count == 0)
        return api_error_set(err, API_LENGTH_REQUIRED, "a POST request needs Content-Length");
    if (head->content_length > rules->max_body_bytes)
        return api_error_set(err, API_BODY_TOO_LARGE,
                             "the body is %llu bytes; at most %llu are allowed "
                             "(api_max_body_bytes)",
                             (unsigned long long)head->content_length,
                             (unsigned long long)rules->max_body_bytes);
    if (f->type_count == 0 || !media_type_is_json(f->type))
        return api_error_set(err, API_UNSUPPORTED_MEDIA_TYPE,
                             "the body must be sent as Content-Type: application/json");
    return API_OK;
}

static enum api_head_result parse_failed(enum http_parse_result parsed, size_t len,
                                         struct api_error *err)
{
    switch (parsed) {
    case HTTP_PARSE_INCOMPLETE:
        if (len < API_HEAD_BYTES_MAX)
            return API_HEAD_INCOMPLETE;
        api_error_set(err, API_HEAD_TOO_LARGE, "the request head is over %d bytes",
                      API_HEAD_BYTES_MAX);
        return API_HEAD_ERROR;
    case HTTP_PARSE_TOO_MANY_HEADERS:
        api_error_set(err, API_HEAD_TOO_LARGE, "the request has more than %d header lines",
                      API_HEADERS_MAX);
        return API_HEAD_ERROR;
    case HTTP_PARSE_BAD_VERSION:
        api_error_set(err, API_HTTP_VERSION_NOT_SUPPORTED, "the server API speaks HTTP/1.1 only");
        return API_HEAD_ERROR;
    default:
        api_error_set(err, API_BAD_REQUEST, "malformed HTTP request head (%s)",
                      http_parse_result_name(parsed));
        return API_HEAD_ERROR;
    }
}

enum api_head_result api_head_check(const char *buf, size_t len, const struct api_head_rules *rules,
                                    struct api_head *head, struct api_error *err)
{
    assert(buf != NULL || len == 0);
    assert(rules != NULL && rules->keys != NULL && head != NULL && err != NULL);
    memset(head, 0, sizeof *head);
    head->endpoint = API_EP_NONE;
    err->code = API_OK;
    err->message[0] = '\0';
    size_t scan = len < API_HEAD_BYTES_MAX ? len : API_HEAD_BYTES_MAX;
    struct http_header headers[API_HEADERS_MAX];
    struct http_request req;
    enum http_parse_result parsed = http_request_parse(buf, scan, &req, headers, API_HEADERS_MAX);
    if (parsed != HTTP_PARSE_OK)
        return parse_failed(parsed, scan, err);
    head->head_bytes = req.head_bytes;
    head->path = req.path;
    head->query = req.query;
    struct head_fields f;
    gather(&req, head, &f);
    if (syntax_check(&f, head, rules, err) != API_OK || key_check(&f, rules, err) != API_OK ||
        path_check(&req, head, err) != API_OK || method_check(&req, head, err) != API_OK ||
        body_check(&f, head, rules, err) != API_OK)
        return API_HEAD_ERROR;
    return API_HEAD_OK;
}
