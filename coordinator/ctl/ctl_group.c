/* ctl_group: group set|show|list (see ctl_group.h). */
#include "ctl_group.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"
#include "ctl_named.h"
#include "ctl_parse.h"
#include "ctl_table.h"

/* A prefix as the database stores it: digits, hex, dots, colons and one slash; the database
 * checks the rest (host bits, ranges). */
static int prefix_chars_ok(const char *p)
{
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || !slash[1] || strchr(slash + 1, '/'))
        return 0;
    return strspn(p, "0123456789abcdefABCDEF.:/") == strlen(p);
}

int ctl_group_parse_set(int argc, char **argv, ctl_group_set_t *set, err_t *err)
{
    static const ctl_opt_t opts[] = {
        {"prefix", 0, 1, 1}, {"asn", 0, 1, 0}, {"clear", 0, 0, 0}, {NULL, 0, 0, 0}};
    memset(set, 0, sizeof *set);
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return -1;
    int rc = -1;
    set->group = ctl_args_pos(args, 0);
    set->nprefixes = ctl_args_count(args, "prefix");
    set->asn = ctl_args_value(args, "asn", 0);
    set->clear = ctl_args_count(args, "clear") > 0;
    uint64_t asn = 0;
    if (ctl_named_check("group", set->group, err) < 0)
        goto done;
    if (set->clear == (set->nprefixes > 0)) {
        err_set(err, "group set needs --prefix P (one or more) or --clear, not both");
        goto done;
    }
    if (set->asn && set->clear) {
        err_set(err, "--asn goes with --prefix, not --clear");
        goto done;
    }
    if (set->asn && ctl_parse_uint("--asn", set->asn, 0, UINT32_MAX, &asn, NULL) < 0) {
        err_set(err, "bad --asn '%s': expected an AS number from 0 to 4294967295", set->asn);
        goto done;
    }
    if (set->nprefixes > 0 && !(set->prefixes = calloc(set->nprefixes, sizeof *set->prefixes))) {
        err_set(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < set->nprefixes; i++) {
        set->prefixes[i] = ctl_args_value(args, "prefix", i);
        if (!prefix_chars_ok(set->prefixes[i])) {
            err_set(err, "bad --prefix '%s': expected a network such as 203.0.113.0/24",
                    set->prefixes[i]);
            goto done;
        }
    }
    rc = 0;
done:
    if (rc < 0) {
        free(set->prefixes);
        set->prefixes = NULL;
    }
    ctl_args_destroy(&args);
    return rc;
}

/* $1 group, $2 prefix, $3 asn (NULL: none). A prefix with host bits set is refused by the
 * cast with the database's own words. */
static const char insert_sql[] = "INSERT INTO parallax.group_prefixes (group_name, prefix, asn) "
                                 "VALUES ($1, $2::cidr, $3::bigint) ON CONFLICT DO NOTHING";

static int group_set(ctl_db_t *db, const ctl_group_set_t *set, FILE *out, err_t *err)
{
    if (ctl_db_begin(db, err) < 0)
        return -1;
    const char *p1[] = {set->group};
    if (ctl_db_exec(db, "DELETE FROM parallax.group_prefixes WHERE group_name = $1", 1, p1, err) <
        0)
        goto fail;
    for (size_t i = 0; i < set->nprefixes; i++) {
        const char *p3[] = {set->group, set->prefixes[i], set->asn};
        err_t why = {0};
        if (ctl_db_exec(db, insert_sql, 3, p3, &why) < 0) {
            err_set(err, "bad --prefix '%s': %s", set->prefixes[i], why.msg);
            goto fail;
        }
    }
    char *queued =
        ctl_db_query_text(db, "SELECT parallax.group_prefixes_changed($1)::text", 1, p1, err);
    if (!queued)
        goto fail;
    char *members = ctl_db_query_text(
        db, "SELECT count(*)::text FROM parallax.targets WHERE group_name = $1", 1, p1, err);
    if (!members) {
        free(queued);
        goto fail;
    }
    if (ctl_db_commit(db, err) < 0) {
        free(queued);
        free(members);
        goto fail;
    }
    int w = set->clear ? fprintf(out, "group %s: prefixes derived from its targets' addresses\n",
                                 set->group)
                       : fprintf(out, "group %s: %zu prefix%s set\n", set->group, set->nprefixes,
                                 set->nprefixes == 1 ? "" : "es");
    if (w >= 0 && strcmp(queued, "0") != 0)
        w = fprintf(out, "  %s group bins queued to be judged again with them\n", queued);
    if (w >= 0 && strcmp(members, "0") == 0)
        w = fprintf(out, "  (no target is in group %s yet)\n", set->group);
    free(queued);
    free(members);
    if (w < 0) {
        err_set(err, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
fail:
    ctl_db_rollback(db, NULL);
    return -1;
}

/* Each prefix of a group, configured or derived, with its visibility now. */
static const char show_sql[] =
    "SELECT l.prefix::text, CASE WHEN l.configured THEN 'configured' ELSE 'derived' END, "
    "coalesce('AS' || gp.asn, '-'), "
    "CASE WHEN v.peers_total > 0 THEN v.peers_seeing || '/' || v.peers_total END, "
    "(SELECT string_agg('AS' || o, ', ') FROM unnest(v.origin_asns) o), "
    "to_char(v.withdrawn_at, 'YYYY-MM-DD HH24:MI:SS') "
    "FROM parallax.group_prefix_list($1) l "
    "LEFT JOIN parallax.group_prefixes gp ON gp.group_name = $1 AND gp.prefix = l.prefix "
    "CROSS JOIN LATERAL parallax.route_visibility(l.prefix, coalesce($2::timestamptz, now())) v "
    "ORDER BY l.prefix";

static const char show_json_sql[] =
    "SELECT jsonb_build_object('group', $1::text, "
    "'targets', (SELECT count(*) FROM parallax.targets WHERE group_name = $1), "
    "'routes', parallax.group_routes($1, coalesce($2::timestamptz, now())), "
    "'prefixes', (SELECT coalesce(jsonb_agg(jsonb_build_object('prefix', l.prefix, "
    "  'configured', l.configured, 'asn', gp.asn) ORDER BY l.prefix), '[]') "
    "  FROM parallax.group_prefix_list($1) l LEFT JOIN parallax.group_prefixes gp "
    "  ON gp.group_name = $1 AND gp.prefix = l.prefix), "
    "'anomalies', (SELECT coalesce(jsonb_agg(to_jsonb(a) - 'group_name' ORDER BY a.bin_start), "
    "  '[]') FROM parallax.route_anomalies a WHERE a.group_name = $1 "
    "  AND a.bin_start > coalesce($2::timestamptz, now()) - interval '1 day' "
    "  AND a.bin_start <= coalesce($2::timestamptz, now())))::text";

/* Writes the one JSON document sql returns, on a line. Returns 0, or -1 with err set. */
static int print_json(ctl_db_t *db, const char *sql, int nparams, const char *const *params,
                      FILE *out, err_t *err)
{
    char *doc = ctl_db_query_text(db, sql, nparams, params, err);
    if (!doc)
        return -1;
    int w = fprintf(out, "%s\n", doc);
    free(doc);
    if (w < 0) {
        err_set(err, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int group_show(ctl_db_t *db, const char *group, const char *at, int json, FILE *out,
                      err_t *err)
{
    const char *p1[] = {group};
    const char *p2[] = {group, at};
    if (at) {
        const char *pa[] = {at};
        err_t why = {0};
        char *ok = ctl_db_query_text(db, "SELECT $1::timestamptz::text", 1, pa, &why);
        if (!ok) {
            err_set(err, "bad --at '%s': expected a time such as 2031-03-03 14:00 (UTC)", at);
            return -1;
        }
        free(ok);
    }
    char *known = ctl_db_query_text(
        db,
        "SELECT count(*)::text FROM (SELECT 1 FROM parallax.targets WHERE group_name = $1 "
        "UNION ALL SELECT 1 FROM parallax.group_prefixes WHERE group_name = $1) x",
        1, p1, err);
    if (!known)
        return -1;
    int missing = strcmp(known, "0") == 0;
    free(known);
    if (missing) {
        err_set(err, "no group named '%s' (a group exists while a target names it)", group);
        return -1;
    }
    if (json)
        return print_json(db, show_json_sql, 2, p2, out, err);
    ctl_rows_t *rows = ctl_db_query(db, show_sql, 2, p2, err);
    if (!rows)
        return -1;
    static const char *const headers[] = {"PREFIX",  "FROM",    "ASN",
                                          "SEEN_BY", "ORIGINS", "WITHDRAWN_UTC"};
    int rc = 0;
    if (fprintf(out, "group %s\n", group) < 0)
        rc = -1;
    if (rc == 0 && ctl_rows_count(rows) == 0 &&
        fprintf(out,
                "  no prefixes: none configured ('group set %s --prefix P'), and no "
                "announced prefix covers its targets\n",
                group) < 0)
        rc = -1;
    if (rc == 0 && ctl_rows_count(rows) > 0 && ctl_table_print_rows(rows, 6, headers, out) < 0)
        rc = -1;
    ctl_rows_destroy(&rows);
    if (rc < 0)
        err_set(err, "cannot write: %s", strerror(errno));
    return rc;
}

/* Every group (named by a target or configured), its targets, prefixes and routes now. */
static const char list_sql[] =
    "WITH g AS (SELECT group_name AS name FROM parallax.targets WHERE group_name IS NOT NULL "
    " UNION SELECT group_name FROM parallax.group_prefixes) "
    "SELECT g.name, (SELECT count(*) FROM parallax.targets t WHERE t.group_name = g.name)::text, "
    "(SELECT string_agg(l.prefix::text, ' ' ORDER BY l.prefix) FROM "
    " parallax.group_prefix_list(g.name) l), "
    "coalesce(parallax.group_routes(g.name, now())->>'state', 'no BGP data') "
    "FROM g ORDER BY g.name";

static const char list_json_sql[] =
    "WITH g AS (SELECT group_name AS name FROM parallax.targets WHERE group_name IS NOT NULL "
    " UNION SELECT group_name FROM parallax.group_prefixes) "
    "SELECT coalesce(jsonb_agg(jsonb_build_object('group', g.name, "
    "'targets', (SELECT count(*) FROM parallax.targets t WHERE t.group_name = g.name), "
    "'prefixes', (SELECT coalesce(jsonb_agg(l.prefix ORDER BY l.prefix), '[]') FROM "
    " parallax.group_prefix_list(g.name) l), "
    "'routes', parallax.group_routes(g.name, now()) ->> 'state') ORDER BY g.name), '[]')::text "
    "FROM g";

static int group_list(ctl_db_t *db, int json, FILE *out, err_t *err)
{
    if (json)
        return print_json(db, list_json_sql, 0, NULL, out, err);
    ctl_rows_t *rows = ctl_db_query(db, list_sql, 0, NULL, err);
    if (!rows)
        return -1;
    static const char *const headers[] = {"GROUP", "TARGETS", "PREFIXES", "ROUTES"};
    int rc = ctl_table_print_rows(rows, 4, headers, out);
    ctl_rows_destroy(&rows);
    if (rc < 0)
        err_set(err, "cannot write: %s", strerror(errno));
    return rc;
}

/* Groups whose routes are not all there now: name, state, the withdrawal's time, and whether
 * a group outage of blackout stage is open (else the probes still reach it: an anomaly). */
static const char status_sql[] =
    "WITH g AS (SELECT DISTINCT group_name AS name FROM parallax.route_watched), "
    "r AS (SELECT g.name, parallax.group_routes(g.name, now()) AS routes FROM g "
    " WHERE EXISTS (SELECT 1 FROM parallax.route_peers)) "
    "SELECT r.name, r.routes->>'state', "
    "coalesce(to_char((r.routes->>'withdrawn_at')::timestamptz, 'YYYY-MM-DD HH24:MI:SS'), '-'), "
    "EXISTS (SELECT 1 FROM parallax.outages o WHERE o.scope = 'group' AND o.subject = r.name "
    " AND o.ended_at IS NULL AND o.stage = 'blackout')::text "
    "FROM r WHERE r.routes->>'state' IN ('unroutable', 'partly_routed') ORDER BY r.name";

int ctl_group_status(ctl_db_t *db, FILE *out, err_t *err)
{
    ctl_rows_t *rows = ctl_db_query(db, status_sql, 0, NULL, err);
    if (!rows)
        return -1;
    int rc = 0;
    if (ctl_rows_count(rows) > 0 && fprintf(out, "\nroutes not all there (BGP):\n") < 0)
        rc = -1;
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++)
        if (fprintf(out, "  group %s %s since %s UTC%s\n", ctl_rows_get(rows, r, 0),
                    ctl_rows_get(rows, r, 1), ctl_rows_get(rows, r, 2),
                    strcmp(ctl_rows_get(rows, r, 3), "true") == 0
                        ? ", and blacked out"
                        : ": a route anomaly, its probes still reach it (a collector's problem, "
                          "or a hijack-like event)") < 0)
            rc = -1;
    ctl_rows_destroy(&rows);
    if (rc < 0)
        err_set(err, "cannot write: %s", strerror(errno));
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_group[] =
    "usage: " CTL_PROG " [--db CONNINFO] group set|show|list ...\n"
    "\n"
    "A group's networks: the prefixes it is announced as in BGP, configured here or derived\n"
    "from its targets' addresses (the most specific announced prefix covering each), and what\n"
    "the route collectors see of them (parallaxctl routes imports their updates).\n"
    "  group set G --prefix P [--prefix P ...] [--asn A] | --clear\n"
    "  group show G [--at TIME] [--json]\n"
    "  group list [--json]\n"
    "SQL: SELECT * FROM parallax.route_watched;\n";

static const char usage_group_set[] =
    "usage: " CTL_PROG " [--db CONNINFO] group set G --prefix P [--prefix P ...] [--asn A]\n"
    "       " CTL_PROG " [--db CONNINFO] group set G --clear\n"
    "\n"
    "Sets the prefixes group G is announced as (replacing those set before), with their origin\n"
    "AS; --clear goes back to prefixes derived from G's targets' addresses. The group's bins\n"
    "that BGP data covers are judged again with them.\n"
    "  --prefix P   a network, 203.0.113.0/24 or 2001:db8::/32 (no host bits); repeatable\n"
    "  --asn A      the AS that originates them (0 to 4294967295)\n"
    "  --clear      forget the configured prefixes\n";

static const char usage_group_show[] =
    "usage: " CTL_PROG " [--db CONNINFO] group show G [--at TIME] [--json]\n"
    "\n"
    "Shows group G's prefixes (configured or derived) and, for each, how many collector peers\n"
    "see a route into it now (or at TIME, UTC: 2031-03-03 14:00), their origin ASes, and when\n"
    "the last withdrew it.\n"
    "  --json   {group, targets, routes, prefixes, anomalies (route anomalies of the last day)}\n";

static const char usage_group_list[] =
    "usage: " CTL_PROG " [--db CONNINFO] group list [--json]\n"
    "\n"
    "Lists the groups (named by a target, or with configured prefixes): targets, prefixes, and\n"
    "whether they are routed now (routed, partly_routed, unroutable, or no BGP data).\n";

static int cmd_group_set(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_group_set_t set;
    if (ctl_group_parse_set(argc, argv, &set, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    int rc = db ? ctl_outcome(group_set(db, &set, stdout, err)) : CTL_EXIT_FAIL;
    free(set.prefixes);
    return rc;
}

static int cmd_group_show(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{"at", 0, 1, 0}, {"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return CTL_EXIT_USAGE;
    const char *name = ctl_args_pos(args, 0);
    const char *at = ctl_args_value(args, "at", 0);
    int json = ctl_args_count(args, "json") > 0;
    ctl_args_destroy(&args);
    if (ctl_named_check("group", name, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(group_show(db, name, at, json, stdout, err)) : CTL_EXIT_FAIL;
}

static int cmd_group_list(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    int json = 0;
    if (ctl_named_list_parse(argc, argv, &json, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(group_list(db, json, stdout, err)) : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_group_commands[] = {
    {"group", NULL, usage_group, NULL},
    {"group", "set", usage_group_set, cmd_group_set},
    {"group", "show", usage_group_show, cmd_group_show},
    {"group", "list", usage_group_list, cmd_group_list},
};
const size_t ctl_group_command_count = sizeof ctl_group_commands / sizeof ctl_group_commands[0];
