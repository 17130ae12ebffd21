/* spool_record: encoding and checking of the record framing. The CRC covers the header after
 * itself, so a flipped bit in the type, length or seq is caught as surely as one in the
 * payload; the magic lets a reader find the next record after damage. */
#include "spool_record.h"

#include <string.h>

#include "crc32c.h"

static const uint8_t spool_magic[4] = {'P', 'X', 'S', 'R'};

uint32_t spool_record_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t spool_record_get64(const uint8_t *p)
{
    return (uint64_t)spool_record_get32(p) | (uint64_t)spool_record_get32(p + 4) << 32;
}

void spool_record_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void spool_record_put64(uint8_t *p, uint64_t v)
{
    spool_record_put32(p, (uint32_t)v);
    spool_record_put32(p + 4, (uint32_t)(v >> 32));
}

size_t spool_record_size(size_t len)
{
    return SPOOL_RECORD_HEADER + len;
}

void spool_record_encode(uint8_t *out, uint8_t type, uint8_t flags, uint64_t seq,
                         const void *payload, size_t len)
{
    memcpy(out, spool_magic, sizeof spool_magic);
    out[8] = type;
    out[9] = flags;
    out[10] = 0;
    out[11] = 0;
    spool_record_put32(out + 12, (uint32_t)len);
    spool_record_put64(out + 16, seq);
    if (len)
        memmove(out + SPOOL_RECORD_HEADER, payload, len);
    uint32_t crc = crc32c_update(0, out + 8, SPOOL_RECORD_HEADER - 8 + len);
    spool_record_put32(out + 4, crc);
}

spool_record_status_t spool_record_decode(const uint8_t *buf, size_t len, size_t max_payload,
                                          spool_record_t *rec, size_t *used)
{
    /* A prefix of the magic at the very end may be the start of a torn record. */
    size_t cmp = len < sizeof spool_magic ? len : sizeof spool_magic;
    if (memcmp(buf, spool_magic, cmp) != 0)
        return SPOOL_RECORD_BAD;
    if (len < SPOOL_RECORD_HEADER)
        return SPOOL_RECORD_SHORT;
    uint32_t plen = spool_record_get32(buf + 12);
    if (plen > max_payload || buf[10] != 0 || buf[11] != 0)
        return SPOOL_RECORD_BAD;
    if (len - SPOOL_RECORD_HEADER < plen)
        return SPOOL_RECORD_SHORT;
    uint32_t crc = crc32c_update(0, buf + 8, SPOOL_RECORD_HEADER - 8 + plen);
    if (crc != spool_record_get32(buf + 4))
        return SPOOL_RECORD_BAD;
    rec->type = buf[8];
    rec->flags = buf[9];
    rec->seq = spool_record_get64(buf + 16);
    rec->payload = buf + SPOOL_RECORD_HEADER;
    rec->len = plen;
    *used = SPOOL_RECORD_HEADER + plen;
    return SPOOL_RECORD_OK;
}

size_t spool_record_resync(const uint8_t *buf, size_t len, size_t from, size_t max_payload)
{
    for (size_t off = from; off + SPOOL_RECORD_HEADER <= len; off++) {
        const uint8_t *hit = memchr(buf + off, spool_magic[0], len - off);
        if (!hit)
            break;
        off = (size_t)(hit - buf);
        spool_record_t rec;
        size_t used;
        if (spool_record_decode(buf + off, len - off, max_payload, &rec, &used) == SPOOL_RECORD_OK)
            return off;
    }
    return len;
}
