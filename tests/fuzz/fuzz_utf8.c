/* libFuzzer target for core/utf8: the validator fed whole, byte by byte, in chunks at
 * input-derived positions and from an unaligned copy must agree with each other and with
 * the reference decoder below, including the exact byte at which invalid input is rejected.
 *
 * The reference works on code point values, not byte ranges, so it shares no table with
 * the validator: a partial sequence is possible when some code point of the announced length
 * that is neither overlong, a surrogate, nor above U+10FFFF starts with the bits seen so far.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ref_result {
    bool rejected;
    size_t reject_at; /* index of the first impossible byte, when rejected */
    bool complete;    /* ends on a character boundary, when not rejected */
};

/* Could a sequence of `n` bytes whose first `seen` bytes carry `bits` still encode a valid
 * code point? */
static bool ref_possible(uint32_t bits, size_t seen, size_t n)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t max_cp[5] = {0, 0, 0x7FF, 0xFFFF, 0x10FFFF};
    unsigned missing_bits = (unsigned)(6 * (n - seen));
    uint32_t lo = bits << missing_bits;
    uint32_t hi = lo | ((1u << missing_bits) - 1);
    if (hi < min_cp[n] || lo > max_cp[n]) {
        return false;
    }
    lo = lo < min_cp[n] ? min_cp[n] : lo;
    hi = hi > max_cp[n] ? max_cp[n] : hi;
    return !(lo >= 0xD800 && hi <= 0xDFFF);
}

static size_t ref_sequence_len(uint8_t lead)
{
    if ((lead & 0xE0) == 0xC0) {
        return 2;
    }
    if ((lead & 0xF0) == 0xE0) {
        return 3;
    }
    return (lead & 0xF8) == 0xF0 ? 4 : 0;
}

static struct ref_result ref_decode(const uint8_t *p, size_t len)
{
    struct ref_result res = {false, 0, true};
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = ref_sequence_len(p[i]);
        uint32_t bits = p[i] & (0x7Fu >> n);
        if (n == 0 || !ref_possible(bits, 1, n)) {
            return (struct ref_result){true, i, false};
        }
        for (size_t k = 1; k < n; k++) {
            if (i + k == len) {
                return (struct ref_result){false, 0, false};
            }
            uint8_t c = p[i + k];
            bits = (bits << 6) | (c & 0x3F);
            if ((c & 0xC0) != 0x80 || !ref_possible(bits, k + 1, n)) {
                return (struct ref_result){true, i + k, false};
            }
        }
        i += n;
    }
    return res;
}

static size_t reject_index_bytewise(const uint8_t *p, size_t len, utf8_state *final)
{
    utf8_state s = UTF8_ACCEPT;
    for (size_t i = 0; i < len; i++) {
        s = utf8_validate_step(s, p + i, 1);
        if (s == UTF8_REJECT) {
            *final = s;
            return i;
        }
    }
    *final = s;
    return SIZE_MAX;
}

static utf8_state validate_in_chunks(const uint8_t *p, size_t len)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull ^ len;
    for (size_t i = 0; i < len && i < 16; i++) {
        seed = (seed ^ p[i]) * 0x100000001B3ull;
    }
    utf8_state s = UTF8_ACCEPT;
    size_t pos = 0;
    while (pos < len) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        size_t n = 1 + (size_t)(seed % 24);
        n = n < len - pos ? n : len - pos;
        s = utf8_validate_step(s, p + pos, n);
        pos += n;
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ref_result ref = ref_decode(data, size);
    utf8_state whole = utf8_validate_step(UTF8_ACCEPT, data, size);
    utf8_state bytewise;
    size_t reject_at = reject_index_bytewise(data, size, &bytewise);

    FUZZ_CHECK((whole == UTF8_REJECT) == ref.rejected);
    FUZZ_CHECK(bytewise == whole);
    FUZZ_CHECK(validate_in_chunks(data, size) == whole);
    FUZZ_CHECK(utf8_is_valid(data, size) == (!ref.rejected && ref.complete));
    if (ref.rejected) {
        FUZZ_CHECK(reject_at == ref.reject_at);
        /* Everything before the rejected byte is a possible start of valid text. */
        FUZZ_CHECK(utf8_validate_step(UTF8_ACCEPT, data, ref.reject_at) != UTF8_REJECT);
    } else {
        FUZZ_CHECK(reject_at == SIZE_MAX);
        FUZZ_CHECK((whole == UTF8_ACCEPT) == ref.complete);
    }

    /* The word-at-a-time path must not depend on alignment. */
    uint8_t *copy = malloc(size + 8);
    FUZZ_CHECK(copy != NULL);
    size_t shift = size % 8;
    if (size > 0) {
        memcpy(copy + shift, data, size);
    }
    FUZZ_CHECK(utf8_validate_step(UTF8_ACCEPT, copy + shift, size) == whole);
    free(copy);
    return 0;
}
