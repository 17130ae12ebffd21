/* ctl_migrate: schema migrations, applied in order, each exactly once. */
#include "ctl_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"

/* The advisory lock all migrators share: "PXMIGR" read as a big-endian number. */
#define MIGRATE_LOCK_KEY "88340183992146"

static const char bootstrap_sql[] = "CREATE SCHEMA IF NOT EXISTS parallax";
static const char migrations_table_sql[] = "CREATE TABLE IF NOT EXISTS parallax.schema_migrations ("
                                           " version integer PRIMARY KEY,"
                                           " name text NOT NULL,"
                                           " checksum text NOT NULL,"
                                           " applied_at timestamptz NOT NULL DEFAULT now())";

int ctl_migrate_parse(int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    ctl_args_destroy(&args);
    return 0;
}

/* Starts a transaction holding the migrators' lock; it is released at commit or rollback. */
static int begin_locked(ctl_db_t *db, err_t *err)
{
    const char *key = MIGRATE_LOCK_KEY;
    if (ctl_db_begin(db, err) < 0)
        return -1;
    if (ctl_db_exec(db, "SELECT pg_advisory_xact_lock($1::bigint)", 1, &key, err) < 0) {
        ctl_db_rollback(db, NULL);
        return -1;
    }
    return 0;
}

static const ctl_embedded_t *find(const ctl_embedded_t *migrations, size_t count, int version)
{
    for (size_t i = 0; i < count; i++)
        if (migrations[i].version == version)
            return &migrations[i];
    return NULL;
}

/* Refuses a recorded migration that is unknown or differs from the embedded one. */
static int check_recorded(const ctl_embedded_t *m, const char *name, const char *checksum,
                          err_t *err)
{
    if (strcmp(m->checksum, checksum) != 0) {
        err_set(err,
                "migration %s was edited after it was applied (recorded checksum %s, "
                "embedded %s): restore it and put the change in a new migration",
                m->name, checksum, m->checksum);
        return -1;
    }
    if (strcmp(m->name, name) != 0) {
        err_set(err, "migration %d is recorded as '%s' but embedded as '%s'", m->version, name,
                m->name);
        return -1;
    }
    return 0;
}

/* Creates the schema and the record table if needed and checks every recorded migration
 * before anything is applied, so an edited migration stops the run early. */
static int prepare(ctl_db_t *db, const ctl_embedded_t *migrations, size_t count, err_t *err)
{
    ctl_rows_t *rows = NULL;
    if (begin_locked(db, err) < 0)
        return -1;
    if (ctl_db_exec(db, bootstrap_sql, 0, NULL, err) < 0 ||
        ctl_db_exec(db, migrations_table_sql, 0, NULL, err) < 0)
        goto fail;
    rows = ctl_db_query(db,
                        "SELECT version::text, name, checksum FROM parallax.schema_migrations "
                        "ORDER BY version",
                        0, NULL, err);
    if (!rows)
        goto fail;
    for (size_t r = 0; r < ctl_rows_count(rows); r++) {
        const char *version = ctl_rows_get(rows, r, 0);
        const char *name = ctl_rows_get(rows, r, 1);
        const ctl_embedded_t *m = find(migrations, count, atoi(version));
        if (!m) {
            err_set(err,
                    "the database has migration %s (%s), which this parallaxctl does not "
                    "know: use a newer parallaxctl",
                    version, name);
            goto fail;
        }
        if (check_recorded(m, name, ctl_rows_get(rows, r, 2), err) < 0)
            goto fail;
    }
    ctl_rows_destroy(&rows);
    return ctl_db_commit(db, err);
fail:
    ctl_rows_destroy(&rows);
    ctl_db_rollback(db, NULL);
    return -1;
}

/* Applies m unless it is recorded by now (another migrator may have been first). Returns 1
 * if applied, 0 if it already was, -1 on failure. */
static int apply_one(ctl_db_t *db, const ctl_embedded_t *m, err_t *err)
{
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name, m->checksum};
    ctl_rows_t *rows = NULL;
    int applied = 0;
    if (begin_locked(db, err) < 0)
        return -1;
    rows = ctl_db_query(db,
                        "SELECT name, checksum FROM parallax.schema_migrations "
                        "WHERE version = $1::integer",
                        1, params, err);
    if (!rows)
        goto fail;
    if (ctl_rows_count(rows) > 0) {
        if (check_recorded(m, ctl_rows_get(rows, 0, 0), ctl_rows_get(rows, 0, 1), err) < 0)
            goto fail;
    } else {
        if (ctl_db_exec_script(db, m->sql, err) < 0) {
            err_prefix(err, "migration %s failed", m->name);
            goto fail;
        }
        if (ctl_db_exec(db,
                        "INSERT INTO parallax.schema_migrations (version, name, checksum) "
                        "VALUES ($1::integer, $2, $3)",
                        3, params, err) < 0)
            goto fail;
        applied = 1;
    }
    ctl_rows_destroy(&rows);
    if (ctl_db_commit(db, err) < 0) {
        err_prefix(err, "migration %s", m->name);
        return -1;
    }
    return applied;
fail:
    ctl_rows_destroy(&rows);
    ctl_db_rollback(db, NULL);
    return -1;
}

int ctl_migrate_run(ctl_db_t *db, const ctl_embedded_t *migrations, size_t count, FILE *out,
                    err_t *err)
{
    if (prepare(db, migrations, count, err) < 0)
        return -1;
    int any = 0;
    for (size_t i = 0; i < count; i++) {
        int rc = apply_one(db, &migrations[i], err);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            fprintf(out, "applied %s\n", migrations[i].name);
            any = 1;
        }
    }
    if (!any)
        fprintf(out, "database is up to date\n");
    return 0;
}
