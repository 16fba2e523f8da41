/* Strict, allocation-free JSON scanning: see json.h.
 *
 * One pass over the bytes by a loop over three grammar states (a value must start, a value
 * just ended, a key must start) with an explicit stack of container kinds, one bit per level:
 * input-controlled nesting never becomes C recursion, and the stack is bounded by
 * JSON_DEPTH_HARD_MAX. Before changing a rule, know the property the unit tests and the fuzz
 * target's reference validator pin down: every error is reported at the first byte that no
 * continuation could make valid, or at `len` when the text ends while still a valid prefix
 * (JSON_ERR_TRUNCATED, JSON_ERR_EMPTY).
 *
 * Reading validated spans (strings, numbers, arrays) is json_span.c; the two share
 * json_internal.h.
 */
#include "core/json_internal.h"

#include <assert.h>
#include <string.h>

enum { JSON_STACK_WORDS = (JSON_DEPTH_HARD_MAX + 63) / 64 };

/* What the next byte must be, in grammar terms. */
enum scan_state {
    SCAN_VALUE, /* a value starts here */
    SCAN_AFTER, /* a value just ended: ',' or a closing bracket, or the end at depth 0 */
    SCAN_KEY,   /* an object key starts here */
    SCAN_DONE,
};

/* The top-level members json_object_scan records, in order. */
struct member_sink {
    struct json_member *members; /* caller's array, `max` entries */
    size_t max;
    size_t count; /* members complete so far; members[count] is the one being scanned */
};

struct scan {
    const uint8_t *text;
    size_t len;
    size_t pos;                           /* next byte; on error, the offending byte or len */
    unsigned depth;                       /* arrays and objects open */
    unsigned depth_max;                   /* clamped to JSON_DEPTH_HARD_MAX */
    uint64_t is_object[JSON_STACK_WORDS]; /* bit d: the container at depth d + 1 is an object */
    struct member_sink *sink;             /* NULL unless recording top-level members */
};

/* Indexed by enum json_error: a stable name for logs and metrics, and a sentence for replies. */
static const struct {
    const char *name;
    const char *text;
} json_errors[JSON_ERROR_COUNT] = {
    [JSON_OK] = {"ok", "the text is valid JSON"},
    [JSON_ERR_EMPTY] = {"empty", "the text holds no JSON value (it is empty or only whitespace)"},
    [JSON_ERR_SYNTAX] = {"syntax", "unexpected character where a value, comma, colon, key or "
                                   "closing bracket was expected"},
    [JSON_ERR_TRUNCATED] = {"truncated", "the text ends in the middle of a value"},
    [JSON_ERR_TRAILING] = {"trailing", "there are more characters after the JSON value"},
    [JSON_ERR_DEPTH] = {"depth", "arrays and objects are nested too deeply"},
    [JSON_ERR_NUMBER] = {"number", "malformed number (no leading zeros, '+', bare '.', or "
                                   "missing digits)"},
    [JSON_ERR_STRING] = {"string", "a string holds a raw control character or invalid UTF-8"},
    [JSON_ERR_ESCAPE] = {"escape", "a string holds an unknown escape, a bad \\u escape or an "
                                   "unpaired surrogate"},
    [JSON_ERR_NOT_OBJECT] = {"not_object", "the message must be a JSON object"},
    [JSON_ERR_TOO_MANY_MEMBERS] = {"too_many_members", "the object has more members than allowed"},
    [JSON_ERR_DUPLICATE_KEY] = {"duplicate_key", "a key appears twice in the object"},
};

const char *json_error_name(enum json_error error)
{
    assert((unsigned)error < JSON_ERROR_COUNT);
    return (unsigned)error < JSON_ERROR_COUNT ? json_errors[error].name : "unknown";
}

const char *json_error_text(enum json_error error)
{
    assert((unsigned)error < JSON_ERROR_COUNT);
    return (unsigned)error < JSON_ERROR_COUNT ? json_errors[error].text : "unknown JSON error";
}

/* ---- scanner: scalars ---- */

static void scan_init(struct scan *s, const char *text, size_t len, unsigned depth_max,
                      struct member_sink *sink)
{
    memset(s, 0, sizeof(*s));
    s->text = (const uint8_t *)text;
    s->len = len;
    s->depth_max = depth_max < JSON_DEPTH_HARD_MAX ? depth_max : JSON_DEPTH_HARD_MAX;
    s->sink = sink;
}

static void skip_ws(struct scan *s)
{
    while (s->pos < s->len && json_is_ws(s->text[s->pos])) {
        s->pos++;
    }
}

/* The error for a byte that does not fit: running out of text is not a wrong byte. */
static enum json_error unexpected(const struct scan *s)
{
    return s->pos == s->len ? JSON_ERR_TRUNCATED : JSON_ERR_SYNTAX;
}

static enum json_error scan_literal(struct scan *s, const char *word)
{
    assert(s->text[s->pos] == (uint8_t)word[0]);
    for (size_t k = 0; word[k] != '\0'; k++, s->pos++) {
        if (s->pos == s->len || s->text[s->pos] != (uint8_t)word[k]) {
            return unexpected(s);
        }
    }
    return JSON_OK;
}

/* One or more digits. */
static enum json_error scan_digits(struct scan *s)
{
    if (s->pos == s->len) {
        return JSON_ERR_TRUNCATED;
    }
    if (!json_is_digit(s->text[s->pos])) {
        return JSON_ERR_NUMBER;
    }
    while (s->pos < s->len && json_is_digit(s->text[s->pos])) {
        s->pos++;
    }
    return JSON_OK;
}

static bool scan_accept(struct scan *s, uint8_t a, uint8_t b)
{
    if (s->pos < s->len && (s->text[s->pos] == a || s->text[s->pos] == b)) {
        s->pos++;
        return true;
    }
    return false;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static enum json_error scan_number(struct scan *s)
{
    assert(s->text[s->pos] == '-' || json_is_digit(s->text[s->pos]));
    (void)scan_accept(s, '-', '-');
    if (scan_accept(s, '0', '0')) {
        if (s->pos < s->len && json_is_digit(s->text[s->pos])) {
            return JSON_ERR_NUMBER;
        }
    } else {
        enum json_error err = scan_digits(s);
        if (err != JSON_OK) {
            return err;
        }
    }
    if (scan_accept(s, '.', '.')) {
        enum json_error err = scan_digits(s);
        if (err != JSON_OK) {
            return err;
        }
    }
    if (scan_accept(s, 'e', 'E')) {
        (void)scan_accept(s, '+', '-');
        return scan_digits(s);
    }
    return JSON_OK;
}

/* ---- scanner: strings ---- */

/* Four hex digits of a \u escape. `low` demands DC00..DFFF (the second half of a pair);
 * otherwise DC00..DFFF is refused (a low surrogate cannot come first). Fails at the first
 * digit that rules the value out: "\uDC" at the 'C'. */
static enum json_error scan_hex4(struct scan *s, bool low, uint32_t *value)
{
    uint32_t v = 0;
    for (unsigned k = 0; k < 4; k++, s->pos++) {
        if (s->pos == s->len) {
            return JSON_ERR_TRUNCATED;
        }
        int digit = json_hex_value(s->text[s->pos]);
        if (digit < 0) {
            return JSON_ERR_ESCAPE;
        }
        v = v << 4 | (uint32_t)digit;
        bool low_prefix = k == 0 ? v == 0xD : (k == 1 ? v >= 0xDC && v <= 0xDF : true);
        bool refused = low ? !low_prefix : k == 1 && low_prefix;
        if (refused) {
            return JSON_ERR_ESCAPE;
        }
    }
    *value = v;
    return JSON_OK;
}

/* \uXXXX, and when it is a high surrogate, the \uXXXX low surrogate that must follow. */
static enum json_error scan_unicode_escape(struct scan *s)
{
    uint32_t high = 0;
    enum json_error err = scan_hex4(s, false, &high);
    if (err != JSON_OK || high < 0xD800 || high > 0xDBFF) {
        return err;
    }
    for (const char *intro = "\\u"; *intro != '\0'; intro++, s->pos++) {
        if (s->pos == s->len) {
            return JSON_ERR_TRUNCATED;
        }
        if (s->text[s->pos] != (uint8_t)*intro) {
            return JSON_ERR_ESCAPE;
        }
    }
    uint32_t low = 0;
    return scan_hex4(s, true, &low);
}

static enum json_error scan_escape(struct scan *s)
{
    assert(s->text[s->pos] == '\\');
    s->pos++;
    if (s->pos == s->len) {
        return JSON_ERR_TRUNCATED;
    }
    uint8_t c = s->text[s->pos];
    if (c == 'u') {
        s->pos++;
        return scan_unicode_escape(s);
    }
    if (memchr("\"\\/bfnrt", c, 8) == NULL) {
        return JSON_ERR_ESCAPE;
    }
    s->pos++;
    return JSON_OK;
}

/* A multi-byte UTF-8 character (Unicode Table 3-7): the lead byte fixes how many
 * continuation bytes follow and the range the first of them must lie in, which is what
 * refuses overlong forms, surrogates and code points above U+10FFFF. */
static enum json_error scan_utf8(struct scan *s)
{
    uint8_t lead = s->text[s->pos];
    assert(lead >= 0x80);
    if (lead < 0xC2 || lead > 0xF4) {
        return JSON_ERR_STRING;
    }
    unsigned follow = lead >= 0xF0 ? 3 : (lead >= 0xE0 ? 2 : 1);
    uint8_t lo = lead == 0xE0 ? 0xA0 : (lead == 0xF0 ? 0x90 : 0x80);
    uint8_t hi = lead == 0xED ? 0x9F : (lead == 0xF4 ? 0x8F : 0xBF);
    s->pos++;
    for (unsigned k = 0; k < follow; k++, s->pos++) {
        if (s->pos == s->len) {
            return JSON_ERR_TRUNCATED;
        }
        uint8_t c = s->text[s->pos];
        if (c < lo || c > hi) {
            return JSON_ERR_STRING;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return JSON_OK;
}

static enum json_error scan_string(struct scan *s)
{
    assert(s->text[s->pos] == '"');
    s->pos++;
    while (s->pos < s->len) {
        uint8_t c = s->text[s->pos];
        if (json_is_plain(c)) {
            s->pos++;
            continue;
        }
        if (c == '"') {
            s->pos++;
            return JSON_OK;
        }
        if (c < 0x20) {
            return JSON_ERR_STRING;
        }
        enum json_error err = c == '\\' ? scan_escape(s) : scan_utf8(s);
        if (err != JSON_OK) {
            return err;
        }
    }
    return JSON_ERR_TRUNCATED;
}

/* True when `raw` is exactly one valid JSON string, quotes included. */
bool json_string_span_valid(struct json_span raw)
{
    if (raw.ptr == NULL || raw.len < 2 || raw.ptr[0] != '"') {
        return false;
    }
    struct scan s;
    scan_init(&s, raw.ptr, raw.len, 0, NULL);
    return scan_string(&s) == JSON_OK && s.pos == raw.len;
}

/* ---- scanner: members of the top-level object ---- */

static bool recording(const struct scan *s)
{
    return s->sink != NULL && s->depth == 1;
}

/* The key just scanned, from `start` to s->pos: refused when an earlier key decodes the same. */
static enum json_error member_key(struct scan *s, size_t start)
{
    struct member_sink *sink = s->sink;
    assert(sink->count < sink->max);
    struct json_span key = {(const char *)s->text + start, s->pos - start};
    for (size_t i = 0; i < sink->count; i++) {
        if (json_keys_equal(sink->members[i].key, key)) {
            s->pos = start;
            return JSON_ERR_DUPLICATE_KEY;
        }
    }
    sink->members[sink->count].key = key;
    return JSON_OK;
}

static void member_value_begin(struct scan *s)
{
    struct member_sink *sink = s->sink;
    assert(sink->count < sink->max);
    struct json_member *m = &sink->members[sink->count];
    m->value.ptr = (const char *)s->text + s->pos;
    m->type = json_type_of_byte(s->text[s->pos]);
}

static void member_value_end(struct scan *s)
{
    struct member_sink *sink = s->sink;
    assert(sink->count < sink->max);
    struct json_member *m = &sink->members[sink->count];
    assert(m->value.ptr >= (const char *)s->text);
    m->value.len = (size_t)((const char *)s->text + s->pos - m->value.ptr);
    sink->count++;
}

/* ---- scanner: structure ---- */

static bool top_is_object(const struct scan *s)
{
    assert(s->depth > 0);
    unsigned d = s->depth - 1;
    return (s->is_object[d / 64] >> (d % 64) & 1) != 0;
}

/* '[' or '{' at s->pos; an empty container closes at once. */
static enum json_error scan_open(struct scan *s, bool object, enum scan_state *next)
{
    if (s->depth == s->depth_max) {
        return JSON_ERR_DEPTH;
    }
    assert(s->depth < JSON_DEPTH_HARD_MAX);
    uint64_t bit = (uint64_t)1 << (s->depth % 64);
    s->is_object[s->depth / 64] =
        object ? s->is_object[s->depth / 64] | bit : s->is_object[s->depth / 64] & ~bit;
    s->depth++;
    s->pos++;
    skip_ws(s);
    if (s->pos < s->len && s->text[s->pos] == (object ? '}' : ']')) {
        s->depth--;
        s->pos++;
        *next = SCAN_AFTER;
    } else {
        *next = object ? SCAN_KEY : SCAN_VALUE;
    }
    return JSON_OK;
}

static enum json_error scan_value(struct scan *s, enum scan_state *next)
{
    if (s->pos == s->len) {
        return JSON_ERR_TRUNCATED;
    }
    if (recording(s)) {
        member_value_begin(s);
    }
    uint8_t c = s->text[s->pos];
    *next = SCAN_AFTER;
    switch (c) {
    case '{':
        return scan_open(s, true, next);
    case '[':
        return scan_open(s, false, next);
    case '"':
        return scan_string(s);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        return c == '-' || json_is_digit(c) ? scan_number(s) : JSON_ERR_SYNTAX;
    }
}

static enum json_error scan_key(struct scan *s, enum scan_state *next)
{
    if (s->pos == s->len || s->text[s->pos] != '"') {
        return unexpected(s);
    }
    bool record = recording(s);
    if (record && s->sink->count == s->sink->max) {
        return JSON_ERR_TOO_MANY_MEMBERS;
    }
    size_t start = s->pos;
    enum json_error err = scan_string(s);
    if (err == JSON_OK && record) {
        err = member_key(s, start);
    }
    if (err != JSON_OK) {
        return err;
    }
    skip_ws(s);
    if (s->pos == s->len || s->text[s->pos] != ':') {
        return unexpected(s);
    }
    s->pos++;
    skip_ws(s);
    *next = SCAN_VALUE;
    return JSON_OK;
}

static enum json_error scan_after(struct scan *s, enum scan_state *next)
{
    if (recording(s)) {
        member_value_end(s);
    }
    skip_ws(s);
    if (s->depth == 0) {
        *next = SCAN_DONE;
        return s->pos == s->len ? JSON_OK : JSON_ERR_TRAILING;
    }
    if (s->pos == s->len) {
        return JSON_ERR_TRUNCATED;
    }
    bool object = top_is_object(s);
    uint8_t c = s->text[s->pos];
    if (c == ',') {
        s->pos++;
        skip_ws(s);
        *next = object ? SCAN_KEY : SCAN_VALUE;
        return JSON_OK;
    }
    if (c != (object ? '}' : ']')) {
        return JSON_ERR_SYNTAX;
    }
    s->pos++;
    s->depth--;
    *next = SCAN_AFTER;
    return JSON_OK;
}

/* The value starting at s->pos (after leading whitespace) to the end of the text. Every
 * state but the last consumes at least one byte, so this runs at most len + 1 rounds. */
static enum json_error scan_run(struct scan *s)
{
    assert(s->pos < s->len);
    enum scan_state state = SCAN_VALUE;
    while (state != SCAN_DONE) {
        size_t before = s->pos;
        enum json_error err;
        if (state == SCAN_VALUE) {
            err = scan_value(s, &state);
        } else if (state == SCAN_KEY) {
            err = scan_key(s, &state);
        } else {
            err = scan_after(s, &state);
        }
        if (err != JSON_OK) {
            return err;
        }
        assert(s->pos > before || state == SCAN_DONE);
        (void)before; /* read only by the assertion */
    }
    assert(s->depth == 0 && s->pos == s->len);
    return JSON_OK;
}

static enum json_error scan_finish(const struct scan *s, enum json_error err,
                                   struct json_result *res)
{
    assert(s->pos <= s->len);
    assert(err != JSON_OK || s->pos == s->len);
    res->error = err;
    res->offset = err == JSON_OK ? s->len : s->pos;
    return err;
}

enum json_error json_validate(const char *text, size_t len, unsigned depth_max,
                              struct json_result *res)
{
    assert(text != NULL || len == 0);
    assert(res != NULL);
    struct scan s;
    scan_init(&s, text, len, depth_max, NULL);
    skip_ws(&s);
    enum json_error err = s.pos == s.len ? JSON_ERR_EMPTY : scan_run(&s);
    return scan_finish(&s, err, res);
}

enum json_error json_object_scan(const char *text, size_t len, unsigned depth_max,
                                 struct json_member *members, size_t members_max, size_t *count,
                                 struct json_result *res)
{
    assert(text != NULL || len == 0);
    assert(members != NULL || members_max == 0);
    assert(count != NULL && res != NULL);
    *count = 0;
    struct member_sink sink = {members, members_max, 0};
    struct scan s;
    scan_init(&s, text, len, depth_max, &sink);
    skip_ws(&s);
    enum json_error err;
    if (s.pos == s.len) {
        err = JSON_ERR_EMPTY;
    } else if (s.text[s.pos] != '{') {
        err = JSON_ERR_NOT_OBJECT;
    } else {
        err = scan_run(&s);
    }
    if (err == JSON_OK) {
        *count = sink.count;
    }
    return scan_finish(&s, err, res);
}
