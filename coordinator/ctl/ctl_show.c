/* ctl_show: one named row as "label value" lines or one JSON object. */
#include "ctl_show.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ctl_show_print(FILE *out, const ctl_show_field_t *fields, size_t nfields,
                   const char *const *values)
{
    int width = 0;
    for (size_t i = 0; i < nfields; i++) {
        int n = (int)strlen(fields[i].label);
        if (n > width)
            width = n;
    }
    int rc = 0;
    for (size_t i = 0; i < nfields; i++) {
        const char *v = values[i];
        const char *suffix = "";
        if (v && fields[i].kind == CTL_SHOW_YESNO)
            v = strcmp(v, "true") == 0 || strcmp(v, "t") == 0 ? "yes" : "no";
        else if (v && fields[i].kind == CTL_SHOW_UTC)
            suffix = " UTC";
        if (fprintf(out, "%-*s %s%s\n", width, fields[i].label, v ? v : "-", suffix) < 0)
            rc = -1;
    }
    return rc;
}

int ctl_show(ctl_db_t *db, const ctl_show_spec_t *spec, const char *name, int json, FILE *out,
             err_t *err)
{
    ctl_rows_t *rows = ctl_db_query(db, json ? spec->json_sql : spec->text_sql, 1, &name, err);
    if (!rows)
        return -1;
    int rc = -1;
    if (ctl_rows_count(rows) == 0) {
        err_set(err, "no %s named '%s'", spec->what, name);
    } else {
        if (json) {
            rc = fprintf(out, "%s\n", ctl_rows_get(rows, 0, 0)) < 0 ? -1 : 0;
        } else {
            const char **values = calloc(spec->nfields ? spec->nfields : 1, sizeof *values);
            if (!values) {
                err_set(err, "out of memory");
                ctl_rows_destroy(&rows);
                return -1;
            }
            for (size_t c = 0; c < spec->nfields; c++)
                values[c] = ctl_rows_get(rows, 0, c);
            rc = ctl_show_print(out, spec->fields, spec->nfields, values);
            free(values);
        }
        if (rc < 0)
            err_set(err, "cannot write: %s", strerror(errno));
    }
    ctl_rows_destroy(&rows);
    return rc;
}
