/* ctl_args: the command-line parser every parallaxctl command uses: long options with a value
 * (`--name VALUE` or `--name=VALUE`), flags, short aliases, positionals and `--`. Pure: it
 * never prints; every refusal is one sentence in err_t naming the offending argument. */
#ifndef PX_CTL_ARGS_H
#define PX_CTL_ARGS_H

#include <stddef.h>

#include "err.h"

/* One option a command accepts. A table of these ends with an entry whose name is NULL. */
typedef struct ctl_opt {
    const char *name; /* long name without "--", e.g. "country" */
    char short_name;  /* single-letter alias ('o' for -o), or 0 */
    int takes_value;  /* 1: the option needs a value; 0: it is a flag */
    int repeatable;   /* 1: may be given more than once; 0: a second one is an error */
} ctl_opt_t;

typedef struct ctl_args ctl_args_t;

/* Parses argv[0..argc) against opts, allowing at most max_pos positional arguments.
 * `--help` and `-h` are always accepted as flags (see ctl_args_help). Values are pointers
 * into argv, which must outlive the result. Returns NULL on an unknown option, a missing
 * value, a repeated non-repeatable option, too many positionals or out of memory, with err
 * naming the argument. Caller owns the result (free with ctl_args_destroy). */
ctl_args_t *ctl_args_parse(int argc, char **argv, const ctl_opt_t *opts, size_t max_pos,
                           err_t *err);

/* Frees *args and sets it to NULL. Accepts NULL and *args == NULL. */
void ctl_args_destroy(ctl_args_t **args);

/* 1 if --help or -h was given, else 0. */
int ctl_args_help(const ctl_args_t *args);

/* How many times option name was given (0 if never or if name is not in the table). */
size_t ctl_args_count(const ctl_args_t *args, const char *name);

/* The i-th value of option name (in command-line order), or NULL if there is none. For a
 * flag the value is the empty string. Owned by argv. */
const char *ctl_args_value(const ctl_args_t *args, const char *name, size_t i);

/* Number of positional arguments and the i-th of them (NULL if out of range; owned by argv). */
size_t ctl_args_npos(const ctl_args_t *args);
const char *ctl_args_pos(const ctl_args_t *args, size_t i);

#endif
