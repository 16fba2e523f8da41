/* Where a Redis server is and how to log in, parsed from the `redis_url` option.
 *
 *   redis://[[user]:password@]ADDRESS[:port][/db]      TCP; port 6379 and db 0 by default
 *   unix:/absolute/path/to/redis.sock[?db=N]           a unix socket
 *
 * ADDRESS must be an IPv4 address or a bracketed IPv6 address ("[::1]"), never a host name:
 * hiredis resolves names with a blocking getaddrinfo, which would stall the worker that
 * connects (DESIGN.md: nothing blocks a worker). Resolve names before (or use the address
 * of a local proxy). User and password may be %-encoded. `rediss://` (TLS) is refused:
 * hiredis 0.14 has no TLS.
 */
#ifndef TIDEGATE_STORAGE_REDIS_URL_H
#define TIDEGATE_STORAGE_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

enum {
    REDIS_URL_BYTES_MAX = 512,
    REDIS_URL_ADDRESS_BYTES = 48, /* an IPv6 literal without brackets, NUL included */
    REDIS_URL_PATH_BYTES = 108,   /* sun_path */
    REDIS_URL_USER_BYTES = 128,   /* decoded, NUL included */
    REDIS_URL_PASSWORD_BYTES = 256,
    REDIS_URL_DB_MAX = 1000000,
    REDIS_URL_ERROR_BYTES = 256,
};

struct redis_url {
    bool unix_socket;
    char address[REDIS_URL_ADDRESS_BYTES];   /* TCP: the numeric address */
    int port;                                /* TCP: 1..65535 */
    char path[REDIS_URL_PATH_BYTES];         /* unix socket */
    char user[REDIS_URL_USER_BYTES];         /* "" = none (AUTH with the password alone) */
    char password[REDIS_URL_PASSWORD_BYTES]; /* "" = no AUTH */
    int db;                                  /* SELECTed after connecting when > 0 */
};

/* Parses `text` into `out`. Returns 0, or -1 with `err` saying what was wrong (the password
 * is never repeated in it). */
int redis_url_parse(const char *text, struct redis_url *out, char err[REDIS_URL_ERROR_BYTES]);

/* `url` for logs: the address or path and the db, without user or password. */
void redis_url_describe(const struct redis_url *url, char *out, size_t out_bytes);

#endif
