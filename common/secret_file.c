/* secret_file: stat(2) follows a symbolic link on purpose: what matters is the file read. */
#include "secret_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int secret_file_check(const char *path, const char *what, err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        err_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_mode & 077) {
        err_set(err, "%s: %s is readable by others (mode %03o); run chmod 600 on it", path, what,
                (unsigned)(st.st_mode & 0777));
        return -1;
    }
    if (st.st_uid != geteuid()) {
        err_set(err, "%s: %s is owned by uid %u, not by this process's user (uid %u); chown it",
                path, what, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    return 0;
}
