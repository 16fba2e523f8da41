/* libFuzzer target for core/http and core/ws_handshake. The input is parsed as a request head
 * and as a response head. Besides "never crash" it checks what the contracts promise:
 *   - a prefix answers INCOMPLETE or the whole head's error, never another result, and a
 *     prefix shorter than a valid head is INCOMPLETE (so garbage is refused early and
 *     consistently);
 *   - input holding a CRLFCRLF is never INCOMPLETE (the gateway waits for one, then parses);
 *   - every span lies inside the input;
 *   - an accepted request yields a 101 that our own client check accepts, and every refusal
 *     yields an error response that parses with the status it names;
 *   - the list, query and percent-decoding helpers stay inside their buffers.
 * Seeds: tests/fuzz/corpus/http/ (tests/fuzz/make_seeds_http.py). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "core/ws_handshake.h"

enum { FUZZ_HEADERS_MAX = 16, FUZZ_DECODE_BYTES = 64, FUZZ_LIST_ELEMENTS_MAX = 64 };

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool has_blank_line(const char *buf, size_t size)
{
    return memmem(buf, size, "\r\n\r\n", 4) != NULL;
}

static bool span_inside(struct http_span span, const char *buf, size_t len)
{
    if (span.len == 0)
        return true;
    return span.ptr >= buf && span.ptr + span.len <= buf + len;
}

static void check_headers(const struct http_header *headers, size_t count, const char *buf,
                          size_t head_bytes)
{
    require(count <= FUZZ_HEADERS_MAX);
    for (size_t i = 0; i < count; i++) {
        require(headers[i].name.len > 0 && span_inside(headers[i].name, buf, head_bytes));
        require(span_inside(headers[i].value, buf, head_bytes));
        require(memchr(headers[i].value.ptr, '\r', headers[i].value.len) == NULL);
        require(memchr(headers[i].value.ptr, '\0', headers[i].value.len) == NULL);
        size_t pos = 0;
        struct http_span element;
        for (int n = 0;
             n < FUZZ_LIST_ELEMENTS_MAX && http_list_next(headers[i].value, &pos, &element); n++)
            require(element.len > 0 && span_inside(element, buf, head_bytes));
        require(pos <= headers[i].value.len);
    }
}

/* Parsing a prefix of `size` bytes must agree with parsing all of them (`whole`). */
static void check_prefix_request(const char *buf, size_t size, size_t prefix,
                                 enum http_parse_result whole, size_t head_bytes)
{
    struct http_header headers[FUZZ_HEADERS_MAX];
    struct http_request req;
    enum http_parse_result r = http_request_parse(buf, prefix, &req, headers, FUZZ_HEADERS_MAX);
    require(prefix <= size);
    if (whole == HTTP_PARSE_OK && prefix < head_bytes)
        require(r == HTTP_PARSE_INCOMPLETE);
    else if (whole == HTTP_PARSE_OK)
        require(r == HTTP_PARSE_OK && req.head_bytes == head_bytes);
    else
        require(r == HTTP_PARSE_INCOMPLETE || r == whole);
}

static void check_prefix_response(const char *buf, size_t prefix, enum http_parse_result whole,
                                  size_t head_bytes)
{
    struct http_header headers[FUZZ_HEADERS_MAX];
    struct http_response res;
    enum http_parse_result r = http_response_parse(buf, prefix, &res, headers, FUZZ_HEADERS_MAX);
    if (whole == HTTP_PARSE_OK && prefix < head_bytes)
        require(r == HTTP_PARSE_INCOMPLETE);
    else if (whole == HTTP_PARSE_OK)
        require(r == HTTP_PARSE_OK && res.head_bytes == head_bytes);
    else
        require(r == HTTP_PARSE_INCOMPLETE || r == whole);
}

static void exercise_query(struct http_span query)
{
    static const char *const names[] = {"token", "t", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct http_span raw;
        if (!http_query_find(query, names[i], &raw))
            continue;
        require(raw.ptr >= query.ptr && raw.ptr + raw.len <= query.ptr + query.len);
        char out[FUZZ_DECODE_BYTES];
        long n = http_percent_decode(raw, out, sizeof out);
        require(n >= -1 && n <= (long)raw.len && n <= (long)sizeof out);
    }
    char all[FUZZ_DECODE_BYTES];
    long n = http_percent_decode(query, all, sizeof all);
    require(n >= -1 && n <= (long)sizeof all);
}

/* An accepted request gets a 101 our client accepts; a refused one a parseable error. */
static void answer(const struct http_request *req, const struct ws_handshake_result *res)
{
    struct http_header headers[FUZZ_HEADERS_MAX];
    struct http_response parsed;
    char out[1024];
    if (res->error != WS_HS_OK) {
        size_t len = ws_handshake_write_error(out, sizeof out, res->error);
        require(len > 0);
        require(http_response_parse(out, len, &parsed, headers, FUZZ_HEADERS_MAX) == HTTP_PARSE_OK);
        require(parsed.status == ws_handshake_error_status(res->error));
        return;
    }
    size_t len = ws_handshake_write_101(out, 512, res);
    require(len > 0);
    require(http_response_parse(out, len, &parsed, headers, FUZZ_HEADERS_MAX) == HTTP_PARSE_OK);
    struct http_span key_span;
    require(http_header_find(req->headers, req->header_count, "Sec-WebSocket-Key", &key_span) == 1);
    char key[25];
    require(key_span.len == 24);
    memcpy(key, key_span.ptr, 24);
    key[24] = '\0';
    require(ws_handshake_client_check(&parsed, key));
}

static void exercise_handshake(const struct http_request *req)
{
    static const char *const origins[] = {"https://example.com", "http://localhost:8080"};
    static const char *const protocols[] = {"tidegate.v1", "chat"};
    const struct ws_handshake_policy policies[] = {
        {0},
        {.allowed_origins = origins, .allowed_origin_count = 2, .origin_required = true},
        {.subprotocols = protocols, .subprotocol_count = 2, .subprotocol_required = true},
    };
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        struct ws_handshake_result res;
        enum ws_handshake_error error = ws_handshake_check(req, &policies[i], &res);
        require(error == res.error && error >= WS_HS_OK && error < WS_HS_ERROR_COUNT);
        require(ws_handshake_error_name(error) != NULL);
        answer(req, &res);
    }
}

static void fuzz_request(const char *buf, size_t size)
{
    struct http_header headers[FUZZ_HEADERS_MAX];
    struct http_request req;
    enum http_parse_result r = http_request_parse(buf, size, &req, headers, FUZZ_HEADERS_MAX);
    require(http_parse_result_name(r) != NULL);
    require(r != HTTP_PARSE_INCOMPLETE || !has_blank_line(buf, size));
    size_t head_bytes = r == HTTP_PARSE_OK ? req.head_bytes : 0;
    check_prefix_request(buf, size, size / 2, r, head_bytes);
    if (size > 0)
        check_prefix_request(buf, size, size - 1, r, head_bytes);
    if (r != HTTP_PARSE_OK)
        return;
    require(head_bytes >= 16 && head_bytes <= size);
    require(span_inside(req.method, buf, head_bytes) && span_inside(req.target, buf, head_bytes));
    require(span_inside(req.path, buf, head_bytes) && span_inside(req.query, buf, head_bytes));
    check_headers(req.headers, req.header_count, buf, head_bytes);
    exercise_query(req.query);
    exercise_handshake(&req);
}

static void fuzz_response(const char *buf, size_t size)
{
    struct http_header headers[FUZZ_HEADERS_MAX];
    struct http_response res;
    enum http_parse_result r = http_response_parse(buf, size, &res, headers, FUZZ_HEADERS_MAX);
    require(r != HTTP_PARSE_INCOMPLETE || !has_blank_line(buf, size));
    size_t head_bytes = r == HTTP_PARSE_OK ? res.head_bytes : 0;
    check_prefix_response(buf, size / 2, r, head_bytes);
    if (r != HTTP_PARSE_OK)
        return;
    require(res.status >= 100 && res.status <= 599 && head_bytes <= size);
    require(span_inside(res.reason, buf, head_bytes));
    check_headers(res.headers, res.header_count, buf, head_bytes);
    (void)ws_handshake_client_check(&res, RFC_KEY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    fuzz_request(buf, size);
    fuzz_response(buf, size);
    char accept[29];
    require(ws_handshake_accept_compute(buf, size, accept) && strlen(accept) == 28);
    return 0;
}
