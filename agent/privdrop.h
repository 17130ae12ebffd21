/* privdrop: switches the process for good from root to an unprivileged user, after the
 * sockets that need privilege have been opened. Sockets already open keep working; nothing
 * that needs root or CAP_NET_RAW can be opened afterwards. */
#ifndef PX_PRIVDROP_H
#define PX_PRIVDROP_H

#include <sys/types.h>

#include "err.h"

/* Looks up user name: fills *uid and *gid (its primary group). Returns -1 with err if there
 * is no such user. */
int privdrop_lookup(const char *name, uid_t *uid, gid_t *gid, err_t *err);

/* Becomes user name: supplementary groups from the group database (initgroups), then the
 * primary group, then the user id, real, effective and saved alike. Then checks that it
 * worked: the ids are the user's, setuid(0) fails and no capability is left. Returns 0, or -1
 * with err; after -1 the process may be half switched and must not go on (the caller exits).
 * Refuses a user with uid 0. A process that already runs as that user (file capabilities,
 * systemd's AmbientCapabilities=) keeps its ids and only gives up its capabilities. */
int privdrop_to_user(const char *name, err_t *err);

#endif
