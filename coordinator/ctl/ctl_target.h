/* ctl_target: `parallaxctl target add|list|show|remove|import`. Parsing is pure and checks
 * everything (address, role, numbers, every probe spec) before the database is touched; `add`
 * then stores the target and its probes in one transaction, and `import` a whole CSV file in
 * one transaction: every line or none. */
#ifndef PX_CTL_TARGET_H
#define PX_CTL_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "ctl_parse.h"
#include "err.h"
#include "probespec.h"

#define CTL_TARGET_INTERVAL_DEFAULT 60
/* The longest default timeout; shorter intervals get half their length (see below). */
#define CTL_TARGET_TIMEOUT_DEFAULT 5000

/* One probe of a target, as stored: its kind name and canonical spec text. */
typedef struct ctl_target_probe {
    const char *kind; /* static, from probespec_kind_name */
    char spec[PROBESPEC_MAX];
} ctl_target_probe_t;

/* Parsed `target add` arguments. Strings point into argv, except address and probes. */
typedef struct ctl_target_add_opts {
    const char *name;
    char address[CTL_PARSE_ADDR_MAX]; /* canonical text */
    const char *group;                /* NULL if none */
    const char *role;                 /* "host" unless --role */
    int control;
    int allow_internal; /* --allow-internal: probed though the agents' deny-list has it */
    uint64_t interval_s;
    uint64_t timeout_ms;
    ctl_target_probe_t *probes; /* owned: free with ctl_target_add_opts_clear */
    size_t nprobes;
} ctl_target_add_opts_t;

/* The timeout in ms a probe run every interval_s seconds gets when none is given:
 * min(CTL_TARGET_TIMEOUT_DEFAULT, interval_s * 1000 / 2), so a run always ends well before the
 * next one is due (an agent skips a run while the previous one is still going). */
uint64_t ctl_target_timeout_default(uint64_t interval_s);

/* Parses the arguments after "target add" into *out. A --timeout that is not shorter than
 * the interval (timeout_ms >= interval_s * 1000) is refused; without one the timeout is
 * ctl_target_timeout_default(interval_s). Returns 0, or -1 with err naming the bad
 * argument (a usage error; nothing to clear then). On success the caller must call
 * ctl_target_add_opts_clear(out). */
int ctl_target_add_parse(int argc, char **argv, ctl_target_add_opts_t *out, err_t *err);

/* Frees what ctl_target_add_parse allocated in *opts. Safe to call twice. */
void ctl_target_add_opts_clear(ctl_target_add_opts_t *opts);

/* Parses the arguments after "target list": only --json. Sets *json. Returns 0 or -1 (as
 * ctl_named_list_parse). */
int ctl_target_list_parse(int argc, char **argv, int *json, err_t *err);

/* Stores the target and its probes in one transaction and writes a summary to out. Returns 0,
 * or -1 with err set and nothing stored (an existing name is reported as such). */
int ctl_target_add(ctl_db_t *db, const ctl_target_add_opts_t *opts, FILE *out, err_t *err);

/* Writes all targets with their probes to out as a table, or as a JSON array when json is
 * set. Returns 0 or -1. */
int ctl_target_list(ctl_db_t *db, int json, FILE *out, err_t *err);

/* Writes target name, its probes, its latest state and its ongoing outages to out, or one
 * JSON object when json is set. Returns 0, or -1 (err set) if there is no such target. */
int ctl_target_show(ctl_db_t *db, const char *name, int json, FILE *out, err_t *err);

/* Removes target name and its probes (agents stop probing it at their next schedule); its
 * results stay. Returns 0, or -1 (err set) if there is no such target. */
int ctl_target_remove(ctl_db_t *db, const char *name, FILE *out, err_t *err);

/* Parses the arguments after "target import": one FILE ("-" for standard input). Returns 0
 * or -1. */
int ctl_target_import_parse(int argc, char **argv, const char **path, err_t *err);

/* Imports the targets in the CSV file at path: a header line naming the columns (name,
 * address and probes required; group, role, control, interval, timeout optional, in any
 * order), then one target per line; blank lines and lines starting with '#' are skipped;
 * probes are separated by spaces. Every line is checked like `target add` and all are
 * stored in one transaction; a line whose target is stored already exactly as the line says
 * is left alone, so importing a file twice changes nothing (a name stored with another
 * definition is an error). Returns 0, or -1 with err naming FILE:LINE and what is wrong
 * there, and nothing stored. */
int ctl_target_import(ctl_db_t *db, const char *path, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_target_commands[];
extern const size_t ctl_target_command_count;

#endif
