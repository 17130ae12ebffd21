/* fuzz_duration: fuzz target for parallaxctl's durations: ctl_parse_duration() (--since,
 * --window) against a simple reference model, ctl_fmt_duration_text() on the same text (it
 * takes SQL output), and ctl_fmt_duration() on the input's first eight bytes as a number. The
 * formatters must stay inside their buffers and print what the parser reads back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_fmt.h"
#include "ctl_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DURATION_MAX (3650ull * 86400ull)

static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_duration: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* The documented grammar, written differently from the parser: NUMBER UNIT pairs, units
 * s m h d w, total from 1 second to 3650 days. Returns 0 and sets *out, or -1. */
static int reference_parse(const char *s, uint64_t *out)
{
    uint64_t total = 0;
    if (*s == '\0')
        return -1;
    while (*s) {
        size_t digits = strspn(s, "0123456789");
        if (digits == 0)
            return -1;
        static const char units[] = "smhdw";
        const char *unit = strchr(units, s[digits]);
        if (!unit || s[digits] == '\0')
            return -1;
        static const uint64_t sizes[] = {1, 60, 3600, 86400, 604800};
        /* Leading zeros do not count; more than ten significant digits is too long anyway. */
        const char *sig = s;
        while (sig < s + digits - 1 && *sig == '0')
            sig++;
        if (s + digits - sig > 10)
            return -1;
        uint64_t n = 0;
        for (const char *p = sig; p < s + digits; p++)
            n = n * 10 + (uint64_t)(*p - '0');
        total += n * sizes[unit - units];
        if (total > DURATION_MAX)
            return -1;
        s += digits + 1;
    }
    if (total == 0)
        return -1;
    *out = total;
    return 0;
}

/* Formats with a canary after len bytes and checks the formatter kept to its buffer. */
static void fmt_checked(uint64_t seconds, const char *text, char *buf, size_t len)
{
    char area[40];
    memset(area, 0x5a, sizeof area);
    if (text)
        ctl_fmt_duration_text(text, area, len);
    else
        ctl_fmt_duration(seconds, area, len);
    for (size_t i = len; i < sizeof area; i++)
        if (area[i] != 0x5a)
            fuzz_fail("formatter wrote past its buffer", text);
    if (!memchr(area, '\0', len))
        fuzz_fail("formatter left its buffer unterminated", text);
    memcpy(buf, area, len);
}

/* Printed text within the parser's range must read back (except "0s", which is not a
 * duration one can ask for) to a value no larger than the one printed, which prints the same.
 * Longer ones (outages can outlast ten years only in a broken database) are just printed. */
static void check_printed(uint64_t seconds, const char *printed)
{
    uint64_t back = 0;
    char again[24];
    if (seconds > DURATION_MAX)
        return;
    if (strcmp(printed, "0s") == 0) {
        if (seconds != 0)
            fuzz_fail("a non-zero duration printed as 0s", printed);
        return;
    }
    if (ctl_parse_duration("--since", printed, &back, NULL) < 0)
        fuzz_fail("printed duration does not parse", printed);
    if (back > seconds)
        fuzz_fail("printed duration reads back larger", printed);
    fmt_checked(back, NULL, again, 16);
    if (strcmp(again, printed) != 0)
        fuzz_fail("printed duration is not stable", again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    uint64_t seconds = 0, want = 0;
    err_t err = {{0}};
    int rc = ctl_parse_duration("--since", text, &seconds, &err);
    int ref = reference_parse(text, &want);
    if (rc != ref)
        fuzz_fail(rc == 0 ? "accepted what the grammar refuses"
                          : "refused what the grammar accepts",
                  text);
    if (rc < 0 && strncmp(err.msg, "bad --since '", 13) != 0)
        fuzz_fail("refusal does not name the argument", err.msg);
    if (rc == 0) {
        if (seconds != want)
            fuzz_fail("parsed to another number of seconds", text);
        char printed[16];
        fmt_checked(seconds, NULL, printed, sizeof printed);
        check_printed(seconds, printed);
    }

    /* As SQL text: "-" or a printed duration; the callers' buffers are 24 bytes. */
    char shown[24];
    fmt_checked(0, text, shown, sizeof shown);
    if (strcmp(shown, "-") != 0) {
        double v = strtod(text, NULL);
        if (strlen(shown) > 15)
            fuzz_fail("duration text longer than 15 characters", shown);
        check_printed((uint64_t)v, shown);
    }

    /* Any 64-bit number: a 16-byte buffer never overflows (the text may be cut short). */
    if (size >= 8) {
        uint64_t any;
        memcpy(&any, data, 8);
        char small[16];
        fmt_checked(any, NULL, small, sizeof small);
        if (any <= 1000000000000000ull)
            check_printed(any, small);
    }
    free(text);
    return 0;
}
