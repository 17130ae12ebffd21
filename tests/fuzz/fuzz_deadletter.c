/* fuzz_deadletter: fuzz target for the dead-letter file's reader. The input is one record's
 * payload, parsed by deadletter_parse() into a reason buffer whose size the first byte picks
 * (0..255: a zero size must be refused), and also read as a whole file by
 * deadletter_count(). Checked beyond "no crash": a payload is refused exactly when it is
 * shorter than its reason length says; the reason is NUL-terminated, within its buffer and a
 * prefix of the payload's; the envelope is the rest of the payload; and what parses with a
 * whole reason (no NUL inside, not cut) re-encodes with deadletter_encode() to a record whose
 * payload is the input again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadletter.h"
#include "spool_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_deadletter: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)deadletter_count(data, size);
    if (size < 1)
        return 0;
    size_t rsize = data[0];
    const uint8_t *payload = data + 1;
    size_t len = size - 1;
    char reason[256];
    memset(reason, 0x5a, sizeof reason);
    const uint8_t *env = NULL;
    size_t env_len = 0;
    int rc = deadletter_parse(payload, len, reason, rsize, &env, &env_len);
    size_t rlen = len >= 2 ? ((size_t)payload[0] | (size_t)payload[1] << 8) : 0;
    int bad = len < 2 || rsize == 0 || rlen > len - 2;
    if ((rc < 0) != bad)
        fuzz_fail(bad ? "malformed payload accepted" : "well-formed payload refused");
    if (rc < 0)
        return 0;
    size_t copied = rlen < rsize - 1 ? rlen : rsize - 1;
    if (reason[copied] != '\0' || memcmp(reason, payload + 2, copied) != 0)
        fuzz_fail("reason not the payload's, or not terminated");
    if (copied + 1 < sizeof reason && reason[copied + 1] != 0x5a && copied + 1 >= rsize)
        fuzz_fail("reason written past its buffer");
    if (env != payload + 2 + rlen || env_len != len - 2 - rlen)
        fuzz_fail("envelope is not the rest of the payload");
    if (copied == rlen && strlen(reason) == rlen) {
        uint8_t *rec = NULL;
        size_t rec_size = 0;
        err_t err = {{0}};
        if (deadletter_encode(7, reason, env, env_len, &rec, &rec_size, &err) < 0)
            fuzz_fail(err.msg);
        spool_record_t r;
        size_t used = 0;
        if (spool_record_decode(rec, rec_size, DEADLETTER_MAX_PAYLOAD, &r, &used) !=
                SPOOL_RECORD_OK ||
            used != rec_size || r.type != SPOOL_REC_DEAD || r.seq != 7 || r.len != len ||
            memcmp(r.payload, payload, len) != 0)
            fuzz_fail("re-encoded record does not hold the same payload");
        if (deadletter_count(rec, rec_size) != 1)
            fuzz_fail("one record not counted as one");
        free(rec);
    }
    return 0;
}
