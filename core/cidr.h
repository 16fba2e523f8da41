/* Address ranges in CIDR notation, for the sources allowed to send a PROXY header
 * (option `proxy_trusted`): "10.0.0.0/8, 192.168.1.10, ::1/128, fd00::/8".
 *
 * Addresses are matched as what they are, not as how the socket spells them: an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4
 * client) is its IPv4 address, and a range written in that form with a prefix of /96 or more
 * is the IPv4 range it maps (::ffff:10.0.0.0/104 is 10.0.0.0/8). So IPv4 ranges match IPv4
 * clients over either kind of socket, and IPv6 ranges match only IPv6 clients: ::/0 is every
 * IPv6 address but no IPv4 one (trust everything with "0.0.0.0/0, ::/0").
 *
 * Parsing is strict: numeric addresses only (inet_pton: IPv4 dotted decimal without leading
 * zeros, no IPv6 zone), a prefix of 0..32 or 0..128 without leading zeros, no host bits set
 * past the prefix (10.0.0.1/8 is refused with a hint, since it usually hides a typo). An
 * address without a prefix is a single host (/32, /128). Errors are sentences naming the
 * item. Lists hold at most CIDR_LIST_MAX ranges and are matched by a linear scan: the check
 * runs once per accepted connection, and a list of trusted balancers is short.
 */
#ifndef TIDEGATE_CORE_CIDR_H
#define TIDEGATE_CORE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
    CIDR_LIST_MAX = 256,      /* ranges in a list, as many as a config list holds */
    CIDR_TEXT_BYTES_MAX = 64, /* one range as text: 45 for the longest IPv6 form, "/128" */
    CIDR_ERROR_BYTES = 192,   /* room for any error sentence */
};

/* An address as matching sees it (see above). */
struct cidr_addr {
    uint8_t family;    /* AF_INET or AF_INET6 */
    uint8_t bytes[16]; /* IPv4: bytes 0..3, the rest zero; network order */
};

struct cidr_range {
    struct cidr_addr net; /* the network address: no bits set past the prefix */
    uint8_t prefix_bits;  /* 0..32 (IPv4) or 0..128 (IPv6) */
};

struct cidr_list {
    size_t count;
    struct cidr_range ranges[CIDR_LIST_MAX];
};

/* `sa` as matching sees it. False for a family other than AF_INET and AF_INET6. */
bool cidr_addr_from_sockaddr(const struct sockaddr *sa, struct cidr_addr *out);

/* Parses one range, `len` bytes of `text` (no surrounding whitespace). Returns false with a
 * sentence in `err` (CIDR_ERROR_BYTES) on a bad one, e.g.
 *   "10.0.0.1/8": host bits are set past the /8 prefix (the network is 10.0.0.0/8) */
bool cidr_range_parse(const char *text, size_t len, struct cidr_range *out, char *err);

/* Parses a comma-separated list; items are trimmed of spaces and tabs, "" (or only
 * whitespace) is the empty list, an empty item is an error. Returns false with `err` on the
 * first bad item, leaving `out` with the ranges before it. */
bool cidr_list_parse(const char *text, struct cidr_list *out, char *err);

/* Builds a list from items already split (a config list). Same errors as above. */
bool cidr_list_from_items(const char *const *items, size_t count, struct cidr_list *out, char *err);

bool cidr_range_contains(const struct cidr_range *range, const struct cidr_addr *addr);

/* True when `sa` is in one of the ranges; false for an empty list or a non-IP address. */
bool cidr_list_contains(const struct cidr_list *list, const struct sockaddr *sa);

/* Writes the range as "net/prefix" (the normal form: IPv4 for mapped ranges, IPv6 as
 * inet_ntop writes it) into `out` of CIDR_TEXT_BYTES_MAX bytes. Returns its length. */
size_t cidr_range_format(const struct cidr_range *range, char *out);

#endif
