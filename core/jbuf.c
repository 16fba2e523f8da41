/* JSON output buffer: see jbuf.h. Every byte goes in through jbuf_raw, whose jbuf_room either
 * makes room for the whole piece or fails the buffer; one check there makes every appender
 * sticky. (A jbuf_str that fails midway leaves the pieces before the failure; the text is
 * discarded anyway.) */
#include "core/jbuf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { JBUF_FIRST_CAP = 256 };

void jbuf_init(struct jbuf *jb, size_t max_bytes)
{
    assert(max_bytes >= 1 && max_bytes < SIZE_MAX);
    jb->data = NULL;
    jb->len = 0;
    jb->cap = 0;
    jb->max = max_bytes;
    jb->failed = false;
}

void jbuf_reset(struct jbuf *jb)
{
    jb->len = 0;
    jb->failed = false;
    if (jb->data)
        jb->data[0] = '\0';
}

void jbuf_free(struct jbuf *jb)
{
    free(jb->data);
    jbuf_init(jb, jb->max);
}

/* Grows the allocation to at least `need` bytes (text plus its '\0'), doubling from the
 * current capacity so that n appends cost O(n) copying, and never beyond max + 1. */
static bool jbuf_grow(struct jbuf *jb, size_t need)
{
    size_t limit = jb->max + 1;
    assert(need <= limit && need > jb->cap);
    size_t cap = jb->cap ? jb->cap : JBUF_FIRST_CAP;
    while (cap < need && cap <= limit / 2)
        cap *= 2;
    if (cap < need || cap > limit)
        cap = limit; /* doubling would pass the limit (or the first size does): stop there */
    char *data = realloc(jb->data, cap);
    if (!data)
        return false;
    jb->data = data;
    jb->cap = cap;
    return true;
}

/* True when `n` more bytes fit (growing if needed); otherwise fails the buffer. */
static bool jbuf_room(struct jbuf *jb, size_t n)
{
    if (jb->failed)
        return false;
    assert(jb->len <= jb->max);
    if (n > jb->max - jb->len) {
        jb->failed = true;
        return false;
    }
    size_t need = jb->len + n + 1;
    if (need > jb->cap && !jbuf_grow(jb, need)) {
        jb->failed = true;
        return false;
    }
    return true;
}

void jbuf_raw(struct jbuf *jb, const void *bytes, size_t len)
{
    if (!jbuf_room(jb, len))
        return;
    if (len)
        memcpy(jb->data + jb->len, bytes, len);
    jb->len += len;
    jb->data[jb->len] = '\0';
}

void jbuf_char(struct jbuf *jb, char c)
{
    jbuf_raw(jb, &c, 1);
}

/* The escape for a byte that needs one, written to `out`; returns its length, 0 for a byte
 * that is copied as it is. */
static size_t json_escape(unsigned char c, char out[6])
{
    static const char hex[] = "0123456789abcdef";
    static const char shortcut[0x20] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c >= 0x20)
        return 0;
    out[0] = '\\';
    if (shortcut[c]) {
        out[1] = shortcut[c];
        return 2;
    }
    memcpy(out + 1, "u00", 3);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 0xf];
    return 6;
}

void jbuf_str(struct jbuf *jb, const char *s, size_t len)
{
    assert(s || len == 0);
    jbuf_char(jb, '"');
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < len; i++) {
        char esc[6];
        size_t esc_len = json_escape((unsigned char)s[i], esc);
        if (esc_len == 0)
            continue;
        jbuf_raw(jb, s + run, i - run);
        jbuf_raw(jb, esc, esc_len);
        run = i + 1;
    }
    if (run < len)
        jbuf_raw(jb, s + run, len - run);
    jbuf_char(jb, '"');
}

void jbuf_cstr(struct jbuf *jb, const char *s)
{
    assert(s);
    jbuf_str(jb, s, strlen(s));
}

void jbuf_u64(struct jbuf *jb, uint64_t value)
{
    char digits[20]; /* UINT64_MAX has 20 */
    size_t at = sizeof(digits);
    do {
        digits[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    jbuf_raw(jb, digits + at, sizeof(digits) - at);
}

void jbuf_i64(struct jbuf *jb, int64_t value)
{
    if (value >= 0) {
        jbuf_u64(jb, (uint64_t)value);
        return;
    }
    jbuf_char(jb, '-');
    /* Negate in unsigned arithmetic: -INT64_MIN does not fit in int64_t. */
    jbuf_u64(jb, 0u - (uint64_t)value);
}

void jbuf_bool(struct jbuf *jb, bool value)
{
    if (value)
        jbuf_lit(jb, "true");
    else
        jbuf_lit(jb, "false");
}

void jbuf_null(struct jbuf *jb)
{
    jbuf_lit(jb, "null");
}
