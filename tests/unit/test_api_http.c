/* Unit tests for gateway/api_http: the server API's head checks in the order of docs/api.md
 * section 3 (syntax -> key -> path -> method -> length and type), keys in either header and
 * compared against every configured key, what a checked head reports (endpoint, length,
 * framing, Connection: close, Expect), and the error vocabulary of section 4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/api_http.h"

#define KEY_A "alpha-0123456789abcdefghijklmnopqrstuv"
#define KEY_B "bravo-0123456789abcdefghijklmnopqrstuv"

static char *keys_items[] = {KEY_A, KEY_B};
static const struct config_list keys = {keys_items, 2};
static const struct api_head_rules rules = {&keys, 1024};

struct check {
    struct api_head head;
    struct api_error err;
    enum api_head_result res;
};

static enum api_head_result check_len(struct check *c, const char *req, size_t len)
{
    memset(c, 0xA5, sizeof *c);
    c->res = api_head_check(req, len, &rules, &c->head, &c->err);
    assert_true(strnlen(c->err.message, sizeof c->err.message) < sizeof c->err.message);
    if (c->res == API_HEAD_ERROR) {
        assert_int_not_equal(c->err.code, API_OK);
        assert_true(strlen(c->err.message) > 0);
    } else {
        assert_int_equal(c->err.code, API_OK);
    }
    return c->res;
}

static enum api_head_result check(struct check *c, const char *req)
{
    return check_len(c, req, strlen(req));
}

/* Asserts `req` fails with `code`. */
static void refused(const char *req, enum api_code code)
{
    struct check c;
    assert_int_equal(check(&c, req), API_HEAD_ERROR);
    if (c.err.code != code)
        fail_msg("%s\nanswered %s (%s), expected %s", req, api_code_name(c.err.code), c.err.message,
                 api_code_name(code));
}

#define POST_PUBLISH                                                                               \
    "POST /api/publish HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer " KEY_A "\r\n"
#define JSON_TYPE "Content-Type: application/json\r\n"

static void publish_head_is_read_whole(void **state)
{
    (void)state;
    struct check c;
    const char *req = POST_PUBLISH JSON_TYPE "Content-Length: 12\r\n\r\n{\"a\":\"bcde\"}";
    assert_int_equal(check(&c, req), API_HEAD_OK);
    assert_int_equal(c.head.endpoint, API_EP_PUBLISH);
    assert_int_equal(c.head.content_length, 12);
    assert_int_equal(c.head.head_bytes, strlen(req) - 12);
    assert_true(c.head.body_framed);
    assert_false(c.head.close);
    assert_false(c.head.expect_continue);
    assert_int_equal(c.head.query.len, 0);
}

static void every_endpoint_with_its_method(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path;
        enum api_endpoint endpoint;
    } cases[] = {
        {"POST", "/api/publish", API_EP_PUBLISH},
        {"POST", "/api/broadcast", API_EP_BROADCAST},
        {"POST", "/api/disconnect", API_EP_DISCONNECT},
        {"GET", "/api/presence", API_EP_PRESENCE},
        {"GET", "/api/history", API_EP_HISTORY},
        {"GET", "/api/channels", API_EP_CHANNELS},
        {"GET", "/api/info", API_EP_INFO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[512];
        bool post = strcmp(cases[i].method, "POST") == 0;
        snprintf(req, sizeof req, "%s %s?x=1 HTTP/1.1\r\nHost: h\r\nX-Api-Key: %s\r\n%s\r\n",
                 cases[i].method, cases[i].path, KEY_B,
                 post ? JSON_TYPE "Content-Length: 2\r\n" : "");
        struct check c;
        assert_int_equal(check(&c, req), API_HEAD_OK);
        assert_int_equal(c.head.endpoint, cases[i].endpoint);
        assert_int_equal(api_endpoint_is_post(cases[i].endpoint), post);
        assert_int_equal(c.head.query.len, 3);
        assert_memory_equal(c.head.query.ptr, "x=1", 3);
        assert_string_equal(api_endpoint_name(cases[i].endpoint), cases[i].path + 5);
    }
}

static void user_status_path_holds_the_user_id(void **state)
{
    (void)state;
    struct check c;
    assert_int_equal(check(&c,
                           "GET /api/users/al%20ice/status HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A
                           "\r\n\r\n"),
                     API_HEAD_OK);
    assert_int_equal(c.head.endpoint, API_EP_USER_STATUS);
    assert_int_equal(c.head.user.len, 8);
    assert_memory_equal(c.head.user.ptr, "al%20ice", 8);
    assert_string_equal(api_endpoint_name(API_EP_USER_STATUS), "user_status");
    assert_false(api_endpoint_is_post(API_EP_USER_STATUS));
    /* no id, an id with a slash, another suffix: no endpoint */
    static const char *const not_found[] = {"/api/users//status", "/api/users/a/b/status",
                                            "/api/users/a/statu", "/api/users/status",
                                            "/api/users/a"};
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: h\r\nX-Api-Key: %s\r\n\r\n",
                 not_found[i], KEY_A);
        assert_int_equal(check(&c, req), API_HEAD_ERROR);
        assert_int_equal(c.err.code, API_NOT_FOUND);
    }
    assert_int_equal(check(&c, "POST /api/users/a/status HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A
                               "\r\nContent-Length: 0\r\n\r\n"),
                     API_HEAD_ERROR);
    assert_int_equal(c.err.code, API_METHOD_NOT_ALLOWED);
    assert_int_equal(api_code_status(API_USER_STATUS_DISABLED), 409);
}

static void a_prefix_of_a_head_is_incomplete(void **state)
{
    (void)state;
    const char *req = POST_PUBLISH JSON_TYPE "Content-Length: 2\r\n\r\n";
    for (size_t len = 0; len < strlen(req); len++) {
        struct check c;
        assert_int_equal(check_len(&c, req, len), API_HEAD_INCOMPLETE);
    }
}

static void keys_in_either_header_and_any_configured_one(void **state)
{
    (void)state;
    struct check c;
    assert_int_equal(check(&c, "GET /api/info HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A "\r\n\r\n"),
                     API_HEAD_OK);
    assert_int_equal(
        check(&c, "GET /api/info HTTP/1.1\r\nHost: h\r\nAuthorization: bEaReR  " KEY_B "\r\n\r\n"),
        API_HEAD_OK);
    /* Authorization wins when both are present, even when X-Api-Key would be good. */
    refused("GET /api/info HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer nope\r\nX-Api-Key: " KEY_A
            "\r\n\r\n",
            API_UNAUTHORIZED);
    refused("GET /api/info HTTP/1.1\r\nHost: h\r\nAuthorization: Basic " KEY_A "\r\n\r\n",
            API_UNAUTHORIZED);
    refused("GET /api/info HTTP/1.1\r\nHost: h\r\nAuthorization: " KEY_A "\r\n\r\n",
            API_UNAUTHORIZED);
    refused("GET /api/info HTTP/1.1\r\nHost: h\r\n\r\n", API_UNAUTHORIZED);
    refused("GET /api/info HTTP/1.1\r\nHost: h\r\nX-Api-Key:\r\n\r\n", API_UNAUTHORIZED);
}

static void keys_match_exactly(void **state)
{
    (void)state;
    assert_true(api_key_matches(&keys, KEY_A, strlen(KEY_A)));
    assert_true(api_key_matches(&keys, KEY_B, strlen(KEY_B)));
    assert_false(api_key_matches(&keys, KEY_A, strlen(KEY_A) - 1)); /* a prefix */
    assert_false(api_key_matches(&keys, KEY_A "x", strlen(KEY_A) + 1));
    char upper[] = KEY_A;
    upper[0] = 'A';
    assert_false(api_key_matches(&keys, upper, strlen(upper)));
    assert_false(api_key_matches(&keys, "", 0));
    char long_key[API_KEY_BYTES_MAX + 2];
    memset(long_key, 'k', sizeof long_key);
    assert_false(api_key_matches(&keys, long_key, sizeof long_key));
    /* a key with a NUL where the configured one ends is not that key */
    char with_nul[sizeof KEY_A + 1];
    memcpy(with_nul, KEY_A, sizeof KEY_A);
    assert_false(api_key_matches(&keys, with_nul, sizeof KEY_A));
}

static void checks_run_in_the_spec_order(void **state)
{
    (void)state;
    /* syntax before key: a version error needs no key */
    refused("GET /api/info HTTP/1.0\r\nHost: h\r\n\r\n", API_HTTP_VERSION_NOT_SUPPORTED);
    refused("GET /api/info HTTP/2.0\r\nHost: h\r\n\r\n", API_HTTP_VERSION_NOT_SUPPORTED);
    refused("GET /api/info\r\n\r\n", API_BAD_REQUEST);
    refused("GET /api/info HTTP/1.1\r\nHost : h\r\n\r\n", API_BAD_REQUEST);
    refused("GET /api/info HTTP/1.1\nHost: h\n\n", API_BAD_REQUEST);
    /* key before path: an unauthenticated caller learns nothing about the endpoints */
    refused("GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n", API_UNAUTHORIZED);
    refused("DELETE /api/publish HTTP/1.1\r\nHost: h\r\n\r\n", API_UNAUTHORIZED);
    /* path before method, method before length and type */
    refused("DELETE /nowhere HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A "\r\n\r\n", API_NOT_FOUND);
    refused("GET /api/publish HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A "\r\n\r\n",
            API_METHOD_NOT_ALLOWED);
    refused("POST /api/info HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A "\r\n\r\n",
            API_METHOD_NOT_ALLOWED);
    refused("post /api/publish HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A "\r\n\r\n",
            API_METHOD_NOT_ALLOWED);
    refused("GET /API/INFO HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A "\r\n\r\n", API_NOT_FOUND);
    refused("GET /api/info/ HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A "\r\n\r\n", API_NOT_FOUND);
    /* 411 before 413 before 415 */
    refused(POST_PUBLISH "Transfer-Encoding: chunked\r\nContent-Length: 99999\r\n\r\n",
            API_LENGTH_REQUIRED);
    refused(POST_PUBLISH "\r\n", API_LENGTH_REQUIRED);
    refused(POST_PUBLISH "Content-Type: text/plain\r\nContent-Length: 1025\r\n\r\n",
            API_BODY_TOO_LARGE);
    refused(POST_PUBLISH "Content-Type: text/plain\r\nContent-Length: 1024\r\n\r\n",
            API_UNSUPPORTED_MEDIA_TYPE);
}

static void the_head_must_be_well_formed(void **state)
{
    (void)state;
    refused("GET /api/info HTTP/1.1\r\nX-Api-Key: " KEY_A "\r\n\r\n", API_BAD_REQUEST);
    refused("GET /api/info HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Api-Key: " KEY_A "\r\n\r\n",
            API_BAD_REQUEST);
    refused(POST_PUBLISH JSON_TYPE "Content-Length: 2\r\nContent-Length: 2\r\n\r\n",
            API_BAD_REQUEST);
    refused(POST_PUBLISH JSON_TYPE "Content-Length: +2\r\n\r\n", API_BAD_REQUEST);
    refused(POST_PUBLISH JSON_TYPE "Content-Length: 99999999999999999999\r\n\r\n", API_BAD_REQUEST);
    refused(POST_PUBLISH JSON_TYPE JSON_TYPE "Content-Length: 2\r\n\r\n", API_BAD_REQUEST);
    refused(POST_PUBLISH "X-Api-Key: a\r\nX-Api-Key: b\r\n" JSON_TYPE "Content-Length: 2\r\n\r\n",
            API_BAD_REQUEST);
}

static void heads_over_the_limits_are_431(void **state)
{
    (void)state;
    char req[API_HEAD_BYTES_MAX + 64];
    int n = snprintf(req, sizeof req, "GET /api/info HTTP/1.1\r\nHost: h\r\nX-Pad: ");
    memset(req + n, 'p', sizeof req - (size_t)n);
    struct check c;
    assert_int_equal(check_len(&c, req, API_HEAD_BYTES_MAX - 1), API_HEAD_INCOMPLETE);
    assert_int_equal(check_len(&c, req, API_HEAD_BYTES_MAX), API_HEAD_ERROR);
    assert_int_equal(c.err.code, API_HEAD_TOO_LARGE);
    assert_int_equal(check_len(&c, req, sizeof req), API_HEAD_ERROR);
    assert_int_equal(c.err.code, API_HEAD_TOO_LARGE);

    char many[4096];
    size_t used = (size_t)snprintf(many, sizeof many, "GET /api/info HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < API_HEADERS_MAX; i++)
        used += (size_t)snprintf(many + used, sizeof many - used, "X-%d: v\r\n", i);
    snprintf(many + used, sizeof many - used, "\r\n");
    refused(many, API_HEAD_TOO_LARGE); /* 33 lines */
}

static void a_head_of_exactly_8k_is_accepted(void **state)
{
    (void)state;
    char req[API_HEAD_BYTES_MAX + 1];
    int n = snprintf(req, sizeof req,
                     "GET /api/info HTTP/1.1\r\nHost: h\r\nX-Api-Key: %s\r\nX-P: ", KEY_A);
    size_t pad = API_HEAD_BYTES_MAX - (size_t)n - 4;
    memset(req + n, 'p', pad);
    memcpy(req + n + pad, "\r\n\r\n", 5);
    struct check c;
    assert_int_equal(check(&c, req), API_HEAD_OK);
    assert_int_equal(c.head.head_bytes, API_HEAD_BYTES_MAX);
}

static void content_type_is_json_with_at_most_a_utf8_charset(void **state)
{
    (void)state;
    static const char *const good[] = {
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/json ;  charset=\"utf-8\"",
    };
    static const char *const bad[] = {
        "text/plain",
        "application/jsonx",
        "application/json; charset=latin1",
        "application/json; version=2",
        "application/json; charset=utf-8; x=y",
        "application/*",
        "",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, POST_PUBLISH "Content-Type: %s\r\nContent-Length: 2\r\n\r\n",
                 good[i]);
        struct check c;
        if (check(&c, req) != API_HEAD_OK)
            fail_msg("%s refused: %s", good[i], c.err.message);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, POST_PUBLISH "Content-Type: %s\r\nContent-Length: 2\r\n\r\n",
                 bad[i]);
        refused(req, API_UNSUPPORTED_MEDIA_TYPE);
    }
    refused(POST_PUBLISH "Content-Length: 2\r\n\r\n", API_UNSUPPORTED_MEDIA_TYPE);
}

static void get_takes_no_body(void **state)
{
    (void)state;
    struct check c;
    assert_int_equal(check(&c, "GET /api/info HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A
                               "\r\nContent-Length: 0\r\n\r\n"),
                     API_HEAD_OK);
    assert_int_equal(check(&c, "GET /api/info HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A
                               "\r\nContent-Length: 5\r\n\r\nhello"),
                     API_HEAD_ERROR);
    assert_int_equal(c.err.code, API_BAD_REQUEST);
    assert_true(c.head.body_framed); /* the connection can skip those 5 bytes */
    assert_int_equal(check(&c, "GET /api/info HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A
                               "\r\nTransfer-Encoding: chunked\r\n\r\n"),
                     API_HEAD_ERROR);
    assert_int_equal(c.err.code, API_BAD_REQUEST);
    assert_false(c.head.body_framed); /* it cannot */
}

static void framing_connection_and_expect_are_reported(void **state)
{
    (void)state;
    struct check c;
    assert_int_equal(check(&c, POST_PUBLISH JSON_TYPE
                           "Content-Length: 1024\r\nConnection: keep-alive, Close\r\n"
                           "Expect: 100-continue\r\n\r\n"),
                     API_HEAD_OK);
    assert_true(c.head.close);
    assert_true(c.head.expect_continue);
    assert_true(c.head.body_framed);
    assert_int_equal(c.head.content_length, 1024);
    /* over the limit: refused without reading, and the body cannot be skipped */
    assert_int_equal(check(&c, POST_PUBLISH JSON_TYPE "Content-Length: 1025\r\n\r\n"),
                     API_HEAD_ERROR);
    assert_int_equal(c.err.code, API_BODY_TOO_LARGE);
    assert_false(c.head.body_framed);
    /* a 404 after the head parsed still knows the framing */
    assert_int_equal(check(&c, "POST /api/nope HTTP/1.1\r\nHost: h\r\nX-Api-Key: " KEY_A
                               "\r\nContent-Length: 3\r\n\r\n"),
                     API_HEAD_ERROR);
    assert_int_equal(c.err.code, API_NOT_FOUND);
    assert_true(c.head.body_framed);
    assert_int_equal(c.head.content_length, 3);
    assert_int_equal(c.head.endpoint, API_EP_NONE);
}

static void every_code_has_a_name_and_a_counted_status(void **state)
{
    (void)state;
    for (int code = 0; code < API_CODE_COUNT; code++) {
        unsigned status = api_code_status((enum api_code)code);
        assert_true(api_status_index(status) >= 0);
        assert_string_not_equal(api_status_reason(status), "Unknown");
        const char *name = api_code_name((enum api_code)code);
        for (const char *p = name; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
    }
    for (int i = 1; i < API_STATUS_COUNT; i++)
        assert_true(api_statuses[i - 1] < api_statuses[i]);
    assert_int_equal(api_status_index(418), -1);
    assert_string_equal(api_code_name(API_BODY_TOO_LARGE), "body_too_large");
    assert_int_equal(api_code_status(API_PRESENCE_DISABLED), 409);
    assert_int_equal(api_code_status(API_HTTP_VERSION_NOT_SUPPORTED), 505);
    assert_string_equal(api_code_name(API_CODE_COUNT), "internal_error");
}

static void error_sentences_are_cut_to_fit(void **state)
{
    (void)state;
    struct api_error err;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(api_error_set(&err, API_BAD_REQUEST, "long: %s", big), API_BAD_REQUEST);
    assert_int_equal(strlen(err.message), API_MESSAGE_BYTES - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_head_is_read_whole),
        cmocka_unit_test(every_endpoint_with_its_method),
        cmocka_unit_test(a_prefix_of_a_head_is_incomplete),
        cmocka_unit_test(keys_in_either_header_and_any_configured_one),
        cmocka_unit_test(keys_match_exactly),
        cmocka_unit_test(checks_run_in_the_spec_order),
        cmocka_unit_test(the_head_must_be_well_formed),
        cmocka_unit_test(heads_over_the_limits_are_431),
        cmocka_unit_test(a_head_of_exactly_8k_is_accepted),
        cmocka_unit_test(content_type_is_json_with_at_most_a_utf8_charset),
        cmocka_unit_test(get_takes_no_body),
        cmocka_unit_test(framing_connection_and_expect_are_reported),
        cmocka_unit_test(every_code_has_a_name_and_a_counted_status),
        cmocka_unit_test(user_status_path_holds_the_user_id),
        cmocka_unit_test(error_sentences_are_cut_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
