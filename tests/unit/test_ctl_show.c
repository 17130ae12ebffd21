/* test_ctl_show: `agent show` / `target show` lines: labels padded to the longest plus one,
 * NULL shown as "-", booleans as yes/no, times with " UTC" (never after "-"), and a write
 * error reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_show.h"

static const ctl_show_field_t fields[] = {
    {"name", CTL_SHOW_TEXT},     {"enabled", CTL_SHOW_YESNO}, {"control", CTL_SHOW_YESNO},
    {"last seen", CTL_SHOW_UTC}, {"added", CTL_SHOW_UTC},     {"open outages", CTL_SHOW_TEXT}};
#define NFIELDS (sizeof fields / sizeof fields[0])

static char *print(const char *const *values, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    *rc = ctl_show_print(f, fields, NFIELDS, values);
    fclose(f);
    return buf;
}

static void test_lines(void **state)
{
    (void)state;
    const char *values[] = {"gb1", "true", "f", "2026-11-23 01:02:03", NULL, NULL};
    int rc;
    char *out = print(values, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "name         gb1\n"
                             "enabled      yes\n"
                             "control      no\n"
                             "last seen    2026-11-23 01:02:03 UTC\n"
                             "added        -\n"
                             "open outages -\n");
    free(out);
}

static void test_booleans(void **state)
{
    (void)state;
    const char *values[] = {"x", "t", "false", NULL, NULL, "7 (down since 2026-11-23 01:00:00)"};
    int rc;
    char *out = print(values, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "enabled      yes\n"));
    assert_non_null(strstr(out, "control      no\n"));
    assert_non_null(strstr(out, "last seen    -\n"));
    assert_non_null(strstr(out, "open outages 7 (down since 2026-11-23 01:00:00)\n"));
    free(out);
}

static void test_write_error(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/null", "r");
    assert_non_null(f);
    const char *values[] = {"gb1", "true", "true", NULL, NULL, NULL};
    assert_int_equal(ctl_show_print(f, fields, NFIELDS, values), -1);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_lines),
                                       cmocka_unit_test(test_booleans),
                                       cmocka_unit_test(test_write_error)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
