/* ctl_timeline: `parallaxctl timeline --group G | --target T`: a heatmap in the terminal.
 * Rows are the group's stage, each target's state and, under each target, what each vantage
 * saw of it; columns are bins (several bins per column when the span is long, showing the
 * worst); each cell is a letter, coloured with ANSI codes when the output is a terminal. */
#ifndef PX_CTL_TIMELINE_H
#define PX_CTL_TIMELINE_H

#include <stdint.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "ctl_fmt.h"
#include "err.h"

#define CTL_TIMELINE_SINCE_S 3600
#define CTL_TIMELINE_COLUMNS 60

/* Parsed `timeline` arguments. Strings point into argv. */
typedef struct ctl_timeline_opts {
    const char *group;  /* --group G, or NULL */
    const char *target; /* --target T, or NULL (exactly one of the two is set) */
    uint64_t since_s;   /* --since DURATION */
    const char *until;  /* --until TIME (any PostgreSQL timestamptz text), or NULL for now */
    uint64_t columns;   /* --columns N: at most this many columns */
    ctl_fmt_color_t color;
    int json;
} ctl_timeline_opts_t;

/* Parses the arguments after "timeline". Returns 0, or -1 with err naming the bad argument
 * (a usage error). */
int ctl_timeline_parse(int argc, char **argv, ctl_timeline_opts_t *out, err_t *err);

/* Draws the timeline on out (coloured if opts->color says so for out), or writes it as one
 * JSON object when opts->json is set. Returns 0, or -1 (err set) for an unknown group or
 * target, a bad --until or a database failure. */
int ctl_timeline_show(ctl_db_t *db, const ctl_timeline_opts_t *opts, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_timeline_commands[];
extern const size_t ctl_timeline_command_count;

#endif
