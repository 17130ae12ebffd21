/* fuzz_spool: fuzz target for the spool's segment reader. The input is scanned record by
 * record with spool_record_decode()/spool_record_resync() the way the spool reads a segment
 * (every intact record must re-encode to the same bytes; the scan must always move forward),
 * then written as the only segment of a scratch spool and opened for real: damaged data is
 * never fatal, and every batch the spool then offers either loads as a valid envelope or is
 * given up (and counted), so what is offered always adds up to what is pending. When the
 * input's last byte is odd, the CRCs of whatever is framed like a record are fixed up before
 * the replay, so the fuzzer reaches the replay's logic and not only the checksum test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "spool_fixup.h"
#include "spool_record.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_spool: %s: %s\n", what, detail ? detail : "");
    abort();
}

static void scan(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        spool_record_t rec;
        size_t used = 0;
        spool_record_status_t st =
            spool_record_decode(data + off, size - off, SPOOL_RECORD_MAX_PAYLOAD, &rec, &used);
        if (st == SPOOL_RECORD_OK) {
            if (used < SPOOL_RECORD_HEADER || used > size - off || rec.len != used - 24)
                fuzz_fail("decoded record size out of bounds", NULL);
            uint8_t *again = malloc(used);
            if (!again)
                return;
            spool_record_encode(again, rec.type, rec.flags, rec.seq, rec.payload, rec.len);
            if (memcmp(again, data + off, used) != 0)
                fuzz_fail("record does not re-encode to the same bytes", NULL);
            free(again);
            off += used;
            continue;
        }
        size_t next = spool_record_resync(data, size, off + 1, SPOOL_RECORD_MAX_PAYLOAD);
        if (next <= off || next > size)
            fuzz_fail("resync did not move forward", NULL);
        off = next;
    }
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(path);
            else
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void replay(const uint8_t *data, size_t size)
{
    char root[] = "/tmp/px-fuzz-spool-XXXXXX";
    if (!mkdtemp(root))
        return;
    char dir[128], dead[128], seg[192];
    snprintf(dir, sizeof dir, "%s/spool", root);
    snprintf(dead, sizeof dead, "%s/deadletter", root);
    snprintf(seg, sizeof seg, "%s/0000000000000001.seg", dir);
    FILE *fp = NULL;
    if (mkdir(dir, 0700) == 0 && (fp = fopen(seg, "wb")) != NULL) {
        size_t w = fwrite(data, 1, size, fp);
        if (fclose(fp) != 0 || w != size)
            fuzz_fail("cannot write the scratch segment", seg);
        spool_config_t cfg = {.dir = dir,
                              .deadletter = dead,
                              .max_bytes = 1 << 20,
                              .segment_bytes = 1 << 16,
                              .batch_max = 100,
                              .stream = 1};
        err_t err = {{0}};
        spool_t *sp = spool_open(&cfg, &err);
        if (!sp)
            fuzz_fail("spool_open failed on damaged data", err.msg);
        spool_counters_t c;
        spool_counters(sp, &c);
        uint64_t offered = 0;
        for (spool_batch_t *b = spool_batch_next(sp, NULL); b; b = spool_batch_next(sp, b))
            offered += b->results;
        if (offered != c.pending)
            fuzz_fail("batches offered do not add up to pending", NULL);
        /* Load each batch once; a load that fails gives the batch up, so walk by seq. */
        uint64_t seq = 0;
        for (;;) {
            spool_batch_t *b = spool_batch_next(sp, NULL);
            while (b && b->seq <= seq)
                b = spool_batch_next(sp, b);
            if (!b)
                break;
            seq = b->seq;
            uint8_t *buf = NULL;
            size_t len = 0;
            if (spool_batch_load(sp, seq, &buf, &len, &err) == 0) {
                Parallax__Envelope *env = wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err);
                if (!env)
                    fuzz_fail("a loaded batch does not validate", err.msg);
                wire_free(&env);
                free(buf);
            }
        }
        spool_close(&sp);
    }
    remove_tree(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scan(data, size);
    if (size > 0 && (data[size - 1] & 1)) {
        uint8_t *fixed = malloc(size);
        if (!fixed)
            return 0;
        memcpy(fixed, data, size);
        spool_fixup_crcs(fixed, size);
        scan(fixed, size);
        replay(fixed, size);
        free(fixed);
    } else {
        replay(data, size);
    }
    return 0;
}
