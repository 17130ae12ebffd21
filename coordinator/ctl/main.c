/* parallaxctl: the admin CLI. Dispatches `parallaxctl [--db CONNINFO] COMMAND ...` (a command
 * alone, like status, or a group and its command, like agent add) to the ctl modules, prints
 * their errors (one line each) and turns outcomes into exit codes: 0 success, 1 runtime
 * failure (database, file, no such name), 2 usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_agent.h"
#include "ctl_db.h"
#include "ctl_embedded.h"
#include "ctl_migrate.h"
#include "ctl_outage.h"
#include "ctl_settings.h"
#include "ctl_status.h"
#include "ctl_target.h"
#include "ctl_timeline.h"
#include "ctl_verify.h"
#include "err.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define PROG "parallaxctl"

static const char usage_main[] =
    "usage: " PROG " [--db CONNINFO] COMMAND [ARGS...]\n"
    "\n"
    "Administers Parallax and reads its verdicts, all through SQL on its PostgreSQL database.\n"
    "\n"
    "reading:\n"
    "  status                  agents online/offline/impaired, spool drops, skipped runs,\n"
    "                          clock offsets, outages going on\n"
    "  outages                 outages, filtered by age, scope and whether still open\n"
    "  explain ID              one outage's evidence in words\n"
    "  timeline --group G | --target T\n"
    "                          a heatmap of states per bin: targets x vantages\n"
    "administering:\n"
    "  db migrate              create or upgrade the parallax schema\n"
    "  agent add NAME ...      register an agent and write its config file (keys, 0600)\n"
    "  agent list | show NAME  list agents, or everything about one\n"
    "  agent enable|disable NAME\n"
    "                          allow or refuse an agent's connections\n"
    "  agent remove NAME       delete an agent (its results are kept)\n"
    "  agent rotate-key NAME   give an agent a new key pair and config file\n"
    "  target add NAME ...     add a target and its probes\n"
    "  target list | show NAME list targets, or everything about one\n"
    "  target remove NAME      delete a target and its probes (results are kept)\n"
    "  target import FILE      add targets from a CSV file, all or nothing\n"
    "  settings [--describe]   the merge's settings: value, default, what each does\n"
    "  settings set NAME=VALUE... [--remerge-since DURATION]\n"
    "                          change settings, all or none; optionally re-merge history\n"
    "  verify [--since D | --all]\n"
    "                          merge the span again from scratch and list what differs\n"
    "\n"
    "options:\n"
    "  --db CONNINFO  PostgreSQL connection string or URI (default: libpq's PG* environment\n"
    "                 variables and defaults)\n"
    "  --version      print the version\n"
    "  -h, --help     print help; after a command, help for that command\n"
    "Every reading command takes --json. Times are UTC. Durations are written 30m, 2h, 7d.\n"
    "\n"
    "exit status: 0 success; 1 failure (database, file, no such agent/target/outage);\n"
    "2 bad usage (unknown command or option, bad value)\n";

static const char usage_status[] =
    "usage: " PROG " [--db CONNINFO] status [--window DURATION] [--json]\n"
    "\n"
    "Shows every agent: online (heard from, by a message or a heartbeat, within the\n"
    "window), impaired (online, but its latest vantage bin says its control targets fail or\n"
    "it reports local errors), offline, refused (it speaks another protocol version than the\n"
    "coordinator, which uses nothing it sends: upgrade agent and coordinator together; a line\n"
    "after the table names both versions) or disabled; when it was last seen, its latest\n"
    "vantage health, how many results its spool dropped (DROPS) and how many runs it could\n"
    "not start on time (SKIPPED: the run before still going, or the agent late), both from\n"
    "parallax.gaps, and its clock offset against the coordinator's. Then the outages going\n"
    "on now.\n"
    "  --window DURATION  the session window (default 60s, the coordinator's default\n"
    "                     session timeout)\n"
    "  --json             one JSON object {window_s, agents, outages}\n"
    "SQL: SELECT * FROM parallax.agent_status(interval '60 s');\n";

static const char usage_outages[] =
    "usage: " PROG " [--db CONNINFO] outages [--since DURATION] [--scope S] [--open] [--json]\n"
    "\n"
    "Lists outages, oldest first: id, scope, subject, worst stage, start, end (or ongoing),\n"
    "how long it lasted, the dominant failure and the vantages that saw it.\n"
    "  --since DURATION  only outages going on at some time in the last DURATION (30m, 2h, 7d)\n"
    "  --scope S         target, group or vantage\n"
    "  --open            only outages still going on\n"
    "  --json            a JSON array of objects, each with its full detail\n"
    "SQL: SELECT * FROM parallax.outages;\n";

static const char usage_explain[] =
    "usage: " PROG " [--db CONNINFO] explain ID [--json]\n"
    "\n"
    "Explains outage ID (see 'outages') in words: what the verdict means, when each stage\n"
    "was first reached, the dominant failure, which vantages saw failures and which did\n"
    "not, bin by bin per vantage, and for a group which of its targets went down and when.\n"
    "  --json  the outage and its bins with their evidence, as one JSON object\n";

static const char usage_timeline[] =
    "usage: " PROG " [--db CONNINFO] timeline --group G | --target T [options]\n"
    "\n"
    "Draws a heatmap: one row for the group's stage, one per target for its merged state,\n"
    "and under each target one row per vantage for what it saw; one column per bin (or\n"
    "per several bins on long spans, showing the worst). Every cell is a letter (see the\n"
    "legend it prints), coloured when the output is a terminal.\n"
    "  --group G        the targets of group G\n"
    "  --target T       target T alone\n"
    "  --since DURATION how far back (default 1h)\n"
    "  --until TIME     end of the picture (default now), e.g. 2031-03-03T00:21:00Z\n"
    "  --columns N      at most N columns, 10..1000 (default 60)\n"
    "  --color          colour even when the output is not a terminal\n"
    "  --no-color       never colour (NO_COLOR in the environment does the same)\n"
    "  --json           the grid as JSON: rows with a state (or null) per column\n"
    "SQL: parallax.group_bins, parallax.target_bins, parallax.vantage_target_bins(from, to)\n";

static const char usage_verify[] =
    "usage: " PROG " [--db CONNINFO] verify [--since DURATION | --all] [--until TIME] [--json]\n"
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

static const char usage_db[] = "usage: " PROG " db migrate\n";

static const char usage_db_migrate[] =
    "usage: " PROG " [--db CONNINFO] db migrate\n"
    "\n"
    "Creates the parallax schema if needed and applies every built-in migration that the\n"
    "database has not recorded in parallax.schema_migrations, each in its own transaction;\n"
    "then installs every built-in definition (functions, views, triggers) again, in one\n"
    "transaction. Safe to run again and from several places at once. Refuses a database a\n"
    "newer parallaxctl has migrated, and one made by a development version before stable 1.\n";

static const char usage_agent[] =
    "usage: " PROG " agent add|list|show|enable|disable|remove|rotate-key ...\n"
    "  (" PROG " agent COMMAND --help for details)\n";

static const char usage_agent_add[] =
    "usage: " PROG " [--db CONNINFO] agent add NAME --country CC [options]\n"
    "\n"
    "Registers agent NAME with a new CURVE key pair and writes its config file (mode 0600,\n"
    "holding the agent's secret key): everything the agent's VPS needs. Both happen or\n"
    "neither does. Prints the one command to run on the VPS.\n"
    "\n"
    "  NAME                     letters, digits, '.', '_', '-' (at most 63)\n"
    "  --country CC             two-letter country code of the vantage\n"
    "  --asn N                  autonomous system number of the vantage's network\n"
    "  --endpoint tcp://HOST:PORT\n"
    "                           where the agent connects (default: the coordinator's)\n"
    "  --coordinator-key KEY    the coordinator's public key (default: the registered one)\n"
    "  --state-dir DIR          the agent's state directory (default " CTL_AGENT_STATE_DIR ")\n"
    "  -o, --output FILE        config file to write (default ./NAME.conf)\n"
    "  --force                  overwrite FILE if it exists\n";

static const char usage_agent_list[] =
    "usage: " PROG " [--db CONNINFO] agent list [--json]\n"
    "\n"
    "Lists agents: name, country, ASN, enabled, state (online, impaired, offline, refused,\n"
    "disabled; see 'status'), last seen, spool drops, skipped runs, clock offset (ms, agent\n"
    "minus coordinator) and public key; then, for each refused agent, why: the protocol\n"
    "version it speaks and the coordinator's.\n"
    "  --json  a JSON array of objects instead of a table (refused: why, or null)\n";

static const char usage_agent_show[] =
    "usage: " PROG " [--db CONNINFO] agent show NAME [--json]\n"
    "\n"
    "Shows everything about agent NAME: status, why the coordinator refuses it if it does\n"
    "(another protocol version: both are named) and when it last did, latest vantage health,\n"
    "spool drops, skipped runs, clock offset, version, key and its vantage outages going on.\n"
    "  --json  one JSON object\n";

static const char usage_agent_enable[] = "usage: " PROG " [--db CONNINFO] agent enable NAME\n"
                                         "\n"
                                         "Allows agent NAME to connect to the coordinator again.\n";

static const char usage_agent_disable[] =
    "usage: " PROG " [--db CONNINFO] agent disable NAME\n"
    "\n"
    "Stops the coordinator from accepting agent NAME; its key and results are kept.\n";

static const char usage_agent_remove[] =
    "usage: " PROG " [--db CONNINFO] agent remove NAME\n"
    "\n"
    "Deletes agent NAME with its heartbeats, spool gaps and batch records; the coordinator\n"
    "stops accepting its key at once. Its results are kept (they are evidence).\n";

static const char usage_agent_rotate[] =
    "usage: " PROG " [--db CONNINFO] agent rotate-key NAME [options]\n"
    "\n"
    "Gives agent NAME a new CURVE key pair and writes a new config file (mode 0600); the\n"
    "old key stops working as soon as this commits. Both happen or neither does.\n"
    "  --endpoint, --coordinator-key, --state-dir, -o FILE, --force   as for 'agent add'\n";

static const char usage_target[] = "usage: " PROG " target add|list|show|remove|import ...\n"
                                   "  (" PROG " target COMMAND --help for details)\n";

static const char usage_target_add[] =
    "usage: " PROG " [--db CONNINFO] target add NAME --address IP --probe SPEC [options]\n"
    "\n"
    "Adds target NAME and one probe per --probe, all or nothing.\n"
    "\n"
    "  NAME              letters, digits, '.', '_', '-' (at most 63)\n"
    "  --address IP      the target's IPv4 or IPv6 address\n"
    "  --probe SPEC      icmp, tcp:PORT, http:URL, https:URL, dns:QNAME[:QTYPE],\n"
    "                    smtp[:PORT] or trace; repeat for more probes\n"
    "  --group G         a group to roll the target up into (a country, an AS, ...)\n"
    "  --role ROLE       web, mail, dns, router or host (default host)\n"
    "  --control         a control target: a stable host that measures the vantages\n"
    "  --interval S      seconds between probe runs, 1..86400 (default 60)\n"
    "  --timeout MS      probe timeout in milliseconds, shorter than the interval\n"
    "                    (default min(5000, interval x 500): 60 s -> 5000, 5 s -> 2500)\n"
    "\n"
    "A run still going when the next is due makes the agent skip the next one, so a\n"
    "timeout that is not shorter than the interval is refused.\n";

static const char usage_target_list[] =
    "usage: " PROG " [--db CONNINFO] target list [--json]\n"
    "\n"
    "Lists targets with their address, group, role, control flag and probes.\n"
    "  --json  a JSON array of objects instead of a table\n";

static const char usage_target_show[] =
    "usage: " PROG " [--db CONNINFO] target show NAME [--json]\n"
    "\n"
    "Shows target NAME: address, group, role, probes, its latest merged state and its\n"
    "outages going on.\n"
    "  --json  one JSON object\n";

static const char usage_target_remove[] =
    "usage: " PROG " [--db CONNINFO] target remove NAME\n"
    "\n"
    "Deletes target NAME and its probes; agents stop probing it with their next schedule.\n"
    "Its results are kept.\n";

static const char usage_target_import[] =
    "usage: " PROG " [--db CONNINFO] target import FILE\n"
    "\n"
    "Adds the targets in CSV file FILE (- for standard input) in one transaction: all of\n"
    "them or, if any line is wrong, none; the error names the line. The first line names\n"
    "the columns, in any order: name, address, probes (required), group, role, control\n"
    "(yes/no), interval, timeout; an empty field takes target add's default. A timeout\n"
    "must be shorter than the interval; without one it is min(5000, interval x 500) ms.\n"
    "Probes are separated by spaces. Blank lines and lines starting with # are skipped.\n"
    "Fields may be quoted (\"a,b\"; \"\" for a quote). Example:\n"
    "  name,address,group,role,probes,interval\n"
    "  gov-web,192.0.2.10,XX,web,icmp tcp:443 https:https://www.example/,60\n";

static const char usage_settings[] =
    "usage: " PROG " [--db CONNINFO] settings [--describe | --json]\n"
    "       " PROG " [--db CONNINFO] settings set NAME=VALUE... [--remerge-since DURATION]\n"
    "\n"
    "Shows the merge's settings (thresholds, hysteresis, bin widths): each one's value and\n"
    "default, marked \"changed\" where they differ.\n"
    "  --describe  what each setting does, under its value\n"
    "  --json      one JSON array of {name, type, value, default, description}\n"
    "SQL: SELECT * FROM parallax.merge_setting_list;\n";

static const char usage_settings_set[] =
    "usage: " PROG " [--db CONNINFO] settings set NAME=VALUE... [--remerge-since DURATION]\n"
    "\n"
    "Changes merge settings in one transaction: all of them or, if a name is unknown or a value\n"
    "is of the wrong type or out of range, none (the error says which and why). Prints each\n"
    "as NAME: OLD -> NEW. New values apply from the next merge; bins merged before keep their\n"
    "verdicts unless --remerge-since queues them to be merged again. Example:\n"
    "  " PROG " settings set open_after=3 close_after=5 --remerge-since 7d\n"
    "  --remerge-since DURATION  also re-judge the bins of the last DURATION (at most 366d)\n"
    "SQL: SELECT parallax.merge_setting_set('open_after', '3');\n"
    "     SELECT parallax.merge_mark(now() - interval '7 days', now());\n";

/* The database a command works on, connected when the command first asks for it (after its
 * arguments parsed: a usage error never waits on the network) and closed by main(). */
typedef struct session {
    const char *conninfo; /* borrowed from argv; NULL: libpq's defaults */
    ctl_db_t *db;         /* owned; NULL until session_db() */
} session_t;

/* The connection, made on first use. Returns NULL (err set) if it cannot be made. */
static ctl_db_t *session_db(session_t *s, err_t *err)
{
    if (!s->db)
        s->db = ctl_db_connect(s->conninfo, err);
    return s->db;
}

/* EXIT_OK if work returned 0, else EXIT_FAIL. */
static int outcome(int work_rc)
{
    return work_rc < 0 ? EXIT_FAIL : EXIT_OK;
}

/* Runs one command: parses args (a failure is a usage error), then does the work. */
typedef int (*command_fn)(session_t *s, int argc, char **argv, err_t *err);

typedef struct command {
    const char *group;
    const char *name;
    const char *usage;
    command_fn run;
} command_t;

static int cmd_db_migrate(session_t *s, int argc, char **argv, err_t *err)
{
    if (ctl_migrate_parse(argc, argv, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    if (!db)
        return EXIT_FAIL;
    size_t migrations_n, definitions_n;
    const ctl_embedded_t *migrations = ctl_embedded_migrations(&migrations_n);
    const ctl_embedded_t *definitions = ctl_embedded_definitions(&definitions_n);
    if (ctl_migrate_run(db, migrations, migrations_n, stdout, err) < 0)
        return outcome(-1);
    return outcome(ctl_migrate_definitions(db, definitions, definitions_n,
                                           ctl_embedded_definitions_checksum(), PX_VERSION, stdout,
                                           err));
}

static int cmd_agent_add(session_t *s, int argc, char **argv, err_t *err)
{
    ctl_agent_add_opts_t opts;
    if (ctl_agent_add_parse(argc, argv, &opts, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_agent_add(db, &opts, stdout, err)) : EXIT_FAIL;
}

static int cmd_agent_list(session_t *s, int argc, char **argv, err_t *err)
{
    int json;
    if (ctl_agent_list_parse(argc, argv, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_agent_list(db, json, stdout, err)) : EXIT_FAIL;
}

static int set_enabled(session_t *s, int argc, char **argv, int enabled, err_t *err)
{
    const char *name;
    if (ctl_agent_name_parse(argc, argv, &name, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    int rc = db ? outcome(ctl_agent_set_enabled(db, name, enabled, err)) : EXIT_FAIL;
    if (rc == EXIT_OK)
        printf("agent %s %s\n", name, enabled ? "enabled" : "disabled");
    return rc;
}

static int cmd_agent_enable(session_t *s, int argc, char **argv, err_t *err)
{
    return set_enabled(s, argc, argv, 1, err);
}

static int cmd_agent_disable(session_t *s, int argc, char **argv, err_t *err)
{
    return set_enabled(s, argc, argv, 0, err);
}

static int cmd_target_add(session_t *s, int argc, char **argv, err_t *err)
{
    ctl_target_add_opts_t opts;
    if (ctl_target_add_parse(argc, argv, &opts, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    int rc = db ? outcome(ctl_target_add(db, &opts, stdout, err)) : EXIT_FAIL;
    ctl_target_add_opts_clear(&opts);
    return rc;
}

static int cmd_target_list(session_t *s, int argc, char **argv, err_t *err)
{
    int json;
    if (ctl_target_list_parse(argc, argv, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_target_list(db, json, stdout, err)) : EXIT_FAIL;
}

static int cmd_status(session_t *s, int argc, char **argv, err_t *err)
{
    uint64_t window;
    int json;
    if (ctl_status_parse(argc, argv, &window, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_status_show(db, window, json, stdout, err)) : EXIT_FAIL;
}

static int cmd_outages(session_t *s, int argc, char **argv, err_t *err)
{
    ctl_outage_filter_t filter;
    int json;
    if (ctl_outage_list_parse(argc, argv, &filter, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_outage_list(db, &filter, json, stdout, err)) : EXIT_FAIL;
}

static int cmd_explain(session_t *s, int argc, char **argv, err_t *err)
{
    uint64_t id;
    int json;
    if (ctl_outage_explain_parse(argc, argv, &id, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_outage_explain(db, id, json, stdout, err)) : EXIT_FAIL;
}

static int cmd_timeline(session_t *s, int argc, char **argv, err_t *err)
{
    ctl_timeline_opts_t opts;
    if (ctl_timeline_parse(argc, argv, &opts, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_timeline_show(db, &opts, stdout, err)) : EXIT_FAIL;
}

static int cmd_verify(session_t *s, int argc, char **argv, err_t *err)
{
    ctl_verify_opts_t opts;
    if (ctl_verify_parse(argc, argv, &opts, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    if (!db)
        return EXIT_FAIL;
    int rc = ctl_verify_run(db, &opts, stdout, err);
    if (rc == 1)
        err_set(err, "the stored verdicts differ from a merge from scratch");
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

static int cmd_agent_show(session_t *s, int argc, char **argv, err_t *err)
{
    const char *name;
    int json;
    if (ctl_agent_show_parse(argc, argv, &name, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_agent_show(db, name, json, stdout, err)) : EXIT_FAIL;
}

static int cmd_agent_remove(session_t *s, int argc, char **argv, err_t *err)
{
    const char *name;
    if (ctl_agent_name_parse(argc, argv, &name, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_agent_remove(db, name, stdout, err)) : EXIT_FAIL;
}

static int cmd_agent_rotate(session_t *s, int argc, char **argv, err_t *err)
{
    ctl_agent_add_opts_t opts;
    if (ctl_agent_rotate_parse(argc, argv, &opts, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_agent_add(db, &opts, stdout, err)) : EXIT_FAIL;
}

static int cmd_target_show(session_t *s, int argc, char **argv, err_t *err)
{
    const char *name;
    int json;
    if (ctl_target_name_parse(argc, argv, &name, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_target_show(db, name, json, stdout, err)) : EXIT_FAIL;
}

static int cmd_target_remove(session_t *s, int argc, char **argv, err_t *err)
{
    const char *name;
    if (ctl_target_name_parse(argc, argv, &name, NULL, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_target_remove(db, name, stdout, err)) : EXIT_FAIL;
}

static int cmd_target_import(session_t *s, int argc, char **argv, err_t *err)
{
    const char *path;
    if (ctl_target_import_parse(argc, argv, &path, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_target_import(db, path, stdout, err)) : EXIT_FAIL;
}

static int cmd_settings(session_t *s, int argc, char **argv, err_t *err)
{
    int json, describe;
    if (ctl_settings_show_parse(argc, argv, &json, &describe, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_settings_show(db, json, describe, stdout, err)) : EXIT_FAIL;
}

static int cmd_settings_set(session_t *s, int argc, char **argv, err_t *err)
{
    ctl_settings_change_t change;
    if (ctl_settings_set_parse(argc, argv, &change, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = session_db(s, err);
    return db ? outcome(ctl_settings_set(db, &change, stdout, err)) : EXIT_FAIL;
}

/* A group with run set is a command by itself (status, explain ID, ...); otherwise its
 * entries with a name are its subcommands. */
static const command_t commands[] = {
    {"status", NULL, usage_status, cmd_status},
    {"outages", NULL, usage_outages, cmd_outages},
    {"explain", NULL, usage_explain, cmd_explain},
    {"timeline", NULL, usage_timeline, cmd_timeline},
    {"verify", NULL, usage_verify, cmd_verify},
    {"db", NULL, usage_db, NULL},
    {"db", "migrate", usage_db_migrate, cmd_db_migrate},
    {"agent", NULL, usage_agent, NULL},
    {"agent", "add", usage_agent_add, cmd_agent_add},
    {"agent", "list", usage_agent_list, cmd_agent_list},
    {"agent", "show", usage_agent_show, cmd_agent_show},
    {"agent", "enable", usage_agent_enable, cmd_agent_enable},
    {"agent", "disable", usage_agent_disable, cmd_agent_disable},
    {"agent", "remove", usage_agent_remove, cmd_agent_remove},
    {"agent", "rotate-key", usage_agent_rotate, cmd_agent_rotate},
    {"target", NULL, usage_target, NULL},
    {"target", "add", usage_target_add, cmd_target_add},
    {"target", "list", usage_target_list, cmd_target_list},
    {"target", "show", usage_target_show, cmd_target_show},
    {"target", "remove", usage_target_remove, cmd_target_remove},
    {"target", "import", usage_target_import, cmd_target_import},
    {"settings", NULL, usage_settings, cmd_settings},
    {"settings", "set", usage_settings_set, cmd_settings_set},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The entry for group and name (NULL name: the group itself), or NULL. */
static const command_t *find_command(const char *group, const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command_t *c = &commands[i];
        if (strcmp(c->group, group) == 0 &&
            (name ? c->name && strcmp(c->name, name) == 0 : c->name == NULL))
            return c;
    }
    return NULL;
}

/* 1 if --help or -h appears in argv before a "--". */
static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* Prints "parallaxctl: CONTEXT: MESSAGE" as exactly one line: control characters from
 * user input or the server are replaced so the message cannot span lines. */
static void print_error(const char *context, const char *msg)
{
    char line[ERR_MSG_MAX];
    snprintf(line, sizeof line, "%s", msg);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (context)
        fprintf(stderr, PROG ": %s: %s\n", context, line);
    else
        fprintf(stderr, PROG ": %s\n", line);
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL;
    int i = 1;
    /* Global options come before the command. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_main, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf(PROG " " PX_VERSION "\n");
            return EXIT_OK;
        } else if (strcmp(a, "--db") == 0 || strncmp(a, "--db=", 5) == 0) {
            if (conninfo) {
                print_error(NULL, "--db given more than once");
                return EXIT_USAGE;
            }
            if (a[4] == '=') {
                conninfo = a + 5;
            } else if (i + 1 < argc) {
                conninfo = argv[++i];
            } else {
                print_error(NULL, "option --db needs a value");
                return EXIT_USAGE;
            }
        } else {
            char msg[ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            print_error(NULL, msg);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        print_error(NULL, "no command given (try '" PROG " --help')");
        return EXIT_USAGE;
    }
    const char *group = argv[i++];
    const command_t *g = find_command(group, NULL);
    if (!g) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "unknown command '%s' (try '" PROG " --help')", group);
        print_error(NULL, msg);
        return EXIT_USAGE;
    }
    /* A subcommand if the next word names one (settings set); else the group itself if it
     * is a command (settings, explain ID). */
    const command_t *c = i < argc && argv[i][0] != '-' ? find_command(group, argv[i]) : NULL;
    if (c) {
        i++;
    } else if (g->run) {
        c = g;
    } else if (i < argc && argv[i][0] != '-') {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "unknown command '%s'", argv[i]);
        print_error(group, msg);
        return EXIT_USAGE;
    }
    if (wants_help(argc - i, argv + i)) {
        fputs(c ? c->usage : g->usage, stdout);
        return EXIT_OK;
    }
    if (!c) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s (try '" PROG " %s --help')",
                 i < argc ? "expected a command before options" : "missing command", group);
        print_error(group, msg);
        return EXIT_USAGE;
    }
    char context[64];
    snprintf(context, sizeof context, "%s%s%s", c->group, c->name ? " " : "",
             c->name ? c->name : "");
    err_t err = {{0}};
    err_clear(&err);
    session_t session = {.conninfo = conninfo, .db = NULL};
    int rc = c->run(&session, argc - i, argv + i, &err);
    ctl_db_destroy(&session.db);
    if (rc != EXIT_OK)
        print_error(context, err.msg[0] ? err.msg : "failed");
    return rc;
}
