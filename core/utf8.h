/* Incremental UTF-8 validation (RFC 3629): rejects overlong forms, surrogates
 * (U+D800..U+DFFF), code points above U+10FFFF and stray continuation bytes.
 *
 * The state carries across calls, so a text message split over frames and over
 * receive buffers is validated as it arrives and fails at the first byte that can
 * never become valid (RFC 6455 section 8.1: fail fast). Hot path: no allocation, an
 * ASCII fast path over whole words.
 */
#ifndef TIDEGATE_CORE_UTF8_H
#define TIDEGATE_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Validator state. UTF8_ACCEPT (0) means "at a character boundary"; UTF8_REJECT means
 * the input seen so far can never be valid. Any other value is mid-character. */
typedef uint32_t utf8_state;
#define UTF8_ACCEPT ((utf8_state)0)
#define UTF8_REJECT ((utf8_state)1)

/* Feeds `len` bytes. Returns the new state: UTF8_REJECT as soon as a byte makes the
 * sequence invalid (the rest is not examined), UTF8_ACCEPT when the bytes end on a
 * character boundary, anything else when they end inside a character. */
utf8_state utf8_validate_step(utf8_state state, const uint8_t *bytes, size_t len);

/* Whole-buffer convenience: true when `bytes` is complete, valid UTF-8. */
bool utf8_is_valid(const uint8_t *bytes, size_t len);

#endif
