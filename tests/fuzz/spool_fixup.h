/* spool_fixup: shared by the spool's fuzz targets. Recomputes the CRC of everything in buf
 * that is framed like a spool record, so the fuzzer gets past the checksum and reaches the
 * logic behind it. */
#ifndef PX_FUZZ_SPOOL_FIXUP_H
#define PX_FUZZ_SPOOL_FIXUP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spool_record.h"

static inline void spool_fixup_crcs(uint8_t *buf, size_t size)
{
    size_t off = 0;
    while (off + SPOOL_RECORD_HEADER <= size) {
        uint32_t len = spool_record_get32(buf + off + 12);
        if (memcmp(buf + off, "PXSR", 4) != 0 || len > SPOOL_RECORD_MAX_PAYLOAD ||
            len > size - off - SPOOL_RECORD_HEADER) {
            off++;
            continue;
        }
        buf[off + 10] = buf[off + 11] = 0;
        spool_record_encode(buf + off, buf[off + 8], buf[off + 9],
                            spool_record_get64(buf + off + 16), buf + off + SPOOL_RECORD_HEADER,
                            len);
        off += SPOOL_RECORD_HEADER + len;
    }
}

#endif
