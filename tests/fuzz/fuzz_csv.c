/* fuzz_csv: fuzz target for ctl_csv_split(), the line splitter of `parallaxctl target import`.
 * Splitting must never crash, must explain every refusal, must keep every field inside the
 * line, must count the field limit exactly, and the fields of an accepted line written back as
 * CSV (every field quoted, and only where needed) must split to the same fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Far more than a real import row (16); a line with more is refused and checked no further. */
#define CAP 256

static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_csv: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* Writes fields as one CSV line into out (which has room: each byte at most doubles, plus
 * quotes and commas). quote_all 0 quotes only the fields that need it. */
static void write_line(char *const *fields, size_t n, int quote_all, char *out)
{
    char *w = out;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *w++ = ',';
        size_t len = strlen(fields[i]);
        /* A field ending in CR is quoted too: a plain one would lose the CR at the line end. */
        int quote =
            quote_all || strpbrk(fields[i], "\",") || (len > 0 && fields[i][len - 1] == '\r');
        if (quote)
            *w++ = '"';
        for (const char *r = fields[i]; *r; r++) {
            if (*r == '"')
                *w++ = '"';
            *w++ = *r;
        }
        if (quote)
            *w++ = '"';
    }
    *w = '\0';
}

static void check_rewrite(char *const *fields, size_t n, size_t len, int quote_all)
{
    char *line = malloc(2 * len + 2 * n + n + 1);
    char *again[CAP];
    size_t n2 = 0;
    err_t err = {{0}};
    if (!line)
        return;
    write_line(fields, n, quote_all, line);
    if (ctl_csv_split(line, again, n, &n2, &err) < 0)
        fuzz_fail("rewritten line refused", err.msg);
    if (n2 != n)
        fuzz_fail("rewritten line has another field count", line);
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i], again[i]) != 0)
            fuzz_fail("rewritten line splits to another field", again[i]);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Two copies: the splitter rewrites its input, and the limit checks need it again. */
    char *line = malloc(size + 1), *copy = malloc(size + 1);
    if (!line || !copy) {
        free(line);
        free(copy);
        return 0;
    }
    memcpy(line, data, size);
    line[size] = '\0';
    size_t len = strlen(line); /* a NUL byte ends the line, as for any C string */
    memcpy(copy, line, len + 1);

    char *fields[CAP];
    size_t n = 0;
    err_t err = {{0}};
    if (ctl_csv_split(line, fields, CAP, &n, &err) < 0) {
        if (!err.msg[0])
            fuzz_fail("refused without a reason", copy);
        goto out;
    }
    if (n < 1 || n > CAP)
        fuzz_fail("field count out of range", copy);
    for (size_t i = 0; i < n; i++) {
        /* In place: each field starts inside the line, after the previous one ends. */
        if (fields[i] < line || fields[i] > line + len)
            fuzz_fail("field outside the line", copy);
        if (i > 0 && fields[i] <= fields[i - 1] + strlen(fields[i - 1]))
            fuzz_fail("fields overlap", copy);
    }
    check_rewrite(fields, n, len, 1);
    check_rewrite(fields, n, len, 0);

    /* The limit: n fields fit in n slots and not in n - 1, with exactly that message. */
    char *again[CAP];
    size_t n2 = 0;
    memcpy(line, copy, len + 1);
    if (ctl_csv_split(line, again, n, &n2, &err) < 0 || n2 != n)
        fuzz_fail("line refused with exactly enough slots", err.msg);
    memcpy(line, copy, len + 1);
    char want[64];
    snprintf(want, sizeof want, "more than %zu fields", n - 1);
    if (ctl_csv_split(line, again, n - 1, &n2, &err) == 0 || strcmp(err.msg, want) != 0)
        fuzz_fail("line not refused with one slot too few", err.msg);
out:
    free(line);
    free(copy);
    return 0;
}
