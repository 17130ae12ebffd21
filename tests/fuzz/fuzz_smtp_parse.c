/* fuzz_smtp_parse: fuzz target for smtp_parse_feed(). The input is fed whole, in two pieces
 * split where its first byte says, and byte by byte; all three must end in the same state,
 * since TCP may split a reply anywhere. A complete reply must have a valid code that starts
 * its first line; an error must say why; sanitised text must be printable. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_smtp_parse: %s\n", what);
    abort();
}

static int same(const smtp_parse_t *a, const smtp_parse_t *b)
{
    return a->status == b->status && a->code == b->code && a->lines == b->lines &&
           strcmp(a->first_line, b->first_line) == 0 && strcmp(a->why, b->why) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    smtp_parse_t whole, split, bytes;
    size_t used_whole = 0, used = 0, total = 0;

    smtp_parse_init(&whole);
    smtp_parse_feed(&whole, in, size, &used_whole);
    if (used_whole > size)
        fuzz_fail("consumed more than it was given");

    size_t cut = size ? data[0] % (size + 1) : 0;
    smtp_parse_init(&split);
    smtp_parse_feed(&split, in, cut, &used);
    total = used;
    smtp_parse_feed(&split, in + cut, size - cut, &used);
    total += used;

    smtp_parse_init(&bytes);
    for (size_t i = 0; i < size; i++)
        smtp_parse_feed(&bytes, in + i, 1, NULL);

    if (!same(&whole, &split) || !same(&whole, &bytes))
        fuzz_fail("outcome depends on how the input was split");
    if (whole.status == SMTP_PARSE_DONE && total != used_whole)
        fuzz_fail("a split reply consumed a different number of bytes");

    if (whole.status == SMTP_PARSE_DONE) {
        if (whole.code < 200 || whole.code > 559 || whole.lines < 1 ||
            whole.lines > SMTP_PARSE_LINES_MAX)
            fuzz_fail("complete reply with an impossible code or line count");
        char digits[4];
        snprintf(digits, sizeof digits, "%d", whole.code);
        if (strncmp(whole.first_line, digits, 3) != 0)
            fuzz_fail("first line does not start with the code");
        if (strlen(whole.first_line) > SMTP_PARSE_LINE_MAX - 1)
            fuzz_fail("first line longer than the limit");
        char clean[64];
        smtp_parse_sanitize(clean, sizeof clean, whole.first_line);
        for (const char *p = clean; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                fuzz_fail("sanitised text is not printable");
    } else if (whole.status == SMTP_PARSE_ERROR) {
        if (!whole.why[0])
            fuzz_fail("error without a reason");
    } else if (used_whole != size) {
        fuzz_fail("incomplete reply left input unconsumed");
    }
    return 0;
}
