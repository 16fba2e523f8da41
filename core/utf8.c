/* Incremental UTF-8 validation: see utf8.h.
 *
 * A deterministic automaton over byte classes. Each state names exactly which bytes may
 * come next, so the automaton rejects at the first byte that no continuation could make
 * valid (0xE0 0x80 fails at 0x80, 0xED 0xA0 at 0xA0, 0xF4 0x90 at 0x90), which is the
 * fail-fast behaviour RFC 6455 section 8.1 asks for. Before changing a table, note that
 * UTF8_ACCEPT and UTF8_REJECT are part of the public contract (0 and 1) and every other
 * state value is private but may be stored by callers between calls.
 *
 * Hot path: text payload is mostly ASCII, so at a character boundary whole 8-byte words
 * are checked at once (loaded with memcpy: the input may have any alignment).
 */
#include "core/utf8.h"

#include <assert.h>
#include <string.h>

/* Byte classes: which ranges a state can tell apart. */
enum utf8_class {
    C_ASCII,  /* 00..7F */
    C_CONT_L, /* 80..8F */
    C_CONT_M, /* 90..9F */
    C_CONT_H, /* A0..BF */
    C_BAD,    /* C0, C1 (always overlong), F5..FF (beyond U+10FFFF) */
    C_LEAD2,  /* C2..DF */
    C_E0,     /* E0: second byte A0..BF, else overlong */
    C_LEAD3,  /* E1..EC, EE, EF */
    C_ED,     /* ED: second byte 80..9F, else a surrogate */
    C_F0,     /* F0: second byte 90..BF, else overlong */
    C_LEAD4,  /* F1..F3 */
    C_F4,     /* F4: second byte 80..8F, else beyond U+10FFFF */
    UTF8_CLASS_COUNT,
};

/* States other than the two public ones: what the next byte must be. */
enum utf8_private_state {
    S_NEED1 = 2, /* one continuation byte, any */
    S_NEED2 = 3, /* two continuation bytes, any */
    S_E0 = 4,    /* A0..BF, then one more */
    S_ED = 5,    /* 80..9F, then one more */
    S_NEED3 = 6, /* three continuation bytes, any */
    S_F0 = 7,    /* 90..BF, then two more */
    S_F4 = 8,    /* 80..8F, then two more */
    UTF8_STATE_COUNT,
};

#define R UTF8_REJECT

static const uint8_t utf8_class_of[256] = {
    [0x00 ... 0x7F] = C_ASCII,
    [0x80 ... 0x8F] = C_CONT_L,
    [0x90 ... 0x9F] = C_CONT_M,
    [0xA0 ... 0xBF] = C_CONT_H,
    [0xC0 ... 0xC1] = C_BAD,
    [0xC2 ... 0xDF] = C_LEAD2,
    [0xE0] = C_E0,
    [0xE1 ... 0xEC] = C_LEAD3,
    [0xED] = C_ED,
    [0xEE ... 0xEF] = C_LEAD3,
    [0xF0] = C_F0,
    [0xF1 ... 0xF3] = C_LEAD4,
    [0xF4] = C_F4,
    [0xF5 ... 0xFF] = C_BAD,
};

static const uint8_t utf8_next[UTF8_STATE_COUNT][UTF8_CLASS_COUNT] = {
    /* Columns in enum utf8_class order: ASCII, CONT_L, CONT_M, CONT_H, BAD, LEAD2, E0, LEAD3,
     * ED, F0, LEAD4, F4. */
    [UTF8_ACCEPT] = {UTF8_ACCEPT, R, R, R, R, S_NEED1, S_E0, S_NEED2, S_ED, S_F0, S_NEED3, S_F4},
    [UTF8_REJECT] = {R, R, R, R, R, R, R, R, R, R, R, R},
    [S_NEED1] = {R, UTF8_ACCEPT, UTF8_ACCEPT, UTF8_ACCEPT, R, R, R, R, R, R, R, R},
    [S_NEED2] = {R, S_NEED1, S_NEED1, S_NEED1, R, R, R, R, R, R, R, R},
    [S_E0] = {R, R, R, S_NEED1, R, R, R, R, R, R, R, R},
    [S_ED] = {R, S_NEED1, S_NEED1, R, R, R, R, R, R, R, R, R},
    [S_NEED3] = {R, S_NEED2, S_NEED2, S_NEED2, R, R, R, R, R, R, R, R},
    [S_F0] = {R, R, S_NEED2, S_NEED2, R, R, R, R, R, R, R, R},
    [S_F4] = {R, S_NEED2, R, R, R, R, R, R, R, R, R, R},
};

#undef R

enum { UTF8_WORD_BYTES = 8 };

/* Returns the index of the first byte at or after `i` that starts a word containing a
 * non-ASCII byte (or fewer than a word's bytes before `len`). */
static size_t utf8_skip_ascii(const uint8_t *bytes, size_t i, size_t len)
{
    const uint64_t high_bits = 0x8080808080808080ull;
    while (len - i >= UTF8_WORD_BYTES) {
        uint64_t word;
        memcpy(&word, bytes + i, sizeof(word));
        if ((word & high_bits) != 0) {
            break;
        }
        i += UTF8_WORD_BYTES;
    }
    return i;
}

utf8_state utf8_validate_step(utf8_state state, const uint8_t *bytes, size_t len)
{
    assert(state < UTF8_STATE_COUNT);
    assert(bytes != NULL || len == 0);
    size_t i = 0;
    while (i < len && state != UTF8_REJECT) {
        if (state == UTF8_ACCEPT) {
            i = utf8_skip_ascii(bytes, i, len);
        }
        /* At least one word byte by byte after the fast path stops, so a word that holds a
         * non-ASCII byte is never rescanned. */
        size_t end = len - i < UTF8_WORD_BYTES ? len : i + UTF8_WORD_BYTES;
        for (; i < end && state != UTF8_REJECT; i++) {
            state = utf8_next[state][utf8_class_of[bytes[i]]];
        }
    }
    return state;
}

bool utf8_is_valid(const uint8_t *bytes, size_t len)
{
    return utf8_validate_step(UTF8_ACCEPT, bytes, len) == UTF8_ACCEPT;
}
