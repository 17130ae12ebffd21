/* ctl_table: cells kept as copies, one flat array per table, widths computed when printed. */
#include "ctl_table.h"

#include <stdlib.h>
#include <string.h>

struct ctl_table {
    size_t ncols;
    size_t nrows; /* including the header row */
    char **cells; /* nrows * ncols strings */
};

/* Appends one row of copies; shared by the header and ctl_table_add. */
static int append(ctl_table_t *t, const char *const *cells)
{
    char **grown = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *grown);
    if (!grown)
        return -1;
    t->cells = grown;
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = strdup(cells[c] ? cells[c] : "-");
        if (!row[c]) {
            while (c > 0)
                free(row[--c]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

ctl_table_t *ctl_table_new(size_t ncols, const char *const *headers)
{
    ctl_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    if (ncols == 0 || append(t, headers) < 0)
        ctl_table_destroy(&t);
    return t;
}

void ctl_table_destroy(ctl_table_t **table)
{
    if (!table || !*table)
        return;
    ctl_table_t *t = *table;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
    *table = NULL;
}

int ctl_table_add(ctl_table_t *table, const char *const *cells)
{
    return append(table, cells);
}

int ctl_table_print(const ctl_table_t *table, FILE *out)
{
    size_t *width = calloc(table->ncols, sizeof *width);
    if (!width)
        return -1;
    for (size_t r = 0; r < table->nrows; r++)
        for (size_t c = 0; c < table->ncols; c++) {
            size_t len = strlen(table->cells[r * table->ncols + c]);
            if (len > width[c])
                width[c] = len;
        }
    int rc = 0;
    for (size_t r = 0; r < table->nrows; r++) {
        const char *const *row = (const char *const *)&table->cells[r * table->ncols];
        /* A line ends with its last non-empty cell, unpadded: no trailing blanks. */
        size_t last = table->ncols - 1;
        while (last > 0 && row[last][0] == '\0')
            last--;
        for (size_t c = 0; c <= last; c++) {
            if (c == last)
                rc |= fprintf(out, "%s\n", row[c]) < 0 ? -1 : 0;
            else
                rc |= fprintf(out, "%-*s  ", (int)width[c], row[c]) < 0 ? -1 : 0;
        }
    }
    free(width);
    return rc;
}

int ctl_table_print_rows(const ctl_rows_t *rows, size_t ncols, const char *const *headers,
                         FILE *out)
{
    const char **cells = calloc(ncols ? ncols : 1, sizeof *cells);
    ctl_table_t *table = cells ? ctl_table_new(ncols, headers) : NULL;
    int rc = table ? 0 : -1;
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++) {
        for (size_t c = 0; c < ncols; c++)
            cells[c] = ctl_rows_get(rows, r, c);
        rc = ctl_table_add(table, cells);
    }
    if (rc == 0)
        rc = ctl_table_print(table, out);
    ctl_table_destroy(&table);
    free(cells);
    return rc;
}
