/* Unit tests for core/http: the requests real clients send, every way a head can be wrong
 * and the error each gets, that every prefix of a valid head is INCOMPLETE while garbage is
 * refused at the first impossible byte, and the list, query and percent-decoding helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/http.h"

enum { HEADERS_MAX = 32 };

struct text_case {
    const char *name;
    const char *bytes;
    size_t len;
};

struct bad_case {
    const char *name;
    const char *bytes;
    size_t len;
    enum http_parse_result want;
};

#define TEXT(name, lit)                                                                            \
    {                                                                                              \
        name, lit, sizeof(lit) - 1                                                                 \
    }
#define BAD(name, lit, want)                                                                       \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, want                                                           \
    }

/* Upgrade requests as real clients send them (captured header order and spelling). */
static const struct text_case real_requests[] = {
    TEXT("chrome 120",
         "GET /chat?room=lobby HTTP/1.1\r\n"
         "Host: example.com\r\n"
         "Connection: Upgrade\r\n"
         "Pragma: no-cache\r\n"
         "Cache-Control: no-cache\r\n"
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36\r\n"
         "Upgrade: websocket\r\n"
         "Origin: https://example.com\r\n"
         "Sec-WebSocket-Version: 13\r\n"
         "Accept-Encoding: gzip, deflate, br\r\n"
         "Accept-Language: en-US,en;q=0.9\r\n"
         "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
         "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
         "\r\n"),
    TEXT("firefox 121",
         "GET /chat HTTP/1.1\r\n"
         "Host: example.com\r\n"
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
         "Accept: */*\r\n"
         "Accept-Language: en-US,en;q=0.5\r\n"
         "Accept-Encoding: gzip, deflate, br\r\n"
         "Sec-WebSocket-Version: 13\r\n"
         "Origin: https://example.com\r\n"
         "Sec-WebSocket-Extensions: permessage-deflate\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Connection: keep-alive, Upgrade\r\n"
         "Sec-Fetch-Dest: empty\r\n"
         "Sec-Fetch-Mode: websocket\r\n"
         "Sec-Fetch-Site: same-origin\r\n"
         "Pragma: no-cache\r\n"
         "Cache-Control: no-cache\r\n"
         "Upgrade: websocket\r\n"
         "\r\n"),
    TEXT("curl 7.88", "GET /chat HTTP/1.1\r\n"
                      "Host: localhost:8080\r\n"
                      "User-Agent: curl/7.88.1\r\n"
                      "Accept: */*\r\n"
                      "Connection: Upgrade\r\n"
                      "Upgrade: websocket\r\n"
                      "Sec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQAAAA==\r\n"
                      "\r\n"),
    TEXT("python websockets 10",
         "GET /chat HTTP/1.1\r\n"
         "Host: localhost:8765\r\n"
         "Upgrade: websocket\r\n"
         "Connection: Upgrade\r\n"
         "Sec-WebSocket-Key: 3t6Grl9yN1GrWKP3ThqJUg==\r\n"
         "Sec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
         "User-Agent: Python/3.11 websockets/10.4\r\n"
         "\r\n"),
    TEXT("node ws 8", "GET /chat HTTP/1.1\r\n"
                      "Sec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: pqFt5M6jN8Bx1L2G6PWZnA==\r\n"
                      "Connection: Upgrade\r\n"
                      "Upgrade: websocket\r\n"
                      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                      "Host: localhost:8080\r\n"
                      "\r\n"),
};

static const struct text_case real_responses[] = {
    TEXT("rfc 6455 101", "HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                         "Sec-WebSocket-Protocol: chat\r\n"
                         "\r\n"),
    TEXT("nginx 400", "HTTP/1.1 400 Bad Request\r\n"
                      "Server: nginx\r\n"
                      "Content-Type: text/html\r\n"
                      "Content-Length: 150\r\n"
                      "Connection: close\r\n"
                      "\r\n"),
    TEXT("no reason phrase", "HTTP/1.1 101 \r\nUpgrade: websocket\r\n\r\n"),
    TEXT("no space before empty reason", "HTTP/1.1 204\r\n\r\n"),
};

static const struct bad_case bad_requests[] = {
    BAD("tls client hello on a plain port", "\x16\x03\x01\x02\x00\x01",
        HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("method not a token", "GE(T / HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("tab after method", "GET\t/ HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("two spaces after method", "GET  / HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("two spaces after target", "GET /  HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("nul in method", "GE\0T / HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("nul in target", "GET /c\0hat HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("asterisk-form", "OPTIONS * HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("authority-form", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("relative target", "GET chat HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("unknown scheme", "GET ftp://example.com/ HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("scheme without authority", "GET http:///chat HTTP/1.1\r\n\r\n",
        HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("scheme and nothing else", "GET ws:// HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("scheme cut short", "GET http: HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("no version", "GET /\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("no target and no version", "GET\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("lowercase version", "GET / http/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("version without minor", "GET / HTTP/1\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("version 1.10", "GET / HTTP/1.10\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("version 11", "GET / HTTP/11\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("space after version", "GET / HTTP/1.1 \r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE),
    BAD("http/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", HTTP_PARSE_BAD_VERSION),
    BAD("http/2.0", "GET / HTTP/2.0\r\n\r\n", HTTP_PARSE_BAD_VERSION),
    BAD("http/0.9", "GET / HTTP/0.9\r\n", HTTP_PARSE_BAD_VERSION),
    BAD("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("name not a token", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("tab-folded line", "GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("space before the first name", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("nul in value", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("nul in name", "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("del in value", "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("control char in value", "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("escape in value", "GET / HTTP/1.1\r\nX: \x1b[31m\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("lf-only request", "GET / HTTP/1.1\nHost: a\n\n", HTTP_PARSE_BAD_LINE_ENDING),
    BAD("bare lf after a header", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
        HTTP_PARSE_BAD_LINE_ENDING),
    BAD("bare lf ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", HTTP_PARSE_BAD_LINE_ENDING),
    BAD("bare lf in the target", "GET /a\nb HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_LINE_ENDING),
    BAD("bare lf after method", "GET\n", HTTP_PARSE_BAD_LINE_ENDING),
    BAD("bare cr in value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", HTTP_PARSE_BAD_LINE_ENDING),
    BAD("cr cr lf", "GET / HTTP/1.1\r\r\n\r\n", HTTP_PARSE_BAD_LINE_ENDING),
    BAD("bare cr ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\rX", HTTP_PARSE_BAD_LINE_ENDING),
    BAD("bare cr in the version", "GET / HTTP/1\r.1\r\n\r\n", HTTP_PARSE_BAD_LINE_ENDING),
};

static const struct bad_case bad_responses[] = {
    BAD("not http", "ICY 200 OK\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("two-digit status", "HTTP/1.1 10 Continue\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("four-digit status", "HTTP/1.1 1010 X\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("status 600", "HTTP/1.1 600 X\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("status 099", "HTTP/1.1 099 X\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("letters for status", "HTTP/1.1 abc X\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("two spaces", "HTTP/1.1  101 X\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("no status", "HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("nul in reason", "HTTP/1.1 101 Swi\0tching\r\n\r\n", HTTP_PARSE_BAD_STATUS_LINE),
    BAD("http/1.0", "HTTP/1.0 101 Switching Protocols\r\n\r\n", HTTP_PARSE_BAD_VERSION),
    BAD("http/2", "HTTP/2.0 200 OK\r\n\r\n", HTTP_PARSE_BAD_VERSION),
    BAD("bad header", "HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n", HTTP_PARSE_BAD_HEADER),
    BAD("lf-only", "HTTP/1.1 101 OK\nUpgrade: websocket\n\n", HTTP_PARSE_BAD_LINE_ENDING),
};

static enum http_parse_result parse_request(const char *bytes, size_t len, struct http_request *req)
{
    static struct http_header headers[HEADERS_MAX];
    return http_request_parse(bytes, len, req, headers, HEADERS_MAX);
}

static enum http_parse_result parse_response(const char *bytes, size_t len,
                                             struct http_response *res)
{
    static struct http_header headers[HEADERS_MAX];
    return http_response_parse(bytes, len, res, headers, HEADERS_MAX);
}

static struct http_span span_of(const char *text)
{
    return (struct http_span){text, strlen(text)};
}

static void assert_span(struct http_span span, const char *want)
{
    assert_int_equal(span.len, strlen(want));
    assert_memory_equal(span.ptr, want, span.len);
}

/* Every span lies inside the buffer that was parsed: nothing is copied. */
static void assert_spans_inside(const struct http_request *req, const char *buf, size_t len)
{
    for (size_t i = 0; i < req->header_count; i++) {
        struct http_header h = req->headers[i];
        assert_true(h.name.ptr >= buf && h.name.ptr + h.name.len <= buf + len);
        assert_true(h.value.ptr >= buf && h.value.ptr + h.value.len <= buf + len);
    }
    assert_true(req->target.ptr >= buf && req->target.ptr + req->target.len <= buf + len);
}

static void test_real_browser_and_library_requests_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof real_requests / sizeof real_requests[0]; i++) {
        const struct text_case *c = &real_requests[i];
        struct http_request req;
        print_message("case: %s\n", c->name);
        assert_int_equal(parse_request(c->bytes, c->len, &req), HTTP_PARSE_OK);
        assert_span(req.method, "GET");
        assert_int_equal(req.head_bytes, c->len);
        assert_true(req.header_count >= 6);
        assert_spans_inside(&req, c->bytes, c->len);
    }
}

static void test_chrome_request_fields(void **state)
{
    (void)state;
    const struct text_case *c = &real_requests[0];
    struct http_request req;
    assert_int_equal(parse_request(c->bytes, c->len, &req), HTTP_PARSE_OK);
    assert_span(req.target, "/chat?room=lobby");
    assert_span(req.path, "/chat");
    assert_span(req.query, "room=lobby");
    assert_int_equal(req.header_count, 12);
    assert_span(req.headers[0].name, "Host");
    assert_span(req.headers[0].value, "example.com");
    assert_span(req.headers[11].value, "permessage-deflate; client_max_window_bits");
}

static void test_every_prefix_of_a_valid_request_is_incomplete(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof real_requests / sizeof real_requests[0]; i++) {
        const struct text_case *c = &real_requests[i];
        for (size_t len = 0; len < c->len; len++) {
            struct http_request req;
            if (parse_request(c->bytes, len, &req) != HTTP_PARSE_INCOMPLETE)
                fail_msg("%s: prefix of %zu bytes is not INCOMPLETE", c->name, len);
        }
    }
}

static void test_every_prefix_of_a_valid_response_is_incomplete(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof real_responses / sizeof real_responses[0]; i++) {
        const struct text_case *c = &real_responses[i];
        struct http_response res;
        assert_int_equal(parse_response(c->bytes, c->len, &res), HTTP_PARSE_OK);
        assert_int_equal(res.head_bytes, c->len);
        for (size_t len = 0; len < c->len; len++) {
            if (parse_response(c->bytes, len, &res) != HTTP_PARSE_INCOMPLETE)
                fail_msg("%s: prefix of %zu bytes is not INCOMPLETE", c->name, len);
        }
    }
}

static void test_head_bytes_stop_before_what_follows(void **state)
{
    (void)state;
    static const char text[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81\x85garbage";
    struct http_request req;
    assert_int_equal(parse_request(text, sizeof text - 1, &req), HTTP_PARSE_OK);
    assert_int_equal(req.head_bytes, strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
}

static void test_head_without_headers_parses(void **state)
{
    (void)state;
    static const char text[] = "GET / HTTP/1.1\r\n\r\n";
    struct http_request req;
    assert_int_equal(http_request_parse(text, sizeof text - 1, &req, NULL, 0), HTTP_PARSE_OK);
    assert_int_equal(req.header_count, 0);
    assert_int_equal(req.head_bytes, sizeof text - 1);
}

static void test_values_are_trimmed_and_may_hold_tabs_and_obs_text(void **state)
{
    (void)state;
    static const char text[] = "GET / HTTP/1.1\r\n"
                               "A:   spaced out \t \r\n"
                               "B:\r\n"
                               "C: \t \r\n"
                               "D: caf\xc3\xa9\tau lait\r\n"
                               "e-F_g!#$%&'*+.^`|~: token\r\n"
                               "\r\n";
    struct http_request req;
    assert_int_equal(parse_request(text, sizeof text - 1, &req), HTTP_PARSE_OK);
    assert_int_equal(req.header_count, 5);
    assert_span(req.headers[0].value, "spaced out");
    assert_span(req.headers[1].value, "");
    assert_span(req.headers[2].value, "");
    assert_span(req.headers[3].value, "caf\xc3\xa9\tau lait");
    assert_span(req.headers[4].name, "e-F_g!#$%&'*+.^`|~");
}

static void test_target_forms_set_path_and_query(void **state)
{
    (void)state;
    static const struct {
        const char *line, *path, *query;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", "/", ""},
        {"GET /ws HTTP/1.1\r\n\r\n", "/ws", ""},
        {"GET /ws? HTTP/1.1\r\n\r\n", "/ws", ""},
        {"GET /ws?token=a%20b&x HTTP/1.1\r\n\r\n", "/ws", "token=a%20b&x"},
        {"GET /a?b?c HTTP/1.1\r\n\r\n", "/a", "b?c"},
        {"GET http://example.com:80/ws?x=1 HTTP/1.1\r\n\r\n", "/ws", "x=1"},
        {"GET HTTPS://example.com/ws HTTP/1.1\r\n\r\n", "/ws", ""},
        {"GET ws://example.com HTTP/1.1\r\n\r\n", "", ""},
        {"GET wss://example.com?x HTTP/1.1\r\n\r\n", "", "x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request req;
        print_message("case: %s", cases[i].line);
        assert_int_equal(parse_request(cases[i].line, strlen(cases[i].line), &req), HTTP_PARSE_OK);
        assert_span(req.path, cases[i].path);
        assert_span(req.query, cases[i].query);
    }
}

static void test_lowercase_method_is_a_valid_token(void **state)
{
    (void)state;
    static const char text[] = "get / HTTP/1.1\r\n\r\n";
    struct http_request req;
    assert_int_equal(parse_request(text, sizeof text - 1, &req), HTTP_PARSE_OK);
    assert_span(req.method, "get");
}

static void test_every_malformed_request_gets_its_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        const struct bad_case *c = &bad_requests[i];
        struct http_request req;
        enum http_parse_result got = parse_request(c->bytes, c->len, &req);
        if (got != c->want)
            fail_msg("%s: got %s, want %s", c->name, http_parse_result_name(got),
                     http_parse_result_name(c->want));
    }
}

static void test_every_malformed_response_gets_its_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_responses / sizeof bad_responses[0]; i++) {
        const struct bad_case *c = &bad_responses[i];
        struct http_response res;
        enum http_parse_result got = parse_response(c->bytes, c->len, &res);
        if (got != c->want)
            fail_msg("%s: got %s, want %s", c->name, http_parse_result_name(got),
                     http_parse_result_name(c->want));
    }
}

/* A prefix answers INCOMPLETE or already the error of the whole head, never another one. */
static void test_prefixes_of_malformed_heads_never_change_their_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        const struct bad_case *c = &bad_requests[i];
        for (size_t len = 0; len < c->len; len++) {
            struct http_request req;
            enum http_parse_result got = parse_request(c->bytes, len, &req);
            if (got != HTTP_PARSE_INCOMPLETE && got != c->want)
                fail_msg("%s: prefix of %zu bytes gives %s", c->name, len,
                         http_parse_result_name(got));
        }
    }
}

/* Slowloris: garbage must be refused when it arrives, not when the size limit runs out. */
static void test_garbage_is_refused_before_the_head_ends(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        BAD("nul in the method", "G\0", HTTP_PARSE_BAD_REQUEST_LINE),
        BAD("nul in the target", "GET /\0", HTTP_PARSE_BAD_REQUEST_LINE),
        BAD("binary target", "GET \x01", HTTP_PARSE_BAD_REQUEST_LINE),
        BAD("relative target", "GET x", HTTP_PARSE_BAD_REQUEST_LINE),
        BAD("bad version byte", "GET / HTTQ", HTTP_PARSE_BAD_REQUEST_LINE),
        BAD("nul in a value", "GET / HTTP/1.1\r\nX-Pad: aaaa\0", HTTP_PARSE_BAD_HEADER),
        BAD("space in a name", "GET / HTTP/1.1\r\nX Pad", HTTP_PARSE_BAD_HEADER),
        BAD("bare lf", "GET / HTTP/1.1\n", HTTP_PARSE_BAD_LINE_ENDING),
        BAD("old version", "GET / HTTP/1.0\r\n", HTTP_PARSE_BAD_VERSION),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request req;
        enum http_parse_result got = parse_request(cases[i].bytes, cases[i].len, &req);
        if (got != cases[i].want)
            fail_msg("%s: got %s", cases[i].name, http_parse_result_name(got));
    }
}

/* Builds a request with `count` headers "H<i>: v" into `buf`; returns its length. */
static size_t request_with_headers(char *buf, size_t cap, size_t count)
{
    size_t len = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\n");
    for (size_t i = 0; i < count; i++)
        len += (size_t)snprintf(buf + len, cap - len, "H%zu: v\r\n", i);
    len += (size_t)snprintf(buf + len, cap - len, "\r\n");
    assert_true(len < cap);
    return len;
}

static void test_header_count_limit(void **state)
{
    (void)state;
    char buf[1024];
    struct http_header headers[4];
    struct http_request req;
    size_t len = request_with_headers(buf, sizeof buf, 4);
    assert_int_equal(http_request_parse(buf, len, &req, headers, 4), HTTP_PARSE_OK);
    assert_int_equal(req.header_count, 4);
    assert_span(req.headers[3].name, "H3");
    len = request_with_headers(buf, sizeof buf, 5);
    assert_int_equal(http_request_parse(buf, len, &req, headers, 4), HTTP_PARSE_TOO_MANY_HEADERS);
    /* The fifth header line is refused as soon as it starts. */
    size_t fifth = strlen("GET / HTTP/1.1\r\n") + 4 * strlen("H0: v\r\n");
    assert_int_equal(http_request_parse(buf, fifth, &req, headers, 4), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(http_request_parse(buf, fifth + 1, &req, headers, 4),
                     HTTP_PARSE_TOO_MANY_HEADERS);
    len = request_with_headers(buf, sizeof buf, 1);
    assert_int_equal(http_request_parse(buf, len, &req, NULL, 0), HTTP_PARSE_TOO_MANY_HEADERS);
}

static void test_response_fields(void **state)
{
    (void)state;
    const struct text_case *c = &real_responses[0];
    struct http_response res;
    assert_int_equal(parse_response(c->bytes, c->len, &res), HTTP_PARSE_OK);
    assert_int_equal(res.status, 101);
    assert_span(res.reason, "Switching Protocols");
    assert_int_equal(res.header_count, 4);
    assert_span(res.headers[2].value, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    c = &real_responses[3];
    assert_int_equal(parse_response(c->bytes, c->len, &res), HTTP_PARSE_OK);
    assert_int_equal(res.status, 204);
    assert_span(res.reason, "");
}

static void test_result_names_are_stable_and_distinct(void **state)
{
    (void)state;
    assert_string_equal(http_parse_result_name(HTTP_PARSE_OK), "ok");
    assert_string_equal(http_parse_result_name(HTTP_PARSE_BAD_HEADER), "bad_header");
    assert_string_equal(http_parse_result_name(HTTP_PARSE_BAD_LINE_ENDING), "bad_line_ending");
    assert_string_equal(http_parse_result_name((enum http_parse_result)99), "unknown");
    for (int a = HTTP_PARSE_OK; a <= HTTP_PARSE_BAD_LINE_ENDING; a++) {
        for (int b = a + 1; b <= HTTP_PARSE_BAD_LINE_ENDING; b++)
            assert_string_not_equal(http_parse_result_name((enum http_parse_result)a),
                                    http_parse_result_name((enum http_parse_result)b));
    }
}

static void test_span_equal_nocase(void **state)
{
    (void)state;
    assert_true(http_span_equal_nocase(span_of("UpGrAdE"), "upgrade"));
    assert_true(http_span_equal_nocase(span_of(""), ""));
    assert_false(http_span_equal_nocase(span_of("upgrade"), "upgrades"));
    assert_false(http_span_equal_nocase(span_of("upgradeX"), "upgrade"));
    assert_false(http_span_equal_nocase(span_of("upgr@de"), "upgr`de"));
}

static void test_header_find_counts_duplicates(void **state)
{
    (void)state;
    static const char text[] = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nhost: b\r\n\r\n";
    struct http_request req;
    struct http_span value;
    assert_int_equal(parse_request(text, sizeof text - 1, &req), HTTP_PARSE_OK);
    assert_int_equal(http_header_find(req.headers, req.header_count, "HOST", &value), 2);
    assert_span(value, "a");
    assert_int_equal(http_header_find(req.headers, req.header_count, "x", &value), 1);
    assert_span(value, "1");
    assert_int_equal(http_header_find(req.headers, req.header_count, "Origin", &value), 0);
    assert_int_equal(value.len, 0);
}

static void test_list_next_skips_empty_elements_and_trims(void **state)
{
    (void)state;
    static const char *const want[] = {"keep-alive", "Upgrade", "a b"};
    struct http_span list = span_of(" , keep-alive ,\t,Upgrade,, a b \t, ");
    struct http_span element;
    size_t pos = 0;
    for (size_t i = 0; i < 3; i++) {
        assert_true(http_list_next(list, &pos, &element));
        assert_span(element, want[i]);
    }
    assert_false(http_list_next(list, &pos, &element));
    pos = 0;
    assert_false(http_list_next(span_of(""), &pos, &element));
    assert_false(http_list_next(span_of(" ,, \t"), &pos, &element));
}

static void test_list_contains_token(void **state)
{
    (void)state;
    assert_true(http_list_contains_token(span_of("keep-alive, Upgrade"), "upgrade"));
    assert_true(http_list_contains_token(span_of("WebSocket"), "websocket"));
    assert_true(http_list_contains_token(span_of("h2c,websocket"), "websocket"));
    assert_false(http_list_contains_token(span_of("websockets"), "websocket"));
    assert_false(http_list_contains_token(span_of("web socket"), "websocket"));
    assert_false(http_list_contains_token(span_of(""), "websocket"));
    assert_false(http_list_contains_token(span_of("keep-alive"), "upgrade"));
}

static void test_query_find(void **state)
{
    (void)state;
    struct http_span raw;
    struct http_span query = span_of("tok=1&token=a%2Bb&flag&token=second&empty=");
    assert_true(http_query_find(query, "token", &raw));
    assert_span(raw, "a%2Bb");
    assert_true(http_query_find(query, "tok", &raw));
    assert_span(raw, "1");
    assert_true(http_query_find(query, "flag", &raw));
    assert_span(raw, "");
    assert_true(http_query_find(query, "empty", &raw));
    assert_span(raw, "");
    assert_false(http_query_find(query, "toke", &raw));
    assert_false(http_query_find(query, "Token", &raw));
    assert_false(http_query_find(span_of(""), "token", &raw));
    assert_false(http_query_find(span_of("&&="), "token", &raw));
}

static void test_percent_decode(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(http_percent_decode(span_of("%41%62+c%2b%2F"), out, sizeof out), 6);
    assert_memory_equal(out, "Ab c+/", 6);
    assert_int_equal(http_percent_decode(span_of(""), out, sizeof out), 0);
    assert_int_equal(http_percent_decode(span_of("abc"), out, 3), 3);
    assert_int_equal(http_percent_decode(span_of("%00"), out, sizeof out), 1);
    assert_int_equal(out[0], '\0');
}

static void test_percent_decode_refuses_bad_escapes_and_overflow(void **state)
{
    (void)state;
    static const char *const bad[] = {"%", "%4", "a%", "%zz", "%4g", "%g4", "%%41", "% 41"};
    char out[16];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("case: %s\n", bad[i]);
        assert_int_equal(http_percent_decode(span_of(bad[i]), out, sizeof out), -1);
    }
    assert_int_equal(http_percent_decode(span_of("abcd"), out, 3), -1);
    assert_int_equal(http_percent_decode(span_of("%41"), out, 0), -1);
    assert_int_equal(http_percent_decode(span_of("a"), NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_browser_and_library_requests_parse),
        cmocka_unit_test(test_chrome_request_fields),
        cmocka_unit_test(test_every_prefix_of_a_valid_request_is_incomplete),
        cmocka_unit_test(test_every_prefix_of_a_valid_response_is_incomplete),
        cmocka_unit_test(test_head_bytes_stop_before_what_follows),
        cmocka_unit_test(test_head_without_headers_parses),
        cmocka_unit_test(test_values_are_trimmed_and_may_hold_tabs_and_obs_text),
        cmocka_unit_test(test_target_forms_set_path_and_query),
        cmocka_unit_test(test_lowercase_method_is_a_valid_token),
        cmocka_unit_test(test_every_malformed_request_gets_its_error),
        cmocka_unit_test(test_every_malformed_response_gets_its_error),
        cmocka_unit_test(test_prefixes_of_malformed_heads_never_change_their_error),
        cmocka_unit_test(test_garbage_is_refused_before_the_head_ends),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_response_fields),
        cmocka_unit_test(test_result_names_are_stable_and_distinct),
        cmocka_unit_test(test_span_equal_nocase),
        cmocka_unit_test(test_header_find_counts_duplicates),
        cmocka_unit_test(test_list_next_skips_empty_elements_and_trims),
        cmocka_unit_test(test_list_contains_token),
        cmocka_unit_test(test_query_find),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_percent_decode_refuses_bad_escapes_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
