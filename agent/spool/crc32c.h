/* crc32c: the Castagnoli CRC (iSCSI, ext4, RFC 3720), which the spool and the agent's state
 * files use to tell a torn or corrupted record from a good one. Table-driven, no state. */
#ifndef PX_CRC32C_H
#define PX_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of len bytes at data, continuing from crc (0 to start). crc32c_update(0, "123456789",
 * 9) is 0xe3069283. data may be NULL when len is 0. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

#endif
