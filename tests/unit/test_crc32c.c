/* Unit tests for core/crc32c: the standard check value, known vectors from RFC 3720, and that
 * extending piece by piece equals one pass (the PROXY parser relies on it to skip the CRC
 * field), checked against a bit-at-a-time reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/crc32c.h"

/* The definition, one bit at a time: what the nibble table must agree with. */
static uint32_t crc32c_reference(const uint8_t *data, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static void the_check_value_of_123456789_is_e3069283(void **state)
{
    (void)state;
    assert_int_equal(crc32c_extend(0, (const uint8_t *)"123456789", 9), 0xe3069283u);
    assert_int_equal(crc32c_extend(0, NULL, 0), 0);
}

static void rfc3720_vectors_match(void **state)
{
    (void)state;
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    assert_int_equal(crc32c_extend(0, buf, sizeof buf), 0x8a9136aau); /* 32 bytes of zeros */
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(crc32c_extend(0, buf, sizeof buf), 0x62a8ab43u); /* 32 bytes of ones */
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(crc32c_extend(0, buf, sizeof buf), 0x46dd794eu); /* incrementing */
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(crc32c_extend(0, buf, sizeof buf), 0x113fdb5cu); /* decrementing */
}

static void extending_in_pieces_equals_one_pass(void **state)
{
    (void)state;
    uint8_t buf[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    uint32_t whole = crc32c_extend(0, buf, sizeof buf);
    assert_int_equal(whole, crc32c_reference(buf, sizeof buf));
    for (size_t cut = 0; cut <= sizeof buf; cut++) {
        uint32_t crc = crc32c_extend(0, buf, cut);
        assert_int_equal(crc, crc32c_reference(buf, cut));
        assert_int_equal(crc32c_extend(crc, buf + cut, sizeof buf - cut), whole);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_check_value_of_123456789_is_e3069283),
        cmocka_unit_test(rfc3720_vectors_match),
        cmocka_unit_test(extending_in_pieces_equals_one_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
