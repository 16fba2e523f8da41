/* libFuzzer target for core/json: the scanner must agree with the simple recursive reference
 * validator below on every input, both on whether it is valid and on the exact byte a
 * refusal names, at a generous and at an input-derived small depth limit. json_object_scan
 * must agree with json_validate (and with the reference's record of members, too-many and
 * duplicate keys), and everything it returns must hold up: spans inside the input, each
 * value valid on its own, keys decoding into a buffer of their raw length to what the
 * reference decoded, member lookup, integer conversion (against strtoll/strtoull) and array
 * iteration.
 *
 * The reference shares no code with the scanner: it recurses (bounded by the same depth
 * limit, at most 64 here), checks UTF-8 through core/utf8's automaton, and decides where a
 * \u escape fails by asking whether any completion of the hex digits read so far is allowed.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "fuzz_check.h"

enum {
    REF_DEPTH_MAX = 64,   /* the generous limit; the small one is derived from the input */
    REF_MEMBERS_MAX = 16, /* the most members any json_object_scan call here has room for */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- reference validator ---- */

/* One top-level member of a root object, as offsets into the input. */
struct ref_member {
    size_t key_start, key_end, value_start, value_end;
    size_t decoded_at, decoded_len; /* the unescaped key, in ref.arena */
};

struct ref {
    const uint8_t *p;
    size_t len;
    size_t pos;
    unsigned depth_max;
    size_t fail_at; /* where the input stopped being a valid prefix, after a false return */
    size_t members_max;
    size_t members; /* keys seen in the root object */
    struct ref_member member[REF_MEMBERS_MAX];
    bool has_event; /* the first too-many or duplicate key, which json_object_scan reports */
    enum json_error event;
    size_t event_at;
    uint8_t *arena; /* decoded strings; len + 1 bytes, as decoding never grows a string */
    size_t arena_used;
};

static bool ref_value(struct ref *r, unsigned depth);

static bool ref_fail(struct ref *r)
{
    r->fail_at = r->pos;
    return false;
}

static bool ref_at(const struct ref *r, char c)
{
    return r->pos < r->len && r->p[r->pos] == (uint8_t)c;
}

static bool ref_is_digit(const struct ref *r)
{
    return r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9';
}

static void ref_ws(struct ref *r)
{
    while (ref_at(r, ' ') || ref_at(r, '\t') || ref_at(r, '\n') || ref_at(r, '\r')) {
        r->pos++;
    }
}

static bool ref_word(struct ref *r, const char *word)
{
    for (; *word != '\0'; word++, r->pos++) {
        if (!ref_at(r, *word)) {
            return ref_fail(r);
        }
    }
    return true;
}

static bool ref_digits(struct ref *r)
{
    if (!ref_is_digit(r)) {
        return ref_fail(r);
    }
    while (ref_is_digit(r)) {
        r->pos++;
    }
    return true;
}

static bool ref_number(struct ref *r)
{
    if (ref_at(r, '-')) {
        r->pos++;
    }
    if (ref_at(r, '0')) {
        r->pos++;
        if (ref_is_digit(r)) {
            return ref_fail(r);
        }
    } else if (!ref_digits(r)) {
        return false;
    }
    if (ref_at(r, '.')) {
        r->pos++;
        if (!ref_digits(r)) {
            return false;
        }
    }
    if (ref_at(r, 'e') || ref_at(r, 'E')) {
        r->pos++;
        if (ref_at(r, '+') || ref_at(r, '-')) {
            r->pos++;
        }
        return ref_digits(r);
    }
    return true;
}

/* Four hex digits. A first escape may be anything but a low surrogate; the second half of a
 * pair must be one. Fails at the first digit after which no completion is allowed. */
static bool ref_hex4(struct ref *r, bool low, uint32_t *out)
{
    static const char hex[] = "0123456789abcdef";
    uint32_t v = 0;
    for (unsigned k = 0; k < 4; k++, r->pos++) {
        if (r->pos == r->len || r->p[r->pos] == 0) {
            return ref_fail(r);
        }
        uint8_t c = r->p[r->pos];
        const char *digit = strchr(hex, c >= 'A' && c <= 'F' ? c + ('a' - 'A') : c);
        if (digit == NULL) {
            return ref_fail(r);
        }
        v = v * 16 + (uint32_t)(digit - hex);
        unsigned rest_bits = 4 * (3 - k);
        uint32_t lo = v << rest_bits;
        uint32_t hi = lo | ((1u << rest_bits) - 1);
        bool possible = low ? hi >= 0xDC00 && lo <= 0xDFFF : !(lo >= 0xDC00 && hi <= 0xDFFF);
        if (!possible) {
            return ref_fail(r);
        }
    }
    *out = v;
    return true;
}

static size_t ref_encode(uint32_t cp, uint8_t *out)
{
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const uint8_t lead[5] = {0, 0x00, 0xC0, 0xE0, 0xF0};
    for (size_t k = n - 1; k > 0; k--) {
        out[k] = (uint8_t)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    out[0] = (uint8_t)(lead[n] | cp);
    return n;
}

/* After "\u": one code point, pairing surrogates. */
static bool ref_unicode(struct ref *r, uint8_t *out, size_t *n)
{
    uint32_t cp = 0;
    if (!ref_hex4(r, false, &cp)) {
        return false;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t low = 0;
        if (!ref_word(r, "\\u") || !ref_hex4(r, true, &low)) {
            return false;
        }
        cp = 0x10000 + (cp - 0xD800) * 0x400 + (low - 0xDC00);
    }
    *n += ref_encode(cp, out + *n);
    return true;
}

static bool ref_escape(struct ref *r, uint8_t *out, size_t *n)
{
    static const char pairs[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
    r->pos++;
    if (r->pos == r->len) {
        return ref_fail(r);
    }
    uint8_t e = r->p[r->pos];
    if (e == 'u') {
        r->pos++;
        return ref_unicode(r, out, n);
    }
    for (size_t i = 0; pairs[i] != '\0'; i += 2) {
        if ((uint8_t)pairs[i] == e) {
            out[(*n)++] = (uint8_t)pairs[i + 1];
            r->pos++;
            return true;
        }
    }
    return ref_fail(r);
}

/* A string at r->pos, decoded into `out`. */
static bool ref_string(struct ref *r, uint8_t *out, size_t *n)
{
    utf8_state state = UTF8_ACCEPT;
    *n = 0;
    for (r->pos++;;) {
        if (r->pos == r->len) {
            return ref_fail(r);
        }
        uint8_t c = r->p[r->pos];
        if (state == UTF8_ACCEPT && c == '"') {
            r->pos++;
            return true;
        }
        if (state == UTF8_ACCEPT && c == '\\') {
            if (!ref_escape(r, out, n)) {
                return false;
            }
            continue;
        }
        state = utf8_validate_step(state, &c, 1);
        if (c < 0x20 || state == UTF8_REJECT) {
            return ref_fail(r);
        }
        out[(*n)++] = c;
        r->pos++;
    }
}

static void ref_event(struct ref *r, enum json_error event, size_t at)
{
    if (!r->has_event) {
        r->has_event = true;
        r->event = event;
        r->event_at = at;
    }
}

/* A key of the root object: counted, and unless it is one too many, recorded and checked
 * against the earlier ones. */
static bool ref_root_key(struct ref *r, size_t *index)
{
    size_t start = r->pos;
    *index = r->members++;
    bool kept = *index < r->members_max;
    if (!kept) {
        ref_event(r, JSON_ERR_TOO_MANY_MEMBERS, start);
    }
    size_t n = 0;
    if (!ref_string(r, r->arena + r->arena_used, &n)) {
        return false;
    }
    if (!kept) {
        return true;
    }
    r->member[*index] = (struct ref_member){start, r->pos, 0, 0, r->arena_used, n};
    for (size_t j = 0; j < *index; j++) {
        if (r->member[j].decoded_len == n &&
            memcmp(r->arena + r->member[j].decoded_at, r->arena + r->arena_used, n) == 0) {
            ref_event(r, JSON_ERR_DUPLICATE_KEY, start);
        }
    }
    r->arena_used += n;
    return true;
}

/* "key": value, inside an object whose contents are at `depth` (1: the root object). */
static bool ref_member(struct ref *r, unsigned depth)
{
    if (!ref_at(r, '"')) {
        return ref_fail(r);
    }
    bool root = depth == 1;
    size_t index = SIZE_MAX;
    size_t n = 0;
    if (!(root ? ref_root_key(r, &index) : ref_string(r, r->arena + r->arena_used, &n))) {
        return false;
    }
    ref_ws(r);
    if (!ref_word(r, ":")) {
        return false;
    }
    ref_ws(r);
    size_t value_start = r->pos;
    if (!ref_value(r, depth)) {
        return false;
    }
    if (root && index < r->members_max) {
        r->member[index].value_start = value_start;
        r->member[index].value_end = r->pos;
    }
    return true;
}

/* An array or object at r->pos whose contents are at `depth`. */
static bool ref_container(struct ref *r, unsigned depth, bool object)
{
    char close = object ? '}' : ']';
    r->pos++;
    ref_ws(r);
    if (ref_at(r, close)) {
        r->pos++;
        return true;
    }
    for (;;) {
        if (!(object ? ref_member(r, depth) : ref_value(r, depth))) {
            return false;
        }
        ref_ws(r);
        if (ref_at(r, close)) {
            r->pos++;
            return true;
        }
        if (!ref_at(r, ',')) {
            return ref_fail(r);
        }
        r->pos++;
        ref_ws(r);
    }
}

static bool ref_value(struct ref *r, unsigned depth)
{
    if (r->pos == r->len) {
        return ref_fail(r);
    }
    size_t n = 0;
    switch (r->p[r->pos]) {
    case '{':
    case '[':
        if (depth == r->depth_max) {
            return ref_fail(r);
        }
        return ref_container(r, depth + 1, r->p[r->pos] == '{');
    case '"':
        return ref_string(r, r->arena + r->arena_used, &n);
    case 't':
        return ref_word(r, "true");
    case 'f':
        return ref_word(r, "false");
    case 'n':
        return ref_word(r, "null");
    default:
        return ref_at(r, '-') || ref_is_digit(r) ? ref_number(r) : ref_fail(r);
    }
}

static bool ref_document(struct ref *r)
{
    ref_ws(r);
    if (!ref_value(r, 0)) {
        return false;
    }
    ref_ws(r);
    return r->pos == r->len ? true : ref_fail(r);
}

static bool ref_run(struct ref *r, const uint8_t *data, size_t size, unsigned depth_max,
                    size_t members_max, uint8_t *arena)
{
    memset(r, 0, sizeof(*r));
    r->p = data;
    r->len = size;
    r->depth_max = depth_max;
    r->members_max = members_max;
    r->arena = arena;
    return ref_document(r);
}

/* ---- checks of what the scanner returns ---- */

static bool span_inside(struct json_span span, const uint8_t *data, size_t size)
{
    const char *base = (const char *)data;
    return span.ptr >= base && span.len <= size && (size_t)(span.ptr - base) <= size - span.len;
}

static bool span_is(struct json_span span, const uint8_t *data, size_t start, size_t end)
{
    return span.ptr == (const char *)data + start && span.len == end - start;
}

static void check_valid_alone(struct json_span span, unsigned depth_max)
{
    struct json_result res;
    FUZZ_CHECK(json_validate(span.ptr, span.len, depth_max, &res) == JSON_OK);
    FUZZ_CHECK(res.offset == span.len);
}

static void check_integers(struct json_span span)
{
    char *text = malloc(span.len + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, span.ptr, span.len);
    text[span.len] = '\0';
    bool integer = strpbrk(text, ".eE") == NULL;
    char *end = NULL;
    errno = 0;
    long long i = strtoll(text, &end, 10);
    bool i_fits = errno == 0 && *end == '\0';
    int64_t i_out = 0;
    bool i_ok = json_number_to_i64(span, &i_out);
    FUZZ_CHECK(i_ok == (integer && i_fits));
    FUZZ_CHECK(!i_ok || i_out == i);
    errno = 0;
    unsigned long long u = strtoull(text, &end, 10);
    bool u_fits = errno == 0 && *end == '\0' && (text[0] != '-' || u == 0);
    uint64_t u_out = 0;
    bool u_ok = json_number_to_u64(span, &u_out);
    FUZZ_CHECK(u_ok == (integer && u_fits));
    FUZZ_CHECK(!u_ok || u_out == u);
    free(text);
}

/* A valid string span decodes to valid UTF-8 no longer than the raw text, and not into less. */
static void check_string(struct json_span span)
{
    char *out = malloc(span.len);
    FUZZ_CHECK(out != NULL);
    long n = json_string_decode(span, out, span.len);
    FUZZ_CHECK(n >= 0 && (size_t)n <= span.len - 2);
    FUZZ_CHECK(utf8_is_valid((const uint8_t *)out, (size_t)n));
    if (n > 0) {
        FUZZ_CHECK(json_string_decode(span, out, (size_t)n - 1) == -1);
    }
    if (memchr(out, '\0', (size_t)n) == NULL) {
        char *text = malloc((size_t)n + 2);
        FUZZ_CHECK(text != NULL);
        memcpy(text, out, (size_t)n);
        text[n] = '\0';
        FUZZ_CHECK(json_string_equals(span, text));
        text[n] = 'x';
        text[n + 1] = '\0';
        FUZZ_CHECK(!json_string_equals(span, text));
        free(text);
    }
    free(out);
}

static void check_value(struct json_span span, enum json_type type, unsigned depth_max);

/* Elements lie in order inside the brackets, separated by one comma and whitespace. */
static void check_array(struct json_span array, unsigned depth_max)
{
    FUZZ_CHECK(depth_max > 0);
    size_t pos = 0;
    size_t prev_end = 1;
    size_t elements = 0;
    struct json_span element;
    enum json_type type;
    while (json_array_next(array, &pos, &element, &type)) {
        FUZZ_CHECK(++elements <= array.len);
        FUZZ_CHECK(span_inside(element, (const uint8_t *)array.ptr + 1, array.len - 2));
        size_t start = (size_t)(element.ptr - array.ptr);
        FUZZ_CHECK(start >= prev_end);
        size_t commas = 0;
        for (size_t i = prev_end; i < start; i++) {
            commas += array.ptr[i] == ',';
            FUZZ_CHECK(strchr(", \t\r\n", array.ptr[i]) != NULL && array.ptr[i] != '\0');
        }
        FUZZ_CHECK(commas == (elements == 1 ? 0 : 1));
        FUZZ_CHECK(json_type_of(element) == type);
        check_value(element, type, depth_max - 1);
        prev_end = start + element.len;
    }
    for (size_t i = prev_end; i + 1 < array.len; i++) {
        FUZZ_CHECK(strchr(" \t\r\n", array.ptr[i]) != NULL && array.ptr[i] != '\0');
    }
}

static void check_value(struct json_span span, enum json_type type, unsigned depth_max)
{
    check_valid_alone(span, depth_max);
    FUZZ_CHECK(json_type_of(span) == type);
    if (type == JSON_STRING) {
        check_string(span);
    } else if (type == JSON_NUMBER) {
        check_integers(span);
    } else if (type == JSON_ARRAY) {
        check_array(span, depth_max);
    } else if (type == JSON_OBJECT) {
        struct json_member m[4];
        size_t count = 0;
        struct json_result res;
        enum json_error err = json_object_scan(span.ptr, span.len, depth_max, m, 4, &count, &res);
        FUZZ_CHECK(err == JSON_OK || err == JSON_ERR_TOO_MANY_MEMBERS ||
                   err == JSON_ERR_DUPLICATE_KEY);
    }
}

static void check_members(const uint8_t *data, size_t size, unsigned depth_max,
                          const struct json_member *m, size_t count, const struct ref *r)
{
    FUZZ_CHECK(count == r->members && count <= r->members_max);
    for (size_t i = 0; i < count; i++) {
        const struct ref_member *want = &r->member[i];
        FUZZ_CHECK(span_inside(m[i].key, data, size) && span_inside(m[i].value, data, size));
        FUZZ_CHECK(span_is(m[i].key, data, want->key_start, want->key_end));
        FUZZ_CHECK(span_is(m[i].value, data, want->value_start, want->value_end));
        check_valid_alone(m[i].key, 0);
        check_value(m[i].value, m[i].type, depth_max - 1);

        char *key = malloc(m[i].key.len + 1);
        FUZZ_CHECK(key != NULL);
        long n = json_string_decode(m[i].key, key, m[i].key.len);
        FUZZ_CHECK(n >= 0 && (size_t)n == want->decoded_len);
        FUZZ_CHECK(memcmp(key, r->arena + want->decoded_at, want->decoded_len) == 0);
        key[n] = '\0';
        if (strlen(key) == (size_t)n) {
            FUZZ_CHECK(json_member_find(m, count, key) == &m[i]);
        }
        free(key);
    }
}

static size_t first_non_ws(const uint8_t *data, size_t size)
{
    size_t i = 0;
    while (i < size && strchr(" \t\r\n", data[i]) != NULL && data[i] != '\0') {
        i++;
    }
    return i;
}

static void check_object_scan(const uint8_t *data, size_t size, unsigned depth_max,
                              const struct ref *r, const struct json_result *validated)
{
    struct json_member m[REF_MEMBERS_MAX];
    size_t count = 99;
    struct json_result res;
    enum json_error err =
        json_object_scan((const char *)data, size, depth_max, m, r->members_max, &count, &res);
    FUZZ_CHECK(res.error == err);
    size_t first = first_non_ws(data, size);
    struct json_result want = *validated;
    if (first == size) {
        want = (struct json_result){JSON_ERR_EMPTY, size};
    } else if (data[first] != '{') {
        want = (struct json_result){JSON_ERR_NOT_OBJECT, first};
    } else if (r->has_event) {
        want = (struct json_result){r->event, r->event_at};
    }
    FUZZ_CHECK(err == want.error && res.offset == want.offset);
    if (err == JSON_OK) {
        check_members(data, size, depth_max, m, count, r);
    } else {
        FUZZ_CHECK(count == 0);
    }
}

/* json_validate against the reference, then json_object_scan against both. */
static void check_config(const uint8_t *data, size_t size, unsigned depth_max, size_t members_max,
                         uint8_t *arena)
{
    struct ref r;
    bool ok = ref_run(&r, data, size, depth_max, members_max, arena);
    struct json_result res;
    enum json_error err = json_validate((const char *)data, size, depth_max, &res);
    FUZZ_CHECK(res.error == err);
    FUZZ_CHECK((err == JSON_OK) == ok);
    FUZZ_CHECK(res.offset == (ok ? size : r.fail_at));
    bool at_end = err == JSON_OK || err == JSON_ERR_TRUNCATED || err == JSON_ERR_EMPTY;
    FUZZ_CHECK((res.offset == size) == at_end);
    FUZZ_CHECK(err != JSON_ERR_NOT_OBJECT && err != JSON_ERR_TOO_MANY_MEMBERS &&
               err != JSON_ERR_DUPLICATE_KEY);
    check_object_scan(data, size, depth_max, &r, &res);
}

/* The whole input as one string span and as one array span. */
static void check_whole_spans(const uint8_t *data, size_t size)
{
    struct json_result res;
    bool valid = json_validate((const char *)data, size, REF_DEPTH_MAX, &res) == JSON_OK;
    struct json_span whole = {(const char *)data, size};
    bool is_string = valid && data[0] == '"' && data[size - 1] == '"';
    char *out = malloc(size + 1);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK((json_string_decode(whole, out, size) >= 0) == is_string);
    FUZZ_CHECK(json_string_equals(whole, "") == (is_string && size == 2));
    free(out);
    if (is_string) {
        check_string(whole);
    }
    if (valid && data[0] == '[' && data[size - 1] == ']') {
        check_array(whole, REF_DEPTH_MAX);
    }
}

/* Limits above the hard maximum all mean the hard maximum. */
static void check_hard_max(const uint8_t *data, size_t size)
{
    struct json_result at_max;
    struct json_result above;
    enum json_error err = json_validate((const char *)data, size, JSON_DEPTH_HARD_MAX, &at_max);
    FUZZ_CHECK(json_validate((const char *)data, size, UINT_MAX, &above) == err);
    FUZZ_CHECK(above.offset == at_max.offset);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t hash = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < size; i++) {
        hash = (hash ^ data[i]) * 0x100000001B3ull;
    }
    uint8_t *arena = malloc(size + 1);
    FUZZ_CHECK(arena != NULL);
    check_config(data, size, REF_DEPTH_MAX, REF_MEMBERS_MAX, arena);
    check_config(data, size, (unsigned)(hash % 6), (size_t)(hash >> 8) % 10, arena);
    free(arena);
    if (size > 0) {
        check_whole_spans(data, size);
    }
    if (size > 2 * REF_DEPTH_MAX) {
        check_hard_max(data, size);
    }
    return 0;
}
