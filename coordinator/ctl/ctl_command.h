/* ctl_command: what a parallaxctl command is — its place (a group alone, like status, or a
 * group and a name, like agent add), its usage text, and the function that parses its
 * arguments and runs it — and the session it runs in. Each ctl module defines its commands
 * beside their parsers and exports them as a table; main.c only dispatches over the tables. */
#ifndef PX_CTL_COMMAND_H
#define PX_CTL_COMMAND_H

#include <stddef.h>

#include "ctl_db.h"
#include "err.h"

#define CTL_PROG "parallaxctl"

/* Exit statuses: success, a runtime failure (database, file, no such name), bad usage. */
enum { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

/* The database a command works on, connected when the command first asks for it (after its
 * arguments parsed: a usage error never waits on the network) and closed by main(). */
typedef struct ctl_session {
    const char *conninfo; /* borrowed from argv; NULL: libpq's defaults */
    ctl_db_t *db;         /* owned; NULL until ctl_session_db() */
} ctl_session_t;

/* The connection, made on first use. Returns NULL (err set) if it cannot be made. */
ctl_db_t *ctl_session_db(ctl_session_t *s, err_t *err);

/* CTL_EXIT_OK if work_rc is 0 or more, else CTL_EXIT_FAIL. */
int ctl_outcome(int work_rc);

/* Parses argv (the words after the command) and runs the command: an exit status, with err
 * set unless it is CTL_EXIT_OK. */
typedef int (*ctl_run_fn)(ctl_session_t *s, int argc, char **argv, err_t *err);

/* A group's own entry has name NULL; it runs (status, explain ID, settings) or, with run
 * NULL, only has subcommands (agent add, ...), and its usage lists them. */
typedef struct ctl_command {
    const char *group;
    const char *name;
    const char *usage;
    ctl_run_fn run;
} ctl_command_t;

#endif
