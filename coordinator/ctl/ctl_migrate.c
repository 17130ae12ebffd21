/* ctl_migrate: schema migrations, applied in order, each exactly once; then the definitions,
 * installed again on every run. */
#include "ctl_migrate.h"

#include "ctl_command.h"

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
/* Which release installed the definitions last, so an older parallaxctl cannot put its older
 * functions over a newer schema's. */
static const char definitions_table_sql[] =
    "CREATE TABLE IF NOT EXISTS parallax.schema_definitions ("
    " id boolean PRIMARY KEY DEFAULT true CHECK (id),"
    " release text NOT NULL,"
    " checksum text NOT NULL,"
    " installed_at timestamptz NOT NULL DEFAULT now())";

/* Stable 1 as databases made before schema/migrations/001_stable.sql record it: the eleven
 * migrations it was built from, which together made exactly what 001_stable makes. */
typedef struct stable1_record {
    int version;
    const char *name;
    const char *checksum;
} stable1_record_t;

static const stable1_record_t stable1[] = {
    {1, "001_core", "sha256:0aaf6c1d80be79cc706e50a6a3c7d1d2370bbd870dba2bf4b65051d68a18594f"},
    {2, "002_result_detail",
     "sha256:6a1982d19399ef994ed302949cdfc24b0d92851320383ba70f4ce43fba569761"},
    {3, "003_merge_inputs",
     "sha256:b1afb60ecdd35c7a1eed6f3fd44ea0083f3626dcebd402d596ab9658d6a9f754"},
    {4, "004_merge_bins",
     "sha256:b6813faf7dc0feba85d6874ec55ed4d746de5b06cae6cfddc9d8aea879d97c88"},
    {5, "005_merge_outages",
     "sha256:dd8cfdff9b2b1a0fe6e943a34aa89d2ef7e874fd0f612aa5472e8d47c086c0c3"},
    {7, "007_ingest_state",
     "sha256:672e365545bad8fba6bdda5b397132c090194866f78ad9f3da5419354712d814"},
    {8, "008_cli", "sha256:1f9139aabeaf3773acc017c7fecb7de8c3cb9cfd1c07b75c97da27ddb4a66bf5"},
    {9, "009_settings", "sha256:5663f162f5323064b5346fce63e1ea3d9f2f4ebba74cfb4bc32434e849a44144"},
    {10, "010_merge_defaults",
     "sha256:6294fdd836472591b9600f2d3a4d6f2ea44af7683fe760b0485088a5d9636cd5"},
    {11, "011_probe_timeout",
     "sha256:65611214bb84c3fe9fee6efa9462b3e4553c08e69300d85bab474ea2b9ffc40f"},
    {12, "012_gap_reason",
     "sha256:6a82edaeac2ef68a2d91f182e8f198b44fd79832422f4ace479de8f21f0eb64e"},
};
#define STABLE1_COUNT (sizeof stable1 / sizeof stable1[0])

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

/* A database made before the split records stable 1 as its eleven migrations (rows: version,
 * name, checksum). Records it as migrations[0] (001_stable) instead, which made the same
 * schema. Returns 1 if it did, 0 if the rows are not of that kind, -1 (err set) if they are
 * but are not exactly stable 1: a development version's schema that cannot be upgraded. */
static int adopt_stable1(ctl_db_t *db, ctl_rows_t *rows, const ctl_embedded_t *migrations,
                         size_t count, err_t *err)
{
    size_t n = ctl_rows_count(rows);
    if (n == 0 || strcmp(ctl_rows_get(rows, 0, 0), "1") != 0 ||
        strcmp(ctl_rows_get(rows, 0, 1), stable1[0].name) != 0)
        return 0;
    for (size_t i = 0; i < STABLE1_COUNT; i++) {
        const stable1_record_t *want = &stable1[i];
        if (i >= n || atoi(ctl_rows_get(rows, i, 0)) != want->version ||
            strcmp(ctl_rows_get(rows, i, 1), want->name) != 0 ||
            strcmp(ctl_rows_get(rows, i, 2), want->checksum) != 0) {
            err_set(err,
                    "the database was made by a development version of Parallax before stable "
                    "1 (its migration %s is missing or differs): it cannot be upgraded in place; "
                    "migrate a new database and copy over the data you need",
                    want->name);
            return -1;
        }
    }
    if (n > STABLE1_COUNT) {
        err_set(err,
                "the database has migration %s (%s) after stable 1, which this "
                "parallaxctl does not know: use a newer parallaxctl",
                ctl_rows_get(rows, STABLE1_COUNT, 0), ctl_rows_get(rows, STABLE1_COUNT, 1));
        return -1;
    }
    if (count == 0 || migrations[0].version != 1) {
        err_set(err, "this parallaxctl embeds no migration 1 to record stable 1 as");
        return -1;
    }
    char version[16];
    snprintf(version, sizeof version, "%d", migrations[0].version);
    const char *params[] = {version, migrations[0].name, migrations[0].checksum};
    if (ctl_db_exec(db, "DELETE FROM parallax.schema_migrations", 0, NULL, err) < 0 ||
        ctl_db_exec(db,
                    "INSERT INTO parallax.schema_migrations (version, name, checksum) "
                    "VALUES ($1::integer, $2, $3)",
                    3, params, err) < 0)
        return -1;
    return 1;
}

/* Creates the schema and the record table if needed and checks every recorded migration
 * before anything is applied, so an edited migration stops the run early. */
static int prepare(ctl_db_t *db, const ctl_embedded_t *migrations, size_t count, FILE *out,
                   err_t *err)
{
    ctl_rows_t *rows = NULL;
    if (begin_locked(db, err) < 0)
        return -1;
    if (ctl_db_exec(db, bootstrap_sql, 0, NULL, err) < 0 ||
        ctl_db_exec(db, migrations_table_sql, 0, NULL, err) < 0)
        goto fail;
    rows = ctl_db_query(db,
                        "SELECT m.version::text, m.name, m.checksum "
                        "FROM parallax.schema_migrations m ORDER BY m.version",
                        0, NULL, err);
    if (!rows)
        goto fail;
    int adopted = adopt_stable1(db, rows, migrations, count, err);
    if (adopted < 0)
        goto fail;
    if (adopted > 0) {
        fprintf(out, "recorded %s..%s as %s (stable 1)\n", stable1[0].name,
                stable1[STABLE1_COUNT - 1].name, migrations[0].name);
        ctl_rows_destroy(&rows);
        return ctl_db_commit(db, err);
    }
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
    if (prepare(db, migrations, count, out, err) < 0)
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
        fprintf(out, "no migration to apply\n");
    return 0;
}

/* Compares dotted release numbers ("0.10.1" > "0.9.3"): <0, 0 or >0 as a is older, equal or
 * newer. Missing parts count as 0. */
static int release_cmp(const char *a, const char *b)
{
    for (;;) {
        char *end_a, *end_b;
        unsigned long x = strtoul(a, &end_a, 10), y = strtoul(b, &end_b, 10);
        if (x != y)
            return x < y ? -1 : 1;
        if (*end_a != '.' && *end_b != '.')
            return 0;
        a = *end_a == '.' ? end_a + 1 : end_a;
        b = *end_b == '.' ? end_b + 1 : end_b;
    }
}

/* The definitions make the roles only if the migrating role may (schema/definitions/
 * 90_roles.sql); said here, since the server's warning is not shown. */
static int report_roles(ctl_db_t *db, FILE *out, err_t *err)
{
    ctl_rows_t *rows = ctl_db_query(
        db,
        "SELECT string_agg(r, ', ') FROM unnest(ARRAY['parallax_ingest', 'parallax_admin', "
        "'parallax_read', 'parallax_notify']) r "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)",
        0, NULL, err);
    if (!rows)
        return -1;
    const char *missing = ctl_rows_get(rows, 0, 0);
    if (missing && *missing)
        fprintf(out,
                "no grants made: the roles %s do not exist and this role may not create them; "
                "a superuser can (README \"Database roles\"), then run db migrate again\n",
                missing);
    ctl_rows_destroy(&rows);
    return 0;
}

int ctl_migrate_definitions(ctl_db_t *db, const ctl_embedded_t *definitions, size_t count,
                            const char *checksum, const char *release, FILE *out, err_t *err)
{
    ctl_rows_t *rows = NULL;
    if (begin_locked(db, err) < 0)
        return -1;
    if (ctl_db_exec(db, definitions_table_sql, 0, NULL, err) < 0)
        goto fail;
    rows = ctl_db_query(db, "SELECT release FROM parallax.schema_definitions", 0, NULL, err);
    if (!rows)
        goto fail;
    if (ctl_rows_count(rows) > 0 && release_cmp(ctl_rows_get(rows, 0, 0), release) > 0) {
        err_set(err,
                "the database's definitions were installed by parallaxctl %s, newer than this "
                "one (%s): use a newer parallaxctl",
                ctl_rows_get(rows, 0, 0), release);
        goto fail;
    }
    /* Bodies are checked when they run, not here: a function may name one defined later. */
    if (ctl_db_exec(db, "SET LOCAL check_function_bodies = off", 0, NULL, err) < 0)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        if (ctl_db_exec_script(db, definitions[i].sql, err) < 0) {
            err_prefix(err, "definitions %s failed", definitions[i].name);
            goto fail;
        }
    }
    const char *params[] = {release, checksum};
    if (ctl_db_exec(db,
                    "INSERT INTO parallax.schema_definitions (release, checksum) VALUES ($1, $2) "
                    "ON CONFLICT (id) DO UPDATE SET release = $1, checksum = $2, "
                    "installed_at = now()",
                    2, params, err) < 0)
        goto fail;
    ctl_rows_destroy(&rows);
    if (ctl_db_commit(db, err) < 0) {
        err_prefix(err, "definitions");
        return -1;
    }
    fprintf(out, "installed %zu definition files (functions, views, triggers)\n", count);
    return report_roles(db, out, err);
fail:
    ctl_rows_destroy(&rows);
    ctl_db_rollback(db, NULL);
    return -1;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_db[] = "usage: " CTL_PROG " db migrate\n";

static const char usage_db_migrate[] =
    "usage: " CTL_PROG " [--db CONNINFO] db migrate\n"
    "\n"
    "Creates the parallax schema if needed and applies every built-in migration that the\n"
    "database has not recorded in parallax.schema_migrations, each in its own transaction;\n"
    "then installs every built-in definition (functions, views, triggers) again, in one\n"
    "transaction. Safe to run again and from several places at once. Refuses a database a\n"
    "newer parallaxctl has migrated, and one made by a development version before stable 1.\n"
    "Last, makes the roles parallax_ingest, parallax_admin and parallax_read if missing (and\n"
    "allowed) and grants them again on everything in the schema. Run it as the owner.\n";

static int cmd_db_migrate(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    if (ctl_migrate_parse(argc, argv, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    if (!db)
        return CTL_EXIT_FAIL;
    size_t migrations_n, definitions_n;
    const ctl_embedded_t *migrations = ctl_embedded_migrations(&migrations_n);
    const ctl_embedded_t *definitions = ctl_embedded_definitions(&definitions_n);
    if (ctl_migrate_run(db, migrations, migrations_n, stdout, err) < 0)
        return ctl_outcome(-1);
    return ctl_outcome(ctl_migrate_definitions(db, definitions, definitions_n,
                                               ctl_embedded_definitions_checksum(), PX_VERSION,
                                               stdout, err));
}

const ctl_command_t ctl_migrate_commands[] = {
    {"db", NULL, usage_db, NULL},
    {"db", "migrate", usage_db_migrate, cmd_db_migrate},
};
const size_t ctl_migrate_command_count =
    sizeof ctl_migrate_commands / sizeof ctl_migrate_commands[0];
