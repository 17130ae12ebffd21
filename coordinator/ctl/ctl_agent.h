/* ctl_agent: `parallaxctl agent add|list|show|enable|disable|remove|rotate-key`. Argument
 * parsing is pure (the *_parse functions, usage errors); the rest talks to the database and,
 * for `add` and `rotate-key`, writes the agent's config file together with its row: both or
 * neither. */
#ifndef PX_CTL_AGENT_H
#define PX_CTL_AGENT_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

#define CTL_AGENT_STATE_DIR "/var/lib/parallax-agent"

/* Parsed `agent add` arguments. Strings point into argv, except output. */
typedef struct ctl_agent_add_opts {
    const char *name;
    char country[3]; /* upper-case */
    int has_asn;
    uint64_t asn;
    const char *endpoint;        /* --endpoint, or NULL for the coordinator's registered one */
    const char *coordinator_key; /* --coordinator-key, or NULL for the registered one */
    const char *state_dir;       /* --state-dir or CTL_AGENT_STATE_DIR */
    char output[PATH_MAX];       /* -o FILE or ./NAME.conf */
    int force;
    int rotate; /* rotate-key: the agent exists; give it a new key pair (country, asn unused) */
} ctl_agent_add_opts_t;

/* The values written into an agent's config file. */
typedef struct ctl_agent_conf {
    const char *name;
    const char *country;
    const char *endpoint;
    const char *coordinator_key;
    const char *secret_key;
    const char *state_dir;
} ctl_agent_conf_t;

/* Parses the arguments after "agent add" into *out. Returns 0, or -1 with err naming the bad
 * argument (a usage error). */
int ctl_agent_add_parse(int argc, char **argv, ctl_agent_add_opts_t *out, err_t *err);

/* Parses the arguments after "agent rotate-key": NAME and the options of add that concern
 * the config file (--endpoint, --coordinator-key, --state-dir, -o, --force). Returns 0 or -1. */
int ctl_agent_rotate_parse(int argc, char **argv, ctl_agent_add_opts_t *out, err_t *err);

/* Parses the arguments after "agent list": only --json. Sets *json. Returns 0 or -1 (as
 * ctl_named_list_parse). */
int ctl_agent_list_parse(int argc, char **argv, int *json, err_t *err);

/* Parses the arguments after "agent enable", "agent disable" or "agent remove": one agent
 * name, set in *name (points into argv). Returns 0 or -1 (as ctl_named_parse). */
int ctl_agent_name_parse(int argc, char **argv, const char **name, err_t *err);

/* Writes the text of an agent's config file, stamped with the time now, into buf (len bytes
 * with the NUL). Returns its length, or -1 if buf is too small. */
int ctl_agent_conf_format(const ctl_agent_conf_t *conf, time_t now, char *buf, size_t len);

/* Adds the agent (or, with opts->rotate, replaces an existing agent's key): a new key pair,
 * its row and its config file (mode 0600). On failure nothing is left behind: no row or key
 * change, no file. Writes the file's path and the one command to run on the VPS to out.
 * Returns 0, or -1 with err set (an existing name for add, an unknown one for rotate). */
int ctl_agent_add(ctl_db_t *db, const ctl_agent_add_opts_t *opts, FILE *out, err_t *err);

/* Writes all agents to out as a table (with state, spool drops and clock offset from
 * parallax.agent_status()) followed by why each refused agent is refused, or as a JSON array
 * when json is set. Returns 0 or -1. */
int ctl_agent_list(ctl_db_t *db, int json, FILE *out, err_t *err);

/* Writes, after a blank line, "agent NAME is refused: WHY" for each of rows whose column
 * refused_col is not NULL (the name in column name_col); nothing if there is none. The
 * agents table of `agent list` and `status` ends with it. Returns 0, or -1 on a write error
 * (errno set). */
int ctl_agent_print_refusals(const ctl_rows_t *rows, size_t name_col, size_t refused_col,
                             FILE *out);

/* Enables or disables the agent called name. Returns 0, or -1 (err set) if there is no such
 * agent or the database fails. */
int ctl_agent_set_enabled(ctl_db_t *db, const char *name, int enabled, err_t *err);

/* Writes everything known about agent name (status, why it is refused if it is, health, drops,
 * clock offset, key, ongoing outages of its vantage) to out, or one JSON object when json is set.
 * Returns 0, or -1 (err set) if there is no such agent. */
int ctl_agent_show(ctl_db_t *db, const char *name, int json, FILE *out, err_t *err);

/* Removes agent name: its row, heartbeats, gaps and batch records. Its results stay (they are
 * evidence, and results have no foreign keys). Writes what was done to out. Returns 0, or -1
 * (err set) if there is no such agent. */
int ctl_agent_remove(ctl_db_t *db, const char *name, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_agent_commands[];
extern const size_t ctl_agent_command_count;

#endif
