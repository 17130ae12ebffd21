/* privdrop: the order matters: groups while still root, then gid, then uid last, because
 * after setuid() nothing else may be changed; the capabilities after that, because a switch
 * from root clears the permitted and effective sets but not the inheritable one. Every step
 * is verified, not assumed. */
#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GIVE_DEPTH_MAX 8

int privdrop_lookup(const char *name, uid_t *uid, gid_t *gid, err_t *err)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    int rc = getpwnam_r(name, &pw, buf, sizeof buf, &found);
    if (rc != 0 || !found) {
        if (rc != 0)
            err_set(err, "cannot look up user '%s': %s", name, strerror(rc));
        else
            err_set(err, "unknown user '%s'", name);
        return -1;
    }
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}

const char *privdrop_user_for(const char *configured)
{
    if (configured && configured[0])
        return configured;
    return geteuid() == 0 || getuid() == 0 ? PRIVDROP_DEFAULT_USER : NULL;
}

/* Gives the directory open as fd and its entries to uid:gid; recursion is bounded. */
static int give_tree(int fd, const char *path, uid_t uid, gid_t gid, int depth, err_t *err)
{
    if (fchown(fd, uid, gid) < 0) {
        err_set(err, "cannot give '%s' to uid %u: %s", path, (unsigned)uid, strerror(errno));
        close(fd);
        return -1;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        err_set(err, "cannot read '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile */
        if (S_ISDIR(st.st_mode)) {
            if (depth >= GIVE_DEPTH_MAX) {
                err_set(err, "'%s' is nested deeper than %d levels", path, GIVE_DEPTH_MAX);
                rc = -1;
                break;
            }
            /* O_NOFOLLOW: a directory swapped for a link meanwhile is not followed. */
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0 || give_tree(sub, de->d_name, uid, gid, depth + 1, err) < 0) {
                if (sub < 0)
                    err_set(err, "cannot open '%s/%s': %s", path, de->d_name, strerror(errno));
                rc = -1;
            }
        } else if (fchownat(dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 &&
                   errno != ENOENT) {
            err_set(err, "cannot give '%s/%s' to uid %u: %s", path, de->d_name, (unsigned)uid,
                    strerror(errno));
            rc = -1;
        }
    }
    if (rc == 0 && errno != 0) {
        err_set(err, "cannot read '%s': %s", path, strerror(errno));
        rc = -1;
    }
    closedir(d);
    return rc;
}

int privdrop_give_dir(const char *path, const char *name, err_t *err)
{
    uid_t uid;
    gid_t gid;
    if (privdrop_lookup(name, &uid, &gid, err) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    return give_tree(fd, path, uid, gid, 0, err);
}

int privdrop_has_caps(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) < 0)
        return 1; /* cannot tell: assume the worst */
    for (int i = 0; i < 2; i++)
        if (data[i].effective | data[i].permitted | data[i].inheritable)
            return 1;
    /* Ambient capabilities, one by one up to the first the kernel does not know. */
    for (int cap = 0; cap < 64; cap++) {
        int rc = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
        if (rc < 0)
            return errno == EINVAL && cap > 0 ? 0 : 1;
        if (rc == 1)
            return 1;
    }
    return 0;
}

int privdrop_caps(err_t *err)
{
    /* Ambient first: it may only hold what is permitted and inheritable, and clearing those
     * would clear it anyway, but saying so costs nothing. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
        err_set(err, "cannot clear the ambient capabilities: %s", strerror(errno));
        return -1;
    }
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct none[2];
    memset(none, 0, sizeof none);
    if (syscall(SYS_capset, &hdr, none) < 0) {
        err_set(err, "cannot give up the capabilities: %s", strerror(errno));
        return -1;
    }
    /* Nothing exec'd from here on (no program does it, but a bug might) gains privilege
     * through setuid bits or file capabilities. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        err_set(err, "cannot set no_new_privs: %s", strerror(errno));
        return -1;
    }
    if (privdrop_has_caps()) {
        err_set(err, "the process still has capabilities after giving them up");
        return -1;
    }
    return 0;
}

int privdrop_to_user(const char *name, err_t *err)
{
    uid_t uid;
    gid_t gid;
    if (privdrop_lookup(name, &uid, &gid, err) < 0)
        return -1;
    if (uid == 0) {
        err_set(err, "user '%s' has uid 0: switching to it would drop nothing", name);
        return -1;
    }
    if (geteuid() != 0) {
        /* Already unprivileged: fine if it is this user, an error otherwise. */
        if (getuid() != uid || geteuid() != uid) {
            err_set(err, "cannot switch to user '%s': not running as root (uid %u)", name,
                    (unsigned)geteuid());
            return -1;
        }
    } else {
        if (initgroups(name, gid) < 0) {
            err_set(err, "cannot set the groups of user '%s': %s", name, strerror(errno));
            return -1;
        }
        if (setresgid(gid, gid, gid) < 0) {
            err_set(err, "cannot switch to group %u: %s", (unsigned)gid, strerror(errno));
            return -1;
        }
        if (setresuid(uid, uid, uid) < 0) {
            err_set(err, "cannot switch to user '%s' (uid %u): %s", name, (unsigned)uid,
                    strerror(errno));
            return -1;
        }
    }
    uid_t r, e, s;
    gid_t gr, ge, gs;
    if (getresuid(&r, &e, &s) < 0 || getresgid(&gr, &ge, &gs) < 0 || r != uid || e != uid ||
        s != uid || gr != gid || ge != gid || gs != gid) {
        err_set(err, "switching to user '%s' did not take effect", name);
        return -1;
    }
    if (setuid(0) == 0) {
        err_set(err, "after switching to user '%s' the process could become root again", name);
        return -1;
    }
    if (privdrop_caps(err) < 0) {
        err_prefix(err, "after switching to user '%s'", name);
        return -1;
    }
    return 0;
}
