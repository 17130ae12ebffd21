/* ctl_migrate: `parallaxctl db migrate`: brings the parallax schema up to date by applying
 * the embedded migrations that parallax.schema_migrations does not record yet, each in its
 * own transaction with its record, then installing every definition again; all under an
 * advisory lock so concurrent runs take turns. */
#ifndef PX_CTL_MIGRATE_H
#define PX_CTL_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "ctl_embedded.h"
#include "err.h"

/* Parses the arguments after "db migrate" (there are none). Returns 0, or -1 (err names the
 * unexpected argument): a usage error. */
int ctl_migrate_parse(int argc, char **argv, err_t *err);

/* Applies migrations[0..count) (ascending versions) that are not recorded yet, writing
 * "applied NAME" to out for each, or "no migration to apply" if there was nothing to do. A
 * database that records stable 1 as the eleven migrations it was built from is recorded as
 * migrations[0] (001_stable) instead; one that records another set from before it is refused.
 * Fails (-1, err set) if a migration fails (its transaction is rolled back; earlier ones stay
 * applied), if a recorded migration's checksum differs from the embedded one (an applied
 * migration was edited), or if the database records a migration this program does not know. */
int ctl_migrate_run(ctl_db_t *db, const ctl_embedded_t *migrations, size_t count, FILE *out,
                    err_t *err);

/* Installs definitions[0..count) (functions, views, triggers: CREATE OR REPLACE) in one
 * transaction, and records release and checksum (ctl_embedded_definitions_checksum()) in
 * parallax.schema_definitions; writes one line to out. Refuses (-1, err set, nothing changed)
 * a database whose definitions a newer release installed; fails the same way if a file fails. */
int ctl_migrate_definitions(ctl_db_t *db, const ctl_embedded_t *definitions, size_t count,
                            const char *checksum, const char *release, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_migrate_commands[];
extern const size_t ctl_migrate_command_count;

#endif
