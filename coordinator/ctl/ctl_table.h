/* ctl_table: plain-text tables for people (`agent list`, `target list`): a header row and
 * columns padded to their widest cell, so the output lines up in a terminal. */
#ifndef PX_CTL_TABLE_H
#define PX_CTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "ctl_db.h"

typedef struct ctl_table ctl_table_t;

/* A table with ncols columns named by headers (copied). Returns NULL if out of memory.
 * Caller owns the result (free with ctl_table_destroy). */
ctl_table_t *ctl_table_new(size_t ncols, const char *const *headers);

/* Frees *table and sets it to NULL. Accepts NULL and *table == NULL. */
void ctl_table_destroy(ctl_table_t **table);

/* Appends a row of ncols cells (copied; a NULL cell is shown as "-"). Returns 0, or -1 if out
 * of memory (the table is unchanged). */
int ctl_table_add(ctl_table_t *table, const char *const *cells);

/* Writes the header and the rows to out; a line ends with its last non-empty cell, so no line
 * carries trailing blanks. Returns 0, or -1 on a write error. */
int ctl_table_print(const ctl_table_t *table, FILE *out);

/* Writes the first ncols columns of every row of rows as a table under headers. Returns 0,
 * or -1 on a write error or out of memory. */
int ctl_table_print_rows(const ctl_rows_t *rows, size_t ncols, const char *const *headers,
                         FILE *out);

#endif
