/* Parsing the redis_url option: see redis_url.h. Strict on purpose: a URL this refuses
 * says why, while one it half-understood would connect somewhere unexpected. */
#include "storage/redis_url.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { REDIS_DEFAULT_PORT = 6379 };

static int url_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* %-decodes text[0..len) into out (out_bytes with the NUL). Returns false when an escape is
 * malformed, the result holds a NUL byte, or it does not fit. */
static bool url_decode(const char *text, size_t len, char *out, size_t out_bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)text[i];
        if (ch == '%') {
            if (i + 2 >= len)
                return false;
            int hi = url_hex(text[i + 1]), lo = url_hex(text[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0 || n + 1 >= out_bytes)
            return false;
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return true;
}

/* Digits only, value in [min, max]. */
static bool url_number(const char *text, size_t len, long min, long max, int *out)
{
    if (len == 0 || len > 9)
        return false;
    long value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (text[i] - '0');
    }
    if (value < min || value > max)
        return false;
    *out = (int)value;
    return true;
}

static int url_fail(char err[REDIS_URL_ERROR_BYTES], const char *what)
{
    snprintf(err, REDIS_URL_ERROR_BYTES, "bad redis_url: %s", what);
    return -1;
}

/* "user:password" or ":password" before the '@'. */
static int url_parse_userinfo(const char *text, size_t len, struct redis_url *out,
                              char err[REDIS_URL_ERROR_BYTES])
{
    const char *colon = memchr(text, ':', len);
    if (colon == NULL)
        return url_fail(err, "put a colon before the password (redis://:PASSWORD@ADDRESS, or "
                             "redis://USER:PASSWORD@ADDRESS)");
    size_t user_len = (size_t)(colon - text);
    if (!url_decode(text, user_len, out->user, sizeof out->user))
        return url_fail(err, "the user name is malformed (%-escapes, NUL) or longer than 127 "
                             "bytes");
    if (!url_decode(colon + 1, len - user_len - 1, out->password, sizeof out->password))
        return url_fail(err, "the password is malformed (%-escapes, NUL) or longer than 255 "
                             "bytes");
    if (out->password[0] == '\0')
        return url_fail(err, "the password is empty (leave out the '@' part for no AUTH)");
    return 0;
}

/* ADDRESS[:port] */
static int url_parse_hostport(const char *text, size_t len, struct redis_url *out,
                              char err[REDIS_URL_ERROR_BYTES])
{
    const char *host = text;
    size_t host_len;
    const char *rest;
    if (len > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', len);
        if (close == NULL)
            return url_fail(err, "an IPv6 address opened with '[' is not closed with ']'");
        host = text + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
    } else {
        const char *colon = memchr(text, ':', len);
        host_len = colon != NULL ? (size_t)(colon - text) : len;
        rest = text + host_len;
    }
    size_t rest_len = len - (size_t)(rest - text);
    if (host_len == 0)
        return url_fail(err, "no address (redis://127.0.0.1:6379)");
    if (host_len >= sizeof out->address)
        return url_fail(err, "the address is too long to be an IP address");
    memcpy(out->address, host, host_len);
    out->address[host_len] = '\0';
    unsigned char buf[sizeof(struct in6_addr)];
    bool v6 = text[0] == '[';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, out->address, buf) != 1)
        return url_fail(err, v6 ? "the address in brackets is not an IPv6 address"
                                : "the host must be an IP address, not a name: names are "
                                  "resolved with a blocking getaddrinfo, which would stall a "
                                  "worker (resolve it before, e.g. redis://10.0.0.5:6379)");
    out->port = REDIS_DEFAULT_PORT;
    if (rest_len == 0)
        return 0;
    if (rest[0] != ':' || !url_number(rest + 1, rest_len - 1, 1, 65535, &out->port))
        return url_fail(err, "the port must be a number from 1 to 65535 after the address");
    return 0;
}

static int url_parse_tcp(const char *text, struct redis_url *out, char err[REDIS_URL_ERROR_BYTES])
{
    size_t len = strlen(text);
    const char *slash = memchr(text, '/', len);
    size_t authority_len = slash != NULL ? (size_t)(slash - text) : len;
    if (memchr(text, '?', len) != NULL || memchr(text, '#', len) != NULL)
        return url_fail(err, "query strings and fragments are not understood in redis:// URLs");
    if (slash != NULL) {
        size_t db_len = len - authority_len - 1;
        if (db_len > 0 && !url_number(slash + 1, db_len, 0, REDIS_URL_DB_MAX, &out->db))
            return url_fail(err, "the path must be a database number (redis://ADDRESS/0)");
    }
    /* The last '@' ends the user information (a password may contain an unescaped '@'). */
    const char *at = NULL;
    for (size_t i = 0; i < authority_len; i++)
        if (text[i] == '@')
            at = text + i;
    const char *hostport = text;
    if (at != NULL) {
        if (url_parse_userinfo(text, (size_t)(at - text), out, err) != 0)
            return -1;
        hostport = at + 1;
    }
    return url_parse_hostport(hostport, authority_len - (size_t)(hostport - text), out, err);
}

static int url_parse_unix(const char *text, struct redis_url *out, char err[REDIS_URL_ERROR_BYTES])
{
    /* unix:/path and unix:///path are the same path. */
    while (text[0] == '/' && text[1] == '/')
        text++;
    size_t len = strlen(text);
    const char *query = memchr(text, '?', len);
    size_t path_len = query != NULL ? (size_t)(query - text) : len;
    if (path_len == 0 || text[0] != '/')
        return url_fail(err, "a unix socket needs an absolute path (unix:/run/redis/redis.sock)");
    if (path_len >= sizeof out->path)
        return url_fail(err, "the unix socket path is longer than 107 bytes");
    memcpy(out->path, text, path_len);
    out->path[path_len] = '\0';
    out->unix_socket = true;
    if (query == NULL)
        return 0;
    if (strncmp(query, "?db=", 4) != 0 ||
        !url_number(query + 4, strlen(query + 4), 0, REDIS_URL_DB_MAX, &out->db))
        return url_fail(err, "the only query a unix socket URL takes is ?db=N");
    return 0;
}

int redis_url_parse(const char *text, struct redis_url *out, char err[REDIS_URL_ERROR_BYTES])
{
    memset(out, 0, sizeof *out);
    if (text == NULL || text[0] == '\0')
        return url_fail(err, "empty (redis://127.0.0.1:6379 or unix:/path/to/redis.sock)");
    if (strlen(text) >= REDIS_URL_BYTES_MAX)
        return url_fail(err, "longer than 511 bytes");
    if (strncmp(text, "redis://", 8) == 0)
        return url_parse_tcp(text + 8, out, err);
    if (strncmp(text, "unix:", 5) == 0)
        return url_parse_unix(text + 5, out, err);
    if (strncmp(text, "rediss://", 9) == 0)
        return url_fail(err, "TLS to Redis (rediss://) is not supported by hiredis 0.14; use "
                             "redis:// on a private network or a local TLS tunnel");
    return url_fail(err, "it must start with redis:// or unix:");
}

void redis_url_describe(const struct redis_url *url, char *out, size_t out_bytes)
{
    assert(out_bytes > 0);
    if (url->unix_socket)
        snprintf(out, out_bytes, "unix:%s db=%d", url->path, url->db);
    else if (strchr(url->address, ':') != NULL)
        snprintf(out, out_bytes, "[%s]:%d db=%d", url->address, url->port, url->db);
    else
        snprintf(out, out_bytes, "%s:%d db=%d", url->address, url->port, url->db);
}
