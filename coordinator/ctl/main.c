/* parallaxctl: the admin CLI. Dispatches `parallaxctl [--db CONNINFO] GROUP COMMAND ...` to
 * the ctl modules, prints their errors (one line each) and turns outcomes into exit codes:
 * 0 success, 1 runtime failure (database, file), 2 usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_agent.h"
#include "ctl_db.h"
#include "ctl_embedded.h"
#include "ctl_migrate.h"
#include "ctl_target.h"
#include "err.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define PROG "parallaxctl"

static const char usage_main[] =
    "usage: " PROG " [--db CONNINFO] COMMAND [ARGS...]\n"
    "\n"
    "Administers Parallax: the database schema, agents and targets.\n"
    "\n"
    "commands:\n"
    "  db migrate           create or upgrade the parallax schema\n"
    "  agent add NAME ...   register an agent and write its config file\n"
    "  agent list           list agents\n"
    "  agent enable NAME    allow an agent to connect\n"
    "  agent disable NAME   refuse an agent's connections\n"
    "  target add NAME ...  add a target and its probes\n"
    "  target list          list targets and their probes\n"
    "\n"
    "options:\n"
    "  --db CONNINFO  PostgreSQL connection string or URI (default: libpq's PG* environment\n"
    "                 variables and defaults)\n"
    "  --version      print the version\n"
    "  -h, --help     print help; after a command, help for that command\n"
    "\n"
    "exit status: 0 success, 1 failure (database, file), 2 bad usage\n";

static const char usage_db[] = "usage: " PROG " db migrate\n";

static const char usage_db_migrate[] =
    "usage: " PROG " [--db CONNINFO] db migrate\n"
    "\n"
    "Creates the parallax schema if needed and applies every built-in migration that the\n"
    "database has not recorded in parallax.schema_migrations, each in its own transaction.\n"
    "Safe to run again and from several places at once.\n";

static const char usage_agent[] = "usage: " PROG " agent add|list|enable|disable ...\n"
                                  "  (" PROG " agent COMMAND --help for details)\n";

static const char usage_agent_add[] =
    "usage: " PROG " [--db CONNINFO] agent add NAME --country CC [options]\n"
    "\n"
    "Registers agent NAME with a new CURVE key pair and writes its config file (mode 0600,\n"
    "holding the agent's secret key). Both happen or neither does.\n"
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

static const char usage_agent_list[] = "usage: " PROG " [--db CONNINFO] agent list [--json]\n"
                                       "\n"
                                       "Lists agents: name, country, ASN, enabled, last seen "
                                       "and public key.\n"
                                       "  --json  a JSON array of objects instead of a table\n";

static const char usage_agent_enable[] = "usage: " PROG " [--db CONNINFO] agent enable NAME\n"
                                         "\n"
                                         "Allows agent NAME to connect to the coordinator again.\n";

static const char usage_agent_disable[] =
    "usage: " PROG " [--db CONNINFO] agent disable NAME\n"
    "\n"
    "Stops the coordinator from accepting agent NAME; its key and results are kept.\n";

static const char usage_target[] = "usage: " PROG " target add|list ...\n"
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
    "  --timeout MS      probe timeout in milliseconds, 1..600000 (default 5000)\n";

static const char usage_target_list[] =
    "usage: " PROG " [--db CONNINFO] target list [--json]\n"
    "\n"
    "Lists targets with their address, group, role, control flag and probes.\n"
    "  --json  a JSON array of objects instead of a table\n";

/* Runs one command: parses args (a failure is a usage error), then does the work. */
typedef int (*command_fn)(const char *conninfo, int argc, char **argv, err_t *err);

typedef struct command {
    const char *group;
    const char *name;
    const char *usage;
    command_fn run;
} command_t;

static int cmd_db_migrate(const char *conninfo, int argc, char **argv, err_t *err)
{
    if (ctl_migrate_parse(argc, argv, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = ctl_db_connect(conninfo, err);
    if (!db)
        return EXIT_FAIL;
    size_t count;
    const ctl_embedded_t *migrations = ctl_embedded_migrations(&count);
    int rc = ctl_migrate_run(db, migrations, count, stdout, err) < 0 ? EXIT_FAIL : EXIT_OK;
    ctl_db_destroy(&db);
    return rc;
}

static int cmd_agent_add(const char *conninfo, int argc, char **argv, err_t *err)
{
    ctl_agent_add_opts_t opts;
    if (ctl_agent_add_parse(argc, argv, &opts, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = ctl_db_connect(conninfo, err);
    if (!db)
        return EXIT_FAIL;
    int rc = ctl_agent_add(db, &opts, stdout, err) < 0 ? EXIT_FAIL : EXIT_OK;
    ctl_db_destroy(&db);
    return rc;
}

static int cmd_agent_list(const char *conninfo, int argc, char **argv, err_t *err)
{
    int json;
    if (ctl_agent_list_parse(argc, argv, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = ctl_db_connect(conninfo, err);
    if (!db)
        return EXIT_FAIL;
    int rc = ctl_agent_list(db, json, stdout, err) < 0 ? EXIT_FAIL : EXIT_OK;
    ctl_db_destroy(&db);
    return rc;
}

static int set_enabled(const char *conninfo, int argc, char **argv, int enabled, err_t *err)
{
    const char *name;
    if (ctl_agent_name_parse(argc, argv, &name, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = ctl_db_connect(conninfo, err);
    if (!db)
        return EXIT_FAIL;
    int rc = ctl_agent_set_enabled(db, name, enabled, err) < 0 ? EXIT_FAIL : EXIT_OK;
    ctl_db_destroy(&db);
    if (rc == EXIT_OK)
        printf("agent %s %s\n", name, enabled ? "enabled" : "disabled");
    return rc;
}

static int cmd_agent_enable(const char *conninfo, int argc, char **argv, err_t *err)
{
    return set_enabled(conninfo, argc, argv, 1, err);
}

static int cmd_agent_disable(const char *conninfo, int argc, char **argv, err_t *err)
{
    return set_enabled(conninfo, argc, argv, 0, err);
}

static int cmd_target_add(const char *conninfo, int argc, char **argv, err_t *err)
{
    ctl_target_add_opts_t opts;
    if (ctl_target_add_parse(argc, argv, &opts, err) < 0)
        return EXIT_USAGE;
    int rc = EXIT_FAIL;
    ctl_db_t *db = ctl_db_connect(conninfo, err);
    if (db)
        rc = ctl_target_add(db, &opts, stdout, err) < 0 ? EXIT_FAIL : EXIT_OK;
    ctl_db_destroy(&db);
    ctl_target_add_opts_clear(&opts);
    return rc;
}

static int cmd_target_list(const char *conninfo, int argc, char **argv, err_t *err)
{
    int json;
    if (ctl_target_list_parse(argc, argv, &json, err) < 0)
        return EXIT_USAGE;
    ctl_db_t *db = ctl_db_connect(conninfo, err);
    if (!db)
        return EXIT_FAIL;
    int rc = ctl_target_list(db, json, stdout, err) < 0 ? EXIT_FAIL : EXIT_OK;
    ctl_db_destroy(&db);
    return rc;
}

static const command_t commands[] = {
    {"db", NULL, usage_db, NULL},
    {"db", "migrate", usage_db_migrate, cmd_db_migrate},
    {"agent", NULL, usage_agent, NULL},
    {"agent", "add", usage_agent_add, cmd_agent_add},
    {"agent", "list", usage_agent_list, cmd_agent_list},
    {"agent", "enable", usage_agent_enable, cmd_agent_enable},
    {"agent", "disable", usage_agent_disable, cmd_agent_disable},
    {"target", NULL, usage_target, NULL},
    {"target", "add", usage_target_add, cmd_target_add},
    {"target", "list", usage_target_list, cmd_target_list},
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
        } else if (strcmp(a, "--db") == 0) {
            if (conninfo) {
                print_error(NULL, "--db given more than once");
                return EXIT_USAGE;
            }
            if (i + 1 >= argc) {
                print_error(NULL, "option --db needs a value");
                return EXIT_USAGE;
            }
            conninfo = argv[++i];
        } else if (strncmp(a, "--db=", 5) == 0) {
            if (conninfo) {
                print_error(NULL, "--db given more than once");
                return EXIT_USAGE;
            }
            conninfo = a + 5;
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
    const command_t *c = NULL;
    if (i < argc && argv[i][0] != '-') {
        c = find_command(group, argv[i]);
        if (!c) {
            char msg[ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "unknown command '%s'", argv[i]);
            print_error(group, msg);
            return EXIT_USAGE;
        }
        i++;
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
    snprintf(context, sizeof context, "%s %s", c->group, c->name);
    err_t err;
    err_clear(&err);
    int rc = c->run(conninfo, argc - i, argv + i, &err);
    if (rc != EXIT_OK)
        print_error(context, err.msg[0] ? err.msg : "failed");
    return rc;
}
