/* ctl_verify: `parallaxctl verify`: merges a span again from nothing (parallax.merge_verify,
 * inside a REPEATABLE READ transaction that is rolled back, so nothing changes) and lists
 * every bin and outage that differs from what the coordinator's incremental merge stored. */
#ifndef PX_CTL_VERIFY_H
#define PX_CTL_VERIFY_H

#include <stdint.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

/* What to verify: from since_s seconds ago (0: all history) until `until` (NULL: as far as
 * the merge has finished), printed as a table or, with json, one JSON object. */
typedef struct ctl_verify_opts {
    uint64_t since_s;
    const char *until; /* points into argv */
    int json;
} ctl_verify_opts_t;

/* Parses the arguments after "verify": --since DURATION (default 1h), --all, --until TIME,
 * --json. argv must outlive opts. Returns 0, or -1 with err naming the bad argument. */
int ctl_verify_parse(int argc, char **argv, ctl_verify_opts_t *opts, err_t *err);

/* Runs the verification and writes the span and the differences to out. Returns 0 when
 * nothing differs, 1 when something does, -1 on failure (err set: the database, a bad
 * --until, nothing merged yet in the span). */
int ctl_verify_run(ctl_db_t *db, const ctl_verify_opts_t *opts, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_verify_commands[];
extern const size_t ctl_verify_command_count;

#endif
