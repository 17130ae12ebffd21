/* ctl_status: the agents table and the ongoing outages, side by side. */
#include "ctl_status.h"

#include "ctl_command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_agent.h"
#include "ctl_args.h"
#include "ctl_group.h"
#include "ctl_maintenance.h"
#include "ctl_notify.h"
#include "ctl_outage.h"
#include "ctl_parse.h"
#include "ctl_table.h"

int ctl_status_parse(int argc, char **argv, uint64_t *window_s, int *json, err_t *err)
{
    static const ctl_opt_t opts[] = {{"window", 0, 1, 0}, {"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    const char *window = ctl_args_value(args, "window", 0);
    *json = ctl_args_count(args, "json") > 0;
    *window_s = CTL_STATUS_WINDOW_S;
    int rc = window ? ctl_parse_duration("--window", window, window_s, err) : 0;
    ctl_args_destroy(&args);
    return rc;
}

enum {
    A_NAME,
    A_COUNTRY,
    A_ASN,
    A_STATE,
    A_LAST_SEEN,
    A_HEALTH,
    A_DROPPED,
    A_SKIPPED,
    A_OFFSET,
    A_REFUSED,
    A_MAINTENANCE
};

static const char agents_sql[] =
    "SELECT agent, country, asn::text, state, to_char(last_seen, 'YYYY-MM-DD HH24:MI:SS'), "
    "health, dropped::text, skipped::text, clock_offset_ms::text, refused, "
    "EXISTS (SELECT 1 FROM parallax.maintenance_windows w WHERE w.active "
    "AND w.scope = 'vantage' AND w.subject = agent)::text "
    "FROM parallax.agent_status($1::bigint * interval '1 second') ORDER BY agent";

static const char agents_json_sql[] =
    "SELECT coalesce(jsonb_agg(jsonb_build_object('name', s.agent, 'country', s.country, "
    "'asn', s.asn, 'enabled', s.enabled, 'state', s.state, 'last_seen', s.last_seen, "
    "'health', s.health, 'health_at', s.health_at, 'dropped', s.dropped, 'skipped', s.skipped, "
    "'clock_offset_ms', s.clock_offset_ms, 'agent_version', s.agent_version, "
    "'refused', s.refused, 'refused_at', s.refused_at, "
    "'maintenance', EXISTS (SELECT 1 FROM parallax.maintenance_windows w WHERE w.active "
    "AND w.scope = 'vantage' AND w.subject = s.agent)) "
    "ORDER BY s.agent), '[]')::text "
    "FROM parallax.agent_status($1::bigint * interval '1 second') s";

static int status_json(ctl_db_t *db, const char *window, FILE *out, err_t *err)
{
    const ctl_outage_filter_t open = {0, NULL, 1};
    char *agents = ctl_db_query_text(db, agents_json_sql, 1, &window, err);
    char *outages = agents ? ctl_outage_list_json(db, &open, err) : NULL;
    char *maintenance = outages ? ctl_maintenance_active_json(db, err) : NULL;
    int rc = -1;
    if (maintenance) {
        rc = fprintf(out,
                     "{\"window_s\": %s, \"agents\": %s, \"outages\": %s, \"maintenance\": %s}\n",
                     window, agents, outages, maintenance) < 0
                 ? -1
                 : 0;
        if (rc < 0)
            err_set(err, "cannot write the status: %s", strerror(errno));
    }
    free(agents);
    free(outages);
    free(maintenance);
    return rc;
}

/* The agents table: one row per agent, as agent_status() says, then why each refused agent is
 * refused. DROPS are results its spool lost, SKIPPED runs it could not start on time: both
 * are gaps, kept apart because they call for different remedies. */
static int agents_table(const ctl_rows_t *rows, FILE *out)
{
    static const char *const headers[] = {"NAME",  "COUNTRY",       "ASN",
                                          "STATE", "LAST_SEEN_UTC", "HEALTH",
                                          "DROPS", "SKIPPED",       "CLOCK_OFFSET_MS"};
    ctl_table_t *table = ctl_table_new(9, headers);
    if (!table)
        return -1;
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++) {
        const char *last = ctl_rows_get(rows, r, A_LAST_SEEN);
        /* An agent in a maintenance window keeps its state, marked: its verdicts do not count. */
        char state[64];
        snprintf(state, sizeof state, "%s%s", ctl_rows_get(rows, r, A_STATE),
                 strcmp(ctl_rows_get(rows, r, A_MAINTENANCE), "true") == 0 ? " (maintenance)" : "");
        const char *cells[] = {ctl_rows_get(rows, r, A_NAME),
                               ctl_rows_get(rows, r, A_COUNTRY),
                               ctl_rows_get(rows, r, A_ASN),
                               state,
                               last ? last : "never",
                               ctl_rows_get(rows, r, A_HEALTH),
                               ctl_rows_get(rows, r, A_DROPPED),
                               ctl_rows_get(rows, r, A_SKIPPED),
                               ctl_rows_get(rows, r, A_OFFSET)};
        rc = ctl_table_add(table, cells);
    }
    if (rc == 0)
        rc = ctl_table_print(table, out);
    if (rc == 0)
        rc = ctl_agent_print_refusals(rows, A_NAME, A_REFUSED, out);
    ctl_table_destroy(&table);
    return rc;
}

static size_t count_state(const ctl_rows_t *rows, const char *state)
{
    size_t n = 0;
    for (size_t r = 0; r < ctl_rows_count(rows); r++)
        n += strcmp(ctl_rows_get(rows, r, A_STATE), state) == 0;
    return n;
}

int ctl_status_show(ctl_db_t *db, uint64_t window_s, int json, FILE *out, err_t *err)
{
    char window[24];
    snprintf(window, sizeof window, "%llu", (unsigned long long)window_s);
    if (json)
        return status_json(db, window, out, err);
    const char *params[] = {window};
    ctl_rows_t *rows = ctl_db_query(db, agents_sql, 1, params, err);
    if (!rows)
        return -1;
    int rc = -1;
    size_t n = ctl_rows_count(rows);
    /* Refused agents are counted only when there are some: between upgrades there are none. */
    char refused[40] = "";
    size_t n_refused = count_state(rows, "refused");
    if (n_refused > 0)
        snprintf(refused, sizeof refused, ", %zu refused", n_refused);
    fprintf(out,
            "agents: %zu (%zu online, %zu impaired, %zu offline%s, %zu disabled; online = heard "
            "from in the last %ss)\n",
            n, count_state(rows, "online"), count_state(rows, "impaired"),
            count_state(rows, "offline"), refused, count_state(rows, "disabled"), window);
    if (n > 0 && agents_table(rows, out) < 0) {
        err_set(err, "cannot write the status: %s", errno ? strerror(errno) : "out of memory");
        goto done;
    }
    if (ctl_maintenance_status(db, out, err) < 0 || ctl_notify_status(db, out, err) < 0 ||
        ctl_group_status(db, out, err) < 0)
        goto done;
    fprintf(out, "\noutages going on:\n");
    const ctl_outage_filter_t open = {0, NULL, 1};
    rc = ctl_outage_list(db, &open, 0, out, err);
done:
    ctl_rows_destroy(&rows);
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_status[] =
    "usage: " CTL_PROG " [--db CONNINFO] status [--window DURATION] [--json]\n"
    "\n"
    "Shows every agent: online (heard from, by a message or a heartbeat, within the\n"
    "window), impaired (online, but its latest vantage bin says its control targets fail or\n"
    "it reports local errors), offline, refused (it speaks another protocol version than the\n"
    "coordinator, which uses nothing it sends: upgrade agent and coordinator together; a line\n"
    "after the table names both versions) or disabled; when it was last seen, its latest\n"
    "vantage health, how many results its spool dropped (DROPS) and how many runs it could\n"
    "not start on time (SKIPPED: the run before still going, or the agent late), both from\n"
    "parallax.gaps, and its clock offset against the coordinator's. Then the outages going\n"
    "on now, the maintenance windows in force (an agent in one is marked \"(maintenance)\"),\n"
    "and the groups whose prefixes the route collectors do not all see now (BGP): blacked out\n"
    "too, or a route anomaly while their probes still reach them.\n"
    "  --window DURATION  the session window (default 60s, the coordinator's default\n"
    "                     session timeout)\n"
    "  --json             one JSON object {window_s, agents, outages, maintenance}\n"
    "SQL: SELECT * FROM parallax.agent_status(interval '60 s');\n";

static int cmd_status(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    uint64_t window;
    int json;
    if (ctl_status_parse(argc, argv, &window, &json, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_status_show(db, window, json, stdout, err)) : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_status_commands[] = {
    {"status", NULL, usage_status, cmd_status},
};
const size_t ctl_status_command_count = sizeof ctl_status_commands / sizeof ctl_status_commands[0];
