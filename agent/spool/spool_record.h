/* spool_record: the framing of every file the agent keeps in state_dir (spool segments, the
 * dead-letter file, the saved schedule): a 24-byte header with a magic, a CRC32C, a type, a
 * length and a sequence number, then the payload. Pure functions over buffers: no I/O. */
#ifndef PX_SPOOL_RECORD_H
#define PX_SPOOL_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Header layout, all integers little-endian:
 *   0..4   magic "PXSR"
 *   4..8   CRC32C of bytes 8..24 and of the payload
 *   8      type (spool_record_type_t)
 *   9      flags (meaning depends on the type)
 *   10..12 zero
 *   12..16 payload length
 *   16..24 seq (meaning depends on the type) */
#define SPOOL_RECORD_HEADER 24
/* Largest payload in a spool segment: one result or gap, with room to spare. */
#define SPOOL_RECORD_MAX_PAYLOAD (64 * 1024)

typedef enum spool_record_type {
    SPOOL_REC_HEADER = 1,   /* first record of a segment; seq = segment number */
    SPOOL_REC_RESULT = 2,   /* a packed Parallax.Result; seq = its batch */
    SPOOL_REC_GAP = 3,      /* a packed Parallax.Gap; seq = its batch; flags = spool_gap_origin */
    SPOOL_REC_ACK = 4,      /* the coordinator answered batch seq for good (stored or rejected) */
    SPOOL_REC_DROP = 5,     /* segment seq was dropped (spool full); its gaps precede this */
    SPOOL_REC_DEAD = 6,     /* dead-letter file: a rejected batch; seq = its batch */
    SPOOL_REC_SCHEDULE = 7, /* schedule file: a packed Envelope holding the schedule */
} spool_record_type_t;

/* What the decoder makes of the bytes at an offset. */
typedef enum spool_record_status {
    SPOOL_RECORD_OK = 0,    /* a whole, intact record */
    SPOOL_RECORD_SHORT = 1, /* the buffer ends inside the record (a torn tail, if at the end) */
    SPOOL_RECORD_BAD = 2,   /* not a record: wrong magic, length over the limit, CRC mismatch */
} spool_record_status_t;

/* One decoded record. payload points into the decoded buffer (borrowed). */
typedef struct spool_record {
    uint8_t type;
    uint8_t flags;
    uint64_t seq;
    const uint8_t *payload;
    size_t len;
} spool_record_t;

/* Bytes a record with a payload of len bytes takes. */
size_t spool_record_size(size_t len);

/* Writes the record into out, which must hold spool_record_size(len) bytes. payload may be
 * NULL when len is 0, and may already sit at out + SPOOL_RECORD_HEADER (re-encoding in
 * place). */
void spool_record_encode(uint8_t *out, uint8_t type, uint8_t flags, uint64_t seq,
                         const void *payload, size_t len);

/* Decodes the record at the start of buf (len bytes), accepting payloads of up to
 * max_payload bytes. On SPOOL_RECORD_OK fills *rec and sets *used to the record's size;
 * otherwise leaves both alone. Never reads outside buf. */
spool_record_status_t spool_record_decode(const uint8_t *buf, size_t len, size_t max_payload,
                                          spool_record_t *rec, size_t *used);

/* Offset of the first intact record at or after from, or len if there is none: how a reader
 * gets past a corrupted stretch without trusting its length field. */
size_t spool_record_resync(const uint8_t *buf, size_t len, size_t from, size_t max_payload);

/* Little-endian helpers for payloads. get functions read from p, put functions write to p. */
uint32_t spool_record_get32(const uint8_t *p);
uint64_t spool_record_get64(const uint8_t *p);
void spool_record_put32(uint8_t *p, uint32_t v);
void spool_record_put64(uint8_t *p, uint64_t v);

#endif
