/* Strict HTTP/1.1 message-head parser (RFC 9110, RFC 9112) for the WebSocket upgrade
 * request (server side) and its response (client side, for the bench harness).
 *
 * Strict means: CRLF line endings only (a bare LF or CR is an error), no obs-fold, no
 * whitespace between a header name and its colon, tokens only in methods and header names,
 * only visible ASCII, obs-text, SP and HTAB in values (leading and trailing OWS trimmed),
 * origin-form or absolute-form (http, https, ws, wss) request targets of visible ASCII only,
 * "HTTP/1.1" only (HTTP/1.0 and 2.x get their own error so the server can answer 505).
 *
 * The parser never allocates and never copies: every span points into the caller's buffer,
 * which must stay alive and unchanged while the spans are used. It parses a complete head:
 * call it again with more bytes when it answers HTTP_PARSE_INCOMPLETE (parsing is cheap and
 * heads are small; the caller bounds the head size). A prefix of a valid head is always
 * INCOMPLETE; an error is reported as soon as a byte arrives that no valid head could hold
 * there, and it is the same error the whole head would get.
 */
#ifndef TIDEGATE_CORE_HTTP_H
#define TIDEGATE_CORE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_parse_result {
    HTTP_PARSE_OK = 0,
    HTTP_PARSE_INCOMPLETE,       /* no CRLFCRLF yet: read more (up to the caller's limit) */
    HTTP_PARSE_BAD_REQUEST_LINE, /* method, target or version malformed */
    HTTP_PARSE_BAD_STATUS_LINE,  /* response: version, status code or reason malformed */
    HTTP_PARSE_BAD_VERSION,      /* well-formed but not HTTP/1.1 */
    HTTP_PARSE_BAD_HEADER,       /* header line malformed */
    HTTP_PARSE_TOO_MANY_HEADERS, /* more header lines than the caller's array holds */
    HTTP_PARSE_BAD_LINE_ENDING,  /* bare LF or bare CR */
};

struct http_span {
    const char *ptr;
    size_t len;
};

struct http_header {
    struct http_span name;  /* as sent; compare with http_span_equal_nocase */
    struct http_span value; /* OWS trimmed */
};

struct http_request {
    struct http_span method;
    struct http_span target;     /* request-target as sent, e.g. "/ws?token=abc" */
    struct http_span path;       /* origin-form: target up to '?'; absolute-form: what follows the
                                    authority up to '?' ("" for "http://host") */
    struct http_span query;      /* after '?', without it; len 0 when absent */
    struct http_header *headers; /* caller's array */
    size_t header_count;
    size_t head_bytes; /* bytes of the head including the final CRLFCRLF */
};

struct http_response {
    int status; /* 100..599 */
    struct http_span reason;
    struct http_header *headers;
    size_t header_count;
    size_t head_bytes;
};

/* Parses a request head from `buf`. `headers` has room for `headers_max` entries. */
enum http_parse_result http_request_parse(const char *buf, size_t len, struct http_request *req,
                                          struct http_header *headers, size_t headers_max);

/* Parses a response head from `buf` (bench harness, client handshake). */
enum http_parse_result http_response_parse(const char *buf, size_t len, struct http_response *res,
                                           struct http_header *headers, size_t headers_max);

/* A short stable name for a parse result, for metrics labels and logs ("bad_header"). */
const char *http_parse_result_name(enum http_parse_result result);

bool http_span_equal_nocase(struct http_span span, const char *literal);

/* Finds the only header called `name` (case-insensitive). Returns the number of headers with
 * that name (0, 1, or more: the caller decides whether duplicates are an error) and points
 * `value` at the first one. */
size_t http_header_find(const struct http_header *headers, size_t count, const char *name,
                        struct http_span *value);

/* True when the comma-separated list in `value` (RFC 9110 section 5.6.1: elements separated
 * by OWS "," OWS, empty elements ignored) contains `token`, compared case-insensitively. */
bool http_list_contains_token(struct http_span value, const char *token);

/* Iterates over the elements of a comma-separated list: sets `element` to the next non-empty
 * element (trimmed) at or after *pos and advances *pos. Returns false when there is none. */
bool http_list_next(struct http_span value, size_t *pos, struct http_span *element);

/* Finds query parameter `name` in a query string ("a=1&token=x"). Sets `raw` to the value
 * as sent (still percent-encoded). Returns false when absent. */
bool http_query_find(struct http_span query, const char *name, struct http_span *raw);

/* Percent-decodes `in` into `out` (capacity `out_cap`), '+' becoming a space. Returns the
 * decoded length, or -1 on a malformed escape or when it does not fit. */
long http_percent_decode(struct http_span in, char *out, size_t out_cap);

#endif
