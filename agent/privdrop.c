/* privdrop: the order matters: groups while still root, then gid, then uid last, because
 * after setuid() nothing else may be changed. Every step is verified, not assumed. */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* 1 if any capability is still effective or permitted. */
static int has_capabilities(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) < 0)
        return 1; /* cannot tell: assume the worst */
    return (data[0].effective | data[1].effective | data[0].permitted | data[1].permitted) != 0;
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
    /* A switch from root clears capabilities by itself; a process that already ran as the
     * user (setcap, ambient capabilities) still holds them, and gives them up here. */
    if (has_capabilities()) {
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct none[2];
        memset(none, 0, sizeof none);
        (void)syscall(SYS_capset, &hdr, none);
    }
    if (has_capabilities()) {
        err_set(err, "after switching to user '%s' the process still has capabilities", name);
        return -1;
    }
    return 0;
}
