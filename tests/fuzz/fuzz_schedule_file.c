/* fuzz_schedule_file: fuzz target for the saved schedule's reader, schedule_file_parse()
 * (what schedule_file_load() does with the file's bytes). Unless the input's last byte is
 * odd, the CRC of a record framed at its start is fixed up first, so the fuzzer reaches the
 * envelope and the schedule's checks. Checked beyond "no crash": every refusal names the
 * file; an accepted schedule re-encodes with schedule_file_encode(), parses back, and
 * encodes again to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule_file.h"
#include "spool_fixup.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_schedule_file: %s: %s\n", what, detail ? detail : "");
    abort();
}

#define NAME "state/schedule"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (!(size > 0 && (data[size - 1] & 1)))
        spool_fixup_crcs(buf, size);
    Parallax__Envelope *env = NULL;
    err_t err = {{0}};
    if (schedule_file_parse(buf, size, NAME, &env, &err) < 0) {
        if (env || !strstr(err.msg, NAME))
            fuzz_fail("a refusal that does not name the file", err.msg);
        free(buf);
        return 0;
    }
    free(buf);
    uint8_t *once = NULL, *twice = NULL;
    size_t once_len = 0, twice_len = 0;
    if (schedule_file_encode(env->schedule, &once, &once_len, &err) < 0)
        fuzz_fail("an accepted schedule does not encode", err.msg);
    Parallax__Envelope *back = NULL;
    if (schedule_file_parse(once, once_len, NAME, &back, &err) < 0)
        fuzz_fail("a saved schedule does not parse back", err.msg);
    if (back->schedule->version != env->schedule->version ||
        back->schedule->n_probes != env->schedule->n_probes)
        fuzz_fail("the schedule parsed back is another one", NULL);
    if (schedule_file_encode(back->schedule, &twice, &twice_len, &err) < 0)
        fuzz_fail("a parsed-back schedule does not encode", err.msg);
    if (once_len != twice_len || memcmp(once, twice, once_len) != 0)
        fuzz_fail("encode(parse(encode(x))) != encode(x)", NULL);
    free(once);
    free(twice);
    wire_free(&back);
    wire_free(&env);
    return 0;
}
