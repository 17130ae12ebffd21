/* test_ctl_table: the people-facing tables line up: columns padded to the widest cell, no
 * trailing blanks, NULL cells shown as "-". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ctl_table.h"

static void test_alignment(void **state)
{
    (void)state;
    static const char *const headers[] = {"NAME", "ASN", "KEY"};
    ctl_table_t *t = ctl_table_new(3, headers);
    assert_non_null(t);
    const char *r1[] = {"a-long-name", NULL, "k1"};
    const char *r2[] = {"b", "4294967295", "k2"};
    assert_int_equal(ctl_table_add(t, r1), 0);
    assert_int_equal(ctl_table_add(t, r2), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(ctl_table_print(t, f), 0);
    fclose(f);
    assert_string_equal(buf, "NAME         ASN         KEY\n"
                             "a-long-name  -           k1\n"
                             "b            4294967295  k2\n");
    free(buf);
    ctl_table_destroy(&t);
    assert_null(t);
    ctl_table_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_alignment)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
