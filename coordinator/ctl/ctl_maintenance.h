/* ctl_maintenance: `parallaxctl maintenance add|list|remove`: maintenance windows on an agent
 * (its vantage), a target or a group (parallax.maintenance, migration 009). Windows are read
 * by the merge (schema/definitions/35_maintenance.sql); adding or removing one re-judges the
 * bins it covers there, not here. */
#ifndef PX_CTL_MAINTENANCE_H
#define PX_CTL_MAINTENANCE_H

#include <stdint.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

/* Longest --reason, in bytes. */
#define CTL_MAINTENANCE_REASON_MAX 200
/* Most occurrences one `add --every` makes. */
#define CTL_MAINTENANCE_TIMES_MAX 1000

/* A window to add. Exactly one of agent, target and group is set; strings are borrowed from
 * argv. Times are Unix seconds, from < until. A recurring window is times windows, each
 * every_s after the one before (every_s longer than the window); a single one has times 1,
 * every_s 0. */
typedef struct ctl_maintenance_window {
    const char *agent;
    const char *target;
    const char *group;
    int64_t from;
    int64_t until;
    const char *reason; /* NULL: none */
    uint64_t every_s;
    unsigned times;
} ctl_maintenance_window_t;

/* A time as the commands take it, in UTC: "now", "now+DURATION" or "+DURATION" (from now),
 * "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" or "YYYY-MM-DDTHH:MM[:SS][Z]". now is the current
 * time (Unix seconds). Sets *out. Returns 0, or -1 with err reading "bad LABEL 'S': why". */
int ctl_maintenance_parse_time(const char *label, const char *s, int64_t now, int64_t *out,
                               err_t *err);

/* Parses the words after "maintenance add": --agent A | --target T | --group G, --from TIME
 * (default now), --until TIME or --for DURATION, --reason TEXT, and --every DURATION with
 * --times N for a recurring window. Returns 0, or -1 with err set (a usage error: a bad or
 * missing value, --until not after --from, --every not longer than the window). */
int ctl_maintenance_parse_add(int argc, char **argv, int64_t now, ctl_maintenance_window_t *w,
                              err_t *err);

/* Adds the window (every occurrence of a recurring one, in one statement) and writes "added
 * maintenance window ID ..." to out. Returns the first id (> 0), or -1 with err set ("no
 * agent named 'x'", "no target has group 'G'", the database's error). */
long ctl_maintenance_add(ctl_db_t *db, const ctl_maintenance_window_t *w, FILE *out, err_t *err);

/* Writes the windows that have not ended (all of them if all) to out: a table, or a JSON
 * array when json is set. Returns 0 or -1 (err set). */
int ctl_maintenance_list(ctl_db_t *db, int all, int json, FILE *out, err_t *err);

/* Removes window id and says so on out. Returns 0, or -1 with err set ("no maintenance
 * window with id N"). */
int ctl_maintenance_remove(ctl_db_t *db, uint64_t id, FILE *out, err_t *err);

/* For `status`: writes the windows in force now under a heading, or nothing when there are
 * none. Returns 0 or -1 (err set). */
int ctl_maintenance_status(ctl_db_t *db, FILE *out, err_t *err);

/* For `status --json`: the windows in force now as a JSON array. Returns it, or NULL (err
 * set). Caller owns the result (free()). */
char *ctl_maintenance_active_json(ctl_db_t *db, err_t *err);

/* For `explain`: writes the windows that overlapped outage id (given as text) and why they
 * matter to it: on its subject (or a target's group), so it is flagged and not notified; on
 * a vantage, left out of the verdicts meanwhile. Nothing when there are none. Returns 0 or -1
 * (err set). */
int ctl_maintenance_explain(ctl_db_t *db, const char *outage_id, FILE *out, err_t *err);

/* The windows that overlapped an outage, as SQL over parallax.maintenance_windows w and the
 * outage's event row e: a condition for a WHERE clause, shared by the text and JSON
 * explanations. */
#define CTL_MAINTENANCE_OVERLAPS                                                                   \
    "w.starts_at < coalesce(e.ended_at, 'infinity') AND w.ends_at > e.started_at AND ("            \
    "(e.scope = 'vantage' AND w.agent_id = e.subject_id) OR "                                      \
    "(e.scope = 'target' AND (w.target_id = e.subject_id OR w.group_name = "                       \
    "(SELECT t.group_name FROM parallax.targets t WHERE t.id = e.subject_id))) OR "                \
    "(e.scope = 'group' AND w.group_name = e.subject) OR "                                         \
    "(e.scope <> 'vantage' AND w.agent_id IS NOT NULL))"

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_maintenance_commands[];
extern const size_t ctl_maintenance_command_count;

#endif
