/* Unit tests for core/proxy_proto, the text form (v1): TCP4, TCP6 and UNKNOWN lines as
 * HAProxy sends them, split at every byte (every prefix asks for more, the whole is done and
 * leaves the client's bytes alone), the 107-byte bound, and every way a line can be wrong:
 * each error is reported at the first byte that shows it, and every prefix of a bad line
 * answers NEED_MORE or that same error. The binary form is in test_proxy_proto.c. */
#include "proxy_harness.h"

/* ---- v1 ---- */

static void v1_tcp4_as_haproxy_sends_it(void **state)
{
    (void)state;
    static const char line[] = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n";
    struct proxy_header h;
    expect_valid("tcp4", line, sizeof line - 1, PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.version, 1);
    assert_int_equal(h.command, PROXY_COMMAND_PROXY);
    assert_int_equal(h.family, PROXY_FAMILY_INET);
    assert_int_equal(h.transport, PROXY_TRANSPORT_STREAM);
    expect_in4(&h.src, "192.0.2.10", 56324);
    expect_in4(&h.dst, "198.51.100.1", 443);
    assert_null(h.alpn.ptr);
    assert_false(h.crc32c_verified);
    assert_false(h.ssl.present);
}

static void v1_tcp4_edges_of_the_ranges(void **state)
{
    (void)state;
    static const char line[] = "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n";
    struct proxy_header h;
    expect_valid("tcp4 edges", line, sizeof line - 1, PROXY_V2_BYTES_DEFAULT, &h);
    expect_in4(&h.src, "0.0.0.0", 0);
    expect_in4(&h.dst, "255.255.255.255", 65535);
}

static void v1_tcp6_in_every_spelling(void **state)
{
    (void)state;
    static const char full[] = "PROXY TCP6 2001:0db8:0000:0000:0000:0000:0000:0001 "
                               "2001:db8::2 1 2\r\n";
    static const char mapped[] = "PROXY TCP6 ::ffff:192.0.2.7 ::1 40000 8080\r\n";
    static const char longest[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    /* Written with a dotted tail, the longest addresses do not fit in 107 bytes. */
    static const char too_long[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
                                   "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 65535\r\n";
    struct proxy_header h;
    expect_valid("tcp6 full", full, sizeof full - 1, PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.family, PROXY_FAMILY_INET6);
    expect_in6(&h.src, "2001:db8::1", 1);
    expect_in6(&h.dst, "2001:db8::2", 2);
    expect_valid("tcp6 mapped", mapped, sizeof mapped - 1, PROXY_V2_BYTES_DEFAULT, &h);
    expect_in6(&h.src, "::ffff:192.0.2.7", 40000); /* reported as sent */
    expect_in6(&h.dst, "::1", 8080);
    assert_int_equal(sizeof longest - 1, 104); /* the protocol's worst case for TCP6 */
    expect_valid("tcp6 longest", longest, sizeof longest - 1, PROXY_V2_BYTES_DEFAULT, &h);
    expect_in6(&h.dst, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
    expect_error("tcp6 dotted tails", too_long, sizeof too_long - 1, PROXY_V2_BYTES_DEFAULT,
                 PROXY_V1_TOO_LONG, PROXY_V1_BYTES_MAX);
}

static void v1_unknown_tells_no_address(void **state)
{
    (void)state;
    static const char bare[] = "PROXY UNKNOWN\r\n";
    static const char with_rest[] = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    struct proxy_header h;
    expect_valid("unknown", bare, sizeof bare - 1, PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.version, 1);
    assert_int_equal(h.command, PROXY_COMMAND_PROXY);
    assert_int_equal(h.family, PROXY_FAMILY_UNSPEC);
    assert_int_equal(h.src.ss_family, AF_UNSPEC);
    assert_int_equal(h.dst.ss_family, AF_UNSPEC);
    expect_valid("unknown with the rest ignored", with_rest, sizeof with_rest - 1,
                 PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.src.ss_family, AF_UNSPEC);
}

static void v1_a_line_of_exactly_107_bytes_is_accepted(void **state)
{
    (void)state;
    char line[PROXY_V1_BYTES_MAX + 1];
    memset(line, 'x', sizeof line);
    memcpy(line, "PROXY UNKNOWN ", 14);
    memcpy(line + PROXY_V1_BYTES_MAX - 2, "\r\n", 2);
    struct proxy_header h;
    expect_valid("107 bytes", line, PROXY_V1_BYTES_MAX, PROXY_V2_BYTES_DEFAULT, &h);
    /* One byte more and the CR is the 107th byte: the LF can never come in time. */
    char longer[PROXY_V1_BYTES_MAX + 1];
    memset(longer, 'x', sizeof longer);
    memcpy(longer, "PROXY UNKNOWN ", 14);
    memcpy(longer + PROXY_V1_BYTES_MAX - 1, "\r\n", 2);
    expect_error("108 bytes", longer, sizeof longer, PROXY_V2_BYTES_DEFAULT, PROXY_V1_TOO_LONG,
                 PROXY_V1_BYTES_MAX);
}

struct bad_line {
    const char *name;
    const char *bytes;
    enum proxy_result want;
    size_t at; /* bytes after which the error shows */
};

static void v1_bad_lines_are_refused_at_the_first_bad_byte(void **state)
{
    (void)state;
    static const struct bad_line cases[] = {
        {"lowercase", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ABSENT, 1},
        {"no space after PROXY", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ABSENT, 6},
        {"an HTTP method", "POST /api HTTP/1.1\r\n", PROXY_ABSENT, 2},
        {"GET", CLIENT_BYTES, PROXY_ABSENT, 1},
        {"TLS ClientHello", "\x16\x03\x01\x02\x00\x01", PROXY_ABSENT, 1},
        {"protocol TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1_BAD_SYNTAX, 10},
        {"protocol lowercase", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1_BAD_SYNTAX, 7},
        {"protocol too long", "PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1_BAD_SYNTAX, 11},
        {"two spaces", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1_BAD_SYNTAX, 7},
        {"two spaces later", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", PROXY_V1_BAD_SYNTAX, 20},
        {"tab", "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1_BAD_SYNTAX, 11},
        {"TCP4 alone", "PROXY TCP4\r\n", PROXY_V1_BAD_SYNTAX, 11},
        {"bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", PROXY_V1_BAD_SYNTAX, 31},
        {"CR without LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", PROXY_V1_BAD_SYNTAX, 32},
        {"a field missing", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", PROXY_V1_BAD_SYNTAX, 29},
        {"a field too many", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", PROXY_V1_BAD_SYNTAX, 31},
        {"space before CRLF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", PROXY_V1_BAD_SYNTAX, 31},
        {"UNKNOWN then LF", "PROXY UNKNOWN\n", PROXY_V1_BAD_SYNTAX, 14},
        {"UNKNOWN, LF in the rest", "PROXY UNKNOWN a\nb\r\n", PROXY_V1_BAD_SYNTAX, 16},
        {"UNKNOWNX", "PROXY UNKNOWNX\r\n", PROXY_V1_BAD_SYNTAX, 14},
        {"octet 256", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", PROXY_V1_BAD_ADDRESS, 20},
        {"leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1_BAD_ADDRESS, 13},
        {"three octets", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", PROXY_V1_BAD_ADDRESS, 17},
        {"five octets", "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", PROXY_V1_BAD_ADDRESS, 19},
        {"empty octet", "PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n", PROXY_V1_BAD_ADDRESS, 14},
        {"IPv6 in TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n", PROXY_V1_BAD_ADDRESS, 12},
        {"bad destination", "PROXY TCP4 1.2.3.4 5.6.7.x 1 2\r\n", PROXY_V1_BAD_ADDRESS, 26},
        {"IPv4 in TCP6", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", PROXY_V1_BAD_ADDRESS, 19},
        {"IPv6 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", PROXY_V1_BAD_ADDRESS, 19},
        {"IPv6 bad groups", "PROXY TCP6 1::2::3 ::1 1 2\r\n", PROXY_V1_BAD_ADDRESS, 19},
        {"IPv6 too long", "PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0000 ::1 1 2\r\n",
         PROXY_V1_BAD_ADDRESS, 56},
        {"port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", PROXY_V1_BAD_PORT, 32},
        {"port with leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", PROXY_V1_BAD_PORT, 29},
        {"port 00", "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", PROXY_V1_BAD_PORT, 31},
        {"negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", PROXY_V1_BAD_PORT, 28},
        {"six digit port", "PROXY TCP4 1.2.3.4 5.6.7.8 1 000001\r\n", PROXY_V1_BAD_PORT, 31},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].name, cases[i].bytes, strlen(cases[i].bytes), PROXY_V2_BYTES_DEFAULT,
                     cases[i].want, cases[i].at);
}

static void v1_without_crlf_in_107_bytes_is_too_long(void **state)
{
    (void)state;
    char junk[300];
    memset(junk, 'x', sizeof junk);
    memcpy(junk, "PROXY UNKNOWN ", 14);
    expect_error("unknown and no end", junk, sizeof junk, PROXY_V2_BYTES_DEFAULT, PROXY_V1_TOO_LONG,
                 PROXY_V1_BYTES_MAX);
    /* Fields that would run past the window are refused by their own limits first. */
    char digits[200];
    memset(digits, '1', sizeof digits);
    memcpy(digits, "PROXY TCP6 ::1 ::1 1 ", 21);
    expect_error("a port that never ends", digits, sizeof digits, PROXY_V2_BYTES_DEFAULT,
                 PROXY_V1_BAD_PORT, 27);
    char spaces[200];
    memset(spaces, 'a', sizeof spaces);
    memcpy(spaces, "PROXY TCP6 ", 11);
    expect_error("an address that never ends", spaces, sizeof spaces, PROXY_V2_BYTES_DEFAULT,
                 PROXY_V1_BAD_ADDRESS, 11 + 46);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v1_tcp4_as_haproxy_sends_it),
        cmocka_unit_test(v1_tcp4_edges_of_the_ranges),
        cmocka_unit_test(v1_tcp6_in_every_spelling),
        cmocka_unit_test(v1_unknown_tells_no_address),
        cmocka_unit_test(v1_a_line_of_exactly_107_bytes_is_accepted),
        cmocka_unit_test(v1_bad_lines_are_refused_at_the_first_bad_byte),
        cmocka_unit_test(v1_without_crlf_in_107_bytes_is_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
