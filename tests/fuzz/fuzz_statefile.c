/* fuzz_statefile: fuzz target for the agent's state files (statefile.h): whatever bytes are
 * written with statefile_write() are read back by statefile_read() exactly, under any bound.
 * The input's first two bytes are the read bound (little-endian), the rest the content,
 * written (not durably: the sync is not what is tested, and would take the fuzzer's speed)
 * into a scratch directory made once per process, in /dev/shm when there is one (on a disk
 * the renames alone hold the fuzzer to about a thousand runs a second). Checked beyond "no crash":
 * the content comes back byte for byte when it fits the bound and is refused, with the file named,
 * when it does not (also at the bound and one below it); no temporary file is left; a
 * missing file reads as "none". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_statefile: %s: %s\n", what, detail ? detail : "");
    abort();
}

static char dir[64];
static char path[96], tmp[112], missing[96];

static void cleanup(void)
{
    unlink(path);
    unlink(tmp);
    rmdir(dir);
}

/* Reads path with bound max and checks the answer against want (len bytes). */
static void check_read(size_t max, const uint8_t *want, size_t len)
{
    uint8_t *buf = NULL;
    size_t got = 0;
    err_t err = {{0}};
    int rc = statefile_read(path, max, &buf, &got, &err);
    if (len <= max) {
        if (rc != 0)
            fuzz_fail("content within the bound not read", err.msg);
        if (got != len || (len && memcmp(buf, want, len) != 0))
            fuzz_fail("content read back differs", NULL);
    } else if (rc != -1 || buf || !strstr(err.msg, path)) {
        fuzz_fail("content over the bound not refused with the file named", err.msg);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        struct stat shm;
        snprintf(dir, sizeof dir, "%s/px-fuzz-statefile-XXXXXX",
                 stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            fuzz_fail("cannot make a scratch directory", dir);
        snprintf(path, sizeof path, "%s/state", dir);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        snprintf(missing, sizeof missing, "%s/missing", dir);
        atexit(cleanup);
    }
    if (size < 2)
        return 0;
    size_t max = (size_t)data[0] | (size_t)data[1] << 8;
    const uint8_t *content = data + 2;
    size_t len = size - 2;
    err_t err = {{0}};
    if (statefile_write(path, content, len, 0, &err) < 0)
        fuzz_fail("write failed", err.msg);
    struct stat st;
    if (stat(tmp, &st) == 0)
        fuzz_fail("temporary file left behind", tmp);
    check_read(max, content, len);
    check_read(len, content, len);
    if (len > 0)
        check_read(len - 1, content, len);
    uint8_t *buf = NULL;
    size_t got = 0;
    if (statefile_read(missing, max, &buf, &got, &err) != 1 || buf)
        fuzz_fail("a missing file does not read as none", err.msg);
    return 0;
}
