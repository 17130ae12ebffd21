/* ctl_jsonrow: a query row written as the members of a JSON object by a table of (key,
 * column, type), so a --json listing names each member once, next to its column, rather than
 * in a pair of calls per member. */
#ifndef PX_CTL_JSONROW_H
#define PX_CTL_JSONROW_H

#include <stddef.h>

#include "ctl_db.h"
#include "json.h"

/* How a column's text becomes a JSON value; SQL NULL is null for strings and numbers. */
typedef enum ctl_jsonrow_type {
    CTL_JSONROW_STRING, /* a string */
    CTL_JSONROW_NUMBER, /* the text as it is: the query guarantees a number (an integer column) */
    CTL_JSONROW_BOOL    /* true if the text is "true" (a boolean cast to text), else false */
} ctl_jsonrow_type_t;

typedef struct ctl_jsonrow_field {
    const char *key;
    size_t col;
    ctl_jsonrow_type_t type;
} ctl_jsonrow_field_t;

/* Writes one "key": value member per field, from row r of rows, into the object js is
 * writing (the caller begins and ends it). Write errors are kept in js (see json_error). */
void ctl_jsonrow_members(json_t *js, const ctl_rows_t *rows, size_t r,
                         const ctl_jsonrow_field_t *fields, size_t nfields);

#endif
