/* Reading validated JSON spans: decoded strings, integers, array elements (see json.h).
 *
 * Strings are read through one byte-at-a-time reader that trusts its span was validated by
 * the scanner (json.c); the public entry points check that first, so a bad span is refused,
 * never read out of bounds.
 */
#include "core/json_internal.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

/* ---- decoded string bytes ---- */

void json_str_reader_init(struct json_str_reader *r, struct json_span raw)
{
    assert(raw.len >= 2 && raw.ptr[0] == '"' && raw.ptr[raw.len - 1] == '"');
    r->p = (const uint8_t *)raw.ptr;
    r->i = 1;
    r->end = raw.len - 1;
    r->buf_len = 0;
    r->buf_pos = 0;
}

static uint32_t reader_hex4(struct json_str_reader *r)
{
    assert(r->end - r->i >= 4);
    uint32_t v = 0;
    for (unsigned k = 0; k < 4; k++) {
        int digit = json_hex_value(r->p[r->i++]);
        assert(digit >= 0);
        v = v << 4 | (uint32_t)digit;
    }
    return v;
}

/* The code point of the escape whose letter is at r->i (the backslash is consumed). */
static uint32_t reader_escape(struct json_str_reader *r)
{
    static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t"; /* letter, then its byte */
    uint8_t letter = r->p[r->i++];
    for (size_t k = 0; letter != 'u' && simple[k] != '\0'; k += 2) {
        if ((uint8_t)simple[k] == letter) {
            return (uint8_t)simple[k + 1];
        }
    }
    assert(letter == 'u');
    uint32_t cp = reader_hex4(r);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        assert(r->p[r->i] == '\\' && r->p[r->i + 1] == 'u');
        r->i += 2;
        uint32_t low = reader_hex4(r);
        assert(low >= 0xDC00 && low <= 0xDFFF);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    return cp;
}

static uint8_t utf8_encode(uint32_t cp, uint8_t out[4])
{
    static const uint8_t lead_bits[5] = {0, 0x00, 0xC0, 0xE0, 0xF0};
    assert(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF));
    uint8_t n = cp < 0x80 ? 1 : (cp < 0x800 ? 2 : (cp < 0x10000 ? 3 : 4));
    for (uint8_t k = n - 1; k > 0; k--) {
        out[k] = (uint8_t)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    out[0] = (uint8_t)(lead_bits[n] | cp);
    return n;
}

/* The next decoded byte, or -1 after the last. */
int json_str_reader_next(struct json_str_reader *r)
{
    if (r->buf_pos < r->buf_len) {
        return r->buf[r->buf_pos++];
    }
    if (r->i >= r->end) {
        return -1;
    }
    uint8_t c = r->p[r->i++];
    if (c != '\\') {
        return c;
    }
    r->buf_len = utf8_encode(reader_escape(r), r->buf);
    r->buf_pos = 1;
    return r->buf[0];
}

/* Two validated raw strings that decode to the same bytes. */
bool json_keys_equal(struct json_span a, struct json_span b)
{
    if (a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0) {
        return true;
    }
    struct json_str_reader ra;
    struct json_str_reader rb;
    json_str_reader_init(&ra, a);
    json_str_reader_init(&rb, b);
    for (;;) {
        int ca = json_str_reader_next(&ra);
        if (ca != json_str_reader_next(&rb)) {
            return false;
        }
        if (ca < 0) {
            return true;
        }
    }
}

/* ---- spans ---- */

const struct json_member *json_member_find(const struct json_member *members, size_t count,
                                           const char *key)
{
    assert(members != NULL || count == 0);
    assert(key != NULL);
    for (size_t i = 0; i < count; i++) {
        if (json_string_equals(members[i].key, key)) {
            return &members[i];
        }
    }
    return NULL;
}

long json_string_decode(struct json_span raw, char *out, size_t cap)
{
    assert(out != NULL || cap == 0);
    assert(raw.len < (size_t)LONG_MAX);
    if (!json_string_span_valid(raw)) {
        return -1;
    }
    struct json_str_reader r;
    json_str_reader_init(&r, raw);
    size_t n = 0;
    for (int c = json_str_reader_next(&r); c >= 0; c = json_str_reader_next(&r)) {
        if (n == cap) {
            return -1;
        }
        out[n++] = (char)c;
    }
    assert(n <= raw.len - 2);
    return (long)n;
}

bool json_string_equals(struct json_span raw, const char *text)
{
    assert(text != NULL);
    if (!json_string_span_valid(raw)) {
        return false;
    }
    struct json_str_reader r;
    json_str_reader_init(&r, raw);
    size_t k = 0;
    for (int c = json_str_reader_next(&r); c >= 0; c = json_str_reader_next(&r), k++) {
        /* A decoded NUL (from \u0000) never matches: `text` has ended there. */
        if (text[k] == '\0' || (uint8_t)text[k] != (uint8_t)c) {
            return false;
        }
    }
    return text[k] == '\0';
}

/* The magnitude and sign of a strict integer span: -?(0|[1-9][0-9]*), at most UINT64_MAX. */
static bool number_parse_integer(struct json_span raw, bool *negative, uint64_t *magnitude)
{
    const uint8_t *p = (const uint8_t *)raw.ptr;
    size_t i = raw.len > 0 && p[0] == '-' ? 1 : 0;
    if (i == raw.len || !json_is_digit(p[i]) || (p[i] == '0' && raw.len - i > 1)) {
        return false;
    }
    uint64_t m = 0;
    for (; i < raw.len; i++) {
        if (!json_is_digit(p[i])) {
            return false;
        }
        uint64_t digit = (uint64_t)(p[i] - '0');
        if (m > (UINT64_MAX - digit) / 10) {
            return false;
        }
        m = m * 10 + digit;
    }
    *negative = p[0] == '-';
    *magnitude = m;
    return true;
}

bool json_number_to_u64(struct json_span raw, uint64_t *out)
{
    assert(raw.ptr != NULL || raw.len == 0);
    assert(out != NULL);
    bool negative = false;
    uint64_t m = 0;
    if (!number_parse_integer(raw, &negative, &m) || (negative && m != 0)) {
        return false;
    }
    *out = m;
    return true;
}

bool json_number_to_i64(struct json_span raw, int64_t *out)
{
    assert(raw.ptr != NULL || raw.len == 0);
    assert(out != NULL);
    bool negative = false;
    uint64_t m = 0;
    if (!number_parse_integer(raw, &negative, &m)) {
        return false;
    }
    const uint64_t min_magnitude = (uint64_t)INT64_MAX + 1;
    if (m > (negative ? min_magnitude : (uint64_t)INT64_MAX)) {
        return false;
    }
    *out = negative ? (m == min_magnitude ? INT64_MIN : -(int64_t)m) : (int64_t)m;
    return true;
}

/* ---- arrays ---- */

/* The end of the validated string starting at p[i] == '"', never past `end`. */
static size_t skip_string(const uint8_t *p, size_t i, size_t end)
{
    assert(p[i] == '"');
    for (i++; i < end; i++) {
        if (p[i] == '\\') {
            i++;
        } else if (p[i] == '"') {
            return i + 1;
        }
    }
    return end;
}

/* The end of the validated value starting at p[i], never past `end` and always past `i`.
 * Containers are skipped by counting brackets, so nesting costs a counter, not a stack. */
static size_t skip_value(const uint8_t *p, size_t i, size_t end)
{
    assert(i < end);
    if (p[i] == '"') {
        return skip_string(p, i, end);
    }
    if (p[i] != '[' && p[i] != '{') {
        do {
            i++;
        } while (i < end && !json_is_ws(p[i]) && p[i] != ',' && p[i] != ']' && p[i] != '}');
        return i;
    }
    size_t open = 0;
    do {
        if (p[i] == '"') {
            i = skip_string(p, i, end);
            continue;
        }
        open += p[i] == '[' || p[i] == '{';
        open -= p[i] == ']' || p[i] == '}';
        i++;
    } while (i < end && open > 0);
    return i;
}

bool json_array_next(struct json_span array, size_t *pos, struct json_span *element,
                     enum json_type *type)
{
    assert(array.len >= 2 && array.ptr[0] == '[' && array.ptr[array.len - 1] == ']');
    assert(pos != NULL && element != NULL && type != NULL);
    if (array.len < 2) {
        return false;
    }
    const uint8_t *p = (const uint8_t *)array.ptr;
    size_t end = array.len - 1; /* the closing bracket */
    size_t i = *pos == 0 ? 1 : *pos;
    while (i < end && json_is_ws(p[i])) {
        i++;
    }
    if (i >= end) {
        *pos = end;
        return false;
    }
    size_t stop = skip_value(p, i, end);
    *element = (struct json_span){array.ptr + i, stop - i};
    *type = json_type_of_byte(p[i]);
    while (stop < end && (json_is_ws(p[stop]) || p[stop] == ',')) {
        stop++;
    }
    *pos = stop;
    return true;
}

enum json_type json_type_of(struct json_span value)
{
    assert(value.ptr != NULL && value.len > 0);
    return value.len > 0 ? json_type_of_byte((uint8_t)value.ptr[0]) : JSON_NULL;
}
