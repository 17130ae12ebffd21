/* ctl_show: `agent show` and `target show` — one row found by name, for people as
 * "label value" lines (labels padded alike, NULL shown as "-") or as the JSON object its
 * query made. */
#ifndef PX_CTL_SHOW_H
#define PX_CTL_SHOW_H

#include <stddef.h>
#include <stdio.h>

#include "ctl_db.h"
#include "err.h"

/* How a field's text is shown. */
typedef enum ctl_show_kind {
    CTL_SHOW_TEXT,  /* as it is */
    CTL_SHOW_YESNO, /* a boolean ("true"/"false" from SQL): "yes" or "no" */
    CTL_SHOW_UTC    /* a time SQL gave in UTC: " UTC" appended */
} ctl_show_kind_t;

typedef struct ctl_show_field {
    const char *label;
    ctl_show_kind_t kind;
} ctl_show_field_t;

/* What to show and how. All pointers are borrowed; the spec is usually static. */
typedef struct ctl_show_spec {
    const char *what;     /* "agent": the error is "no agent named 'x'" */
    const char *text_sql; /* $1 = the name; one row, a column per field, in order */
    const char *json_sql; /* $1 = the name; one row, one column: the JSON object */
    const ctl_show_field_t *fields;
    size_t nfields;
} ctl_show_spec_t;

/* Writes one line per field: its label padded to the longest label plus one, then values[i]
 * as its kind says ("-" for NULL). Returns 0, or -1 on a write error (errno set). */
int ctl_show_print(FILE *out, const ctl_show_field_t *fields, size_t nfields,
                   const char *const *values);

/* Looks up name with spec's query and writes it to out: as ctl_show_print, or with json the
 * object on one line. Returns 0, or -1 (err set: the database's error, "no WHAT named
 * 'NAME'", or a write error). */
int ctl_show(ctl_db_t *db, const ctl_show_spec_t *spec, const char *name, int json, FILE *out,
             err_t *err);

#endif
