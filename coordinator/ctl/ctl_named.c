/* ctl_named: the list, show and remove commands of agents and targets, and the statement that
 * must find its row by name; one place, so both kinds answer in the same words. */
#include "ctl_named.h"

#include <errno.h>
#include <string.h>

#include "ctl_args.h"
#include "ctl_parse.h"

int ctl_named_check(const char *what, const char *name, err_t *err)
{
    if (!name) {
        err_set(err, "missing %s NAME", what);
        return -1;
    }
    /* ctl_parse_name says "bad LABEL '...'": the label is "agent name". */
    char label[64];
    snprintf(label, sizeof label, "%s name", what);
    return ctl_parse_name(label, name, err);
}

int ctl_named_parse(const char *what, int argc, char **argv, const char **name, int *json,
                    err_t *err)
{
    static const ctl_opt_t with_json[] = {{"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    static const ctl_opt_t none[] = {{NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, json ? with_json : none, 1, err);
    if (!args)
        return -1;
    *name = ctl_args_pos(args, 0);
    if (json)
        *json = ctl_args_count(args, "json") > 0;
    int rc = ctl_named_check(what, *name, err);
    ctl_args_destroy(&args);
    return rc;
}

int ctl_named_list_parse(int argc, char **argv, int *json, err_t *err)
{
    static const ctl_opt_t opts[] = {{"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    *json = ctl_args_count(args, "json") > 0;
    ctl_args_destroy(&args);
    return 0;
}

int ctl_named_exec(ctl_db_t *db, const char *what, const char *sql, int nparams,
                   const char *const *params, err_t *err)
{
    long n = ctl_db_exec(db, sql, nparams, params, err);
    if (n < 0)
        return -1;
    if (n == 0) {
        err_set(err, "no %s named '%s'", what, params[0]);
        return -1;
    }
    return 0;
}

int ctl_named_remove(ctl_db_t *db, const ctl_named_removal_t *removal, const char *name, FILE *out,
                     err_t *err)
{
    if (ctl_named_exec(db, removal->what, removal->sql, 1, &name, err) < 0)
        return -1;
    /* The row is gone either way; a failed confirmation still fails the command, so a script
     * reading the output does not take silence for success. */
    if (fprintf(out, "removed %s %s%s\n", removal->what, name, removal->aftermath) < 0) {
        err_set(err, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int ctl_named_list_command(ctl_session_t *s, ctl_named_list_fn list, int argc, char **argv,
                           err_t *err)
{
    int json;
    if (ctl_named_list_parse(argc, argv, &json, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(list(db, json, stdout, err)) : CTL_EXIT_FAIL;
}

int ctl_named_show_command(ctl_session_t *s, const ctl_show_spec_t *spec, int argc, char **argv,
                           err_t *err)
{
    const char *name;
    int json;
    if (ctl_named_parse(spec->what, argc, argv, &name, &json, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_show(db, spec, name, json, stdout, err)) : CTL_EXIT_FAIL;
}

int ctl_named_remove_command(ctl_session_t *s, const ctl_named_removal_t *removal, int argc,
                             char **argv, err_t *err)
{
    const char *name;
    if (ctl_named_parse(removal->what, argc, argv, &name, NULL, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_named_remove(db, removal, name, stdout, err)) : CTL_EXIT_FAIL;
}
