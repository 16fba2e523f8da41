/* The server API's HTTP rules (docs/api.md sections 2-4) as pure functions: the error
 * vocabulary (codes, statuses, endpoints) and the checks of a request head, in the order the
 * spec gives: head syntax (400, 431, 505) -> key (401) -> path (404) -> method (405) ->
 * length and type (411, 413, 415). The body and query checks that follow belong to the
 * endpoints (api_body.h); the connection handling to api.c.
 *
 * No allocation, no I/O: the head is parsed from the caller's buffer and every span points
 * into it. tests/unit/test_api_http.c and tests/fuzz/fuzz_api.c exercise it.
 */
#ifndef TIDEGATE_GATEWAY_API_HTTP_H
#define TIDEGATE_GATEWAY_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/http.h"

enum {
    API_HEAD_BYTES_MAX = 8192, /* request line and headers, final CRLFCRLF included */
    API_HEADERS_MAX = 32,      /* header lines */
    API_MESSAGE_BYTES = 320,   /* room for an error sentence */
    API_KEY_BYTES_MAX = 256,   /* a key longer than this is never compared */
};

/* The endpoints, and API_EP_NONE for a request whose path names none (or was refused before
 * its path was read): the `endpoint` label of tidegate_api_requests_total. */
enum api_endpoint {
    API_EP_PUBLISH,
    API_EP_BROADCAST,
    API_EP_DISCONNECT,
    API_EP_PRESENCE,
    API_EP_HISTORY,
    API_EP_CHANNELS,
    API_EP_INFO,
    API_EP_USER_STATUS, /* GET /api/users/{id}/status: the path holds the user id */
    API_EP_NONE,
    API_ENDPOINT_COUNT
};

/* "publish" ... "info", "user_status", "none". */
const char *api_endpoint_name(enum api_endpoint endpoint);
/* True for the endpoints that take POST (the others take GET). */
bool api_endpoint_is_post(enum api_endpoint endpoint);

/* Every answer of docs/api.md section 4, API_OK being 200. */
enum api_code {
    API_OK,
    API_BAD_REQUEST,
    API_CHANNEL_NAME_INVALID,
    API_UNKNOWN_NAMESPACE,
    API_MESSAGE_TOO_LARGE,
    API_UNAUTHORIZED,
    API_NOT_FOUND,
    API_METHOD_NOT_ALLOWED,
    API_REQUEST_TIMEOUT,
    API_PRESENCE_DISABLED,
    API_HISTORY_DISABLED,
    API_USER_STATUS_DISABLED,
    API_EPOCH_MISMATCH,
    API_LENGTH_REQUIRED,
    API_BODY_TOO_LARGE,
    API_UNSUPPORTED_MEDIA_TYPE,
    API_HEAD_TOO_LARGE,
    API_INTERNAL_ERROR,
    API_SERVER_BUSY,
    API_STORAGE_UNAVAILABLE,
    API_SHUTTING_DOWN,
    API_TOO_MANY_CONNECTIONS,
    API_HTTP_VERSION_NOT_SUPPORTED,
    API_CODE_COUNT
};

/* The stable `error` string ("bad_request"; "ok" for API_OK) and the HTTP status (200 for
 * API_OK). Out-of-range codes give "internal_error" and 500. */
const char *api_code_name(enum api_code code);
unsigned api_code_status(enum api_code code);
/* The reason phrase of a status the API answers ("Not Found"); "Unknown" otherwise. */
const char *api_status_reason(unsigned status);

/* The statuses the API answers, in increasing order, for the `status` label: index i of
 * tidegate_api_requests_total's status dimension is api_statuses[i]. */
enum { API_STATUS_COUNT = 14 };
extern const uint16_t api_statuses[API_STATUS_COUNT];
/* The index of `status` in api_statuses, or -1. */
int api_status_index(unsigned status);

/* An error to answer: its code and the sentence for `message`. */
struct api_error {
    enum api_code code;
    char message[API_MESSAGE_BYTES]; /* NUL-terminated, printable ASCII */
};

/* Fills `err` with `code` and a printf-style sentence (cut to fit); returns `code`. */
enum api_code api_error_set(struct api_error *err, enum api_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What the head check needs from the configuration. */
struct api_head_rules {
    const struct config_list *keys; /* api_keys: at least one */
    uint64_t max_body_bytes;        /* api_max_body_bytes */
};

/* A checked request head. Spans point into the caller's buffer. */
struct api_head {
    size_t head_bytes;          /* the head, final CRLFCRLF included (0 until parsed) */
    enum api_endpoint endpoint; /* API_EP_NONE until the path is known */
    bool close;                 /* Connection: close */
    bool expect_continue;       /* Expect: 100-continue */
    /* The body's length is known (a Content-Length within api_max_body_bytes, no
     * Transfer-Encoding), so the connection can read past it after an error. */
    bool body_framed;
    uint64_t content_length; /* 0 without Content-Length */
    struct http_span path;
    struct http_span query; /* after '?', len 0 when absent */
    struct http_span user;  /* API_EP_USER_STATUS: the {id} of the path, still
                               percent-encoded, 1 byte or more */
};

enum api_head_result {
    API_HEAD_INCOMPLETE, /* no complete head yet and under API_HEAD_BYTES_MAX: read more */
    API_HEAD_OK,         /* every check passed; the body (content_length bytes) follows */
    API_HEAD_ERROR,      /* `err` says what to answer; `head` holds what was read */
};

/* Checks the request head at the start of `buf` (`len` bytes, which may include body bytes
 * and further requests after the head) in the order of docs/api.md section 3. Keys are
 * compared in constant time against every configured key. Fills `head` as far as the checks
 * got (head_bytes, close, expect_continue, body_framed and content_length are set whenever
 * the head itself parsed, also on ERROR). */
enum api_head_result api_head_check(const char *buf, size_t len, const struct api_head_rules *rules,
                                    struct api_head *head, struct api_error *err);

/* True when `given` equals one of `keys`, comparing every key whatever the outcome and
 * every byte of `given` whatever the key (the time depends only on the lengths). */
bool api_key_matches(const struct config_list *keys, const char *given, size_t given_len);

#endif
