/* statefile: write-temp-fsync-rename, plus a bounded whole-file read. */
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int statefile_sync_dir(const char *path, err_t *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, "cannot open directory %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc < 0) {
        err_set(err, "cannot sync directory %s: %s", dir, strerror(saved));
        return -1;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int statefile_write(const char *path, const void *buf, size_t len, int durable, err_t *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        err_set(err, "path too long: %s", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(err, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    const char *step = "write";
    if (write_all(fd, buf, len) < 0)
        goto fail;
    step = "sync";
    if (durable && fsync(fd) < 0)
        goto fail;
    step = "close";
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    step = "rename";
    if (rename(tmp, path) < 0)
        goto fail;
    return durable ? statefile_sync_dir(path, err) : 0;
fail:
    err_set(err, "cannot %s %s: %s", step, tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

int statefile_read(const char *path, size_t max, uint8_t **buf, size_t *len, err_t *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        err_set(err, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err_set(err, "%s is not a regular file", path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        err_set(err, "%s is %lld bytes, more than the %zu allowed", path, (long long)st.st_size,
                max);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data) {
        err_set(err, "out of memory reading %s", path);
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err_set(err, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "file shrank");
            free(data);
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    *buf = data;
    *len = size;
    return 0;
}
