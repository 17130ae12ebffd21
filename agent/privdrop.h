/* privdrop: the agent's way down to no privilege at all, taken once the sockets that need
 * privilege are open: root becomes an unprivileged user for good, and every capability
 * (effective, permitted, inheritable, ambient) is given up, so that nothing parsing hostile
 * network bytes afterwards can open a raw socket, become root again or gain privilege through
 * exec. Sockets already open keep working. */
#ifndef PX_PRIVDROP_H
#define PX_PRIVDROP_H

#include <sys/types.h>

#include "err.h"

/* The user an agent started as root without `user` becomes: it exists on every Debian and
 * owns nothing else that matters; the agent hands it state_dir (privdrop_give_dir()). */
#define PRIVDROP_DEFAULT_USER "nobody"

/* Looks up user name: fills *uid and *gid (its primary group). Returns -1 with err if there
 * is no such user. */
int privdrop_lookup(const char *name, uid_t *uid, gid_t *gid, err_t *err);

/* The user to become: configured if not "" (it must not be root: the config loader checks),
 * PRIVDROP_DEFAULT_USER when running as root without one, NULL when already unprivileged
 * without one (then only the capabilities go). */
const char *privdrop_user_for(const char *configured);

/* Gives directory path and everything in it (not following symbolic links, at most 8 levels
 * deep) to user name and its primary group, so that it can keep working there after the
 * switch. Only for root; returns 0, or -1 with err. */
int privdrop_give_dir(const char *path, const char *name, err_t *err);

/* Becomes user name: supplementary groups from the group database (initgroups), then the
 * primary group, then the user id, real, effective and saved alike; then privdrop_caps().
 * Checks that it worked: the ids are the user's, setuid(0) fails and no capability is left.
 * Returns 0, or -1 with err; after -1 the process may be half switched and must not go on (the
 * caller exits). Refuses a user with uid 0. A process that already runs as that user (file
 * capabilities, systemd's AmbientCapabilities=) keeps its ids and only gives up its
 * capabilities. */
int privdrop_to_user(const char *name, err_t *err);

/* Gives up every capability (ambient, inheritable, permitted, effective) and sets
 * no_new_privs, keeping the user ids; then checks that none is left. For a process that is
 * not root. Returns 0, or -1 with err. */
int privdrop_caps(err_t *err);

/* 1 if the process holds any capability in any of its sets (or cannot tell), else 0. */
int privdrop_has_caps(void);

#endif
