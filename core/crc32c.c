/* CRC-32C: see crc32c.h. The table holds the CRC of each 4-bit value shifted through the
 * reflected polynomial four times; each byte is two lookups, low nibble first. */
#include "core/crc32c.h"

static const uint32_t crc32c_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t crc32c_extend(uint32_t crc, const uint8_t *data, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 0x0f];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 0x0f];
    }
    return ~crc;
}
