/* ctl_args: a small getopt replacement without global state or printing. */
#include "ctl_args.h"

#include <stdlib.h>
#include <string.h>

/* One given option: which table entry and its value. */
typedef struct given {
    const ctl_opt_t *opt;
    const char *value;
} given_t;

struct ctl_args {
    given_t *given; /* at most argc entries */
    size_t ngiven;
    const char **pos; /* at most argc entries */
    size_t npos;
    int help;
};

static const ctl_opt_t *find_long(const ctl_opt_t *opts, const char *name, size_t len)
{
    for (const ctl_opt_t *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const ctl_opt_t *find_short(const ctl_opt_t *opts, char c)
{
    for (const ctl_opt_t *o = opts; o && o->name; o++)
        if (o->short_name && o->short_name == c)
            return o;
    return NULL;
}

/* Records one occurrence, refusing a second one of a non-repeatable option. */
static int add_given(ctl_args_t *a, const ctl_opt_t *opt, const char *value, err_t *err)
{
    if (!opt->repeatable && ctl_args_count(a, opt->name) > 0) {
        err_set(err, "--%s given more than once", opt->name);
        return -1;
    }
    a->given[a->ngiven].opt = opt;
    a->given[a->ngiven].value = value;
    a->ngiven++;
    return 0;
}

ctl_args_t *ctl_args_parse(int argc, char **argv, const ctl_opt_t *opts, size_t max_pos, err_t *err)
{
    ctl_args_t *a = calloc(1, sizeof *a);
    size_t n = argc > 0 ? (size_t)argc : 0;
    if (!a || !(a->given = calloc(n + 1, sizeof *a->given)) ||
        !(a->pos = calloc(n + 1, sizeof *a->pos))) {
        err_set(err, "out of memory");
        goto fail;
    }
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const ctl_opt_t *opt = NULL;
        const char *value = NULL;
        const char *shown = arg;
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            if (a->npos >= max_pos) {
                err_set(err, "unexpected argument '%s'", arg);
                goto fail;
            }
            a->pos[a->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = 1;
            continue;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            opt = find_long(opts, name, len);
            if (!opt) {
                err_set(err, "unknown option '%.*s'", (int)(len + 2), arg);
                goto fail;
            }
            if (eq) {
                if (!opt->takes_value) {
                    err_set(err, "option --%s takes no value (got '%s')", opt->name, arg);
                    goto fail;
                }
                value = eq + 1;
            }
        } else {
            opt = arg[2] == '\0' ? find_short(opts, arg[1]) : NULL;
            if (!opt) {
                err_set(err, "unknown option '%s'", arg);
                goto fail;
            }
        }
        if (opt->takes_value && !value) {
            /* A following option is far more likely a forgotten value than a value that
             * starts with "--"; such a value can still be given as --name=--value. */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                err_set(err, "option %s needs a value", shown);
                goto fail;
            }
            value = argv[++i];
        }
        if (add_given(a, opt, opt->takes_value ? value : "", err) < 0)
            goto fail;
    }
    return a;
fail:
    ctl_args_destroy(&a);
    return NULL;
}

void ctl_args_destroy(ctl_args_t **args)
{
    if (!args || !*args)
        return;
    free((*args)->given);
    free((*args)->pos);
    free(*args);
    *args = NULL;
}

int ctl_args_help(const ctl_args_t *args)
{
    return args->help;
}

size_t ctl_args_count(const ctl_args_t *args, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < args->ngiven; i++)
        if (strcmp(args->given[i].opt->name, name) == 0)
            n++;
    return n;
}

const char *ctl_args_value(const ctl_args_t *args, const char *name, size_t i)
{
    for (size_t k = 0; k < args->ngiven; k++)
        if (strcmp(args->given[k].opt->name, name) == 0 && i-- == 0)
            return args->given[k].value;
    return NULL;
}

size_t ctl_args_npos(const ctl_args_t *args)
{
    return args->npos;
}

const char *ctl_args_pos(const ctl_args_t *args, size_t i)
{
    return i < args->npos ? args->pos[i] : NULL;
}
