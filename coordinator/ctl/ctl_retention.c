/* ctl_retention: `parallaxctl retention` and `retention run`; the work is in SQL
 * (schema/definitions/80_retention.sql). */
#include "ctl_retention.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"
#include "ctl_table.h"

/* The kinds retention_run reports, in its order, and how many steps `retention run` takes
 * at most (each removes at most RETENTION_CHUNK rows of each kind, or one partition). */
#define RETENTION_KINDS 8
#define RETENTION_CHUNK "10000"
#define RETENTION_MAX_STEPS 100000L

int ctl_retention_parse(int argc, char **argv, int *exact, int *json, err_t *err)
{
    static const ctl_opt_t opts[] = {{"exact", 0, 0, 0}, {"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    *exact = ctl_args_count(args, "exact") > 0;
    *json = ctl_args_count(args, "json") > 0;
    ctl_args_destroy(&args);
    return 0;
}

enum { R_KIND, R_KEEP, R_HORIZON, R_OLDEST, R_ROWS, R_PARTS, R_SIZE, R_REMOVED, R_ERROR };

static const char report_sql[] =
    "SELECT kind, coalesce(keep::text, 'forever'), "
    "coalesce(to_char(horizon AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), '-'), "
    "coalesce(to_char(oldest AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), '-'), rows::text, "
    "coalesce(partitions::text, '-'), pg_size_pretty(bytes), removed::text, "
    "last_error FROM parallax.retention_report($1::boolean)";

static const char report_json_sql[] =
    "SELECT jsonb_build_object('kinds', coalesce(jsonb_agg(to_jsonb(r)), '[]'), "
    "'merge_floor', parallax.merge_floor())::text "
    "FROM parallax.retention_report($1::boolean) r";

static const char floor_sql[] =
    "SELECT coalesce(to_char(parallax.merge_floor() AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD HH24:MI:SS'), '')";

static int report_table(const ctl_rows_t *rows, FILE *out)
{
    static const char *const headers[] = {"KIND", "KEEP",       "HORIZON_UTC", "OLDEST_UTC",
                                          "ROWS", "PARTITIONS", "SIZE",        "REMOVED"};
    ctl_table_t *table = ctl_table_new(8, headers);
    if (!table)
        return -1;
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++) {
        const char *cells[8];
        for (size_t c = 0; c < 8; c++)
            cells[c] = ctl_rows_get(rows, r, c);
        rc = ctl_table_add(table, cells);
    }
    if (rc == 0)
        rc = ctl_table_print(table, out);
    ctl_table_destroy(&table);
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++) {
        const char *why = ctl_rows_get(rows, r, R_ERROR);
        if (why && fprintf(out, "%s: put off: %s\n", ctl_rows_get(rows, r, R_KIND), why) < 0)
            rc = -1;
    }
    return rc;
}

int ctl_retention_show(ctl_db_t *db, int exact, int json, FILE *out, err_t *err)
{
    const char *params[] = {exact ? "true" : "false"};
    if (json) {
        char *doc = ctl_db_query_text(db, report_json_sql, 1, params, err);
        if (!doc)
            return -1;
        int rc = fprintf(out, "%s\n", doc) < 0 ? -1 : 0;
        free(doc);
        if (rc < 0)
            err_set(err, "cannot write: %s", strerror(errno));
        return rc;
    }
    ctl_rows_t *rows = ctl_db_query(db, report_sql, 1, params, err);
    if (!rows)
        return -1;
    char *floor = ctl_db_query_text(db, floor_sql, 0, NULL, err);
    int rc = -1;
    if (floor) {
        rc = report_table(rows, out);
        if (rc == 0 && !exact &&
            fprintf(out, "(rows are estimates from the table statistics; --exact counts them)\n") <
                0)
            rc = -1;
        if (rc == 0 && *floor &&
            fprintf(out,
                    "bins before %s UTC are not merged again: retention removed some of "
                    "their inputs\n",
                    floor) < 0)
            rc = -1;
        if (rc < 0)
            err_set(err, "cannot write: %s", errno ? strerror(errno) : "out of memory");
    }
    free(floor);
    ctl_rows_destroy(&rows);
    return rc;
}

static const char *const kind_names[RETENTION_KINDS] = {
    "heartbeats", "gaps", "batches", "bins", "outages", "results", "routes", "route_bins"};

int ctl_retention_run(ctl_db_t *db, long max_steps, FILE *out, err_t *err)
{
    long removed[RETENTION_KINDS] = {0};
    char note[512] = "";
    int more = 1;
    long steps = 0;
    while (more && steps < max_steps) {
        const char *params[] = {RETENTION_CHUNK};
        ctl_rows_t *rows = ctl_db_query(
            db, "SELECT kind, removed, more, note FROM parallax.retention_run($1::integer)", 1,
            params, err);
        if (!rows)
            return -1;
        steps++;
        more = 0;
        for (size_t r = 0; r < ctl_rows_count(rows); r++) {
            for (size_t k = 0; k < RETENTION_KINDS; k++)
                if (strcmp(ctl_rows_get(rows, r, 0), kind_names[k]) == 0)
                    removed[k] += atol(ctl_rows_get(rows, r, 1));
            more |= strcmp(ctl_rows_get(rows, r, 2), "t") == 0;
            const char *why = ctl_rows_get(rows, r, 3);
            if (why)
                snprintf(note, sizeof note, "%s", why);
        }
        ctl_rows_destroy(&rows);
    }
    int rc = fprintf(out,
                     "removed: %ld result partitions, %ld heartbeats, %ld gaps, %ld batch ids, "
                     "%ld bins, %ld outages, %ld route updates, %ld route bins (%ld steps%s)\n",
                     removed[5], removed[0], removed[1], removed[2], removed[3], removed[4],
                     removed[6], removed[7], steps, more ? "; more is due: run it again" : "") < 0
                 ? -1
                 : 0;
    if (rc == 0 && note[0] && fprintf(out, "put off: %s\n", note) < 0)
        rc = -1;
    if (rc < 0)
        err_set(err, "retention ran, but the report could not be written: %s", strerror(errno));
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_retention[] =
    "usage: " CTL_PROG " [--db CONNINFO] retention [--exact] [--json]\n"
    "       " CTL_PROG " [--db CONNINFO] retention run\n"
    "\n"
    "Shows what the database keeps of each kind of data: how long (the keep_* setting, see\n"
    "'settings'; forever when empty), the horizon that gives (older is removed), the oldest\n"
    "row, rows, result partitions, size on disk, and how many retention removed so far. The\n"
    "coordinator removes what is past its horizon every ten minutes; a drop it had to put\n"
    "off (the results table busy) is named after the table.\n"
    "  --exact  count every row (slow on a large table; the default is the estimate)\n"
    "  --json   one JSON object {kinds: [...], merge_floor}\n"
    "SQL: SELECT * FROM parallax.retention_report();\n";

static const char usage_retention_run[] =
    "usage: " CTL_PROG " [--db CONNINFO] retention run\n"
    "\n"
    "Removes now what is past its keep_* horizon, as the coordinator does every ten minutes:\n"
    "whole daily result partitions, and the other kinds in chunks of 10000 rows, one short\n"
    "transaction each. Prints how much of each kind it removed.\n"
    "SQL: SELECT * FROM parallax.retention_run();  -- one step; repeat while more\n";

static int cmd_retention(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    int exact, json;
    if (ctl_retention_parse(argc, argv, &exact, &json, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_retention_show(db, exact, json, stdout, err)) : CTL_EXIT_FAIL;
}

static int cmd_retention_run(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return CTL_EXIT_USAGE;
    ctl_args_destroy(&args);
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_retention_run(db, RETENTION_MAX_STEPS, stdout, err))
              : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_retention_commands[] = {
    {"retention", NULL, usage_retention, cmd_retention},
    {"retention", "run", usage_retention_run, cmd_retention_run},
};
const size_t ctl_retention_command_count =
    sizeof ctl_retention_commands / sizeof ctl_retention_commands[0];
