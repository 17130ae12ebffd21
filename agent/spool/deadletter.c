/* deadletter: payload = reason length (u16, little-endian), reason bytes, packed envelope. */
#include "deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool_record.h"
#include "statefile.h"

uint64_t deadletter_count(const uint8_t *buf, size_t len)
{
    uint64_t n = 0;
    size_t off = 0;
    while (off < len) {
        spool_record_t rec;
        size_t used;
        if (spool_record_decode(buf + off, len - off, DEADLETTER_MAX_PAYLOAD, &rec, &used) ==
            SPOOL_RECORD_OK) {
            n += rec.type == SPOOL_REC_DEAD;
            off += used;
        } else {
            off = spool_record_resync(buf, len, off + 1, DEADLETTER_MAX_PAYLOAD);
        }
    }
    return n;
}

/* Makes room for size more bytes in path: past half of max, path becomes path.1 (what that
 * held is dropped). Returns the records dropped, or -1 (err set). */
static long long make_room(const char *path, uint64_t max, size_t size, err_t *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        err_set(err, "cannot stat dead-letter file %s: %s", path, strerror(errno));
        return -1;
    }
    if ((uint64_t)st.st_size == 0 || (uint64_t)st.st_size + size <= max / 2)
        return 0;
    char old[PATH_MAX];
    if (snprintf(old, sizeof old, "%s.1", path) >= (int)sizeof old) {
        err_set(err, "dead-letter path %s too long", path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    err_t rerr = {{0}};
    long long dropped = 0;
    int rc =
        statefile_read(old, max + DEADLETTER_MAX_PAYLOAD + SPOOL_RECORD_HEADER, &buf, &len, &rerr);
    if (rc == 0)
        dropped = (long long)deadletter_count(buf, len);
    else if (rc < 0)
        log_warn("deadletter: %s; its records are dropped uncounted", rerr.msg);
    free(buf);
    if (rename(path, old) < 0 || statefile_sync_dir(path, err) < 0) {
        if (!err || !err->msg[0])
            err_set(err, "cannot rotate dead-letter file %s: %s", path, strerror(errno));
        return -1;
    }
    return dropped;
}

int deadletter_encode(uint64_t seq, const char *reason, const uint8_t *env, size_t len,
                      uint8_t **rec, size_t *size, err_t *err)
{
    *rec = NULL;
    *size = 0;
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 0xffff)
        rlen = 0xffff;
    size_t plen = 2 + rlen + len;
    if (len > DEADLETTER_MAX_PAYLOAD || plen > DEADLETTER_MAX_PAYLOAD) {
        err_set(err, "batch %llu too large for the dead-letter file", (unsigned long long)seq);
        return -1;
    }
    uint8_t *out = malloc(spool_record_size(plen));
    if (!out) {
        err_set(err, "out of memory");
        return -1;
    }
    /* The payload is built in place, after the header (spool_record_encode allows it). */
    uint8_t *payload = out + SPOOL_RECORD_HEADER;
    payload[0] = (uint8_t)rlen;
    payload[1] = (uint8_t)(rlen >> 8);
    if (rlen)
        memcpy(payload + 2, reason, rlen);
    if (len)
        memcpy(payload + 2 + rlen, env, len);
    spool_record_encode(out, SPOOL_REC_DEAD, 0, seq, payload, plen);
    *rec = out;
    *size = spool_record_size(plen);
    return 0;
}

int deadletter_append(const char *path, uint64_t seq, const char *reason, const uint8_t *env,
                      size_t len, err_t *err)
{
    uint64_t dropped = 0;
    return deadletter_append_max(path, 0, seq, reason, env, len, &dropped, err);
}

int deadletter_append_max(const char *path, uint64_t max_bytes, uint64_t seq, const char *reason,
                          const uint8_t *env, size_t len, uint64_t *dropped, err_t *err)
{
    if (dropped)
        *dropped = 0;
    if (max_bytes == 0)
        max_bytes = DEADLETTER_DEFAULT_MAX_BYTES;
    uint8_t *rec = NULL;
    size_t size = 0;
    if (deadletter_encode(seq, reason, env, len, &rec, &size, err) < 0)
        return -1;
    long long gone = make_room(path, max_bytes, size, err);
    if (gone < 0) {
        free(rec);
        return -1;
    }
    if (gone > 0) {
        log_warn("deadletter: %s passed half its bound of %llu bytes: %lld older rejected "
                 "batches dropped with %s.1",
                 path, (unsigned long long)max_bytes, gone, path);
        if (dropped)
            *dropped = (uint64_t)gone;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(err, "cannot open dead-letter file %s: %s", path, strerror(errno));
        free(rec);
        return -1;
    }
    ssize_t n = write(fd, rec, size);
    int saved = errno;
    free(rec);
    if (n != (ssize_t)size) {
        err_set(err, "cannot append to dead-letter file %s: %s", path,
                n < 0 ? strerror(saved) : "short write");
        close(fd);
        return -1;
    }
    if (fdatasync(fd) < 0) {
        err_set(err, "cannot sync dead-letter file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int deadletter_parse(const uint8_t *payload, size_t len, char *reason, size_t size,
                     const uint8_t **env, size_t *env_len)
{
    if (len < 2 || size == 0)
        return -1;
    size_t rlen = (size_t)payload[0] | (size_t)payload[1] << 8;
    if (rlen > len - 2)
        return -1;
    size_t copy = rlen < size - 1 ? rlen : size - 1;
    memcpy(reason, payload + 2, copy);
    reason[copy] = '\0';
    *env = payload + 2 + rlen;
    *env_len = len - 2 - rlen;
    return 0;
}
