/* ctl_embedded: the schema migrations compiled into parallaxctl (schema/NNN_name.sql, sorted
 * by name). The table is generated at build time by embed_migrations.cmake into
 * ctl_embedded.c in the build directory. */
#ifndef PX_CTL_EMBEDDED_H
#define PX_CTL_EMBEDDED_H

#include <stddef.h>

typedef struct ctl_embedded {
    int version;          /* NNN of the file name */
    const char *name;     /* file name without ".sql", e.g. "001_core" */
    const char *checksum; /* "sha256:<hex>" of the file's bytes */
    const char *sql;      /* the file's text, NUL-terminated */
} ctl_embedded_t;

/* The migrations in ascending order of version; *count is set to their number. The table is
 * static: the caller owns nothing. */
const ctl_embedded_t *ctl_embedded_migrations(size_t *count);

#endif
