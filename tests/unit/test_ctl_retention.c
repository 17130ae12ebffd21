/* test_ctl_retention: `retention` arguments: --exact and --json, alone or together, and
 * nothing else (no positional word, no unknown option). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_retention.h"

static void test_options(void **state)
{
    (void)state;
    int exact = -1, json = -1;
    err_t err = {{0}};
    assert_int_equal(ctl_retention_parse(0, (char *[]){NULL}, &exact, &json, &err), 0);
    assert_false(exact);
    assert_false(json);
    assert_int_equal(ctl_retention_parse(2, (char *[]){"--json", "--exact"}, &exact, &json, &err),
                     0);
    assert_true(exact);
    assert_true(json);
}

static void test_refusals(void **state)
{
    (void)state;
    int exact, json;
    err_t err = {{0}};
    assert_int_equal(ctl_retention_parse(1, (char *[]){"results"}, &exact, &json, &err), -1);
    assert_true(err.msg[0] != '\0');
    err_clear(&err);
    assert_int_equal(ctl_retention_parse(1, (char *[]){"--since"}, &exact, &json, &err), -1);
    assert_non_null(strstr(err.msg, "--since"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_options),
                                       cmocka_unit_test(test_refusals)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
