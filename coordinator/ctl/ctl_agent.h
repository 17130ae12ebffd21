/* ctl_agent: `parallaxctl agent add|list|enable|disable`. Argument parsing is pure (the
 * *_parse functions, usage errors); the rest talks to the database and, for `add`, writes
 * the agent's config file together with its row: both or neither. */
#ifndef PX_CTL_AGENT_H
#define PX_CTL_AGENT_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

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

/* Parses the arguments after "agent list": only --json. Sets *json. Returns 0 or -1. */
int ctl_agent_list_parse(int argc, char **argv, int *json, err_t *err);

/* Parses the arguments after "agent enable" or "agent disable": one agent name, set in *name
 * (points into argv). Returns 0 or -1. */
int ctl_agent_name_parse(int argc, char **argv, const char **name, err_t *err);

/* Writes the text of an agent's config file, stamped with the time now, into buf (len bytes
 * with the NUL). Returns its length, or -1 if buf is too small. */
int ctl_agent_conf_format(const ctl_agent_conf_t *conf, time_t now, char *buf, size_t len);

/* Adds the agent: a new key pair, its row and its config file (mode 0600). On failure nothing
 * is left behind: no row, no file. Writes the file's path and how to start the agent to out.
 * Returns 0, or -1 with err set (an existing name is reported as such). */
int ctl_agent_add(ctl_db_t *db, const ctl_agent_add_opts_t *opts, FILE *out, err_t *err);

/* Writes all agents to out as a table, or as a JSON array when json is set. Returns 0 or -1. */
int ctl_agent_list(ctl_db_t *db, int json, FILE *out, err_t *err);

/* Enables or disables the agent called name. Returns 0, or -1 (err set) if there is no such
 * agent or the database fails. */
int ctl_agent_set_enabled(ctl_db_t *db, const char *name, int enabled, err_t *err);

#endif
