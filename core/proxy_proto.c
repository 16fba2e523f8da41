/* PROXY protocol header parser: see proxy_proto.h. This file holds the dispatch on the
 * signature, the binary v2 form and its TLVs; the text v1 form is in proxy_v1.c.
 *
 * Every answer is computed from the bytes alone, in the order they stand, so that a prefix
 * answers NEED_MORE or what the whole input answers: each check runs as soon as its bytes
 * are there and never depends on bytes after it. */
#include "core/proxy_proto.h"

#include <assert.h>
#include <netinet/in.h>
#include <string.h>

#include "core/crc32c.h"
#include "core/proxy_internal.h"
#include "core/utf8.h"

static const uint8_t v2_signature[PROXY_SIGNATURE_BYTES_MAX] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

enum {
    V2_INET_BYTES = 4 + 4 + 2 + 2,
    V2_INET6_BYTES = 16 + 16 + 2 + 2,
    V2_UNIX_BYTES = 108 + 108,
    V2_TLV_HEADER_BYTES = 3,
    V2_SSL_FIXED_BYTES = 1 + 4,  /* client flags, verify result */
    V2_NAME_BYTES_MAX = 255,     /* ALPN, AUTHORITY, NETNS */
    V2_UNIQUE_ID_BYTES_MAX = 128 /* the protocol's bound */
};

/* TLV types (PP2_TYPE_*, PP2_SUBTYPE_SSL_*). */
enum {
    TLV_ALPN = 0x01,
    TLV_AUTHORITY = 0x02,
    TLV_CRC32C = 0x03,
    TLV_NOOP = 0x04,
    TLV_UNIQUE_ID = 0x05,
    TLV_SSL = 0x20,
    TLV_SSL_VERSION = 0x21,
    TLV_SSL_CN = 0x22,
    TLV_SSL_CIPHER = 0x23,
    TLV_SSL_SIG_ALG = 0x24,
    TLV_SSL_KEY_ALG = 0x25,
    TLV_NETNS = 0x30,
};

/* The TLV walk: where it is, and which once-only types it has seen. */
struct v2_tlv_walk {
    const uint8_t *header; /* start of the whole header, for the CRC */
    size_t crc_offset;     /* offset of the CRC32C value in the header, 0 when none */
    uint64_t seen;         /* bit (type & 63) of each once-only type met, SSL subtypes too */
};

static uint16_t read_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t read_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Address bytes the family/transport byte announces under PROXY; false when the byte is
 * unassigned. UNSPEC (0x00) announces none. */
static bool v2_family_known(uint8_t family_transport, size_t *addr_bytes)
{
    switch (family_transport) {
    case 0x00:
        *addr_bytes = 0;
        return true;
    case 0x11:
    case 0x12:
        *addr_bytes = V2_INET_BYTES;
        return true;
    case 0x21:
    case 0x22:
        *addr_bytes = V2_INET6_BYTES;
        return true;
    case 0x31:
    case 0x32:
        *addr_bytes = V2_UNIX_BYTES;
        return true;
    default:
        return false;
    }
}

/* Marks `type` seen; false when it already was (a second copy of a once-only TLV). */
static bool tlv_first_time(struct v2_tlv_walk *walk, uint8_t type)
{
    uint64_t bit = (uint64_t)1 << (type & 63);
    if (walk->seen & bit)
        return false;
    walk->seen |= bit;
    return true;
}

static bool bytes_printable_ascii(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return false;
    return true;
}

static struct proxy_span span_of(const uint8_t *value, size_t len)
{
    return (struct proxy_span){.ptr = value, .len = len};
}

/* The SSL TLV's sub-TLVs, which must tile [value, value + len). */
static enum proxy_result v2_ssl_subtlvs(struct v2_tlv_walk *walk, const uint8_t *value, size_t len,
                                        struct proxy_ssl *ssl)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < V2_TLV_HEADER_BYTES)
            return PROXY_V2_TLV_OVERRUN;
        uint8_t type = value[pos];
        size_t sub_len = read_be16(value + pos + 1);
        pos += V2_TLV_HEADER_BYTES;
        if (sub_len > len - pos)
            return PROXY_V2_TLV_OVERRUN;
        struct proxy_span *target = NULL;
        switch (type) {
        case TLV_SSL_VERSION:
            target = &ssl->version;
            break;
        case TLV_SSL_CN:
            target = &ssl->cn;
            break;
        case TLV_SSL_CIPHER:
            target = &ssl->cipher;
            break;
        case TLV_SSL_SIG_ALG:
            target = &ssl->sig_alg;
            break;
        case TLV_SSL_KEY_ALG:
            target = &ssl->key_alg;
            break;
        default:
            break; /* group, signature scheme, client certificate, future ones: skipped */
        }
        if (target != NULL) {
            if (!tlv_first_time(walk, type))
                return PROXY_V2_TLV_VALUE;
            *target = span_of(value + pos, sub_len);
        }
        pos += sub_len;
    }
    assert(pos == len);
    return PROXY_DONE;
}

static enum proxy_result v2_ssl(struct v2_tlv_walk *walk, const uint8_t *value, size_t len,
                                struct proxy_ssl *ssl)
{
    if (len < V2_SSL_FIXED_BYTES)
        return PROXY_V2_TLV_VALUE;
    ssl->present = true;
    ssl->client = value[0];
    ssl->verify = read_be32(value + 1);
    return v2_ssl_subtlvs(walk, value + V2_SSL_FIXED_BYTES, len - V2_SSL_FIXED_BYTES, ssl);
}

/* One top-level TLV whose value lies inside the header. */
static enum proxy_result v2_tlv(struct v2_tlv_walk *walk, uint8_t type, const uint8_t *value,
                                size_t len, struct proxy_header *out)
{
    if (type == TLV_NOOP)
        return PROXY_DONE;
    bool once_only = type == TLV_ALPN || type == TLV_AUTHORITY || type == TLV_CRC32C ||
                     type == TLV_UNIQUE_ID || type == TLV_SSL || type == TLV_NETNS;
    if (!once_only) {
        out->tlv_unknown_count++;
        return PROXY_DONE;
    }
    if (!tlv_first_time(walk, type))
        return PROXY_V2_TLV_VALUE;
    switch (type) {
    case TLV_ALPN:
        if (len == 0 || len > V2_NAME_BYTES_MAX)
            return PROXY_V2_TLV_VALUE;
        out->alpn = span_of(value, len);
        return PROXY_DONE;
    case TLV_AUTHORITY:
        if (len == 0 || len > V2_NAME_BYTES_MAX || !utf8_is_valid(value, len))
            return PROXY_V2_TLV_VALUE;
        out->authority = span_of(value, len);
        return PROXY_DONE;
    case TLV_CRC32C:
        if (len != 4)
            return PROXY_V2_TLV_VALUE;
        walk->crc_offset = (size_t)(value - walk->header);
        return PROXY_DONE;
    case TLV_UNIQUE_ID:
        if (len > V2_UNIQUE_ID_BYTES_MAX)
            return PROXY_V2_TLV_VALUE;
        out->unique_id = span_of(value, len);
        return PROXY_DONE;
    case TLV_NETNS:
        if (len == 0 || len > V2_NAME_BYTES_MAX || !bytes_printable_ascii(value, len))
            return PROXY_V2_TLV_VALUE;
        out->netns = span_of(value, len);
        return PROXY_DONE;
    default:
        assert(type == TLV_SSL);
        return v2_ssl(walk, value, len, &out->ssl);
    }
}

/* The CRC-32C of the whole header with the 4 value bytes at `crc_offset` taken as zero. */
static bool v2_crc_matches(const uint8_t *header, size_t total, size_t crc_offset)
{
    static const uint8_t zero[4] = {0};
    assert(crc_offset >= PROXY_V2_FIXED_BYTES && crc_offset + 4 <= total);
    uint32_t crc = crc32c_extend(0, header, crc_offset);
    crc = crc32c_extend(crc, zero, sizeof zero);
    crc = crc32c_extend(crc, header + crc_offset + 4, total - crc_offset - 4);
    return crc == read_be32(header + crc_offset);
}

/* TLVs from `start` to `total`, which they must tile exactly; then the CRC if one came. */
static enum proxy_result v2_tlvs(const uint8_t *buf, size_t start, size_t total,
                                 struct proxy_header *out)
{
    struct v2_tlv_walk walk = {.header = buf};
    size_t pos = start;
    while (pos < total) {
        if (total - pos < V2_TLV_HEADER_BYTES)
            return PROXY_V2_TLV_OVERRUN;
        uint8_t type = buf[pos];
        size_t len = read_be16(buf + pos + 1);
        pos += V2_TLV_HEADER_BYTES;
        if (len > total - pos)
            return PROXY_V2_TLV_OVERRUN;
        enum proxy_result r = v2_tlv(&walk, type, buf + pos, len, out);
        if (r != PROXY_DONE)
            return r;
        pos += len;
    }
    if (walk.crc_offset != 0) {
        if (!v2_crc_matches(buf, total, walk.crc_offset))
            return PROXY_V2_BAD_CRC32C;
        out->crc32c_verified = true;
    }
    return PROXY_DONE;
}

static void v2_addresses(const uint8_t *body, uint8_t family, struct proxy_header *out)
{
    if (family == PROXY_FAMILY_INET) {
        struct sockaddr_in *src = (struct sockaddr_in *)&out->src;
        struct sockaddr_in *dst = (struct sockaddr_in *)&out->dst;
        src->sin_family = AF_INET;
        dst->sin_family = AF_INET;
        memcpy(&src->sin_addr, body, 4);
        memcpy(&dst->sin_addr, body + 4, 4);
        memcpy(&src->sin_port, body + 8, 2); /* both in network order already */
        memcpy(&dst->sin_port, body + 10, 2);
    } else if (family == PROXY_FAMILY_INET6) {
        struct sockaddr_in6 *src = (struct sockaddr_in6 *)&out->src;
        struct sockaddr_in6 *dst = (struct sockaddr_in6 *)&out->dst;
        src->sin6_family = AF_INET6;
        dst->sin6_family = AF_INET6;
        memcpy(&src->sin6_addr, body, 16);
        memcpy(&dst->sin6_addr, body + 16, 16);
        memcpy(&src->sin6_port, body + 32, 2);
        memcpy(&dst->sin6_port, body + 34, 2);
    }
    /* UNIX: 216 bytes of paths, no IP address to tell. */
}

/* The fixed part: version, command, family, length, each checked as soon as it is there.
 * Answers DONE (with the header's total and address bytes) once the whole header is there. */
static enum proxy_result v2_fixed(const uint8_t *buf, size_t len, size_t header_bytes_max,
                                  size_t *total, size_t *addr_bytes)
{
    if (len <= 12)
        return PROXY_NEED_MORE;
    if (buf[12] >> 4 != 2)
        return PROXY_V2_BAD_VERSION;
    uint8_t command = buf[12] & 0x0f;
    if (command != PROXY_COMMAND_LOCAL && command != PROXY_COMMAND_PROXY)
        return PROXY_V2_BAD_COMMAND;
    if (len <= 13)
        return PROXY_NEED_MORE;
    *addr_bytes = 0; /* LOCAL: the family byte is ignored */
    if (command == PROXY_COMMAND_PROXY && !v2_family_known(buf[13], addr_bytes))
        return PROXY_V2_BAD_FAMILY;
    if (len < PROXY_V2_FIXED_BYTES)
        return PROXY_NEED_MORE;
    size_t body_bytes = read_be16(buf + 14);
    *total = PROXY_V2_FIXED_BYTES + body_bytes;
    if (*total > header_bytes_max)
        return PROXY_V2_TOO_LONG;
    if (body_bytes < *addr_bytes)
        return PROXY_V2_BAD_LENGTH;
    return *total <= len ? PROXY_DONE : PROXY_NEED_MORE;
}

static enum proxy_result v2_parse(const uint8_t *buf, size_t len, size_t header_bytes_max,
                                  struct proxy_header *out)
{
    size_t total = 0;
    size_t addr_bytes = 0;
    enum proxy_result r = v2_fixed(buf, len, header_bytes_max, &total, &addr_bytes);
    if (r != PROXY_DONE)
        return r;
    struct proxy_header h = {.version = 2, .command = buf[12] & 0x0f, .header_bytes = total};
    /* LOCAL, and PROXY over UNSPEC, tell no addresses: the body is ignored as a whole. */
    if (h.command == PROXY_COMMAND_LOCAL || buf[13] == 0x00) {
        *out = h;
        return PROXY_DONE;
    }
    h.family = buf[13] >> 4;
    h.transport = buf[13] & 0x0f;
    v2_addresses(buf + PROXY_V2_FIXED_BYTES, h.family, &h);
    r = v2_tlvs(buf, PROXY_V2_FIXED_BYTES + addr_bytes, total, &h);
    if (r != PROXY_DONE)
        return r;
    *out = h;
    return PROXY_DONE;
}

/* NEED_MORE while `buf` is a proper prefix of `signature`, ABSENT at the first difference,
 * DONE once all of it is there. */
static enum proxy_result match_signature(const uint8_t *buf, size_t len, const uint8_t *signature,
                                         size_t signature_len)
{
    size_t n = len < signature_len ? len : signature_len;
    if (memcmp(buf, signature, n) != 0)
        return PROXY_ABSENT;
    return len < signature_len ? PROXY_NEED_MORE : PROXY_DONE;
}

enum proxy_result proxy_parse(const uint8_t *buf, size_t len, size_t header_bytes_max,
                              struct proxy_header *out)
{
    assert(header_bytes_max >= PROXY_V2_BYTES_MIN && header_bytes_max <= PROXY_V2_BYTES_MAX);
    assert(buf != NULL || len == 0);
    if (len == 0)
        return PROXY_NEED_MORE;
    enum proxy_result r;
    if (buf[0] == 'P') {
        r = match_signature(buf, len, (const uint8_t *)PROXY_V1_SIGNATURE,
                            PROXY_V1_SIGNATURE_BYTES);
        return r == PROXY_DONE ? proxy_v1_parse(buf, len, out) : r;
    }
    r = match_signature(buf, len, v2_signature, sizeof v2_signature);
    return r == PROXY_DONE ? v2_parse(buf, len, header_bytes_max, out) : r;
}

const char *proxy_result_name(enum proxy_result result)
{
    static const char *const names[PROXY_RESULT_COUNT] = {
        [PROXY_DONE] = "done",
        [PROXY_NEED_MORE] = "need_more",
        [PROXY_ABSENT] = "absent",
        [PROXY_V1_TOO_LONG] = "v1_too_long",
        [PROXY_V1_BAD_SYNTAX] = "v1_bad_syntax",
        [PROXY_V1_BAD_ADDRESS] = "v1_bad_address",
        [PROXY_V1_BAD_PORT] = "v1_bad_port",
        [PROXY_V2_BAD_VERSION] = "v2_bad_version",
        [PROXY_V2_BAD_COMMAND] = "v2_bad_command",
        [PROXY_V2_BAD_FAMILY] = "v2_bad_family",
        [PROXY_V2_TOO_LONG] = "v2_too_long",
        [PROXY_V2_BAD_LENGTH] = "v2_bad_length",
        [PROXY_V2_TLV_OVERRUN] = "v2_tlv_overrun",
        [PROXY_V2_TLV_VALUE] = "v2_tlv_value",
        [PROXY_V2_BAD_CRC32C] = "v2_bad_crc32c",
    };
    if ((unsigned)result >= PROXY_RESULT_COUNT)
        return "unknown";
    return names[result];
}

socklen_t proxy_client_address(const struct proxy_header *h, const struct sockaddr *socket_peer,
                               socklen_t socket_peer_len, struct sockaddr_storage *out)
{
    assert(socket_peer_len <= sizeof *out);
    socklen_t len;
    if (h != NULL && h->src.ss_family == AF_INET) {
        len = sizeof(struct sockaddr_in);
        memcpy(out, &h->src, len);
    } else if (h != NULL && h->src.ss_family == AF_INET6) {
        len = sizeof(struct sockaddr_in6);
        memcpy(out, &h->src, len);
    } else {
        len = socket_peer_len;
        memcpy(out, socket_peer, len);
    }
    return len;
}

const char *const proxy_mode_names[] = {"off", "optional", "required", NULL};

enum proxy_expect proxy_mode_expect(enum proxy_mode mode, bool peer_trusted)
{
    switch (mode) {
    case PROXY_MODE_OFF:
        return PROXY_EXPECT_NONE;
    case PROXY_MODE_OPTIONAL:
        return peer_trusted ? PROXY_EXPECT_MAYBE : PROXY_EXPECT_NONE;
    case PROXY_MODE_REQUIRED:
        return peer_trusted ? PROXY_EXPECT_HEADER : PROXY_EXPECT_REFUSE;
    }
    assert(!"unknown proxy mode");
    return PROXY_EXPECT_REFUSE;
}
