/* PROXY protocol v1, the text line: see proxy_proto.h for the grammar.
 *
 * The line is read as space-separated tokens inside a window of at most 107 bytes. A token
 * cut off by the end of the bytes received is checked as a prefix (could it still become
 * valid?), so a bad byte is refused when it arrives and a good prefix asks for more; a
 * token that reaches the end of the full 107-byte window can never end in time. */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "core/proxy_internal.h"

enum {
    V1_ADDR6_TEXT_MAX = 45, /* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */
    V1_PORT_DIGITS_MAX = 5,
};

enum v1_field_kind { FIELD_ADDR4, FIELD_ADDR6, FIELD_PORT };

/* The bytes being read: at most the 107-byte window, and whether the window is all there. */
struct v1_scan {
    const uint8_t *buf;
    size_t len;       /* bytes of the window present: min(received, 107) */
    bool window_full; /* 107 bytes were received: a token still open there can never end */
};

static const char *const v1_protocols[] = {"TCP4", "TCP6", "UNKNOWN"};

/* The answer when the bytes stop inside a token that could still be valid. */
static enum proxy_result v1_incomplete(const struct v1_scan *s)
{
    return s->window_full ? PROXY_V1_TOO_LONG : PROXY_NEED_MORE;
}

/* The end of the token at `pos`: the first SP, CR or LF, or the end of the bytes. */
static size_t v1_token_end(const struct v1_scan *s, size_t pos)
{
    while (pos < s->len && s->buf[pos] != ' ' && s->buf[pos] != '\r' && s->buf[pos] != '\n')
        pos++;
    return pos;
}

/* `cr` is the position of a CR: the line ends there if an LF follows. */
static enum proxy_result v1_line_end(const struct v1_scan *s, size_t cr, struct proxy_header *h)
{
    assert(cr < s->len && s->buf[cr] == '\r');
    if (cr + 1 == s->len)
        return v1_incomplete(s);
    if (s->buf[cr + 1] != '\n')
        return PROXY_V1_BAD_SYNTAX;
    h->header_bytes = cr + 2;
    return PROXY_DONE;
}

/* Dotted decimal, four numbers 0..255 without leading zeros. With `complete` false, true
 * while the text can still become such an address. */
static bool v1_addr4(const uint8_t *p, size_t n, bool complete, uint8_t out[4])
{
    unsigned octet = 0;
    unsigned digits = 0;
    unsigned index = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            if (digits == 1 && octet == 0)
                return false; /* a leading zero */
            octet = octet * 10 + (unsigned)(p[i] - '0');
            digits++;
            if (octet > 255)
                return false;
        } else if (p[i] == '.' && digits > 0 && index < 3) {
            out[index++] = (uint8_t)octet;
            octet = 0;
            digits = 0;
        } else {
            return false;
        }
    }
    if (!complete)
        return true;
    if (index != 3 || digits == 0)
        return false;
    out[3] = (uint8_t)octet;
    return true;
}

static bool v1_addr6(const uint8_t *p, size_t n, bool complete, struct in6_addr *out)
{
    if (n > V1_ADDR6_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool hex = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
                   (p[i] >= 'A' && p[i] <= 'F');
        if (!hex && p[i] != ':' && p[i] != '.')
            return false;
    }
    if (!complete)
        return true;
    char text[V1_ADDR6_TEXT_MAX + 1];
    memcpy(text, p, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, out) == 1;
}

/* Decimal 0..65535 without leading zeros. */
static bool v1_port(const uint8_t *p, size_t n, bool complete, uint16_t *out)
{
    if (n > V1_PORT_DIGITS_MAX || (complete && n == 0))
        return false;
    unsigned value = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || (i == 1 && p[0] == '0'))
            return false;
        value = value * 10 + (unsigned)(p[i] - '0');
    }
    if (value > 65535)
        return false;
    *out = (uint16_t)value;
    return true;
}

/* Checks field `index` (src, dst, sport, dport) and, when complete, stores it in `h`. */
static enum proxy_result v1_field(const uint8_t *p, size_t n, bool complete,
                                  enum v1_field_kind kind, unsigned index, struct proxy_header *h)
{
    struct sockaddr_storage *ss = index % 2 == 0 ? &h->src : &h->dst;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    uint16_t port = 0;
    switch (kind) {
    case FIELD_ADDR4:
        if (!v1_addr4(p, n, complete, (uint8_t *)&in4->sin_addr))
            return PROXY_V1_BAD_ADDRESS;
        in4->sin_family = AF_INET;
        return PROXY_DONE;
    case FIELD_ADDR6:
        if (!v1_addr6(p, n, complete, &in6->sin6_addr))
            return PROXY_V1_BAD_ADDRESS;
        in6->sin6_family = AF_INET6;
        return PROXY_DONE;
    case FIELD_PORT:
        if (!v1_port(p, n, complete, &port))
            return PROXY_V1_BAD_PORT;
        if (ss->ss_family == AF_INET)
            in4->sin_port = htons(port);
        else
            in6->sin6_port = htons(port);
        return PROXY_DONE;
    }
    assert(!"unknown v1 field");
    return PROXY_V1_BAD_SYNTAX;
}

/* "src dst sport dport\r\n" from `pos`, for TCP4 (`v6` false) or TCP6. */
static enum proxy_result v1_tcp(const struct v1_scan *s, size_t pos, bool v6,
                                struct proxy_header *h)
{
    enum v1_field_kind addr = v6 ? FIELD_ADDR6 : FIELD_ADDR4;
    const enum v1_field_kind kinds[4] = {addr, addr, FIELD_PORT, FIELD_PORT};
    h->family = v6 ? PROXY_FAMILY_INET6 : PROXY_FAMILY_INET;
    h->transport = PROXY_TRANSPORT_STREAM;
    for (unsigned i = 0; i < 4; i++) {
        size_t end = v1_token_end(s, pos);
        bool complete = end < s->len;
        if (complete && end == pos)
            return PROXY_V1_BAD_SYNTAX; /* two spaces, or a field missing */
        enum proxy_result r = v1_field(s->buf + pos, end - pos, complete, kinds[i], i, h);
        if (r != PROXY_DONE)
            return r;
        if (!complete)
            return v1_incomplete(s);
        if (s->buf[end] != (i < 3 ? ' ' : '\r'))
            return PROXY_V1_BAD_SYNTAX;
        if (i == 3)
            return v1_line_end(s, end, h);
        pos = end + 1;
    }
    assert(!"unreachable");
    return PROXY_V1_BAD_SYNTAX;
}

/* After "UNKNOWN": anything but CR and LF up to the CRLF (`pos` is the byte after the word). */
static enum proxy_result v1_unknown(const struct v1_scan *s, size_t pos, struct proxy_header *h)
{
    h->family = PROXY_FAMILY_UNSPEC;
    h->transport = PROXY_TRANSPORT_UNSPEC;
    if (s->buf[pos] == ' ') {
        pos++;
        while (pos < s->len && s->buf[pos] != '\r' && s->buf[pos] != '\n')
            pos++;
        if (pos == s->len)
            return v1_incomplete(s);
    }
    if (s->buf[pos] != '\r')
        return PROXY_V1_BAD_SYNTAX;
    return v1_line_end(s, pos, h);
}

/* Index of the protocol word, -1 when it is none; with `complete` false, of the first one
 * it is a prefix of. */
static int v1_protocol(const uint8_t *p, size_t n, bool complete)
{
    for (size_t i = 0; i < sizeof v1_protocols / sizeof v1_protocols[0]; i++) {
        size_t want = strlen(v1_protocols[i]);
        if (complete ? n == want : n <= want)
            if (memcmp(p, v1_protocols[i], n) == 0)
                return (int)i;
    }
    return -1;
}

enum proxy_result proxy_v1_parse(const uint8_t *buf, size_t len, struct proxy_header *out)
{
    assert(len >= PROXY_V1_SIGNATURE_BYTES);
    assert(memcmp(buf, PROXY_V1_SIGNATURE, PROXY_V1_SIGNATURE_BYTES) == 0);
    struct v1_scan s = {
        .buf = buf,
        .len = len < PROXY_V1_BYTES_MAX ? len : PROXY_V1_BYTES_MAX,
        .window_full = len >= PROXY_V1_BYTES_MAX,
    };
    struct proxy_header h = {.version = 1, .command = PROXY_COMMAND_PROXY};
    size_t pos = PROXY_V1_SIGNATURE_BYTES;
    size_t end = v1_token_end(&s, pos);
    bool complete = end < s.len;
    int protocol = v1_protocol(buf + pos, end - pos, complete);
    if (protocol < 0)
        return PROXY_V1_BAD_SYNTAX;
    if (!complete)
        return v1_incomplete(&s);
    enum proxy_result r;
    if (protocol == 2) {
        r = v1_unknown(&s, end, &h);
    } else {
        if (buf[end] != ' ')
            return PROXY_V1_BAD_SYNTAX;
        r = v1_tcp(&s, end + 1, protocol == 1, &h);
    }
    if (r == PROXY_DONE)
        *out = h;
    return r;
}
