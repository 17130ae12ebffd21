/* test_ctl_settings: `settings` and `settings set` arguments: NAME=VALUE pairs (the value may
 * hold "=" or be empty, for SQL to judge), --remerge-since, and every refusal named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_settings.h"

static void test_pairs(void **state)
{
    (void)state;
    char *argv[] = {"open_after=3", "--remerge-since", "7d", "baseline_window=2 hours",
                    "note=a=b",     "grace_s="};
    ctl_settings_change_t c;
    err_t err = {{0}};
    assert_int_equal(ctl_settings_set_parse(6, argv, &c, &err), 0);
    assert_int_equal(c.count, 4);
    assert_string_equal(c.names[0], "open_after");
    assert_string_equal(c.values[0], "3");
    assert_string_equal(c.names[1], "baseline_window");
    assert_string_equal(c.values[1], "2 hours");
    assert_string_equal(c.names[2], "note");
    assert_string_equal(c.values[2], "a=b");
    assert_string_equal(c.names[3], "grace_s");
    assert_string_equal(c.values[3], "");
    assert_int_equal(c.remerge_s, 7 * 86400);
    /* argv is left as it was. */
    assert_string_equal(argv[0], "open_after=3");
}

static void refused(int argc, char **argv, const char *why)
{
    ctl_settings_change_t c;
    err_t err = {{0}};
    assert_int_equal(ctl_settings_set_parse(argc, argv, &c, &err), -1);
    if (!strstr(err.msg, why))
        fail_msg("error '%s' does not say '%s'", err.msg, why);
}

static void test_refusals(void **state)
{
    (void)state;
    refused(0, NULL, "missing NAME=VALUE");
    refused(1, (char *[]){"open_after"}, "'open_after' is not NAME=VALUE");
    refused(1, (char *[]){"=3"}, "'=3' is not NAME=VALUE");
    refused(2, (char *[]){"open_after=3", "open_after=4"}, "'open_after' given twice");
    refused(3, (char *[]){"open_after=3", "--remerge-since", "soon"}, "--remerge-since");
    refused(3, (char *[]){"open_after=3", "--remerge-since", "0s"}, "--remerge-since");
    refused(3, (char *[]){"open_after=3", "--remerge-since", "400d"}, "between 1s and 366d");
    refused(2, (char *[]){"open_after=3", "--force"}, "--force");
    char name[CTL_SETTINGS_NAME_MAX + 8];
    memset(name, 'x', sizeof name - 3);
    strcpy(name + sizeof name - 3, "=1");
    refused(1, (char *[]){name}, "too long");
    char *many[CTL_SETTINGS_MAX + 1];
    char pairs[CTL_SETTINGS_MAX + 1][16];
    for (int i = 0; i <= CTL_SETTINGS_MAX; i++) {
        snprintf(pairs[i], sizeof pairs[i], "s%d=1", i);
        many[i] = pairs[i];
    }
    refused(CTL_SETTINGS_MAX + 1, many, "s32=1");
}

static void test_show(void **state)
{
    (void)state;
    int json, describe;
    err_t err = {{0}};
    assert_int_equal(ctl_settings_show_parse(1, (char *[]){"--describe"}, &json, &describe, &err),
                     0);
    assert_true(describe);
    assert_false(json);
    assert_int_equal(
        ctl_settings_show_parse(2, (char *[]){"--describe", "--json"}, &json, &describe, &err), -1);
    assert_non_null(strstr(err.msg, "cannot be combined"));
    assert_int_equal(ctl_settings_show_parse(1, (char *[]){"open_after"}, &json, &describe, &err),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs), cmocka_unit_test(test_refusals), cmocka_unit_test(test_show)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
