/* ctl_csv: splits one line of a CSV file (RFC 4180 fields: plain, or "quoted" with ""
 * standing for a quote) into fields, in place. Pure: no I/O, no allocation. Fields may not
 * span lines: `target import` reports errors by line number, and a record per line keeps
 * those numbers honest. */
#ifndef PX_CTL_CSV_H
#define PX_CTL_CSV_H

#include <stddef.h>

#include "err.h"

/* Splits line (NUL-terminated, without its newline; a trailing '\r' is ignored) into at most
 * max fields, rewriting it in place: fields[i] point into line, unquoted and unescaped.
 * Sets *n. Returns 0, or -1 (err set: a quote inside an unquoted field, an unterminated
 * quoted field, text after a closing quote, more than max fields). */
int ctl_csv_split(char *line, char **fields, size_t max, size_t *n, err_t *err);

#endif
