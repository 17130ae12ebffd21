/* test_ctl_fmt: durations both ways in parallaxctl: ctl_parse_duration (the --since/--window
 * text, exact seconds or the exact refusal), ctl_fmt_duration and ctl_fmt_duration_text (the
 * text people read), that what is printed can be typed back, and the colour decision. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl_fmt.h"
#include "ctl_parse.h"

/* The parser's ceiling: ten years. */
#define DURATION_MAX (3650ull * 86400ull)

typedef struct parse_good {
    const char *text;
    uint64_t seconds;
} parse_good_t;

static const parse_good_t parse_good[] = {
    {"1s", 1},
    {"45s", 45},
    {"30m", 1800},
    {"2h", 7200},
    {"7d", 604800},
    {"1w", 604800},
    {"1h30m", 5400},
    {"1d2h3m4s", 93784},
    {"30m1h", 5400}, /* any order */
    {"1h1h", 7200},  /* a unit may repeat; the parts add up */
    {"0h30m", 1800}, /* a zero part is fine while the total is not zero */
    {"007m", 420},   /* leading zeros */
    {"3650d", DURATION_MAX},
    {"87600h", DURATION_MAX},
    {"315360000s", DURATION_MAX},
    {"3649d23h59m60s", DURATION_MAX},
    {"521w", 521ull * 604800ull},
    {"0000000000000000000001s", 1}, /* many digits, small value */
};

static const char *const parse_bad[] = {
    "",
    "0",
    "0s",
    "0h0m",
    "30",   /* no unit */
    "1h30", /* the last number has no unit */
    "m",
    "h30m",
    "-1h",
    "+1h",
    "1.5h",
    "1e3s",
    "0x10s",
    "1H",
    "30M",
    "1D",
    " 30m",
    "30m ",
    "1h 30m",
    "\t1h",
    "1h\n",
    "30m,",
    "1x",
    "1y",
    "1ms",
    "1hh",
    "3651d",
    "3650d1s",
    "522w",
    "315360001s",
    "99999999999d",
    "18446744073709551617s", /* 2^64 + 1: must not wrap to 1 */
    "18446744073709551616s", /* 2^64: must not wrap to 0 */
    "9999999999999999999999999999999999w",
    "\xef\xbc\x91h", /* a full-width digit one */
};

static void test_parse_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_good / sizeof parse_good[0]; i++) {
        const parse_good_t *c = &parse_good[i];
        uint64_t seconds = 0;
        err_t err = {{0}};
        if (ctl_parse_duration("--since", c->text, &seconds, &err) != 0)
            fail_msg("'%s' refused: %s", c->text, err.msg);
        if (seconds != c->seconds)
            fail_msg("'%s' gave %llu seconds, expected %llu", c->text, (unsigned long long)seconds,
                     (unsigned long long)c->seconds);
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_bad / sizeof parse_bad[0]; i++) {
        const char *text = parse_bad[i];
        uint64_t seconds = 12345;
        err_t err = {{0}};
        if (ctl_parse_duration("--window", text, &seconds, &err) == 0)
            fail_msg("'%s' accepted as %llu seconds", text, (unsigned long long)seconds);
        char want[ERR_MSG_MAX];
        snprintf(want, sizeof want,
                 "bad --window '%s': expected a duration such as 30m, 2h, 7d or 1h30m (units s, "
                 "m, h, d, w; at most 3650d)",
                 text);
        assert_string_equal(err.msg, want);
    }
}

typedef struct fmt_case {
    uint64_t seconds;
    const char *text;
} fmt_case_t;

static const fmt_case_t fmt_cases[] = {
    {0, "0s"},
    {1, "1s"},
    {45, "45s"},
    {59, "59s"},
    {60, "1m"},
    {61, "1m01s"},
    {1080, "18m"},
    {3599, "59m59s"},
    {3600, "1h"},
    {7500, "2h05m"},
    {7559, "2h05m"}, /* rounded down to two units */
    {86399, "23h59m"},
    {86400, "1d"},
    {273600, "3d04h"},
    {273600 + 3599, "3d04h"},
    {604800, "7d"}, /* no weeks on output */
    {DURATION_MAX, "3650d"},
    {1000000000000000ull, "11574074074d01h"}, /* the most ctl_fmt_duration_text passes on */
};

static void test_fmt_duration(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fmt_cases / sizeof fmt_cases[0]; i++) {
        char buf[16];
        char *r = ctl_fmt_duration(fmt_cases[i].seconds, buf, sizeof buf);
        assert_ptr_equal(r, buf);
        assert_string_equal(buf, fmt_cases[i].text);
    }
}

/* A short buffer truncates; nothing is written past len, whatever the value. */
static void test_fmt_duration_bounds(void **state)
{
    (void)state;
    static const uint64_t values[] = {0, 7500, 1000000000000000ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        for (size_t len = 1; len <= 16; len++) {
            char buf[32];
            memset(buf, 'X', sizeof buf);
            ctl_fmt_duration(values[i], buf, len);
            assert_true(memchr(buf, '\0', len) != NULL);
            for (size_t j = len; j < sizeof buf; j++)
                assert_int_equal(buf[j], 'X');
        }
    }
    char buf[4];
    assert_string_equal(ctl_fmt_duration(7500, buf, sizeof buf), "2h0");
}

typedef struct text_case {
    const char *seconds; /* NULL: SQL NULL */
    const char *text;
} text_case_t;

static const text_case_t text_cases[] = {
    {"1080", "18m"},
    {"1080.5", "18m"},
    {"7500", "2h05m"},
    {"0", "0s"},
    {"0.9", "0s"},
    {"-0", "0s"},
    {"1e15", "11574074074d01h"},
    {NULL, "-"},
    {"", "-"},
    {"abc", "-"},
    {"-1", "-"},
    {"-0.5", "-"},
    {"1.1e15", "-"},
    {"1e300", "-"},
    {"inf", "-"},
    {"-inf", "-"},
    /* Regression: NaN passed both range checks and was converted to an integer, which is
     * undefined behaviour (UBSan float-cast-overflow). PostgreSQL can return 'NaN'. */
    {"nan", "-"},
    {"NaN", "-"},
    {"-nan", "-"},
};

static void test_fmt_duration_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++) {
        const text_case_t *c = &text_cases[i];
        print_message("seconds: %s\n", c->seconds ? c->seconds : "(NULL)");
        char buf[24];
        assert_ptr_equal(ctl_fmt_duration_text(c->seconds, buf, sizeof buf), buf);
        assert_string_equal(buf, c->text);
    }
}

/* What parallaxctl prints for a duration can be typed back: parsing the printed text gives
 * the value rounded down to the printed units, and printing that gives the same text. */
static void test_round_trip(void **state)
{
    (void)state;
    uint64_t s = 1;
    while (s <= DURATION_MAX) {
        char printed[16], again[16];
        ctl_fmt_duration(s, printed, sizeof printed);
        uint64_t parsed = 0;
        err_t err = {{0}};
        if (ctl_parse_duration("--since", printed, &parsed, &err) != 0)
            fail_msg("%llu printed as '%s', which is refused: %s", (unsigned long long)s, printed,
                     err.msg);
        assert_true(parsed <= s);
        ctl_fmt_duration(parsed, again, sizeof again);
        assert_string_equal(printed, again);
        /* Steps that visit every unit boundary without taking long. */
        s = s < 200000 ? s + 1 : s + s / 1000 + 7;
    }
}

/* Opens a pseudo-terminal's slave side as a FILE, so the AUTO case can meet a real terminal.
 * Returns NULL where the system has none (some containers), and the test then skips. */
static FILE *open_tty(int *master)
{
    *master = posix_openpt(O_RDWR | O_NOCTTY);
    if (*master < 0)
        return NULL;
    const char *name = NULL;
    if (grantpt(*master) == 0 && unlockpt(*master) == 0)
        name = ptsname(*master);
    int fd = name ? open(name, O_RDWR | O_NOCTTY) : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        close(*master);
        *master = -1;
    }
    return f;
}

static void test_use_color(void **state)
{
    (void)state;
    FILE *file = tmpfile();
    assert_non_null(file);
    unsetenv("NO_COLOR");
    assert_int_equal(ctl_fmt_use_color(CTL_FMT_COLOR_ALWAYS, file), 1);
    assert_int_equal(ctl_fmt_use_color(CTL_FMT_COLOR_NEVER, file), 0);
    assert_int_equal(ctl_fmt_use_color(CTL_FMT_COLOR_AUTO, file), 0);
    setenv("NO_COLOR", "1", 1);
    assert_int_equal(ctl_fmt_use_color(CTL_FMT_COLOR_ALWAYS, file), 1); /* --color wins */
    fclose(file);

    int master;
    FILE *tty = open_tty(&master);
    if (!tty) {
        unsetenv("NO_COLOR");
        fail_msg("cannot open a pseudo-terminal");
    }
    assert_int_equal(ctl_fmt_use_color(CTL_FMT_COLOR_AUTO, tty), 0);
    /* no-color.org: only a non-empty NO_COLOR turns colour off. */
    setenv("NO_COLOR", "", 1);
    assert_int_equal(ctl_fmt_use_color(CTL_FMT_COLOR_AUTO, tty), 1);
    unsetenv("NO_COLOR");
    assert_int_equal(ctl_fmt_use_color(CTL_FMT_COLOR_AUTO, tty), 1);
    assert_int_equal(ctl_fmt_use_color(CTL_FMT_COLOR_NEVER, tty), 0);
    fclose(tty);
    close(master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_fmt_duration),      cmocka_unit_test(test_fmt_duration_bounds),
        cmocka_unit_test(test_fmt_duration_text), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_use_color),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
