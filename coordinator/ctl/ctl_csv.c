/* ctl_csv: one pass over the line; the write position never passes the read position, so
 * unescaping in place is safe. */
#include "ctl_csv.h"

#include <string.h>

int ctl_csv_split(char *line, char **fields, size_t max, size_t *n, err_t *err)
{
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    *n = 0;
    char *rd = line;
    for (;;) {
        if (*n >= max) {
            err_set(err, "more than %zu fields", max);
            return -1;
        }
        char *wr = rd;
        fields[(*n)++] = wr;
        size_t column = (size_t)(rd - line) + 1;
        if (*rd == '"') {
            rd++;
            for (;;) {
                if (*rd == '\0') {
                    err_set(err, "the quoted field at column %zu does not end on its line", column);
                    return -1;
                }
                if (*rd == '"' && rd[1] == '"') {
                    *wr++ = '"';
                    rd += 2;
                } else if (*rd == '"') {
                    rd++;
                    break;
                } else {
                    *wr++ = *rd++;
                }
            }
            if (*rd != ',' && *rd != '\0') {
                err_set(err, "text after the closing quote of the field at column %zu", column);
                return -1;
            }
        } else {
            while (*rd != ',' && *rd != '\0') {
                if (*rd == '"') {
                    err_set(err,
                            "a quote inside the unquoted field at column %zu (quote the whole "
                            "field and double the quote)",
                            column);
                    return -1;
                }
                *wr++ = *rd++;
            }
        }
        char sep = *rd;
        *wr = '\0';
        if (sep == '\0')
            return 0;
        rd++;
    }
}
