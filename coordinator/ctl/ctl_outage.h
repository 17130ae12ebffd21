/* ctl_outage: `parallaxctl outages` (the outage list, filtered by age, scope and openness)
 * and `parallaxctl explain ID` (one outage's evidence in words: stages, failures, which
 * vantages saw what, which targets went down). Everything is read from parallax.outages and
 * the per-bin views; parsing is pure and separate. */
#ifndef PX_CTL_OUTAGE_H
#define PX_CTL_OUTAGE_H

#include <stdint.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

/* Which outages to list. */
typedef struct ctl_outage_filter {
    uint64_t since_s;  /* only outages going on within the last since_s seconds; 0: all */
    const char *scope; /* "target", "group" or "vantage"; NULL: all */
    int open;          /* only outages still going on */
} ctl_outage_filter_t;

/* Parses the arguments after "outages": --since DURATION, --scope S, --open, --json.
 * Returns 0, or -1 with err naming the bad argument (a usage error). */
int ctl_outage_list_parse(int argc, char **argv, ctl_outage_filter_t *filter, int *json,
                          err_t *err);

/* Writes the outages filter selects to out (oldest first) as a table, or as a JSON array
 * when json is set. Returns 0 or -1 (err set). */
int ctl_outage_list(ctl_db_t *db, const ctl_outage_filter_t *filter, int json, FILE *out,
                    err_t *err);

/* The same list as a JSON array, built by the database. Returns NULL on failure (err set).
 * Caller owns the result (free()). */
char *ctl_outage_list_json(ctl_db_t *db, const ctl_outage_filter_t *filter, err_t *err);

/* Parses the arguments after "explain": one outage ID and --json. Returns 0 or -1. */
int ctl_outage_explain_parse(int argc, char **argv, uint64_t *id, int *json, err_t *err);

/* Explains outage id in words (or as one JSON object when json is set) on out. Returns 0,
 * or -1 (err set) if there is no such outage or the database fails. */
int ctl_outage_explain(ctl_db_t *db, uint64_t id, int json, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_outage_commands[];
extern const size_t ctl_outage_command_count;

#endif
