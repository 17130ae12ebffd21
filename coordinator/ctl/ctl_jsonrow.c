/* ctl_jsonrow: a query row as JSON object members, field by field from a table. */
#include "ctl_jsonrow.h"

#include <string.h>

void ctl_jsonrow_members(json_t *js, const ctl_rows_t *rows, size_t r,
                         const ctl_jsonrow_field_t *fields, size_t nfields)
{
    for (size_t i = 0; i < nfields; i++) {
        const char *v = ctl_rows_get(rows, r, fields[i].col);
        json_key(js, fields[i].key);
        switch (fields[i].type) {
        case CTL_JSONROW_STRING:
            json_string(js, v);
            break;
        case CTL_JSONROW_NUMBER:
            json_raw_number(js, v);
            break;
        case CTL_JSONROW_BOOL:
            json_bool(js, v && strcmp(v, "true") == 0);
            break;
        }
    }
}
