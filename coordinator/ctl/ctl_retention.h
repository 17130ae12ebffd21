/* ctl_retention: `parallaxctl retention`: what each kind of data keeps (its keep_* merge
 * setting and the horizon it gives), how much of it there is (oldest row, rows, bytes) and
 * what retention removed, from parallax.retention_report(); and `retention run`, which runs
 * parallax.retention_run() to the end now instead of at the coordinator's next pass. */
#ifndef PX_CTL_RETENTION_H
#define PX_CTL_RETENTION_H

#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

/* Parses the arguments after "retention": --exact and --json. Returns 0, or -1 with err
 * naming the bad argument (a usage error). */
int ctl_retention_parse(int argc, char **argv, int *exact, int *json, err_t *err);

/* Writes the report to out: a table of the kinds, then the oldest bin the merge may still
 * judge again and any removal put off; or one JSON object {kinds, merge_floor} when json is
 * set. Rows are the planner's estimates unless exact (a count of every row: slow on a large
 * table). Returns 0 or -1 (err set). */
int ctl_retention_show(ctl_db_t *db, int exact, int json, FILE *out, err_t *err);

/* Runs retention steps until none says more is due (at most max_steps) and writes what they
 * removed to out. Returns 0 or -1 (err set). */
int ctl_retention_run(ctl_db_t *db, long max_steps, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_retention_commands[];
extern const size_t ctl_retention_command_count;

#endif
