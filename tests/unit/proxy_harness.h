/* Test harness shared by test_proxy_v1.c and test_proxy_proto.c (v2, modes, the client's
 * address): checks that run a header through core/proxy_proto at every split point, and
 * address and span comparisons. Included by exactly those two test files; everything here is
 * static. */
#ifndef TIDEGATE_TESTS_PROXY_HARNESS_H
#define TIDEGATE_TESTS_PROXY_HARNESS_H

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/proxy_proto.h"

#define CLIENT_BYTES "GET /chat HTTP/1.1\r\n"

/* ---- checks at every split ---- */

/* Every proper prefix answers NEED_MORE; the whole header, alone or followed by the
 * client's first bytes, is DONE with header_bytes = len. Fills *out from the whole. */
static inline void expect_valid(const char *name, const void *bytes, size_t len, size_t max,
                                struct proxy_header *out)
{
    const uint8_t *buf = bytes;
    struct proxy_header h;
    for (size_t n = 0; n < len; n++) {
        enum proxy_result r = proxy_parse(buf, n, max, &h);
        if (r != PROXY_NEED_MORE)
            fail_msg("%s: prefix of %zu bytes answered %s, want need_more", name, n,
                     proxy_result_name(r));
    }
    uint8_t *more = malloc(len + sizeof CLIENT_BYTES);
    assert_non_null(more);
    memcpy(more, buf, len);
    memcpy(more + len, CLIENT_BYTES, sizeof CLIENT_BYTES);
    enum proxy_result r = proxy_parse(more, len + sizeof CLIENT_BYTES, max, &h);
    free(more);
    if (r != PROXY_DONE || h.header_bytes != len)
        fail_msg("%s with data after it: %s, %zu bytes", name, proxy_result_name(r),
                 h.header_bytes);
    r = proxy_parse(buf, len, max, out);
    if (r != PROXY_DONE || out->header_bytes != len)
        fail_msg("%s: %s, want done", name, proxy_result_name(r));
}

/* Every prefix answers NEED_MORE or `want`; the prefix of `at` bytes is the first to answer
 * `want` (the first byte that shows the fault), and so does the whole input. */
static inline void expect_error(const char *name, const void *bytes, size_t len, size_t max,
                                enum proxy_result want, size_t at)
{
    const uint8_t *buf = bytes;
    struct proxy_header h;
    size_t first = 0;
    for (size_t n = 0; n <= len; n++) {
        enum proxy_result r = proxy_parse(buf, n, max, &h);
        if (r != PROXY_NEED_MORE && r != want)
            fail_msg("%s: prefix of %zu bytes answered %s, want need_more or %s", name, n,
                     proxy_result_name(r), proxy_result_name(want));
        if (r == want && first == 0)
            first = n;
    }
    if (first != at)
        fail_msg("%s: %s first at %zu bytes, want at %zu", name, proxy_result_name(want), first,
                 at);
}

static inline void expect_in4(const struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
    char text[INET_ADDRSTRLEN];
    assert_int_equal(ss->ss_family, AF_INET);
    assert_non_null(inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text));
    assert_string_equal(text, addr);
    assert_int_equal(ntohs(in4->sin_port), port);
}

static inline void expect_in6(const struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    char text[INET6_ADDRSTRLEN];
    assert_int_equal(ss->ss_family, AF_INET6);
    assert_non_null(inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text));
    assert_string_equal(text, addr);
    assert_int_equal(ntohs(in6->sin6_port), port);
}

static inline void expect_span(struct proxy_span span, const char *text)
{
    assert_non_null(span.ptr);
    assert_int_equal(span.len, strlen(text));
    assert_memory_equal(span.ptr, text, span.len);
}

#endif
