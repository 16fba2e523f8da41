/* Unit tests for core/ws_handshake: the RFC 6455 accept example, real clients accepted, every
 * refusal with its status and a response a client can parse, Origin and subprotocol policy,
 * and the bench client's request and check against our own server side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ws_handshake.h"

enum { HEADERS_MAX = 32, REQUEST_BYTES_MAX = 2048 };

#define RFC_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* A parsed request and the buffer its spans point into. */
struct parsed {
    char text[REQUEST_BYTES_MAX];
    struct http_header headers[HEADERS_MAX];
    struct http_request req;
};

static const struct ws_handshake_policy open_policy = {0};

/* The header lines of a valid request; tests replace or drop one at a time. */
static const char *const base_lines[] = {
    "Host: example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
    ("Sec-WebSocket-Key: " RFC_KEY),
};

struct real_request {
    const char *name;
    const char *text;
};

static const struct real_request real_requests[] = {
    {"chrome 120", "GET /chat HTTP/1.1\r\n"
                   "Host: example.com\r\n"
                   "Connection: Upgrade\r\n"
                   "Pragma: no-cache\r\n"
                   "Cache-Control: no-cache\r\n"
                   "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                   "Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
                   "Upgrade: websocket\r\n"
                   "Origin: https://example.com\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "Accept-Encoding: gzip, deflate, br\r\n"
                   "Accept-Language: en-US,en;q=0.9\r\n"
                   "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
                   "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                   "\r\n"},
    {"firefox 121", "GET /chat HTTP/1.1\r\n"
                    "Host: example.com\r\n"
                    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 "
                    "Firefox/121.0\r\n"
                    "Accept: */*\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "Origin: https://example.com\r\n"
                    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                    "Sec-WebSocket-Key: " RFC_KEY "\r\n"
                    "Connection: keep-alive, Upgrade\r\n"
                    "Sec-Fetch-Mode: websocket\r\n"
                    "Upgrade: websocket\r\n"
                    "\r\n"},
    {"curl 7.88", "GET /chat HTTP/1.1\r\n"
                  "Host: localhost:8080\r\n"
                  "User-Agent: curl/7.88.1\r\n"
                  "Accept: */*\r\n"
                  "Connection: Upgrade\r\n"
                  "Upgrade: websocket\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQAAAA==\r\n"
                  "\r\n"},
    {"python websockets 10", "GET /chat HTTP/1.1\r\n"
                             "Host: localhost:8765\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: 3t6Grl9yN1GrWKP3ThqJUg==\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Extensions: permessage-deflate; "
                             "client_max_window_bits\r\n"
                             "User-Agent: Python/3.11 websockets/10.4\r\n"
                             "\r\n"},
    {"node ws 8", "GET /chat HTTP/1.1\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: pqFt5M6jN8Bx1L2G6PWZnA==\r\n"
                  "Connection: Upgrade\r\n"
                  "Upgrade: websocket\r\n"
                  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                  "Host: localhost:8080\r\n"
                  "\r\n"},
};

static void parse_text(struct parsed *p, const char *text)
{
    size_t len = strlen(text);
    assert_true(len < sizeof p->text);
    memcpy(p->text, text, len + 1);
    enum http_parse_result r = http_request_parse(p->text, len, &p->req, p->headers, HEADERS_MAX);
    if (r != HTTP_PARSE_OK)
        fail_msg("request does not parse (%s): %s", http_parse_result_name(r), text);
}

/* The base request with base_lines[replace] swapped for `line` (NULL drops it; replace
 * out of range keeps them all), then the `extra` lines. */
static void build(struct parsed *p, const char *method, size_t replace, const char *line,
                  const char *const *extra, size_t extra_count)
{
    char text[REQUEST_BYTES_MAX];
    size_t len = (size_t)snprintf(text, sizeof text, "%s /chat HTTP/1.1\r\n", method);
    for (size_t i = 0; i < sizeof base_lines / sizeof base_lines[0]; i++) {
        const char *l = i == replace ? line : base_lines[i];
        if (l != NULL)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s\r\n", l);
    }
    for (size_t i = 0; i < extra_count; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s\r\n", extra[i]);
    len += (size_t)snprintf(text + len, sizeof text - len, "\r\n");
    assert_true(len < sizeof text);
    parse_text(p, text);
}

static enum ws_handshake_error check_with(const char *method, size_t replace, const char *line,
                                          const char *const *extra, size_t extra_count,
                                          const struct ws_handshake_policy *policy,
                                          struct ws_handshake_result *res)
{
    static struct parsed p;
    build(&p, method, replace, line, extra, extra_count);
    return ws_handshake_check(&p.req, policy, res);
}

/* One request that differs from the valid base in one line. */
struct refusal {
    const char *name;
    const char *method;
    size_t replace;
    const char *line;
    enum ws_handshake_error want;
};

enum { NONE = 99, HOST = 0, UPGRADE = 1, CONNECTION = 2, VERSION = 3, KEY = 4 };

static const struct refusal refusals[] = {
    {"POST", "POST", NONE, NULL, WS_HS_METHOD},
    {"lowercase get", "get", NONE, NULL, WS_HS_METHOD},
    {"HEAD", "HEAD", NONE, NULL, WS_HS_METHOD},
    {"no Host", "GET", HOST, NULL, WS_HS_HOST},
    {"empty Host", "GET", HOST, "Host:", WS_HS_HOST},
    {"no Upgrade", "GET", UPGRADE, NULL, WS_HS_UPGRADE},
    {"Upgrade h2c", "GET", UPGRADE, "Upgrade: h2c", WS_HS_UPGRADE},
    {"Upgrade websockets", "GET", UPGRADE, "Upgrade: websockets", WS_HS_UPGRADE},
    {"no Connection", "GET", CONNECTION, NULL, WS_HS_CONNECTION},
    {"Connection keep-alive", "GET", CONNECTION, "Connection: keep-alive", WS_HS_CONNECTION},
    {"Connection upgraded", "GET", CONNECTION, "Connection: upgraded", WS_HS_CONNECTION},
    {"no version", "GET", VERSION, NULL, WS_HS_VERSION},
    {"version 8", "GET", VERSION, "Sec-WebSocket-Version: 8", WS_HS_VERSION},
    {"version list", "GET", VERSION, "Sec-WebSocket-Version: 13, 8", WS_HS_VERSION},
    {"version 013", "GET", VERSION, "Sec-WebSocket-Version: 013", WS_HS_VERSION},
    {"no key", "GET", KEY, NULL, WS_HS_KEY},
    {"empty key", "GET", KEY, "Sec-WebSocket-Key:", WS_HS_KEY},
    {"key of 23", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=", WS_HS_KEY},
    {"key of 25", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===", WS_HS_KEY},
    {"key unpadded", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA", WS_HS_KEY},
    {"key of 17 bytes", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQA=", WS_HS_KEY},
    {"key with space", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j ZQ==", WS_HS_KEY},
    {"key with tab", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\tZQ==", WS_HS_KEY},
    {"key padding inside", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ=A=", WS_HS_KEY},
    {"key non-canonical", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==", WS_HS_KEY},
    {"key url-safe alphabet", "GET", KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25-ZQ==", WS_HS_KEY},
    {"key of 24 random chars", "GET", KEY, "Sec-WebSocket-Key: this-is-not-base64-at-al",
     WS_HS_KEY},
};

static void test_rfc6455_accept_example(void **state)
{
    (void)state;
    char accept[29];
    assert_true(ws_handshake_accept_compute(RFC_KEY, strlen(RFC_KEY), accept));
    assert_string_equal(accept, RFC_ACCEPT);
}

static void test_valid_request_is_accepted_with_its_accept_value(void **state)
{
    (void)state;
    struct ws_handshake_result res;
    assert_int_equal(check_with("GET", NONE, NULL, NULL, 0, &open_policy, &res), WS_HS_OK);
    assert_int_equal(res.error, WS_HS_OK);
    assert_string_equal(res.accept, RFC_ACCEPT);
    assert_null(res.subprotocol);
}

static void test_real_clients_are_accepted(void **state)
{
    (void)state;
    static const char *const origins[] = {"https://example.com"};
    const struct ws_handshake_policy policy = {.allowed_origins = origins,
                                               .allowed_origin_count = 1};
    for (size_t i = 0; i < sizeof real_requests / sizeof real_requests[0]; i++) {
        static struct parsed p;
        struct ws_handshake_result res;
        parse_text(&p, real_requests[i].text);
        enum ws_handshake_error got = ws_handshake_check(&p.req, &policy, &res);
        if (got != WS_HS_OK)
            fail_msg("%s refused: %s", real_requests[i].name, ws_handshake_error_name(got));
        assert_int_equal(strlen(res.accept), 28);
    }
}

static void test_each_fault_gets_its_refusal(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *r = &refusals[i];
        struct ws_handshake_result res;
        enum ws_handshake_error got =
            check_with(r->method, r->replace, r->line, NULL, 0, &open_policy, &res);
        if (got != r->want)
            fail_msg("%s: got %s, want %s", r->name, ws_handshake_error_name(got),
                     ws_handshake_error_name(r->want));
        assert_int_equal(res.error, r->want);
        assert_string_equal(res.accept, "");
        assert_null(res.subprotocol);
    }
}

static void test_repeated_headers_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        enum ws_handshake_error want;
    } cases[] = {
        {"Host: example.com", WS_HS_HOST},
        {"Sec-WebSocket-Version: 13", WS_HS_VERSION},
        {"Sec-WebSocket-Key: " RFC_KEY, WS_HS_KEY},
        {"sec-websocket-key: x3JJHMbDL1EzLkh9GBhXDw==", WS_HS_KEY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ws_handshake_result res;
        assert_int_equal(check_with("GET", NONE, NULL, &cases[i].line, 1, &open_policy, &res),
                         cases[i].want);
    }
}

static void test_lists_and_case_in_upgrade_and_connection_pass(void **state)
{
    (void)state;
    static const struct {
        size_t replace;
        const char *line;
    } cases[] = {
        {CONNECTION, "Connection: keep-alive, Upgrade"},
        {CONNECTION, "Connection: UPGRADE"},
        {CONNECTION, "Connection: ,upgrade ,"},
        {UPGRADE, "Upgrade: WebSocket"},
        {UPGRADE, "Upgrade: h2c, websocket"},
        {VERSION, "Sec-WebSocket-Version:   13  "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ws_handshake_result res;
        enum ws_handshake_error got =
            check_with("GET", cases[i].replace, cases[i].line, NULL, 0, &open_policy, &res);
        if (got != WS_HS_OK)
            fail_msg("%s: %s", cases[i].line, ws_handshake_error_name(got));
    }
    /* Repeated list headers form one list (RFC 9110 section 5.3). */
    static const char *const split[] = {"Connection: Upgrade"};
    struct ws_handshake_result res;
    assert_int_equal(
        check_with("GET", CONNECTION, "Connection: keep-alive", split, 1, &open_policy, &res),
        WS_HS_OK);
}

static void test_checks_run_in_the_documented_order(void **state)
{
    (void)state;
    static const char *const bad_origin[] = {"Origin: https://evil.example"};
    static const char *const origins[] = {"https://example.com"};
    const struct ws_handshake_policy policy = {.allowed_origins = origins,
                                               .allowed_origin_count = 1};
    struct ws_handshake_result res;
    assert_int_equal(check_with("POST", HOST, NULL, bad_origin, 1, &policy, &res), WS_HS_METHOD);
    assert_int_equal(check_with("GET", HOST, NULL, bad_origin, 1, &policy, &res), WS_HS_HOST);
    assert_int_equal(check_with("GET", UPGRADE, NULL, bad_origin, 1, &policy, &res), WS_HS_UPGRADE);
    assert_int_equal(check_with("GET", VERSION, NULL, bad_origin, 1, &policy, &res), WS_HS_VERSION);
    assert_int_equal(check_with("GET", KEY, NULL, bad_origin, 1, &policy, &res), WS_HS_KEY);
    assert_int_equal(check_with("GET", NONE, NULL, bad_origin, 1, &policy, &res), WS_HS_ORIGIN);
}

static void test_origin_policy(void **state)
{
    (void)state;
    static const char *const origins[] = {"https://example.com", "http://localhost:3000"};
    static const char *const star[] = {"*"};
    const struct ws_handshake_policy listed = {.allowed_origins = origins,
                                               .allowed_origin_count = 2};
    const struct ws_handshake_policy any = {.allowed_origins = star, .allowed_origin_count = 1};
    const struct ws_handshake_policy required = {
        .allowed_origins = origins, .allowed_origin_count = 2, .origin_required = true};
    static const char *const good[] = {"Origin: HTTPS://Example.COM"};
    static const char *const other_port[] = {"Origin: http://localhost:3001"};
    static const char *const prefix[] = {"Origin: https://example.com.evil.example"};
    static const char *const twice[] = {"Origin: https://example.com", "Origin: https://a.b"};
    struct ws_handshake_result res;
    assert_int_equal(check_with("GET", NONE, NULL, good, 1, &listed, &res), WS_HS_OK);
    assert_int_equal(check_with("GET", NONE, NULL, other_port, 1, &listed, &res), WS_HS_ORIGIN);
    assert_int_equal(check_with("GET", NONE, NULL, prefix, 1, &listed, &res), WS_HS_ORIGIN);
    assert_int_equal(check_with("GET", NONE, NULL, twice, 2, &listed, &res), WS_HS_ORIGIN);
    assert_int_equal(check_with("GET", NONE, NULL, NULL, 0, &listed, &res), WS_HS_OK);
    assert_int_equal(check_with("GET", NONE, NULL, NULL, 0, &required, &res), WS_HS_ORIGIN);
    assert_int_equal(check_with("GET", NONE, NULL, good, 1, &required, &res), WS_HS_OK);
    assert_int_equal(check_with("GET", NONE, NULL, prefix, 1, &any, &res), WS_HS_OK);
    assert_int_equal(check_with("GET", NONE, NULL, prefix, 1, &open_policy, &res), WS_HS_OK);
}

static void test_subprotocol_is_our_first_preference_the_client_offered(void **state)
{
    (void)state;
    static const char *const ours[] = {"tidegate.v2", "tidegate.v1"};
    const struct ws_handshake_policy policy = {.subprotocols = ours, .subprotocol_count = 2};
    static const char *const both[] = {"Sec-WebSocket-Protocol: tidegate.v1, tidegate.v2"};
    static const char *const split[] = {"Sec-WebSocket-Protocol: chat, tidegate.v1",
                                        "Sec-WebSocket-Protocol: ,tidegate.v2"};
    static const char *const v1[] = {"Sec-WebSocket-Protocol: mqtt,tidegate.v1"};
    struct ws_handshake_result res;
    assert_int_equal(check_with("GET", NONE, NULL, both, 1, &policy, &res), WS_HS_OK);
    assert_string_equal(res.subprotocol, "tidegate.v2");
    assert_int_equal(check_with("GET", NONE, NULL, split, 2, &policy, &res), WS_HS_OK);
    assert_string_equal(res.subprotocol, "tidegate.v2");
    assert_int_equal(check_with("GET", NONE, NULL, v1, 1, &policy, &res), WS_HS_OK);
    assert_string_equal(res.subprotocol, "tidegate.v1");
}

static void test_unmatched_subprotocols(void **state)
{
    (void)state;
    static const char *const ours[] = {"tidegate.v1"};
    const struct ws_handshake_policy optional = {.subprotocols = ours, .subprotocol_count = 1};
    const struct ws_handshake_policy required = {
        .subprotocols = ours, .subprotocol_count = 1, .subprotocol_required = true};
    static const char *const other[] = {"Sec-WebSocket-Protocol: chat, superchat"};
    static const char *const wrong_case[] = {"Sec-WebSocket-Protocol: TideGate.V1"};
    static const char *const prefix[] = {"Sec-WebSocket-Protocol: tidegate.v10"};
    struct ws_handshake_result res;
    assert_int_equal(check_with("GET", NONE, NULL, other, 1, &optional, &res), WS_HS_OK);
    assert_null(res.subprotocol);
    assert_int_equal(check_with("GET", NONE, NULL, other, 1, &required, &res), WS_HS_SUBPROTOCOL);
    assert_int_equal(check_with("GET", NONE, NULL, wrong_case, 1, &required, &res),
                     WS_HS_SUBPROTOCOL);
    assert_int_equal(check_with("GET", NONE, NULL, prefix, 1, &required, &res), WS_HS_SUBPROTOCOL);
    assert_int_equal(check_with("GET", NONE, NULL, NULL, 0, &required, &res), WS_HS_SUBPROTOCOL);
    assert_int_equal(check_with("GET", NONE, NULL, NULL, 0, &optional, &res), WS_HS_OK);
}

static void test_error_statuses_and_names(void **state)
{
    (void)state;
    static const int want[WS_HS_ERROR_COUNT] = {
        [WS_HS_OK] = 101,
        [WS_HS_MALFORMED] = 400,
        [WS_HS_HEAD_TOO_LARGE] = 431,
        [WS_HS_TOO_MANY_HEADERS] = 431,
        [WS_HS_HTTP_VERSION] = 505,
        [WS_HS_METHOD] = 405,
        [WS_HS_HOST] = 400,
        [WS_HS_UPGRADE] = 426,
        [WS_HS_CONNECTION] = 400,
        [WS_HS_KEY] = 400,
        [WS_HS_VERSION] = 426,
        [WS_HS_ORIGIN] = 403,
        [WS_HS_SUBPROTOCOL] = 400,
        [WS_HS_TIMEOUT] = 408,
        [WS_HS_NOT_FOUND] = 404,
        [WS_HS_OVERLOADED] = 503,
    };
    for (int e = 0; e < WS_HS_ERROR_COUNT; e++) {
        assert_int_equal(ws_handshake_error_status((enum ws_handshake_error)e), want[e]);
        for (int f = e + 1; f < WS_HS_ERROR_COUNT; f++)
            assert_string_not_equal(ws_handshake_error_name((enum ws_handshake_error)e),
                                    ws_handshake_error_name((enum ws_handshake_error)f));
    }
    assert_string_equal(ws_handshake_error_name(WS_HS_KEY), "bad_key");
}

static bool has_header(const struct http_response *res, const char *name, const char *value)
{
    for (size_t i = 0; i < res->header_count; i++) {
        if (http_span_equal_nocase(res->headers[i].name, name) &&
            http_span_equal_nocase(res->headers[i].value, value))
            return true;
    }
    return false;
}

/* Every error response parses, has its status, an exact Content-Length, closes, and carries
 * the headers its status requires. */
static void test_error_responses_are_complete(void **state)
{
    (void)state;
    for (int e = WS_HS_OK + 1; e < WS_HS_ERROR_COUNT; e++) {
        char out[1024];
        struct http_header headers[HEADERS_MAX];
        struct http_response res;
        size_t len = ws_handshake_write_error(out, sizeof out, (enum ws_handshake_error)e);
        assert_true(len > 0);
        assert_int_equal(http_response_parse(out, len, &res, headers, HEADERS_MAX), HTTP_PARSE_OK);
        assert_int_equal(res.status, ws_handshake_error_status((enum ws_handshake_error)e));
        struct http_span value;
        assert_int_equal(http_header_find(headers, res.header_count, "Content-Length", &value), 1);
        char want_length[16];
        snprintf(want_length, sizeof want_length, "%zu", len - res.head_bytes);
        assert_true(http_span_equal_nocase(value, want_length));
        assert_true(len - res.head_bytes > 20);
        assert_true(has_header(&res, "Content-Type", "text/plain; charset=utf-8"));
        assert_true(http_header_find(headers, res.header_count, "Connection", &value) == 1 &&
                    http_list_contains_token(value, "close"));
        bool is_426 = res.status == 426;
        assert_int_equal(has_header(&res, "Sec-WebSocket-Version", "13"), is_426);
        assert_int_equal(has_header(&res, "Upgrade", "websocket"), is_426);
        assert_int_equal(has_header(&res, "Allow", "GET"), res.status == 405);
    }
}

static void test_error_response_names_the_fault(void **state)
{
    (void)state;
    char out[1024];
    size_t len = ws_handshake_write_error(out, sizeof out, WS_HS_VERSION);
    assert_true(len > 0 && len < sizeof out);
    out[len] = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 426 Upgrade Required\r\n"));
    assert_non_null(
        strstr(out, "\r\n\r\nSec-WebSocket-Version must be 13; this server speaks RFC 6455 only."));
}

static void test_writers_refuse_small_buffers(void **state)
{
    (void)state;
    char out[1024];
    size_t len = ws_handshake_write_error(out, sizeof out, WS_HS_METHOD);
    assert_int_equal(ws_handshake_write_error(out, len, WS_HS_METHOD), 0);
    assert_int_equal(ws_handshake_write_error(out, len + 1, WS_HS_METHOD), len);
    struct ws_handshake_result res;
    assert_int_equal(check_with("GET", NONE, NULL, NULL, 0, &open_policy, &res), WS_HS_OK);
    len = ws_handshake_write_101(out, sizeof out, &res);
    assert_true(len > 0);
    assert_int_equal(ws_handshake_write_101(out, len, &res), 0);
    assert_int_equal(ws_handshake_write_101(out, len + 1, &res), len);
}

static void test_101_response(void **state)
{
    (void)state;
    static const char *const ours[] = {"chat"};
    const struct ws_handshake_policy policy = {.subprotocols = ours, .subprotocol_count = 1};
    static const char *const offer[] = {"Sec-WebSocket-Protocol: chat, superchat"};
    struct ws_handshake_result res;
    char out[512];
    assert_int_equal(check_with("GET", NONE, NULL, offer, 1, &policy, &res), WS_HS_OK);
    size_t len = ws_handshake_write_101(out, sizeof out, &res);
    assert_true(len > 0 && len < sizeof out);
    out[len] = '\0';
    assert_string_equal(out, "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                             "Sec-WebSocket-Protocol: chat\r\n"
                             "\r\n");
    assert_int_equal(check_with("GET", NONE, NULL, NULL, 0, &policy, &res), WS_HS_OK);
    len = ws_handshake_write_101(out, sizeof out, &res);
    out[len] = '\0';
    assert_null(strstr(out, "Sec-WebSocket-Protocol"));
}

static void test_client_key_is_base64_of_the_random_bytes(void **state)
{
    (void)state;
    static const uint8_t zeros[16] = {0};
    static const uint8_t sample[16] = "the sample nonce";
    char key[25];
    assert_true(ws_handshake_client_key(zeros, key));
    assert_string_equal(key, "AAAAAAAAAAAAAAAAAAAAAA==");
    assert_true(ws_handshake_client_key(sample, key));
    assert_string_equal(key, RFC_KEY);
}

/* The bench client's request passes our server check, and our 101 passes its check. */
static void test_client_and_server_round_trip(void **state)
{
    (void)state;
    static const uint8_t random16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const char *const ours[] = {"tidegate.v1"};
    const struct ws_handshake_policy policy = {
        .subprotocols = ours, .subprotocol_count = 1, .origin_required = true};
    char key[25], request[512], response[512];
    assert_true(ws_handshake_client_key(random16, key));
    size_t len =
        ws_handshake_client_request(request, sizeof request, "example.com:8080", "/ws?token=abc",
                                    key, "x, tidegate.v1", "https://example.com");
    assert_true(len > 0);
    static struct parsed p;
    parse_text(&p, request);
    assert_int_equal(p.req.head_bytes, len);
    struct ws_handshake_result res;
    assert_int_equal(ws_handshake_check(&p.req, &policy, &res), WS_HS_OK);
    assert_string_equal(res.subprotocol, "tidegate.v1");
    len = ws_handshake_write_101(response, sizeof response, &res);
    struct http_header headers[HEADERS_MAX];
    struct http_response parsed;
    assert_int_equal(http_response_parse(response, len, &parsed, headers, HEADERS_MAX),
                     HTTP_PARSE_OK);
    assert_true(ws_handshake_client_check(&parsed, key));
    assert_false(ws_handshake_client_check(&parsed, RFC_KEY));
}

static bool client_accepts(const char *response_text)
{
    struct http_header headers[HEADERS_MAX];
    struct http_response res;
    enum http_parse_result r =
        http_response_parse(response_text, strlen(response_text), &res, headers, HEADERS_MAX);
    assert_int_equal(r, HTTP_PARSE_OK);
    return ws_handshake_client_check(&res, RFC_KEY);
}

static void test_client_check_refuses_bad_responses(void **state)
{
    (void)state;
    assert_true(client_accepts("HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
                               "Connection: upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT
                               "\r\n\r\n"));
    assert_false(client_accepts("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n\r\n"));
    assert_false(client_accepts("HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT
                                "\r\n\r\n"));
    assert_false(client_accepts("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n"));
    assert_false(client_accepts("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                                "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n"));
    assert_false(client_accepts("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\n\r\n"));
    assert_false(client_accepts("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT
                                "\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n"));
    assert_false(client_accepts("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT
                                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"));
}

static void test_client_request_refuses_bad_arguments(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(
        ws_handshake_client_request(out, sizeof out, "a\r\nX: y", "/", RFC_KEY, NULL, NULL), 0);
    assert_int_equal(ws_handshake_client_request(out, sizeof out, "a", "ws", RFC_KEY, NULL, NULL),
                     0);
    assert_int_equal(ws_handshake_client_request(out, sizeof out, "a", "/", RFC_KEY, "x\ny", NULL),
                     0);
    assert_int_equal(
        ws_handshake_client_request(out, sizeof out, "a", "/", RFC_KEY, NULL, "http://a\x7f"), 0);
    size_t len = ws_handshake_client_request(out, sizeof out, "a", "/", RFC_KEY, NULL, NULL);
    assert_true(len > 0);
    assert_int_equal(ws_handshake_client_request(out, len, "a", "/", RFC_KEY, NULL, NULL), 0);
    out[len] = '\0';
    assert_null(strstr(out, "Origin"));
    assert_null(strstr(out, "Sec-WebSocket-Protocol"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6455_accept_example),
        cmocka_unit_test(test_valid_request_is_accepted_with_its_accept_value),
        cmocka_unit_test(test_real_clients_are_accepted),
        cmocka_unit_test(test_each_fault_gets_its_refusal),
        cmocka_unit_test(test_repeated_headers_are_refused),
        cmocka_unit_test(test_lists_and_case_in_upgrade_and_connection_pass),
        cmocka_unit_test(test_checks_run_in_the_documented_order),
        cmocka_unit_test(test_origin_policy),
        cmocka_unit_test(test_subprotocol_is_our_first_preference_the_client_offered),
        cmocka_unit_test(test_unmatched_subprotocols),
        cmocka_unit_test(test_error_statuses_and_names),
        cmocka_unit_test(test_error_responses_are_complete),
        cmocka_unit_test(test_error_response_names_the_fault),
        cmocka_unit_test(test_writers_refuse_small_buffers),
        cmocka_unit_test(test_101_response),
        cmocka_unit_test(test_client_key_is_base64_of_the_random_bytes),
        cmocka_unit_test(test_client_and_server_round_trip),
        cmocka_unit_test(test_client_check_refuses_bad_responses),
        cmocka_unit_test(test_client_request_refuses_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
