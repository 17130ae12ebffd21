/* deadletter: payload = reason length (u16, little-endian), reason bytes, packed envelope. */
#include "deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool_record.h"

int deadletter_append(const char *path, uint64_t seq, const char *reason, const uint8_t *env,
                      size_t len, err_t *err)
{
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 0xffff)
        rlen = 0xffff;
    size_t plen = 2 + rlen + len;
    if (plen > DEADLETTER_MAX_PAYLOAD) {
        err_set(err, "batch %llu too large for the dead-letter file", (unsigned long long)seq);
        return -1;
    }
    uint8_t *payload = malloc(plen);
    uint8_t *rec = malloc(spool_record_size(plen));
    if (!payload || !rec) {
        free(payload);
        free(rec);
        err_set(err, "out of memory");
        return -1;
    }
    payload[0] = (uint8_t)rlen;
    payload[1] = (uint8_t)(rlen >> 8);
    if (rlen)
        memcpy(payload + 2, reason, rlen);
    if (len)
        memcpy(payload + 2 + rlen, env, len);
    spool_record_encode(rec, SPOOL_REC_DEAD, 0, seq, payload, plen);
    free(payload);
    size_t size = spool_record_size(plen);
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
