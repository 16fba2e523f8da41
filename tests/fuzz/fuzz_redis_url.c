/* libFuzzer target for storage/redis_url. Besides "never crash" it checks what the contract
 * promises:
 *   - a refusal says so in a sentence starting "bad redis_url: ";
 *   - an accepted TCP URL names an IP address inet_pton accepts, a port 1..65535 and a db
 *     within the limit; an accepted unix URL an absolute path that fits sun_path;
 *   - an accepted URL written back in canonical form (credentials %-encoded) parses to the
 *     same fields, and its description is the address or path and the db, nothing else.
 * Seeds: tests/fuzz/corpus/redis_url/. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

/* Appends `text` %-encoding everything but unreserved characters. */
static size_t encode(char *out, size_t at, size_t cap, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_';
        require(at + 4 < cap);
        if (plain) {
            out[at++] = (char)*p;
        } else {
            out[at++] = '%';
            out[at++] = hex[*p >> 4];
            out[at++] = hex[*p & 15];
        }
    }
    out[at] = '\0';
    return at;
}

static void canonical(const struct redis_url *u, char *out, size_t cap)
{
    size_t n;
    if (u->unix_socket) {
        n = (size_t)snprintf(out, cap, "unix:%s", u->path);
        if (u->db > 0)
            snprintf(out + n, cap - n, "?db=%d", u->db);
        return;
    }
    n = (size_t)snprintf(out, cap, "redis://");
    if (u->password[0] != '\0') {
        n = encode(out, n, cap, u->user);
        out[n++] = ':';
        n = encode(out, n, cap, u->password);
        out[n++] = '@';
    }
    bool v6 = strchr(u->address, ':') != NULL;
    snprintf(out + n, cap - n, v6 ? "[%s]:%d/%d" : "%s:%d/%d", u->address, u->port, u->db);
}

static bool same(const struct redis_url *a, const struct redis_url *b)
{
    return a->unix_socket == b->unix_socket && strcmp(a->address, b->address) == 0 &&
           a->port == b->port && strcmp(a->path, b->path) == 0 && strcmp(a->user, b->user) == 0 &&
           strcmp(a->password, b->password) == 0 && a->db == b->db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[REDIS_URL_BYTES_MAX + 64];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    struct redis_url url;
    char err[REDIS_URL_ERROR_BYTES];
    if (redis_url_parse(text, &url, err) != 0) {
        require(strncmp(err, "bad redis_url: ", 15) == 0);
        return 0;
    }
    if (url.unix_socket) {
        require(url.path[0] == '/' && strlen(url.path) < REDIS_URL_PATH_BYTES);
    } else {
        unsigned char addr[16];
        require(inet_pton(strchr(url.address, ':') ? AF_INET6 : AF_INET, url.address, addr) == 1);
        require(url.port >= 1 && url.port <= 65535);
    }
    require(url.db >= 0 && url.db <= REDIS_URL_DB_MAX);
    char again_text[3 * REDIS_URL_BYTES_MAX];
    canonical(&url, again_text, sizeof again_text);
    struct redis_url again;
    if (strlen(again_text) < REDIS_URL_BYTES_MAX) {
        require(redis_url_parse(again_text, &again, err) == 0);
        require(same(&url, &again));
    }
    /* The description is made of the address or path and the db only: no credentials. */
    char described[256], expected[256];
    redis_url_describe(&url, described, sizeof described);
    if (url.unix_socket)
        snprintf(expected, sizeof expected, "unix:%s db=%d", url.path, url.db);
    else if (strchr(url.address, ':') != NULL)
        snprintf(expected, sizeof expected, "[%s]:%d db=%d", url.address, url.port, url.db);
    else
        snprintf(expected, sizeof expected, "%s:%d db=%d", url.address, url.port, url.db);
    require(strcmp(described, expected) == 0);
    return 0;
}
