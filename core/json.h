/* Strict, allocation-free JSON scanning (RFC 8259) for the messaging protocol and JWTs.
 *
 * The protocol never re-serializes a client's `data`: it validates the whole message once,
 * finds the spans of the top-level members, and copies the `data` span byte for byte into
 * the outgoing frame. So this module validates and locates; it does not build a tree.
 *
 * Strict means: exactly one value with optional surrounding whitespace (SP, HTAB, LF, CR);
 * no comments, no trailing commas, no single quotes, no NaN/Infinity, no leading zeros,
 * no leading '+', control characters U+0000-U+001F only escaped, escapes only the nine of
 * RFC 8259 with \uXXXX surrogates properly paired, strings valid UTF-8, nesting depth
 * bounded by the caller. Spans point into the caller's buffer.
 */
#ifndef TIDEGATE_CORE_JSON_H
#define TIDEGATE_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The deepest nesting any call scans: the scanner's stack is a fixed array of this many
 * levels, so a larger depth_max is treated as this value. */
#define JSON_DEPTH_HARD_MAX 128

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

enum json_error {
    JSON_OK = 0,
    JSON_ERR_EMPTY,            /* no value at all */
    JSON_ERR_SYNTAX,           /* unexpected byte */
    JSON_ERR_TRUNCATED,        /* ended inside a value */
    JSON_ERR_TRAILING,         /* bytes after the value */
    JSON_ERR_DEPTH,            /* nesting deeper than allowed */
    JSON_ERR_NUMBER,           /* malformed number */
    JSON_ERR_STRING,           /* raw control character or invalid UTF-8 in a string */
    JSON_ERR_ESCAPE,           /* unknown escape, bad \u, unpaired surrogate */
    JSON_ERR_NOT_OBJECT,       /* json_object_scan: the value is not an object */
    JSON_ERR_TOO_MANY_MEMBERS, /* json_object_scan: more top-level members than room */
    JSON_ERR_DUPLICATE_KEY,    /* json_object_scan: a top-level key appears twice */
    JSON_ERROR_COUNT
};

struct json_span {
    const char *ptr;
    size_t len;
};

/* Where and why scanning stopped, for error replies ("invalid JSON at byte 17: ..."). */
struct json_result {
    enum json_error error;
    /* Byte offset of the problem: the first byte that no continuation could make valid (for
     * JSON_ERR_NOT_OBJECT the value's first byte, for the two key errors the key's opening
     * quote); `len` for JSON_ERR_TRUNCATED and JSON_ERR_EMPTY, and on JSON_OK. */
    size_t offset;
};

struct json_member {
    struct json_span key;   /* raw, with its quotes and escapes as sent */
    struct json_span value; /* raw, exactly as sent (strings with quotes) */
    enum json_type type;
};

/* A short stable name for an error ("depth") and a sentence ("nesting is too deep"). */
const char *json_error_name(enum json_error error);
const char *json_error_text(enum json_error error);

/* Validates `text` as exactly one JSON value, nesting at most `depth_max` arrays/objects
 * (depth_max 0 allows only scalars; above JSON_DEPTH_HARD_MAX counts as that). One pass, no
 * allocation, no recursion. Returns res->error. */
enum json_error json_validate(const char *text, size_t len, unsigned depth_max,
                              struct json_result *res);

/* Validates `text` as one JSON object and records its top-level members in order, at most
 * `members_max` (more is JSON_ERR_TOO_MANY_MEMBERS). Duplicate top-level keys (compared
 * after unescaping) are JSON_ERR_DUPLICATE_KEY; each key is compared with the ones before it,
 * so members_max bounds that work. The root object counts as one level of depth_max. A value
 * that does not start with '{' is JSON_ERR_NOT_OBJECT without reading further. Whichever
 * problem comes first in the text is reported. Returns res->error; *count is set on OK (0
 * otherwise). */
enum json_error json_object_scan(const char *text, size_t len, unsigned depth_max,
                                 struct json_member *members, size_t members_max, size_t *count,
                                 struct json_result *res);

/* Finds the member whose unescaped key equals `key` (NUL-terminated). NULL when absent. */
const struct json_member *json_member_find(const struct json_member *members, size_t count,
                                           const char *key);

/* Unescapes a raw string span (with quotes, already validated) into `out` as UTF-8; a
 * surrogate pair becomes one 4-byte character. The result is never longer than raw.len - 2.
 * Returns the decoded length, or -1 when it does not fit in `cap` (no NUL is written; `out`
 * then holds a prefix) or when `raw` is not exactly one valid JSON string. */
long json_string_decode(struct json_span raw, char *out, size_t cap);

/* True when the raw string span decodes to exactly `text` (no buffer needed). False for a
 * span that is not a valid string, and for one that decodes to a NUL byte (\u0000). */
bool json_string_equals(struct json_span raw, const char *text);

/* Integers: the raw number span must be an integer (no fraction or exponent) in range, so
 * "1.0" and "1e3" are refused. "-0" is 0 for both. On false, *out is unchanged. */
bool json_number_to_u64(struct json_span raw, uint64_t *out);
bool json_number_to_i64(struct json_span raw, int64_t *out);

/* Iterates over the elements of a raw, validated array span (from '[' to ']', as a member's
 * value span is): *pos starts at 0. Returns false after the last element. Nested arrays and
 * objects are single elements, skipped without recursion. */
bool json_array_next(struct json_span array, size_t *pos, struct json_span *element,
                     enum json_type *type);

/* The type of a raw, validated value span (by its first byte). */
enum json_type json_type_of(struct json_span value);

#endif
