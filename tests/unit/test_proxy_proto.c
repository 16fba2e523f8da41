/* Unit tests for core/proxy_proto, the binary form (v2) and what the gateway asks of it:
 * headers of every family as HAProxy and AWS NLB send them, split at every byte, LOCAL and
 * UNSPEC, every TLV, the length limit at its edges, and every way a header can be wrong, each
 * refused at the first byte that shows it (or once the whole header is there, for TLVs and
 * the CRC32C); then the modes, the result names and the client's address. The text form is
 * in test_proxy_v1.c; the checks at every split in proxy_harness.h. */
#include "proxy_harness.h"

#include "core/crc32c.h"

/* ---- a v2 header builder ---- */

struct v2 {
    uint8_t b[PROXY_V2_BYTES_MAX + 64];
    size_t len;
};

static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static struct v2 *v2_new(uint8_t version_command, uint8_t family)
{
    struct v2 *v = calloc(1, sizeof *v);
    assert_non_null(v);
    memcpy(v->b, v2_sig, 12);
    v->b[12] = version_command;
    v->b[13] = family;
    v->len = 16;
    return v;
}

static void v2_put(struct v2 *v, const void *bytes, size_t len)
{
    assert_true(v->len + len <= sizeof v->b);
    memcpy(v->b + v->len, bytes, len);
    v->len += len;
}

static void v2_put16(struct v2 *v, uint16_t value)
{
    uint8_t be[2] = {(uint8_t)(value >> 8), (uint8_t)value};
    v2_put(v, be, 2);
}

static void v2_inet(struct v2 *v, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
    uint8_t a[4];
    assert_int_equal(inet_pton(AF_INET, src, a), 1);
    v2_put(v, a, 4);
    assert_int_equal(inet_pton(AF_INET, dst, a), 1);
    v2_put(v, a, 4);
    v2_put16(v, sport);
    v2_put16(v, dport);
}

static void v2_inet6(struct v2 *v, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
    uint8_t a[16];
    assert_int_equal(inet_pton(AF_INET6, src, a), 1);
    v2_put(v, a, 16);
    assert_int_equal(inet_pton(AF_INET6, dst, a), 1);
    v2_put(v, a, 16);
    v2_put16(v, sport);
    v2_put16(v, dport);
}

static void v2_tlv(struct v2 *v, uint8_t type, const void *value, size_t len)
{
    v2_put(v, &type, 1);
    v2_put16(v, (uint16_t)len);
    v2_put(v, value, len);
}

static void v2_tlv_text(struct v2 *v, uint8_t type, const char *text)
{
    v2_tlv(v, type, text, strlen(text));
}

/* Sets the length field from what was put. */
static size_t v2_end(struct v2 *v)
{
    assert_true(v->len >= 16 && v->len - 16 <= 65535);
    v->b[14] = (uint8_t)((v->len - 16) >> 8);
    v->b[15] = (uint8_t)(v->len - 16);
    return v->len;
}

/* Appends a CRC32C TLV, ends the header and fills the CRC in. Returns the value's offset. */
static size_t v2_end_with_crc(struct v2 *v)
{
    static const uint8_t zero[4] = {0};
    v2_tlv(v, 0x03, zero, 4);
    size_t at = v->len - 4;
    v2_end(v);
    uint32_t crc = crc32c_extend(0, v->b, v->len);
    v->b[at] = (uint8_t)(crc >> 24);
    v->b[at + 1] = (uint8_t)(crc >> 16);
    v->b[at + 2] = (uint8_t)(crc >> 8);
    v->b[at + 3] = (uint8_t)crc;
    return at;
}

/* ---- v2 ---- */

static void v2_inet_stream_as_haproxy_sends_it(void **state)
{
    (void)state;
    struct v2 *v = v2_new(0x21, 0x11);
    v2_inet(v, "203.0.113.9", 51000, "10.0.0.5", 8443);
    size_t len = v2_end(v);
    assert_int_equal(len, 28);
    struct proxy_header h;
    expect_valid("inet", v->b, len, PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.version, 2);
    assert_int_equal(h.command, PROXY_COMMAND_PROXY);
    assert_int_equal(h.family, PROXY_FAMILY_INET);
    assert_int_equal(h.transport, PROXY_TRANSPORT_STREAM);
    expect_in4(&h.src, "203.0.113.9", 51000);
    expect_in4(&h.dst, "10.0.0.5", 8443);
    assert_int_equal(h.tlv_unknown_count, 0);
    free(v);
}

static void v2_inet6_and_datagram_families(void **state)
{
    (void)state;
    struct v2 *v = v2_new(0x21, 0x21);
    v2_inet6(v, "2001:db8:1::77", 61000, "2001:db8:2::1", 443);
    struct proxy_header h;
    expect_valid("inet6", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.family, PROXY_FAMILY_INET6);
    expect_in6(&h.src, "2001:db8:1::77", 61000);
    expect_in6(&h.dst, "2001:db8:2::1", 443);
    free(v);

    v = v2_new(0x21, 0x12);
    v2_inet(v, "192.0.2.1", 53, "192.0.2.2", 5353);
    expect_valid("inet dgram", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.transport, PROXY_TRANSPORT_DGRAM);
    expect_in4(&h.src, "192.0.2.1", 53);
    free(v);

    v = v2_new(0x21, 0x22);
    v2_inet6(v, "::ffff:192.0.2.1", 1, "::1", 2);
    expect_valid("inet6 dgram, mapped", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    expect_in6(&h.src, "::ffff:192.0.2.1", 1);
    free(v);
}

static void v2_unix_tells_no_ip_but_its_tlvs_count(void **state)
{
    (void)state;
    for (uint8_t family = 0x31; family <= 0x32; family++) {
        struct v2 *v = v2_new(0x21, family);
        uint8_t paths[216] = {0};
        memcpy(paths, "/run/haproxy.sock", 17);
        v2_put(v, paths, sizeof paths);
        v2_tlv_text(v, 0x01, "http/1.1");
        struct proxy_header h;
        expect_valid("unix", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
        assert_int_equal(h.family, PROXY_FAMILY_UNIX);
        assert_int_equal(h.transport, family & 0x0f);
        assert_int_equal(h.src.ss_family, AF_UNSPEC);
        expect_span(h.alpn, "http/1.1");
        free(v);
    }
}

static void v2_local_is_a_health_check_whatever_its_family(void **state)
{
    (void)state;
    struct v2 *v = v2_new(0x20, 0x00); /* what HAProxy's check-send-proxy sends */
    struct proxy_header h;
    expect_valid("local", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.command, PROXY_COMMAND_LOCAL);
    assert_int_equal(h.family, PROXY_FAMILY_UNSPEC);
    assert_int_equal(h.src.ss_family, AF_UNSPEC);
    free(v);

    /* The protocol says LOCAL ignores the family and the body: even unassigned bytes, even a
     * body too short for the family, even TLV-looking garbage. */
    v = v2_new(0x20, 0xff);
    v2_put(v, "\x01\xff\xff", 3);
    expect_valid("local, odd family", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.header_bytes, 19);
    assert_int_equal(h.src.ss_family, AF_UNSPEC);
    free(v);

    v = v2_new(0x20, 0x11);
    v2_inet(v, "192.0.2.1", 1, "192.0.2.2", 2);
    expect_valid("local, inet", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.src.ss_family, AF_UNSPEC); /* not the addresses: the socket's own */
    free(v);
}

static void v2_proxy_over_unspec_ignores_the_body(void **state)
{
    (void)state;
    struct v2 *v = v2_new(0x21, 0x00);
    v2_put(v, "\x01\x00\x09", 3); /* would overrun if read as a TLV */
    struct proxy_header h;
    expect_valid("unspec", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.command, PROXY_COMMAND_PROXY);
    assert_int_equal(h.family, PROXY_FAMILY_UNSPEC);
    assert_int_equal(h.src.ss_family, AF_UNSPEC);
    free(v);
}

static void v2_every_known_tlv_is_reported(void **state)
{
    (void)state;
    struct v2 *v = v2_new(0x21, 0x11);
    v2_inet(v, "198.51.100.20", 40001, "10.1.2.3", 443);
    v2_tlv(v, 0x04, "", 0); /* NOOP, twice, one with padding */
    v2_tlv_text(v, 0x01, "http/1.1");
    v2_tlv_text(v, 0x02, "chat.example.com");
    v2_tlv_text(v, 0x05, "0123456789abcdef");
    v2_tlv(v, 0x04, "\0\0\0\0\0\0\0", 7);
    struct v2 *ssl = v2_new(0, 0); /* builds the SSL value in its body */
    ssl->len = 0;
    v2_put(ssl, "\x07\x00\x00\x00\x00", 5); /* SSL, cert on conn and sess; verified */
    v2_tlv_text(ssl, 0x21, "TLSv1.3");
    v2_tlv_text(ssl, 0x22, "client-7");
    v2_tlv_text(ssl, 0x23, "TLS_AES_128_GCM_SHA256");
    v2_tlv_text(ssl, 0x24, "SHA256");
    v2_tlv_text(ssl, 0x25, "EC256");
    v2_tlv(ssl, 0x28, "\x30\x03\x01\x01\xff", 5); /* client certificate: skipped */
    v2_tlv(v, 0x20, ssl->b, ssl->len);
    free(ssl);
    v2_tlv_text(v, 0x30, "blue");
    v2_tlv(v, 0xea, "\x01vpce-0123456789abcdef", 22); /* AWS VPC endpoint: unknown */
    v2_tlv(v, 0xe0, "", 0);                           /* custom range: unknown */
    size_t len = v->len + 7;
    v2_end_with_crc(v);
    assert_int_equal(v->len, len);
    struct proxy_header h;
    expect_valid("every tlv", v->b, v->len, PROXY_V2_BYTES_DEFAULT, &h);
    expect_in4(&h.src, "198.51.100.20", 40001);
    expect_span(h.alpn, "http/1.1");
    expect_span(h.authority, "chat.example.com");
    expect_span(h.unique_id, "0123456789abcdef");
    expect_span(h.netns, "blue");
    assert_true(h.crc32c_verified);
    assert_true(h.ssl.present);
    assert_int_equal(h.ssl.client, PROXY_SSL_CLIENT_SSL | PROXY_SSL_CLIENT_CERT_CONN |
                                       PROXY_SSL_CLIENT_CERT_SESS);
    assert_int_equal(h.ssl.verify, 0);
    expect_span(h.ssl.version, "TLSv1.3");
    expect_span(h.ssl.cn, "client-7");
    expect_span(h.ssl.cipher, "TLS_AES_128_GCM_SHA256");
    expect_span(h.ssl.sig_alg, "SHA256");
    expect_span(h.ssl.key_alg, "EC256");
    assert_int_equal(h.tlv_unknown_count, 2);
    free(v);
}

static void v2_tlv_bounds_are_inclusive(void **state)
{
    (void)state;
    char name[256];
    memset(name, 'a', sizeof name);
    uint8_t id[128];
    memset(id, 0xa5, sizeof id);
    struct v2 *v = v2_new(0x21, 0x11);
    v2_inet(v, "192.0.2.1", 1, "192.0.2.2", 2);
    v2_tlv(v, 0x01, name, 255);
    v2_tlv(v, 0x02, name, 255);
    v2_tlv(v, 0x05, id, 128);
    v2_tlv(v, 0x30, name, 255);
    v2_tlv(v, 0x20, "\x01\0\0\0\x02", 5); /* SSL with no sub-TLV; verify result 2 */
    struct proxy_header h;
    expect_valid("longest values", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_int_equal(h.alpn.len, 255);
    assert_int_equal(h.unique_id.len, 128);
    assert_int_equal(h.ssl.verify, 2);
    assert_null(h.ssl.version.ptr);
    free(v);

    v = v2_new(0x21, 0x11);
    v2_inet(v, "192.0.2.1", 1, "192.0.2.2", 2);
    v2_tlv(v, 0x05, "", 0); /* an empty unique id is still one */
    v2_tlv_text(v, 0x02,
                "b\xc3\xbc"
                "cher.example"); /* UTF-8 authority */
    expect_valid("empty unique id", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_non_null(h.unique_id.ptr);
    assert_int_equal(h.unique_id.len, 0);
    free(v);
}

static void v2_length_limit_is_inclusive_and_checked_from_the_fixed_part(void **state)
{
    (void)state;
    static const uint8_t pad[1024] = {0};
    struct v2 *v = v2_new(0x21, 0x11);
    v2_inet(v, "192.0.2.1", 1, "192.0.2.2", 2);
    v2_tlv(v, 0x04, pad, 1024 - 28 - 3); /* NOOP up to exactly 1024 bytes */
    struct proxy_header h;
    expect_valid("1024 bytes", v->b, v2_end(v), 1024, &h);
    v->b[15]++; /* one byte longer: refused as soon as the length is known */
    v->len++;
    expect_error("1025 bytes", v->b, v->len, 1024, PROXY_V2_TOO_LONG, 16);
    expect_error("limit 256", v->b, v->len, PROXY_V2_BYTES_MIN, PROXY_V2_TOO_LONG, 16);
    free(v);

    /* The largest header the format allows, under the largest limit. */
    v = v2_new(0x21, 0x11);
    v2_inet(v, "192.0.2.1", 1, "192.0.2.2", 2);
    uint8_t *big = calloc(1, 65535);
    assert_non_null(big);
    v2_tlv(v, 0x04, big, 65535 - 12 - 3);
    assert_int_equal(v2_end(v), PROXY_V2_BYTES_MAX);
    assert_int_equal(proxy_parse(v->b, v->len, PROXY_V2_BYTES_MAX, &h), PROXY_DONE);
    assert_int_equal(h.header_bytes, PROXY_V2_BYTES_MAX);
    assert_int_equal(proxy_parse(v->b, v->len - 1, PROXY_V2_BYTES_MAX, &h), PROXY_NEED_MORE);
    assert_int_equal(proxy_parse(v->b, v->len, PROXY_V2_BYTES_DEFAULT, &h), PROXY_V2_TOO_LONG);
    free(big);
    free(v);
}

static void the_v1_limit_does_not_bound_v2(void **state)
{
    (void)state;
    struct v2 *v = v2_new(0x21, 0x21);
    v2_inet6(v, "2001:db8::1", 1, "2001:db8::2", 2);
    char authority[200];
    memset(authority, 'h', sizeof authority);
    v2_tlv(v, 0x02, authority, sizeof authority);
    struct proxy_header h;
    expect_valid("v2 past 107 bytes", v->b, v2_end(v), PROXY_V2_BYTES_DEFAULT, &h);
    assert_true(h.header_bytes > PROXY_V1_BYTES_MAX);
    free(v);
}

static void v2_bad_signature_is_absent_at_the_differing_byte(void **state)
{
    (void)state;
    for (size_t i = 0; i < 12; i++) {
        struct v2 *v = v2_new(0x21, 0x11);
        v2_inet(v, "192.0.2.1", 1, "192.0.2.2", 2);
        v2_end(v);
        v->b[i] ^= 0x20;
        char name[32];
        snprintf(name, sizeof name, "signature byte %zu", i);
        expect_error(name, v->b, v->len, PROXY_V2_BYTES_DEFAULT, PROXY_ABSENT, i + 1);
        free(v);
    }
}

struct bad_fixed {
    const char *name;
    uint8_t version_command, family;
    size_t body_bytes;
    enum proxy_result want;
    size_t at;
};

static void v2_bad_fixed_parts_are_refused_at_their_byte(void **state)
{
    (void)state;
    static const struct bad_fixed cases[] = {
        {"version 1", 0x11, 0x11, 12, PROXY_V2_BAD_VERSION, 13},
        {"version 3", 0x31, 0x11, 12, PROXY_V2_BAD_VERSION, 13},
        {"version 0", 0x01, 0x11, 12, PROXY_V2_BAD_VERSION, 13},
        {"command 2", 0x22, 0x11, 12, PROXY_V2_BAD_COMMAND, 13},
        {"command 15", 0x2f, 0x00, 0, PROXY_V2_BAD_COMMAND, 13},
        {"unspec family, stream", 0x21, 0x01, 0, PROXY_V2_BAD_FAMILY, 14},
        {"inet, transport unspec", 0x21, 0x10, 12, PROXY_V2_BAD_FAMILY, 14},
        {"inet, transport 3", 0x21, 0x13, 12, PROXY_V2_BAD_FAMILY, 14},
        {"family 4", 0x21, 0x41, 12, PROXY_V2_BAD_FAMILY, 14},
        {"family 15", 0x21, 0xf1, 12, PROXY_V2_BAD_FAMILY, 14},
        {"inet, 11 bytes", 0x21, 0x11, 11, PROXY_V2_BAD_LENGTH, 16},
        {"inet6, 35 bytes", 0x21, 0x21, 35, PROXY_V2_BAD_LENGTH, 16},
        {"inet6, 12 bytes", 0x21, 0x21, 12, PROXY_V2_BAD_LENGTH, 16},
        {"unix, 215 bytes", 0x21, 0x31, 215, PROXY_V2_BAD_LENGTH, 16},
        {"inet, 0 bytes", 0x21, 0x11, 0, PROXY_V2_BAD_LENGTH, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct v2 *v = v2_new(cases[i].version_command, cases[i].family);
        uint8_t body[256] = {0};
        v2_put(v, body, cases[i].body_bytes);
        v2_end(v);
        expect_error(cases[i].name, v->b, v->len, PROXY_V2_BYTES_DEFAULT, cases[i].want,
                     cases[i].at);
        free(v);
    }
}

/* An INET header whose TLV area is `tlvs`: refused with `want` once it is all there. */
static void expect_bad_tlvs(const char *name, const void *tlvs, size_t len, enum proxy_result want)
{
    struct v2 *v = v2_new(0x21, 0x11);
    v2_inet(v, "192.0.2.1", 1, "192.0.2.2", 2);
    v2_put(v, tlvs, len);
    v2_end(v);
    expect_error(name, v->b, v->len, PROXY_V2_BYTES_DEFAULT, want, v->len);
    free(v);
}

static void v2_tlv_overruns_are_refused(void **state)
{
    (void)state;
    expect_bad_tlvs("one byte of a TLV header", "\x04", 1, PROXY_V2_TLV_OVERRUN);
    expect_bad_tlvs("two bytes of a TLV header", "\x04\x00", 2, PROXY_V2_TLV_OVERRUN);
    expect_bad_tlvs("value one byte short", "\x01\x00\x03h2", 5, PROXY_V2_TLV_OVERRUN);
    expect_bad_tlvs("length 65535", "\x04\xff\xff", 3, PROXY_V2_TLV_OVERRUN);
    expect_bad_tlvs("good then cut", "\x01\x00\x02h2\xea\x00", 7, PROXY_V2_TLV_OVERRUN);
    expect_bad_tlvs("unknown type overruns too",
                    "\xee\x00\x05"
                    "abcd",
                    7, PROXY_V2_TLV_OVERRUN);
    expect_bad_tlvs("SSL sub-TLV overruns the SSL value",
                    "\x20\x00\x0a"
                    "\x01\0\0\0\0"
                    "\x21\x00\x03TL",
                    13, PROXY_V2_TLV_OVERRUN);
    expect_bad_tlvs("SSL sub-TLV header cut",
                    "\x20\x00\x07"
                    "\x01\0\0\0\0"
                    "\x21\x00",
                    10, PROXY_V2_TLV_OVERRUN);
}

static void v2_bad_tlv_values_are_refused(void **state)
{
    (void)state;
    char long_name[259] = "\x01\x01\x00";
    memset(long_name + 3, 'a', 256);
    expect_bad_tlvs("ALPN of 256 bytes", long_name, sizeof long_name, PROXY_V2_TLV_VALUE);
    long_name[0] = 0x02;
    expect_bad_tlvs("AUTHORITY of 256 bytes", long_name, sizeof long_name, PROXY_V2_TLV_VALUE);
    long_name[0] = 0x30;
    expect_bad_tlvs("NETNS of 256 bytes", long_name, sizeof long_name, PROXY_V2_TLV_VALUE);
    uint8_t long_id[3 + 129] = {0x05, 0x00, 129};
    expect_bad_tlvs("UNIQUE_ID of 129 bytes", long_id, sizeof long_id, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("empty ALPN", "\x01\x00\x00", 3, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("empty AUTHORITY", "\x02\x00\x00", 3, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("empty NETNS", "\x30\x00\x00", 3, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("AUTHORITY not UTF-8", "\x02\x00\x02\xc0\x80", 5, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("NETNS with a control byte", "\x30\x00\x02\x61\x0a", 5, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("CRC32C of 3 bytes", "\x03\x00\x03\0\0\0", 6, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("CRC32C of 5 bytes", "\x03\x00\x05\0\0\0\0\0", 8, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("SSL of 4 bytes", "\x20\x00\x04\x01\0\0\0", 7, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("ALPN twice", "\x01\x00\x02h2\x01\x00\x02h2", 10, PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("SSL twice", "\x20\x00\x05\x01\0\0\0\0\x20\x00\x05\x01\0\0\0\0", 16,
                    PROXY_V2_TLV_VALUE);
    expect_bad_tlvs("SSL VERSION twice",
                    "\x20\x00\x0f"
                    "\x01\0\0\0\0"
                    "\x21\x00\x02v1"
                    "\x21\x00\x02v2",
                    18, PROXY_V2_TLV_VALUE);
}

static void v2_crc32c_mismatches_are_refused(void **state)
{
    (void)state;
    struct v2 *v = v2_new(0x21, 0x21);
    v2_inet6(v, "2001:db8::1", 443, "2001:db8::2", 8443);
    v2_tlv_text(v, 0x01, "http/1.1");
    v2_tlv(v, 0x04, "padding", 7);
    size_t crc_at = v2_end_with_crc(v);
    struct proxy_header h;
    expect_valid("crc ok", v->b, v->len, PROXY_V2_BYTES_DEFAULT, &h);
    assert_true(h.crc32c_verified);
    /* Any single bit flipped past the fixed part (the fixed part has checks of its own, and
     * the TLV framing too) is caught by the CRC: addresses, values, the CRC itself. */
    const size_t positions[] = {16, 31, 16 + 36 + 3, v->len - 12, crc_at, crc_at + 3};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        for (int bit = 0; bit < 8; bit++) {
            v->b[positions[i]] ^= (uint8_t)(1 << bit);
            char name[48];
            snprintf(name, sizeof name, "byte %zu bit %d flipped", positions[i], bit);
            expect_error(name, v->b, v->len, PROXY_V2_BYTES_DEFAULT, PROXY_V2_BAD_CRC32C, v->len);
            v->b[positions[i]] ^= (uint8_t)(1 << bit);
        }
    }
    expect_valid("crc ok again", v->b, v->len, PROXY_V2_BYTES_DEFAULT, &h);
    free(v);

    /* A CRC computed without zeroing its own field does not match either. */
    v = v2_new(0x21, 0x11);
    v2_inet(v, "192.0.2.1", 1, "192.0.2.2", 2);
    v2_tlv(v, 0x03, "\xde\xad\xbe\xef", 4);
    v2_end(v);
    expect_error("crc not zeroed", v->b, v->len, PROXY_V2_BYTES_DEFAULT, PROXY_V2_BAD_CRC32C,
                 v->len);
    free(v);
}

/* ---- modes, names, the client's address ---- */

static void modes_decide_what_a_connection_expects(void **state)
{
    (void)state;
    assert_int_equal(proxy_mode_expect(PROXY_MODE_OFF, false), PROXY_EXPECT_NONE);
    assert_int_equal(proxy_mode_expect(PROXY_MODE_OFF, true), PROXY_EXPECT_NONE);
    assert_int_equal(proxy_mode_expect(PROXY_MODE_OPTIONAL, false), PROXY_EXPECT_NONE);
    assert_int_equal(proxy_mode_expect(PROXY_MODE_OPTIONAL, true), PROXY_EXPECT_MAYBE);
    assert_int_equal(proxy_mode_expect(PROXY_MODE_REQUIRED, false), PROXY_EXPECT_REFUSE);
    assert_int_equal(proxy_mode_expect(PROXY_MODE_REQUIRED, true), PROXY_EXPECT_HEADER);
    assert_string_equal(proxy_mode_names[PROXY_MODE_OFF], "off");
    assert_string_equal(proxy_mode_names[PROXY_MODE_OPTIONAL], "optional");
    assert_string_equal(proxy_mode_names[PROXY_MODE_REQUIRED], "required");
    assert_null(proxy_mode_names[PROXY_MODE_REQUIRED + 1]);
}

static void result_names_are_distinct(void **state)
{
    (void)state;
    for (int i = 0; i < PROXY_RESULT_COUNT; i++) {
        assert_non_null(proxy_result_name(i));
        assert_string_not_equal(proxy_result_name(i), "unknown");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(proxy_result_name(i), proxy_result_name(j));
    }
    assert_string_equal(proxy_result_name(PROXY_RESULT_COUNT), "unknown");
}

static void the_client_address_is_the_header_source_or_the_socket_peer(void **state)
{
    (void)state;
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(9999)};
    assert_int_equal(inet_pton(AF_INET, "10.0.0.2", &peer.sin_addr), 1);
    struct sockaddr_storage out;
    static const char line[] = "PROXY TCP6 2001:db8::5 2001:db8::6 1234 443\r\n";
    struct proxy_header h;
    assert_int_equal(proxy_parse((const uint8_t *)line, sizeof line - 1, 1024, &h), PROXY_DONE);
    socklen_t len = proxy_client_address(&h, (struct sockaddr *)&peer, sizeof peer, &out);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    expect_in6(&out, "2001:db8::5", 1234);

    static const char unknown[] = "PROXY UNKNOWN\r\n";
    assert_int_equal(proxy_parse((const uint8_t *)unknown, sizeof unknown - 1, 1024, &h),
                     PROXY_DONE);
    len = proxy_client_address(&h, (struct sockaddr *)&peer, sizeof peer, &out);
    assert_int_equal(len, sizeof peer);
    expect_in4(&out, "10.0.0.2", 9999);
    len = proxy_client_address(NULL, (struct sockaddr *)&peer, sizeof peer, &out);
    expect_in4(&out, "10.0.0.2", 9999); /* no header at all (mode off, or absent) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v2_inet_stream_as_haproxy_sends_it),
        cmocka_unit_test(v2_inet6_and_datagram_families),
        cmocka_unit_test(v2_unix_tells_no_ip_but_its_tlvs_count),
        cmocka_unit_test(v2_local_is_a_health_check_whatever_its_family),
        cmocka_unit_test(v2_proxy_over_unspec_ignores_the_body),
        cmocka_unit_test(v2_every_known_tlv_is_reported),
        cmocka_unit_test(v2_tlv_bounds_are_inclusive),
        cmocka_unit_test(v2_length_limit_is_inclusive_and_checked_from_the_fixed_part),
        cmocka_unit_test(the_v1_limit_does_not_bound_v2),
        cmocka_unit_test(v2_bad_signature_is_absent_at_the_differing_byte),
        cmocka_unit_test(v2_bad_fixed_parts_are_refused_at_their_byte),
        cmocka_unit_test(v2_tlv_overruns_are_refused),
        cmocka_unit_test(v2_bad_tlv_values_are_refused),
        cmocka_unit_test(v2_crc32c_mismatches_are_refused),
        cmocka_unit_test(modes_decide_what_a_connection_expects),
        cmocka_unit_test(result_names_are_distinct),
        cmocka_unit_test(the_client_address_is_the_header_source_or_the_socket_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
