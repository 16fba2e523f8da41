/* jwt_keys items to a key set: split `kid:alg:source`, get the key's bytes from its source
 * (a file: bounded, regular files only, so a FIFO or a device cannot hang the start; an
 * environment variable; inline base64), hand them to gateway/jwt. Every buffer that held a
 * secret is wiped before it is released.
 *
 * Own header first: it pulls in glibc's features.h before wolfssl/options.h (see
 * gateway/jwt_keys.c); options.h must precede every wolfCrypt header.
 */
#include "gateway/auth_keys.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { AUTH_WHY_BYTES = 384, AUTH_ENV_NAME_BYTES_MAX = 128 };

enum auth_source {
    AUTH_FILE,   /* a path */
    AUTH_ENV,    /* env:NAME */
    AUTH_BASE64, /* base64:TEXT */
};

/* One jwt_keys item, split. `ref` points into the item: the path, the variable's name or
 * the base64 text. */
struct auth_item {
    char kid[JWT_KID_BYTES_MAX + 1];
    enum jwt_alg alg;
    enum auth_source source;
    const char *ref;
};

static bool auth_env_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > AUTH_ENV_NAME_BYTES_MAX || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!(ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

/* Splits "kid:alg:source" (a path may hold ':'). Returns 0, or -1 with `why`. */
static int auth_item_parse(const char *item, struct auth_item *out, char why[AUTH_WHY_BYTES])
{
    const char *colon1 = strchr(item, ':');
    const char *colon2 = colon1 != NULL ? strchr(colon1 + 1, ':') : NULL;
    if (colon2 == NULL) {
        snprintf(why, AUTH_WHY_BYTES,
                 "expected kid:alg:path, kid:alg:env:VARIABLE or kid:alg:base64:KEY, e.g. "
                 "main:hs256:/etc/tidegate/jwt.key (the kid may be empty: "
                 ":hs256:/etc/tidegate/jwt.key)");
        return -1;
    }
    size_t kid_len = (size_t)(colon1 - item);
    if (kid_len > JWT_KID_BYTES_MAX) {
        snprintf(why, AUTH_WHY_BYTES, "the kid is %zu bytes long; at most %d are allowed", kid_len,
                 JWT_KID_BYTES_MAX);
        return -1;
    }
    size_t alg_len = (size_t)(colon2 - colon1 - 1);
    if (!jwt_alg_parse(colon1 + 1, alg_len, &out->alg)) {
        snprintf(why, AUTH_WHY_BYTES, "the algorithm \"%.*s\" is not one of hs256, rs256, es256",
                 (int)(alg_len < 32 ? alg_len : 32), colon1 + 1);
        return -1;
    }
    const char *source = colon2 + 1;
    if (strncmp(source, "env:", 4) == 0) {
        out->source = AUTH_ENV;
        out->ref = source + 4;
        if (!auth_env_name_ok(out->ref)) {
            snprintf(why, AUTH_WHY_BYTES,
                     "env: needs the name of an environment variable (letters, digits and _, "
                     "not starting with a digit, at most %d)",
                     AUTH_ENV_NAME_BYTES_MAX);
            return -1;
        }
    } else if (strncmp(source, "base64:", 7) == 0) {
        out->source = AUTH_BASE64;
        out->ref = source + 7;
        if (out->ref[0] == '\0') {
            snprintf(why, AUTH_WHY_BYTES, "base64: is followed by nothing");
            return -1;
        }
    } else {
        out->source = AUTH_FILE;
        out->ref = source;
        if (source[0] == '\0') {
            snprintf(why, AUTH_WHY_BYTES, "the path of the key file is missing");
            return -1;
        }
    }
    memcpy(out->kid, item, kid_len);
    out->kid[kid_len] = '\0';
    return 0;
}

/* Reads a regular file of at most `cap` bytes into buf, which has room for cap + 1 (the
 * extra byte tells a file that is too large). Returns the length, or -1 with why (a larger
 * file, an empty one, and anything but a regular file are refused). */
static ssize_t auth_read_file(const char *path, unsigned char *buf, size_t cap,
                              char why[AUTH_WHY_BYTES])
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just after. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(why, AUTH_WHY_BYTES, "cannot open %.200s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, AUTH_WHY_BYTES, "%.200s is not a regular file", path);
        close(fd);
        return -1;
    }
    size_t len = 0;
    int read_errno = 0;
    while (len <= cap) {
        ssize_t n = read(fd, buf + len, cap + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            read_errno = n < 0 ? errno : 0;
            break;
        }
        len += (size_t)n;
    }
    close(fd); /* read-only: nothing to lose */
    if (read_errno != 0)
        snprintf(why, AUTH_WHY_BYTES, "cannot read %.200s: %s", path, strerror(read_errno));
    else if (len > cap)
        snprintf(why, AUTH_WHY_BYTES, "%.200s is larger than %zu bytes", path, cap);
    else if (len == 0)
        snprintf(why, AUTH_WHY_BYTES, "%.200s is empty", path);
    else
        return (ssize_t)len;
    return -1;
}

/* Copies the value of the environment variable `name` (at most `cap` bytes, not empty) into
 * buf. Returns the length, or -1 with why. */
static ssize_t auth_read_env(const char *name, unsigned char *buf, size_t cap,
                             char why[AUTH_WHY_BYTES])
{
    const char *value = getenv(name);
    if (value == NULL) {
        snprintf(why, AUTH_WHY_BYTES, "the environment variable %s is not set", name);
        return -1;
    }
    size_t len = strlen(value);
    if (len == 0 || len > cap) {
        snprintf(why, AUTH_WHY_BYTES,
                 "the environment variable %s holds %zu bytes; expected 1 to %zu", name, len, cap);
        return -1;
    }
    memcpy(buf, value, len);
    return (ssize_t)len;
}

/* Decodes base64 (standard or URL-safe alphabet, padding optional, no whitespace) into buf
 * (room for cap bytes). Returns the length, or -1 with why. */
static ssize_t auth_decode_base64(const char *text, unsigned char *buf, size_t cap,
                                  char why[AUTH_WHY_BYTES])
{
    size_t len = strlen(text);
    char std[JWT_PEM_BYTES_MAX + 4];
    if (len > JWT_PEM_BYTES_MAX) {
        snprintf(why, AUTH_WHY_BYTES, "the base64 text has %zu characters; at most %d", len,
                 JWT_PEM_BYTES_MAX);
        return -1;
    }
    size_t n = 0, padding = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        bool alphabet = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                        (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '-' ||
                        ch == '_';
        /* wolfCrypt's decoder skips whitespace; the option's value must not hold any. */
        if ((!alphabet && ch != '=') || (alphabet && padding > 0) || padding > 2) {
            n = 0;
            break;
        }
        padding += ch == '=';
        std[n++] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    }
    while (n % 4 != 0)
        std[n++] = '=';
    word32 out_len = (word32)cap;
    int ret = n > 0 ? Base64_Decode((const byte *)std, (word32)n, buf, &out_len) : -1;
    explicit_bzero(std, sizeof std);
    if (ret != 0 || out_len == 0) {
        snprintf(why, AUTH_WHY_BYTES,
                 "base64: is not valid base64 (A-Z a-z 0-9 + / or - _, padding optional, no "
                 "spaces) or decodes to more than %zu bytes",
                 cap);
        return -1;
    }
    return (ssize_t)out_len;
}

/* The secret's length once the line break ending a one-line text file is dropped (see the
 * top of auth_keys.h); any other file keeps every byte. */
static size_t auth_secret_len(const unsigned char *buf, size_t len)
{
    size_t text_len = len;
    if (text_len > 0 && buf[text_len - 1] == '\n')
        text_len--;
    if (text_len > 0 && buf[text_len - 1] == '\r' && text_len < len)
        text_len--;
    for (size_t i = 0; i < text_len; i++)
        if ((buf[i] < 0x20 || buf[i] > 0x7e) && buf[i] != '\t')
            return len;
    return text_len;
}

/* Gets one item's key from its source and adds it. Returns 0, or -1 with why. */
static int auth_add_key(struct jwt_keyset *ks, const struct auth_item *item,
                        char why[AUTH_WHY_BYTES])
{
    static_assert(JWT_PEM_BYTES_MAX >= JWT_SECRET_BYTES_MAX + 2, "buffer too small");
    static_assert(JWT_PEM_BYTES_MAX >= JWT_KEY_DER_BYTES_MAX, "buffer too small");
    unsigned char buf[JWT_PEM_BYTES_MAX + 1];
    bool hmac = item->alg == JWT_ALG_HS256;
    ssize_t len;
    switch (item->source) {
    case AUTH_FILE:
        len = auth_read_file(item->ref, buf, hmac ? JWT_SECRET_BYTES_MAX + 2 : JWT_PEM_BYTES_MAX,
                             why); /* + "\r\n" */
        break;
    case AUTH_ENV:
        len = auth_read_env(item->ref, buf, hmac ? JWT_SECRET_BYTES_MAX : JWT_PEM_BYTES_MAX, why);
        break;
    case AUTH_BASE64:
        len = auth_decode_base64(item->ref, buf,
                                 hmac ? JWT_SECRET_BYTES_MAX : JWT_KEY_DER_BYTES_MAX, why);
        break;
    default:
        assert(!"unknown key source");
        return -1;
    }
    if (len < 0) {
        explicit_bzero(buf, sizeof buf);
        return -1;
    }
    char jwt_err[JWT_KEY_ERROR_BYTES];
    int ret;
    if (hmac) {
        /* A file's trailing line break is dropped (auth_keys.h); a variable's or a decoded
         * value's bytes are used as they are. */
        size_t secret_len =
            item->source == AUTH_FILE ? auth_secret_len(buf, (size_t)len) : (size_t)len;
        ret = jwt_keyset_add_hmac(ks, item->kid, buf, secret_len, jwt_err);
    } else if (item->source == AUTH_BASE64) {
        ret = jwt_keyset_add_der(ks, item->kid, item->alg, buf, (size_t)len, jwt_err);
    } else {
        ret = jwt_keyset_add_pem(ks, item->kid, item->alg, (const char *)buf, (size_t)len, jwt_err);
    }
    explicit_bzero(buf, sizeof buf);
    if (ret != 0) {
        if (item->source == AUTH_FILE)
            snprintf(why, AUTH_WHY_BYTES, "%.120s: %.250s", item->ref, jwt_err);
        else if (item->source == AUTH_ENV)
            snprintf(why, AUTH_WHY_BYTES, "environment variable %.100s: %.250s", item->ref,
                     jwt_err);
        else
            snprintf(why, AUTH_WHY_BYTES, "%.250s", jwt_err);
    }
    return ret;
}

int gw_auth_load(const struct gw_options *o, struct jwt_keyset *ks, struct jwt_policy *policy,
                 char err[CONFIG_ERROR_BYTES])
{
    assert(o != NULL && ks != NULL);
    assert(policy != NULL && err != NULL);
    jwt_keyset_init(ks);
    if (o->jwt_keys.count > JWT_KEYS_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES, "jwt_keys: %zu keys; at most %d are allowed",
                 o->jwt_keys.count, JWT_KEYS_MAX);
        return -1;
    }
    for (size_t i = 0; i < o->jwt_keys.count; i++) {
        const char *text = o->jwt_keys.items[i];
        struct auth_item item;
        char why[AUTH_WHY_BYTES];
        if (auth_item_parse(text, &item, why) != 0 || auth_add_key(ks, &item, why) != 0) {
            /* An inline key is a secret: the item is shown up to "base64:" only. */
            const char *inline_key = strstr(text, "base64:");
            int shown = inline_key != NULL ? (int)(inline_key - text) + 7 : 160;
            snprintf(err, CONFIG_ERROR_BYTES, "jwt_keys item \"%.*s%s\": %.320s",
                     shown < 160 ? shown : 160, text, inline_key != NULL ? "..." : "", why);
            jwt_keyset_free(ks);
            return -1;
        }
    }
    assert(ks->count == o->jwt_keys.count);
    assert(o->jwt_leeway_ms / 1000 <= JWT_LEEWAY_S_MAX);
    *policy = (struct jwt_policy){
        .audience = o->jwt_audience,
        .issuer = o->jwt_issuer,
        .leeway_s = (uint32_t)(o->jwt_leeway_ms / 1000),
        .require_exp = true,
        .token_bytes_max = (size_t)o->max_token_bytes,
    };
    return 0;
}
