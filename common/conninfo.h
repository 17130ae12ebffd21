/* conninfo: the libpq connection string a daemon's config file names: its `database` value
 * ("" = the PG* environment) with the file's `sslmode` and `sslrootcert` appended, so every
 * session the daemon opens uses them. Shared by the coordinator and the notifier. */
#ifndef PX_CONNINFO_H
#define PX_CONNINFO_H

#include <stddef.h>

#include "config.h"
#include "err.h"

/* Writes the connection string of cfg's database, sslmode and sslrootcert keys (all
 * optional) into dst of size len. Returns 0, or -1 with "FILE:LINE: ..." in err for a bad
 * sslmode, an sslrootcert without a verify-* sslmode, or a string longer than len. */
int conninfo_from_config(const config_t *cfg, char *dst, size_t len, err_t *err);

#endif
