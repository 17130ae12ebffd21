/* ctl_embedded: the schema compiled into parallaxctl: the migrations
 * (schema/migrations/NNN_name.sql) and the definitions (schema/definitions/NN_name.sql), each
 * sorted by name. The tables are generated at build time by embed_schema.cmake into
 * ctl_embedded.c in the build directory. */
#ifndef PX_CTL_EMBEDDED_H
#define PX_CTL_EMBEDDED_H

#include <stddef.h>

typedef struct ctl_embedded {
    int version;          /* the leading number of the file name */
    const char *name;     /* file name without ".sql", e.g. "001_stable" */
    const char *checksum; /* "sha256:<hex>" of the file's bytes */
    const char *sql;      /* the file's text, NUL-terminated */
} ctl_embedded_t;

/* The migrations in ascending order of version; *count is set to their number. The table is
 * static: the caller owns nothing. */
const ctl_embedded_t *ctl_embedded_migrations(size_t *count);

/* The definitions (functions, views, triggers) in the order they are installed; as above. */
const ctl_embedded_t *ctl_embedded_definitions(size_t *count);

/* "sha256:<hex>" over the definitions' checksums in order: which definitions these are. */
const char *ctl_embedded_definitions_checksum(void);

#endif
