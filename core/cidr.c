/* Address ranges: see cidr.h. Both families are kept in the same 16-byte form so that one
 * prefix comparison serves both. */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

enum {
    IPV4_MAPPED_PREFIX_BITS = 96,
    CIDR_PREFIX_DIGITS_MAX = 3,
};

static const uint8_t ipv4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* True when the first `bits` bits of a and b are the same. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    unsigned rest = bits % 8;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* True when any bit past the first `bits` of the 16 bytes is set. */
static bool host_bits_set(const uint8_t *bytes, unsigned bits)
{
    for (unsigned i = bits; i < 128; i++)
        if (bytes[i / 8] & (0x80 >> (i % 8)))
            return true;
    return false;
}

static void clear_host_bits(uint8_t *bytes, unsigned bits)
{
    for (unsigned i = bits; i < 128; i++)
        bytes[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
}

/* An IPv6 address in the IPv4-mapped block becomes the IPv4 address. */
static void addr_set6(struct cidr_addr *out, const uint8_t bytes[16])
{
    memset(out, 0, sizeof *out);
    if (memcmp(bytes, ipv4_mapped_prefix, sizeof ipv4_mapped_prefix) == 0) {
        out->family = AF_INET;
        memcpy(out->bytes, bytes + 12, 4);
    } else {
        out->family = AF_INET6;
        memcpy(out->bytes, bytes, 16);
    }
}

bool cidr_addr_from_sockaddr(const struct sockaddr *sa, struct cidr_addr *out)
{
    assert(sa != NULL && out != NULL);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        memset(out, 0, sizeof *out);
        out->family = AF_INET;
        memcpy(out->bytes, &in4->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        addr_set6(out, in6->sin6_addr.s6_addr);
        return true;
    }
    return false;
}

/* The prefix after '/': decimal without leading zeros, at most `max`. */
static bool parse_prefix(const char *p, size_t n, unsigned max, unsigned *out)
{
    if (n == 0 || n > CIDR_PREFIX_DIGITS_MAX || (n > 1 && p[0] == '0'))
        return false;
    unsigned value = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        value = value * 10 + (unsigned)(p[i] - '0');
    }
    if (value > max)
        return false;
    *out = value;
    return true;
}

/* The address part, as written: family and bytes before mapping. */
static bool parse_address(const char *p, size_t n, int *family, uint8_t bytes[16])
{
    char text[CIDR_TEXT_BYTES_MAX];
    if (n == 0 || n >= sizeof text)
        return false;
    memcpy(text, p, n);
    text[n] = '\0';
    memset(bytes, 0, 16);
    if (inet_pton(AF_INET, text, bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, bytes) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

bool cidr_range_parse(const char *text, size_t len, struct cidr_range *out, char *err)
{
    assert(text != NULL && out != NULL && err != NULL);
    int shown = len < CIDR_TEXT_BYTES_MAX ? (int)len : CIDR_TEXT_BYTES_MAX;
    const char *slash = memchr(text, '/', len);
    size_t addr_len = slash != NULL ? (size_t)(slash - text) : len;
    int family = 0;
    uint8_t bytes[16];
    if (!parse_address(text, addr_len, &family, bytes)) {
        snprintf(err, CIDR_ERROR_BYTES,
                 "\"%.*s\": not an IPv4 or IPv6 address (numeric only, no zone), optionally "
                 "with a /prefix",
                 shown, text);
        return false;
    }
    unsigned max_bits = family == AF_INET ? 32 : 128;
    unsigned bits = max_bits;
    if (slash != NULL && !parse_prefix(slash + 1, len - addr_len - 1, max_bits, &bits)) {
        snprintf(err, CIDR_ERROR_BYTES,
                 "\"%.*s\": the prefix must be a number from 0 to %u for an %s address", shown,
                 text, max_bits, family == AF_INET ? "IPv4" : "IPv6");
        return false;
    }
    /* Checked on the 16-byte form: IPv4 bytes past the fourth are zero. */
    if (host_bits_set(bytes, bits)) {
        struct cidr_range fixed = {.prefix_bits = (uint8_t)bits};
        clear_host_bits(bytes, bits);
        fixed.net.family = (uint8_t)family;
        memcpy(fixed.net.bytes, bytes, 16);
        char hint[CIDR_TEXT_BYTES_MAX];
        cidr_range_format(&fixed, hint);
        snprintf(err, CIDR_ERROR_BYTES,
                 "\"%.*s\": host bits are set past the /%u prefix (the network is %s)", shown, text,
                 bits, hint);
        return false;
    }
    memset(out, 0, sizeof *out);
    if (family == AF_INET6 && bits >= IPV4_MAPPED_PREFIX_BITS &&
        memcmp(bytes, ipv4_mapped_prefix, sizeof ipv4_mapped_prefix) == 0) {
        family = AF_INET; /* ::ffff:a.b.c.d/n is a.b.c.d/(n-96) */
        memmove(bytes, bytes + 12, 4);
        memset(bytes + 4, 0, 12);
        bits -= IPV4_MAPPED_PREFIX_BITS;
    }
    out->net.family = (uint8_t)family;
    memcpy(out->net.bytes, bytes, 16);
    out->prefix_bits = (uint8_t)bits;
    return true;
}

static bool list_add(struct cidr_list *list, const char *text, size_t len, char *err)
{
    if (len == 0) {
        snprintf(err, CIDR_ERROR_BYTES, "an empty item in the list of address ranges");
        return false;
    }
    if (list->count == CIDR_LIST_MAX) {
        snprintf(err, CIDR_ERROR_BYTES, "more than %d address ranges", CIDR_LIST_MAX);
        return false;
    }
    if (!cidr_range_parse(text, len, &list->ranges[list->count], err))
        return false;
    list->count++;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool cidr_list_parse(const char *text, struct cidr_list *out, char *err)
{
    assert(text != NULL && out != NULL && err != NULL);
    out->count = 0;
    size_t pos = 0;
    size_t len = strlen(text);
    while (pos < len && is_blank(text[pos]))
        pos++;
    if (pos == len)
        return true; /* the empty list */
    for (;;) {
        size_t end = pos;
        while (end < len && text[end] != ',')
            end++;
        size_t start = pos;
        size_t stop = end;
        while (start < stop && is_blank(text[start]))
            start++;
        while (stop > start && is_blank(text[stop - 1]))
            stop--;
        if (!list_add(out, text + start, stop - start, err))
            return false;
        if (end == len)
            return true;
        pos = end + 1;
    }
}

bool cidr_list_from_items(const char *const *items, size_t count, struct cidr_list *out, char *err)
{
    assert(out != NULL && err != NULL && (items != NULL || count == 0));
    out->count = 0;
    for (size_t i = 0; i < count; i++)
        if (!list_add(out, items[i], strlen(items[i]), err))
            return false;
    return true;
}

bool cidr_range_contains(const struct cidr_range *range, const struct cidr_addr *addr)
{
    assert(range->prefix_bits <= (range->net.family == AF_INET ? 32 : 128));
    return addr->family == range->net.family &&
           prefix_equal(addr->bytes, range->net.bytes, range->prefix_bits);
}

bool cidr_list_contains(const struct cidr_list *list, const struct sockaddr *sa)
{
    assert(list->count <= CIDR_LIST_MAX);
    struct cidr_addr addr;
    if (!cidr_addr_from_sockaddr(sa, &addr))
        return false;
    for (size_t i = 0; i < list->count; i++)
        if (cidr_range_contains(&list->ranges[i], &addr))
            return true;
    return false;
}

size_t cidr_range_format(const struct cidr_range *range, char *out)
{
    char addr[INET6_ADDRSTRLEN];
    const char *ok = inet_ntop(range->net.family, range->net.bytes, addr, sizeof addr);
    assert(ok != NULL); /* a family we made ourselves, a buffer long enough */
    (void)ok;
    int n = snprintf(out, CIDR_TEXT_BYTES_MAX, "%s/%u", addr, range->prefix_bits);
    assert(n > 0 && n < CIDR_TEXT_BYTES_MAX);
    return (size_t)n;
}
