/* parallaxctl: the admin CLI. Dispatches `parallaxctl [--db CONNINFO] COMMAND ...` (a command
 * alone, like status, or a group and its command, like agent add) to the ctl modules, prints
 * their errors (one line each) and turns outcomes into exit codes: 0 success, 1 runtime
 * failure (database, file, no such name), 2 usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_agent.h"
#include "ctl_command.h"
#include "ctl_db.h"
#include "ctl_discover.h"
#include "ctl_group.h"
#include "ctl_maintenance.h"
#include "ctl_migrate.h"
#include "ctl_notify.h"
#include "ctl_outage.h"
#include "ctl_retention.h"
#include "ctl_routes.h"
#include "ctl_settings.h"
#include "ctl_status.h"
#include "ctl_target.h"
#include "ctl_timeline.h"
#include "ctl_verify.h"
#include "err.h"

#define EXIT_OK CTL_EXIT_OK
#define EXIT_USAGE CTL_EXIT_USAGE
#define PROG CTL_PROG

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
    "  discover --zone ZONE    a zone's servers (DNS) and border routers (traces) as CSV\n"
    "                          for target import\n"
    "  settings [--describe]   the merge's settings: value, default, what each does\n"
    "  settings set NAME=VALUE... [--remerge-since DURATION]\n"
    "                          change settings, all or none; optionally re-merge history\n"
    "  retention [--exact]     what is kept of each kind of data, for how long, its size\n"
    "  retention run           remove now what is past its keep_* setting\n"
    "  verify [--since D | --all]\n"
    "                          merge the span again from scratch and list what differs\n"
    "  maintenance add --agent A | --target T | --group G --from T --until T | --for D\n"
    "                          a maintenance window: no vantage outage, flagged verdicts\n"
    "  maintenance list | remove ID\n"
    "                          the windows in force or to come; remove one\n"
    "  notify add NAME --kind K --url URL ...\n"
    "                          a notification receiver (alertmanager, webhook, email)\n"
    "  notify list|remove|test|log|retry\n"
    "                          receivers and their deliveries; remove one; a test message\n"
    "                          through the sender; the deliveries and dead-letter; retry them\n"
    "  group set G --prefix P [--asn A] | --clear\n"
    "                          the prefixes a group is announced as (else derived)\n"
    "  group show|list [G]     a group's prefixes and what the route collectors see of them\n"
    "  routes import FILE...   MRT files of a route collector (BGP updates, RIB dumps)\n"
    "  routes follow FILE      the live feed: an MRT file as a collector appends to it\n"
    "  routes origins FILE     a prefix-to-AS file (CAIDA pfx2as style)\n"
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

/* Every module's commands, in the order --help lists them. */
typedef struct command_table {
    const ctl_command_t *commands;
    const size_t *count;
} command_table_t;

static const command_table_t tables[] = {
    {ctl_status_commands, &ctl_status_command_count},
    {ctl_outage_commands, &ctl_outage_command_count},
    {ctl_timeline_commands, &ctl_timeline_command_count},
    {ctl_verify_commands, &ctl_verify_command_count},
    {ctl_migrate_commands, &ctl_migrate_command_count},
    {ctl_agent_commands, &ctl_agent_command_count},
    {ctl_target_commands, &ctl_target_command_count},
    {ctl_discover_commands, &ctl_discover_command_count},
    {ctl_settings_commands, &ctl_settings_command_count},
    {ctl_retention_commands, &ctl_retention_command_count},
    {ctl_maintenance_commands, &ctl_maintenance_command_count},
    {ctl_notify_commands, &ctl_notify_command_count},
    {ctl_group_commands, &ctl_group_command_count},
    {ctl_routes_commands, &ctl_routes_command_count},
};

/* The entry for group and name (NULL name: the group itself), or NULL. */
static const ctl_command_t *find_command(const char *group, const char *name)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (size_t i = 0; i < *tables[t].count; i++) {
            const ctl_command_t *c = &tables[t].commands[i];
            if (strcmp(c->group, group) == 0 &&
                (name ? c->name && strcmp(c->name, name) == 0 : c->name == NULL))
                return c;
        }
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
    const ctl_command_t *g = find_command(group, NULL);
    if (!g) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "unknown command '%s' (try '" PROG " --help')", group);
        print_error(NULL, msg);
        return EXIT_USAGE;
    }
    /* A subcommand if the next word names one (settings set); else the group itself if it
     * is a command (settings, explain ID). */
    const ctl_command_t *c = i < argc && argv[i][0] != '-' ? find_command(group, argv[i]) : NULL;
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
    ctl_session_t session = {.conninfo = conninfo, .db = NULL};
    int rc = c->run(&session, argc - i, argv + i, &err);
    ctl_db_destroy(&session.db);
    if (rc != EXIT_OK)
        print_error(context, err.msg[0] ? err.msg : "failed");
    return rc;
}
