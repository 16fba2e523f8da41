/* Unit tests for gateway/demo_page: which requests get the page (a plain GET of / or /demo,
 * nothing else, never an upgrade), and the response generated at build time by
 * gateway/demo/embed.cmake: a valid HTTP/1.1 200 whose Content-Length is the page's, with
 * the headers docs/demo.md promises and a Content-Security-Policy whose script and style
 * hashes are those of the page's inline script and style (recomputed here with wolfCrypt,
 * so a mistake in the CMake base64 cannot hide). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "core/http.h"
#include "gateway/demo_page.h"

enum { HEADERS_MAX = 32, REQUEST_BYTES_MAX = 1024, CSP_SOURCE_BYTES = 64 };

/* Parses `text` (a whole request head) and answers demo_page_request for it. */
static bool wants_page(const char *text)
{
    struct http_header headers[HEADERS_MAX];
    struct http_request req;
    enum http_parse_result parsed =
        http_request_parse(text, strlen(text), &req, headers, HEADERS_MAX);
    assert_int_equal(parsed, HTTP_PARSE_OK);
    return demo_page_request(&req);
}

static void test_plain_get_of_slash_or_demo_gets_the_page(void **state)
{
    (void)state;
    assert_true(wants_page("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_true(wants_page("GET /demo HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_true(wants_page("GET /?room=lobby HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_true(wants_page("GET /demo?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n"));
    assert_true(wants_page("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"));
    /* the other headers of a page request change nothing */
    assert_true(wants_page("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"));
}

static void test_other_paths_and_methods_do_not(void **state)
{
    (void)state;
    assert_false(wants_page("GET /favicon.ico HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_false(wants_page("GET /demo/ HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_false(wants_page("GET /Demo HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_false(wants_page("GET /demox HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_false(wants_page("GET // HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_false(wants_page("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_false(wants_page("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"));
    assert_false(wants_page("get / HTTP/1.1\r\nHost: a\r\n\r\n"));
}

static void test_any_upgrade_header_is_not_a_page_request(void **state)
{
    (void)state;
    assert_false(wants_page("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
    assert_false(wants_page("GET /demo HTTP/1.1\r\nHost: a\r\nupgrade: h2c\r\n\r\n"));
    assert_false(wants_page("GET / HTTP/1.1\r\nHost: a\r\nUpgrade:\r\n\r\n"));
}

/* The parsed response and where its body starts. */
struct response {
    struct http_header headers[HEADERS_MAX];
    struct http_response res;
    const char *body;
    size_t body_len;
};

static void parse_response(struct response *r)
{
    enum http_parse_result parsed = http_response_parse(
        demo_page_response, demo_page_response_bytes, &r->res, r->headers, HEADERS_MAX);
    assert_int_equal(parsed, HTTP_PARSE_OK);
    assert_int_equal(r->res.head_bytes, demo_page_head_bytes);
    r->body = demo_page_response + demo_page_head_bytes;
    r->body_len = demo_page_response_bytes - demo_page_head_bytes;
}

static void header_is(const struct response *r, const char *name, const char *want)
{
    struct http_span value;
    assert_int_equal(http_header_find(r->headers, r->res.header_count, name, &value), 1);
    assert_int_equal(value.len, strlen(want));
    assert_memory_equal(value.ptr, want, value.len);
}

static void test_response_is_a_complete_200_with_the_promised_headers(void **state)
{
    (void)state;
    struct response r;
    parse_response(&r);
    assert_int_equal(r.res.status, 200);
    assert_int_equal(strlen(demo_page_response), demo_page_response_bytes); /* no NUL inside */
    char length[32];
    snprintf(length, sizeof length, "%zu", r.body_len);
    header_is(&r, "Content-Length", length);
    header_is(&r, "Content-Type", "text/html; charset=utf-8");
    header_is(&r, "Cache-Control", "no-store");
    header_is(&r, "Connection", "close");
    header_is(&r, "X-Content-Type-Options", "nosniff");
    assert_true(r.body_len > 1000);
    assert_memory_equal(r.body, "<!DOCTYPE html>", 15);
    assert_memory_equal(r.body + r.body_len - 8, "</html>\n", 8);
}

/* The text between the only `open` and `close` in the body. */
static struct http_span element_text(const struct response *r, const char *open, const char *close)
{
    const char *start = strstr(r->body, open);
    assert_non_null(start);
    assert_null(strstr(start + 1, open));
    start += strlen(open);
    const char *end = strstr(start, close);
    assert_non_null(end);
    return (struct http_span){start, (size_t)(end - start)};
}

/* "'sha256-<base64>'" of `text`, as CSP writes a hash source. */
static void csp_hash_source(struct http_span text, char out[CSP_SOURCE_BYTES])
{
    byte digest[WC_SHA256_DIGEST_SIZE];
    wc_Sha256 sha;
    assert_int_equal(wc_InitSha256(&sha), 0);
    assert_int_equal(wc_Sha256Update(&sha, (const byte *)text.ptr, (word32)text.len), 0);
    assert_int_equal(wc_Sha256Final(&sha, digest), 0);
    wc_Sha256Free(&sha);
    byte b64[CSP_SOURCE_BYTES];
    word32 b64_len = sizeof b64;
    assert_int_equal(Base64_Encode_NoNl(digest, sizeof digest, b64, &b64_len), 0);
    snprintf(out, CSP_SOURCE_BYTES, "'sha256-%.*s'", (int)b64_len, (const char *)b64);
}

static bool csp_has(struct http_span csp, const char *directive)
{
    size_t len = strlen(directive);
    for (size_t i = 0; i + len <= csp.len; i++) {
        bool starts = i == 0 || (i >= 2 && memcmp(csp.ptr + i - 2, "; ", 2) == 0);
        bool ends = i + len == csp.len || csp.ptr[i + len] == ';';
        if (starts && ends && memcmp(csp.ptr + i, directive, len) == 0)
            return true;
    }
    return false;
}

static void test_csp_allows_exactly_the_inline_script_and_style(void **state)
{
    (void)state;
    struct response r;
    parse_response(&r);
    struct http_span csp;
    assert_int_equal(
        http_header_find(r.headers, r.res.header_count, "Content-Security-Policy", &csp), 1);
    char source[CSP_SOURCE_BYTES];
    char directive[CSP_SOURCE_BYTES + 16];
    csp_hash_source(element_text(&r, "<script>", "</script>"), source);
    snprintf(directive, sizeof directive, "script-src %s", source);
    assert_true(csp_has(csp, directive));
    csp_hash_source(element_text(&r, "<style>", "</style>"), source);
    snprintf(directive, sizeof directive, "style-src %s", source);
    assert_true(csp_has(csp, directive));
    assert_true(csp_has(csp, "default-src 'none'"));
    assert_true(csp_has(csp, "connect-src 'self'"));
    assert_true(csp_has(csp, "frame-ancestors 'none'"));
    assert_false(csp_has(csp, "script-src 'unsafe-inline'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_get_of_slash_or_demo_gets_the_page),
        cmocka_unit_test(test_other_paths_and_methods_do_not),
        cmocka_unit_test(test_any_upgrade_header_is_not_a_page_request),
        cmocka_unit_test(test_response_is_a_complete_200_with_the_promised_headers),
        cmocka_unit_test(test_csp_allows_exactly_the_inline_script_and_style),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
