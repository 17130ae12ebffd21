/* ctl_named: what the commands over rows known by a NAME (agents, targets) share, so that
 * `agent show` and `target show`, `agent remove` and `target remove`, `agent list` and
 * `target list` parse, answer an unknown name and confirm a removal in the same words:
 * parsing NAME [--json], a statement that must find its row ("no agent named 'x'"), and the
 * list, show and remove commands from parsing to exit status. */
#ifndef PX_CTL_NAMED_H
#define PX_CTL_NAMED_H

#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "ctl_show.h"
#include "err.h"

/* How a removal is done and told. All pointers are borrowed; the spec is usually static. */
typedef struct ctl_named_removal {
    const char *what;      /* "agent": "no agent named 'x'", "removed agent x..." */
    const char *sql;       /* the DELETE; $1 = the name */
    const char *aftermath; /* said after "removed WHAT NAME", e.g. " (its results are kept)" */
} ctl_named_removal_t;

/* Writes the rows of what to out: a table, or a JSON array when json is set. Returns 0 or -1
 * (err set). ctl_agent_list and ctl_target_list are such functions. */
typedef int (*ctl_named_list_fn)(ctl_db_t *db, int json, FILE *out, err_t *err);

/* Checks the NAME a command was given (NULL if none): 0 if it is a valid name, else -1 with
 * err set to "missing WHAT NAME" or "bad WHAT name '...': ..." (a usage error). */
int ctl_named_check(const char *what, const char *name, err_t *err);

/* Parses the words after e.g. "agent show": one NAME, and --json if json is not NULL (if it
 * is NULL, --json is refused). *name points into argv. Returns 0, or -1 with err set (as
 * ctl_named_check, or the argument parser's refusal): a usage error. */
int ctl_named_parse(const char *what, int argc, char **argv, const char **name, int *json,
                    err_t *err);

/* Parses the words after e.g. "agent list": only --json, which sets *json. Returns 0, or -1
 * with err set (a usage error). */
int ctl_named_list_parse(int argc, char **argv, int *json, err_t *err);

/* Runs sql with nparams parameters, the first of which ($1) is the name, and requires it to
 * touch at least one row. Returns 0, or -1 with err set: the database's error, or "no WHAT
 * named 'NAME'" when no row has that name. */
int ctl_named_exec(ctl_db_t *db, const char *what, const char *sql, int nparams,
                   const char *const *params, err_t *err);

/* Deletes the row called name as removal says and writes "removed WHAT NAME AFTERMATH" to
 * out. Returns 0, or -1 with err set (as ctl_named_exec, or a write error after the row is
 * gone). */
int ctl_named_remove(ctl_db_t *db, const ctl_named_removal_t *removal, const char *name, FILE *out,
                     err_t *err);

/* The commands `WHAT list [--json]`, `WHAT show NAME [--json]` (spec->what names WHAT) and
 * `WHAT remove NAME`, from their words to their exit status, written to stdout: they parse,
 * connect through the session, then call list, ctl_show or ctl_named_remove. Return
 * CTL_EXIT_OK, or CTL_EXIT_USAGE / CTL_EXIT_FAIL with err set. */
int ctl_named_list_command(ctl_session_t *s, ctl_named_list_fn list, int argc, char **argv,
                           err_t *err);
int ctl_named_show_command(ctl_session_t *s, const ctl_show_spec_t *spec, int argc, char **argv,
                           err_t *err);
int ctl_named_remove_command(ctl_session_t *s, const ctl_named_removal_t *removal, int argc,
                             char **argv, err_t *err);

#endif
