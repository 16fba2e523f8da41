/* A growable byte buffer for writing JSON text: server replies and events are built into one
 * of these and then copied into an outgoing frame.
 *
 * Errors are sticky: when an append would need memory that cannot be had, or would make the
 * text longer than `max`, the buffer is marked failed and every later append does nothing.
 * A builder therefore appends a whole message without checking each step and looks at
 * `failed` once at the end. After a failure the text is unusable: discard it (jbuf_reset).
 *
 * The buffer keeps its memory across jbuf_reset, so a worker that reuses one buffer per
 * message allocates only while its largest message grows (geometric growth). Single-threaded.
 */
#ifndef TIDEGATE_CORE_JBUF_H
#define TIDEGATE_CORE_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jbuf {
    char *data;  /* owned; NULL until the first append. data[len] is '\0' whenever data is
                    not NULL, so the text can be printed, but it may also contain NUL bytes
                    from jbuf_raw */
    size_t len;  /* bytes written */
    size_t cap;  /* bytes allocated, always > len when data is not NULL (room for the '\0') */
    size_t max;  /* most bytes len may reach; an append going past it fails the buffer */
    bool failed; /* sticky: an append failed, the text is incomplete */
};

/* An empty buffer that will hold at most `max_bytes` (>= 1) bytes of text. Allocates nothing. */
void jbuf_init(struct jbuf *jb, size_t max_bytes);

/* Empties the buffer and clears `failed`; keeps the memory and `max`. */
void jbuf_reset(struct jbuf *jb);

/* Releases the memory; the buffer is then as after jbuf_init with the same `max`. */
void jbuf_free(struct jbuf *jb);

/* Appends `len` bytes as they are (already JSON: a client's `data`, an `id`). */
void jbuf_raw(struct jbuf *jb, const void *bytes, size_t len);

/* Appends a string literal as it is; the length is known at compile time. */
#define jbuf_lit(jb, literal) jbuf_raw((jb), "" literal, sizeof(literal) - 1)

void jbuf_char(struct jbuf *jb, char c);

/* Appends `len` bytes as one JSON string, quotes included. The bytes must already be valid
 * UTF-8 (every string the gateway writes is: it was validated on the way in, or is ours);
 * they are copied as they are except `"` and `\`, which get a backslash, and U+0000-U+001F,
 * which become \b \t \n \f \r or \u00xx (lowercase hex). Nothing else is escaped, U+2028
 * and U+2029 included (RFC 8259 does not require it). */
void jbuf_str(struct jbuf *jb, const char *s, size_t len);

/* jbuf_str of a NUL-terminated string. */
void jbuf_cstr(struct jbuf *jb, const char *s);

/* Numbers in decimal, without leading zeros ("0", "18446744073709551615", "-42"). */
void jbuf_u64(struct jbuf *jb, uint64_t value);
void jbuf_i64(struct jbuf *jb, int64_t value);

/* "true" / "false" and "null". */
void jbuf_bool(struct jbuf *jb, bool value);
void jbuf_null(struct jbuf *jb);

#endif
