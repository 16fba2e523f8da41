/* libFuzzer target for core/proxy_proto (and core/cidr on the same bytes as text). Besides
 * "never crash" it checks what the contracts promise:
 *   - a prefix answers NEED_MORE or the whole input's answer, and a prefix shorter than a
 *     parsed header is NEED_MORE; bytes after a header never change it;
 *   - a parsed header lies inside the input and its limit, and so does every span;
 *   - a larger limit accepts what a smaller one does, the same way;
 *   - a header refused only for its CRC32C is accepted once the CRC is made right (the TLV is
 *     found by an independent walk here), so the fuzzer gets past the checksum;
 *   - a range that parses formats to text that parses back to the same range, and contains
 *     its own network address.
 * Seeds: tests/fuzz/corpus/proxy_proto/ (tests/fuzz/make_seeds_proxy_proto.py). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"
#include "core/crc32c.h"
#include "core/proxy_proto.h"

enum { FUZZ_FIX_BYTES_MAX = 4096 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

static void check_span(struct proxy_span span, const uint8_t *buf, size_t header_bytes)
{
    if (span.ptr == NULL) {
        require(span.len == 0);
        return;
    }
    require(span.ptr >= buf && span.ptr + span.len <= buf + header_bytes);
}

static void check_header(const struct proxy_header *h, const uint8_t *buf, size_t size,
                         size_t limit)
{
    require(h->header_bytes <= size);
    require(h->version == 1 || h->version == 2);
    if (h->version == 1)
        require(h->header_bytes <= PROXY_V1_BYTES_MAX && h->header_bytes >= 15);
    else
        require(h->header_bytes <= limit && h->header_bytes >= PROXY_V2_FIXED_BYTES);
    require(h->command == PROXY_COMMAND_LOCAL || h->command == PROXY_COMMAND_PROXY);
    require(h->src.ss_family == h->dst.ss_family);
    require(h->src.ss_family == AF_UNSPEC || h->src.ss_family == AF_INET ||
            h->src.ss_family == AF_INET6);
    if (h->src.ss_family == AF_INET)
        require(h->family == PROXY_FAMILY_INET);
    if (h->src.ss_family == AF_INET6)
        require(h->family == PROXY_FAMILY_INET6);
    check_span(h->alpn, buf, h->header_bytes);
    check_span(h->authority, buf, h->header_bytes);
    check_span(h->unique_id, buf, h->header_bytes);
    check_span(h->netns, buf, h->header_bytes);
    check_span(h->ssl.version, buf, h->header_bytes);
    check_span(h->ssl.cn, buf, h->header_bytes);
    check_span(h->ssl.cipher, buf, h->header_bytes);
    check_span(h->ssl.sig_alg, buf, h->header_bytes);
    check_span(h->ssl.key_alg, buf, h->header_bytes);
    require(h->alpn.len <= 255 && h->unique_id.len <= 128);
}

static void check_prefix(const uint8_t *buf, size_t prefix, size_t limit, enum proxy_result whole,
                         size_t header_bytes)
{
    struct proxy_header h;
    enum proxy_result r = proxy_parse(buf, prefix, limit, &h);
    if (whole == PROXY_DONE && prefix < header_bytes)
        require(r == PROXY_NEED_MORE);
    else if (whole == PROXY_DONE)
        require(r == PROXY_DONE && h.header_bytes == header_bytes);
    else
        require(r == PROXY_NEED_MORE || r == whole);
}

/* Offset of the CRC32C value in a v2 PROXY header over INET, INET6 or UNIX, found by walking
 * the TLVs independently of the parser; 0 when there is none or the walk fails. */
static size_t find_crc(const uint8_t *buf, size_t size)
{
    if (size < PROXY_V2_FIXED_BYTES || (buf[12] & 0x0f) != PROXY_COMMAND_PROXY)
        return 0;
    size_t addr_bytes = 0;
    switch (buf[13]) {
    case 0x11:
    case 0x12:
        addr_bytes = 12;
        break;
    case 0x21:
    case 0x22:
        addr_bytes = 36;
        break;
    case 0x31:
    case 0x32:
        addr_bytes = 216;
        break;
    default:
        return 0;
    }
    size_t total = PROXY_V2_FIXED_BYTES + (((size_t)buf[14] << 8) | buf[15]);
    size_t pos = PROXY_V2_FIXED_BYTES + addr_bytes;
    while (total <= size && pos + 3 <= total) {
        size_t len = ((size_t)buf[pos + 1] << 8) | buf[pos + 2];
        if (buf[pos] == 0x03 && len == 4 && pos + 7 <= total)
            return pos + 3;
        pos += 3 + len;
    }
    return 0;
}

static void fix_crc(const uint8_t *data, size_t size, size_t limit)
{
    if (size > FUZZ_FIX_BYTES_MAX)
        return;
    size_t at = find_crc(data, size);
    if (at == 0)
        return;
    uint8_t *copy = malloc(size);
    require(copy != NULL);
    memcpy(copy, data, size);
    size_t total = PROXY_V2_FIXED_BYTES + (((size_t)copy[14] << 8) | copy[15]);
    memset(copy + at, 0, 4);
    uint32_t crc = crc32c_extend(0, copy, total);
    copy[at] = (uint8_t)(crc >> 24);
    copy[at + 1] = (uint8_t)(crc >> 16);
    copy[at + 2] = (uint8_t)(crc >> 8);
    copy[at + 3] = (uint8_t)crc;
    struct proxy_header h;
    enum proxy_result r = proxy_parse(copy, size, limit, &h);
    require(r == PROXY_DONE && h.crc32c_verified && h.header_bytes == total);
    free(copy);
}

static void fuzz_proxy(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {PROXY_V2_BYTES_MIN, PROXY_V2_BYTES_DEFAULT, PROXY_V2_BYTES_MAX};
    enum proxy_result previous = PROXY_NEED_MORE;
    size_t previous_bytes = 0;
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct proxy_header h;
        enum proxy_result r = proxy_parse(data, size, limits[i], &h);
        require(strcmp(proxy_result_name(r), "unknown") != 0);
        size_t header_bytes = r == PROXY_DONE ? h.header_bytes : 0;
        if (r == PROXY_DONE)
            check_header(&h, data, size, limits[i]);
        if (i > 0 && previous == PROXY_DONE)
            require(r == PROXY_DONE && header_bytes == previous_bytes);
        check_prefix(data, size / 2, limits[i], r, header_bytes);
        if (size > 0)
            check_prefix(data, size - 1, limits[i], r, header_bytes);
        if (r == PROXY_DONE) {
            check_prefix(data, header_bytes, limits[i], r, header_bytes);
            if (header_bytes > 0)
                check_prefix(data, header_bytes - 1, limits[i], r, header_bytes);
        }
        if (r == PROXY_V2_BAD_CRC32C)
            fix_crc(data, size, limits[i]);
        previous = r;
        previous_bytes = header_bytes;
    }
}

static void fuzz_cidr(const uint8_t *data, size_t size)
{
    if (size > CIDR_TEXT_BYTES_MAX)
        return;
    struct cidr_range range;
    char err[CIDR_ERROR_BYTES];
    if (!cidr_range_parse((const char *)data, size, &range, err)) {
        require(strlen(err) > 0 && strlen(err) < CIDR_ERROR_BYTES);
        return;
    }
    char text[CIDR_TEXT_BYTES_MAX];
    size_t len = cidr_range_format(&range, text);
    struct cidr_range again;
    require(cidr_range_parse(text, len, &again, err));
    require(memcmp(&again, &range, sizeof range) == 0);
    require(cidr_range_contains(&range, &range.net));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_proxy(data, size);
    fuzz_cidr(data, size);
    return 0;
}
