/* PROXY protocol v1 and v2 (HAProxy's proxy-protocol.txt): the header an L4 load balancer
 * sends before the client's first byte to announce the client's real address.
 *
 * Strict, incremental, allocation-free, like core/http.h: proxy_parse() looks at the bytes
 * received so far from the start of the connection and answers
 *   PROXY_NEED_MORE  the bytes are a proper prefix of a header (or of a signature): read more;
 *   PROXY_DONE       a whole header, `header_bytes` long; what follows is the client's data;
 *   PROXY_ABSENT     the bytes cannot start either signature ("PROXY " or the v2 12 bytes);
 *   an error         a header was announced but is malformed, with a stable name for logs
 *                    and metrics (proxy_result_name).
 * A prefix of a valid header is always NEED_MORE. An error is reported as soon as the bytes
 * that show it have arrived (a v2 length over the limit as soon as the 16-byte fixed part is
 * there), and a prefix gives NEED_MORE or the same answer as the whole input. Parsing again
 * after more bytes arrive is cheap (headers are bounded, see below), so the parser keeps no
 * state: the caller keeps the bytes (at most `header_bytes_max`) until the answer is not
 * NEED_MORE.
 *
 * Limits: a v1 line is at most 107 bytes with its CRLF (the protocol's own bound); a v2 header
 * is at most `header_bytes_max` bytes, its 16-byte fixed part included (PROXY_V2_BYTES_DEFAULT,
 * 1 KiB, is more than any load balancer sends without client certificates).
 *
 * v1: "PROXY TCP4|TCP6 src dst sport dport\r\n" with addresses in their text form (IPv4
 * dotted decimal without leading zeros, IPv6 as inet_pton reads it, no zone), ports decimal
 * 0..65535 without leading zeros, single spaces; or "PROXY UNKNOWN" followed by anything up to
 * CRLF (no bare CR or LF): the connection is relayed but its addresses are not told.
 *
 * v2: signature, version 2, command LOCAL (0) or PROXY (1), family and transport, length,
 * addresses, TLVs.
 *   LOCAL: the balancer's own connection (health checks). The family byte and the whole body
 *          are ignored, as the protocol requires: use the socket's addresses.
 *   PROXY with family UNSPEC (0x00): addresses not told; the body is skipped likewise.
 *   PROXY with INET or INET6 over STREAM or DGRAM: the addresses, then TLVs, all checked.
 *   PROXY with UNIX (0x31, 0x32): the 216 address bytes are skipped (no IP to tell), TLVs
 *          checked; the addresses reported are none.
 *   Any other family/transport byte with PROXY is an error, as the protocol requires.
 * TLVs must tile the rest of the header exactly (each is type, 16-bit length, value). Known
 * types are checked and reported; each may appear once (NOOP any number of times):
 *   ALPN (0x01) 1..255 bytes; AUTHORITY (0x02) 1..255 bytes of UTF-8; CRC32C (0x03) exactly
 *   4 bytes, the CRC-32C of the whole header with this value taken as zero, verified; NOOP
 *   (0x04) anything, ignored; UNIQUE_ID (0x05) 0..128 bytes; SSL (0x20) client flags (1 byte),
 *   verify result (4 bytes) and sub-TLVs that must tile the rest, of which VERSION (0x21), CN
 *   (0x22), CIPHER (0x23), SIG_ALG (0x24) and KEY_ALG (0x25) are reported (once each) and
 *   others skipped; NETNS (0x30) 1..255 bytes of printable ASCII.
 * Unknown types (AWS 0xEA, Azure 0xEE, the custom ranges...) are skipped and counted.
 */
#ifndef TIDEGATE_CORE_PROXY_PROTO_H
#define TIDEGATE_CORE_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
    PROXY_V1_BYTES_MAX = 107,      /* the protocol's bound for a v1 line, CRLF included */
    PROXY_V2_FIXED_BYTES = 16,     /* signature, version/command, family, length */
    PROXY_V2_BYTES_DEFAULT = 1024, /* default header_bytes_max */
    PROXY_V2_BYTES_MIN = 256,      /* smallest sane limit: a UNIX header with a few TLVs */
    PROXY_V2_BYTES_MAX = PROXY_V2_FIXED_BYTES + 65535, /* the 16-bit length's own bound */
    PROXY_SIGNATURE_BYTES_MAX = 12, /* bytes that decide PROXY_ABSENT at the latest */
};

enum proxy_result {
    PROXY_DONE = 0,
    PROXY_NEED_MORE,
    PROXY_ABSENT,         /* no header: not a signature (optional mode: the bytes are data) */
    PROXY_V1_TOO_LONG,    /* no CRLF within 107 bytes */
    PROXY_V1_BAD_SYNTAX,  /* protocol word, spaces, number of fields, bare CR or LF */
    PROXY_V1_BAD_ADDRESS, /* not an address of the announced family */
    PROXY_V1_BAD_PORT,    /* not 0..65535 in decimal without leading zeros */
    PROXY_V2_BAD_VERSION, /* version nibble is not 2 */
    PROXY_V2_BAD_COMMAND, /* command is neither LOCAL nor PROXY */
    PROXY_V2_BAD_FAMILY,  /* PROXY with an unassigned family/transport byte */
    PROXY_V2_TOO_LONG,    /* the announced length passes header_bytes_max */
    PROXY_V2_BAD_LENGTH,  /* the announced length cannot hold the family's addresses */
    PROXY_V2_TLV_OVERRUN, /* a TLV or SSL sub-TLV header or value runs past its container */
    PROXY_V2_TLV_VALUE,   /* a known TLV with a wrong length or content, or given twice */
    PROXY_V2_BAD_CRC32C,  /* the CRC32C TLV does not match the header */
    PROXY_RESULT_COUNT,
};

enum proxy_command {
    PROXY_COMMAND_LOCAL = 0, /* v2 LOCAL: a health check; use the socket's addresses */
    PROXY_COMMAND_PROXY = 1, /* relayed (every v1 header, UNKNOWN included) */
};

enum proxy_family {
    PROXY_FAMILY_UNSPEC = 0, /* v1 UNKNOWN, v2 UNSPEC, v2 LOCAL */
    PROXY_FAMILY_INET = 1,
    PROXY_FAMILY_INET6 = 2,
    PROXY_FAMILY_UNIX = 3,
};

enum proxy_transport {
    PROXY_TRANSPORT_UNSPEC = 0,
    PROXY_TRANSPORT_STREAM = 1, /* TCP: every v1 TCP4/TCP6 header */
    PROXY_TRANSPORT_DGRAM = 2,
};

/* SSL sub-TLV client flags (PP2_CLIENT_*). */
enum {
    PROXY_SSL_CLIENT_SSL = 0x01,       /* the client connected over TLS */
    PROXY_SSL_CLIENT_CERT_CONN = 0x02, /* it presented a certificate on this connection */
    PROXY_SSL_CLIENT_CERT_SESS = 0x04, /* ... or earlier in the resumed session */
};

/* Bytes inside the caller's buffer; len 0 (and ptr NULL) when absent. */
struct proxy_span {
    const uint8_t *ptr;
    size_t len;
};

struct proxy_ssl {
    bool present;    /* the SSL TLV was sent */
    uint8_t client;  /* PROXY_SSL_CLIENT_* bits */
    uint32_t verify; /* 0: the client certificate was verified (when one was presented) */
    struct proxy_span version, cn, cipher, sig_alg, key_alg;
};

/* What a header says. Spans point into the buffer given to proxy_parse, which must stay
 * unchanged while they are used; the addresses are copies. */
struct proxy_header {
    uint8_t version;   /* 1 or 2 */
    uint8_t command;   /* enum proxy_command */
    uint8_t family;    /* enum proxy_family (v2 UNIX: the header said UNIX, src/dst are none) */
    uint8_t transport; /* enum proxy_transport */
    /* The relayed connection's endpoints, AF_INET or AF_INET6 with the port set, exactly as
     * sent (an IPv4-mapped IPv6 address stays AF_INET6). ss_family is AF_UNSPEC when the
     * header tells no IP address (LOCAL, UNKNOWN, UNSPEC, UNIX): use the socket's own. */
    struct sockaddr_storage src, dst;
    size_t header_bytes; /* bytes the header took; the client's data starts there */
    /* v2 TLVs (all absent for v1). */
    struct proxy_span alpn, authority, unique_id, netns;
    bool crc32c_verified; /* a CRC32C TLV was there and matched */
    struct proxy_ssl ssl;
    uint32_t tlv_unknown_count; /* TLVs of types not listed above, skipped */
};

/* Parses the header at the start of `buf` (`len` bytes received so far). `header_bytes_max`
 * bounds a v2 header (PROXY_V2_BYTES_MIN..PROXY_V2_BYTES_MAX). `out` is filled only on
 * PROXY_DONE. */
enum proxy_result proxy_parse(const uint8_t *buf, size_t len, size_t header_bytes_max,
                              struct proxy_header *out);

/* A short stable name for a result, for logs and metric labels ("v2_bad_crc32c"). */
const char *proxy_result_name(enum proxy_result result);

/* The client's address for limits, logs and metrics: the header's source when it tells one,
 * otherwise `socket_peer` (the address accept() gave). Returns the length of the address
 * copied to `out`. */
socklen_t proxy_client_address(const struct proxy_header *h, const struct sockaddr *socket_peer,
                               socklen_t socket_peer_len, struct sockaddr_storage *out);

/* Where a listener expects a header (option `proxy_protocol`). */
enum proxy_mode {
    PROXY_MODE_OFF = 0,  /* never: the first bytes are the client's (TLS or HTTP) */
    PROXY_MODE_OPTIONAL, /* a trusted peer may send one: parse it if the bytes start with a
                            signature (PROXY_ABSENT: they are the client's) */
    PROXY_MODE_REQUIRED, /* every connection must come from a trusted peer with a header */
};

/* Names in enum order, NULL-terminated, for the option's enum values. */
extern const char *const proxy_mode_names[];

/* What the connection code does with a new connection, from the mode and whether the peer
 * (the address accept() gave) is in the trusted ranges (core/cidr.h):
 *
 *   mode      trusted peer            untrusted peer
 *   off       PROXY_EXPECT_NONE       PROXY_EXPECT_NONE
 *   optional  PROXY_EXPECT_MAYBE      PROXY_EXPECT_NONE  (its bytes are never read as a header)
 *   required  PROXY_EXPECT_HEADER     PROXY_EXPECT_REFUSE
 */
enum proxy_expect {
    PROXY_EXPECT_NONE,   /* no header: the bytes are the client's */
    PROXY_EXPECT_MAYBE,  /* parse; PROXY_ABSENT means the bytes are the client's */
    PROXY_EXPECT_HEADER, /* parse; PROXY_ABSENT is a refusal like any error */
    PROXY_EXPECT_REFUSE, /* close without reading */
};

enum proxy_expect proxy_mode_expect(enum proxy_mode mode, bool peer_trusted);

#endif
