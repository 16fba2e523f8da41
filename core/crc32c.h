/* CRC-32C (Castagnoli, RFC 3720 appendix B.4): the checksum the PROXY protocol v2 carries in
 * its PP2_TYPE_CRC32C TLV.
 *
 * Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF; the check value of
 * "123456789" is 0xE3069283. Four bits a step from a 16-entry table: headers are at most a
 * few KiB, so this is fast enough and needs no start-up table or CPU feature probe.
 */
#ifndef TIDEGATE_CORE_CRC32C_H
#define TIDEGATE_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc`, the CRC-32C of the bytes before `data` (0 for none), over `len` more bytes
 * and returns the CRC-32C of all of them: crc32c_extend(crc32c_extend(0, a, n), b, m) is the
 * CRC of a followed by b. */
uint32_t crc32c_extend(uint32_t crc, const uint8_t *data, size_t len);

#endif
