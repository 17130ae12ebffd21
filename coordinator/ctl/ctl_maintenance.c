/* ctl_maintenance: `parallaxctl maintenance add|list|remove`; the windows' effect is in SQL
 * (schema/definitions/35_maintenance.sql and the merge). */
#include "ctl_maintenance.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_args.h"
#include "ctl_parse.h"
#include "ctl_table.h"

/* Calendar dates the parser takes; far enough for any window, and inside PostgreSQL's and
 * time_t's ranges. */
#define YEAR_MIN 1970
#define YEAR_MAX 9999

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian), without timegm, which
 * would read the process's time zone rules for nothing: every time here is UTC. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int64_t m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* Reads exactly n digits at *p into *v and advances *p. Returns 0, or -1 if they are not
 * there. */
static int digits(const char **p, int n, int64_t *v)
{
    int64_t x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

/* "YYYY-MM-DD[( |T)HH:MM[:SS]][Z]" as Unix seconds. Returns 0 or -1. */
static int parse_calendar(const char *s, int64_t *out)
{
    const char *p = s;
    int64_t y, mo, d, h = 0, mi = 0, sec = 0;
    if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        digits(&p, 2, &d) < 0)
        return -1;
    if (*p == ' ' || *p == 'T') {
        p++;
        if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec) < 0)
                return -1;
        }
        if (*p == 'Z')
            p++;
    }
    if (*p != '\0' || y < YEAR_MIN || y > YEAR_MAX || mo < 1 || mo > 12 || d < 1 ||
        d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}

int ctl_maintenance_parse_time(const char *label, const char *s, int64_t now, int64_t *out,
                               err_t *err)
{
    const char *rel = NULL;
    if (strcmp(s, "now") == 0) {
        *out = now;
        return 0;
    }
    if (strncmp(s, "now+", 4) == 0)
        rel = s + 4;
    else if (s[0] == '+')
        rel = s + 1;
    if (rel) {
        uint64_t seconds;
        if (ctl_parse_duration(label, rel, &seconds, NULL) == 0) {
            *out = now + (int64_t)seconds;
            return 0;
        }
    } else if (parse_calendar(s, out) == 0) {
        return 0;
    }
    err_set(err,
            "bad %s '%s': expected a UTC time such as 2031-03-03 14:00, 2031-03-03T14:00:00Z, "
            "2031-03-03, now or +2h",
            label, s);
    return -1;
}

/* Checks the one subject option given. Returns 0 or -1 (err set). */
static int parse_subject(const ctl_args_t *args, ctl_maintenance_window_t *w, err_t *err)
{
    w->agent = ctl_args_value(args, "agent", 0);
    w->target = ctl_args_value(args, "target", 0);
    w->group = ctl_args_value(args, "group", 0);
    int given = (w->agent != NULL) + (w->target != NULL) + (w->group != NULL);
    if (given != 1) {
        err_set(err, "%s",
                given ? "give only one of --agent, --target and --group"
                      : "missing --agent, --target or --group");
        return -1;
    }
    if (w->agent && ctl_parse_name("--agent", w->agent, err) < 0)
        return -1;
    if (w->target && ctl_parse_name("--target", w->target, err) < 0)
        return -1;
    if (w->group && ctl_parse_line("--group", w->group, CTL_PARSE_GROUP_MAX, err) < 0)
        return -1;
    return 0;
}

/* Checks --from, --until / --for. Returns 0 or -1 (err set). */
static int parse_span(const ctl_args_t *args, int64_t now, ctl_maintenance_window_t *w, err_t *err)
{
    const char *from = ctl_args_value(args, "from", 0);
    const char *until = ctl_args_value(args, "until", 0);
    const char *dur = ctl_args_value(args, "for", 0);
    w->from = now;
    if (from && ctl_maintenance_parse_time("--from", from, now, &w->from, err) < 0)
        return -1;
    if ((until != NULL) == (dur != NULL)) {
        err_set(err, "%s", until ? "give --until or --for, not both" : "missing --until or --for");
        return -1;
    }
    if (until && ctl_maintenance_parse_time("--until", until, now, &w->until, err) < 0)
        return -1;
    if (dur) {
        uint64_t seconds;
        if (ctl_parse_duration("--for", dur, &seconds, err) < 0)
            return -1;
        w->until = w->from + (int64_t)seconds;
    }
    if (w->until <= w->from) {
        err_set(err, "--until (%s) must be after --from (%s)", until, from ? from : "now");
        return -1;
    }
    return 0;
}

/* Checks --every and --times, which come together. Returns 0 or -1 (err set). */
static int parse_recurrence(const ctl_args_t *args, ctl_maintenance_window_t *w, err_t *err)
{
    const char *every = ctl_args_value(args, "every", 0);
    const char *times = ctl_args_value(args, "times", 0);
    w->times = 1;
    w->every_s = 0;
    if (!every && !times)
        return 0;
    if (!every || !times) {
        err_set(err, "%s",
                every ? "--every needs --times (how many windows)"
                      : "--times needs --every (how far apart)");
        return -1;
    }
    uint64_t n;
    if (ctl_parse_duration("--every", every, &w->every_s, err) < 0 ||
        ctl_parse_uint("--times", times, 1, CTL_MAINTENANCE_TIMES_MAX, &n, err) < 0)
        return -1;
    w->times = (unsigned)n;
    /* Overlapping occurrences would be one longer window, written twice. */
    if ((int64_t)w->every_s <= w->until - w->from) {
        err_set(err, "--every (%s) must be longer than the window (%" PRId64 "s)", every,
                w->until - w->from);
        return -1;
    }
    return 0;
}

int ctl_maintenance_parse_add(int argc, char **argv, int64_t now, ctl_maintenance_window_t *w,
                              err_t *err)
{
    static const ctl_opt_t opts[] = {{"agent", 0, 1, 0},  {"target", 0, 1, 0}, {"group", 0, 1, 0},
                                     {"from", 0, 1, 0},   {"until", 0, 1, 0},  {"for", 0, 1, 0},
                                     {"reason", 0, 1, 0}, {"every", 0, 1, 0},  {"times", 0, 1, 0},
                                     {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    memset(w, 0, sizeof *w);
    int rc = parse_subject(args, w, err);
    if (rc == 0)
        rc = parse_span(args, now, w, err);
    w->reason = ctl_args_value(args, "reason", 0);
    if (rc == 0 && w->reason &&
        ctl_parse_line("--reason", w->reason, CTL_MAINTENANCE_REASON_MAX, err) < 0)
        rc = -1;
    if (rc == 0)
        rc = parse_recurrence(args, w, err);
    ctl_args_destroy(&args);
    return rc;
}

/* One statement: the subject's id is looked up by name, and no row is inserted when there is
 * none (the caller then says which name was unknown). A group exists while a target names it.
 * $7 occurrences, $8 seconds apart; one row back: the first and last ids, the first window. */
static const char add_sql[] =
    "WITH ins AS (INSERT INTO parallax.maintenance (agent_id, target_id, group_name, starts_at, "
    "ends_at, reason) "
    "SELECT a.id, t.id, g.name, to_timestamp($4::bigint) + k * $8::bigint * interval '1 second', "
    "to_timestamp($5::bigint) + k * $8::bigint * interval '1 second', $6 "
    "FROM generate_series(0, $7::integer - 1) k "
    "LEFT JOIN parallax.agents a ON a.name = $1 "
    "LEFT JOIN parallax.targets t ON t.name = $2 "
    "LEFT JOIN (SELECT DISTINCT group_name AS name FROM parallax.targets WHERE group_name = $3) g "
    "ON true "
    "WHERE num_nonnulls(a.id, t.id, g.name) = 1 "
    "RETURNING id, starts_at, ends_at) "
    "SELECT min(id)::text, max(id)::text, "
    "to_char(min(starts_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
    "to_char(min(ends_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM ins HAVING count(*) > "
    "0";

long ctl_maintenance_add(ctl_db_t *db, const ctl_maintenance_window_t *w, FILE *out, err_t *err)
{
    char from[24], until[24], times[24], every[24];
    snprintf(from, sizeof from, "%" PRId64, w->from);
    snprintf(until, sizeof until, "%" PRId64, w->until);
    snprintf(times, sizeof times, "%u", w->times ? w->times : 1);
    snprintf(every, sizeof every, "%" PRIu64, w->every_s);
    const char *params[] = {w->agent, w->target, w->group, from, until, w->reason, times, every};
    ctl_rows_t *rows = ctl_db_query(db, add_sql, 8, params, err);
    if (!rows)
        return -1;
    long id = -1;
    if (ctl_rows_count(rows) == 0) {
        if (w->group)
            err_set(err, "no target has group '%s'", w->group);
        else
            err_set(err, "no %s named '%s'", w->agent ? "agent" : "target",
                    w->agent ? w->agent : w->target);
    } else {
        id = atol(ctl_rows_get(rows, 0, 0));
        const char *kind = w->agent ? "agent" : w->target ? "target" : "group";
        const char *name = w->agent ? w->agent : w->target ? w->target : w->group;
        const char *last = ctl_rows_get(rows, 0, 1);
        int rc = w->times > 1
                     ? fprintf(out,
                               "added maintenance windows %ld to %s: %s %s from %s until %s UTC, "
                               "then every %" PRIu64 "s (%u in all)\n",
                               id, last, kind, name, ctl_rows_get(rows, 0, 2),
                               ctl_rows_get(rows, 0, 3), w->every_s, w->times)
                     : fprintf(out, "added maintenance window %ld: %s %s from %s until %s UTC\n",
                               id, kind, name, ctl_rows_get(rows, 0, 2), ctl_rows_get(rows, 0, 3));
        if (rc < 0) {
            err_set(err, "window %ld added, but the report could not be written: %s", id,
                    strerror(errno));
            id = -1;
        }
    }
    ctl_rows_destroy(&rows);
    return id;
}

static const char list_sql[] =
    "SELECT id::text, scope, subject, "
    "to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), "
    "to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), "
    "CASE WHEN active THEN 'yes' WHEN starts_at > now() THEN 'future' ELSE 'ended' END, reason "
    "FROM parallax.maintenance_windows WHERE $1::boolean OR ends_at > now() "
    "ORDER BY starts_at, id";

static const char list_json_sql[] =
    "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'scope', scope, 'subject', subject, "
    "'starts_at', starts_at, 'ends_at', ends_at, 'active', active, 'reason', reason) "
    "ORDER BY starts_at, id), '[]')::text "
    "FROM parallax.maintenance_windows WHERE $1::boolean OR ends_at > now()";

int ctl_maintenance_list(ctl_db_t *db, int all, int json, FILE *out, err_t *err)
{
    const char *params[] = {all ? "true" : "false"};
    int rc = -1;
    if (json) {
        char *doc = ctl_db_query_text(db, list_json_sql, 1, params, err);
        if (!doc)
            return -1;
        rc = fprintf(out, "%s\n", doc) < 0 ? -1 : 0;
        free(doc);
    } else {
        ctl_rows_t *rows = ctl_db_query(db, list_sql, 1, params, err);
        if (!rows)
            return -1;
        static const char *const headers[] = {"ID",        "SCOPE",  "SUBJECT", "FROM_UTC",
                                              "UNTIL_UTC", "ACTIVE", "REASON"};
        rc = ctl_table_print_rows(rows, 7, headers, out);
        ctl_rows_destroy(&rows);
    }
    if (rc < 0)
        err_set(err, "cannot write: %s", errno ? strerror(errno) : "out of memory");
    return rc;
}

int ctl_maintenance_remove(ctl_db_t *db, uint64_t id, FILE *out, err_t *err)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, id);
    const char *params[] = {text};
    long n =
        ctl_db_exec(db, "DELETE FROM parallax.maintenance WHERE id = $1::bigint", 1, params, err);
    if (n < 0)
        return -1;
    if (n == 0) {
        err_set(err, "no maintenance window with id %s", text);
        return -1;
    }
    if (fprintf(out, "removed maintenance window %s (the bins it covered are judged again)\n",
                text) < 0) {
        err_set(err, "window removed, but the report could not be written: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static const char active_sql[] =
    "SELECT id::text, scope, subject, "
    "to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), "
    "to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), reason "
    "FROM parallax.maintenance_windows WHERE active ORDER BY scope, subject, id";

int ctl_maintenance_status(ctl_db_t *db, FILE *out, err_t *err)
{
    ctl_rows_t *rows = ctl_db_query(db, active_sql, 0, NULL, err);
    if (!rows)
        return -1;
    int rc = 0;
    if (ctl_rows_count(rows) > 0) {
        static const char *const headers[] = {"ID",       "SCOPE",     "SUBJECT",
                                              "FROM_UTC", "UNTIL_UTC", "REASON"};
        rc = fprintf(out, "\nin maintenance now (vantages left out of verdicts; targets and "
                          "groups flagged, not notified):\n") < 0
                 ? -1
                 : ctl_table_print_rows(rows, 6, headers, out);
        if (rc < 0)
            err_set(err, "cannot write the status: %s", errno ? strerror(errno) : "out of memory");
    }
    ctl_rows_destroy(&rows);
    return rc;
}

char *ctl_maintenance_active_json(ctl_db_t *db, err_t *err)
{
    return ctl_db_query_text(
        db,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'scope', scope, 'subject', "
        "subject, 'starts_at', starts_at, 'ends_at', ends_at, 'reason', reason) "
        "ORDER BY scope, subject, id), '[]')::text "
        "FROM parallax.maintenance_windows WHERE active",
        0, NULL, err);
}

static const char explain_sql[] =
    "SELECT w.id::text, w.scope, w.subject, "
    "to_char(w.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
    "to_char(w.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), w.reason, "
    "CASE WHEN w.agent_id IS NULL THEN 'flagged' WHEN e.scope = 'vantage' THEN 'own' "
    "ELSE 'left_out' END "
    "FROM parallax.outage_events e, parallax.maintenance_windows w "
    "WHERE e.id = $1::bigint AND " CTL_MAINTENANCE_OVERLAPS " ORDER BY w.starts_at, w.id";

int ctl_maintenance_explain(ctl_db_t *db, const char *outage_id, FILE *out, err_t *err)
{
    const char *params[] = {outage_id};
    ctl_rows_t *rows = ctl_db_query(db, explain_sql, 1, params, err);
    if (!rows)
        return -1;
    int rc = 0;
    if (ctl_rows_count(rows) > 0 && fprintf(out, "\nmaintenance windows during the outage:\n") < 0)
        rc = -1;
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++) {
        const char *reason = ctl_rows_get(rows, r, 5);
        const char *kind = ctl_rows_get(rows, r, 6);
        const char *meant = strcmp(kind, "own") == 0
                                ? "its bins in the window are \"maintenance\", neither bad nor good"
                            : strcmp(kind, "left_out") == 0
                                ? "the vantage was left out of the verdicts meanwhile"
                                : "its bins in the window are flagged maintenance; not notified";
        if (fprintf(out, "  window %s on %s %s, %s until %s UTC%s%s%s: %s\n",
                    ctl_rows_get(rows, r, 0), ctl_rows_get(rows, r, 1), ctl_rows_get(rows, r, 2),
                    ctl_rows_get(rows, r, 3), ctl_rows_get(rows, r, 4), reason ? " (" : "",
                    reason ? reason : "", reason ? ")" : "", meant) < 0)
            rc = -1;
    }
    if (rc < 0)
        err_set(err, "cannot write: %s", strerror(errno));
    ctl_rows_destroy(&rows);
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_maintenance[] =
    "usage: " CTL_PROG " [--db CONNINFO] maintenance add|list|remove ...\n"
    "\n"
    "Maintenance windows: a vantage (agent) in a window is left out of the target verdicts and\n"
    "gets no vantage outage; a target or group in a window is still judged and recorded, its\n"
    "bins and outages flagged \"maintenance\" (and not notified). Adding or removing a window\n"
    "judges the bins it covers again.\n"
    "  maintenance add --agent A | --target T | --group G --from TIME (--until TIME | --for D)\n"
    "                  [--reason TEXT] [--every D --times N]\n"
    "  maintenance list [--all] [--json]\n"
    "  maintenance remove ID\n"
    "SQL: SELECT * FROM parallax.maintenance_windows;\n";

static const char usage_maintenance_add[] =
    "usage: " CTL_PROG " [--db CONNINFO] maintenance add --agent A | --target T | --group G\n"
    "           [--from TIME] --until TIME | --for DURATION [--reason TEXT]\n"
    "           [--every DURATION --times N]\n"
    "\n"
    "Adds a maintenance window on one agent (its vantage), one target, or one group (every\n"
    "target whose group it is, and the group's own verdicts). Bins it covers that were merged\n"
    "already are judged again.\n"
    "  --agent A | --target T | --group G   what the window covers (exactly one)\n"
    "  --from TIME      its start (default: now)\n"
    "  --until TIME     its end (exclusive), after --from\n"
    "  --for DURATION   or its length (30m, 2h, 7d)\n"
    "  --reason TEXT    why, shown by list, status and explain (one line, at most 200 bytes)\n"
    "  --every DURATION a recurring window: the same window again every DURATION (longer than\n"
    "                   the window; 1w for a weekly slot), with\n"
    "  --times N        how many windows in all (1 to 1000), each a row of its own\n"
    "TIME is UTC: 2031-03-03 14:00, 2031-03-03T14:00:00Z, 2031-03-03 (midnight), now, +2h.\n";

static const char usage_maintenance_list[] =
    "usage: " CTL_PROG " [--db CONNINFO] maintenance list [--all] [--json]\n"
    "\n"
    "Lists the maintenance windows in force or still to come: id, scope (vantage, target or\n"
    "group), subject, start and end (UTC), whether active now, reason.\n"
    "  --all    the ended ones too\n"
    "  --json   a JSON array of {id, scope, subject, starts_at, ends_at, active, reason}\n"
    "SQL: SELECT * FROM parallax.maintenance_windows WHERE ends_at > now();\n";

static const char usage_maintenance_remove[] =
    "usage: " CTL_PROG " [--db CONNINFO] maintenance remove ID\n"
    "\n"
    "Removes maintenance window ID (see 'maintenance list'); the bins it covered that were\n"
    "merged already are judged again without it.\n";

static int cmd_maintenance_add(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_maintenance_window_t w;
    if (ctl_maintenance_parse_add(argc, argv, (int64_t)time(NULL), &w, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? (ctl_maintenance_add(db, &w, stdout, err) > 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL)
              : CTL_EXIT_FAIL;
}

static int cmd_maintenance_list(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{"all", 0, 0, 0}, {"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return CTL_EXIT_USAGE;
    int all = ctl_args_count(args, "all") > 0;
    int json = ctl_args_count(args, "json") > 0;
    ctl_args_destroy(&args);
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_maintenance_list(db, all, json, stdout, err)) : CTL_EXIT_FAIL;
}

static int cmd_maintenance_remove(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return CTL_EXIT_USAGE;
    const char *word = ctl_args_pos(args, 0);
    uint64_t id = 0;
    int rc = 0;
    if (!word) {
        err_set(err, "missing window ID (see 'maintenance list')");
        rc = -1;
    } else if (ctl_parse_uint("window ID", word, 1, INT32_MAX, &id, NULL) < 0) {
        err_set(err, "bad window ID '%s': expected a number such as 3 (see 'maintenance list')",
                word);
        rc = -1;
    }
    ctl_args_destroy(&args);
    if (rc < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_maintenance_remove(db, id, stdout, err)) : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_maintenance_commands[] = {
    {"maintenance", NULL, usage_maintenance, NULL},
    {"maintenance", "add", usage_maintenance_add, cmd_maintenance_add},
    {"maintenance", "list", usage_maintenance_list, cmd_maintenance_list},
    {"maintenance", "remove", usage_maintenance_remove, cmd_maintenance_remove},
};
const size_t ctl_maintenance_command_count =
    sizeof ctl_maintenance_commands / sizeof ctl_maintenance_commands[0];
