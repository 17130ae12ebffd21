/* ctl_settings: the merge settings by name; the checks live in SQL (merge_setting_set). */
#include "ctl_settings.h"

#include "ctl_command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"
#include "ctl_fmt.h"
#include "ctl_parse.h"
#include "ctl_table.h"

/* A change takes effect at the next merge; history needs --remerge-since. */
#define CTL_SETTINGS_REMERGE_MAX_S (366ULL * 86400)

int ctl_settings_show_parse(int argc, char **argv, int *json, int *describe, err_t *err)
{
    static const ctl_opt_t opts[] = {{"json", 0, 0, 0}, {"describe", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    *json = ctl_args_count(args, "json") > 0;
    *describe = ctl_args_count(args, "describe") > 0;
    ctl_args_destroy(&args);
    if (*json && *describe) {
        err_set(err, "--json and --describe cannot be combined (the JSON has the descriptions)");
        return -1;
    }
    return 0;
}

enum { S_NAME, S_VALUE, S_DEFAULT, S_DESCRIPTION, S_IN_FORCE, S_SOURCE };

/* in_force: the value the merge uses now (an "auto" width resolved from the schedule);
 * source: default, set, or auto and what it is derived from. */
static const char list_sql[] = "SELECT name, value, default_value, description, in_force, source "
                               "FROM parallax.merge_setting_list ORDER BY position";

static const char list_json_sql[] =
    "SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'type', type, 'value', value, "
    "'default', default_value, 'description', description, 'in_force', in_force, "
    "'source', source) ORDER BY position), '[]')::text "
    "FROM parallax.merge_setting_list";

static int show_table(const ctl_rows_t *rows, FILE *out)
{
    static const char *const headers[] = {"NAME", "VALUE", "IN FORCE", "DEFAULT", "SOURCE"};
    ctl_table_t *table = ctl_table_new(5, headers);
    if (!table)
        return -1;
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++) {
        const char *source = ctl_rows_get(rows, r, S_SOURCE);
        /* "auto: the longest ..." is for --describe; the table keeps the first word. */
        char brief[16];
        snprintf(brief, sizeof brief, "%.*s", (int)strcspn(source ? source : "-", ":"),
                 source ? source : "-");
        const char *cells[] = {ctl_rows_get(rows, r, S_NAME), ctl_rows_get(rows, r, S_VALUE),
                               ctl_rows_get(rows, r, S_IN_FORCE), ctl_rows_get(rows, r, S_DEFAULT),
                               brief};
        rc = ctl_table_add(table, cells);
    }
    if (rc == 0)
        rc = ctl_table_print(table, out);
    ctl_table_destroy(&table);
    return rc;
}

static int show_described(const ctl_rows_t *rows, FILE *out)
{
    for (size_t r = 0; r < ctl_rows_count(rows); r++) {
        const char *value = ctl_rows_get(rows, r, S_VALUE);
        const char *def = ctl_rows_get(rows, r, S_DEFAULT);
        const char *text = ctl_rows_get(rows, r, S_DESCRIPTION);
        const char *in_force = ctl_rows_get(rows, r, S_IN_FORCE);
        const char *source = ctl_rows_get(rows, r, S_SOURCE);
        if (fprintf(out, "%s%s = %s (default %s; in force %s, %s)\n    %s\n", r ? "\n" : "",
                    ctl_rows_get(rows, r, S_NAME), value ? value : "-", def ? def : "-",
                    in_force ? in_force : "-", source ? source : "-",
                    text ? text : "(no description)") < 0)
            return -1;
    }
    return 0;
}

int ctl_settings_show(ctl_db_t *db, int json, int describe, FILE *out, err_t *err)
{
    if (json) {
        char *doc = ctl_db_query_text(db, list_json_sql, 0, NULL, err);
        if (!doc)
            return -1;
        int rc = fprintf(out, "%s\n", doc) < 0 ? -1 : 0;
        free(doc);
        if (rc < 0)
            err_set(err, "cannot write: %s", strerror(errno));
        return rc;
    }
    ctl_rows_t *rows = ctl_db_query(db, list_sql, 0, NULL, err);
    if (!rows)
        return -1;
    int rc = describe ? show_described(rows, out) : show_table(rows, out);
    if (rc < 0)
        err_set(err, "cannot write: %s", strerror(errno));
    ctl_rows_destroy(&rows);
    return rc;
}

int ctl_settings_set_parse(int argc, char **argv, ctl_settings_change_t *change, err_t *err)
{
    static const ctl_opt_t opts[] = {{"remerge-since", 0, 1, 0}, {NULL, 0, 0, 0}};
    memset(change, 0, sizeof *change);
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, CTL_SETTINGS_MAX, err);
    if (!args)
        return -1;
    int rc = -1;
    const char *since = ctl_args_value(args, "remerge-since", 0);
    if (since && ctl_parse_duration("--remerge-since", since, &change->remerge_s, err) < 0)
        goto out;
    if (since && (change->remerge_s == 0 || change->remerge_s > CTL_SETTINGS_REMERGE_MAX_S)) {
        err_set(err, "--remerge-since must be between 1s and 366d");
        goto out;
    }
    if (ctl_args_npos(args) == 0) {
        err_set(err, "missing NAME=VALUE");
        goto out;
    }
    for (size_t i = 0; i < ctl_args_npos(args); i++) {
        const char *pair = ctl_args_pos(args, i);
        const char *eq = strchr(pair, '=');
        size_t len = eq ? (size_t)(eq - pair) : 0;
        if (len == 0) {
            err_set(err, "'%s' is not NAME=VALUE", pair);
            goto out;
        }
        if (len > CTL_SETTINGS_NAME_MAX) {
            err_set(err, "setting name '%.*s...' is too long", 20, pair);
            goto out;
        }
        char *name = change->names[change->count];
        memcpy(name, pair, len);
        name[len] = '\0';
        for (size_t j = 0; j < change->count; j++) {
            if (strcmp(change->names[j], name) == 0) {
                err_set(err, "setting '%s' given twice", name);
                goto out;
            }
        }
        change->values[change->count] = eq + 1;
        change->count++;
    }
    rc = 0;
out:
    ctl_args_destroy(&args);
    return rc;
}

static const char value_sql[] = "SELECT value FROM parallax.merge_setting_list WHERE name = $1";

int ctl_settings_set(ctl_db_t *db, const ctl_settings_change_t *change, FILE *out, err_t *err)
{
    if (ctl_db_begin(db, err) < 0)
        return -1;
    /* The report waits for the commit: a refused value later in the list undoes the earlier
     * ones, and nothing is printed as done that was not. */
    char *old[CTL_SETTINGS_MAX] = {0};
    char *stored[CTL_SETTINGS_MAX] = {0};
    char *queued = NULL;
    int rc = -1;
    for (size_t i = 0; i < change->count; i++) {
        const char *params[] = {change->names[i], change->values[i]};
        /* An unknown name has no value: merge_setting_set() then says which names exist. */
        ctl_rows_t *rows = ctl_db_query(db, value_sql, 1, params, err);
        if (!rows)
            goto fail;
        const char *v = ctl_rows_count(rows) ? ctl_rows_get(rows, 0, 0) : NULL;
        old[i] = strdup(v ? v : "-");
        ctl_rows_destroy(&rows);
        stored[i] =
            ctl_db_query_text(db, "SELECT parallax.merge_setting_set($1, $2)", 2, params, err);
        if (!old[i] || !stored[i]) {
            if (!old[i])
                err_set(err, "out of memory");
            goto fail;
        }
    }
    if (change->remerge_s) {
        char secs[32];
        snprintf(secs, sizeof secs, "%llu", (unsigned long long)change->remerge_s);
        const char *params[] = {secs};
        queued = ctl_db_query_text(
            db, "SELECT parallax.merge_mark(now() - $1::bigint * interval '1 second', now())::text",
            1, params, err);
        if (!queued)
            goto fail;
    }
    if (ctl_db_commit(db, err) < 0)
        goto fail;
    rc = 0;
    for (size_t i = 0; i < change->count; i++)
        if (fprintf(out, "%s: %s -> %s\n", change->names[i], old[i], stored[i]) < 0)
            rc = -1;
    char span[16];
    if (queued && fprintf(out, "%s bins of the last %s queued to merge again\n", queued,
                          ctl_fmt_duration(change->remerge_s, span, sizeof span)) < 0)
        rc = -1;
    if (rc < 0)
        err_set(err, "settings changed, but the report could not be written: %s", strerror(errno));
    goto done;
fail:
    ctl_db_rollback(db, NULL);
done:
    for (size_t i = 0; i < change->count; i++) {
        free(old[i]);
        free(stored[i]);
    }
    free(queued);
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_settings[] =
    "usage: " CTL_PROG " [--db CONNINFO] settings [--describe | --json]\n"
    "       " CTL_PROG " [--db CONNINFO] settings set NAME=VALUE... [--remerge-since DURATION]\n"
    "\n"
    "Shows the merge's settings (thresholds, hysteresis, bin widths): each one's value and\n"
    "default, marked \"changed\" where they differ.\n"
    "  --describe  what each setting does, under its value\n"
    "  --json      one JSON array of {name, type, value, default, description}\n"
    "SQL: SELECT * FROM parallax.merge_setting_list;\n";

static const char usage_settings_set[] =
    "usage: " CTL_PROG " [--db CONNINFO] settings set NAME=VALUE... [--remerge-since DURATION]\n"
    "\n"
    "Changes merge settings in one transaction: all of them or, if a name is unknown or a value\n"
    "is of the wrong type or out of range, none (the error says which and why). Prints each\n"
    "as NAME: OLD -> NEW. New values apply from the next merge; bins merged before keep their\n"
    "verdicts unless --remerge-since queues them to be merged again. Example:\n"
    "  " CTL_PROG " settings set open_after=3 close_after=5 --remerge-since 7d\n"
    "  --remerge-since DURATION  also re-judge the bins of the last DURATION (at most 366d)\n"
    "SQL: SELECT parallax.merge_setting_set('open_after', '3');\n"
    "     SELECT parallax.merge_mark(now() - interval '7 days', now());\n";

static int cmd_settings(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    int json, describe;
    if (ctl_settings_show_parse(argc, argv, &json, &describe, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_settings_show(db, json, describe, stdout, err)) : CTL_EXIT_FAIL;
}

static int cmd_settings_set(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_settings_change_t change;
    if (ctl_settings_set_parse(argc, argv, &change, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_settings_set(db, &change, stdout, err)) : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_settings_commands[] = {
    {"settings", NULL, usage_settings, cmd_settings},
    {"settings", "set", usage_settings_set, cmd_settings_set},
};
const size_t ctl_settings_command_count =
    sizeof ctl_settings_commands / sizeof ctl_settings_commands[0];
