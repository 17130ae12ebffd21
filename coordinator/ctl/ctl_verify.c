/* ctl_verify: `parallaxctl verify`, the incremental merge checked against a merge from
 * scratch (parallax.merge_verify, schema/definitions/60_merge_verify.sql). */
#include "ctl_verify.h"

#include "ctl_command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"
#include "ctl_parse.h"
#include "ctl_table.h"

/* A concurrent ingest may touch the rows the scratch merge rewrites: REPEATABLE READ then
 * refuses with a serialization failure, and the verification is simply run again. */
#define VERIFY_ATTEMPTS 3
#define SERIALIZATION_FAILURE "40001"

int ctl_verify_parse(int argc, char **argv, ctl_verify_opts_t *opts, err_t *err)
{
    static const ctl_opt_t table[] = {{"since", 0, 1, 0},
                                      {"all", 0, 0, 0},
                                      {"until", 0, 1, 0},
                                      {"json", 0, 0, 0},
                                      {NULL, 0, 0, 0}};
    memset(opts, 0, sizeof *opts);
    opts->since_s = 3600;
    ctl_args_t *args = ctl_args_parse(argc, argv, table, 0, err);
    if (!args)
        return -1;
    int rc = 0;
    const char *since = ctl_args_value(args, "since", 0);
    if (since && ctl_args_count(args, "all") > 0) {
        err_set(err, "--since and --all exclude each other");
        rc = -1;
    } else if (since && ctl_parse_duration("--since", since, &opts->since_s, err) < 0) {
        rc = -1;
    } else if (ctl_args_count(args, "all") > 0) {
        opts->since_s = 0;
    }
    opts->until = ctl_args_value(args, "until", 0);
    if (rc == 0 && opts->until && !*opts->until) {
        err_set(err, "bad --until '': expected a time such as 2031-03-03T00:21:00Z");
        rc = -1;
    }
    opts->json = ctl_args_count(args, "json") > 0;
    ctl_args_destroy(&args);
    return rc;
}

/* $1: seconds back (NULL: from the first bin stored), $2: the end (NULL: as far as merged).
 * The first row is the span ('span', the end in `at`). */
static const char verify_sql[] =
    "SELECT kind, coalesce(scope, ''), coalesce(subject, ''), "
    "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(stored, ''), "
    "coalesce(scratch, '') "
    "FROM parallax.merge_verify(coalesce(now() - $1::bigint * interval '1 second', "
    "(SELECT min(bin_start) FROM parallax.bins), now()), $2::timestamptz)";

enum { V_KIND, V_SCOPE, V_SUBJECT, V_AT, V_STORED, V_SCRATCH };

static ctl_rows_t *query(ctl_db_t *db, const ctl_verify_opts_t *opts, err_t *err)
{
    char since[24];
    snprintf(since, sizeof since, "%llu", (unsigned long long)opts->since_s);
    const char *params[] = {opts->since_s ? since : NULL, opts->until};
    for (int attempt = 1;; attempt++) {
        ctl_rows_t *rows = NULL;
        if (ctl_db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, err) >= 0)
            rows = ctl_db_query(db, verify_sql, 2, params, err);
        int serialization = !rows && strcmp(ctl_db_sqlstate(db), SERIALIZATION_FAILURE) == 0;
        if (!rows && opts->until && strncmp(ctl_db_sqlstate(db), "22007", 5) == 0)
            err_set(err, "bad --until '%s': expected a time such as 2031-03-03T00:21:00Z",
                    opts->until);
        /* The scratch merge was rolled back inside; this ends the transaction itself. */
        ctl_db_rollback(db, NULL);
        if (rows || !serialization || attempt == VERIFY_ATTEMPTS)
            return rows;
    }
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static int write_json(const ctl_rows_t *rows, FILE *out)
{
    fprintf(out, "{\"from\": ");
    json_string(out, ctl_rows_get(rows, 0, V_STORED) + strlen("from "));
    fprintf(out, ", \"until\": ");
    json_string(out, ctl_rows_get(rows, 0, V_AT));
    fprintf(out, ", \"differences\": [");
    for (size_t r = 1; r < ctl_rows_count(rows); r++) {
        static const char *const keys[] = {"kind", "scope", "subject", "at", "stored", "scratch"};
        fprintf(out, "%s{", r > 1 ? ", " : "");
        for (size_t c = 0; c < 6; c++) {
            fprintf(out, "%s\"%s\": ", c ? ", " : "", keys[c]);
            json_string(out, ctl_rows_get(rows, r, c));
        }
        fputc('}', out);
    }
    fprintf(out, "]}\n");
    return ferror(out) ? -1 : 0;
}

static int write_text(const ctl_rows_t *rows, FILE *out)
{
    size_t n = ctl_rows_count(rows) - 1;
    fprintf(out, "verified %s .. %s (%s): ", ctl_rows_get(rows, 0, V_STORED) + strlen("from "),
            ctl_rows_get(rows, 0, V_AT), ctl_rows_get(rows, 0, V_SCRATCH));
    if (n == 0) {
        fprintf(out, "every bin and outage equals a merge from scratch\n");
        return ferror(out) ? -1 : 0;
    }
    fprintf(out, "%zu differ from a merge from scratch\n", n);
    static const char *const headers[] = {"KIND",   "SCOPE",  "SUBJECT",
                                          "AT_UTC", "STORED", "SCRATCH"};
    ctl_table_t *table = ctl_table_new(6, headers);
    if (!table)
        return -1;
    int rc = 0;
    for (size_t r = 1; rc == 0 && r <= n; r++) {
        const char *cells[6];
        for (size_t c = 0; c < 6; c++)
            cells[c] = ctl_rows_get(rows, r, c);
        rc = ctl_table_add(table, cells);
    }
    if (rc == 0)
        rc = ctl_table_print(table, out);
    ctl_table_destroy(&table);
    return rc;
}

int ctl_verify_run(ctl_db_t *db, const ctl_verify_opts_t *opts, FILE *out, err_t *err)
{
    ctl_rows_t *rows = query(db, opts, err);
    if (!rows)
        return -1;
    if (ctl_rows_count(rows) < 1 || strcmp(ctl_rows_get(rows, 0, V_KIND), "span") != 0) {
        err_set(err, "parallax.merge_verify gave no span: is the schema migrated?");
        ctl_rows_destroy(&rows);
        return -1;
    }
    int rc = opts->json ? write_json(rows, out) : write_text(rows, out);
    if (rc < 0)
        err_set(err, "cannot write: %s", strerror(errno));
    else
        rc = ctl_rows_count(rows) > 1 ? 1 : 0;
    ctl_rows_destroy(&rows);
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_verify[] =
    "usage: " CTL_PROG
    " [--db CONNINFO] verify [--since DURATION | --all] [--until TIME] [--json]\n"
    "\n"
    "Checks the merge: merges the span again from nothing (every bin and outage event\n"
    "deleted, every bin queued, merged until done), compares the result with what the\n"
    "coordinator's incremental merge stored, and undoes it all. Lists every bin whose state or\n"
    "evidence differs (a bin one side lacks counts as unknown) and every outage that started in\n"
    "the span and differs in its end or worst stage (one still open at the end of the span is\n"
    "compared by its start). The span ends where the stored merge has finished (before any bin\n"
    "still waiting). Holds the merge's lock while it runs (the coordinator's merges wait).\n"
    "  --since DURATION  from this long ago (default 1h)\n"
    "  --all             from the first bin stored\n"
    "  --until TIME      end of the span, e.g. 2031-03-03T00:21:00Z\n"
    "  --json            {from, until, differences: [{kind, scope, subject, at, stored, "
    "scratch}]}\n"
    "exit status 0: nothing differs; 1: something differs, or a failure\n"
    "SQL: SELECT * FROM parallax.merge_verify(now() - interval '1 hour');\n";

static int cmd_verify(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_verify_opts_t opts;
    if (ctl_verify_parse(argc, argv, &opts, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    if (!db)
        return CTL_EXIT_FAIL;
    int rc = ctl_verify_run(db, &opts, stdout, err);
    if (rc == 1)
        err_set(err, "the stored verdicts differ from a merge from scratch");
    return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_verify_commands[] = {
    {"verify", NULL, usage_verify, cmd_verify},
};
const size_t ctl_verify_command_count = sizeof ctl_verify_commands / sizeof ctl_verify_commands[0];
