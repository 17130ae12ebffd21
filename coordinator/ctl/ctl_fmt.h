/* ctl_fmt: small text formatters shared by parallaxctl's reading commands (durations for
 * people, e.g. "2h05m") and the one place that decides whether output is coloured. */
#ifndef PX_CTL_FMT_H
#define PX_CTL_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes seconds as people read them: "45s", "18m", "2h05m", "3d04h" (two units at most,
 * rounded down) into buf (len bytes with the NUL; 16 always suffice). Returns buf. */
char *ctl_fmt_duration(uint64_t seconds, char *buf, size_t len);

/* Like ctl_fmt_duration for a decimal number of seconds in text, as SQL returns it ("1080"
 * or "1080.5"); NULL or unparsable text gives "-". Returns buf. */
char *ctl_fmt_duration_text(const char *seconds, char *buf, size_t len);

/* Colour choice of a command: --color forces it on, --no-color off; otherwise it is on
 * only when out is a terminal and NO_COLOR is unset (https://no-color.org). */
typedef enum ctl_fmt_color {
    CTL_FMT_COLOR_AUTO,
    CTL_FMT_COLOR_ALWAYS,
    CTL_FMT_COLOR_NEVER
} ctl_fmt_color_t;

/* 1 if output to out should be coloured under choice, else 0. */
int ctl_fmt_use_color(ctl_fmt_color_t choice, FILE *out);

#endif
