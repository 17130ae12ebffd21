/* ctl_outage: outage list and explanation; the database does the selecting, counting and
 * JSON building, this file the wording. */
#include "ctl_outage.h"

#include "ctl_command.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"
#include "ctl_maintenance.h"
#include "ctl_fmt.h"
#include "ctl_parse.h"
#include "ctl_paths.h"
#include "ctl_table.h"

/* The outages a filter selects, with how long each lasted (so far). Parameters: $1 since
 * seconds (NULL: all), $2 scope (NULL: all), $3 only open ones. */
#define FILTERED                                                                                   \
    "(SELECT o.*, greatest(extract(epoch FROM coalesce(o.ended_at, now()) - o.started_at), "       \
    "0)::bigint AS lasted_s FROM parallax.outages o "                                              \
    "WHERE ($1::bigint IS NULL OR coalesce(o.ended_at, 'infinity') >= now() - $1::bigint * "       \
    "interval '1 second') AND ($2::text IS NULL OR o.scope = $2) "                                 \
    "AND (NOT $3::boolean OR o.ended_at IS NULL)) f"

/* How times are shown in tables: UTC (the session's zone), to the second. */
#define TIME(col) "to_char(" col ", 'YYYY-MM-DD HH24:MI:SS')"

static const char *const scopes[] = {"target", "group", "vantage", NULL};

int ctl_outage_list_parse(int argc, char **argv, ctl_outage_filter_t *filter, int *json, err_t *err)
{
    static const ctl_opt_t opts[] = {
        {"since", 0, 1, 0}, {"scope", 0, 1, 0}, {"open", 0, 0, 0},
        {"json", 0, 0, 0},  {NULL, 0, 0, 0},
    };
    memset(filter, 0, sizeof *filter);
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    int rc = -1;
    const char *since = ctl_args_value(args, "since", 0);
    filter->scope = ctl_args_value(args, "scope", 0);
    filter->open = ctl_args_count(args, "open") > 0;
    *json = ctl_args_count(args, "json") > 0;
    if (since && ctl_parse_duration("--since", since, &filter->since_s, err) < 0)
        goto done;
    if (filter->scope) {
        const char *const *s = scopes;
        while (*s && strcmp(*s, filter->scope) != 0)
            s++;
        if (!*s) {
            err_set(err, "bad --scope '%s': expected target, group or vantage", filter->scope);
            goto done;
        }
    }
    rc = 0;
done:
    ctl_args_destroy(&args);
    return rc;
}

/* Fills params (three entries) for FILTERED; since is scratch space for the number. */
static void filter_params(const ctl_outage_filter_t *f, char since[24], const char *params[3])
{
    snprintf(since, 24, "%llu", (unsigned long long)f->since_s);
    params[0] = f->since_s ? since : NULL;
    params[1] = f->scope;
    params[2] = f->open ? "true" : "false";
}

char *ctl_outage_list_json(ctl_db_t *db, const ctl_outage_filter_t *filter, err_t *err)
{
    char since[24];
    const char *params[3];
    filter_params(filter, since, params);
    return ctl_db_query_text(
        db,
        "SELECT coalesce(jsonb_agg(jsonb_build_object("
        "'id', f.id, 'scope', f.scope, 'subject', f.subject, 'stage', f.stage, "
        "'started_at', f.started_at, 'ended_at', f.ended_at, 'open', f.ended_at IS NULL, "
        "'lasted_s', f.lasted_s, 'dominant_failure', f.detail->>'dominant_failure', "
        "'detail', f.detail) ORDER BY f.started_at, f.id), '[]')::text FROM " FILTERED,
        3, params, err);
}

/* Columns of the list table. */
enum { L_ID, L_SCOPE, L_SUBJECT, L_STAGE, L_STARTED, L_ENDED, L_LASTED, L_FAILURE, L_SEEN };

static int list_table(const ctl_rows_t *rows, FILE *out)
{
    static const char *const headers[] = {"ID",        "SCOPE",  "SUBJECT", "STAGE",  "STARTED_UTC",
                                          "ENDED_UTC", "LASTED", "FAILURE", "SEEN_BY"};
    ctl_table_t *table = ctl_table_new(9, headers);
    if (!table)
        return -1;
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++) {
        char lasted[24];
        const char *ended = ctl_rows_get(rows, r, L_ENDED);
        const char *seen = ctl_rows_get(rows, r, L_SEEN);
        const char *cells[] = {
            ctl_rows_get(rows, r, L_ID),
            ctl_rows_get(rows, r, L_SCOPE),
            ctl_rows_get(rows, r, L_SUBJECT),
            ctl_rows_get(rows, r, L_STAGE),
            ctl_rows_get(rows, r, L_STARTED),
            ended ? ended : "ongoing",
            ctl_fmt_duration_text(ctl_rows_get(rows, r, L_LASTED), lasted, sizeof lasted),
            ctl_rows_get(rows, r, L_FAILURE),
            seen && *seen ? seen : NULL};
        rc = ctl_table_add(table, cells);
    }
    if (rc == 0)
        rc = ctl_table_print(table, out);
    ctl_table_destroy(&table);
    return rc;
}

int ctl_outage_list(ctl_db_t *db, const ctl_outage_filter_t *filter, int json, FILE *out,
                    err_t *err)
{
    if (json) {
        char *text = ctl_outage_list_json(db, filter, err);
        if (!text)
            return -1;
        int rc = fprintf(out, "%s\n", text) < 0 ? -1 : 0;
        free(text);
        if (rc < 0)
            err_set(err, "cannot write the list: %s", strerror(errno));
        return rc;
    }
    char since[24];
    const char *params[3];
    filter_params(filter, since, params);
    ctl_rows_t *rows = ctl_db_query(
        db,
        "SELECT f.id::text, f.scope, f.subject, f.stage || CASE WHEN "
        "(f.detail->>'maintenance')::boolean THEN ' (maintenance)' ELSE '' END, " TIME(
            "f.started_at") ", " TIME("f.ended_at") ", f.lasted_s::text, "
                                                    "f.detail->>'dominant_failure', "
                                                    "(SELECT string_agg(x, ',' ORDER BY x) FROM "
                                                    "jsonb_array_elements_text(coalesce(f.detail->'"
                                                    "agreeing', '[]')) x) "
                                                    "FROM " FILTERED " ORDER BY f.started_at, f.id",
        3, params, err);
    if (!rows)
        return -1;
    int rc = 0;
    if (ctl_rows_count(rows) == 0)
        rc = fprintf(out, "no outages%s\n", filter->open ? " going on" : "") < 0 ? -1 : 0;
    else
        rc = list_table(rows, out);
    if (rc < 0)
        err_set(err, "cannot write the list: %s", errno ? strerror(errno) : "out of memory");
    ctl_rows_destroy(&rows);
    return rc;
}

int ctl_outage_explain_parse(int argc, char **argv, uint64_t *id, int *json, err_t *err)
{
    static const ctl_opt_t opts[] = {{"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return -1;
    int rc = -1;
    const char *text = ctl_args_pos(args, 0);
    *json = ctl_args_count(args, "json") > 0;
    if (!text)
        err_set(err, "missing outage ID (see 'parallaxctl outages')");
    else if (ctl_parse_id("outage ID", text, id, err) == 0)
        rc = 0;
    ctl_args_destroy(&args);
    return rc;
}

/* The outage's own row. */
enum {
    H_SCOPE,
    H_SUBJECT,
    H_STAGE,
    H_STARTED,
    H_ENDED,
    H_LASTED,
    H_FAILURE,
    H_BAD,
    H_GOOD,
    H_UNKNOWN,
    H_AGREEING,
    H_DISAGREEING,
    H_DOWN_TARGETS
};

static const char head_sql[] =
    "SELECT o.scope, o.subject, o.stage, " TIME("o.started_at") ", " TIME(
        "o.ended_at") ", "
                      "greatest(extract(epoch FROM coalesce(o.ended_at, now()) - o.started_at), "
                      "0)::bigint::text, "
                      "o.detail->>'dominant_failure', "
                      "coalesce(o.detail#>>'{bins,bad}', '0'), coalesce(o.detail#>>'{bins,good}', "
                      "'0'), "
                      "coalesce(o.detail#>>'{bins,unknown}', '0'), "
                      "(SELECT string_agg(x, ', ' ORDER BY x) FROM "
                      "jsonb_array_elements_text(coalesce(o.detail->'agreeing', '[]')) x), "
                      "(SELECT string_agg(x, ', ' ORDER BY x) FROM "
                      "jsonb_array_elements_text(coalesce(o.detail->'disagreeing', '[]')) x), "
                      "(SELECT string_agg(x, ', ' ORDER BY x) FROM "
                      "jsonb_array_elements_text(coalesce(o.detail->'down_targets', '[]')) x) "
                      "FROM parallax.outages o WHERE o.id = $1::bigint";

/* When each stage was first reached, in order, with the offset from the start. */
static const char stages_sql[] = "SELECT s.key, " TIME(
    "s.value::timestamptz") ", "
                            "extract(epoch FROM s.value::timestamptz - o.started_at)::bigint::text "
                            "FROM parallax.outages o, "
                            "jsonb_each_text(coalesce(o.detail->'first_reached', '{}')) s "
                            "WHERE o.id = $1::bigint ORDER BY s.value::timestamptz, "
                            "parallax.merge_rank(s.key)";

/* Failure statuses by the number of bad bins they dominated. */
static const char failures_sql[] = "SELECT f.key, f.value FROM parallax.outages o, "
                                   "jsonb_each_text(coalesce(o.detail->'failures', '{}')) f "
                                   "WHERE o.id = $1::bigint ORDER BY f.value::numeric DESC, f.key";

/* What each vantage saw during the outage, from the subject's bins. For a target: the
 * target bins naming it as failed, mixed, reaching or excluded (not healthy then); for a
 * group: the group bins naming it among the vantages failing some target or not; for a
 * vantage: its own health, bin by bin (one row, the vantage itself). */
static const char vantages_sql[] =
    "WITH o AS (SELECT * FROM parallax.outages WHERE id = $1::bigint), "
    "seen AS ("
    " SELECT v.name, v.kind FROM o JOIN parallax.target_bins b ON o.scope = 'target' "
    "  AND b.target = o.subject AND b.bin_start >= o.started_at "
    "  AND b.bin_start < coalesce(o.ended_at, 'infinity') "
    " CROSS JOIN LATERAL (SELECT 'failed', x FROM "
    "jsonb_array_elements_text(coalesce(b.evidence->'failed', '[]')) x "
    "  UNION ALL SELECT 'mixed', x FROM jsonb_array_elements_text(coalesce(b.evidence->'mixed', "
    "'[]')) x "
    "  UNION ALL SELECT 'reached', x FROM "
    "jsonb_array_elements_text(coalesce(b.evidence->'reached', '[]')) x "
    "  UNION ALL SELECT 'excluded', x FROM "
    "jsonb_array_elements_text(coalesce(b.evidence->'excluded', '[]')) x"
    " ) v(kind, name) "
    " UNION ALL "
    " SELECT v.name, v.kind FROM o JOIN parallax.group_bins b ON o.scope = 'group' "
    "  AND b.group_name = o.subject AND b.bin_start >= o.started_at "
    "  AND b.bin_start < coalesce(o.ended_at, 'infinity') "
    " CROSS JOIN LATERAL (SELECT 'failed', x FROM "
    "jsonb_array_elements_text(coalesce(b.evidence->'failing_vantages', '[]')) x "
    "  UNION ALL SELECT 'reached', x FROM "
    "jsonb_array_elements_text(coalesce(b.evidence->'other_vantages', '[]')) x"
    " ) v(kind, name) "
    " UNION ALL "
    " SELECT b.agent, CASE b.health WHEN 'healthy' THEN 'reached' WHEN 'no_data' THEN 'no_data' "
    "  ELSE 'failed' END FROM o JOIN parallax.vantage_bins b ON o.scope = 'vantage' "
    "  AND b.agent = o.subject AND b.bin_start >= o.started_at "
    "  AND b.bin_start < coalesce(o.ended_at, 'infinity')"
    ") "
    "SELECT name, count(*) FILTER (WHERE kind = 'failed')::text, "
    "count(*) FILTER (WHERE kind = 'mixed')::text, count(*) FILTER (WHERE kind = 'reached')::text, "
    "count(*) FILTER (WHERE kind IN ('excluded', 'no_data'))::text "
    "FROM seen GROUP BY name ORDER BY name";

/* For a group: each member target's worst state during the outage and when it was first
 * down. */
static const char targets_sql[] =
    "SELECT b.target, b.role::text, max(b.state)::text, "
    "count(*) FILTER (WHERE b.state = 'down')::text, "
    "coalesce(" TIME(
        "min(b.bin_start) FILTER (WHERE b.state = 'down')") ", '-') "
                                                            "FROM parallax.outages o JOIN "
                                                            "parallax.target_bins b ON "
                                                            "b.group_name = o.subject "
                                                            "AND b.bin_start >= o.started_at AND "
                                                            "b.bin_start < coalesce(o.ended_at, "
                                                            "'infinity') "
                                                            "WHERE o.id = $1::bigint AND o.scope = "
                                                            "'group' "
                                                            "GROUP BY b.target, b.role ORDER BY "
                                                            "max(b.state) DESC, b.target";

/* For a target: in how many of its down bins the host still answered while its service
 * failed (evidence.service_down), and the probes left out as chronic (never working within
 * baseline_window: docs/verdicts.md). */
static const char service_sql[] =
    "SELECT count(*) FILTER (WHERE b.state = 'down' AND b.evidence ? 'service_down')::text, "
    "(SELECT string_agg(DISTINCT x, ', ') FROM parallax.target_bins c "
    "  CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(c.evidence->'chronic', '[]')) x "
    "  WHERE c.target = o.subject AND c.bin_start >= o.started_at "
    "  AND c.bin_start < coalesce(o.ended_at, 'infinity')) "
    "FROM parallax.outages o JOIN parallax.target_bins b ON b.target = o.subject "
    "AND b.bin_start >= o.started_at AND b.bin_start < coalesce(o.ended_at, 'infinity') "
    "WHERE o.id = $1::bigint AND o.scope = 'target' GROUP BY o.subject, o.started_at, o.ended_at";

/* The whole explanation as one JSON object, for --json. */
static const char json_sql[] =
    "WITH o AS (SELECT * FROM parallax.outages WHERE id = $1::bigint) "
    "SELECT jsonb_build_object('id', o.id, 'scope', o.scope, 'subject', o.subject, "
    "'stage', o.stage, 'started_at', o.started_at, 'ended_at', o.ended_at, "
    "'open', o.ended_at IS NULL, "
    "'lasted_s', greatest(extract(epoch FROM coalesce(o.ended_at, now()) - o.started_at), "
    "0)::bigint, "
    "'detail', o.detail, "
    "'paths', (SELECT coalesce(jsonb_agg(to_jsonb(p) - 'outage_id' ORDER BY p.agent, p.target), "
    "  '[]') FROM parallax.path_ends p WHERE p.outage_id = o.id), "
    "'maintenance', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', w.id, 'scope', w.scope, "
    "  'subject', w.subject, 'starts_at', w.starts_at, 'ends_at', w.ends_at, 'reason', w.reason) "
    "  ORDER BY w.starts_at, w.id), '[]') FROM parallax.outage_events e, "
    "  parallax.maintenance_windows w WHERE e.id = o.id AND " CTL_MAINTENANCE_OVERLAPS "), "
    "'bins', (SELECT coalesce(jsonb_agg(jsonb_build_object('bin_start', b.bin_start, "
    "  'state', b.state, 'evidence', b.evidence) ORDER BY b.bin_start), '[]') "
    "  FROM parallax.bins b WHERE b.scope = o.scope AND b.bin_start >= o.started_at "
    "  AND b.bin_start < coalesce(o.ended_at, 'infinity') AND b.subject_id = ("
    "  SELECT e.subject_id FROM parallax.outage_events e WHERE e.id = o.id)))::text FROM o";

/* One sentence saying what the evidence means. */
static const char *verdict(const char *scope, const char *stage)
{
    if (strcmp(scope, "vantage") == 0)
        return strcmp(stage, "offline") == 0
                   ? "Nothing came from this vantage (no results, no heartbeats): it was cut "
                     "off; its silence counts against no target."
                   : "This vantage failed its own control targets or reported local errors: "
                     "the failure is on the vantage's side, and its results were left out of "
                     "every target verdict meanwhile.";
    if (strcmp(scope, "target") == 0) {
        if (strcmp(stage, "down") == 0)
            return "Every healthy vantage that probed the target failed, across different "
                   "networks: the outage is on the target's side.";
        if (strcmp(stage, "partial") == 0)
            return "Some healthy vantages reached the target and others did not: a partial "
                   "or path outage.";
        return "Every healthy vantage still reached the target, but with failures or latency "
               "above its baseline: degradation.";
    }
    if (strcmp(stage, "blackout") == 0)
        return "Every known border router of the group and most of its targets were down for "
               "healthy vantages: a blackout.";
    if (strcmp(stage, "dns_down") == 0)
        return "Every known DNS server of the group was down for healthy vantages.";
    if (strcmp(stage, "servers_offline") == 0)
        return "Some of the group's servers were down for healthy vantages.";
    return "Some of the group's targets were degraded or partially reachable.";
}

/* Writes the first ncols columns of every row of rows as a table under headers. Returns 0, or
 * -1 with err set (out of memory, or a write error). */
static int print_rows_table(const ctl_rows_t *rows, size_t ncols, const char *const *headers,
                            FILE *out, err_t *err)
{
    const char *cells[8];
    assert(ncols <= sizeof cells / sizeof cells[0]);
    ctl_table_t *table = ctl_table_new(ncols, headers);
    int rc = table ? 0 : -1;
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++) {
        for (size_t c = 0; c < ncols; c++)
            cells[c] = ctl_rows_get(rows, r, c);
        rc = ctl_table_add(table, cells);
    }
    if (rc < 0) {
        err_set(err, "out of memory");
    } else if (ctl_table_print(table, out) < 0) {
        err_set(err, "cannot write: %s", strerror(errno));
        rc = -1;
    }
    ctl_table_destroy(&table);
    return rc;
}

static int explain_text(ctl_db_t *db, const char *idtext, FILE *out, err_t *err)
{
    const char *params[] = {idtext};
    ctl_rows_t *head = NULL, *stages = NULL, *failures = NULL, *vantages = NULL;
    ctl_rows_t *targets = NULL, *service = NULL;
    int rc = -1;
    if (!(head = ctl_db_query(db, head_sql, 1, params, err)))
        goto done;
    if (ctl_rows_count(head) == 0) {
        err_set(err, "no outage %s (see 'parallaxctl outages')", idtext);
        goto done;
    }
    if (!(stages = ctl_db_query(db, stages_sql, 1, params, err)) ||
        !(failures = ctl_db_query(db, failures_sql, 1, params, err)) ||
        !(vantages = ctl_db_query(db, vantages_sql, 1, params, err)) ||
        !(targets = ctl_db_query(db, targets_sql, 1, params, err)) ||
        !(service = ctl_db_query(db, service_sql, 1, params, err)))
        goto done;
    const char *scope = ctl_rows_get(head, 0, H_SCOPE);
    const char *ended = ctl_rows_get(head, 0, H_ENDED);
    char lasted[24];
    ctl_fmt_duration_text(ctl_rows_get(head, 0, H_LASTED), lasted, sizeof lasted);
    fprintf(out, "outage %s: %s %s, worst stage %s\n", idtext, scope,
            ctl_rows_get(head, 0, H_SUBJECT), ctl_rows_get(head, 0, H_STAGE));
    fprintf(out, "  started  %s UTC\n", ctl_rows_get(head, 0, H_STARTED));
    if (ended)
        fprintf(out, "  ended    %s UTC (lasted %s)\n", ended, lasted);
    else
        fprintf(out, "  ongoing  (for %s so far)\n", lasted);
    fprintf(out, "  %s\n", verdict(scope, ctl_rows_get(head, 0, H_STAGE)));
    if (ctl_rows_count(service) > 0) {
        const char *answered = ctl_rows_get(service, 0, 0);
        const char *chronic = ctl_rows_get(service, 0, 1);
        if (answered && strcmp(answered, "0") != 0)
            fprintf(out,
                    "  host reachable, service down: in %s of its down bins the host still "
                    "answered (another probe was ok) while its service failed from every "
                    "healthy vantage.\n",
                    answered);
        if (chronic)
            fprintf(out,
                    "  left out as chronic (not working within baseline_window, so never "
                    "counted): %s\n",
                    chronic);
    }
    if (ctl_maintenance_explain(db, idtext, out, err) < 0 ||
        ctl_paths_explain_routes(db, idtext, out, err) < 0)
        goto done;
    if (ctl_rows_count(stages) > 0) {
        fprintf(out, "\nstages, when first reached:\n");
        for (size_t r = 0; r < ctl_rows_count(stages); r++) {
            char off[24];
            fprintf(out, "  %-16s %s UTC  (+%s)\n", ctl_rows_get(stages, r, 0),
                    ctl_rows_get(stages, r, 1),
                    ctl_fmt_duration_text(ctl_rows_get(stages, r, 2), off, sizeof off));
        }
    }
    fprintf(out, "\nbins: %s bad, %s good, %s unknown\n", ctl_rows_get(head, 0, H_BAD),
            ctl_rows_get(head, 0, H_GOOD), ctl_rows_get(head, 0, H_UNKNOWN));
    const char *dominant = ctl_rows_get(head, 0, H_FAILURE);
    if (dominant) {
        fprintf(out, "dominant failure: %s (bad bins by failure:", dominant);
        for (size_t r = 0; r < ctl_rows_count(failures); r++)
            fprintf(out, "%s %s %s", r ? "," : "", ctl_rows_get(failures, r, 0),
                    ctl_rows_get(failures, r, 1));
        fprintf(out, ")\n");
    } else {
        fprintf(out, "dominant failure: none recorded\n");
    }
    const char *agreeing = ctl_rows_get(head, 0, H_AGREEING);
    const char *disagreeing = ctl_rows_get(head, 0, H_DISAGREEING);
    if (strcmp(scope, "vantage") == 0) {
        fprintf(out, "vantages fine at the time: %s\n", disagreeing ? disagreeing : "none");
    } else {
        fprintf(out, "vantages that saw failures: %s\n", agreeing ? agreeing : "none");
        fprintf(out, "vantages that saw none: %s\n", disagreeing ? disagreeing : "none");
    }
    if (strcmp(scope, "group") == 0) {
        const char *down = ctl_rows_get(head, 0, H_DOWN_TARGETS);
        fprintf(out, "targets down at some point: %s\n", down ? down : "none");
    }
    if (ctl_rows_count(vantages) > 0) {
        static const char *const vh[] = {"VANTAGE", "FAILED", "MIXED", "REACHED", "LEFT_OUT"};
        fprintf(out,
                "\nbins per vantage (failed: saw the %s fail; left out: not healthy "
                "or no data then):\n",
                scope);
        if (print_rows_table(vantages, 5, vh, out, err) < 0)
            goto done;
    }
    if (ctl_rows_count(targets) > 0) {
        static const char *const th[] = {"TARGET", "ROLE", "WORST", "DOWN_BINS", "FIRST_DOWN_UTC"};
        fprintf(out, "\ntargets of the group during the outage:\n");
        if (print_rows_table(targets, 5, th, out, err) < 0)
            goto done;
    }
    if (strcmp(scope, "vantage") != 0 && ctl_paths_explain(db, idtext, out, err) < 0)
        goto done;
    if (fflush(out) != 0)
        goto write_error;
    rc = 0;
    goto done;
write_error:
    err_set(err, "cannot write: %s", strerror(errno));
done:
    ctl_rows_destroy(&head);
    ctl_rows_destroy(&stages);
    ctl_rows_destroy(&failures);
    ctl_rows_destroy(&vantages);
    ctl_rows_destroy(&targets);
    ctl_rows_destroy(&service);
    return rc;
}

int ctl_outage_explain(ctl_db_t *db, uint64_t id, int json, FILE *out, err_t *err)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%llu", (unsigned long long)id);
    if (!json)
        return explain_text(db, idtext, out, err);
    const char *params[] = {idtext};
    ctl_rows_t *rows = ctl_db_query(db, json_sql, 1, params, err);
    if (!rows)
        return -1;
    int rc = -1;
    if (ctl_rows_count(rows) == 0)
        err_set(err, "no outage %s (see 'parallaxctl outages')", idtext);
    else if (fprintf(out, "%s\n", ctl_rows_get(rows, 0, 0)) < 0)
        err_set(err, "cannot write: %s", strerror(errno));
    else
        rc = 0;
    ctl_rows_destroy(&rows);
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_outages[] =
    "usage: " CTL_PROG " [--db CONNINFO] outages [--since DURATION] [--scope S] [--open] [--json]\n"
    "\n"
    "Lists outages, oldest first: id, scope, subject, worst stage, start, end (or ongoing),\n"
    "how long it lasted, the dominant failure and the vantages that saw it.\n"
    "  --since DURATION  only outages going on at some time in the last DURATION (30m, 2h, 7d)\n"
    "  --scope S         target, group or vantage\n"
    "  --open            only outages still going on\n"
    "  --json            a JSON array of objects, each with its full detail\n"
    "SQL: SELECT * FROM parallax.outages;\n";

static const char usage_explain[] =
    "usage: " CTL_PROG " [--db CONNINFO] explain ID [--json]\n"
    "\n"
    "Explains outage ID (see 'outages') in words: what the verdict means, when each stage\n"
    "was first reached, the dominant failure, which vantages saw failures and which did\n"
    "not, bin by bin per vantage, and for a group which of its targets went down and when.\n"
    "  --json  the outage and its bins with their evidence, as one JSON object\n";

static int cmd_outages(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_outage_filter_t filter;
    int json;
    if (ctl_outage_list_parse(argc, argv, &filter, &json, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_outage_list(db, &filter, json, stdout, err)) : CTL_EXIT_FAIL;
}

static int cmd_explain(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    uint64_t id;
    int json;
    if (ctl_outage_explain_parse(argc, argv, &id, &json, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_outage_explain(db, id, json, stdout, err)) : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_outage_commands[] = {
    {"outages", NULL, usage_outages, cmd_outages},
    {"explain", NULL, usage_explain, cmd_explain},
};
const size_t ctl_outage_command_count = sizeof ctl_outage_commands / sizeof ctl_outage_commands[0];
