/* jwt_keys items to a key set: split `kid:alg:path`, read the file (bounded, regular files
 * only, so a FIFO or a device cannot hang the start), hand the bytes to gateway/jwt. Every
 * buffer that held a secret is wiped before it is released.
 */
#include "gateway/auth_keys.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { AUTH_WHY_BYTES = 384 };

/* One jwt_keys item, split. `path` points into the item. */
struct auth_item {
    char kid[JWT_KID_BYTES_MAX + 1];
    enum jwt_alg alg;
    const char *path;
};

/* Splits "kid:alg:path" (the path may hold ':'). Returns 0, or -1 with `why`. */
static int auth_item_parse(const char *item, struct auth_item *out, char why[AUTH_WHY_BYTES])
{
    const char *colon1 = strchr(item, ':');
    const char *colon2 = colon1 != NULL ? strchr(colon1 + 1, ':') : NULL;
    if (colon2 == NULL) {
        snprintf(why, AUTH_WHY_BYTES,
                 "expected kid:alg:path, e.g. main:hs256:/etc/tidegate/jwt.key (the kid may be "
                 "empty: :hs256:/etc/tidegate/jwt.key)");
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
    if (colon2[1] == '\0') {
        snprintf(why, AUTH_WHY_BYTES, "the path of the key file is missing");
        return -1;
    }
    memcpy(out->kid, item, kid_len);
    out->kid[kid_len] = '\0';
    out->path = colon2 + 1;
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

/* Reads one item's file and adds its key. Returns 0, or -1 with why. */
static int auth_add_key(struct jwt_keyset *ks, const struct auth_item *item,
                        char why[AUTH_WHY_BYTES])
{
    static_assert(JWT_PEM_BYTES_MAX >= JWT_SECRET_BYTES_MAX + 2, "buffer too small");
    unsigned char buf[JWT_PEM_BYTES_MAX + 1];
    bool hmac = item->alg == JWT_ALG_HS256;
    size_t cap = hmac ? JWT_SECRET_BYTES_MAX + 2 : JWT_PEM_BYTES_MAX; /* + "\r\n" */
    ssize_t len = auth_read_file(item->path, buf, cap, why);
    if (len < 0)
        return -1;
    char jwt_err[JWT_KEY_ERROR_BYTES];
    int ret;
    if (hmac)
        ret = jwt_keyset_add_hmac(ks, item->kid, buf, auth_secret_len(buf, (size_t)len), jwt_err);
    else
        ret = jwt_keyset_add_pem(ks, item->kid, item->alg, (const char *)buf, (size_t)len, jwt_err);
    explicit_bzero(buf, sizeof buf);
    if (ret != 0)
        snprintf(why, AUTH_WHY_BYTES, "%.120s: %.250s", item->path, jwt_err);
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
            snprintf(err, CONFIG_ERROR_BYTES, "jwt_keys item \"%.160s\": %.320s", text, why);
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
