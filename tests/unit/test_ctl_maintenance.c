/* test_ctl_maintenance: `maintenance add` arguments: the subject (exactly one of --agent,
 * --target, --group, each checked), the times (calendar UTC, now, +DURATION; --until or
 * --for; the end after the start) and --reason; bad input refused in one sentence naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_maintenance.h"

/* 2031-03-03 00:00:00 UTC. */
#define T0 INT64_C(1930262400)

static void test_times(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
    } ok[] = {
        {"2031-03-03", T0},
        {"2031-03-03 00:00", T0},
        {"2031-03-03T14:30:05Z", T0 + 14 * 3600 + 30 * 60 + 5},
        {"2031-03-03 14:30:05", T0 + 14 * 3600 + 30 * 60 + 5},
        {"1970-01-01", 0},
        {"2000-02-29 23:59:59", INT64_C(951868799)},
        {"now", T0 + 7},
        {"+2h", T0 + 7 + 7200},
        {"now+1h30m", T0 + 7 + 5400},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        err_t err = {{0}};
        int64_t got = -1;
        assert_int_equal(ctl_maintenance_parse_time("--from", ok[i].in, T0 + 7, &got, &err), 0);
        assert_true(got == ok[i].want);
    }
    static const char *const bad[] = {"",
                                      "yesterday",
                                      "2031-3-3",
                                      "2031-02-29",
                                      "2031-03-03 24:00",
                                      "2031-03-03 12",
                                      "2031-03-03 12:00:00+01",
                                      "+",
                                      "+2x",
                                      "now-1h",
                                      "2031-13-01",
                                      " 2031-03-03"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_t err = {{0}};
        int64_t got = -1;
        assert_int_equal(ctl_maintenance_parse_time("--until", bad[i], T0, &got, &err), -1);
        assert_non_null(strstr(err.msg, "bad --until"));
        assert_null(strchr(err.msg, '\n'));
    }
}

static void test_add(void **state)
{
    (void)state;
    ctl_maintenance_window_t w;
    err_t err = {{0}};
    char *a1[] = {"--agent", "vp1-de",           "--from",   "2031-03-03 01:00",
                  "--until", "2031-03-03 02:00", "--reason", "uplink work"};
    assert_int_equal(ctl_maintenance_parse_add(8, a1, T0, &w, &err), 0);
    assert_string_equal(w.agent, "vp1-de");
    assert_null(w.target);
    assert_null(w.group);
    assert_true(w.from == T0 + 3600 && w.until == T0 + 7200);
    assert_string_equal(w.reason, "uplink work");

    char *a2[] = {"--group=IR", "--for", "2h"};
    assert_int_equal(ctl_maintenance_parse_add(3, a2, T0, &w, &err), 0);
    assert_string_equal(w.group, "IR");
    assert_true(w.from == T0 && w.until == T0 + 7200);
    assert_null(w.reason);

    assert_int_equal(w.times, 1);
    assert_true(w.every_s == 0);

    char *a4[] = {"--agent", "a",       "--from", "2031-03-03 22:00", "--for",
                  "2h",      "--every", "1w",     "--times",          "4"};
    assert_int_equal(ctl_maintenance_parse_add(10, a4, T0, &w, &err), 0);
    assert_true(w.from == T0 + 22 * 3600 && w.until == T0 + 24 * 3600);
    assert_true(w.every_s == 7 * 86400);
    assert_int_equal(w.times, 4);

    char *a3[] = {"--target", "ir-web1", "--from", "+1h", "--for", "30m"};
    assert_int_equal(ctl_maintenance_parse_add(6, a3, T0, &w, &err), 0);
    assert_true(w.from == T0 + 3600 && w.until == T0 + 5400);
}

/* Each refusal is one line containing want. */
static void refused(int argc, char **argv, const char *want)
{
    ctl_maintenance_window_t w;
    err_t err = {{0}};
    if (ctl_maintenance_parse_add(argc, argv, T0, &w, &err) != -1)
        fail_msg("accepted, expected a refusal containing '%s'", want);
    if (!strstr(err.msg, want))
        fail_msg("'%s' does not contain '%s'", err.msg, want);
    assert_null(strchr(err.msg, '\n'));
}

static void test_refusals(void **state)
{
    (void)state;
    refused(2, (char *[]){"--for", "1h"}, "missing --agent, --target or --group");
    refused(6, (char *[]){"--agent", "a", "--target", "t", "--for", "1h"}, "only one of");
    refused(2, (char *[]){"--agent", "a"}, "missing --until or --for");
    refused(6, (char *[]){"--agent", "a", "--until", "+2h", "--for", "1h"}, "not both");
    refused(6,
            (char *[]){"--agent", "a", "--from", "2031-03-03 02:00", "--until", "2031-03-03 01:00"},
            "--until (2031-03-03 01:00) must be after --from (2031-03-03 02:00)");
    refused(6,
            (char *[]){"--agent", "a", "--from", "2031-03-03 02:00", "--until", "2031-03-03 02:00"},
            "must be after --from");
    refused(4, (char *[]){"--agent", "a", "--until", "2031-03-02"}, "must be after --from (now)");
    refused(4, (char *[]){"--agent", "a", "--until", "tomorrow"}, "bad --until 'tomorrow'");
    refused(6, (char *[]){"--agent", "a", "--from", "soon", "--for", "1h"}, "bad --from 'soon'");
    refused(4, (char *[]){"--agent", "a", "--for", "0s"}, "bad --for '0s'");
    refused(4, (char *[]){"--agent", "bad name", "--for", "1h"}, "bad --agent 'bad name'");
    refused(4, (char *[]){"--target", "-x", "--for", "1h"}, "bad --target '-x'");
    refused(4, (char *[]){"--group", "", "--for", "1h"}, "bad --group '': expected 1 to 128");
    refused(6, (char *[]){"--agent", "a", "--for", "1h", "--reason", "two\nlines"}, "bad --reason");
    refused(5, (char *[]){"--agent", "a", "--for", "1h", "extra"}, "extra");
    refused(4, (char *[]){"--agent", "a", "--agent", "b"}, "--agent");
    refused(3, (char *[]){"--agent", "a", "--until"}, "--until");
    refused(6, (char *[]){"--agent", "a", "--for", "1h", "--every", "1d"}, "--every needs --times");
    refused(6, (char *[]){"--agent", "a", "--for", "1h", "--times", "3"}, "--times needs --every");
    refused(8, (char *[]){"--agent", "a", "--for", "2h", "--every", "1h", "--times", "3"},
            "--every (1h) must be longer than the window (7200s)");
    refused(8, (char *[]){"--agent", "a", "--for", "1h", "--every", "1d", "--times", "0"},
            "bad --times '0'");
    refused(8, (char *[]){"--agent", "a", "--for", "1h", "--every", "1d", "--times", "1001"},
            "bad --times '1001'");
    refused(8, (char *[]){"--agent", "a", "--for", "1h", "--every", "soon", "--times", "2"},
            "bad --every 'soon'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_times), cmocka_unit_test(test_add),
                                       cmocka_unit_test(test_refusals)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
