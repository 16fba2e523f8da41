/* Internals shared by the two files of the JSON module: json.c (the validating scanner)
 * and json_span.c (reading validated spans: strings, numbers, arrays). Not for other
 * modules: they use json.h. */
#ifndef TIDEGATE_CORE_JSON_INTERNAL_H
#define TIDEGATE_CORE_JSON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"

static inline bool json_is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline bool json_is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* A string byte that needs no further look: printable ASCII other than '"' and '\\'. */
static inline bool json_is_plain(uint8_t c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static inline int json_hex_value(uint8_t c)
{
    if (json_is_digit(c)) {
        return c - '0';
    }
    uint8_t lower = c | 0x20; /* only 'A'..'F' land on 'a'..'f' */
    return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
}

static inline enum json_type json_type_of_byte(uint8_t c)
{
    switch (c) {
    case 'n':
        return JSON_NULL;
    case 'f':
        return JSON_FALSE;
    case 't':
        return JSON_TRUE;
    case '"':
        return JSON_STRING;
    case '[':
        return JSON_ARRAY;
    case '{':
        return JSON_OBJECT;
    default:
        return JSON_NUMBER;
    }
}

/* Yields the decoded bytes of a validated raw string one at a time, no buffer needed. */
struct json_str_reader {
    const uint8_t *p;
    size_t i;       /* next raw byte */
    size_t end;     /* index of the closing quote */
    uint8_t buf[4]; /* UTF-8 of the last escape */
    uint8_t buf_len;
    uint8_t buf_pos;
};

void json_str_reader_init(struct json_str_reader *r, struct json_span raw);

/* The next decoded byte, or -1 after the last. */
int json_str_reader_next(struct json_str_reader *r);

/* Two validated raw strings that decode to the same bytes. */
bool json_keys_equal(struct json_span a, struct json_span b);

/* True when `raw` is exactly one valid JSON string, quotes included (json.c). */
bool json_string_span_valid(struct json_span raw);

#endif
